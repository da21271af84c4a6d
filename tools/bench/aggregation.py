"""Section 1b: the aggregator's write units per event (the events table's stream).

The events are stored beforehand (setup, not counted); the local stack's stream poller then
invokes the aggregator over the stream (the template's mapping, its filter and BatchSize), and
what the aggregator's invocations consume is measured. The poller's own stream calls are
Lambda's: not counted.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from capacity import Usage

from bench.report import notes
from bench.section import Options, Section, Target
from bench.stack import (
    FILL_STREAM_BATCH,
    STREAM_BATCH,
    Reply,
    Stack,
    in_process_moto,
    unqueued,
)
from bench.workload import LEVELS, NAMES, make_event, spread_over

STEADY_RATE = 50  # (j): single events a second, one stream batch a second (1 s window)
HOT_RATE = 5_000  # (k): events a second into one app

TARGET_FEW_GROUPS_WCU = 0.25  # (g2): aggregator, 5 names x 3 levels, one message per name
TARGET_NEW_NAMES_WCU = 3.0  # (h): aggregator, every event a new name
TARGET_NAMES_RATIO = 1.1  # (i): aggregator, many vs few names that day
TARGET_STEADY_WCU = 1.3  # (j): request path + aggregation, STEADY_RATE single events a second
TARGET_HOT_ITEM_WRITES = 100.0  # (k): writes a second on the hottest aggregate item


@dataclass(frozen=True)
class Sizes:
    aggregated_batches: int  # stream batches of (g) and (i)
    new_name_batches: int  # stream batches of (h)
    few_names: int  # (i1): distinct names the app already has that day
    many_names: int  # (i2): the same, many
    steady_seconds: int  # (j): seconds of STEADY_RATE single events
    hot_events: int  # (k): events at HOT_RATE, a second of them or a part of it

    @classmethod
    def of(cls, options: Options) -> Sizes:
        return cls(1, 1, 10, 200, 1, 300) if options.quick else cls(2, 1, 10, 10_000, 4, 5_000)


ITEM_KINDS = {  # the part of an aggregate item's pk naming its kind (eventlog.stats.aggregation)
    "MINUTE": "counts",
    "HOUR": "counts",
    "DAY": "counts",
    "NAME": "names",
    "SERVICE": "services",
    "MSG": "message groups",
    "AS_OF": "watermark",
}
CHUNK_PARTS = ("counts", "names", "services", "message groups", "marker", "guards")


def item_kind(key: tuple[str, str]) -> str:
    """What an aggregate item is, from its key: a chunk's marker or guard, or ITEM_KINDS'."""
    pk, _ = key
    return "marker" if pk.startswith("CHUNK#") else ITEM_KINDS[pk.split("#")[2]]


def _wire_key(body: dict[str, Any]) -> tuple[str, str]:
    key = body["Item"] if "Item" in body else body["Key"]
    return key["pk"]["S"], key["sk"]["S"]


class AggregateWrites:
    """The aggregate items the aggregator's requests write, item by item: a botocore hook on the
    core's client, beside the meter. A committed TransactWriteItems is a chunk: its actions'
    keys in order (the marker first, then any guard, then the items counted into); the
    UpdateItems are the watermark's (one per app and invocation)."""

    def __init__(self) -> None:
        self.chunks: list[list[tuple[str, str]]] = []
        self.cancelled = 0  # transactions cancelled (the aggregator tries them again)
        self.watermarks: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        from eventlog.storage import db

        emitter = db.client().meta.events
        hooks = (
            ("before-call.dynamodb.TransactWriteItems", self._before_transaction),
            ("after-call.dynamodb.TransactWriteItems", self._after_transaction),
            ("before-call.dynamodb.UpdateItem", self._before_update),
        )
        for event_name, hook in hooks:
            emitter.register(event_name, hook)
        try:
            yield
        finally:
            for event_name, hook in hooks:
                emitter.unregister(event_name, hook)

    def _before_transaction(self, params: dict[str, Any], context: dict, **_: Any) -> None:
        request = json.loads(params.get("body") or b"{}")
        actions = [next(iter(action.values())) for action in request["TransactItems"]]
        context["bench_chunk"] = [_wire_key(body) for body in actions]

    def _after_transaction(self, http_response: Any, context: dict, **_: Any) -> None:
        keys = context.pop("bench_chunk", None)
        if keys is None:
            return
        if http_response.status_code < 300:
            self.chunks.append(keys)
        else:
            self.cancelled += 1

    def _before_update(self, params: dict[str, Any], **_: Any) -> None:
        self.watermarks.append(_wire_key(json.loads(params.get("body") or b"{}")))

    def items_per_chunk(self) -> dict[str, float]:
        """The items a chunk wrote on average, by CHUNK_PARTS."""
        counted: Counter[str] = Counter()
        for marker, *others in self.chunks:
            counted[item_kind(marker)] += 1
            for key in others:
                kind = item_kind(key)
                counted["guards" if kind == "marker" else kind] += 1
        return {part: counted[part] / max(1, len(self.chunks)) for part in CHUNK_PARTS}

    def writes_by_item(self) -> Counter[tuple[str, str]]:
        """How many committed requests wrote each item."""
        writes = Counter(key for chunk in self.chunks for key in chunk)
        writes.update(self.watermarks)
        return writes


