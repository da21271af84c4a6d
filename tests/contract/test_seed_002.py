"""Seed 002 (log processing system): its sample requests, sent as written over HTTP plus a
credential, get the documented answers; the error cases; metrics and notifications."""

import json
from typing import Any

import pytest

from tests.support.polling import eventually

# The document's POST /logs request body, as written.
SAMPLE_REQUEST = """{
  "timestamp": "2024-11-08T14:23:30",
  "level": "CRITICAL",
  "service": "auth",
  "request_id": "abc123",
  "message": "user authentication failed",
  "data": {
    "user_id": "user123",
    "ip_address": "192.168.1.1"
  }
}"""
# The document's GET /logs answer: these two logs, sorted by timestamp.
SAMPLE_LISTING = [
    {
        "timestamp": "2024-11-08T14:23:30",
        "level": "INFO",
        "service": "auth",
        "request_id": "abc123",
        "message": "user authentication failed",
        "data": {"user_id": "user123", "ip_address": "192.168.1.1"},
    },
    {
        "timestamp": "2024-11-09T14:23:30",
        "level": "WARNING",
        "service": "auth",
        "request_id": "abc123",
        "message": "send notification failed",
        "data": {"user_id": "user1234", "ip_address": "192.168.1.1"},
    },
]
JSON = {"Content-Type": "application/json"}
GATEWAY_401 = {
    "error": "UNAUTHORIZED",
    "message": "Missing or invalid credential: send x-api-key, X-INGEST-KEY or Authorization: "
    "Bearer <token>",
}
NOTIFIED_WITHIN_SECONDS = 30


