"""Repair (`eventlog.stats.recount`, `tools/recount.py`): aggregates rebuilt from the raw events
of whole days, as the statistics read them; the notifier's counters kept; a plan that changes
nothing the second time, nor after the stream processor counted; ranges that a recount would
make worse refused; the command line end to end against a moto server, and its errors."""

import io
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import recount as recount_cli

from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError
from eventlog.base.timeutil import utcnow
from eventlog.delivery import alerts
from eventlog.events import deletion, ingestion
from eventlog.models.alerts import AlertRuleIn
from eventlog.models.events import HEARTBEAT_NAME
from eventlog.models.stats import (
    CountsQuery,
    LevelFilter,
    StatsRange,
    TimeseriesQuery,
    TopMessagesQuery,
)
from eventlog.stats import recount, statistics
from eventlog.stats.buckets import Granularity, Run
from eventlog.storage import aggregates, db, event_store, registry
from eventlog.storage.aggregates import HEARTBEATS, NOTIFICATIONS_SENT, counts_key, dimension_key

TODAY = utcnow().date()
FIRST, SECOND = TODAY - timedelta(days=2), TODAY - timedelta(days=1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# Since FIRST until TODAY, as the statistics take a range.
RANGE = {"since": at(FIRST, 0), "until": at(TODAY, 0)}


@pytest.fixture
def raw(app: Any, store_event: Callable[..., Any]) -> Any:
    """Raw events stored without being counted: the aggregates know nothing of them."""
    store_event(
        app.id,
        at(FIRST, 10, 5),
        level="ERROR",
        message="User 42 not found",
        name="login",
        service="auth",
    )
    store_event(
        app.id,
        at(FIRST, 10, 6),
        level="ERROR",
        message="User 7 not found",
        name="login",
        service="auth",
    )
    store_event(
        app.id, at(FIRST, 10, 40), message="Signed in", name="login", service="auth", count=5
    )
    store_event(
        app.id,
        at(SECOND, 12),
        level="WARNING",
        message="Slow query 350 ms",
        name="search",
        service="api",
    )
    store_event(app.id, at(SECOND, 13), name=HEARTBEAT_NAME, message=None)
    # Received today, it happened on FIRST: counted there.
    store_event(
        app.id,
        utcnow(),
        occurred_at=f"{FIRST}T23:30:00Z",
        level="ERROR",
        message="late",
        name="cron",
    )
    # Outside the range: neither counted nor touched.
    store_event(app.id, at(FIRST - timedelta(days=1), 9), message="before the range")
    store_event(app.id, at(TODAY, 0), message="after the range")
    return app


def recount_days(app_id: int, since: date = FIRST, until: date = TODAY) -> recount.RecountPlan:
    plan = recount.plan_recount(app_id, since, until)
    recount.apply_recount(plan)
    return plan


def levels(app_id: int, **query: Any) -> dict[str, int]:
    found = statistics.by_level(app_id, CountsQuery(**RANGE, **query))
    return {item.level.value: item.count for item in found.items}


def names(app_id: int) -> tuple[dict[str, int], int]:
    found = statistics.by_name(app_id, LevelFilter(**RANGE))
    return {item.name: item.count for item in found.items}, (
        found.overflow.count if found.overflow else 0
    )


def counters(key: dict[str, str]) -> dict[str, Any]:
    return db.aggregates_table().get_item(Key=key, ConsistentRead=True).get("Item") or {}


def add_to(key: dict[str, str], amounts: dict[str, int]) -> None:
    """Corrupt an aggregate: add to its counters behind the aggregator's back."""
    names = {f"#c{i}": name for i, name in enumerate(amounts)}
    db.aggregates_table().update_item(
        Key=key,
        UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(amounts))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":c{i}": amount for i, amount in enumerate(amounts.values())},
    )


# ---------------------------------------------------------------- counts rebuilt


