"""The API's documentation: the OpenAPI document tools/openapi.py generates for every route of
template.yaml, and the query function's GET /openapi.json and GET /docs that serve it."""

import base64
import functools
import gzip
import json
import re
from typing import Any

import openapi
import pytest

from tests.support.fake_aws import load_template
from tests.support.handlers import invoke, invoke_http, sample_event, set_headers

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@functools.cache
def committed() -> dict[str, Any]:
    return json.loads(openapi.SPEC_PATH.read_text())


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, path_item in spec["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    }


def template_api_routes() -> dict[tuple[str, str], bool]:
    """(method, path) of every Api event of template.yaml -> whether it is public."""
    template = load_template()
    routes = {}
    for function_id, _ in template.of_type("AWS::Serverless::Function"):
        for event in (template.properties(function_id).get("Events") or {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                public = props.get("Auth", {}).get("Authorizer") == "NONE"
                routes[(props["Method"].lower(), props["Path"])] = public
    return routes


def docs_event(path: str, context_path: str) -> dict[str, Any]:
    """GET /docs or /openapi.json as API Gateway sends it (no authorizer: public routes)."""
    event = sample_event("health")
    event["resource"] = event["path"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = context_path
    return event


def docs_request(path: str, context_path: str):
    return invoke_http("query", docs_event(path, context_path))


# ---------------------------------------------------------------- the committed document


def test_the_committed_document_is_what_the_routes_generate():
    assert openapi.render(openapi.build()) == openapi.SPEC_PATH.read_text(), (
        "functions/query/openapi.json is out of date: run `make openapi`"
    )


def test_the_document_covers_every_api_route_of_the_template_and_nothing_else():
    documented = set(operations(committed()))
    routes = set(template_api_routes())
    assert routes - documented == set(), "routes of template.yaml missing from the document"
    assert documented - routes == set(), "documented operations no Api event serves"


def test_every_operation_documents_its_success_response_with_a_schema():
    """A body's media type needs its schema; `content: {}` declares an empty body."""
    for (method, path), operation in operations(committed()).items():
        success = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert success, f"{method.upper()} {path} documents no success response"
        for status, response in success.items():
            for media_type, media in response["content"].items():
                assert media.get("schema"), f"{method.upper()} {path} {status} {media_type}"


def test_errors_are_documented_in_the_service_format_not_powertools_422():
    spec = committed()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    for (method, path), operation in operations(spec).items():
        responses = operation["responses"]
        assert "422" not in responses, f"{method.upper()} {path}"
        if operation.get("parameters"):
            assert responses["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, f"{method.upper()} {path}"


def test_public_routes_need_no_credential_and_every_other_route_names_its_credentials():
    spec = committed()
    schemes = spec["components"]["securitySchemes"]
    for name, header in [("ApiKey", "x-api-key"), ("IngestKey", "X-INGEST-KEY")]:
        assert (schemes[name]["type"], schemes[name]["in"], schemes[name]["name"]) == (
            "apiKey",
            "header",
            header,
        )
    bearer = schemes["BearerJWT"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "JWT")
    public = {route for route, is_public in template_api_routes().items() if is_public}
    assert {("get", "/docs"), ("get", "/openapi.json"), ("get", "/health/ping")} <= public
    for route, operation in operations(spec).items():
        if route in public:
            assert operation["security"] == [], route
            assert "401" not in operation["responses"], route
        else:
            names = {name for requirement in operation["security"] for name in requirement}
            assert {"ApiKey", "BearerJWT"} <= names <= set(schemes), route
            assert {"401", "403"} <= set(operation["responses"]), route


def test_the_ingest_key_is_offered_only_where_the_authorizer_accepts_it():
    ops = operations(committed())
    ingest_post = ops[("post", "/apps/{app_id}/events")]["security"]
    assert {"IngestKey": []} in ingest_post
    for route in [("get", "/apps/{app_id}/events"), ("post", "/apps/{app_id}")]:
        assert {"IngestKey": []} not in ops[route]["security"], route
    assert "Roles: admin." in ops[("post", "/apps/{app_id}")]["description"]


def test_query_parameters_keep_their_ranges_and_values():
    ops = operations(committed())
    listing = {p["name"]: p["schema"] for p in ops[("get", "/apps/{app_id}/events")]["parameters"]}
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"]) == (1, 50)
    assert listing["offset"]["minimum"] == 0
    assert listing["since"] == {"type": "string", "format": "date-time"}
    timeseries = ops[("get", "/apps/{app_id}/stats/timeseries")]["parameters"]
    interval = next(p["schema"] for p in timeseries if p["name"] == "interval")
    granularity = committed()["components"]["schemas"]["Granularity"]
    assert interval["$ref"] == "#/components/schemas/Granularity"
    assert {"MINUTE", "HOUR", "DAY"} <= set(granularity["enum"])


# ---------------------------------------------------------------- merging


def schema_with(path: str, component: dict[str, Any]) -> dict[str, Any]:
    operation = {"responses": {"200": {"description": "ok"}}}
    return {"paths": {path: {"get": operation}}, "components": {"schemas": {"Event": component}}}


def test_merging_refuses_two_different_components_of_one_name():
    with pytest.raises(openapi.OpenApiError, match="'Event'"):
        openapi.merge([schema_with("/a", {"type": "object"}), schema_with("/b", {"type": "array"})])


def test_merging_refuses_one_operation_served_twice():
    with pytest.raises(openapi.OpenApiError, match="GET /a"):
        openapi.merge(
            [schema_with("/a", {"type": "object"}), schema_with("/a", {"type": "object"})]
        )


def test_merging_keeps_one_copy_of_an_identical_component():
    paths, components = openapi.merge(
        [schema_with("/a", {"type": "object"}), schema_with("/b", {"type": "object"})]
    )
    assert set(paths) == {"/a", "/b"}
    assert components == {"Event": {"type": "object"}}


# ---------------------------------------------------------------- the routes


@pytest.mark.parametrize(
    ("context_path", "server"),
    [
        ("/v1/openapi.json", "/v1"),  # execute-api: the stage leads the URL
        ("/openapi.json", "/"),  # a custom domain (and the local stack): nothing does
        ("/eventlog/openapi.json", "/eventlog"),  # a custom domain's base path mapping
    ],
)
def test_openapi_json_is_the_committed_document_with_the_callers_server(context_path, server):
    reply = docs_request("/openapi.json", context_path)
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.body == {**committed(), "servers": [{"url": server}]}


def test_docs_is_swagger_ui_with_the_document_embedded():
    reply = docs_request("/docs", "/v1/docs")
    assert reply.status == 200
    assert reply.content_type == "text/html"
    page = reply.text
    assert "SwaggerUIBundle(swaggerUIOptions)" in page
    embedded = re.search(r"spec: (\{.*?\}),\n\s*presets:", page, re.DOTALL)
    assert embedded, "no spec embedded in the page"
    spec = json.loads(embedded.group(1).replace("<\\/", "</"))
    assert spec == {**committed(), "servers": [{"url": "/v1"}]}
    assert "</script>" not in embedded.group(1)


def test_docs_is_gzipped_for_clients_that_accept_it():
    event = set_headers(docs_event("/docs", "/docs"), {"Accept-Encoding": "gzip, deflate"})
    reply = invoke("query", event)
    assert reply["statusCode"] == 200
    assert reply["multiValueHeaders"]["Content-Encoding"] == ["gzip"]
    assert reply["isBase64Encoded"]  # API Gateway sends it as binary (BinaryMediaTypes */*)
    page = gzip.decompress(base64.b64decode(reply["body"])).decode()
    assert page == docs_request("/docs", "/docs").text
