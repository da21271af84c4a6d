"""Seed 001 (event tracker): its routes through the handlers, and the authorizer's two levels."""

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from eventlog.base.timeutil import parse_iso, utcnow
from eventlog.compat import tracker
from eventlog.events import ingestion
from eventlog.models.events import HEARTBEAT_NAME
from tests.support.api import Api
from tests.support.handlers import HttpResponse

RECORD = "/api/v1/events/{name}"
DAILY = "/api/v1/events"
HISTORY = "/api/v1/event_history"
HISTOGRAM = "/api/v1/event_frequencies/{name}/hist"
NAMED = "/admin/v1/events/{name}"
FREQUENCY = "/admin/v1/event_frequencies/{name}"
FREQUENCIES = "/admin/v1/event_frequencies"
ODD_NAMES = ["a%b", "a_b", "a*", "it's", 'say "hi"', "100%25", "a b/c"]


def call(
    function: str,
    method: str,
    resource: str,
    name: str | None = None,
    body: Any = None,
    query: dict[str, Any] | None = None,
    role: str = "user",
    app_id: int | None = None,
) -> HttpResponse:
    """A seed route as API Gateway invokes it: the name percent-encoded, as in the URL."""
    path = {} if name is None else {"name": quote(name, safe="")}
    return Api().unscoped(function, method, resource, body, query, role, app_id, **path)


def post(app_id: int | None, name: str, body: Any = None, role: str = "user") -> HttpResponse:
    return call("ingest", "POST", RECORD, name, body=body, role=role, app_id=app_id)


def read(resource: str, app_id: int | None, name: str | None = None, **query: Any):
    return call("stats", "GET", resource, name, query=query, app_id=app_id)


def admin_read(resource: str, name: str | None = None) -> HttpResponse:
    return call("stats", "GET", resource, name, role="admin")


def delete(name: str) -> HttpResponse:
    return call("admin", "DELETE", NAMED, name, role="admin")


@pytest.fixture
def default_app(aws):
    from eventlog.access.apps import create_app

    return create_app("default")


# The frequencies and the histogram count the last 365 days: "today", for the dates below.
TODAY = datetime(2024, 3, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(tracker, "utcnow", lambda: TODAY)


def stored(api, app_id: int, name: str) -> list[dict]:
    return api.all_events(app_id, name=name)


# ---------------------------------------------------------------- POST /api/v1/events/{name}


def test_an_empty_body_records_one_occurrence_now(api, app):
    before = utcnow()
    reply = post(app.id, "login1")
    assert (reply.status, reply.text) == (201, "")
    (event,) = stored(api, app.id, "login1")
    assert (event["name"], event["count"], event["level"]) == ("login1", 1, "INFO")
    assert before - timedelta(seconds=1) <= parse_iso(event["occurred_at"]) <= utcnow()


@pytest.mark.parametrize("body", ["", "  ", "{}", "null", {}, {"count": 0}])
def test_no_count_or_count_zero_is_one_occurrence(api, app, body):
    assert post(app.id, "login1", body).status == 201
    assert [event["count"] for event in stored(api, app.id, "login1")] == [1]


def test_count_and_date_are_stored_the_date_in_utc(api, app):
    reply = post(app.id, "login1", {"count": 5, "date": "2024-03-05 22:15:07"})
    assert (reply.status, reply.text) == (201, "")
    (event,) = stored(api, app.id, "login1")
    assert (event["count"], event["occurred_at"]) == (5, "2024-03-05T22:15:07Z")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": -1}, "count"),
        ({"count": "5"}, "count"),
        ({"count": 1.5}, "count"),
        ({"count": True}, "count"),
        ({"count": 1_000_001}, "count"),
        ({"date": "2024-03-05T22:15:07"}, "date"),
        ({"date": "2024-03-05 22:15:07Z"}, "date"),
        ({"date": "2024-03-05"}, "date"),
        ({"date": "2024-3-5 1:02:03"}, "date"),
        ({"date": "2024-02-30 10:00:00"}, "date"),
        ({"date": "1969-12-31 23:59:59"}, "date"),
        ({"date": 1709676907}, "date"),
        ({"name": "other"}, "name"),
        ({"count": 1, "when": "now"}, "when"),
    ],
)
def test_a_bad_field_is_400_naming_it_and_stores_nothing(api, app, body, field):
    reply = post(app.id, "login1", body)
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.error_fields == {field}
    assert stored(api, app.id, "login1") == []


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', "3"])
def test_a_body_that_is_not_a_json_object_is_400(api, app, body):
    reply = post(app.id, "login1", body)
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert stored(api, app.id, "login1") == []


