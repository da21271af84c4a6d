"""Section 1: DynamoDB write units per ingested event, on the request path (authorizer + ingest).

Ingest only stores: the counts come from the events table's stream (section 1b).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from capacity import Usage

from bench.report import print_operations
from bench.section import Options, Section, Target
from bench.stack import Reply, Stack, Tenant, in_process_moto
from bench.workload import BATCH, LEVELS, make_event

TARGET_SINGLE_WCU = 1.0  # request path only: ingest stores, the aggregator counts (1b)
TARGET_BATCH_WCU = 1.0  # the plain batches (b)
TARGET_EVENT_ID_WCU = 2.0  # (c): each event and its client event_id's claim


@dataclass(frozen=True)
class Sizes:
    singles: int  # single-event requests of (a) and (f)
    batches: int  # batches of BATCH events of (b) and (c)
    resent: int  # batches of (c) sent a second time (d)
    late_hours: int  # batches of (e), each an hour earlier than the one before

    @classmethod
    def of(cls, options: Options) -> Sizes:
        return cls(5, 2, 1, 2) if options.quick else cls(200, 10, 2, 5)


def make_seed_000_event(i: int) -> dict[str, Any]:
    """Seed 000's sample body (POST /events), one message per event."""
    return {
        "event_type": LEVELS[i % len(LEVELS)].upper(),
        "service_name": "AuthService",
        "additional_data": f"Timeout error #{i}",
    }


@dataclass
class WriteRun:
    label: str
    target: float | None = None  # WCU per event, when this scenario has a target
    note: str = ""  # shown instead of a target
    events: int = 0
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    handler: Usage = field(default_factory=Usage)
    authorizer: Usage = field(default_factory=Usage)

    def add(self, reply: Reply, events: int) -> None:
        self.events += events
        self.requests += 1
        self.handler += reply.handler
        self.authorizer += reply.authorizer
        body = reply.body
        if isinstance(body, dict) and "items" in body:
            self.outcomes.update(item["status"] for item in body["items"])
        else:
            self.outcomes["accepted" if reply.status == 201 else "duplicate"] += 1

    @property
    def wcu_per_event(self) -> float:
        return (self.handler.write_units + self.authorizer.write_units) / self.events

    def table_wcu_per_event(self, table: str) -> float:
        return (self.handler.write[table] + self.authorizer.write[table]) / self.events


def ingest_batches(
    stack: Stack, tenant: Tenant, run: WriteRun, first: int, count: int, ids: str
) -> None:
    """`count` batches of BATCH events from event `first` on; with client event_ids `ids`-<i>
    unless `ids` is empty."""
    for batch in range(count):
        start = first + batch * BATCH
        body = [
            make_event(i, f"{ids}-{i:06d}" if ids else None) for i in range(start, start + BATCH)
        ]
        run.add(stack.post_events(tenant, body), len(body))


def ingest_late(stack: Stack, tenant: Tenant, run: WriteRun, hours: int) -> None:
    """Batches over whole hours of one UTC day, each an hour earlier than the one before: late
    events, which a message group's last-seen condition turns away when a later time is stored
    already (the failed conditional updates, and the updates that follow, show per operation)."""
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    if end.hour < hours:
        end = end.replace(hour=0)  # the last hours of yesterday: one day, whatever the time
    step = timedelta(hours=1) / BATCH
    for batch in range(hours):
        hour = end - timedelta(hours=batch + 1)
        start = batch * BATCH
        body = [make_event(start + i, occurred=hour + step * (i + 0.5)) for i in range(BATCH)]
        run.add(stack.post_events(tenant, body), len(body))


@dataclass
class WritesResult:
    runs: list[WriteRun]
    tables: tuple[str, str]  # the events table, the aggregates table (physical names)
    scans: int


def measure(options: Options) -> WritesResult:
    sizes = Sizes.of(options)
    with in_process_moto() as stack:
        runs = measure_runs(stack, sizes)
        return WritesResult(runs, (stack.events_table, stack.aggregates_table), stack.scans)


