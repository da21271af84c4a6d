"""Swagger UI's view of the document: a section per route group and seed profile, summaries that
say what an operation does, example bodies the API accepts, and the page's own JSON link."""

import functools
import json
import re
from typing import Any

import openapi
import pytest

from tests.support.handlers import invoke_http, sample_event, set_query

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@functools.cache
def committed() -> dict[str, Any]:
    return json.loads(openapi.SPEC_PATH.read_text())


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, path_item in committed()["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    }


def examples(method: str, path: str) -> dict[str, Any]:
    content = operations()[(method, path)]["requestBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


def test_each_route_group_and_seed_profile_has_its_section():
    sections = [tag["name"] for tag in committed()["tags"]]
    assert sections[:7] == [
        "apps", "keys", "ingest", "events", "statistics", "alerts", "subscriptions",
    ]  # fmt: skip
    assert [name for name in sections if name.startswith("seed ")] == [
        "seed 000: event logging",
        "seed 001: event tracker",
        "seed 002: log processing",
        "seed 003: event consumer",
    ]
    used = {tag for operation in operations().values() for tag in operation["tags"]}
    assert used == set(sections), "a section with no operation, or an operation in none"


def test_every_operation_is_in_exactly_one_section():
    for (method, path), operation in operations().items():
        assert len(operation["tags"]) == 1, f"{method.upper()} {path}: {operation['tags']}"
    assert operations()[("post", "/apps/{app_id}/events")]["tags"] == ["ingest"]
    assert operations()[("get", "/apps/{app_id}/events")]["tags"] == ["events"]
    assert operations()[("get", "/health/ping")]["tags"] == ["seed 001: event tracker"]


def test_summaries_say_what_an_operation_does_not_its_path():
    for (method, path), operation in operations().items():
        summary = operation["summary"]
        assert summary != f"{method.upper()} {path}", f"{method.upper()} {path}: no summary"
        assert not re.search(r"(GET|POST|PATCH|DELETE) /", summary), summary


def test_a_route_no_rule_tags_stops_the_generation():
    with pytest.raises(openapi.OpenApiError, match=r"^GET /reports: no rule of TAG_RULES"):
        openapi.with_tags({"/reports": {"get": {}}})


def test_a_stale_example_stops_the_generation(monkeypatch):
    from eventlog.models.admin import KeyIn

    stale = {("post", "/keys"): (KeyIn, {"a user key": {"role": "user", "app": 2}})}
    monkeypatch.setattr(openapi, "_request_examples", lambda: stale)
    with pytest.raises(
        openapi.OpenApiError,
        match=r"^POST /keys: example 'a user key': .*KeyIn\napp\n  Extra inputs",
    ):
        openapi.with_request_examples({"/keys": {"post": {"requestBody": {}}}})


# ---------------------------------------------------------------- the examples work


def test_the_ingest_examples_are_stored(api, app):
    for name, body in examples("post", "/apps/{app_id}/events").items():
        reply = api.ingest(app.id, body)
        assert reply.status == 201, f"{name}: {reply.text}"
    listed = api.all_events(app.id)
    assert {event.get("name") for event in listed} >= {"checkout.failed", "checkout.started"}


def test_the_key_and_token_examples_are_granted(api, app):
    for name, body in examples("post", "/keys").items():
        reply = api.create_key({**body, "app_id": app.id})
        assert reply.status == 201, f"{name}: {reply.text}"
        assert reply.body["role"] == body["role"]
    for name, body in examples("post", "/tokens").items():
        reply = api.create_token({**body, "app_id": app.id})
        assert reply.status == 201, f"{name}: {reply.text}"


def test_the_alert_rule_example_is_created(api, app):
    (body,) = examples("post", "/apps/{app_id}/alert-rules").values()
    reply = api.admin_request("POST", "/apps/{app_id}/alert-rules", body, app_id=app.id)
    assert reply.status == 201, reply.text
    assert reply.body["condition"] == body["condition"]


# ---------------------------------------------------------------- the page's JSON link


def docs_event(query: dict[str, str]) -> dict[str, Any]:
    event = sample_event("health")
    event["resource"] = event["path"] = event["requestContext"]["resourcePath"] = "/docs"
    event["requestContext"]["path"] = "/v1/docs"
    return set_query(event, query)


def test_the_pages_json_link_gives_the_document(aws):
    """Swagger UI links `/docs?format=json` (its updateUrl) as the document's address."""
    reply = invoke_http("query", docs_event({"format": "json"}))
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.body == {**committed(), "servers": [{"url": "/v1"}]}


def test_another_format_is_refused(aws):
    reply = invoke_http("query", docs_event({"format": "yaml"}))
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["details"][0]["field"] == "format"
