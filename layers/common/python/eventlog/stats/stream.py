"""The events table's stream, counted exactly once: the aggregator function's core.

Every stored event is counted and every event an admin deletes is taken off, by this processor
only; ingest never counts. A stream batch arrives at least once (a retry after a failure, a
batch cut in two after a crash), so it is applied in chunks, each one `TransactWriteItems`:

- a chunk is a run of consecutive records, cut greedily from its first record until its
  counter items would pass MAX_CHUNK_ITEMS, so the same records always make the same cut;
- its transaction holds the chunk's counter updates (many events merge into one update per
  item) and a marker `CHUNK#<first sequence number>` / `MARK` (`attribute_not_exists`, with the
  chunk's last sequence number, expiring after `aggregates.MARKER_SECONDS`, longer than the
  stream keeps a record). A replayed chunk finds its marker: the transaction is cancelled, the
  marker says how far its records were applied, and the processor goes on after them;
- Lambda cuts a batch that crashed in two (BisectBatchOnFunctionError), and the second half may
  start inside a chunk already applied: the batch's middle record, when inside a chunk, gets a
  marker of its own (a guard) in that chunk's transaction;
- a chunk that fails is reported as the batch's first failure (`batchItemFailures`): Lambda
  retries from its first record, where the cut starts again the same way.

What counts: an INSERT adds its event; a REMOVE by a deletion subtracts its old image; a REMOVE
by TTL expiry (its `userIdentity` is the DynamoDB service) changes nothing: aggregates outlive
raw events. A record that cannot be read as an event is sent to the aggregation failure queue
with the reason, and the rest of its chunk is counted.

After a chunk is applied (now, or by an earlier try), its side effects are sent: notifications
for the events matching an alert rule (the notifier acts once per (event, rule), so a resent one
notifies nobody twice), and the records that could not be counted. Then each app's watermark
moves to the newest change counted.
"""

import json
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from eventlog.base.config import get_settings
from eventlog.base.errors import NotFoundError
from eventlog.base.timeutil import parse_iso, utcnow
from eventlog.delivery import alerts, notify_queue
from eventlog.models.alerts import AlertRule
from eventlog.models.events import Event
from eventlog.stats.aggregation import Deltas, DimensionValue
from eventlog.storage import aggregates, event_store
from eventlog.storage.aggregates import LAST_SEEN_PREFIX, key_of

logger = Logger(child=True)
K = TypeVar("K")
V = TypeVar("V")

# TransactWriteItems takes 100 actions: the rest are the marker and at most two guards.
MAX_CHUNK_ITEMS = 97
COMMIT_ATTEMPTS = 6
# A chunk is not started with less time left than this: it is retried by the next invocation.
TIME_MARGIN_SECONDS = 10.0
KNOWN_VALUES_CACHED = 100_000
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


@dataclass
class Record:
    """One stream record as the processor sees it."""

    sequence: str
    changes: list[tuple[Event, int]]  # (event, +1 stored / -1 deleted)
    at: datetime | None  # when the change was made; None: nothing to count
    raw: dict[str, Any]
    problem: str | None = None  # why it cannot be counted

    @property
    def position(self) -> int:
        return int(self.sequence)

    @cached_property
    def items_touched(self) -> set[tuple[str, str]]:
        """The keys of the aggregate items its changes add to (a name or service counted under
        the overflow still counts its own): what cutting chunks weighs, once per record."""
        deltas = Deltas()
        for event, sign in self.changes:
            deltas.add(event, sign)
        return set(deltas.items) | {key_of(found.key()) for found in deltas.dimension_counts}


def parse(raw: dict[str, Any]) -> Record:
    record = DynamoDBRecord(raw)
    stream = record.dynamodb
    sequence = (stream.sequence_number if stream else None) or ""
    try:
        return _parse(record, sequence, raw)
    except Exception as error:  # anything a record holds must not stop its batch
        return Record(sequence, [], None, raw, problem=f"{type(error).__name__}: {error}")


