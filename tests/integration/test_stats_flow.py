"""Statistics end to end over real HTTP on the local stack.

- What each route must show for a known set of events (exact numbers, zero-filled buckets,
  grouping of messages, time zones, the PNG).
- Exactness: after concurrent writers (batches, duplicates, Idempotency-Key retries, single
  events) and concurrent deletions (by id, by name), every aggregate equals a recount of the raw
  events.
- How bad requests are refused.

Every test works on apps of its own, on the session's stack.
"""

import io
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image

from eventlog.stats.histogram import (
    BAR_COLOR,
    HEIGHT,
    HOURS,
    PLOT_BOTTOM,
    PLOT_LEFT,
    PLOT_RIGHT,
    WIDTH,
)
from tests.support.local_stack import settle

TIMEOUT = 30
LEVEL_ORDER = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


# ---------------------------------------------------------------- the stack

# ---------------------------------------------------------------- helpers


def _admin(stack) -> dict[str, str]:
    return {"x-api-key": stack.admin_key}


def _ingest(app: dict) -> dict[str, str]:
    return {"X-INGEST-KEY": app["ingest_key"]}


def _new_app(stack, prefix: str = "stats") -> dict:
    reply = requests.post(
        f"{stack.url}/apps/{prefix}-{uuid.uuid4().hex[:10]}", headers=_admin(stack), timeout=TIMEOUT
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def _user_key(stack, app: dict) -> dict[str, str]:
    reply = requests.post(
        f"{stack.url}/keys",
        json={"role": "user", "app_id": app["id"]},
        headers=_admin(stack),
        timeout=TIMEOUT,
    )
    assert reply.status_code == 201, reply.text
    return {"x-api-key": reply.json()["key"]}


def _post(stack, app: dict, body, headers: dict | None = None, session=requests):
    return session.post(
        f"{stack.url}/apps/{app['id']}/events",
        json=body,
        headers=headers or _ingest(app),
        timeout=TIMEOUT,
    )


def _stats_reply(stack, app_id, route: str, headers: dict | None = None, **params):
    settle(stack)
    return requests.get(
        f"{stack.url}/apps/{app_id}/stats/{route}",
        params=params,
        headers=_admin(stack) if headers is None else headers,
        timeout=TIMEOUT,
    )


def _stats(stack, app_id, route: str, **params) -> dict:
    reply = _stats_reply(stack, app_id, route, **params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    return reply.json()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _series(reply: dict) -> list[tuple[str, int]]:
    return [(bucket["bucket_start"], bucket["count"]) for bucket in reply["series"]]


def _hours(counts: dict[int, int]) -> list[int]:
    return [counts.get(hour, 0) for hour in range(24)]


def _all_events(stack, app: dict) -> list[dict]:
    """Every raw event of the app, page after page (limit 50, following next_cursor)."""
    events, cursor = [], None
    while True:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        reply = requests.get(
            f"{stack.url}/apps/{app['id']}/events",
            params=params,
            headers=_admin(stack),
            timeout=TIMEOUT,
        )
        assert reply.status_code == 200, reply.text
        page = reply.json()
        events += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return events


# ---------------------------------------------------------------- 1. what it must show

# occurred_at in UTC, level, name, service, message group, count:
#  1  02-10 09:05:10  ERROR     checkout   api      TIMEOUT   3
#  2  02-10 09:05:50  ERROR     checkout   api      TIMEOUT   1   (sent as +01:00)
#  3  02-10 09:07:00  INFO      signup     web      SIGNUP    1
#  4  02-10 10:30:00  WARNING   checkout   api      RETRY     2
#  5  02-10 10:59:59  INFO      signup     web      SIGNUP    4
#  6  02-10 11:20:00  INFO      heartbeat  api      -         6   (sent as -05:00, no message)
#  7  02-10 12:15:00  ERROR     payment    billing  DECLINED  5
#  8  02-10 12:15:30  ERROR     payment    billing  DECLINED  1
#  9  02-10 12:16:00  DEBUG     -          web      CACHE     1
# 10  02-10 14:00:00  CRITICAL  payment    billing  DBDOWN    1   (single request)
# 11  02-10 14:00:00  INFO      signup     -        SIGNUP    2   (single request)
# 12  02-11 01:30:00  WARNING   checkout   api      TIMEOUT   1   (single request)
# Totals: 27 on 2026-02-10, 1 on 2026-02-11.
KNOWN_BATCH = [
    {
        "occurred_at": "2026-02-10T09:05:10Z",
        "level": "error",
        "name": "checkout",
        "service": "api",
        "message": "Timeout after 30s calling 10.0.0.1",
        "count": 3,
    },
    {
        "occurred_at": "2026-02-10T10:05:50+01:00",
        "level": "ERROR",
        "name": "checkout",
        "service": "api",
        "message": "Timeout after 45s calling 10.0.0.2",
    },
    {
        "occurred_at": "2026-02-10T09:07:00Z",
        "level": "info",
        "name": "signup",
        "service": "web",
        "message": "user 42 signed up",
    },
    {
        "occurred_at": "2026-02-10T10:30:00Z",
        "level": "Warning",
        "name": "checkout",
        "service": "api",
        "message": "retrying order 7f3a9c2b1d4e",
        "count": 2,
    },
    {
        "occurred_at": "2026-02-10T10:59:59Z",
        "level": "INFO",
        "name": "signup",
        "service": "web",
        "message": "user 43 signed up",
        "count": 4,
    },
    {"occurred_at": "2026-02-10T06:20:00-05:00", "name": "heartbeat", "service": "api", "count": 6},
    {
        "occurred_at": "2026-02-10T12:15:00Z",
        "level": "error",
        "name": "payment",
        "service": "billing",
        "message": "card declined for 'alice'",
        "count": 5,
    },
    {
        "occurred_at": "2026-02-10T12:15:30Z",
        "level": "error",
        "name": "payment",
        "service": "billing",
        "message": "card declined for 'bob'",
    },
    {
        "occurred_at": "2026-02-10T12:16:00Z",
        "level": "debug",
        "service": "web",
        "message": "cache warmed",
    },
]
KNOWN_SINGLES = [
    {
        "occurred_at": "2026-02-10T14:00:00Z",
        "level": "critical",
        "name": "payment",
        "service": "billing",
        "message": "database down",
    },
    {
        "occurred_at": "2026-02-10T14:00:00Z",
        "name": "signup",
        "message": "user 44 signed up",
        "count": 2,
    },
    {
        "occurred_at": "2026-02-11T01:30:00Z",
        "level": "warning",
        "name": "checkout",
        "service": "api",
        "message": "Timeout after 5s calling 10.0.0.9",
    },
]
# Both days of the known set.
ALL_OF_IT = {"since": "2026-02-10T00:00:00Z", "until": "2026-02-12T00:00:00Z"}


@pytest.fixture(scope="module")
def known(stack) -> dict:
    """An app holding the events above, plus one `live` event happening now."""
    app = _new_app(stack, "known")
    batch = _post(stack, app, KNOWN_BATCH)
    assert batch.status_code == 201, batch.text
    assert batch.json()["accepted"] == len(KNOWN_BATCH)
    for event in KNOWN_SINGLES:
        single = _post(stack, app, event)
        assert single.status_code == 201, single.text
    live = _post(stack, app, {"name": "live", "message": "live ping"})
    assert live.status_code == 201, live.text
    return {**app, "live": live.json()}


def test_timeseries_by_hour_is_zero_filled_and_exact(stack, known):
    reply = _stats(
        stack,
        known["id"],
        "timeseries",
        interval="HOUR",
        since="2026-02-10T08:30:00Z",
        until="2026-02-10T14:10:00Z",
    )
    # Rounded out to whole hours.
    assert reply["interval"] == "HOUR"
    assert reply["since"] == "2026-02-10T08:00:00Z"
    assert reply["until"] == "2026-02-10T15:00:00Z"
    assert _series(reply) == [
        ("2026-02-10T08:00:00Z", 0),
        ("2026-02-10T09:00:00Z", 5),
        ("2026-02-10T10:00:00Z", 6),
        ("2026-02-10T11:00:00Z", 6),
        ("2026-02-10T12:00:00Z", 7),
        ("2026-02-10T13:00:00Z", 0),
        ("2026-02-10T14:00:00Z", 3),
    ]

    window = {"since": "2026-02-10T08:00:00Z", "until": "2026-02-10T15:00:00Z"}
    by_level = _stats(stack, known["id"], "timeseries", interval="hour", level="error", **window)
    assert [count for _, count in _series(by_level)] == [0, 4, 0, 0, 6, 0, 0]
    by_name = _stats(stack, known["id"], "timeseries", interval="Hour", name="checkout", **window)
    assert [count for _, count in _series(by_name)] == [0, 4, 2, 0, 0, 0, 0]
    by_service = _stats(stack, known["id"], "timeseries", service="web", **window)  # HOUR default
    assert by_service["interval"] == "HOUR"
    assert [count for _, count in _series(by_service)] == [0, 1, 4, 0, 1, 0, 0]
    both = _stats(stack, known["id"], "timeseries", level="INFO", service="web", **window)
    assert [count for _, count in _series(both)] == [0, 1, 4, 0, 0, 0, 0]


def test_timeseries_by_minute_and_by_day(stack, known):
    minutes = _stats(
        stack,
        known["id"],
        "timeseries",
        interval="minute",
        since="2026-02-10T09:04:30Z",
        until="2026-02-10T09:08:00Z",
    )
    assert minutes["interval"] == "MINUTE"
    assert (minutes["since"], minutes["until"]) == ("2026-02-10T09:04:00Z", "2026-02-10T09:08:00Z")
    assert _series(minutes) == [
        ("2026-02-10T09:04:00Z", 0),
        ("2026-02-10T09:05:00Z", 4),  # 09:05:10 (3) and 10:05:50+01:00 (1)
        ("2026-02-10T09:06:00Z", 0),
        ("2026-02-10T09:07:00Z", 1),
    ]
    # The last second of an hour stays in its minute.
    edge = _stats(
        stack,
        known["id"],
        "timeseries",
        interval="MINUTE",
        since="2026-02-10T10:58:00Z",
        until="2026-02-10T11:01:00Z",
    )
    assert [count for _, count in _series(edge)] == [0, 4, 0]

    days = _stats(
        stack,
        known["id"],
        "timeseries",
        interval="Day",
        since="2026-02-09T12:00:00Z",
        until="2026-02-11T06:00:00Z",
    )
    assert days["interval"] == "DAY"
    assert (days["since"], days["until"]) == ("2026-02-09T00:00:00Z", "2026-02-12T00:00:00Z")
    assert _series(days) == [
        ("2026-02-09T00:00:00Z", 0),
        ("2026-02-10T00:00:00Z", 27),
        ("2026-02-11T00:00:00Z", 1),
    ]

    # 1,000 buckets is the most: exactly that many is answered.
    widest = _stats(
        stack,
        known["id"],
        "timeseries",
        interval="MINUTE",
        since="2026-02-10T00:00:00Z",
        until="2026-02-10T16:40:00Z",
    )
    assert len(widest["series"]) == 1000
    assert sum(count for _, count in _series(widest)) == 27
    assert widest["series"][-1]["bucket_start"] == "2026-02-10T16:39:00Z"


def test_by_level_counts_occurrences_ordered_by_count(stack, known):
    reply = _stats(stack, known["id"], "by-level", **ALL_OF_IT)
    assert reply == {
        **ALL_OF_IT,
        "items": [
            {"level": "INFO", "count": 13},
            {"level": "ERROR", "count": 10},
            {"level": "WARNING", "count": 3},
            {"level": "DEBUG", "count": 1},
            {"level": "CRITICAL", "count": 1},
        ],
    }
    checkout = _stats(stack, known["id"], "by-level", name="checkout", **ALL_OF_IT)
    assert checkout["items"] == [
        {"level": "ERROR", "count": 4},
        {"level": "WARNING", "count": 3},
    ]
    billing = _stats(stack, known["id"], "by-level", service="billing", **ALL_OF_IT)
    assert billing["items"] == [
        {"level": "ERROR", "count": 6},
        {"level": "CRITICAL", "count": 1},
    ]
    warnings = _stats(stack, known["id"], "by-level", level="warning", **ALL_OF_IT)
    assert warnings["items"] == [{"level": "WARNING", "count": 3}]

    # Whole hours: since rounds down, until up.
    widened = _stats(
        stack,
        known["id"],
        "by-level",
        since="2026-02-10T09:05:30Z",
        until="2026-02-10T10:59:01Z",
    )
    assert (widened["since"], widened["until"]) == ("2026-02-10T09:00:00Z", "2026-02-10T11:00:00Z")
    assert widened["items"] == [
        {"level": "INFO", "count": 5},
        {"level": "ERROR", "count": 4},
        {"level": "WARNING", "count": 2},
    ]

    nothing = _stats(
        stack, known["id"], "by-level", since="2026-01-01T00:00:00Z", until="2026-01-02T00:00:00Z"
    )
    assert nothing["items"] == []


def test_top_messages_group_order_and_limit(stack, known):
    reply = _stats(stack, known["id"], "top-messages", **ALL_OF_IT)
    assert reply == {
        "limit": 10,
        "items": [
            {"message": "user 42 signed up", "count": 7, "last_seen": "2026-02-10T14:00:00Z"},
            {
                "message": "card declined for 'alice'",
                "count": 6,
                "last_seen": "2026-02-10T12:15:30Z",
            },
            {
                "message": "Timeout after 30s calling 10.0.0.1",
                "count": 5,
                "last_seen": "2026-02-11T01:30:00Z",
            },
            {
                "message": "retrying order 7f3a9c2b1d4e",
                "count": 2,
                "last_seen": "2026-02-10T10:30:00Z",
            },
            # Equal counts: the most recently seen first.
            {"message": "database down", "count": 1, "last_seen": "2026-02-10T14:00:00Z"},
            {"message": "cache warmed", "count": 1, "last_seen": "2026-02-10T12:16:00Z"},
        ],
    }

    limited = _stats(stack, known["id"], "top-messages", limit=3, **ALL_OF_IT)
    assert limited["limit"] == 3
    assert limited["items"] == reply["items"][:3]

    errors = _stats(stack, known["id"], "top-messages", level="ERROR", **ALL_OF_IT)
    assert [(item["message"], item["count"]) for item in errors["items"]] == [
        ("card declined for 'alice'", 6),
        ("Timeout after 30s calling 10.0.0.1", 4),
    ]

    # Whole hours: 09:30..12:10 counts 09:00..13:00.
    hours = _stats(
        stack,
        known["id"],
        "top-messages",
        since="2026-02-10T09:30:00Z",
        until="2026-02-10T12:10:00Z",
    )
    assert [(item["message"], item["count"]) for item in hours["items"]] == [
        ("card declined for 'alice'", 6),
        ("user 42 signed up", 5),
        ("Timeout after 30s calling 10.0.0.1", 4),
        ("retrying order 7f3a9c2b1d4e", 2),
        ("cache warmed", 1),
    ]


def test_top_messages_last_seen_is_an_occurrence_counted(stack, known):
    """last_seen lies in the range asked (to the hour), and belongs to the level asked: it is
    kept per message group, hour and level."""
    wrong = {}
    morning = {"since": "2026-02-10T00:00:00Z", "until": "2026-02-10T12:00:00Z"}
    reply = _stats(stack, known["id"], "top-messages", **morning)
    assert [(item["message"], item["count"]) for item in reply["items"]] == [
        ("user 42 signed up", 5),
        ("Timeout after 30s calling 10.0.0.1", 4),
        ("retrying order 7f3a9c2b1d4e", 2),
    ]
    for item in reply["items"]:
        if not morning["since"] <= item["last_seen"] < morning["until"]:
            wrong[f"{item['message']} (until 12:00)"] = item["last_seen"]

    # One group, two levels in one day: level=error counts the 08:10 occurrence only.
    app = _new_app(stack, "last-seen")
    disk = [
        {"occurred_at": "2026-02-10T08:10:00Z", "level": "error", "message": "disk 91% full"},
        {"occurred_at": "2026-02-10T20:30:00Z", "level": "warning", "message": "disk 97% full"},
    ]
    assert _post(stack, app, disk).status_code == 201
    errors = _stats(stack, app["id"], "top-messages", level="error", **ALL_OF_IT)
    assert [(item["message"], item["count"]) for item in errors["items"]] == [("disk 91% full", 1)]
    if not "2026-02-10T08:00:00Z" <= errors["items"][0]["last_seen"] < "2026-02-10T09:00:00Z":
        wrong["disk 91% full (level=error)"] = errors["items"][0]["last_seen"]

    # Today: {"user 42 signed up (until 12:00)": "2026-02-10T14:00:00Z",
    #         "disk 91% full (level=error)": "2026-02-10T20:30:00Z"}
    assert wrong == {}


def test_by_name_counts_and_first_and_last_hour(stack, known):
    reply = _stats(stack, known["id"], "by-name", **ALL_OF_IT)
    assert reply == {
        **ALL_OF_IT,
        "items": [
            {
                "name": "checkout",
                "count": 7,
                "first_seen": "2026-02-10T09:00:00Z",
                "last_seen": "2026-02-11T01:00:00Z",
            },
            {
                "name": "payment",
                "count": 7,
                "first_seen": "2026-02-10T12:00:00Z",
                "last_seen": "2026-02-10T14:00:00Z",
            },
            {
                "name": "signup",
                "count": 7,
                "first_seen": "2026-02-10T09:00:00Z",
                "last_seen": "2026-02-10T14:00:00Z",
            },
            {
                "name": "heartbeat",
                "count": 6,
                "first_seen": "2026-02-10T11:00:00Z",
                "last_seen": "2026-02-10T11:00:00Z",
            },
        ],
    }

    errors = _stats(stack, known["id"], "by-name", level="Error", **ALL_OF_IT)
    assert errors["items"] == [
        {
            "name": "payment",
            "count": 6,
            "first_seen": "2026-02-10T12:00:00Z",
            "last_seen": "2026-02-10T12:00:00Z",
        },
        {
            "name": "checkout",
            "count": 4,
            "first_seen": "2026-02-10T09:00:00Z",
            "last_seen": "2026-02-10T09:00:00Z",
        },
    ]

    # A range inside one day, widened to whole hours: first/last are found among its hours.
    middle = _stats(
        stack, known["id"], "by-name", since="2026-02-10T09:06:00Z", until="2026-02-10T12:16:00Z"
    )
    assert (middle["since"], middle["until"]) == ("2026-02-10T09:00:00Z", "2026-02-10T13:00:00Z")
    assert middle["items"] == [
        {
            "name": "checkout",
            "count": 6,
            "first_seen": "2026-02-10T09:00:00Z",
            "last_seen": "2026-02-10T10:00:00Z",
        },
        {
            "name": "heartbeat",
            "count": 6,
            "first_seen": "2026-02-10T11:00:00Z",
            "last_seen": "2026-02-10T11:00:00Z",
        },
        {
            "name": "payment",
            "count": 6,
            "first_seen": "2026-02-10T12:00:00Z",
            "last_seen": "2026-02-10T12:00:00Z",
        },
        {
            "name": "signup",
            "count": 5,
            "first_seen": "2026-02-10T09:00:00Z",
            "last_seen": "2026-02-10T10:00:00Z",
        },
    ]


def test_hourly_in_utc_and_in_other_zones(stack, known):
    utc = _stats(stack, known["id"], "hourly", **ALL_OF_IT)
    assert utc == {
        "tz": "UTC",
        **ALL_OF_IT,
        "total": 28,
        "hour_count": _hours({1: 1, 9: 5, 10: 6, 11: 6, 12: 7, 14: 3}),
    }

    # 2026-02-10 is winter in New York: UTC-5.
    new_york = _stats(stack, known["id"], "hourly", tz="America/New_York", **ALL_OF_IT)
    assert new_york["tz"] == "America/New_York"
    assert new_york["total"] == 28
    assert new_york["hour_count"] == _hours({20: 1, 4: 5, 5: 6, 6: 6, 7: 7, 9: 3})

    # UTC+5:30: half hours move across hours of the day.
    kolkata = _stats(stack, known["id"], "hourly", tz="Asia/Kolkata", **ALL_OF_IT)
    assert kolkata["total"] == 28
    assert kolkata["hour_count"] == _hours({7: 1, 14: 5, 16: 12, 17: 7, 19: 3})

    signup = _stats(stack, known["id"], "hourly", name="signup", **ALL_OF_IT)
    assert signup == {
        "name": "signup",
        "tz": "UTC",
        **ALL_OF_IT,
        "total": 7,
        "hour_count": _hours({9: 1, 10: 4, 14: 2}),
    }


def test_hourly_png_is_a_real_png_showing_the_distribution(stack, known):
    reply = _stats_reply(
        stack, known["id"], "hourly.png", name="signup", tz="America/New_York", **ALL_OF_IT
    )
    assert reply.status_code == 200, reply.text[:200]
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.content.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(reply.content))
    assert image.format == "PNG"
    assert image.size == (960, 480) == (WIDTH, HEIGHT)
    image = image.convert("RGB")

    # signup in New York: 1 at 04h, 4 at 05h, 2 at 09h; a bar's foot is just above the x axis.
    slot = (PLOT_RIGHT - PLOT_LEFT) / HOURS
    with_bar = {
        hour
        for hour in range(HOURS)
        if image.getpixel((round(PLOT_LEFT + (hour + 0.5) * slot), PLOT_BOTTOM - 2)) == BAR_COLOR
    }
    assert with_bar == {4, 5, 9}


def test_defaults_are_the_last_24_hours(stack, known):
    """Without since/until: the 24 hours up to now (a minute timeseries: the last hour)."""
    live = known["live"]
    live_minute = _iso(_minute(_utc(live["occurred_at"])))

    by_level = _stats(stack, known["id"], "by-level")
    assert _utc(by_level["until"]) - _utc(by_level["since"]) in (
        timedelta(hours=24),
        timedelta(hours=25),
    )
    assert by_level["since"] <= live_minute < by_level["until"]
    assert by_level["items"] == [{"level": "INFO", "count": 1}]

    by_name = _stats(stack, known["id"], "by-name")
    live_hour = _iso(_hour(_utc(live["occurred_at"])))
    assert by_name["items"] == [
        {"name": "live", "count": 1, "first_seen": live_hour, "last_seen": live_hour}
    ]
    top = _stats(stack, known["id"], "top-messages")
    assert [(item["message"], item["count"]) for item in top["items"]] == [("live ping", 1)]

    hours = _stats(stack, known["id"], "timeseries")
    assert hours["interval"] == "HOUR"
    assert len(hours["series"]) in (24, 25)
    assert sum(count for _, count in _series(hours)) == 1

    minutes = _stats(stack, known["id"], "timeseries", interval="MINUTE")
    assert len(minutes["series"]) in (60, 61)
    assert [start for start, count in _series(minutes) if count] == [live_minute]

    hourly = _stats(stack, known["id"], "hourly")
    assert hourly["total"] == 1
    assert hourly["hour_count"][_utc(live["occurred_at"]).hour] == 1


# ---------------------------------------------------------------- deletion


def test_deletions_take_events_off_every_statistic(stack):
    app = _new_app(stack, "deleting")
    url = f"{stack.url}/apps/{app['id']}/events"
    batch = [
        {"occurred_at": "2026-02-10T10:00:00Z", "name": "keep", "message": "kept 1", "count": 2},
        {
            "occurred_at": "2026-02-10T10:01:00Z",
            "name": "drop",
            "message": "dropped 1",
            "count": 3,
            "event_id": "drop-1",
        },
        {"occurred_at": "2026-02-10T11:00:00Z", "name": "drop", "message": "dropped 2", "count": 4},
        {
            "occurred_at": "2026-02-10T12:00:00Z",
            "name": "keep",
            "level": "error",
            "message": "kept 2",
            "event_id": "keep-2",
        },
    ]
    stored = _post(stack, app, batch)
    assert stored.status_code == 201, stored.text
    ids = [item["id"] for item in stored.json()["items"]]
    assert _stats(stack, app["id"], "hourly", **ALL_OF_IT)["total"] == 10

    # By id: the event comes back, and leaves every aggregate.
    gone = requests.delete(f"{url}/{ids[3]}", headers=_admin(stack), timeout=TIMEOUT)
    assert gone.status_code == 200, gone.text
    assert gone.json()["id"] == ids[3]
    assert gone.json()["message"] == "kept 2"
    again = requests.delete(f"{url}/{ids[3]}", headers=_admin(stack), timeout=TIMEOUT)
    assert again.status_code == 404
    assert again.json()["error"] == "NOT_FOUND"
    assert _stats(stack, app["id"], "by-level", **ALL_OF_IT)["items"] == [
        {"level": "INFO", "count": 9}
    ]

    # By name.
    named = requests.delete(url, params={"name": "drop"}, headers=_admin(stack), timeout=TIMEOUT)
    assert named.status_code == 200, named.text
    assert named.json() == {
        "app_id": app["id"],
        "name": "drop",
        "deleted": 2,
        "occurrences": 7,
        "complete": True,
    }
    assert _stats(stack, app["id"], "by-name", **ALL_OF_IT)["items"] == [
        {
            "name": "keep",
            "count": 2,
            "first_seen": "2026-02-10T10:00:00Z",
            "last_seen": "2026-02-10T10:00:00Z",
        }
    ]
    series = _stats(
        stack,
        app["id"],
        "timeseries",
        since="2026-02-10T10:00:00Z",
        until="2026-02-10T13:00:00Z",
    )
    assert [count for _, count in _series(series)] == [2, 0, 0]
    assert [
        (item["message"], item["count"])
        for item in _stats(stack, app["id"], "top-messages", **ALL_OF_IT)["items"]
    ] == [("kept 1", 2)]
    assert _stats(stack, app["id"], "hourly", **ALL_OF_IT)["total"] == 2

    # A deleted event sent again (same event_id) is a duplicate: not stored, not counted.
    resent = _post(stack, app, batch[1])
    assert resent.status_code == 200, resent.text
    assert _stats(stack, app["id"], "hourly", **ALL_OF_IT)["total"] == 2
    assert [event["id"] for event in _all_events(stack, app)] == [ids[0]]

    # Nothing of that name left: a no-op, still complete.
    empty = requests.delete(url, params={"name": "drop"}, headers=_admin(stack), timeout=TIMEOUT)
    assert empty.json() == {
        "app_id": app["id"],
        "name": "drop",
        "deleted": 0,
        "occurrences": 0,
        "complete": True,
    }


# ---------------------------------------------------------------- 2. exactness

DAY0 = datetime(2026, 2, 10, tzinfo=UTC)
SPAN_HOURS = 36  # every event of the exactness test happens in [DAY0, DAY0 + 36 h)
WRITERS = 8
LEVELS_IN = ["debug", "INFO", "Warning", "ERROR", "critical"]
NAMES = ["alpha", "beta", "gamma", None]
SERVICES = ["api", "web", None]
DOOMED = "doomed"
SLOTS = [
    timedelta(hours=hours, minutes=minutes)
    for hours, minutes in [(0, 10), (5, 30), (11, 45), (23, 59), (27, 0), (35, 15)]
]


def _generated(thread: int, part: int, index: int, **extra) -> dict:
    """A varied event, the same for the same arguments.

    Events happen in a few minutes (SLOTS, two per batch) so that concurrent requests update
    the same aggregates, and each request few of them (moto is slow)."""
    n = thread * 1000 + part * 100 + index
    slot = SLOTS[(thread + part + 3 * (index % 2)) % len(SLOTS)]
    moment = DAY0 + slot + timedelta(seconds=(n * 7) % 60)
    offset = (0, 2, -5)[n % 3]
    local = (moment + timedelta(hours=offset)).strftime("%Y-%m-%dT%H:%M:%S")
    event: dict = {
        "occurred_at": local + (f"{offset:+03d}:00" if offset else "Z"),
        "level": LEVELS_IN[n % 5],
        "count": 1 + n % 4,
    }
    name = NAMES[(n // 5) % 4]
    if name:
        event["name"] = name
    service = SERVICES[(n // 3) % 3]
    if service:
        event["service"] = service
    kind = (n // 2) % 4
    if kind == 0:
        event["message"] = f"job {n} finished in {n % 97}ms"
    elif kind == 1:
        event["message"] = f"cache miss for key 'k{n}'"
    elif kind == 2 or not name:
        event["message"] = "queue drained"
    return {**event, **extra}


def _message_kind(message: str) -> str:
    return message.split()[0]  # job / cache / queue


class Ledger:
    """What the clients know they stored and deleted (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stored: dict[str, dict] = {}  # id -> the event as sent
        self.deleted_by_id: set[str] = set()
        self.deleted_by_name: list[dict] = []
        self.deletable: list[str] = []
        self.problems: list[str] = []

    def accepted(self, items: list[dict], events: list[dict]) -> None:
        with self.lock:
            for item, event in zip(items, events, strict=True):
                if item["status"] == "accepted":
                    if item["id"] in self.stored:
                        self.problems.append(f"{item['id']} accepted twice")
                    self.stored[item["id"]] = event

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _send(session, stack, app, body, headers, expect: set[int], ledger: Ledger, what: str):
    reply = _post(stack, app, body, headers, session=session)
    if reply.status_code not in expect:
        ledger.problem(f"{what}: {reply.status_code} {reply.text[:300]}")
    return reply


def _send_idempotent(session, stack, app, body, headers, key, ledger: Ledger) -> requests.Response:
    """POST with an Idempotency-Key; 409 (the same key still in progress) is retried."""
    for _ in range(100):
        reply = _post(stack, app, body, {**headers, "Idempotency-Key": key}, session=session)
        if reply.status_code != 409:
            return reply
        time.sleep(0.05)
    ledger.problem(f"Idempotency-Key {key}: still 409 after retries")
    return reply


def _writer(stack, app: dict, headers: dict, thread: int, ledger: Ledger, progress) -> None:
    with requests.Session() as session:
        # A: a batch with event_ids, then the same batch again: all duplicates.
        batch_a = [_generated(thread, 0, i, event_id=f"t{thread}-a{i}") for i in range(2)]
        first = _send(session, stack, app, batch_a, headers, {201}, ledger, f"t{thread} A")
        ledger.accepted(first.json()["items"], batch_a)
        again = _send(session, stack, app, batch_a, headers, {200}, ledger, f"t{thread} A again")
        if [item["id"] for item in again.json()["items"]] != [
            item["id"] for item in first.json()["items"]
        ]:
            ledger.problem(f"t{thread} A again: other ids")
        with ledger.lock:
            ledger.deletable += [item["id"] for item in first.json()["items"][1:2]]

        # B: a batch without event_ids (some of the doomed name), under an Idempotency-Key,
        # retried: concurrently by two clients for odd threads, after the answer for even ones.
        batch_b = [
            _generated(thread, 1, i, **({"name": DOOMED} if i % 3 == 0 else {})) for i in range(5)
        ]
        key = f"t{thread}-b-{uuid.uuid4().hex}"
        if thread % 2:
            with ThreadPoolExecutor(2) as pool:
                replies = list(
                    pool.map(
                        lambda _: _send_idempotent(
                            requests, stack, app, batch_b, headers, key, ledger
                        ),
                        range(2),
                    )
                )
        else:
            replies = [
                _send_idempotent(session, stack, app, batch_b, headers, key, ledger)
                for _ in range(2)
            ]
        if [reply.status_code for reply in replies] != [201, 201]:
            ledger.problem(f"t{thread} B: {[(r.status_code, r.text[:200]) for r in replies]}")
        elif replies[0].json() != replies[1].json():
            ledger.problem(f"t{thread} B: the retry got another answer")
        else:
            ledger.accepted(replies[0].json()["items"], batch_b)
            with ledger.lock:
                ledger.deletable += [item["id"] for item in replies[0].json()["items"][1:2]]
        progress(thread)

        if thread % 2 == 0:
            # C: event_ids repeated inside the batch (0,0,1,1), then one without.
            batch_c = [
                _generated(thread, 2, i // 2, event_id=f"t{thread}-c{i // 2}")
                if i < 4
                else _generated(thread, 2, i)
                for i in range(5)
            ]
            third = _send(session, stack, app, batch_c, headers, {207}, ledger, f"t{thread} C")
            items = third.json()["items"]
            if [item["status"] for item in items] != ["accepted", "duplicate"] * 2 + ["accepted"]:
                ledger.problem(f"t{thread} C: {items}")
            if any(items[i]["id"] != items[i + 1]["id"] for i in (0, 2)):
                ledger.problem(f"t{thread} C: a repeated event_id got another id")
            ledger.accepted(items, batch_c)
            return

        # Single events: one of the doomed name, one with an event_id sent twice.
        doomed = _generated(thread, 3, 1, name=DOOMED)
        one = _send(session, stack, app, doomed, headers, {201}, ledger, f"t{thread} single")
        ledger.accepted([{"status": "accepted", "id": one.json()["id"]}], [doomed])
        with_id = _generated(thread, 3, 2, event_id=f"t{thread}-s")
        one = _send(session, stack, app, with_id, headers, {201}, ledger, f"t{thread} single")
        ledger.accepted([{"status": "accepted", "id": one.json()["id"]}], [with_id])
        repeat = _send(session, stack, app, with_id, headers, {200}, ledger, f"t{thread} again")
        if repeat.json() != one.json():
            ledger.problem(f"t{thread} single again: {repeat.text[:300]}")


def _delete_by_id(stack, app: dict, event_id: str, twice: bool, ledger: Ledger) -> None:
    """DELETE one event, or twice at once: exactly one of the deletions gets it."""
    url = f"{stack.url}/apps/{app['id']}/events/{event_id}"
    calls = 2 if twice else 1
    with ThreadPoolExecutor(calls) as pool:
        replies = list(
            pool.map(
                lambda _: requests.delete(url, headers=_admin(stack), timeout=TIMEOUT),
                range(calls),
            )
        )
    codes = sorted(reply.status_code for reply in replies)
    # 404 alone: deleted by name first.
    if codes not in ([200], [200, 404], [404], [404, 404]):
        ledger.problem(f"DELETE {event_id}: {[(r.status_code, r.text[:200]) for r in replies]}")
    for reply in replies:
        if reply.status_code == 200:
            with ledger.lock:
                if event_id in ledger.deleted_by_id:
                    ledger.problems.append(f"{event_id} deleted twice")
                ledger.deleted_by_id.add(event_id)
                if reply.json()["id"] != event_id:
                    ledger.problems.append(f"DELETE {event_id} answered {reply.text[:200]}")


def _deleter(stack, app: dict, ledger: Ledger, writing_done: threading.Event) -> None:
    """Deletes by id, while the writers write, the events they hand over; every third twice."""
    handled = 0
    with ThreadPoolExecutor(3) as pool:
        while True:
            finished = writing_done.is_set()
            with ledger.lock:
                batch, ledger.deletable = ledger.deletable, []
            twice = [(handled + i) % 3 == 0 for i in range(len(batch))]
            list(
                pool.map(
                    lambda event_id, both: _delete_by_id(stack, app, event_id, both, ledger),
                    batch,
                    twice,
                )
            )
            handled += len(batch)
            if finished and not batch:
                return
            time.sleep(0.02)


def _delete_doomed(stack, app: dict, ledger: Ledger) -> None:
    reply = requests.delete(
        f"{stack.url}/apps/{app['id']}/events",
        params={"name": DOOMED},
        headers=_admin(stack),
        timeout=TIMEOUT,
    )
    if reply.status_code != 200 or not reply.json()["complete"]:
        ledger.problem(f"DELETE name={DOOMED}: {reply.status_code} {reply.text[:300]}")
        return
    with ledger.lock:
        ledger.deleted_by_name.append(reply.json())


def test_every_aggregate_equals_a_recount_of_the_raw_events_after_concurrency(stack):
    """8 writers at once (batches with event_ids sent twice, batches retried under an
    Idempotency-Key, repeated event_ids inside a batch, single events), while events are deleted
    by id (some twice at once) and by name; then every statistic equals a recount of the raw
    events listed page by page, and the raw events equal what the clients were told.

    The local stack runs one invocation at a time, as one Lambda execution environment does:
    requests interleave at request boundaries, with each request's own parallel DynamoDB
    writes."""
    app = _new_app(stack, "exact")
    user = _user_key(stack, app)
    ledger = Ledger()
    half_written, writing_done = threading.Event(), threading.Event()
    progressed: set[int] = set()

    def progress(thread: int) -> None:
        with ledger.lock:
            progressed.add(thread)
            if len(progressed) >= WRITERS // 2:
                half_written.set()

    def name_deleter() -> None:
        half_written.wait(timeout=60)
        _delete_doomed(stack, app, ledger)  # while the writers go on
        time.sleep(0.2)
        _delete_doomed(stack, app, ledger)

    with ThreadPoolExecutor(WRITERS + 2) as pool:
        deleting = [
            pool.submit(_deleter, stack, app, ledger, writing_done),
            pool.submit(name_deleter),
        ]
        # Writers send with the app's ingest key, or (every third) with a user key.
        credentials = [user if thread % 3 == 0 else _ingest(app) for thread in range(WRITERS)]
        writing = [
            pool.submit(_writer, stack, app, credentials[thread], thread, ledger, progress)
            for thread in range(WRITERS)
        ]
        for future in writing:
            future.result()
        writing_done.set()
        half_written.set()
        for future in deleting:
            future.result()
    assert ledger.problems == [], "\n".join(ledger.problems)

    # The raw events agree with what the clients did.
    raw = {event["id"]: event for event in _all_events(stack, app)}
    assert set(raw) <= set(ledger.stored), "events nobody stored"
    gone = set(ledger.stored) - set(raw)
    assert ledger.deleted_by_id <= gone
    by_name = gone - ledger.deleted_by_id
    assert {ledger.stored[i].get("name") for i in by_name} <= {DOOMED}
    assert sum(reply["deleted"] for reply in ledger.deleted_by_name) == len(by_name)
    assert sum(reply["occurrences"] for reply in ledger.deleted_by_name) == sum(
        ledger.stored[i]["count"] for i in by_name
    )
    for event_id, event in raw.items():
        sent = ledger.stored[event_id]
        assert (event["count"], event.get("name"), event["level"]) == (
            sent["count"],
            sent.get("name"),
            sent["level"].upper(),
        )
        assert _utc(event["occurred_at"]) == datetime.fromisoformat(sent["occurred_at"])
    assert len(raw) >= 40
    assert by_name, "the deletions by name deleted nothing: make them overlap the writes"

    # Recount.
    per_level: Counter[str] = Counter()
    per_name: Counter[str] = Counter()
    per_hour: Counter[str] = Counter()
    per_hour_of_day: Counter[int] = Counter()
    per_hour_of_day_ny: Counter[int] = Counter()
    per_error_hour: Counter[str] = Counter()
    per_alpha_hour: Counter[str] = Counter()
    per_kind: Counter[str] = Counter()
    seen: dict[str, list[datetime]] = defaultdict(list)
    new_york = ZoneInfo("America/New_York")
    for event in raw.values():
        occurred, count = _utc(event["occurred_at"]), event["count"]
        hour = _iso(occurred.replace(minute=0, second=0))
        per_level[event["level"]] += count
        per_hour[hour] += count
        per_hour_of_day[occurred.hour] += count
        per_hour_of_day_ny[occurred.astimezone(new_york).hour] += count
        if event["level"] == "ERROR":
            per_error_hour[hour] += count
        if event.get("name"):
            per_name[event["name"]] += count
            seen[event["name"]].append(occurred)
            if event["name"] == "alpha":
                per_alpha_hour[hour] += count
        if event.get("message"):
            per_kind[_message_kind(event["message"])] += count
    total = sum(per_level.values())
    window = {"since": _iso(DAY0), "until": _iso(DAY0 + timedelta(hours=SPAN_HOURS))}
    wider = {"since": "2026-02-09T00:00:00Z", "until": "2026-02-13T00:00:00Z"}

    levels = _stats(stack, app["id"], "by-level", **wider)["items"]
    assert levels == [
        {"level": level, "count": count}
        for level, count in sorted(
            per_level.items(), key=lambda pair: (-pair[1], LEVEL_ORDER.index(pair[0]))
        )
    ]

    names = _stats(stack, app["id"], "by-name", **wider)["items"]
    assert names == [
        {
            "name": name,
            "count": count,
            "first_seen": _iso(_hour(min(seen[name]))),
            "last_seen": _iso(_hour(max(seen[name]))),
        }
        for name, count in sorted(per_name.items(), key=lambda pair: (-pair[1], pair[0]))
    ]

    def nonzero(reply: dict) -> dict[str, int]:
        return {start: count for start, count in _series(reply) if count}

    hours = _stats(stack, app["id"], "timeseries", interval="HOUR", **window)
    assert len(hours["series"]) == SPAN_HOURS
    assert nonzero(hours) == dict(per_hour)
    assert sum(count for _, count in _series(hours)) == total
    errors = _stats(stack, app["id"], "timeseries", interval="HOUR", level="ERROR", **window)
    assert nonzero(errors) == dict(per_error_hour)
    alpha = _stats(stack, app["id"], "timeseries", interval="HOUR", name="alpha", **window)
    assert nonzero(alpha) == dict(per_alpha_hour)
    days = _stats(stack, app["id"], "timeseries", interval="DAY", **window)
    assert [count for _, count in _series(days)] == [
        sum(count for hour, count in per_hour.items() if hour.startswith("2026-02-10")),
        sum(count for hour, count in per_hour.items() if hour.startswith("2026-02-11")),
    ]

    hourly = _stats(stack, app["id"], "hourly", **wider)
    assert hourly["total"] == total
    assert hourly["hour_count"] == _hours(per_hour_of_day)
    hourly_ny = _stats(stack, app["id"], "hourly", tz="America/New_York", **wider)
    assert hourly_ny["hour_count"] == _hours(per_hour_of_day_ny)

    top = _stats(stack, app["id"], "top-messages", limit=100, **window)["items"]
    assert {_message_kind(item["message"]): item["count"] for item in top} == dict(per_kind)
    assert len(top) == len(per_kind)


# ---------------------------------------------------------------- 3. validation


@pytest.fixture(scope="module")
def two_apps(stack) -> dict:
    app, other = _new_app(stack, "valid"), _new_app(stack, "other")
    return {"app": app, "other": other, "other_user": _user_key(stack, other)}


def _error(reply, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) <= {"error", "message", "details"}
    assert body["error"] and body["message"]
    return body


def test_bad_interval_is_a_400_naming_interval(stack, two_apps):
    body = _error(_stats_reply(stack, two_apps["app"]["id"], "timeseries", interval="WEEK"), 400)
    assert body["error"] == "VALIDATION_ERROR"
    assert "interval" in body["message"]
    assert [detail["field"] for detail in body["details"]] == ["interval"]


@pytest.mark.parametrize(
    "route", ["timeseries", "by-level", "by-name", "top-messages", "hourly", "hourly.png"]
)
def test_since_after_until_is_a_400(stack, two_apps, route):
    for since, until in [
        ("2026-02-11T00:00:00Z", "2026-02-10T00:00:00Z"),
        ("2026-02-10T00:00:00Z", "2026-02-10T00:00:00Z"),
    ]:
        reply = _stats_reply(stack, two_apps["app"]["id"], route, since=since, until=until)
        body = _error(reply, 400)
        assert "since must be before until" in str(body)


def test_too_many_buckets_is_a_400_saying_so(stack, two_apps):
    reply = _stats_reply(
        stack,
        two_apps["app"]["id"],
        "timeseries",
        interval="MINUTE",
        since="2026-02-10T00:00:00Z",
        until="2026-02-11T00:00:00Z",
    )
    body = _error(reply, 400)
    assert body["message"] == (
        "1440 minute buckets from since to until; at most 1000: "
        "narrow the range or use a larger interval"
    )
    one_too_many = _stats_reply(
        stack,
        two_apps["app"]["id"],
        "timeseries",
        interval="MINUTE",
        since="2026-02-10T00:00:00Z",
        until="2026-02-10T16:41:00Z",
    )
    assert _error(one_too_many, 400)["message"].startswith("1001 minute buckets")


@pytest.mark.parametrize(
    "route", ["timeseries", "by-level", "by-name", "top-messages", "hourly", "hourly.png"]
)
def test_unknown_app_is_a_404(stack, route):
    body = _error(_stats_reply(stack, 999999, route, **ALL_OF_IT), 404)
    assert body["error"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "route", ["timeseries", "by-level", "by-name", "top-messages", "hourly", "hourly.png"]
)
def test_credentials_of_another_app_or_none(stack, two_apps, route):
    app_id = two_apps["app"]["id"]
    for headers in (_ingest(two_apps["other"]), two_apps["other_user"], _ingest(two_apps["app"])):
        body = _error(_stats_reply(stack, app_id, route, headers=headers), 403)
        assert body["error"] == "FORBIDDEN"
    for headers in ({}, {"x-api-key": "not-a-key"}):
        body = _error(_stats_reply(stack, app_id, route, headers=headers), 401)
        assert body["error"] == "UNAUTHORIZED"


def test_users_of_the_app_may_read_its_statistics(stack, two_apps):
    other = two_apps["other"]
    reply = _stats_reply(stack, other["id"], "by-level", headers=two_apps["other_user"])
    assert reply.status_code == 200, reply.text


def test_deleting_is_for_admins_only(stack, two_apps):
    other = two_apps["other"]
    url = f"{stack.url}/apps/{other['id']}/events"
    for headers in (two_apps["other_user"], _ingest(other)):
        by_name = requests.delete(url, params={"name": "x"}, headers=headers, timeout=TIMEOUT)
        assert _error(by_name, 403)["error"] == "FORBIDDEN"
        by_id = requests.delete(
            f"{url}/01KH000000000000000000000A", headers=headers, timeout=TIMEOUT
        )
        assert _error(by_id, 403)["error"] == "FORBIDDEN"
    assert requests.delete(url, params={"name": "x"}, timeout=TIMEOUT).status_code == 401
    missing = requests.delete(
        f"{url}/01KH000000000000000000000A", headers=_admin(stack), timeout=TIMEOUT
    )
    assert _error(missing, 404)["error"] == "NOT_FOUND"
    not_an_id = requests.delete(f"{url}/not-an-id", headers=_admin(stack), timeout=TIMEOUT)
    assert _error(not_an_id, 404)["error"] == "NOT_FOUND"
    no_name = requests.delete(url, headers=_admin(stack), timeout=TIMEOUT)
    assert _error(no_name, 400)["error"] == "VALIDATION_ERROR"
    unknown_app = requests.delete(
        f"{stack.url}/apps/999999/events",
        params={"name": "x"},
        headers=_admin(stack),
        timeout=TIMEOUT,
    )
    assert _error(unknown_app, 404)["error"] == "NOT_FOUND"


@pytest.mark.parametrize("route", ["hourly", "hourly.png"])
@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "Not a zone", "../etc/passwd", "America"])
def test_unknown_time_zone_is_a_400(stack, two_apps, route, tz):
    """Fails today for tz=America (a folder of the zone database, not a zone): a 500."""
    body = _error(_stats_reply(stack, two_apps["app"]["id"], route, tz=tz), 400)
    assert body["error"] == "VALIDATION_ERROR"
    fields = [detail["field"] for detail in body.get("details", [])]
    assert fields == ["tz"] or f"unknown time zone '{tz}'" in body["message"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_top_messages_limit_out_of_range_is_a_400(stack, two_apps, limit):
    body = _error(_stats_reply(stack, two_apps["app"]["id"], "top-messages", limit=limit), 400)
    assert [detail["field"] for detail in body["details"]] == ["limit"]


def test_top_messages_limit_bounds_are_accepted(stack, two_apps):
    for limit in (1, 100):
        reply = _stats(stack, two_apps["app"]["id"], "top-messages", limit=limit)
        assert reply == {"limit": limit, "items": []}


@pytest.mark.parametrize("route", ["timeseries", "by-level"])
def test_name_and_service_together_is_a_400(stack, two_apps, route):
    reply = _stats_reply(stack, two_apps["app"]["id"], route, name="a", service="b")
    assert "filter by name or by service, not both" in str(_error(reply, 400))


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("by-level", {"level": "LOUD"}, "level"),
        ("timeseries", {"since": "yesterday"}, "since"),
        ("by-name", {"until": "2026-02-30T00:00:00Z"}, "until"),
        ("hourly", {"since": "2026-02-10T00:00:00Z", "until": "2027-03-10T00:00:00Z"}, None),
    ],
    ids=["level", "since", "until", "hourly-over-366-days"],
)
def test_other_bad_parameters_are_400s(stack, two_apps, route, params, field):
    body = _error(_stats_reply(stack, two_apps["app"]["id"], route, **params), 400)
    if field:
        assert field in [detail["field"] for detail in body["details"]]
    else:
        assert "(366 days)" in body["message"]


def test_thousands_of_long_distinct_names_in_one_day_are_all_counted(stack):
    """3,000 names of 150 characters, one day: every request 201, every statistic counts them
    all (no item grows with the names: the day's bucket stays small, each name has its own)."""
    app = _new_app(stack, "names")
    day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    names = [f"{i:05d}-" + "n" * 144 for i in range(3000)]
    for first in range(0, len(names), 100):
        batch = [
            {"name": name, "level": "error" if i % 3 == 0 else "info", "occurred_at": _iso(day)}
            for i, name in enumerate(names[first : first + 100], start=first)
        ]
        reply = _post(stack, app, batch)
        assert reply.status_code == 201, reply.text
    whole_day = {
        "since": _iso(day.replace(hour=0)),
        "until": _iso(day.replace(hour=0) + timedelta(days=1)),
    }
    by_name = _stats(stack, app["id"], "by-name", **whole_day)
    assert len(by_name["items"]) == 3000 and "overflow" not in by_name
    assert {item["name"] for item in by_name["items"]} == set(names)
    assert {item["count"] for item in by_name["items"]} == {1}
    assert _stats(stack, app["id"], "by-level", **whole_day)["items"] == [
        {"level": "INFO", "count": 2000},
        {"level": "ERROR", "count": 1000},
    ]
    series = _stats(stack, app["id"], "timeseries", interval="DAY", **whole_day)
    assert [point["count"] for point in series["series"]] == [3000]
    one = _stats(stack, app["id"], "timeseries", name=names[1234], **whole_day)
    assert sum(point["count"] for point in one["series"]) == 1
    assert _stats(stack, app["id"], "hourly", **whole_day)["total"] == 3000