def test_a_recount_counts_the_raw_events_of_the_range(raw):
    assert levels(raw.id) == {}  # nothing counted them

    plan = recount_days(raw.id)

    assert (plan.events_read, plan.events_counted) == (8, 6)
    assert levels(raw.id) == {"ERROR": 3, "INFO": 6, "WARNING": 1}
    assert levels(raw.id, name="login") == {"ERROR": 2, "INFO": 5}
    assert levels(raw.id, service="api") == {"WARNING": 1}
    assert names(raw.id) == ({"login": 7, "cron": 1, "search": 1, HEARTBEAT_NAME: 1}, 0)
    hours = statistics.timeseries(
        raw.id, TimeseriesQuery(**RANGE, interval=Granularity.HOUR)
    ).series
    by_hour = {bucket.bucket_start: bucket.count for bucket in hours if bucket.count}
    assert by_hour == {
        f"{FIRST}T10:00:00Z": 7,
        f"{FIRST}T23:00:00Z": 1,
        f"{SECOND}T12:00:00Z": 1,
        f"{SECOND}T13:00:00Z": 1,
    }
    top = statistics.top_messages(raw.id, TopMessagesQuery(**RANGE)).items
    assert [(item.message, item.count) for item in top][:2] == [
        ("Signed in", 5),
        ("User 42 not found", 2),  # the first message of its group is its sample
    ]
    assert top[1].last_seen == f"{FIRST}T10:06:00Z"
    assert counters(counts_key(raw.id, Granularity.DAY, str(SECOND)))[HEARTBEATS] == 1
    assert counters(counts_key(raw.id, Granularity.DAY, str(FIRST)))["d|names"] == 2
    assert statistics.metrics(raw.id).logs_processed == 9  # heartbeats are not logs


def test_a_recount_takes_back_what_no_raw_event_accounts_for(raw):
    recount_days(raw.id)
    hour = counts_key(raw.id, Granularity.HOUR, f"{FIRST}T10")
    add_to(hour, {"l|ERROR": 7, "l|DEBUG": 3})
    ghost = dimension_key(raw.id, aggregates.Dimension.NAME, str(SECOND), "ghost")
    db.aggregates_table().put_item(Item={**ghost, "value": "ghost", "h|04|INFO": 4})
    add_to(counts_key(raw.id, Granularity.DAY, str(SECOND)), {"d|names": 1})

    plan = recount_days(raw.id)

    changed = {
        (item.key["sk"], change.attribute): (change.old, change.new)
        for item in plan.items
        for change in item.changes
    }
    assert changed == {
        (f"{FIRST}T10", "l|ERROR"): (9, 2),
        (f"{FIRST}T10", "l|DEBUG"): (3, 0),
        (f"{SECOND}|ghost", "h|04|INFO"): (4, 0),
        (f"{SECOND}|ghost", "value"): ("ghost", None),
        (str(SECOND), "d|names"): (3, 2),
    }
    assert [item.key["sk"] for item in plan.items if item.delete] == [f"{SECOND}|ghost"]
    assert counters(ghost) == {}
    assert "l|DEBUG" not in counters(hour)
    assert levels(raw.id) == {"ERROR": 3, "INFO": 6, "WARNING": 1}
    assert names(raw.id)[0] == {"login": 7, "cron": 1, "search": 1, HEARTBEAT_NAME: 1}


def test_a_second_recount_changes_nothing(raw):
    first = recount_days(raw.id)
    assert first.items and all(not item.existed for item in first.items)

    second = recount_days(raw.id)

    assert second.items == [] and second.attributes_changed == 0
    assert second.items_compared == first.items_compared


def test_a_dry_run_plans_without_writing(raw):
    plan = recount.plan_recount(raw.id, FIRST, TODAY)

    assert plan.attributes_changed > 0
    assert levels(raw.id) == {}
    assert recount.plan_recount(raw.id, FIRST, TODAY) == plan


def test_the_notifiers_counters_survive(raw):
    aggregates.count_notifications(raw.id, at(FIRST, 10, 5), sent=2, failed=1)
    # A bucket with notifications and no events, whose level counter is wrong.
    quiet = at(SECOND, 3)
    aggregates.count_notifications(raw.id, quiet, sent=4)
    add_to(counts_key(raw.id, Granularity.HOUR, f"{SECOND}T03"), {"l|INFO": 5})

    recount_days(raw.id)

    assert statistics.notifications(raw.id, StatsRange(**RANGE)).model_dump(
        include={"sent", "failed"}
    ) == {"sent": 6, "failed": 1}
    assert counters(counts_key(raw.id, Granularity.HOUR, f"{SECOND}T03")) == {
        **counts_key(raw.id, Granularity.HOUR, f"{SECOND}T03"),
        NOTIFICATIONS_SENT: 4,
    }
    assert levels(raw.id) == {"ERROR": 3, "INFO": 6, "WARNING": 1}


# ---------------------------------------------------------------- what the aggregator decides


