"""Statistics routes (GET /apps/{app_id}/stats/...): exact counts from the aggregates, the
aggregates kept exact through duplicates, retries and deletions, and every bad input refused."""

import base64
import io
from typing import Any

import pytest
from PIL import Image

DAY = {"since": "2026-02-10T00:00:00Z", "until": "2026-02-11T00:00:00Z"}

KNOWN_EVENTS = [
    {"occurred_at": "2026-02-10T10:05:10Z", "level": "ERROR", "message": "User 42 not found",
     "name": "login", "service": "auth"},
    {"occurred_at": "2026-02-10T10:05:50Z", "level": "ERROR", "message": "User 7 not found",
     "name": "login", "service": "auth"},
    {"occurred_at": "2026-02-10T10:40:00Z", "level": "INFO", "message": "Signed in",
     "name": "login", "service": "auth", "count": 5},
    {"occurred_at": "2026-02-10T12:00:00Z", "level": "WARNING", "message": "Slow query 350 ms",
     "name": "search", "service": "api"},
    {"occurred_at": "2026-02-10T12:30:00Z", "level": "ERROR", "message": "User 1234 not found",
     "name": "search", "service": "api"},
    {"occurred_at": "2026-02-10T23:59:59Z", "level": "INFO", "message": "Nightly job done",
     "name": "cron"},
    {"occurred_at": "2026-02-11T00:00:00Z", "level": "ERROR", "message": "outside the day"},
]  # fmt: skip


@pytest.fixture
def known(api, app) -> Any:
    reply = api.ingest(app.id, KNOWN_EVENTS)
    assert reply.status == 201, reply.text
    return app


def series(reply) -> dict[str, int]:
    assert reply.status == 200, reply.text
    return {point["bucket_start"]: point["count"] for point in reply.body["series"]}


# ---------------------------------------------------------------- exact answers


def test_timeseries_by_hour_is_zero_filled_and_exact(api, known):
    reply = api.stats(known.id, "timeseries", interval="HOUR", **DAY)
    assert reply.body["interval"] == "HOUR"
    assert (reply.body["since"], reply.body["until"]) == (DAY["since"], DAY["until"])
    counts = series(reply)
    assert len(counts) == 24
    assert counts["2026-02-10T10:00:00Z"] == 7  # 1 + 1 + count 5
    assert counts["2026-02-10T12:00:00Z"] == 2
    assert counts["2026-02-10T23:00:00Z"] == 1
    assert sum(counts.values()) == 10
    assert counts["2026-02-10T11:00:00Z"] == 0


def test_timeseries_filters_and_interval_in_any_case(api, known):
    errors = series(api.stats(known.id, "timeseries", interval="hour", level="error", **DAY))
    assert errors["2026-02-10T10:00:00Z"] == 2 and sum(errors.values()) == 3
    login = series(api.stats(known.id, "timeseries", interval="Hour", name="login", **DAY))
    assert sum(login.values()) == 7
    api_service = series(api.stats(known.id, "timeseries", service="api", **DAY))
    assert api_service["2026-02-10T12:00:00Z"] == 2 and sum(api_service.values()) == 2


def test_timeseries_by_minute_and_by_day(api, known):
    minutes = series(
        api.stats(
            known.id,
            "timeseries",
            interval="MINUTE",
            since="2026-02-10T10:00:00Z",
            until="2026-02-10T11:00:00Z",
        )
    )
    assert len(minutes) == 60
    assert minutes["2026-02-10T10:05:00Z"] == 2
    assert minutes["2026-02-10T10:40:00Z"] == 5
    days = series(
        api.stats(
            known.id,
            "timeseries",
            interval="DAY",
            since="2026-02-09T00:00:00Z",
            until="2026-02-12T00:00:00Z",
        )
    )
    assert days == {
        "2026-02-09T00:00:00Z": 0,
        "2026-02-10T00:00:00Z": 10,
        "2026-02-11T00:00:00Z": 1,
    }


