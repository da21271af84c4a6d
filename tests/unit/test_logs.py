"""Seed 002's POST /logs and GET /logs, over the events."""

import json
from typing import Any

import pytest

SEED_LOG = {
    "timestamp": "2024-11-08T14:23:30",
    "level": "CRITICAL",
    "service": "auth",
    "request_id": "abc123",
    "message": "user authentication failed",
    "data": {"user_id": "user123", "ip_address": "192.168.1.1"},
}


def post_log(api: Any, app_id: int, body: Any) -> Any:
    return api.unscoped("ingest", "POST", "/logs", body, role="ingest", app_id=app_id)


def get_logs(api: Any, app_id: int | None, **query: Any) -> Any:
    role = "user" if app_id else "admin"
    return api.unscoped("query", "GET", "/logs", query=query, role=role, app_id=app_id)


def test_the_seed_example_is_stored_and_listed_back_as_it_was_sent(api, app):
    reply = post_log(api, app.id, SEED_LOG)
    assert reply.status == 201
    assert reply.text == json.dumps({"status": "Log processed successfully"}, separators=(",", ":"))
    listed = get_logs(api, app.id)
    assert listed.status == 200
    assert listed.body == [SEED_LOG]


def test_the_seed_listing_example_comes_back_sorted_by_timestamp(api, app):
    later = {**SEED_LOG, "timestamp": "2024-11-09T14:23:30", "level": "WARNING"}
    earlier = {**SEED_LOG, "level": "INFO"}
    post_log(api, app.id, later)
    post_log(api, app.id, earlier)
    assert get_logs(api, app.id).body == [earlier, later]
    assert get_logs(api, app.id, level="WARNING").body == [later]
    assert get_logs(api, app.id, level="warning").body == [later]


def test_an_unknown_level_lists_nothing(api, app):
    post_log(api, app.id, SEED_LOG)
    reply = get_logs(api, app.id, level="NOT_A_LEVEL")
    assert (reply.status, reply.body) == (200, [])


def test_no_logs_is_an_empty_list(api, app):
    assert get_logs(api, app.id).body == []


@pytest.mark.parametrize(
    "body",
    [
        {**SEED_LOG, "level": "LOUD"},
        {key: value for key, value in SEED_LOG.items() if key != "message"},
        {key: value for key, value in SEED_LOG.items() if key != "level"},
        {**SEED_LOG, "timestamp": "yesterday"},
        {**SEED_LOG, "data": "not an object"},
        '{"level": "INFO", "message": ',
        "just some words without a level",
    ],
)
def test_invalid_log_data_gets_the_seeds_400(api, app, body):
    reply = post_log(api, app.id, body)
    assert reply.status == 400
    assert reply.body == {"error": "Invalid log data"}
    assert get_logs(api, app.id).body == []


@pytest.mark.parametrize("body", [None, "", "   \n\t "])
def test_an_empty_body_gets_the_seeds_400(api, app, body):
    reply = post_log(api, app.id, body)
    assert (reply.status, reply.body) == (400, {"error": "Invalid log data"})
    assert get_logs(api, app.id).body == []


def test_what_the_event_model_refuses_gets_the_seeds_400(api, app):
    reply = post_log(api, app.id, {**SEED_LOG, "service": "x" * 1000})
    assert (reply.status, reply.body) == (400, {"error": "Invalid log data"})
    assert get_logs(api, app.id).body == []


@pytest.mark.parametrize(
    ("line", "level", "service", "message"),
    [
        (
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
            "'su root' failed for lonvick on /dev/pts/8",
            "CRITICAL",
            "su",
            "'su root' failed for lonvick on /dev/pts/8",
        ),
        ("ERROR:payments:card declined", "ERROR", "payments", "card declined"),
        ('level=warn msg="disk almost full" service=storage', "WARNING", "storage", None),
        (
            '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 503 2326',
            "ERROR",
            None,
            None,
        ),
        ("CRITICAL database is down", "CRITICAL", None, "database is down"),
    ],
)
def test_a_text_log_line_is_detected_and_stored(api, app, line, level, service, message):
    reply = post_log(api, app.id, line)
    assert reply.status == 201, reply.text
    (log,) = get_logs(api, app.id).body
    assert log["level"] == level
    assert log["service"] == service
    if message:
        assert log["message"] == message