def test_the_days_name_limit_applies_in_received_order(
    app, store_event, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NAME_CARDINALITY_LIMIT", "2")
    get_settings.cache_clear()
    for minute, name in enumerate(["b", "a", "b", "c", "d", "c"]):
        store_event(app.id, at(FIRST, 8, minute), name=name)

    recount_days(app.id)

    assert names(app.id) == ({"b": 2, "a": 1}, 3)
    assert counters(counts_key(app.id, Granularity.DAY, str(FIRST)))["d|names"] == 2


def test_rule_counters_count_the_events_received_since_the_rules_creation(app, store_event):
    rule = alerts.create_rule(
        app.id,
        AlertRuleIn(
            min_level="ERROR",
            condition={"type": "threshold", "more_than": 10, "window_minutes": 5},
            channels=[{"type": "sns"}],
        ),
    )
    occurred = f"{SECOND}T09:15:00Z"
    store_event(app.id, utcnow(), occurred_at=occurred, level="ERROR", message="late one")
    store_event(app.id, utcnow(), occurred_at=occurred, level="INFO", message="not matched")
    store_event(app.id, at(SECOND, 9, 15), level="ERROR", message="before the rule")

    recount_days(app.id)

    minute = Run(Granularity.MINUTE, at(SECOND, 9, 15), at(SECOND, 9, 16))
    (bucket,) = aggregates.read_counts(app.id, [minute])
    assert bucket.counters[aggregates.rule_counter(rule.id)] == 1
    assert bucket.counters["l|ERROR"] == 2


def test_progress_is_reported_up_to_the_whole_partition(raw):
    reported: list[tuple[int, float]] = []

    recount.plan_recount(raw.id, FIRST, TODAY, progress=lambda *args: reported.append(args))

    assert reported[-1] == (8, 1.0)
    assert all(0.0 <= fraction <= 1.0 for _, fraction in reported)


# ---------------------------------------------------------------- ranges refused


def test_a_range_before_the_retention_is_refused_unless_forced(app):
    old = TODAY - timedelta(days=get_settings().retention_days + 1)

    with pytest.raises(recount.RecountRefusedError, match="RETENTION_DAYS"):
        recount.plan_recount(app.id, old, TODAY)

    assert recount.plan_recount(app.id, old, TODAY, force=True).items == []


def test_a_range_too_long_or_backwards_is_refused(app):
    with pytest.raises(recount.RecountRefusedError, match="at most 366"):
        recount.plan_recount(app.id, FIRST, FIRST + timedelta(days=367))
    with pytest.raises(InvalidInputError, match="must be before"):
        recount.plan_recount(app.id, SECOND, FIRST)


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "2026-02-10", "--until", "2026-02-11", "--stack", "s"], "--app"),
        (["--app", "x", "--since", "2026-02-10", "--until", "2026-02-11", "--stack", "s"],
         "not an app id"),
        (["--app", "1", "--since", "10/02/2026", "--until", "2026-02-11", "--stack", "s"],
         "not a day as YYYY-MM-DD"),
        (["--app", "1", "--since", "2026-02-11", "--until", "2026-02-11", "--stack", "s"],
         "must be before"),
        (["--app", "1", "--since", "2026-02-10", "--until", "2026-02-11"],
         "--endpoint-url --stack"),
        (["--app", "1", "--since", "2026-02-10", "--until", "2026-02-11", "--stack", "s",
          "--endpoint-url", "http://127.0.0.1:9"], "not allowed with"),
        (["--app", "1", "--since", "2026-02-10", "--until", "2026-02-11",
          "--endpoint-url", "http://127.0.0.1:9", "--region", "eu-west-1"], "--region goes with"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_with_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        recount_cli.main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def clean_environment() -> Iterator[None]:
    """The command line rewrites the environment and the core caches what it read there."""
    with mock.patch.dict(os.environ):
        yield
    get_settings.cache_clear()
    db.client.cache_clear()


def test_a_range_before_the_retention_exits_with_status_2(clean_environment, capsys):
    old = TODAY - timedelta(days=3651)  # beyond the longest retention the template allows
    get_settings.cache_clear()
    argv = ["--app", "1", "--since", str(old), "--until", str(old + timedelta(days=1))]

    with pytest.raises(SystemExit) as exited:  # refused before any request
        recount_cli.main([*argv, "--endpoint-url", "http://127.0.0.1:9"])

    assert exited.value.code == 2
    assert "RETENTION_DAYS" in capsys.readouterr().err


@pytest.fixture
def moto_server(clean_environment: None) -> Iterator[str]:
    """A moto server on loopback with the three tables and an app (id 1), as `make local` has."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    try:
        recount_cli._use_local_stack(endpoint)
        get_settings.cache_clear()
        db.client.cache_clear()
        for table in recount_cli.LOCAL_TABLES.values():
            db.client().create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )  # fmt: skip
        db.registry_table().put_item(
            Item={"pk": registry.app_partition(1), "sk": "APP", "id": 1, "name": "shop"}
        )
        yield endpoint
    finally:
        server.stop()


def test_the_command_line_recounts_a_local_stack(moto_server, capsys):
    from eventlog.base.ids import new_ulid
    from eventlog.models.events import Event

    received = at(FIRST, 10)
    event = Event(id=new_ulid(received), app_id=1, received_at=f"{FIRST}T10:00:00Z",
                  occurred_at=f"{FIRST}T10:00:00Z", level="ERROR", message="disk full")  # fmt: skip
    event_store.put_new_events([event], int((received + timedelta(days=30)).timestamp()))
    argv = ["--app", "1", "--since", str(FIRST), "--until", str(SECOND)]

    recount_cli.main([*argv, "--endpoint-url", moto_server, "--dry-run"])
    dry = capsys.readouterr().out
    recount_cli.main([*argv, "--endpoint-url", moto_server])
    done = capsys.readouterr().out
    recount_cli.main([*argv, "--endpoint-url", moto_server])
    again = capsys.readouterr().out

    assert f"APP#1#HOUR {FIRST}T10 (new)\n    l|ERROR: 0 → 1\n" in dry
    assert "would change 4 of 4 items" in dry and "dry run: nothing written" in dry
    assert dry.replace("would change", "changed").replace(" (dry run: nothing written)", "") == (
        done
    )
    assert "changed 0 of 4 items" in again
    day = counts_key(1, Granularity.DAY, str(FIRST))
    assert counters(day)["l|ERROR"] == 1


def test_the_report_summarises_beyond_fifty_lines():
    plan = recount.RecountPlan(1, at(FIRST, 0), at(TODAY, 0), events_read=9, events_counted=8)
    plan.items = [
        recount.ItemChange(
            key=dimension_key(1, aggregates.Dimension.NAME, str(FIRST), f"{name}{index}"),
            changes=[
                recount.AttributeChange("h|08|INFO", 0, 2),
                recount.AttributeChange("value", None, f"{name}{index}"),
            ],
            existed=False,
            delete=False,
        )
        for index, name in enumerate([aggregates.OVERFLOW] + ["n"] * 29)
    ]
    plan.items_compared = 40
    out = io.StringIO()

    recount_cli.report(plan, dry_run=True, out=out)

    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        f"APP#1#NAME {FIRST}|<overflow>0 (new)",
        "    h|08|INFO: 0 → 2",
        "    value: - → '<overflow>0'",
    ]
    assert len(lines) == 16 * 3 + 2
    assert lines[-2] == "… and 28 more changes on 14 more items"
    assert lines[-1].endswith("would change 30 of 40 items (30 new, 0 deleted), 60 attributes"
                              " (dry run: nothing written)")  # fmt: skip


def test_what_the_aggregator_counted_needs_no_change(aws, app):
    """The recount counts as the stream processor does; what it tidies after a deletion (items
    and last-seen times the aggregator leaves behind, counting nothing) changes no statistic."""
    alerts.create_rule(
        app.id,
        AlertRuleIn(
            min_level="WARNING",
            condition={"type": "threshold", "more_than": 10, "window_minutes": 5},
            channels=[{"type": "sns"}],
        ),
    )
    stored = ingestion.ingest_batch(
        app.id,
        [
            {"occurred_at": f"{FIRST}T10:05:00Z", "level": "ERROR", "message": "User 4 not found",
             "name": "login", "service": "auth", "count": 3},
            {"occurred_at": f"{FIRST}T10:07:30Z", "level": "ERROR", "message": "User 9 not found",
             "name": "login", "service": "auth"},
            {"occurred_at": f"{SECOND}T23:59:59Z", "level": "WARNING", "message": "slow",
             "name": "search"},
            {"occurred_at": f"{SECOND}T08:00:00Z", "message": "to be deleted", "name": "gone"},
        ],
    )  # fmt: skip
    aws.settle()

    assert recount.plan_recount(app.id, FIRST, TODAY).items == []

    deletion.delete_event(app.id, stored.items[-1].id)  # the aggregator subtracts it
    aws.settle()
    before = (
        levels(app.id),
        names(app.id),
        statistics.top_messages(app.id, TopMessagesQuery(**RANGE)),
    )
    plan = recount_days(app.id)

    changed = {
        (item.key["pk"].removeprefix(f"APP#{app.id}#"), item.delete): {
            change.attribute for change in item.changes
        }
        for item in plan.items
    }
    assert changed == {
        ("DAY", False): {"d|names"},  # 2 names on SECOND, one of them with nothing left
        ("NAME", True): {"value"},
        (f"MSG#{SECOND}", True): {"sample", "t|08|INFO"},
    }
    after = (
        levels(app.id),
        names(app.id),
        statistics.top_messages(app.id, TopMessagesQuery(**RANGE)),
    )
    assert after == before