def test_an_admin_records_into_the_default_app(api, app, default_app):
    assert post(None, "login1", role="admin").status == 201
    assert len(stored(api, default_app.id, "login1")) == 1
    assert stored(api, app.id, "login1") == []


def test_an_ingest_key_records_into_its_app(api, app):
    assert post(app.id, "login1", role="ingest").status == 201
    assert len(stored(api, app.id, "login1")) == 1


def test_the_heartbeat_name_is_refused(api, app):
    reply = post(app.id, HEARTBEAT_NAME)
    assert reply.status == 400
    assert HEARTBEAT_NAME in reply.body["message"]


# ---------------------------------------------------------------- user reads


def fill(app_id: int | None, role: str = "user") -> None:
    """login on 1 and 3 March, signup on 2 March, logout on 3 March (2024)."""
    for name, count, date in [
        ("login", 2, "2024-03-01 08:00:00"),
        ("login", 0, "2024-03-01 23:59:59"),
        ("signup", 4, "2024-03-02 00:00:00"),
        ("login", 1, "2024-03-03 12:30:00"),
        ("logout", 7, "2024-03-03 12:45:00"),
    ]:
        assert post(app_id, name, {"count": count, "date": date}, role=role).status == 201


ALL_DAYS = [
    {"event": "login", "count": 3, "date": "2024-03-01"},
    {"event": "signup", "count": 4, "date": "2024-03-02"},
    {"event": "login", "count": 1, "date": "2024-03-03"},
    {"event": "logout", "count": 7, "date": "2024-03-03"},
]


def test_events_are_counted_by_day_sorted_by_date_then_name(app):
    fill(app.id)
    reply = read(DAILY, app.id)
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.body == ALL_DAYS


def test_the_date_range_includes_both_ends(app):
    fill(app.id)
    assert read(DAILY, app.id, start_date="2024-03-02", end_date="2024-03-03").body == ALL_DAYS[1:]
    assert read(DAILY, app.id, start_date="2024-03-01", end_date="2024-03-01").body == ALL_DAYS[:1]
    assert read(DAILY, app.id, start_date="2024-03-04", end_date="2025-01-01").body == []


@pytest.mark.parametrize("query", [{"start_date": "2024-03-01"}, {"end_date": "2024-03-01"}])
def test_one_end_of_the_range_alone_is_400_saying_both_are_needed(app, query):
    reply = read(DAILY, app.id, **query)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["message"] == "both start_date and end_date are needed for a date range"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start_date": "2024-03-01 00:00:00", "end_date": "2024-03-02"}, "start_date"),
        ({"start_date": "2024-03-01", "end_date": "03/02/2024"}, "end_date"),
        ({"start_date": "2024-03-01", "end_date": "2024-02-30"}, "end_date"),
        ({"start_date": "2024-03-01", "end_date": "9999-12-31"}, "end_date"),
        ({"start": "2024-03-01"}, None),
    ],
)
def test_a_bad_date_is_400_naming_it(app, query, field):
    reply = read(DAILY, app.id, **query)
    assert reply.status == 400, reply.text
    if field:
        assert reply.error_fields == {field}
    else:
        assert "start" in reply.body["message"]


def test_start_after_end_is_400(app):
    reply = read(DAILY, app.id, start_date="2024-03-03", end_date="2024-03-01")
    assert reply.status == 400
    assert reply.body["message"] == "start_date must not be after end_date"


def test_history_is_each_names_total_sorted_by_name(app):
    fill(app.id)
    reply = read(HISTORY, app.id)
    assert reply.status == 200
    assert reply.body == [
        {"event": "login", "count": 4},
        {"event": "logout", "count": 7},
        {"event": "signup", "count": 4},
    ]


def test_an_app_with_nothing_lists_nothing(app):
    assert read(DAILY, app.id).body == []
    assert read(HISTORY, app.id).body == []


def test_reads_never_mix_apps(app, other_app):
    fill(other_app.id)
    assert read(DAILY, app.id).body == []
    assert read(HISTORY, app.id).body == []
    assert read(HISTOGRAM, app.id, "login").status == 404


def test_the_histogram_is_a_png_of_the_hours(app):
    fill(app.id)
    reply = read(HISTOGRAM, app.id, "login")
    assert reply.status == 200
    assert reply.content_type == "image/png"
    assert base64.b64decode(reply.text).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_histogram_of_an_unknown_name_is_a_json_404(app):
    reply = read(HISTOGRAM, app.id, "never")
    assert reply.status == 404
    assert reply.content_type == "application/json"
    assert reply.body == {"error": "NOT_FOUND", "message": "no event named 'never'"}