def test_timeseries_range_is_widened_to_whole_buckets(api, known):
    reply = api.stats(
        known.id,
        "timeseries",
        interval="HOUR",
        since="2026-02-10T10:30:00Z",
        until="2026-02-10T12:10:00Z",
    )
    assert (reply.body["since"], reply.body["until"]) == (
        "2026-02-10T10:00:00Z",
        "2026-02-10T13:00:00Z",
    )
    assert list(series(reply).values()) == [7, 0, 2]


def test_by_level_counts_occurrences_most_first(api, known):
    reply = api.stats(known.id, "by-level", **DAY)
    assert reply.status == 200
    assert reply.body == {
        **DAY,
        "items": [
            {"level": "INFO", "count": 6},
            {"level": "ERROR", "count": 3},
            {"level": "WARNING", "count": 1},
        ],
    }
    by_service = api.stats(known.id, "by-level", service="auth", **DAY).body["items"]
    assert by_service == [{"level": "INFO", "count": 5}, {"level": "ERROR", "count": 2}]


def test_ranges_are_widened_to_whole_hours(api, known):
    reply = api.stats(
        known.id, "by-level", since="2026-02-10T10:05:40Z", until="2026-02-10T10:40:00Z"
    )
    assert (reply.body["since"], reply.body["until"]) == (
        "2026-02-10T10:00:00Z",
        "2026-02-10T11:00:00Z",
    )
    assert reply.body["items"] == [{"level": "INFO", "count": 5}, {"level": "ERROR", "count": 2}]


def test_top_messages_group_numbers_and_order_by_count(api, known):
    reply = api.stats(known.id, "top-messages", **DAY)
    assert reply.status == 200
    assert reply.body["limit"] == 10
    assert reply.body["items"] == [
        {"message": "Signed in", "count": 5, "last_seen": "2026-02-10T10:40:00Z"},
        # three "User <n> not found", shown by the first of them
        {"message": "User 42 not found", "count": 3, "last_seen": "2026-02-10T12:30:00Z"},
        # equal counts: the most recently seen first
        {"message": "Nightly job done", "count": 1, "last_seen": "2026-02-10T23:59:59Z"},
        {"message": "Slow query 350 ms", "count": 1, "last_seen": "2026-02-10T12:00:00Z"},
    ]


def test_top_messages_limit_and_level(api, known):
    limited = api.stats(known.id, "top-messages", limit=1, **DAY).body
    assert limited["limit"] == 1 and len(limited["items"]) == 1
    warnings = api.stats(known.id, "top-messages", level="warning", **DAY).body["items"]
    assert warnings == [
        {"message": "Slow query 350 ms", "count": 1, "last_seen": "2026-02-10T12:00:00Z"}
    ]


def test_by_name_with_first_and_last_hour_seen(api, known):
    reply = api.stats(
        known.id, "by-name", since="2026-02-09T00:00:00Z", until="2026-02-12T00:00:00Z"
    )
    assert reply.status == 200
    assert reply.body["items"] == [
        {"name": "login", "count": 7, "first_seen": "2026-02-10T10:00:00Z",
         "last_seen": "2026-02-10T10:00:00Z"},
        {"name": "search", "count": 2, "first_seen": "2026-02-10T12:00:00Z",
         "last_seen": "2026-02-10T12:00:00Z"},
        {"name": "cron", "count": 1, "first_seen": "2026-02-10T23:00:00Z",
         "last_seen": "2026-02-10T23:00:00Z"},
    ]  # fmt: skip


def test_hourly_distribution_in_utc_and_another_zone(api, known):
    utc = api.stats(known.id, "hourly", **DAY).body
    assert utc["tz"] == "UTC" and utc["total"] == 10 and "name" not in utc
    assert utc["hour_count"][10] == 7 and utc["hour_count"][12] == 2 and utc["hour_count"][23] == 1
    new_york = api.stats(known.id, "hourly", name="login", tz="America/New_York", **DAY).body
    assert new_york["name"] == "login" and new_york["total"] == 7
    assert new_york["hour_count"][5] == 7  # 10:00 UTC is 05:00 EST
    assert sum(new_york["hour_count"]) == 7


