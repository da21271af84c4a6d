"""Seed 003 (consumer): POST /api/event and /event, GET /api/ready and /ready, each request run
as API Gateway runs it: the authorizer first, then (on Allow) the handler with its context."""

import json
from typing import Any

import pytest

from eventlog.access.apps import create_app
from eventlog.access.principal import Role
from eventlog.access.tokens import mint_token
from eventlog.base.ids import new_ulid
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.compat.models.consumer import MESSAGE_MAX_LENGTH
from eventlog.delivery.propagation import batch_body
from eventlog.models.admin import TokenIn
from eventlog.models.events import Event
from eventlog.models.subscriptions import Subscription
from tests.support.handlers import (
    HttpResponse,
    invoke_http,
    sample_event,
    set_body,
    set_headers,
    set_path,
)

ACCEPTED = {"status_code": "200"}
BEARER = "send Authorization: Bearer <token>"


def call(
    api,
    method: str,
    resource: str,
    headers: dict[str, str],
    body: Any = None,
) -> HttpResponse:
    """The request through the authorizer and, when it allows it, the handler."""
    authorization = api.authorize(headers, method, resource)
    assert authorization.allows_the_request, authorization.answer
    event = sample_event("stats_timeseries")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["resource"] = event["requestContext"]["resourcePath"] = resource
    set_headers(set_path(event), headers)
    if body is not None:
        set_body(event, body)
    # What API Gateway hands the handler: the context's values as strings, and principalId.
    event["requestContext"]["authorizer"] = {
        **{name: str(value) for name, value in authorization.context.items()},
        "principalId": authorization.answer["principalId"],
    }
    function = "ingest" if method == "POST" else "query"
    return invoke_http(function, event)


def bearer(role: Role = Role.INGEST, app_id: int | None = None) -> dict[str, str]:
    token = mint_token(TokenIn(role=role, app_id=app_id)).token
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def post(api, headers: dict[str, str], body: Any, path: str = "/api/event") -> HttpResponse:
    return call(api, "POST", path, headers, body)


def stored(api, app_id: int) -> list[dict[str, Any]]:
    """The app's events, oldest first, as (name, message, data)."""
    return [
        {field: event.get(field) for field in ("name", "message", "data")}
        for event in reversed(api.all_events(app_id))
    ]


def assert_unauthorized(reply: HttpResponse, reason: str) -> None:
    assert reply.status == 401
    assert reply.body == {"error": "UNAUTHORIZED", "message": reason}
    assert reply.headers["www-authenticate"] == "Bearer"


# ---------------------------------------------------------------- readiness


@pytest.mark.parametrize("path", ["/api/ready", "/ready"])
def test_ready_answers_a_known_caller(api, app, path):
    reply = call(api, "GET", path, bearer(Role.USER, app.id))
    assert reply.status == 200
    assert reply.body == {"status": "ready"}


@pytest.mark.parametrize("path", ["/api/ready", "/ready"])
def test_ready_refuses_an_unknown_caller_saying_why(api, aws, path):
    assert_unauthorized(call(api, "GET", path, {}), f"no credential: {BEARER}")
    reply = call(api, "GET", path, {"Authorization": "Bearer a.b.c"})
    assert reply.status == 401
    assert reply.body["message"].startswith("the bearer token is invalid")


# ---------------------------------------------------------------- storing events


@pytest.mark.parametrize("path", ["/api/event", "/event"])
def test_a_list_of_events_is_stored_in_the_tokens_app(api, app, other_app, path):
    body = [
        {"event_type": "user.signup", "event_payload": "alice"},
        {"event_type": "user.login", "event_payload": '{"user": "alice"}'},
    ]
    reply = post(api, bearer(Role.INGEST, app.id), body, path)
    assert reply.status == 200
    assert reply.body == ACCEPTED
    assert reply.content_type == "application/json"
    assert stored(api, app.id) == [
        {"name": "user.signup", "message": "alice", "data": None},
        {"name": "user.login", "message": '{"user": "alice"}', "data": None},
    ]
    assert stored(api, other_app.id) == []


def test_a_single_event_and_every_credential_work(api, app, user_key):
    event = {"event_type": "ping", "event_payload": "one"}
    for headers in (
        bearer(Role.USER, app.id),
        {"x-api-key": user_key.key},
        {"X-INGEST-KEY": app.ingest_key},
    ):
        assert post(api, headers, event).body == ACCEPTED
    assert stored(api, app.id) == [{"name": "ping", "message": "one", "data": None}] * 3


def test_an_admins_events_go_to_the_default_app(api, app):
    default = create_app("default")
    reply = post(api, bearer(Role.ADMIN), [{"event_type": "ops", "event_payload": "by admin"}])
    assert reply.status == 200
    assert stored(api, default.id) == [{"name": "ops", "message": "by admin", "data": None}]


def test_an_object_payload_is_kept_as_data_and_unknown_fields_are_ignored(api, app):
    body = [{"event_type": "order", "event_payload": {"id": 7}, "sent_by": "legacy client"}]
    assert post(api, bearer(Role.INGEST, app.id), body).body == ACCEPTED
    assert stored(api, app.id) == [{"name": "order", "message": None, "data": {"id": 7}}]