# ---------------------------------------------------------------- admin reads (default app)


def test_an_admin_reads_one_names_days(default_app):
    fill(None, role="admin")
    reply = admin_read(NAMED, "login")
    assert reply.status == 200
    assert reply.body == [
        {"event": "login", "count": 3, "date": "2024-03-01"},
        {"event": "login", "count": 1, "date": "2024-03-03"},
    ]


def test_frequencies_count_each_hour_of_the_day_in_utc(default_app):
    fill(None, role="admin")
    reply = admin_read(FREQUENCY, "login")
    assert reply.status == 200
    hours = [0] * 24
    hours[8], hours[23], hours[12] = 2, 1, 1
    assert reply.body == {"event": "login", "count": 4, "hour_count": hours}


def test_all_frequencies_sorted_by_name(default_app):
    fill(None, role="admin")
    reply = admin_read(FREQUENCIES)
    assert reply.status == 200
    login, logout, signup = [0] * 24, [0] * 24, [0] * 24
    login[8], login[23], login[12], logout[12], signup[0] = 2, 1, 1, 7, 4
    assert reply.body == [
        {"event": "login", "count": 4, "hour_count": login},
        {"event": "logout", "count": 7, "hour_count": logout},
        {"event": "signup", "count": 4, "hour_count": signup},
    ]


@pytest.mark.parametrize("resource", [NAMED, FREQUENCY])
def test_an_unknown_name_is_404(default_app, resource):
    fill(None, role="admin")
    reply = admin_read(resource, "log")
    assert reply.status == 404
    assert reply.body == {"error": "NOT_FOUND", "message": "no event named 'log'"}


def test_admin_routes_without_a_default_app_are_404(aws):
    reply = admin_read(FREQUENCIES)
    assert reply.status == 404
    assert "default" in reply.body["message"]


def test_names_match_exactly_whatever_their_characters(api, default_app):
    for count, name in enumerate(ODD_NAMES, start=1):
        body = {"count": count, "date": "2024-03-01 10:00:00"}
        assert post(None, name, body, role="admin").status == 201, name
    for count, name in enumerate(ODD_NAMES, start=1):
        assert admin_read(NAMED, name).body == [
            {"event": name, "count": count, "date": "2024-03-01"}
        ]
        assert admin_read(FREQUENCY, name).body["count"] == count
        assert [event["count"] for event in stored(api, default_app.id, name)] == [count]
    assert admin_read(NAMED, "a").status == 404
    assert admin_read(NAMED, "a%").status == 404
    assert admin_read(NAMED, "%").status == 404
    assert read(HISTORY, None).body == [
        {"event": name, "count": ODD_NAMES.index(name) + 1} for name in sorted(ODD_NAMES)
    ]


def test_frequencies_and_the_histogram_count_the_last_365_days(default_app):
    first, last = tracker.frequency_window()
    assert (first, last) == (datetime(2023, 3, 12, tzinfo=UTC), datetime(2024, 3, 10, tzinfo=UTC))
    for name, count, date in [
        ("login", 2, "2023-03-11 09:00:00"),  # a day too old
        ("login", 3, "2023-03-12 10:00:00"),
        ("login", 4, "2024-03-10 23:00:00"),
        ("login", 5, "2024-03-11 00:00:00"),  # tomorrow
        ("old", 1, "2023-03-11 09:00:00"),
    ]:
        assert post(None, name, {"count": count, "date": date}, role="admin").status == 201
    hours = [0] * 24
    hours[10], hours[23] = 3, 4
    login = {"event": "login", "count": 7, "hour_count": hours}
    assert admin_read(FREQUENCY, "login").body == login
    assert admin_read(FREQUENCIES).body == [login]
    assert admin_read(FREQUENCY, "old").status == 404
    assert read(HISTOGRAM, None, "old").status == 404
    assert read(HISTOGRAM, None, "login").status == 200
    assert {"event": "old", "count": 1} in read(HISTORY, None).body  # the history is all-time


def test_one_names_frequency_reads_its_own_days_only(default_app, monkeypatch):
    from eventlog.storage import aggregates

    for n in range(30):
        assert post(None, f"name-{n}", {"date": "2024-03-01 10:00:00"}, role="admin").status == 201
    read_days: list[list[datetime]] = []
    by_value = aggregates.read_dimension_value

    def spy(app_id, dimension, value, days):
        read_days.append(days)
        return by_value(app_id, dimension, value, days)

    monkeypatch.setattr(aggregates, "read_dimension_value", spy)
    monkeypatch.setattr(aggregates, "read_dimension_days", None)  # no Query of every name
    assert admin_read(FREQUENCY, "name-7").body["count"] == 1
    assert read(HISTOGRAM, None, "name-7").status == 200
    assert [len(days) for days in read_days] == [tracker.FREQUENCY_DAYS] * 2


