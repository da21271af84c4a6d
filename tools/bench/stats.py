"""Section 3: read units for one statistics request, with few and with many events counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from bench.report import notes
from bench.section import Options, Section, Target, growth_targets
from bench.stack import FILL_STREAM_BATCH, Stack, Tenant, in_process_moto, unqueued
from bench.workload import LEVELS, NAMES

STATS_SPAN = timedelta(hours=24)
TARGET_STATS_RATIO = 1.1  # a statistic costs the same however many events it counts

# Twelve message shapes, three of each kind, which fingerprint into four message groups
# (eventlog.stats.fingerprint): the variable parts are an email and an address, a UUID and a
# number, numbers, a quoted key and a time.
MESSAGE_SHAPES = (
    "user u{i}@example.com signed in from 10.0.{a}.{b}",
    "user first.last{i}@corp.example signed in from 192.168.{a}.{b}:443",
    "user ops+{i}@mail.example.org signed in from 2001:db8::{a}",
    "payment 3f2b8c1e-9a4d-4f6b-8e2a-{i:012d} declined: card ending {a:04d}",
    "payment 0b1c2d3e-4f50-4617-8899-{i:012d} declined: card ending {b:04d}",
    "payment 9e8d7c6b-5a49-4382-b1c0-{i:012d} declined: card ending 4242",
    "GET /orders/{i} took {a} ms",
    "GET /orders/{b} took {i} ms",
    "GET /orders/7 took {a}{b} ms",
    'cache miss for "session:{i}" at 2026-02-10T10:{b:02d}:00Z, retry {a}',
    'cache miss for "cart:{a}" at 2026-02-11 08:00:{b:02d}, retry 1',
    "cache miss for 'user:{i}' at 12:{b:02d}:33, retry 2",
)
MESSAGE_GROUPS = 4


@dataclass(frozen=True)
class Sizes:
    stored_small: int  # events counted for the smaller app
    stored_large: int

    @classmethod
    def of(cls, options: Options) -> Sizes:
        # Quick: 30 events an hour, so each half hour at an end of the range has every message
        # shape, name and level, as at full size.
        return cls(720, 1_440) if options.quick else cls(1_000, 100_000)


@dataclass(frozen=True)
class StatsRoute:
    route: str
    query: dict[str, str]

    @property
    def label(self) -> str:
        return self.route + "".join(f"?{key}={value}" for key, value in self.query.items())


STATS_ROUTES = (
    StatsRoute("timeseries", {"interval": "HOUR"}),
    StatsRoute("by-level", {}),
    StatsRoute("top-messages", {}),
    StatsRoute("by-name", {}),
    StatsRoute("hourly", {}),
)


def stats_range(now: datetime) -> tuple[datetime, datetime]:
    """24 hours to the last half past the hour: off the hour at both ends, as the default range
    (the 24 hours up to now) is, so both ends are read as minute buckets; the same every run."""
    until = now.replace(minute=30, second=0, microsecond=0)
    if until > now:
        until -= timedelta(hours=1)
    return until - STATS_SPAN, until


def occurred_at(i: int, total: int, since: datetime) -> datetime:
    """Event i of `total` spread evenly over [since, since + 24 h), in time order, its last
    millisecond digit a 7 as a client's clock gives: evenly spaced round times would end in
    zeros, as many as the spacing (so the number of events) allows, and message groups keep
    each hour's last-seen time as a number, stored without its trailing zeros."""
    moment = since + STATS_SPAN * (i + 0.5) / total
    return moment.replace(microsecond=moment.microsecond // 10_000 * 10_000 + 7_000)


def stats_events(total: int, since: datetime) -> Iterator[dict[str, Any]]:
    """The events, in time order. The kth event of each hour has the kth message shape, level
    and name, so each hour starts at the first of each (and a day's first message of each
    group, its sample, is the same for both apps); the variable parts of a shape have a fixed
    width. Only the counts then differ between two apps' aggregates, not their sizes."""
    hour, k = None, 0
    for i in range(total):
        moment = occurred_at(i, total, since)
        k = k + 1 if moment.hour == hour else 0
        hour = moment.hour
        yield {
            "occurred_at": moment.isoformat(timespec="milliseconds"),
            "level": LEVELS[k % len(LEVELS)],
            "name": NAMES[k % len(NAMES)],
            "service": "api",
            "message": MESSAGE_SHAPES[k % len(MESSAGE_SHAPES)].format(
                i=100_000 + i, a=100 + i % 151, b=10 + i % 49
            ),
        }


def fill_stats(stack: Stack, tenant: Tenant, total: int, since: datetime) -> None:
    """Store `total` events over the 24 hours, in time order, then count them through the
    events table's stream (setup: not counted).

    Larger stream batches than the mapping's BatchSize (FILL_STREAM_BATCH records an invocation
    of the aggregator), only for speed: the aggregates come out the same however the events are
    batched (exact counts, the first message received as sample, the latest time as last_seen),
    and the statistics read nothing else. No notification is queued (`unqueued`)."""
    events = stats_events(total, since)
    # 1,000 events made at a time: 100,000 dicts at once would be memory for nothing
    while chunk := list(islice(events, 1_000)):
        stack.store(tenant.app_id, chunk)
    with stack.meter.paused(), unqueued():
        stack.aggregate(total, FILL_STREAM_BATCH)


@dataclass
class StatsCost:
    rcu: float  # the stats handler's read units (app lookup, watermark, aggregates Queries)
    watermark_rcu: float  # its GetItem of the app's watermark (X-Eventlog-As-Of)
    authorizer_rcu: float
    evaluated: int  # aggregate items the Queries evaluated
    evaluated_bytes: int  # their sizes
    queries: int  # Query requests


def _counted(route: str, body: Any) -> int:
    """How many events the reply of a route counts over the whole range."""
    if route == "timeseries":
        return int(sum(bucket["count"] for bucket in body["series"]))
    if route == "hourly":
        return int(body["total"])
    if route == "top-messages" and len(body["items"]) != MESSAGE_GROUPS:
        raise RuntimeError(f"bench: top-messages found {len(body['items'])} message groups")
    return int(sum(item["count"] for item in body["items"]))


def _iso(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def read_stats(
    stack: Stack, tenant: Tenant, since: datetime, until: datetime, stored: int
) -> dict[str, StatsCost]:
    """One request of each route; checks that it counts every event stored."""
    costs = {}
    for route in STATS_ROUTES:
        window = {"since": _iso(since), "until": _iso(until)}
        reply = stack.get_stats(tenant, route.route, {**route.query, **window})
        used = reply.handler
        if used.scanned_count_mismatches:
            raise RuntimeError("bench: a re-issued Query page differed from its ScannedCount")
        counted = _counted(route.route, reply.body)
        if counted != stored:
            raise RuntimeError(f"bench: {route.label} counted {counted} events, not {stored}")
        costs[route.label] = StatsCost(
            rcu=used.read_units,
            watermark_rcu=used.op_read[f"{stack.aggregates_table}.GetItem"],
            authorizer_rcu=reply.authorizer.read_units,
            evaluated=sum(used.evaluated.values()),
            evaluated_bytes=sum(used.evaluated_bytes.values()),
            queries=sum(n for op, n in used.calls.items() if op.endswith(".Query")),
        )
    return costs


@dataclass
class StatsResult:
    sizes: Sizes
    small: dict[str, StatsCost]  # route label -> cost, sizes.stored_small events counted
    large: dict[str, StatsCost]
    since: datetime
    until: datetime
    fill_seconds: float  # setup: storing and counting the larger app's events
    scans: int


def measure(options: Options) -> StatsResult:
    """Each statistic over the same range, for an app with `stored_small` events counted and
    for one with `stored_large`, spread alike over that range."""
    sizes = Sizes.of(options)
    with in_process_moto() as stack:
        small_app, large_app = stack.tenant("bench-stats-small"), stack.tenant("bench-stats-large")
        since, until = stats_range(datetime.now(UTC))
        fill_stats(stack, small_app, sizes.stored_small, since)
        started = time.monotonic()
        fill_stats(stack, large_app, sizes.stored_large, since)
        fill_seconds = time.monotonic() - started
        small = read_stats(stack, small_app, since, until, sizes.stored_small)
        large = read_stats(stack, large_app, since, until, sizes.stored_large)
        return StatsResult(sizes, small, large, since, until, fill_seconds, stack.scans)


def show(result: StatsResult) -> None:
    small_size, large_size = result.sizes.stored_small, result.sizes.stored_large
    notes(
        f"since={_iso(result.since)} until={_iso(result.until)}, the same for both apps; the "
        f"events spread evenly over those 24 hours by occurred_at: {len(NAMES)} names x "
        f"{len(LEVELS)} levels, {len(MESSAGE_SHAPES)} message shapes in {MESSAGE_GROUPS} groups"
    )
    print(
        f"   {'route':<42} {f'{small_size:,} stored':>13} {f'{large_size:,} stored':>15} "
        f"{'ratio':>6}   aggregate items / KB evaluated / Queries"
    )
    for route in STATS_ROUTES:
        small, large = result.small[route.label], result.large[route.label]
        print(
            f"   {route.label:<42} {small.rcu:>9.2f} RCU {large.rcu:>11.2f} RCU "
            f"{large.rcu / small.rcu:>6.2f}   {small.evaluated} / "
            f"{small.evaluated_bytes / 1024:.1f} / {small.queries} -> {large.evaluated} / "
            f"{large.evaluated_bytes / 1024:.1f} / {large.queries}"
        )
    costs = (*result.small.values(), *result.large.values())
    auth = " / ".join(f"{units:.2f}" for units in sorted({cost.authorizer_rcu for cost in costs}))
    watermark = " / ".join(f"{units:.2f}" for units in sorted({c.watermark_rcu for c in costs}))
    notes(
        "RCU: the stats handler's: the app lookup, the app's watermark (a GetItem, "
        f"{watermark} RCU, for X-Eventlog-As-Of, on every answer) and the Queries of the "
        f"aggregates; the authorizer adds {auth} RCU a request. Items and KB: the aggregates the "
        "Queries evaluated. Statistics count whole hours (the range is widened to them), so they "
        "read hour and day buckets only, never minute ones; by-name reads the items of each name "
        "and day.",
        f"Setup, not counted: {large_size:,} events stored through ingest_batch, then counted by "
        f"the aggregator through the events table's stream (batches of {FILL_STREAM_BATCH:,}), "
        f"in {result.fill_seconds:.0f} s (in a process of its own).",
    )


def targets(result: StatsResult | None, options: Options) -> list[Target]:
    sizes = result.sizes if result else Sizes.of(options)
    labels = [route.label for route in STATS_ROUTES]
    return growth_targets(
        "stats", labels, result, sizes.stored_small, sizes.stored_large, TARGET_STATS_RATIO
    )


SECTION = Section(
    key="stats",
    title="3. Read request units for one statistics request, few vs many events stored",
    subtitle="GET /apps/{app_id}/stats/<route>: authorizer + stats handler, through the local "
    "stack's gateway, tables in moto",
    measure=measure,
    show=show,
    targets=targets,
    scans=lambda result: result.scans,
)
