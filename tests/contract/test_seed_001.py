"""Seed 001 (event tracker): its example and every endpoint it lists, over HTTP with the
`x-api-key` header at its two levels, user and admin; and the error cases.

User routes work in a `tenant` of their own. Admin routes act on the `default` app, so tests
reading back through them post there (an admin key posts into the default app) under names
unique to the test.
"""

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
from PIL import Image

JSON = {"Content-Type": "application/json"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def unique(prefix: str = "event") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def path(template: str, name: str) -> str:
    return template.format(name=quote(name, safe=""))


def record(http, credential, name: str, body: dict | None = None):
    headers = {**credential, **(JSON if body is not None else {})}
    return http.post(path("/api/v1/events/{name}", name), json=body, headers=headers)


def assert_error(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert body["error"] == code
    assert set(body) in ({"error", "message"}, {"error", "message", "details"})
    return body


def utc_day(http, tenant, name: str) -> str:
    """The UTC day of the occurrence of `name` stored last, from the native listing."""
    listed = http.get(
        f"/apps/{tenant.app_id}/events", params={"name": name}, headers=tenant.user
    ).json()
    return listed["items"][0]["occurred_at"][:10]


# ---------------------------------------------------------------- the seed's example


def test_the_seed_example_creates_one_login1_occurrence_now(http, tenant):
    # POST {base_url}/api/v1/events/login1 with an empty body
    created = http.post("/api/v1/events/login1", headers=tenant.user)
    assert created.status_code == 201
    assert created.content == b""
    day = utc_day(http, tenant, "login1")

    listed = http.get("/api/v1/events", headers=tenant.user)
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == "application/json"
    assert listed.json() == [{"event": "login1", "count": 1, "date": day}]
    history = http.get("/api/v1/event_history", headers=tenant.user)
    assert history.status_code == 200
    assert history.json() == [{"event": "login1", "count": 1}]


def test_a_new_post_registers_new_occurrences(http, tenant):
    for _ in range(2):
        assert http.post("/api/v1/events/login1", headers=tenant.user).status_code == 201
    reply = record(http, tenant.user, "login1", {"count": 3})
    assert (reply.status_code, reply.content) == (201, b"")
    assert http.get("/api/v1/event_history", headers=tenant.user).json() == [
        {"event": "login1", "count": 5}
    ]


# ---------------------------------------------------------------- user routes


# The hourly frequencies and the histogram count the last 365 days (UTC), today included.
RECENT = (datetime.now(UTC) - timedelta(days=10)).date()


def fill(
    http, credential, names: tuple[str, str] = ("login", "signup"), first=date(2024, 3, 1)
) -> None:
    """login on `first` and two days later, signup the day between."""
    login, signup = names
    day = [(first + timedelta(days=n)).isoformat() for n in range(3)]
    for name, body in [
        (login, {"count": 2, "date": f"{day[0]} 08:00:00"}),
        (login, {"count": 0, "date": f"{day[0]} 23:59:59"}),
        (signup, {"count": 4, "date": f"{day[1]} 00:00:00"}),
        (login, {"date": f"{day[2]} 12:30:00"}),
    ]:
        assert record(http, credential, name, body).status_code == 201


def test_events_are_counted_by_day_within_an_inclusive_range(http, tenant):
    fill(http, tenant.user)
    days = [
        {"event": "login", "count": 3, "date": "2024-03-01"},
        {"event": "signup", "count": 4, "date": "2024-03-02"},
        {"event": "login", "count": 1, "date": "2024-03-03"},
    ]
    assert http.get("/api/v1/events", headers=tenant.user).json() == days
    ranged = http.get(
        "/api/v1/events?start_date=2024-03-02&end_date=2024-03-03", headers=tenant.user
    )
    assert ranged.status_code == 200
    assert ranged.json() == days[1:]
    one_day = http.get(
        "/api/v1/events?start_date=2024-03-01&end_date=2024-03-01", headers=tenant.user
    )
    assert one_day.json() == days[:1]
    assert http.get("/api/v1/event_history", headers=tenant.user).json() == [
        {"event": "login", "count": 4},
        {"event": "signup", "count": 4},
    ]


@pytest.mark.parametrize("query", ["start_date=2024-03-01", "end_date=2024-03-01"])
def test_one_end_of_the_range_alone_is_400_saying_both_are_needed(http, tenant, query):
    reply = http.get(f"/api/v1/events?{query}", headers=tenant.user)
    body = assert_error(reply, 400, "VALIDATION_ERROR")
    assert body["message"] == "both start_date and end_date are needed for a date range"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start_date=2024-03-01T00:00:00&end_date=2024-03-02", "start_date"),
        ("start_date=2024-03-01&end_date=2024-13-01", "end_date"),
    ],
)
def test_a_date_not_yyyy_mm_dd_is_400_naming_it(http, tenant, query, field):
    body = assert_error(
        http.get(f"/api/v1/events?{query}", headers=tenant.user), 400, "VALIDATION_ERROR"
    )
    assert {detail["field"] for detail in body["details"]} == {field}