def test_a_payload_longer_than_a_message_is_kept_whole_in_data(api, app):
    fits, too_long = "a" * MESSAGE_MAX_LENGTH, "b" * (MESSAGE_MAX_LENGTH + 1)
    body = [
        {"event_type": "fits", "event_payload": fits},
        {"event_type": "long", "event_payload": too_long},
    ]
    assert post(api, bearer(Role.INGEST, app.id), body).status == 200
    assert stored(api, app.id) == [
        {"name": "fits", "message": fits, "data": None},
        {"name": "long", "message": None, "data": {"event_payload": too_long}},
    ]


def test_our_propagators_consumer_batches_are_accepted(api, app, other_app):
    # The propagator posts `[{"event_type", "event_payload": <the event as JSON>}]` with the
    # batch id as Idempotency-Key; a long message makes a payload over the message limit.
    received = format_iso(utcnow())
    events = [
        Event(
            id=new_ulid(utcnow()),
            app_id=other_app.id,
            received_at=received,
            occurred_at=received,
            level=level,
            name=name,
            message=message,
        )
        for level, name, message in (
            ("INFO", "deploy", "v2 is out"),
            ("ERROR", None, "x" * MESSAGE_MAX_LENGTH),
        )
    ]
    subscription = Subscription.model_construct(id="s_tests", format="consumer")
    body, batch = batch_body(subscription, events)
    headers = {**bearer(Role.INGEST, app.id), "Idempotency-Key": batch}
    for _ in range(2):  # a redelivery is answered the same and stored once
        reply = post(api, headers, body.decode())
        assert reply.status == 200
        assert reply.body == ACCEPTED
    first, second = stored(api, app.id)
    assert first["name"] == "deploy"
    assert json.loads(first["message"])["message"] == "v2 is out"
    assert second["name"] == "ERROR"
    assert json.loads(second["data"]["event_payload"])["message"] == "x" * MESSAGE_MAX_LENGTH


# ---------------------------------------------------------------- refused bodies (400)


def test_an_invalid_item_refuses_the_whole_body_naming_it(api, app):
    body = [
        {"event_type": "good", "event_payload": "kept? no"},
        {"event_type": "", "event_payload": 3},
        {"event_payload": "no type"},
    ]
    reply = post(api, bearer(Role.INGEST, app.id), body)
    assert reply.status == 400
    assert reply.body == {
        "error": "VALIDATION_ERROR",
        "message": "invalid 1.event_type, 1.event_payload, 2.event_type: nothing was stored",
        "details": [
            {"field": "1.event_type", "message": "String should have at least 1 character"},
            {"field": "1.event_payload", "message": "must be a string (or a JSON object)"},
            {"field": "2.event_type", "message": "Field required"},
        ],
    }
    assert stored(api, app.id) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event_type": "x"}, "invalid event_payload: nothing was stored"),
        ("not json", "malformed JSON"),
        ([], "the batch is empty: send at least one event"),
        (
            [{"event_type": "x", "event_payload": "y"}] * 101,
            "a batch holds at most 100 events, got 101",
        ),
    ],
    ids=["single-object", "not-json", "empty", "over-the-batch-limit"],
)
def test_bad_bodies_are_refused(api, app, body, message):
    reply = post(api, bearer(Role.INGEST, app.id), body)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["message"].startswith(message)
    assert stored(api, app.id) == []


def test_a_full_batch_is_stored(api, app):
    body = [{"event_type": "tick", "event_payload": str(i)} for i in range(100)]
    assert post(api, bearer(Role.INGEST, app.id), body).status == 200
    assert [event["message"] for event in stored(api, app.id)] == [str(i) for i in range(100)]


# ---------------------------------------------------------------- unknown callers (401)


@pytest.mark.parametrize("path", ["/api/event", "/event"])
def test_an_unknown_caller_is_refused_saying_why_before_the_body_is_read(api, app, path):
    assert_unauthorized(post(api, {}, "not json", path), f"no credential: {BEARER}")
    assert_unauthorized(
        post(api, {"X-INGEST-KEY": "elk_ingest_unknown"}, [{"event_type": "x"}], path),
        "the X-INGEST-KEY key is unknown or revoked",
    )
    assert stored(api, app.id) == []


# ---------------------------------------------------------------- Idempotency-Key


def test_a_retry_with_the_same_key_is_stored_once_on_either_path(api, app):
    headers = {**bearer(Role.INGEST, app.id), "Idempotency-Key": "batch-1"}
    body = [{"event_type": "once", "event_payload": "p"}]
    assert post(api, headers, body, "/api/event").body == ACCEPTED
    again = post(api, headers, body, "/event")
    assert again.status == 200
    assert again.body == ACCEPTED
    assert stored(api, app.id) == [{"name": "once", "message": "p", "data": None}]

    reused = post(api, headers, [{"event_type": "other", "event_payload": "p"}])
    assert reused.status == 422
    assert reused.body["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(stored(api, app.id)) == 1


def test_idempotency_keys_are_per_app(api, app, other_app):
    body = [{"event_type": "e", "event_payload": "p"}]
    for target in (app, other_app):
        headers = {**bearer(Role.INGEST, target.id), "Idempotency-Key": "same-key"}
        assert post(api, headers, body).status == 200
        assert len(stored(api, target.id)) == 1