# ---------------------------------------------------------------- DELETE /admin/v1/events/{name}


def test_deleting_a_name_answers_its_counts_and_takes_it_off_every_reading(api, default_app):
    fill(None, role="admin")
    reply = delete("login")
    assert reply.status == 200
    assert reply.body == {
        "message": "deleted 4 occurrences of event 'login'",
        "event": "login",
        "deleted": 3,
        "occurrences": 4,
        "complete": True,
    }
    assert stored(api, default_app.id, "login") == []
    assert admin_read(NAMED, "login").status == 404
    assert admin_read(FREQUENCY, "login").status == 404
    assert read(HISTOGRAM, None, "login").status == 404
    assert [item["event"] for item in admin_read(FREQUENCIES).body] == ["logout", "signup"]
    assert read(HISTORY, None).body == [
        {"event": "logout", "count": 7},
        {"event": "signup", "count": 4},
    ]
    assert read(DAILY, None).body == [ALL_DAYS[1], ALL_DAYS[3]]
    assert delete("login").status == 404


def test_deleting_matches_the_name_exactly(api, default_app):
    for name in ODD_NAMES:
        assert post(None, name, role="admin").status == 201
    assert delete("a%").status == 404
    assert delete("a_b").body["deleted"] == 1
    assert sorted(item["event"] for item in read(HISTORY, None).body) == sorted(
        set(ODD_NAMES) - {"a_b"}
    )


def test_deleting_an_unknown_name_is_404(default_app):
    reply = delete("never")
    assert reply.status == 404
    assert reply.body == {"error": "NOT_FOUND", "message": "no event named 'never'"}


def test_a_deletion_out_of_time_says_it_is_not_complete(default_app):
    fill(None, role="admin")
    result, cursor = tracker.delete(None, "login", deadline=time.monotonic() - 1)
    assert (result.deleted, result.complete, cursor) == (0, False, None)  # nothing to skip
    assert "time ran out" in result.message
    assert admin_read(FREQUENCY, "login").body["count"] == 4


class RunsOut:
    """A clock for `eventlog.events.deletion`: real for `checks` looks, then past any deadline."""

    def __init__(self, checks: int):
        self.left = checks

    def monotonic(self) -> float:
        self.left -= 1
        return time.monotonic() if self.left >= 0 else float("inf")


@pytest.fixture
def items_read(monkeypatch) -> list[int]:
    """The items each Query of a deletion by name read (what it cost), matching or not."""
    from eventlog.storage import db

    read: list[int] = []
    query_pages = db.query_pages

    def counted(table, **query):
        for reply in query_pages(table, **query):
            if query.get("FilterExpression") == "#name = :name":
                read.append(reply["ScannedCount"])
            yield reply

    monkeypatch.setattr(db, "query_pages", counted)
    return read


def test_a_deletion_out_of_time_goes_on_from_its_cursor(api, default_app, monkeypatch, items_read):
    from eventlog.events import deletion

    monkeypatch.setattr(deletion, "CHUNK", 2)
    monkeypatch.setattr(deletion, "READ_PAGE_SIZE", 4)
    for i in range(12):
        ingestion.ingest_one(default_app.id, {"name": "login", "count": 2})
        ingestion.ingest_one(default_app.id, {"name": f"other-{i}"})
    replies = []
    cursor = None
    while not replies or not replies[-1].body["complete"]:
        assert len(replies) < 20
        monkeypatch.setattr(deletion, "time", RunsOut(3))
        query = {"cursor": cursor} if cursor else None
        reply = call("admin", "DELETE", NAMED, "login", role="admin", query=query)
        assert reply.status == 200, reply.body
        replies.append(reply)
        cursor = reply.headers.get("x-eventlog-cursor")
        assert (cursor is None) == reply.body["complete"]
    assert len(replies) > 2
    assert "with ?cursor= and this answer's X-Eventlog-Cursor" in replies[0].body["message"]
    assert sum(reply.body["deleted"] for reply in replies) == 12
    assert sum(reply.body["occurrences"] for reply in replies) == 24
    assert stored(api, default_app.id, "login") == []
    assert len(stored(api, default_app.id, "other-11")) == 1
    # Each item was read once (a page boundary's item at most twice), never from the oldest.
    assert sum(items_read) <= 24 + len(replies)
    monkeypatch.setattr(deletion, "time", time)
    assert delete("login").status == 404


