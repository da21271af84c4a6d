"""Seed 004 (log handler API): every example of its document, in its order, over HTTP on the
local stack, plus its error cases.

Credentials (the seed had none but the ingest key): the admin key (`x-api-key`) for the app
routes, the app's ingest key (`X-INGEST-KEY`) for ingest, a user key of the app for reads.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

# The document's body example, sent as written.
SEED_EVENT = {
    "occurred_at": "2026-02-10T10:00:00Z",
    "level": "ERROR",
    "message": "TimeoutError: request timed out",
    "stack": {"frames": []},
    "tags": {"env": "prod", "version": "1.2.3"},
}
# The document's statistics range.
SINCE, UNTIL = "2026-02-10T00:00:00Z", "2026-02-11T00:00:00Z"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ERROR_KEYS = {"error", "message"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def around_now() -> dict[str, str]:
    """since/until around now: listings filter on received_at."""
    now = datetime.now(UTC)
    return {"since": iso(now - timedelta(hours=1)), "until": iso(now + timedelta(hours=1))}


def ingest(http, tenant, body: dict) -> dict:
    reply = http.post(f"/apps/{tenant.app_id}/events", json=body, headers=tenant.ingest)
    assert reply.status_code == 201, reply.text
    return reply.json()


def assert_error(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert body["error"] == code
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"details"}
    assert isinstance(body["message"], str) and body["message"]
    return body


# ---------------------------------------------------------------- applications


def test_create_application_answers_the_documented_body_with_the_ingest_key(http):
    name = f"my-app-{uuid.uuid4().hex[:8]}"
    reply = http.post(f"/apps/{name}", headers=http.admin)
    assert reply.status_code == 201, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    app = reply.json()
    assert set(app) == {"id", "name", "ingest_key", "created_at"}
    assert type(app["id"]) is int
    assert app["name"] == name
    assert re.fullmatch(r"[0-9a-f]{64}", app["ingest_key"])
    assert ISO_UTC.match(app["created_at"])


def test_get_application_answers_it_without_its_ingest_key(http, tenant):
    reply = http.get(f"/apps/{tenant.app_id}", headers=tenant.admin)
    assert reply.status_code == 200, reply.text
    app = reply.json()
    assert set(app) == {"id", "name", "created_at"}
    assert (app["id"], app["name"]) == (tenant.app_id, tenant.name)


@pytest.mark.parametrize("path", ["/apps/", "/apps"])
def test_list_applications_with_or_without_the_trailing_slash(http, tenant, path):
    """The document writes GET /apps/; API Gateway routes it to the /apps resource."""
    listed, cursor = [], None
    while True:
        reply = http.get(path, params={"cursor": cursor} if cursor else {}, headers=tenant.admin)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        assert set(page) == {"items", "next_cursor"}
        listed += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    mine = [app for app in listed if app["id"] == tenant.app_id]
    assert len(mine) == 1
    assert set(mine[0]) == {"id", "name", "created_at"}
    assert mine[0]["name"] == tenant.name


# ---------------------------------------------------------------- events


def test_ingest_the_documented_event_with_the_ingest_key(http, tenant):
    reply = http.post(f"/apps/{tenant.app_id}/events", json=SEED_EVENT, headers=tenant.ingest)
    assert reply.status_code == 201, reply.text
    event = reply.json()
    assert set(event) == {"id", "app_id", "received_at", "count", *SEED_EVENT}
    assert {key: event[key] for key in SEED_EVENT} == SEED_EVENT
    assert (event["app_id"], event["count"]) == (tenant.app_id, 1)
    assert ISO_UTC.match(event["received_at"])
    stored = http.get(f"/apps/{tenant.app_id}/events/{event['id']}", headers=tenant.user)
    assert stored.json() == event


def test_list_events_with_the_documented_parameters(http, tenant):
    documented = ingest(http, tenant, SEED_EVENT)
    bare_error = ingest(http, tenant, {"level": "ERROR", "message": "KeyError: 'user'"})
    ingest(http, tenant, {"level": "INFO", "message": "started"})
    query = {"limit": 20, "offset": 0, "level": "ERROR", **around_now()}
    reply = http.get(f"/apps/{tenant.app_id}/events", params=query, headers=tenant.user)
    assert reply.status_code == 200, reply.text
    page = reply.json()
    # next_cursor: the native listing's cursor, given to seed clients too (null on a last page).
    assert page == {"items": [bare_error, documented], "next_offset": None, "next_cursor": None}
    # stack and tags are present only when the event has them
    assert {"stack", "tags"} & set(bare_error) == set()


def test_list_events_filters_on_received_at_not_occurred_at(http, tenant):
    ingest(http, tenant, SEED_EVENT)  # occurred on 2026-02-10, received now
    reply = http.get(
        f"/apps/{tenant.app_id}/events",
        params={"since": SINCE, "until": UNTIL},
        headers=tenant.user,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["items"] == []


def test_list_events_pages_with_offset_and_next_offset(http, tenant):
    events = [ingest(http, tenant, {**SEED_EVENT, "message": f"error {n}"}) for n in range(3)]
    path = f"/apps/{tenant.app_id}/events"
    first = http.get(path, params={"limit": 2, "offset": 0}, headers=tenant.user).json()
    assert first["items"] == [events[2], events[1]]  # newest first
    assert first["next_offset"] == 2
    last = http.get(path, params={"limit": 2, "offset": 2}, headers=tenant.user).json()
    assert (last["items"], last["next_offset"]) == ([events[0]], None)


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("interval", ["HOUR", "hour"])
def test_timeseries_with_the_interval_in_any_case(http, tenant, interval):
    ingest(http, tenant, SEED_EVENT)
    ingest(http, tenant, {**SEED_EVENT, "occurred_at": "2026-02-10T10:40:00Z"})
    ingest(http, tenant, {**SEED_EVENT, "level": "INFO", "occurred_at": "2026-02-10T10:30:00Z"})
    query = {"since": SINCE, "until": UNTIL, "interval": interval, "level": "ERROR"}
    reply = http.get(f"/apps/{tenant.app_id}/stats/timeseries", params=query, headers=tenant.user)
    assert reply.status_code == 200, reply.text
    expected_series = [
        {"bucket_start": f"2026-02-10T{hour:02d}:00:00Z", "count": 2 if hour == 10 else 0}
        for hour in range(24)
    ]
    assert reply.json() == {
        "interval": "HOUR",
        "since": SINCE,
        "until": UNTIL,
        "series": expected_series,
    }


def test_by_level_counts_each_level_most_first(http, tenant):
    for level, times in [("ERROR", 2), ("INFO", 3)]:
        for _ in range(times):
            ingest(http, tenant, {**SEED_EVENT, "level": level})
    reply = http.get(
        f"/apps/{tenant.app_id}/stats/by-level",
        params={"since": SINCE, "until": UNTIL},
        headers=tenant.user,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "since": SINCE,
        "until": UNTIL,
        "items": [{"level": "INFO", "count": 3}, {"level": "ERROR", "count": 2}],
    }


def test_top_messages_by_count_then_last_seen_both_descending(http, tenant):
    occurrences = [
        ("TimeoutError: request timed out", "2026-02-10T10:00:00Z"),
        ("TimeoutError: request timed out", "2026-02-10T10:05:00Z"),
        ("ConnectionError: connection refused", "2026-02-10T11:00:00Z"),
        ("ConnectionError: connection refused", "2026-02-10T11:20:00Z"),
        ("KeyError: missing field", "2026-02-10T09:00:00Z"),
        ("KeyError: missing field", "2026-02-10T09:10:00Z"),
        ("KeyError: missing field", "2026-02-10T09:20:00Z"),
    ]
    for message, occurred_at in occurrences:
        ingest(http, tenant, {**SEED_EVENT, "message": message, "occurred_at": occurred_at})
    ingest(http, tenant, {**SEED_EVENT, "level": "INFO", "message": "not an error"})
    reply = http.get(
        f"/apps/{tenant.app_id}/stats/top-messages",
        params={"since": SINCE, "until": UNTIL, "limit": 10, "level": "ERROR"},
        headers=tenant.user,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "limit": 10,
        "items": [
            {"message": "KeyError: missing field", "count": 3, "last_seen": "2026-02-10T09:20:00Z"},
            {
                "message": "ConnectionError: connection refused",
                "count": 2,
                "last_seen": "2026-02-10T11:20:00Z",
            },
            {
                "message": "TimeoutError: request timed out",
                "count": 2,
                "last_seen": "2026-02-10T10:05:00Z",
            },
        ],
    }


# ---------------------------------------------------------------- errors


def test_creating_an_application_twice_is_409_conflict(http, tenant):
    reply = http.post(f"/apps/{tenant.name}", headers=tenant.admin)
    body = assert_error(reply, 409, "CONFLICT")
    assert tenant.name in body["message"]


def test_ingesting_with_another_apps_ingest_key_is_403_and_stores_nothing(http, tenant):
    # http.ingest: the ingest key of the stack's default app
    reply = http.post(f"/apps/{tenant.app_id}/events", json=SEED_EVENT, headers=http.ingest)
    body = assert_error(reply, 403, "FORBIDDEN")
    assert f"not app {tenant.app_id}" in body["message"]
    listed = http.get(f"/apps/{tenant.app_id}/events", headers=tenant.user).json()
    assert listed["items"] == []


def test_an_unknown_ingest_key_is_401(http, tenant):
    """No key of that value exists, so no caller is identified (the seed answered 403)."""
    reply = http.post(
        f"/apps/{tenant.app_id}/events", json=SEED_EVENT, headers={"X-INGEST-KEY": "0" * 64}
    )
    assert_error(reply, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 51},
        {"offset": -1},
        {"since": UNTIL, "until": SINCE},
        {"since": SINCE, "until": SINCE},
        {"level": "LOUD"},
    ],
)
def test_listing_parameters_out_of_range_are_400(http, tenant, query):
    reply = http.get(f"/apps/{tenant.app_id}/events", params=query, headers=tenant.user)
    assert_error(reply, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("route", ["timeseries", "by-level", "top-messages"])
@pytest.mark.parametrize(("since", "until"), [(UNTIL, SINCE), (SINCE, SINCE)])
def test_statistics_need_since_before_until(http, tenant, route, since, until):
    reply = http.get(
        f"/apps/{tenant.app_id}/stats/{route}",
        params={"since": since, "until": until},
        headers=tenant.user,
    )
    body = assert_error(reply, 400, "VALIDATION_ERROR")
    assert body["message"] == "since must be before until"


def test_an_unknown_interval_is_400(http, tenant):
    reply = http.get(
        f"/apps/{tenant.app_id}/stats/timeseries",
        params={"since": SINCE, "until": UNTIL, "interval": "WEEK"},
        headers=tenant.user,
    )
    body = assert_error(reply, 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "interval"


SEED_ROUTES = [
    ("POST", "/apps/{name}"),
    ("GET", "/apps/{app_id}"),
    ("GET", "/apps/"),
    ("POST", "/apps/{app_id}/events"),
    ("GET", "/apps/{app_id}/events"),
    ("GET", "/apps/{app_id}/stats/timeseries"),
    ("GET", "/apps/{app_id}/stats/by-level"),
    ("GET", "/apps/{app_id}/stats/top-messages"),
]


@pytest.mark.parametrize(("method", "route"), SEED_ROUTES)
def test_every_route_without_a_credential_is_401(http, tenant, method, route):
    path = route.format(name=f"new-{uuid.uuid4().hex[:8]}", app_id=tenant.app_id)
    reply = http.request(method, path, json=SEED_EVENT if method == "POST" else None)
    assert_error(reply, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("method", "route"), SEED_ROUTES[:3])
def test_the_application_routes_are_for_the_admin_key_only(http, tenant, method, route):
    path = route.format(name=f"new-{uuid.uuid4().hex[:8]}", app_id=tenant.app_id)
    reply = http.request(method, path, headers=tenant.user)
    assert_error(reply, 403, "FORBIDDEN")