def test_start_after_end_is_400(http, tenant):
    reply = http.get(
        "/api/v1/events?start_date=2024-03-02&end_date=2024-03-01", headers=tenant.user
    )
    body = assert_error(reply, 400, "VALIDATION_ERROR")
    assert body["message"] == "start_date must not be after end_date"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": -1}, "count"),
        ({"count": "2"}, "count"),
        ({"date": "2024-03-01T08:00:00Z"}, "date"),
        ({"date": "01/03/2024 08:00:00"}, "date"),
        ({"count": 1, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_body_is_400_naming_the_field_and_stores_nothing(http, tenant, body, field):
    reply = record(http, tenant.user, "login1", body)
    error = assert_error(reply, 400, "VALIDATION_ERROR")
    assert {detail["field"] for detail in error["details"]} == {field}
    assert http.get("/api/v1/event_history", headers=tenant.user).json() == []


def test_malformed_json_is_400(http, tenant):
    reply = http.post("/api/v1/events/login1", data="{count: 2", headers={**JSON, **tenant.user})
    assert_error(reply, 400, "VALIDATION_ERROR")


def test_the_histogram_is_a_png(http, tenant):
    fill(http, tenant.user, first=RECENT)
    reply = http.get("/api/v1/event_frequencies/login/hist", headers=tenant.user)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.content.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(reply.content)).format == "PNG"


def test_the_histogram_of_an_unknown_event_is_a_json_404(http, tenant):
    reply = http.get("/api/v1/event_frequencies/never/hist", headers=tenant.user)
    body = assert_error(reply, 404, "NOT_FOUND")
    assert body["message"] == "no event named 'never'"


ODD_NAMES = ["a%b", "a_b", "a*", "it's", 'say "hi"', "a b"]


def test_names_match_exactly_whatever_their_characters(http, tenant):
    for count, name in enumerate(ODD_NAMES, start=1):
        assert record(http, tenant.user, name, {"count": count}).status_code == 201, name
    history = http.get("/api/v1/event_history", headers=tenant.user).json()
    assert history == [
        {"event": name, "count": ODD_NAMES.index(name) + 1} for name in sorted(ODD_NAMES)
    ]
    for name in ODD_NAMES:
        reply = http.get(path("/api/v1/event_frequencies/{name}/hist", name), headers=tenant.user)
        assert reply.status_code == 200, name
    for pattern in ("a%", "a_", "%", "a"):
        reply = http.get(
            path("/api/v1/event_frequencies/{name}/hist", pattern), headers=tenant.user
        )
        assert reply.status_code == 404, pattern


def test_a_user_key_sees_only_its_app(http, tenant):
    fill(http, tenant.admin, (unique("login"), unique("signup")))  # into the default app
    assert http.get("/api/v1/events", headers=tenant.user).json() == []
    assert http.get("/api/v1/event_history", headers=tenant.user).json() == []


# ---------------------------------------------------------------- admin routes (default app)


def test_an_admin_reads_one_events_days_and_frequencies(http):
    login, signup = unique("login"), unique("signup")
    fill(http, http.admin, (login, signup), first=RECENT)

    days = http.get(path("/admin/v1/events/{name}", login), headers=http.admin)
    assert days.status_code == 200
    assert days.json() == [
        {"event": login, "count": 3, "date": RECENT.isoformat()},
        {"event": login, "count": 1, "date": (RECENT + timedelta(days=2)).isoformat()},
    ]
    frequency = http.get(path("/admin/v1/event_frequencies/{name}", login), headers=http.admin)
    assert frequency.status_code == 200
    hours = [0] * 24
    hours[8], hours[23], hours[12] = 2, 1, 1
    assert frequency.json() == {"event": login, "count": 4, "hour_count": hours}

    everything = http.get("/admin/v1/event_frequencies", headers=http.admin)
    assert everything.status_code == 200
    listed = everything.json()
    assert [item["event"] for item in listed] == sorted(item["event"] for item in listed)
    signup_hours = [0] * 24
    signup_hours[0] = 4
    ours = [item for item in listed if item["event"] in (login, signup)]
    assert ours == sorted(
        [
            {"event": login, "count": 4, "hour_count": hours},
            {"event": signup, "count": 4, "hour_count": signup_hours},
        ],
        key=lambda item: item["event"],
    )
    # The admin's user routes read the default app too.
    history = http.get("/api/v1/event_history", headers=http.admin).json()
    assert {"event": login, "count": 4} in history


def test_frequencies_and_the_histogram_count_the_last_365_days(http):
    old, recent = unique("old"), unique("recent")
    long_ago = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%d 10:00:00")
    assert record(http, http.admin, old, {"count": 5, "date": long_ago}).status_code == 201
    assert record(http, http.admin, recent, {"count": 2}).status_code == 201
    assert record(http, http.admin, recent, {"count": 3, "date": long_ago}).status_code == 201
    history = http.get("/api/v1/event_history", headers=http.admin).json()
    assert {"event": old, "count": 5} in history  # the history is all-time
    assert {"event": recent, "count": 5} in history
    assert_error(
        http.get(path("/admin/v1/event_frequencies/{name}", old), headers=http.admin),
        404,
        "NOT_FOUND",
    )
    hist = http.get(path("/api/v1/event_frequencies/{name}/hist", old), headers=http.admin)
    assert_error(hist, 404, "NOT_FOUND")
    frequency = http.get(path("/admin/v1/event_frequencies/{name}", recent), headers=http.admin)
    assert frequency.json()["count"] == 2
    everything = http.get("/admin/v1/event_frequencies", headers=http.admin).json()
    assert old not in {item["event"] for item in everything}
    assert {item["event"]: item["count"] for item in everything}[recent] == 2


def test_an_admin_deletes_every_occurrence_of_an_event(http):
    login, signup = unique("login"), unique("signup")
    fill(http, http.admin, (login, signup))
    reply = http.delete(path("/admin/v1/events/{name}", login), headers=http.admin)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {
        "message": f"deleted 4 occurrences of event '{login}'",
        "event": login,
        "deleted": 3,
        "occurrences": 4,
        "complete": True,
    }
    for route in ("/admin/v1/events/{name}", "/admin/v1/event_frequencies/{name}"):
        body = assert_error(http.get(path(route, login), headers=http.admin), 404, "NOT_FOUND")
        assert body["message"] == f"no event named '{login}'"
    history = http.get("/api/v1/event_history", headers=http.admin).json()
    assert login not in {item["event"] for item in history}
    assert {"event": signup, "count": 4} in history
    again = http.delete(path("/admin/v1/events/{name}", login), headers=http.admin)
    assert_error(again, 404, "NOT_FOUND")


def test_deleting_matches_the_name_exactly(http):
    prefix = unique("odd")
    names = [f"{prefix}{suffix}" for suffix in ("%x", "_x", "*", "'x'", '"x"')]
    for name in names:
        assert record(http, http.admin, name).status_code == 201
    assert_error(
        http.delete(path("/admin/v1/events/{name}", f"{prefix}%"), headers=http.admin),
        404,
        "NOT_FOUND",
    )
    reply = http.delete(path("/admin/v1/events/{name}", f"{prefix}_x"), headers=http.admin)
    assert reply.json()["deleted"] == 1
    left = [
        item["event"]
        for item in http.get("/api/v1/event_history", headers=http.admin).json()
        if item["event"].startswith(prefix)
    ]
    assert left == sorted(set(names) - {f"{prefix}_x"})


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "/admin/v1/events/{name}"),
        ("GET", "/admin/v1/event_frequencies/{name}"),
        ("DELETE", "/admin/v1/events/{name}"),
    ],
)
def test_an_unknown_event_on_admin_routes_is_404(http, method, route):
    name = unique("never")
    reply = http.request(method, path(route, name), headers=http.admin)
    body = assert_error(reply, 404, "NOT_FOUND")
    assert body["message"] == f"no event named '{name}'"


# ---------------------------------------------------------------- the two levels, health

ADMIN_ROUTES = [
    ("GET", "/admin/v1/events/login1"),
    ("GET", "/admin/v1/event_frequencies/login1"),
    ("GET", "/admin/v1/event_frequencies"),
    ("DELETE", "/admin/v1/events/login1"),
]
USER_ROUTES = [
    ("POST", "/api/v1/events/login1"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/event_history"),
    ("GET", "/api/v1/event_frequencies/login1/hist"),
]


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES)
def test_a_user_key_on_an_admin_route_is_403(http, tenant, method, route):
    reply = http.request(method, route, headers=tenant.user)
    assert_error(reply, 403, "FORBIDDEN")


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES + USER_ROUTES)
def test_every_route_without_a_key_is_401(http, method, route):
    assert_error(http.request(method, route), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES + USER_ROUTES)
def test_an_unknown_key_is_401(http, method, route):
    reply = http.request(method, route, headers={"x-api-key": "not-a-key"})
    assert_error(reply, 401, "UNAUTHORIZED")


def test_ping_needs_no_key(http):
    reply = http.get("/health/ping")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"message": "pong"}