@dataclass
class AggregationRun:
    """The aggregator over events stored beforehand: its units, what its chunks wrote, and
    for (j) the requests that stored the events."""

    label: str
    events: int = 0
    invocations: int = 0
    usage: Usage = field(default_factory=Usage)  # the aggregator's invocations
    request: Usage | None = None  # the requests (authorizer + ingest), (j) only
    writes: AggregateWrites = field(default_factory=AggregateWrites)

    def aggregate(self, stack: Stack, events: int) -> None:
        """Run the aggregator over the `events` just stored, STREAM_BATCH a batch: measured."""
        with stack.meter.measure() as used, self.writes.recording():
            summary = stack.aggregate(events)
        self.events += events
        self.invocations += summary.invocations
        self.usage += used

    def add_request(self, reply: Reply) -> None:
        self.request = (self.request or Usage()) + reply.handler + reply.authorizer

    @property
    def wcu_per_event(self) -> float:
        return self.usage.write_units / self.events

    @property
    def rcu_per_event(self) -> float:
        return self.usage.read_units / self.events

    @property
    def request_wcu_per_event(self) -> float:
        return self.request.write_units / self.events if self.request else 0.0

    @property
    def total_wcu_per_event(self) -> float:
        return self.request_wcu_per_event + self.wcu_per_event


@dataclass
class AggregationResult:
    runs: dict[str, AggregationRun]  # "g1", "g2", "g3", "h", "i1", "i2", "j1", "j2", "k"
    sizes: Sizes
    aggregates_table: str
    fill_seconds: float  # setup of (i2): its names through the stream
    seconds: float
    scans: int

    @property
    def names_ratio(self) -> float:
        return self.runs["i2"].wcu_per_event / self.runs["i1"].wcu_per_event

    def hottest(self) -> tuple[tuple[str, str], int]:
        """(k): the aggregate item written by the most requests, and how many."""
        ((key, writes),) = self.runs["k"].writes.writes_by_item().most_common(1)
        return key, writes

    @property
    def hot_item_writes_per_second(self) -> float:
        """(k)'s hottest item's writes a second at HOT_RATE."""
        return self.hottest()[1] * HOT_RATE / self.runs["k"].events