def measure_runs(stack: Stack, sizes: Sizes) -> list[WriteRun]:
    single, plain = stack.tenant("bench-single"), stack.tenant("bench-batch")
    with_ids, late = stack.tenant("bench-dedup"), stack.tenant("bench-late")
    seed_000 = stack.tenant("bench-seed-000")

    a = WriteRun("(a) single events, one per request", TARGET_SINGLE_WCU)
    for i in range(sizes.singles):
        a.add(stack.post_events(single, make_event(i)), 1)

    batches = f"{sizes.batches} batch{'es' * (sizes.batches != 1)}"
    b = WriteRun(f"(b) {batches} of {BATCH}, 5 names x 3 levels", TARGET_BATCH_WCU)
    ingest_batches(stack, plain, b, 0, sizes.batches, ids="")

    c = WriteRun("(c) as (b), every event with a client event_id", TARGET_EVENT_ID_WCU)
    ingest_batches(stack, with_ids, c, 0, sizes.batches, ids="bench")

    resent = f"{sizes.resent} batch{'es' * (sizes.resent != 1)}"
    d = WriteRun(f"(d) {resent} of (c) sent again: all duplicates")
    ingest_batches(stack, with_ids, d, 0, sizes.resent, ids="bench")

    e = WriteRun(f"(e) {sizes.late_hours} batches as (b), each an hour earlier (late)")
    ingest_late(stack, late, e, sizes.late_hours)

    f = WriteRun(
        "(f) seed 000 single events, POST /events",
        note=" (numbered: + index item, + counter blocks)",
    )
    for i in range(sizes.singles):
        f.add(stack.post_seed_000_event(seed_000, make_seed_000_event(i)), 1)

    runs = [a, b, c, d, e, f]
    outcomes = ("accepted", "accepted", "accepted", "duplicate", "accepted", "accepted")
    for run, outcome in zip(runs, outcomes, strict=True):
        if run.outcomes != Counter({outcome: run.events}):
            raise RuntimeError(f"bench: {run.label}: expected all {outcome}, got {run.outcomes}")
    return runs


def show(result: WritesResult) -> None:
    print(
        f"   {'scenario':<50} {'events':>6} {'reqs':>5} {'WCU':>8} {'WCU/event':>9} "
        f"{'RCU/req':>8} {'auth RCU/req':>12}"
    )
    for run in result.runs:
        handler, auth = run.handler, run.authorizer
        print(
            f"   {run.label:<50} {run.events:>6} {run.requests:>5} "
            f"{handler.write_units + auth.write_units:>8.2f} {run.wcu_per_event:>9.2f} "
            f"{handler.read_units / run.requests:>8.2f} {auth.read_units / run.requests:>12.2f}"
        )
    events_table, aggregates_table = result.tables
    print(
        f"   {'WCU per event, by table':<50} {'raw events':>10} {'aggregates':>10} {'total':>7}"
        f"   target"
    )
    for run in result.runs:
        target = f"<= {run.target:.2f}" if run.target is not None else f"none{run.note}"
        raw, aggregates = (run.table_wcu_per_event(table) for table in result.tables)
        total = run.wcu_per_event
        print(f"   {run.label:<50} {raw:>10.2f} {aggregates:>10.2f} {total:>7.2f}   {target}")
    print(
        f"   raw events: {events_table} (events, client event_id claims, seed 000's number "
        f"index items and counters);\n   aggregates: {aggregates_table}, which ingest no longer "
        "writes: the aggregator counts the events from\n   the events table's stream (section "
        "1b), so these figures are the request path alone. An event\n   is 1 WCU (under 1 KB); "
        "a client event_id adds its claim, 1 WCU an event (a duplicate (d) is\n   refused by "
        "both conditions, each still 1 WCU); a seed 000 event its number's index item (1 WCU)\n"
        "   and a share of the counter's block refills: blocks of 1, 2, 4... numbers, each "
        "lasting about 10 s\n   at the rate the last one went, at most 100 (here the rate is "
        "moto's, a few requests a second;\n   from 10 a second on, 0.01 WCU)."
    )
    print("   per event, by table and operation (ingest handler):")
    print_operations([(run.label, run.handler, run.events) for run in result.runs])


def targets(result: WritesResult | None, options: Options) -> list[Target]:
    runs = result.runs if result else None
    return [
        Target(description, runs[index].wcu_per_event if runs else None, limit, key=key)
        for index, key, description, limit in (
            (0, "a", "WCU per event, single events (a)", TARGET_SINGLE_WCU),
            (1, "b", f"WCU per event, plain batches of {BATCH} (b)", TARGET_BATCH_WCU),
            (
                2,
                "c",
                f"WCU per event, batches of {BATCH} with client event_ids (c)",
                TARGET_EVENT_ID_WCU,
            ),
        )
    ]


SECTION = Section(
    key="writes",
    title="1. DynamoDB write request units per ingested event: the request path",
    subtitle="POST /apps/{app_id}/events ((f): POST /events): authorizer + ingest handler, "
    "through the local stack's gateway, tables in moto",
    measure=measure,
    show=show,
    targets=targets,
    scans=lambda result: result.scans,
)