def test_a_resumed_deletion_with_nothing_left_is_complete(default_app, monkeypatch):
    from eventlog.events import deletion

    monkeypatch.setattr(deletion, "CHUNK", 1)
    monkeypatch.setattr(deletion, "READ_PAGE_SIZE", 2)
    for name in ("login", "login", "other"):
        ingestion.ingest_one(default_app.id, {"name": name})
    # Deletes both, then stops at the end of the first page.
    monkeypatch.setattr(deletion, "time", RunsOut(2))
    first = delete("login")
    cursor = first.headers["x-eventlog-cursor"]
    assert (first.body["deleted"], first.body["complete"]) == (2, False)
    monkeypatch.setattr(deletion, "time", time)
    reply = call("admin", "DELETE", NAMED, "login", role="admin", query={"cursor": cursor})
    assert reply.status == 200
    assert reply.body == {
        "message": "deleted 0 occurrences of event 'login'",
        "event": "login",
        "deleted": 0,
        "occurrences": 0,
        "complete": True,
    }
    assert "x-eventlog-cursor" not in reply.headers


@pytest.mark.parametrize("cursor", ["junk", "a.b"])
def test_a_deletion_cursor_that_is_not_one_is_400(default_app, cursor):
    ingestion.ingest_one(default_app.id, {"name": "login"})
    reply = call("admin", "DELETE", NAMED, "login", role="admin", query={"cursor": cursor})
    assert reply.status == 400
    assert "cursor" in reply.body["message"]


def test_a_deletion_cursor_holds_for_its_name_and_app_only(api, default_app, app, monkeypatch):
    from eventlog.events import deletion

    monkeypatch.setattr(deletion, "CHUNK", 1)
    for _ in range(3):
        ingestion.ingest_one(default_app.id, {"name": "login"})
    monkeypatch.setattr(deletion, "time", RunsOut(1))
    cursor = delete("login").headers["x-eventlog-cursor"]
    monkeypatch.setattr(deletion, "time", time)
    other = call("admin", "DELETE", NAMED, "logout", role="admin", query={"cursor": cursor})
    assert other.status == 400
    native = api.delete_events(app.id, name="login", cursor=cursor)
    assert native.status == 400
    assert len(stored(api, default_app.id, "login")) == 2


# ---------------------------------------------------------------- the propagator's heartbeat


def test_heartbeats_are_not_tracked_events(default_app):
    ingestion.ingest_one(default_app.id, {"name": HEARTBEAT_NAME, "service": "propagator"})
    fill(None, role="admin")
    assert HEARTBEAT_NAME not in {item["event"] for item in read(DAILY, None).body}
    assert HEARTBEAT_NAME not in {item["event"] for item in read(HISTORY, None).body}
    assert HEARTBEAT_NAME not in {item["event"] for item in admin_read(FREQUENCIES).body}
    for resource in (NAMED, FREQUENCY):
        assert admin_read(resource, HEARTBEAT_NAME).status == 404
    assert read(HISTOGRAM, None, HEARTBEAT_NAME).status == 404
    assert delete(HEARTBEAT_NAME).status == 404


# ---------------------------------------------------------------- health and the two levels


def test_ping_answers_pong():
    reply = call("query", "GET", "/health/ping")
    assert (reply.status, reply.body) == (200, {"message": "pong"})


ADMIN_ROUTES = [("GET", NAMED), ("GET", FREQUENCY), ("GET", FREQUENCIES), ("DELETE", NAMED)]
USER_ROUTES = [("POST", RECORD), ("GET", DAILY), ("GET", HISTORY), ("GET", HISTOGRAM)]


def _path(resource: str) -> dict[str, str]:
    return {"name": "login1"} if "{name}" in resource else {}


@pytest.mark.parametrize(("method", "resource"), ADMIN_ROUTES)
def test_a_user_key_may_not_call_admin_routes(api, user_key, admin_key, method, resource):
    user = api.authorize({"x-api-key": user_key.key}, method, resource, **_path(resource))
    assert not user.allows_the_request
    admin = api.authorize({"x-api-key": admin_key.key}, method, resource, **_path(resource))
    assert admin.allows_the_request


@pytest.mark.parametrize(("method", "resource"), USER_ROUTES)
def test_user_and_admin_keys_may_call_user_routes(api, user_key, admin_key, method, resource):
    for key in (user_key, admin_key):
        answer = api.authorize({"x-api-key": key.key}, method, resource, **_path(resource))
        assert answer.allows_the_request, (key.role, method, resource)