def post_log(http, credential: dict[str, str], body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return http.post("/logs", data=data, headers={**JSON, **credential})


def notification_queue_drained(stack_aws) -> bool:
    """The notifier has handled every queued event (this worker's stack runs one test at a
    time, so what is queued is this test's)."""
    sqs = stack_aws("sqs")
    url = sqs.get_queue_url(QueueName="NotificationQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(value) == 0 for value in attributes.values())


# ---------------------------------------------------------------- POST /logs, GET /logs


def test_the_sample_request_is_processed_and_listed_back(http, tenant):
    created = post_log(http, tenant.ingest, SAMPLE_REQUEST)
    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/json"
    assert created.json() == {"status": "Log processed successfully"}

    listed = http.get("/logs", headers=tenant.user)
    assert listed.status_code == 200
    assert listed.json() == [json.loads(SAMPLE_REQUEST)]


def test_the_sample_listing_comes_back_sorted_by_timestamp_with_exactly_its_keys(http, tenant):
    for log in reversed(SAMPLE_LISTING):  # stored newest first: the listing sorts them
        assert post_log(http, tenant.ingest, log).status_code == 201
    listed = http.get("/logs", headers=tenant.user)
    assert listed.status_code == 200
    assert listed.json() == SAMPLE_LISTING


def test_level_filters_and_an_unknown_level_lists_nothing(http, tenant):
    for log in SAMPLE_LISTING:
        post_log(http, tenant.ingest, log)
    warnings = http.get("/logs", params={"level": "WARNING"}, headers=tenant.user)
    assert (warnings.status_code, warnings.json()) == (200, [SAMPLE_LISTING[1]])
    unknown = http.get("/logs", params={"level": "NOT_A_LEVEL"}, headers=tenant.user)
    assert (unknown.status_code, unknown.json()) == (200, [])


def test_no_logs_lists_an_empty_list(http, tenant):
    listed = http.get("/logs", headers=tenant.user)
    assert (listed.status_code, listed.json()) == (200, [])


@pytest.mark.parametrize(
    "body",
    [
        {**json.loads(SAMPLE_REQUEST), "level": "LOUD"},
        {key: value for key, value in json.loads(SAMPLE_REQUEST).items() if key != "message"},
        {**json.loads(SAMPLE_REQUEST), "timestamp": "yesterday"},
        '{"level": "INFO", "message": ',
        "just some words, in no log format",
    ],
    ids=["unknown-level", "no-message", "bad-timestamp", "malformed-json", "not-a-log-line"],
)
def test_invalid_log_data_is_400_with_the_seeds_body(http, tenant, body):
    reply = post_log(http, tenant.ingest, body)
    assert reply.status_code == 400
    assert reply.json() == {"error": "Invalid log data"}
    assert http.get("/logs", headers=tenant.user).json() == []


@pytest.mark.parametrize("body", ["", " \n\t"], ids=["empty", "blank"])
def test_an_empty_body_is_400_with_the_seeds_body(http, tenant, body):
    reply = post_log(http, tenant.ingest, body)
    assert (reply.status_code, reply.json()) == (400, {"error": "Invalid log data"})


def test_the_propagators_heartbeats_are_not_logs_of_the_default_app(http):
    apps = http.get("/apps", params={"limit": 100}, headers=http.admin).json()["items"]
    (internal,) = [app["id"] for app in apps if app["name"] == "eventlog-internal"]
    beats = f"/apps/{internal}/events?name=eventlog.heartbeat&limit=1"
    eventually(
        lambda: http.get(beats, headers=http.admin).json()["items"],
        "a heartbeat",
        NOTIFIED_WITHIN_SECONDS,
    )
    listed = http.get("/logs", headers=http.admin)  # an admin's: the default app's
    assert listed.status_code == 200
    assert [log for log in listed.json() if log["service"] == "propagator"] == []


def test_a_text_log_line_is_processed(http, tenant):
    line = "<34>1 2024-11-08T14:23:30.000Z auth-host auth 4242 ID47 - user authentication failed"
    created = http.post("/logs", data=line, headers={"Content-Type": "text/plain", **tenant.ingest})
    assert created.status_code == 201
    assert created.json() == {"status": "Log processed successfully"}
    (log,) = http.get("/logs", headers=tenant.user).json()
    assert log == {
        "timestamp": "2024-11-08T14:23:30",
        "level": "CRITICAL",
        "service": "auth",
        "request_id": None,
        "message": "user authentication failed",
        "data": log["data"],
    }
    assert log["data"]["host"] == "auth-host"


# ---------------------------------------------------------------- GET /metrics


def test_metrics_count_the_tenants_logs(http, tenant):
    empty = http.get("/metrics", headers=tenant.user)
    assert (empty.status_code, empty.json()) == (
        200,
        {"logs_processed": 0, "notifications_sent": 0},
    )
    for log in SAMPLE_LISTING + SAMPLE_LISTING:  # INFO and WARNING: nothing to notify
        post_log(http, tenant.ingest, log)
    metrics = http.get("/metrics", headers=tenant.user)
    assert metrics.status_code == 200
    assert metrics.json() == {"logs_processed": 4, "notifications_sent": 0}


def test_a_critical_log_notifies_once_per_cooldown(http, tenant, stack_aws):
    # Every new app's default rule sends ERROR and CRITICAL to the alerts topic, once per level
    # per 5-minute cooldown.
    def metrics() -> dict[str, int]:
        return http.get("/metrics", headers=tenant.user).json()

    post_log(http, tenant.ingest, SAMPLE_REQUEST)
    eventually(
        lambda: metrics()["notifications_sent"] == 1,
        "the first CRITICAL notified",
        NOTIFIED_WITHIN_SECONDS,
    )

    assert post_log(http, tenant.ingest, SAMPLE_REQUEST).status_code == 201
    eventually(
        lambda: notification_queue_drained(stack_aws),
        "the second CRITICAL handled",
        NOTIFIED_WITHIN_SECONDS,
    )
    assert metrics() == {"logs_processed": 2, "notifications_sent": 1}


# ---------------------------------------------------------------- credentials


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/logs", SAMPLE_REQUEST), ("GET", "/logs", None), ("GET", "/metrics", None)],
)
def test_every_route_needs_a_credential(http, method, path, body):
    reply = http.request(method, path, data=body, headers=JSON)
    assert reply.status_code == 401
    assert reply.json() == GATEWAY_401