def _parse(record: DynamoDBRecord, sequence: str, raw: dict[str, Any]) -> Record:
    stream = record.dynamodb
    if stream is None or not sequence.isdigit():
        raise ValueError("not a DynamoDB stream record (no dynamodb.SequenceNumber)")
    if not str(stream.keys.get("sk", "")).startswith(event_store.EVENT_PREFIX):
        return Record(sequence, [], None, raw)  # not an event: claims, numbers (filtered out)
    name = record.get("eventName") or ""
    if name == "REMOVE" and record.user_identity.get("principalId") == TTL_PRINCIPAL:
        return Record(sequence, [], None, raw)  # expired: aggregates outlive raw events
    changes: list[tuple[Event, int]] = []
    if name in ("MODIFY", "REMOVE"):
        changes.append((event_store.from_item(stream.old_image), -1))
    if name in ("INSERT", "MODIFY"):
        changes.append((event_store.from_item(stream.new_image), +1))
    if not changes:
        raise ValueError(f"unknown eventName {name!r}")
    if name == "INSERT":
        at = parse_iso(changes[0][0].received_at)
    else:
        approximate = stream.get("ApproximateCreationDateTime")
        at = datetime.fromtimestamp(float(approximate), UTC) if approximate else utcnow()
    return Record(sequence, changes, at, raw)


# ---------------------------------------------------------------- state kept between chunks


class _Recent(Generic[K, V]):
    """A mapping kept for the life of the container that forgets its least recently used
    entries beyond `size`."""

    def __init__(self, size: int = KNOWN_VALUES_CACHED):
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        if key in self._entries:
            self._entries.move_to_end(key)
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


# Names and services known to have their own item (they never lose it): a steady app's chunks
# read nothing before writing.
known_values: _Recent[DimensionValue, bool] = _Recent()


class _Rules:
    """Each app's alert rules, read once per invocation."""

    def __init__(self) -> None:
        self._rules: dict[int, list[AlertRule]] = {}
        self._conditional: dict[int, list[tuple[AlertRule, datetime]]] = {}

    def of(self, app_id: int) -> list[AlertRule]:
        if app_id not in self._rules:
            try:
                self._rules[app_id] = alerts.app_and_rules(app_id)[1]
            except NotFoundError:
                self._rules[app_id] = []
        return self._rules[app_id]

    def counted(self, event: Event) -> list[str]:
        """The rules with a condition that match the event and existed when it was received:
        their counters count it (and a deletion takes it off the same counters)."""
        received = parse_iso(event.received_at)
        return [
            rule.id
            for rule, created in self._with_condition(event.app_id)
            if created <= received and rule.matches(event.level, event.name, event.service)
        ]

    def _with_condition(self, app_id: int) -> list[tuple[AlertRule, datetime]]:
        """The app's rules with a condition, and when each was created (parsed once)."""
        if app_id not in self._conditional:
            self._conditional[app_id] = [
                (rule, parse_iso(rule.created_at))
                for rule in self.of(app_id)
                if rule.condition is not None
            ]
        return self._conditional[app_id]


# ---------------------------------------------------------------- chunks


def chunk_end(records: list[Record], start: int) -> int:
    """Where the chunk starting at `start` ends (exclusive): as many records as fit in
    MAX_CHUNK_ITEMS counter items, at least one. Depends on the records only."""
    touched: set[tuple[str, str]] = set()
    end = start
    while end < len(records):
        adding = touched.union(records[end].items_touched)
        if len(adding) > MAX_CHUNK_ITEMS and end > start:
            break
        touched = adding
        end += 1
    return end