def test_logs_go_to_the_credentials_app_and_an_admins_to_the_default_app(api, app, other_app):
    from eventlog.access.apps import create_app

    default = create_app("default")
    post_log(api, app.id, SEED_LOG)
    reply = api.unscoped("ingest", "POST", "/logs", {**SEED_LOG, "service": "x"}, role="admin")
    assert reply.status == 201
    assert [log["service"] for log in get_logs(api, app.id).body] == ["auth"]
    assert [log["service"] for log in get_logs(api, None).body] == ["x"]
    assert get_logs(api, other_app.id).body == []
    assert api.metrics(app_id=default.id).body["logs_processed"] == 1


def test_heartbeats_are_not_logs_of_the_default_app(api, aws):
    from eventlog.access.apps import create_app, internal_app_id
    from eventlog.delivery import propagation
    from eventlog.events import ingestion
    from eventlog.models.events import HEARTBEAT_NAME

    default = create_app("default")
    post_log(api, default.id, SEED_LOG)
    propagation._write_heartbeat(propagation.RoundReport(round=1, started_at="x"))
    # A stack older than the internal app wrote its heartbeats into `default`.
    old_beat = {"name": HEARTBEAT_NAME, "service": "propagator", "message": "propagation round 1"}
    ingestion.ingest_one(default.id, old_beat)
    assert [log["service"] for log in get_logs(api, None).body] == ["auth"]
    assert [log["service"] for log in get_logs(api, default.id).body] == ["auth"]
    assert api.metrics(app_id=default.id).body["logs_processed"] == 1
    # The new ones are in the service's own app, read with an admin key like any app.
    (beat,) = api.list_events(internal_app_id(), name=HEARTBEAT_NAME).body["items"]
    assert beat["service"] == "propagator"


def test_a_log_is_an_event_of_the_native_api(api, app):
    post_log(api, app.id, SEED_LOG)
    (event,) = api.list_events(app.id).body["items"]
    assert event["occurred_at"] == "2024-11-08T14:23:30Z"
    assert event["level"] == "CRITICAL"
    assert event["service"] == "auth"
    assert event["tags"] == {"request_id": "abc123"}
    assert event["data"] == SEED_LOG["data"]


def test_fields_the_seed_does_not_know_are_kept_in_tags(api, app):
    post_log(api, app.id, {**SEED_LOG, "host": "web-1"})
    (event,) = api.list_events(app.id).body["items"]
    assert event["tags"] == {"host": "web-1", "request_id": "abc123"}


def test_listing_refuses_parameters_it_does_not_take(api, app):
    reply = get_logs(api, app.id, service="auth")
    assert reply.status == 400
    assert "service" in reply.body["message"]


def test_an_oversized_log_is_413(api, app):
    reply = post_log(api, app.id, {**SEED_LOG, "message": "x" * 300_000})
    assert reply.status == 413


# ---------------------------------------------------------------- seed 003's readiness


@pytest.mark.parametrize("path", ["/api/ready", "/ready"])
def test_ready_when_the_database_answers(api, aws, path):
    reply = api.unscoped("query", "GET", path, role="ingest", app_id=1)
    assert (reply.status, reply.body) == (200, {"status": "ready"})


def test_not_ready_with_a_reason_when_the_database_does_not_answer(api, aws, monkeypatch):
    from eventlog.storage import db

    class Unreachable:
        def get_item(self, **_: Any) -> Any:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    monkeypatch.setattr(db, "registry_table", Unreachable)
    reply = api.unscoped("query", "GET", "/api/ready", role="ingest", app_id=1)
    assert reply.status == 503
    assert reply.body["status"] == "not ready"
    assert "EndpointConnectionError" in reply.body["reason"]