def one_message_per_name(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a message naming its name only: one message group per name."""
    return {**event, "message": f"{event['name']}: request handled"}


def without_message(event: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != "message"}


def aggregated(stack: Stack, key: str, label: str, events: list[dict[str, Any]]) -> AggregationRun:
    """Store `events` in an app of their own (setup), then run the aggregator over them."""
    app_id = stack.new_app(f"bench-aggregated-{key}")
    stack.store(app_id, events)
    run = AggregationRun(label)
    run.aggregate(stack, len(events))
    return run


def names_of_the_day(count: int) -> list[str]:
    """`count` distinct names, NAMES among them."""
    return [*NAMES, *(f"jobs.task{n:05d}" for n in range(count - len(NAMES)))]


def aggregated_after_names(
    stack: Stack, key: str, label: str, names: int, events: list[dict[str, Any]], day: datetime
) -> tuple[AggregationRun, float]:
    """(i): the aggregator over `events` into an app that already has `names` distinct names
    counted that day (setup, not measured: an event each, through the stream, in batches of
    FILL_STREAM_BATCH); also the seconds that setup took."""
    started = time.monotonic()
    app_id = stack.new_app(f"bench-aggregated-{key}")
    filling = [{"name": name, "occurred_at": day.isoformat()} for name in names_of_the_day(names)]
    stack.store(app_id, filling)
    with stack.meter.paused():
        stack.aggregate(len(filling), FILL_STREAM_BATCH)
    fill_seconds = time.monotonic() - started
    stack.store(app_id, events)
    run = AggregationRun(label)
    run.aggregate(stack, len(events))
    return run, fill_seconds


def steady_singles(
    stack: Stack, key: str, label: str, seconds: int, event: Callable[[int], Any]
) -> AggregationRun:
    """(j): STEADY_RATE single-event requests (measured: authorizer + ingest), then the stream
    batch of those events a 1 s batching window makes, `seconds` times."""
    tenant = stack.tenant(f"bench-steady-{key}")
    run = AggregationRun(label)
    for second in range(seconds):
        for i in range(STEADY_RATE):
            run.add_request(stack.post_events(tenant, event(second * STEADY_RATE + i)))
        run.aggregate(stack, STEADY_RATE)
    return run


def measure(options: Options) -> AggregationResult:
    sizes = Sizes.of(options)
    with in_process_moto() as stack:
        return measure_runs(stack, sizes)


def measure_runs(stack: Stack, sizes: Sizes) -> AggregationResult:
    """The aggregator's units per event, scenario by scenario, each in an app of its own. The
    events (but (j)'s) happened in the last whole minute: a scenario's counts go to one minute,
    hour and day bucket, however long moto takes."""
    started = time.monotonic()
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    count = sizes.aggregated_batches * STREAM_BATCH
    low = [
        make_event(i, occurred=spread_over(minute, timedelta(minutes=1), i, count))
        for i in range(count)
    ]
    new_names = [
        {**event, "name": f"jobs.task{i:05d}"}
        for i, event in enumerate(low[: sizes.new_name_batches * STREAM_BATCH])
    ]
    hot_span = timedelta(seconds=sizes.hot_events / HOT_RATE)
    hot = [
        make_event(i, occurred=spread_over(minute, hot_span, i, sizes.hot_events))
        for i in range(sizes.hot_events)
    ]
    groups = f"{len(NAMES)} names x {len(LEVELS)} levels"
    runs: dict[str, AggregationRun] = {}
    with unqueued():
        runs["g1"] = aggregated(stack, "g1", f"(g1) {groups}, make_event's messages", low)
        runs["g2"] = aggregated(
            stack,
            "g2",
            f"(g2) {groups}, one message per name",
            [one_message_per_name(event) for event in low],
        )
        runs["g3"] = aggregated(
            stack, "g3", "(g3) as (g2), without messages", [without_message(e) for e in low]
        )
        runs["h"] = aggregated(stack, "h", "(h) every event a new name, else as (g1)", new_names)
        few, many = sizes.few_names, sizes.many_names
        runs["i1"], _ = aggregated_after_names(
            stack, "i1", f"(i1) as (g1), with {few} names that day", few, low, minute
        )
        runs["i2"], fill_seconds = aggregated_after_names(
            stack, "i2", f"(i2) as (g1), with {many:,} names that day", many, low, minute
        )
        steady = f"{STEADY_RATE}/s single events"
        runs["j1"] = steady_singles(
            stack, "j1", f"(j1) {steady}, make_event", sizes.steady_seconds, make_event
        )
        runs["j2"] = steady_singles(
            stack,
            "j2",
            f'(j2) {steady}, {{"name": "login"}}',
            sizes.steady_seconds,
            lambda _i: {"name": "login"},
        )
        at_rate = f"(k) {sizes.hot_events:,} events at {HOT_RATE:,}/s, as (g1)"
        runs["k"] = aggregated(stack, "k", at_rate, hot)
    return AggregationResult(
        runs,
        sizes,
        stack.aggregates_table,
        fill_seconds,
        time.monotonic() - started,
        stack.scans,
    )


# ---------------------------------------------------------------- report


def _by_table(usage: Usage, events: int) -> str:
    """'AggregatesTable 0.33 WCU 0.01 RCU, RegistryTable 0.01 RCU': per event, by table."""
    parts = []
    for table in sorted(set(usage.write) | set(usage.read)):
        figures = [f"{usage.write[table] / events:.3f} WCU"] if usage.write[table] else []
        if usage.read[table]:
            figures.append(f"{usage.read[table] / events:.3f} RCU")
        parts.append(f"{table} {' '.join(figures)}")
    return ", ".join(parts)


def _chunk_items(run: AggregationRun) -> float:
    return sum(run.writes.items_per_chunk().values())


def _over_or_within(measured: float, limit: float) -> str:
    return "over" if measured > limit + 1e-9 else "within"


def _steady_target_scope(realistic: AggregationRun, tracker: AggregationRun) -> str:
    """Which of (j)'s two scenarios the target is measured on, and why."""
    realistic_meets, tracker_meets = (
        run.total_wcu_per_event <= TARGET_STEADY_WCU + 1e-9 for run in (realistic, tracker)
    )
    if tracker_meets and not realistic_meets:
        return (
            "The target applies to the tracker-style events (j2), the one of the two that meets it."
        )
    return "The summary shows the tracker-style events (j2)."


def show(result: AggregationResult) -> None:
    _show_scenarios(result)
    _show_chunks(result)
    _show_explanations(result)


def _show_scenarios(result: AggregationResult) -> None:
    by_key = {target.key: target for target in _targets(result, result.sizes)}
    j1 = result.runs["j1"]
    notes_of = {
        "g1": f"none: {len(NAMES) * len(LEVELS)} message groups, see (g)",
        "g3": "none: no message group, see (g)",
        "i1": "none: the base of (i2)",
        "j1": f"none: {j1.total_wcu_per_event:.2f} in all, "
        f"{_over_or_within(j1.total_wcu_per_event, TARGET_STEADY_WCU)} (j2)'s "
        f"{TARGET_STEADY_WCU:.2f}, see (j)",
    }
    print(
        f"   {'scenario':<46} {'events':>6} {'inv':>3} {'chunks':>6} {'request':>7} "
        f"{'aggregator':>10} {'total':>6} {'RCU/event':>9}   target"
    )
    for key, run in result.runs.items():
        target = by_key.get(key)
        shown = f"<= {target.limit:.2f}{target.unit} {target.verdict}" if target else notes_of[key]
        if key == "i2":
            shown = f"(i2) / (i1) {result.names_ratio:.2f}x {shown}"
        if key == "k":
            shown = f"hottest item {result.hot_item_writes_per_second:.0f}/s {shown}"
        request = f"{run.request_wcu_per_event:.2f}" if run.request else "-"
        print(
            f"   {run.label:<46} {run.events:>6} {run.invocations:>3} "
            f"{len(run.writes.chunks):>6} {request:>7} {run.wcu_per_event:>10.2f} "
            f"{run.total_wcu_per_event:>6.2f} {run.rcu_per_event:>9.3f}   {shown}"
        )
    notes(
        "WCU per event. request: authorizer + ingest, (j) only (the request path of the others "
        "is section 1); aggregator: its invocations over the events, stream batches of "
        f"{STREAM_BATCH} ((j): the {STEADY_RATE} events of a second); inv: invocations; chunks: "
        "transactions committed. RCU: the app's rules (once per app and invocation) and, for "
        "names and services not known yet, their items."
    )


def _show_chunks(result: AggregationResult) -> None:
    table = result.aggregates_table
    print(
        f"\n   {'':<5} {'the aggregator WCU per event, by what it wrote':<49}"
        "   items a chunk (one TransactWriteItems)"
    )
    print(
        f"   {'':<5} {'counted':>8} {'markers':>8} {'guards':>8} {'watermark':>9} {'share':>6}   "
        f"{'counts':>6} {'names':>6} {'services':>8} {'groups':>6} {'marker':>6} {'guards':>6} "
        f"{'all':>5}"
    )
    for key, run in result.runs.items():
        used, events = run.usage, run.events
        items = run.writes.items_per_chunk()
        chunks = len(run.writes.chunks)
        puts = used.op_write[f"{table}.TransactWriteItems.Put"] / events  # markers and guards
        markers = puts * chunks / (chunks + items["guards"] * chunks)
        counted = used.op_write[f"{table}.TransactWriteItems.Update"] / events
        watermark = used.op_write[f"{table}.UpdateItem"] / events
        share = (puts + watermark) / run.wcu_per_event
        widths = (6, 6, 8, 6, 6, 6)
        print(
            f"   {f'({key})':<5} {counted:>8.3f} {markers:>8.3f} {puts - markers:>8.3f} "
            f"{watermark:>9.3f} {share:>6.0%}   "
            + " ".join(
                f"{items[part]:>{width}.1f}"
                for part, width in zip(CHUNK_PARTS, widths, strict=True)
            )
            + f" {_chunk_items(run):>5.1f}"
        )
    notes(
        "counted: the count buckets (minute, hour, day), names, services and message groups "
        "(groups) a chunk adds to; share: markers, guards and watermark updates, of the "
        "aggregator's WCU. An item written in a transaction costs twice its write units "
        "(prepare and commit): 2 WCU under 1 KB, however many events it merges. A marker per "
        "chunk, a guard on the batch's middle record when a chunk holds it, both 2 WCU; the "
        "watermark: one conditional UpdateItem (1 WCU) per app and invocation.",
        "Per table, per event:",
    )
    for key, run in result.runs.items():
        print(f"   {f'({key})':<5} {_by_table(run.usage, run.events)}")


def _show_explanations(result: AggregationResult) -> None:
    runs, sizes = result.runs, result.sizes
    g1, g2, g3, j1, j2, k = (runs[key] for key in ("g1", "g2", "g3", "j1", "j2", "k"))
    allowed = int((TARGET_FEW_GROUPS_WCU * STREAM_BATCH - 1) // 2)
    room = allowed - round(_chunk_items(g3))
    groups = f"{len(NAMES)} names x {len(LEVELS)} levels"
    print()
    notes(
        f"(g) The <= {TARGET_FEW_GROUPS_WCU:.2f} target applies to (g2): it is stated for "
        f"{groups} with few message groups, and (g2) has one message per name, so "
        f"{len(NAMES)} groups. The bench's make_event messages (g1) name the event's name and "
        f"level, so they fingerprint into {len(NAMES) * len(LEVELS)} groups, each one more item "
        "a chunk. A chunk costs 2 WCU per item it touches, not per event: (g2) touches "
        f"{_chunk_items(g2):.0f} items a batch of {STREAM_BATCH}, {g2.wcu_per_event:.2f} WCU an "
        f"event with the watermark; (g1) {_chunk_items(g1):.0f} items, {g1.wcu_per_event:.2f}; "
        f"the same events without messages (g3) {_chunk_items(g3):.0f} items, "
        f"{g3.wcu_per_event:.2f}. {TARGET_FEW_GROUPS_WCU:.2f} WCU an event allows {allowed} "
        f"items a batch of {STREAM_BATCH} beside the watermark: the count buckets, names, "
        f"service, marker and guard leave room for {room} message group{'s' * (room != 1)}.",
        f"(j) At {STEADY_RATE} events a second, a 1 s batching window makes a stream batch of "
        f"{STEADY_RATE}. Tracker-style events (one name, no service, no message) make "
        f"{_chunk_items(j2):.0f} items a chunk: {j2.wcu_per_event:.2f} WCU an event on top of "
        f"the request's {j2.request_wcu_per_event:.2f}. make_event's names, service and message "
        f"groups make {_chunk_items(j1):.0f}: {j1.wcu_per_event:.2f}, "
        f"{j1.total_wcu_per_event:.2f} in all, "
        f"{_over_or_within(j1.total_wcu_per_event, TARGET_STEADY_WCU)} "
        f"{TARGET_STEADY_WCU:.2f}. {_steady_target_scope(j1, j2)}",
    )
    (pk, sk), writes = result.hottest()
    per_second = result.hot_item_writes_per_second
    by_item = k.writes.writes_by_item()
    tied = sum(count == writes for count in by_item.values())
    busiest: dict[str, int] = {}
    for item, count in by_item.items():
        busiest[item_kind(item)] = max(busiest.get(item_kind(item), 0), count)
    notes(
        f"(k) {k.events:,} events at {HOT_RATE:,}/s are {k.events / HOT_RATE:g} s of them: "
        f"Lambda delivers {HOT_RATE // STREAM_BATCH} batches of {STREAM_BATCH} a second per "
        f"shard, so an item's writes a second are its writes over them x "
        f"{HOT_RATE / k.events:g}. The hottest items ({tied} of them, e.g. {pk} / {sk}) were "
        f"written {writes} times each, {per_second:.0f} a second; the most written item of each "
        "kind: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(busiest.items()))
        + f". At 2 WCU a write, a hottest item takes {2 * per_second:.0f} WCU a second, of the "
        "1,000 a partition allows.",
        f"Transactions cancelled (and tried again): "
        f"{sum(run.writes.cancelled for run in runs.values())}. Setup, not counted: the events "
        f"stored through ingest_batch; (i2)'s {sizes.many_names:,} names stored and counted "
        f"through the stream in {result.fill_seconds:.0f} s. No notification is queued here "
        f"(SQS, not DynamoDB: section 5 queues them). Section 1b took {result.seconds:.0f} s, in "
        "a process of its own.",
    )


def targets(result: AggregationResult | None, options: Options) -> list[Target]:
    return _targets(result, result.sizes if result else Sizes.of(options))


def _targets(result: AggregationResult | None, sizes: Sizes) -> list[Target]:
    """The section's targets (measured None when it could not be measured)."""
    runs = result.runs if result else None
    groups = f"{len(NAMES)} names x {len(LEVELS)} levels"
    return [
        Target(
            f"aggregator WCU/event, {groups}, a message per name (g2)",
            runs["g2"].wcu_per_event if runs else None,
            TARGET_FEW_GROUPS_WCU,
            key="g2",
        ),
        Target(
            "aggregator WCU per event, every event a new name (h)",
            runs["h"].wcu_per_event if runs else None,
            TARGET_NEW_NAMES_WCU,
            key="h",
        ),
        Target(
            f"aggregator WCU per event, {sizes.many_names:,} vs {sizes.few_names} names that "
            "day (i)",
            result.names_ratio if result else None,
            TARGET_NAMES_RATIO,
            "x",
            key="i2",
        ),
        Target(
            f"WCU per event, {STEADY_RATE}/s single tracker events, with aggregation (j2)",
            runs["j2"].total_wcu_per_event if runs else None,
            TARGET_STEADY_WCU,
            key="j2",
        ),
        Target(
            f"writes/s on the hottest aggregate item at {HOT_RATE:,} events/s (k)",
            result.hot_item_writes_per_second if result else None,
            TARGET_HOT_ITEM_WRITES,
            key="k",
        ),
    ]


SECTION = Section(
    key="aggregation",
    title="1b. Aggregation (the events table's stream): the aggregator's write units per event",
    subtitle="functions/aggregator/app.py, invoked by the local stack's stream poller (the "
    f"template's mapping, BatchSize {STREAM_BATCH}), tables and stream in moto",
    measure=measure,
    show=show,
    targets=targets,
    scans=lambda result: result.scans,
)