# ---------------------------------------------------------------- time zones and DST


@pytest.mark.parametrize(
    ("occurred", "day", "expected_hours"),
    [
        # Paris springs forward on 2026-03-29 at 01:00 UTC: 01:30 CET, then 03:30 CEST.
        (["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"], "2026-03-29", {1: 1, 3: 1}),
        # ...and falls back on 2026-10-25 at 01:00 UTC: 02:30 CEST, then 02:30 CET again.
        (["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"], "2026-10-25", {2: 2}),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_hourly_follows_daylight_saving_time(api, app, occurred, day, expected_hours):
    api.ingest(app.id, [{"occurred_at": moment, "message": "tick"} for moment in occurred])
    reply = api.stats(
        app.id, "hourly", tz="Europe/Paris", since=f"{day}T00:00:00Z", until=f"{day}T06:00:00Z"
    )
    hours = {hour: count for hour, count in enumerate(reply.body["hour_count"]) if count}
    assert hours == expected_hours


def test_hourly_in_a_half_hour_zone_uses_minutes(api, app):
    api.ingest(
        app.id,
        [
            {"occurred_at": "2026-02-10T10:15:00Z", "message": "a"},  # 15:45 in Kolkata
            {"occurred_at": "2026-02-10T10:45:00Z", "message": "b"},  # 16:15 in Kolkata
        ],
    )
    reply = api.stats(app.id, "hourly", tz="Asia/Kolkata", **DAY)
    assert reply.body["hour_count"][15] == 1 and reply.body["hour_count"][16] == 1
    too_long = api.stats(
        app.id, "hourly", tz="Asia/Kolkata", since="2026-02-01T00:00:00Z", until=DAY["until"]
    )
    assert too_long.status == 400
    assert "Asia/Kolkata" in too_long.body["message"]


def test_hourly_png_is_a_24_bar_chart(api, known):
    reply = api.hourly_png(known.id, name="login", tz="Europe/Paris", **DAY)
    assert reply.status == 200
    assert reply.content_type == "image/png"
    image = Image.open(io.BytesIO(base64.b64decode(reply.text)))
    assert image.format == "PNG" and image.size == (960, 480)


# ---------------------------------------------------------------- exactness


def level_counts(api, app_id: int) -> dict[str, int]:
    body = api.stats(app_id, "by-level", **DAY).body
    return {item["level"]: item["count"] for item in body["items"]}


def test_duplicates_and_idempotent_retries_count_once(api, app):
    event = {"occurred_at": "2026-02-10T10:00:00Z", "message": "once", "event_id": "e-1"}
    assert api.ingest(app.id, event).status == 201
    assert api.ingest(app.id, event).status == 200
    assert api.ingest(app.id, [event, event]).status == 200
    retried = {"occurred_at": "2026-02-10T10:00:00Z", "message": "retried", "level": "error"}
    for _ in range(3):
        reply = api.ingest(app.id, retried, headers={"Idempotency-Key": "retry-1"})
        assert reply.status == 201
    assert level_counts(api, app.id) == {"INFO": 1, "ERROR": 1}


def test_deleting_an_event_takes_it_off_every_statistic(api, app):
    kept = api.ingest(app.id, {"occurred_at": "2026-02-10T10:00:00Z", "message": "kept"}).body
    gone = api.ingest(
        app.id,
        {"occurred_at": "2026-02-10T10:00:00Z", "message": "gone", "name": "n", "count": 4},
    ).body
    assert level_counts(api, app.id) == {"INFO": 5}

    reply = api.delete_event(app.id, gone["id"])
    assert reply.status == 200 and reply.body["id"] == gone["id"]
    assert level_counts(api, app.id) == {"INFO": 1}
    assert api.stats(app.id, "by-name", **DAY).body["items"] == []
    top = api.stats(app.id, "top-messages", **DAY).body["items"]
    assert [item["message"] for item in top] == ["kept"]
    assert api.delete_event(app.id, gone["id"]).status == 404  # and nothing subtracted twice
    assert api.get_event(app.id, kept["id"]).status == 200
    assert level_counts(api, app.id) == {"INFO": 1}


def test_deleting_by_name_deletes_every_occurrence_and_its_counts(api, app):
    events = [
        {"occurred_at": f"2026-02-10T{hour:02d}:00:00Z", "message": "m", "name": name}
        for hour in range(10)
        for name in ("login", "logout")
    ]
    api.ingest(app.id, events)
    reply = api.delete_events(app.id, name="login")
    assert reply.status == 200
    assert reply.body == {
        "app_id": app.id,
        "name": "login",
        "deleted": 10,
        "occurrences": 10,
        "complete": True,
    }
    names = api.stats(app.id, "by-name", **DAY).body["items"]
    assert [(item["name"], item["count"]) for item in names] == [("logout", 10)]
    assert level_counts(api, app.id) == {"INFO": 10}
    assert all(event["name"] == "logout" for event in api.all_events(app.id))
    again = api.delete_events(app.id, name="login")
    assert again.body["deleted"] == 0 and again.body["complete"] is True


def test_a_deleted_event_id_is_not_stored_again_by_a_late_retry(api, app):
    event = {"occurred_at": "2026-02-10T10:00:00Z", "message": "m", "event_id": "late"}
    stored = api.ingest(app.id, event).body
    assert api.delete_event(app.id, stored["id"]).status == 200
    assert api.ingest(app.id, event).status == 200  # a duplicate: it stays deleted
    assert api.all_events(app.id) == []
    assert level_counts(api, app.id) == {}


def test_statistics_never_read_the_events_table(api, known, aws):
    from eventlog.storage import db

    tables: list[str] = []

    def record(params: dict, **_: Any) -> None:
        tables.append(params.get("TableName", ""))

    db.client().meta.events.register("provide-client-params.dynamodb", record)
    try:
        for route in ("timeseries", "by-level", "by-name", "top-messages", "hourly"):
            assert api.stats(known.id, route, **DAY).status == 200
        assert api.hourly_png(known.id, **DAY).status == 200
    finally:
        db.client().meta.events.unregister("provide-client-params.dynamodb", record)
    assert tables
    assert aws.environment["EVENTS_TABLE"] not in tables


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("route", "query", "field"),
    [
        ("timeseries", {"interval": "WEEK"}, "interval"),
        ("timeseries", {"since": "yesterday"}, "since"),
        ("top-messages", {"limit": "0"}, "limit"),
        ("top-messages", {"limit": "101"}, "limit"),
        ("by-level", {"level": "LOUD"}, "level"),
        ("hourly", {"tz": "../etc/passwd"}, "tz"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(api, app, route, query, field):
    reply = api.stats(app.id, route, **query)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert field in reply.error_fields


@pytest.mark.parametrize(
    ("route", "query", "message"),
    [
        ("by-level", {"since": DAY["until"], "until": DAY["since"]}, "since must be before until"),
        ("timeseries", {"since": DAY["since"], "until": DAY["since"]}, "since must be before"),
        ("timeseries", {"name": "a", "service": "b"}, "name or by service, not both"),
        (
            "timeseries",
            {"interval": "minute", "since": "2026-02-10T00:00:00Z", "until": DAY["until"]},
            "1440 minute buckets from since to until; at most 1000",
        ),
        ("hourly", {"tz": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ("top-messages", {"since": "2026-01-01T00:00:00Z", "until": DAY["until"]}, "31 days"),
        ("by-level", {"since": "2099-01-01T00:00:00Z"}, "since must be before until"),
        ("timeseries", {"until": "9999-12-31T23:59:59Z"}, "invalid until"),
        ("timeseries", {"since": "1969-12-31T23:59:59Z"}, "invalid since"),
    ],
)
def test_inconsistent_ranges_are_400_with_a_message(api, app, route, query, message):
    reply = api.stats(app.id, route, **query)
    assert reply.status == 400, reply.text
    assert message in reply.body["message"]


def test_a_filter_the_route_does_not_take_is_refused(api, app):
    reply = api.stats(app.id, "top-messages", name="login")
    assert reply.status == 400
    assert reply.body["message"] == (
        "unknown query parameter 'name': this route takes since, until, level, limit"
    )


def test_unknown_app_is_404(api, aws):
    for route in ("timeseries", "by-level", "by-name", "top-messages", "hourly"):
        reply = api.stats(999, route)
        assert reply.status == 404
        assert reply.body == {"error": "NOT_FOUND", "message": "no app with id 999"}


def test_another_apps_credential_is_refused(api, app, other_app, user_key):
    def decision(headers: dict, app_id: int, route: str = "by-level"):
        return api.authorize(headers, resource=f"/apps/{{app_id}}/stats/{route}", app_id=app_id)

    refused = decision({"x-api-key": user_key.key}, other_app.id)
    assert refused.denies_everything
    assert (
        refused.context["reason"] == f"this credential is for app {app.id}, not app {other_app.id}"
    )
    assert decision({"x-api-key": user_key.key}, app.id, "hourly.png").allows_the_request
    ingest_only = decision({"X-INGEST-KEY": app.ingest_key}, app.id)
    assert ingest_only.denies_everything
    assert "may not call GET /apps/{app_id}/stats/by-level" in ingest_only.context["reason"]


# ---------------------------------------------------------------- message groups' last seen


def test_a_late_event_is_counted_without_moving_last_seen_back(api, app):
    for moment in ("2026-02-10T12:00:00Z", "2026-02-10T11:00:00Z", "2026-02-10T12:00:00.500Z"):
        assert api.ingest(app.id, {"occurred_at": moment, "message": "disk 91% full"}).status == 201
    items = api.stats(app.id, "top-messages", **DAY).body["items"]
    assert items == [
        {"message": "disk 91% full", "count": 3, "last_seen": "2026-02-10T12:00:00.500Z"}
    ]


@pytest.fixture
def longest_expression(aws) -> Any:
    """The length of the longest expression sent to DynamoDB (moto does not enforce 4 KB)."""
    from eventlog.storage import db

    lengths = [0]

    def record(params: dict, **_: Any) -> None:
        lengths.extend(len(value) for name, value in params.items() if name.endswith("Expression"))

    db.client().meta.events.register("provide-client-params.dynamodb", record)
    yield lambda: max(lengths)
    db.client().meta.events.unregister("provide-client-params.dynamodb", record)


def test_a_backfill_over_many_hours_and_levels_of_one_message(api, app, longest_expression):
    """100 (hour, level) pairs of one message group in one request: more than one update's
    expression can hold."""
    levels = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    events = [
        {
            "occurred_at": f"2026-02-10T{i // 5:02d}:{i % 60:02d}:00Z",
            "level": levels[i % 5],
            "message": f"job {i} finished",
        }
        for i in range(100)
    ]
    assert api.ingest(app.id, events).status == 201
    assert longest_expression() <= 4096
    everything = api.stats(app.id, "top-messages", **DAY).body["items"]
    assert everything == [
        {"message": "job 0 finished", "count": 100, "last_seen": "2026-02-10T19:39:00Z"}
    ]
    errors = api.stats(app.id, "top-messages", level="ERROR", **DAY).body["items"]
    assert errors == [
        {"message": "job 0 finished", "count": 20, "last_seen": "2026-02-10T19:38:00Z"}
    ]
    morning = api.stats(
        app.id, "top-messages", since="2026-02-10T00:00:00Z", until="2026-02-10T02:00:00Z"
    ).body["items"]
    assert morning == [
        {"message": "job 0 finished", "count": 10, "last_seen": "2026-02-10T01:09:00Z"}
    ]


@pytest.mark.parametrize("app_id", ["²", "٣", "abc"])
def test_an_app_id_that_is_no_number_is_400_not_a_crash(api, aws, app_id):
    """`"²".isdigit()` is true, yet `int("²")` fails: the freshness header must not read it."""
    reply = api.stats(app_id, "by-level")

    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert "x-eventlog-as-of" not in reply.headers
