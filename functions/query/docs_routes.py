"""The API's documentation: GET /openapi.json and GET /docs (Swagger UI), both public.

The document covers every function's routes, so no single function can generate it at run time:
`make openapi` (tools/openapi.py) writes openapi.json beside this module, and it ships with the
query function. Each answer names the server from the request, so "Try it out" calls the same
stage the page came from.
"""

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from eventlog_api import rest_event

router = Router()

SPEC_PATH = Path(__file__).with_name("openapi.json")

SPEC_RESPONSE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "This OpenAPI document",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
PAGE_RESPONSE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "Swagger UI, with this OpenAPI document embedded; with `format=json`, "
        "the document itself",
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@functools.cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@functools.cache
def _swagger_ui_assets() -> tuple[str, str]:
    """(JavaScript, CSS), read on the first /docs request, not at the function's cold start.
    Powertools bundles Swagger UI; inlining it keeps the page working with no other origin."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    swagger_ui_dir = Path(swagger_ui.__file__).parent
    return (
        (swagger_ui_dir / "swagger-ui-bundle.min.js").read_text(),
        (swagger_ui_dir / "swagger-ui.min.css").read_text(),
    )


def _base_path() -> str:
    """What precedes the route in the URL the client used: `/Prod` on execute-api, a custom
    domain's base path mapping, or nothing. API Gateway's requestContext.path is that URL's
    path; the event's `path` is the route's part of it."""
    event = rest_event(router)
    full_path = event.request_context.path or event.path
    return full_path.removesuffix(event.path) if full_path.endswith(event.path) else ""


def _spec_for_this_request() -> str:
    spec = {**_spec(), "servers": [{"url": _base_path() or "/"}]}
    return json.dumps(spec, separators=(",", ":"), ensure_ascii=False)


# No return annotations: Powertools would try to validate a Response as a model.
@router.get("/openapi.json", responses=SPEC_RESPONSE, summary="This OpenAPI document, as JSON")
def openapi_document():
    return Response(200, content_types.APPLICATION_JSON, _spec_for_this_request())


# compress: the page is ~1.7 MB, gzip makes it ~0.5 MB (API Gateway passes it as binary).
@router.get(
    "/docs",
    responses=PAGE_RESPONSE,
    compress=True,
    summary="Swagger UI: this page; ?format=json gives the document",
)
def swagger_page(
    output: Annotated[
        Literal["json"] | None,
        Query(
            alias="format",
            description="`json`: the OpenAPI document instead of the page (the page's own link)",
        ),
    ] = None,
):
    if output == "json":
        return openapi_document()
    # Imported here: Swagger UI's modules would double the query function's cold start.
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    swagger_js, swagger_css = _swagger_ui_assets()
    # `</` inside the embedded JSON would end the page's <script> element.
    spec = _spec_for_this_request().replace("</", "<\\/")
    page = generate_swagger_html(
        spec, swagger_js, swagger_css, swagger_base_url="", oauth2_config=None
    )
    return Response(200, content_types.TEXT_HTML, page)