def guards_of(records: list[Record]) -> set[int]:
    """The positions where a bisected retry of this batch would start."""
    count = len(records)
    return {count // 2, (count + 1) // 2} - {0, count} if count > 1 else set()


class ChunkApplied(Exception):
    """The chunk's marker exists: its records up to `last` were applied before."""

    def __init__(self, last: int):
        super().__init__(f"applied up to {last}")
        self.last = last


def _deltas(records: list[Record], rules: _Rules) -> Deltas:
    deltas = Deltas()
    for record in records:
        for event, sign in record.changes:
            deltas.add(event, sign, rules.counted(event))
    return deltas


def _place_dimensions(deltas: Deltas) -> set[tuple[str, str]]:
    """Decide which names and services get an item of their own (the day's limit applied);
    returns the keys of the items to create, each created once (a condition)."""
    limit = get_settings().name_cardinality_limit
    unknown = [value for value in deltas.dimension_counts if not known_values.get(value)]
    keys = {key_of(value.key()): value.key() for value in unknown}
    keys |= {key_of(value.day_key): value.day_key for value in unknown}
    stored = aggregates.read_items(list(keys.values()))
    new_by_day: dict[tuple[int, str, str], list[DimensionValue]] = defaultdict(list)
    for value in unknown:
        if key_of(value.key()) in stored:
            known_values.put(value, True)
        elif value in deltas.positive_values:
            new_by_day[(value.app_id, value.dimension, value.day)].append(value)
    own = {value for value in deltas.dimension_counts if known_values.get(value)}
    creating: set[tuple[str, str]] = set()
    for new in new_by_day.values():
        counter = new[0].dimension.distinct_counter
        distinct = int(stored.get(key_of(new[0].day_key), {}).get(counter, 0))
        allowed = new[: max(0, limit - distinct)]
        if len(allowed) < len(new):
            logger.warning(
                "distinct values over the day's limit: counted under the overflow value",
                extra={"app_id": new[0].app_id, "dimension": new[0].dimension.value,
                       "day": new[0].day, "limit": limit, "overflowed": len(new) - len(allowed)},
            )  # fmt: skip
        own.update(allowed)
        deltas.item(new[0].day_key).counters[counter] += len(allowed)
        creating.update(key_of(value.key()) for value in allowed)
    deltas.place_dimensions(own)
    return creating


class _SeenTimes:
    """Last-seen times known to be stored (they only move forward), per item and attribute: a
    time at or before one of them is dropped before the transaction, whose condition would
    otherwise cancel it (a late event, counted after a later one of its message group)."""

    def __init__(self) -> None:
        self._times: _Recent[tuple[str, str, str], int] = _Recent()

    def note(self, key: tuple[str, str], name: str, ms: int) -> None:
        entry = (*key, name)
        self._times.put(entry, max(ms, self._times.get(entry) or 0))

    def drop_stale(self, deltas: Deltas) -> None:
        for delta in deltas.items.values():
            key = key_of(delta.key)
            delta.last_seen = {
                name: ms
                for name, ms in delta.last_seen.items()
                if (self._times.get((*key, name)) or 0) < ms
            }

    def read(self, keys: set[tuple[str, str]]) -> None:
        """Learn the stored times of these items (whose last-seen condition failed)."""
        wanted = [{"pk": pk, "sk": sk} for pk, sk in sorted(keys)]
        for key, item in aggregates.read_items(wanted).items():
            for name, value in item.items():
                if name.startswith(LAST_SEEN_PREFIX):
                    self.note(key, name, int(value))

    def clear(self) -> None:
        self._times.clear()


seen_times = _SeenTimes()


def commit(records: list[Record], guards: list[Record], rules: _Rules) -> None:
    """Apply a chunk exactly once; ChunkApplied when its marker says it was applied before."""
    countable = [record for record in records if record.problem is None]
    first, last = records[0].sequence, records[-1].sequence
    for attempt in range(COMMIT_ATTEMPTS):
        deltas = _deltas(countable, rules)
        creating = _place_dimensions(deltas)
        seen_times.drop_stale(deltas)
        try:
            aggregates.write_chunk(
                first, last, [guard.sequence for guard in guards], deltas.changed_items(), creating
            )
            for delta in deltas.items.values():
                for name, ms in delta.last_seen.items():
                    seen_times.note(key_of(delta.key), name, ms)
            return
        except aggregates.ChunkCancelled as cancelled:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            if cancelled.marker_exists:
                raise ChunkApplied(aggregates.chunk_applied_until(first)) from None
            # A value created meanwhile by another chunk (read again), a last-seen time a later
            # event moved past (dropped), a concurrent transaction on an item (tried again).
            seen_times.read(cancelled.conflicts)
            logger.info(
                "chunk transaction cancelled: retrying", extra={"reasons": cancelled.reasons}
            )
            time.sleep(0.05 * 2**attempt)


# ---------------------------------------------------------------- a batch


@dataclass
class BatchOutcome:
    failed_at: str | None = None  # the sequence number Lambda retries from; None: all done
    counted: int = 0  # records applied by this invocation
    replayed: int = 0  # records found applied before
    uncountable: int = 0
    chunks: int = 0
    watermarks: dict[int, datetime] = field(default_factory=dict)

    def response(self) -> dict[str, Any]:
        failures = [{"itemIdentifier": self.failed_at}] if self.failed_at else []
        return {"batchItemFailures": failures}


def process(raw_records: list[dict[str, Any]], seconds_left: Callable[[], float]) -> BatchOutcome:
    """Apply a batch of stream records, chunk by chunk, in order. Whatever fails is reported
    (batchItemFailures) from the first record not done, never raised: a raised error would make
    Lambda retry the batch in halves, the only retries whose start is not a chunk's."""
    records = [parse(raw) for raw in raw_records]
    rules = _Rules()
    guard_positions = guards_of(records)
    outcome = BatchOutcome()
    start = 0
    while start < len(records):
        if seconds_left() < TIME_MARGIN_SECONDS:
            outcome.failed_at = records[start].sequence
            logger.warning("time is short: the rest of the batch is left for a retry")
            break
        try:
            start = _apply_chunk(records, start, guard_positions, rules, outcome)
        except Exception:
            logger.exception(
                "chunk not applied, or its notifications not queued: reported for a retry",
                extra={"first": records[start].sequence},
            )
            outcome.failed_at = records[start].sequence
            break
    try:
        _advance_watermarks(outcome)
    except Exception:  # the counts are in: the next batch of the app moves it
        logger.exception("watermark not moved")
    return outcome


def _apply_chunk(
    records: list[Record],
    start: int,
    guard_positions: set[int],
    rules: _Rules,
    outcome: BatchOutcome,
) -> int:
    """Apply the chunk starting at `start` (or find it applied), send its side effects, and
    return where the next chunk starts."""
    end = chunk_end(records, start)
    chunk = records[start:end]
    try:
        commit(chunk, [records[i] for i in sorted(guard_positions) if start < i < end], rules)
        done = end
        outcome.counted += len(chunk)
        outcome.chunks += 1
    except ChunkApplied as applied:
        done = next(
            (i for i in range(start, len(records)) if records[i].position > applied.last),
            len(records),
        )
        done = max(done, start + 1)
        outcome.replayed += done - start
        # This batch's middle, inside what was applied before, is where its bisected retry
        # would start: mark it too, so a crash of this invocation stays exact.
        aggregates.write_guards(
            [records[i].sequence for i in guard_positions if start < i < done],
            str(applied.last),
        )
    _side_effects(records[start:done], rules, outcome)
    return done


def _side_effects(records: list[Record], rules: _Rules, outcome: BatchOutcome) -> None:
    stored: dict[int, list[Event]] = defaultdict(list)
    for record in records:
        if record.problem is not None:
            continue
        for event, sign in record.changes:
            if sign > 0:
                stored[event.app_id].append(event)
        if record.at is not None and record.changes:
            app_id = record.changes[0][0].app_id
            newest = outcome.watermarks.get(app_id)
            if newest is None or record.at > newest:
                outcome.watermarks[app_id] = record.at
    for app_id, events in stored.items():
        notify_queue.enqueue_matches(app_id, events, rules.of(app_id))
    problems = [record for record in records if record.problem is not None]
    if problems:
        for record in problems:
            logger.error(
                "stream record not counted: sent to the aggregation failure queue",
                extra={"sequence": record.sequence, "reason": record.problem},
            )
        bodies = [
            json.dumps({"reason": record.problem, "record": record.raw}, default=str)
            for record in problems
        ]
        notify_queue.send(get_settings().aggregation_failure_queue_url, bodies)
        outcome.uncountable += len(problems)


def _advance_watermarks(outcome: BatchOutcome) -> None:
    for app_id, at in outcome.watermarks.items():
        aggregates.advance_watermark(app_id, at)
