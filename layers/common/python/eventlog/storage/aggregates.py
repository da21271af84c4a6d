"""The aggregates table: what the stream processor counts, what statistics read, the notifier's
state.

Written by the stream processor (`eventlog.stats.stream`, exactly once per stored or deleted
event), by a recount (`eventlog.stats.recount`) and by the notifier, each through the functions
of this module; no item grows with the number of distinct names, services or messages. Layout
(`pk`, `sk`):

- counts: `APP#<app>#<MINUTE|HOUR|DAY>` / bucket (`eventlog.stats.buckets`): `l|<level>` per level,
  `x|…` the service's own counters (notifications, heartbeats), `r|<rule_id>` in minute buckets
  (the events each alert rule with a condition matched), and in day buckets `d|names` /
  `d|services`, how many distinct names and services the day has items for. Bounded: five
  levels, a few counters, at most MAX_RULES_PER_APP rules.
- names and services: `APP#<app>#<NAME|SERVICE>` / `<day>|<value>`, one item per value and
  day holding `h|<hour>|<level>` counters (at most 24 x 5). All values of a range of days are
  one Query; one value's days are one BatchGetItem. Counts by name and by service are kept per
  hour, not per minute: minutes would cost a write per value and minute. Beyond
  `NAME_CARDINALITY_LIMIT` distinct names (or services) in a day, new ones are counted under
  OVERFLOW, a value no client can send (a control character).
- message groups: `APP#<app>#MSG#<day>` / message fingerprint: `h|<hour>|<level>` counters,
  `t|<hour>|<level>` the last time seen (epoch ms) and `sample` (the message of the first event
  received, of the first chunk that counted the group).
- the watermark: `APP#<app>#AS_OF` / `AS_OF`, `as_of_ms`: the newest change counted.
- chunk markers: `CHUNK#<sequence number>` / `MARK`, `last`: the stream processor applied the
  chunk holding that record up to this sequence number; expiring after MARKER_SECONDS.
- the notifier's cooldowns: `APP#<app>#ALERT` / `<rule_id>|<LEVEL>`, at the end of this module.

Expressions are strings, not boto3 conditions: these calls run in threads (`eventlog.storage.db`).
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from itertools import chain
from typing import Any

from eventlog.base.concurrency import run_parallel
from eventlog.base.timeutil import utcnow
from eventlog.stats.buckets import Granularity, Run
from eventlog.storage import db

SEPARATOR = "|"
DAY_KEY_LENGTH = len("2026-02-10")
# Stands for the names (or services) beyond a day's limit: Label refuses control characters.
OVERFLOW = "\x1f"
LAST_SEEN_PREFIX = f"t{SEPARATOR}"
# Longer than the 24 hours a stream keeps a record: a replay always finds its marker.
MARKER_SECONDS = 48 * 3600


class Dimension(StrEnum):
    NAME = "NAME"
    SERVICE = "SERVICE"

    @property
    def distinct_counter(self) -> str:
        return f"d{SEPARATOR}{self.lower()}s"


def level_counter(level: str) -> str:
    return f"l{SEPARATOR}{level}"


def rule_counter(rule_id: str) -> str:
    return f"r{SEPARATOR}{rule_id}"


def hour_counter(hour: int, level: str) -> str:
    return f"h{SEPARATOR}{hour:02d}{SEPARATOR}{level}"


def hour_last_seen(hour: int, level: str) -> str:
    return f"{LAST_SEEN_PREFIX}{hour:02d}{SEPARATOR}{level}"


def parse_hour_counter(counter: str) -> tuple[int, str] | None:
    """(hour, level) of `h|<hour>|<level>`; None for any other attribute."""
    kind, _, rest = counter.partition(SEPARATOR)
    hour, _, level = rest.partition(SEPARATOR)
    return (int(hour), level) if kind == "h" and hour.isdigit() else None


# The service's own counters, in the same count buckets.
NOTIFICATIONS_SENT = f"x{SEPARATOR}notifications_sent"
NOTIFICATIONS_FAILED = f"x{SEPARATOR}notifications_failed"
HEARTBEATS = f"x{SEPARATOR}heartbeats"
# Not derived from events: a recount never writes them, nor deletes an item holding one.
NOTIFIER_COUNTERS = (NOTIFICATIONS_SENT, NOTIFICATIONS_FAILED)


def counts_key(app_id: int, granularity: Granularity, bucket: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#{granularity}", "sk": bucket}


def dimension_key(app_id: int, dimension: Dimension, day: str, value: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#{dimension}", "sk": f"{day}{SEPARATOR}{value}"}


def messages_key(app_id: int, day: str, group_id: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#MSG#{day}", "sk": group_id}


def watermark_key(app_id: int) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#AS_OF", "sk": "AS_OF"}


def marker_key(sequence: str) -> dict[str, str]:
    return {"pk": f"CHUNK#{sequence}", "sk": "MARK"}


def key_of(key: dict[str, str]) -> tuple[str, str]:
    return key["pk"], key["sk"]


# ---------------------------------------------------------------- adding to items


@dataclass
class ItemDelta:
    """One aggregate item's share of a set of changes: counters to add, and for a message
    group its sample and last-seen times; for a name or service its value."""

    key: dict[str, str]
    counters: Counter[str] = field(default_factory=Counter)
    sample: str | None = None
    sample_of: str = ""  # the id of the event the sample is from: the first received wins
    last_seen: dict[str, int] = field(default_factory=dict)  # t|hour|level -> epoch ms
    value: str | None = None

    def nonzero(self) -> dict[str, int]:
        return {name: amount for name, amount in self.counters.items() if amount}

    def is_empty(self) -> bool:
        return not self.nonzero() and not self.last_seen


def update_expression(**clauses: list[str]) -> str:
    """`ADD a :a SET b = :b REMOVE c` from the clauses (by their keyword) that hold something."""
    return " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses.items() if parts)


def update_of(delta: ItemDelta) -> dict[str, Any]:
    """The `Update` of a transaction (or, flattened, an UpdateItem) applying one item's delta.

    A last-seen time is set only forward: the condition says so, and a transaction whose
    condition fails is cancelled as a whole, for the caller to retry without that time.
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds, sets, conditions = [], [], []
    for i, (name, amount) in enumerate(delta.nonzero().items()):
        names[f"#c{i}"], values[f":c{i}"] = name, amount
        adds.append(f"#c{i} :c{i}")
    if delta.sample is not None:
        names["#sample"], values[":sample"] = "sample", delta.sample
        sets.append("#sample = if_not_exists(#sample, :sample)")
    if delta.value is not None:
        names["#value"], values[":value"] = "value", delta.value
        sets.append("#value = :value")
    for i, (name, ms) in enumerate(delta.last_seen.items()):
        names[f"#t{i}"], values[f":t{i}"] = name, ms
        sets.append(f"#t{i} = :t{i}")
        conditions.append(f"(attribute_not_exists(#t{i}) OR #t{i} < :t{i})")
    update: dict[str, Any] = {
        "TableName": db.aggregates_table().name,
        "Key": delta.key,
        "UpdateExpression": update_expression(ADD=adds, SET=sets),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return update


def count_notifications(app_id: int, at: datetime, sent: int = 0, failed: int = 0) -> None:
    """Add delivered (sent) and given-up (failed) notifications to the minute, hour and day."""
    calls: list[Callable[[], dict[str, Any]]] = []
    for granularity in Granularity:
        delta = ItemDelta(counts_key(app_id, granularity, granularity.key(granularity.floor(at))))
        delta.counters.update({NOTIFICATIONS_SENT: sent, NOTIFICATIONS_FAILED: failed})
        if not delta.is_empty():
            calls.append(partial(db.call, "update_item", **update_of(delta)))
    run_parallel(calls)


def advance_watermark(app_id: int, as_of: datetime) -> None:
    """Record that the app's changes up to `as_of` are counted (never moving it back)."""
    as_of_ms = int(as_of.timestamp() * 1000)
    try:
        db.aggregates_table().update_item(
            Key=watermark_key(app_id),
            UpdateExpression="SET as_of_ms = :t",
            ConditionExpression="attribute_not_exists(as_of_ms) OR as_of_ms < :t",
            ExpressionAttributeValues={":t": as_of_ms},
        )
    except db.client().exceptions.ConditionalCheckFailedException:
        pass  # a newer change is counted already


# ---------------------------------------------------------------- the stream processor's chunks


class ChunkCancelled(Exception):
    """A chunk's transaction was cancelled: `reasons` holds each action's reason, its marker's
    first; `conflicts` the keys of the items whose condition failed."""

    def __init__(self, reasons: list[str], conflicts: set[tuple[str, str]]):
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons
        self.conflicts = conflicts

    @property
    def marker_exists(self) -> bool:
        """The chunk was applied before (its marker's condition failed)."""
        return bool(self.reasons) and self.reasons[0] == "ConditionalCheckFailed"


def _marker(sequence: str, last: str, expires_at: int) -> dict[str, Any]:
    return {**marker_key(sequence), "last": last, "expires_at": expires_at}


def _marker_expiry() -> int:
    return int((utcnow() + timedelta(seconds=MARKER_SECONDS)).timestamp())


def write_chunk(
    first: str,
    last: str,
    guards: list[str],
    deltas: list[ItemDelta],
    creating: set[tuple[str, str]],
) -> None:
    """One transaction: the marker of the chunk from `first` to `last` (unless it exists), a
    guard marker for each of `guards`, and each item's delta (an item in `creating` is created
    by it, unless it exists). ChunkCancelled when a condition failed or another transaction
    held an item."""
    table = db.aggregates_table().name
    expires_at = _marker_expiry()
    actions: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": _marker(first, last, expires_at),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    actions += [
        {"Put": {"TableName": table, "Item": _marker(guard, last, expires_at)}} for guard in guards
    ]
    for delta in deltas:
        update = update_of(delta)
        if key_of(delta.key) in creating:
            conditions = ["attribute_not_exists(pk)", update.get("ConditionExpression")]
            update["ConditionExpression"] = " AND ".join(c for c in conditions if c)
        actions.append({"Update": update})
    try:
        db.transact_write_items(actions)
    except db.client().exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons") or []
        codes = [reason.get("Code", "None") for reason in reasons]
        conflicts = {
            key_of(action["Update"]["Key"])
            for action, code in zip(actions, codes, strict=False)
            if code == "ConditionalCheckFailed" and "Update" in action
        }
        raise ChunkCancelled(codes, conflicts) from error


def chunk_applied_until(first: str) -> int:
    """The sequence number up to which the chunk starting at `first` was applied (its marker
    exists)."""
    item = db.aggregates_table().get_item(Key=marker_key(first), ConsistentRead=True)["Item"]
    return int(item["last"])


def write_guards(sequences: list[str], last: str) -> None:
    """Mark these records as applied up to `last`, each with a marker of its own."""
    table = db.aggregates_table()
    expires_at = _marker_expiry()
    for sequence in sequences:
        table.put_item(Item=_marker(sequence, last, expires_at))


def read_items(keys: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored items among these keys, by key, read consistently (BatchGetItem)."""
    items = db.batch_get_items(db.aggregates_table().name, keys, ConsistentRead=True)
    return {key_of(item): item for item in items}


# ---------------------------------------------------------------- reading statistics


@dataclass
class CountsBucket:
    granularity: Granularity
    start: datetime
    counters: dict[str, int]


def _counters_of(item: dict[str, Any]) -> dict[str, int]:
    return {
        name: int(value)
        for name, value in item.items()
        if name not in ("pk", "sk", "value", "sample")
    }


def read_counts(app_id: int, runs: list[Run]) -> list[CountsBucket]:
    """The stored count buckets of each run, in time order (buckets with nothing are absent)."""

    def read(run: Run) -> list[CountsBucket]:
        items = db.query_items(
            db.aggregates_table(),
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": counts_key(app_id, run.granularity, "")["pk"],
                ":first": run.first_key,
                ":last": run.last_key,
            },
        )
        return [
            CountsBucket(run.granularity, run.granularity.start(item["sk"]), _counters_of(item))
            for item in items
        ]

    return list(chain.from_iterable(run_parallel([partial(read, run) for run in runs])))


@dataclass
class DimensionDay:
    """One name's (or service's) counts on one day: `h|<hour>|<level>` -> count."""

    value: str
    day: datetime
    counters: dict[str, int]

    def hours(self) -> Iterable[tuple[datetime, int]]:
        """(start of the hour, count) of every hour with counts, all levels together."""
        per_hour: Counter[int] = Counter()
        for counter, count in self.counters.items():
            parsed = parse_hour_counter(counter)
            if parsed:
                per_hour[parsed[0]] += count
        for hour in sorted(per_hour):
            yield self.day.replace(hour=hour), per_hour[hour]


def _dimension_day(item: dict[str, Any]) -> DimensionDay:
    day = datetime.strptime(item["sk"][:DAY_KEY_LENGTH], "%Y-%m-%d").replace(tzinfo=UTC)
    return DimensionDay(value=item["value"], day=day, counters=_counters_of(item))


def _day_values_range(first_day: datetime, last_day: datetime) -> tuple[str, str]:
    """The sort keys between which lie every value's item of the days first_day to last_day."""
    day = Granularity.DAY.key
    # "}" sorts after the separator: every value of the last day is included.
    return f"{day(first_day)}{SEPARATOR}", f"{day(last_day)}}}"


def read_dimension_days(
    app_id: int, dimension: Dimension, first_day: datetime, last_day: datetime
) -> list[DimensionDay]:
    """Every value's counts on each day from first_day to last_day included: one Query."""
    first, last = _day_values_range(first_day, last_day)
    items = db.query_items(
        db.aggregates_table(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={
            ":pk": dimension_key(app_id, dimension, "", "")["pk"],
            ":first": first,
            ":last": last,
        },
    )
    return [_dimension_day(item) for item in items]


def read_dimension_value(
    app_id: int, dimension: Dimension, value: str, days: list[datetime]
) -> list[DimensionDay]:
    """One value's counts on each of these days (absent: no counts), by BatchGetItem."""
    keys = [dimension_key(app_id, dimension, Granularity.DAY.key(day), value) for day in days]
    items = db.batch_get_items(db.aggregates_table().name, keys)
    return sorted((_dimension_day(item) for item in items), key=lambda found: found.day)


@dataclass
class MessageGroup:
    group_id: str  # the fingerprint of its messages
    day: datetime
    sample: str
    counters: dict[str, int]  # h|hour|level -> count
    last_seen: dict[str, int]  # t|hour|level -> epoch ms


def read_message_groups(app_id: int, days: list[datetime]) -> list[MessageGroup]:
    """Every message group seen on each of these days."""

    def read(day: datetime) -> list[MessageGroup]:
        items = db.query_items(
            db.aggregates_table(),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={
                ":pk": messages_key(app_id, Granularity.DAY.key(day), "")["pk"]
            },
        )
        return [
            MessageGroup(
                group_id=item["sk"],
                day=day,
                sample=item["sample"],
                counters={k: int(v) for k, v in item.items() if k.startswith(f"h{SEPARATOR}")},
                last_seen={k: int(v) for k, v in item.items() if k.startswith(LAST_SEEN_PREFIX)},
            )
            for item in items
            if "sample" in item
        ]

    return list(chain.from_iterable(run_parallel([partial(read, day) for day in days])))


def read_watermark(app_id: int) -> datetime | None:
    """When the newest change counted for the app was made; None before the first."""
    item = db.aggregates_table().get_item(Key=watermark_key(app_id)).get("Item")
    if not item:
        return None
    return datetime.fromtimestamp(int(item["as_of_ms"]) / 1000, UTC)


# ---------------------------------------------------------------- a recount's reads and writes


def read_items_of_days(app_id: int, start: datetime, end: datetime) -> dict[tuple[str, str], dict]:
    """Every item of the days [start, end) an event can add to, as stored, by key: the count
    buckets, the names' and services' items, the message groups (Queries, read consistently)."""
    runs = [Run(granularity, start, end) for granularity in Granularity]
    reads: list[tuple[str, str | None, str | None]] = [
        (counts_key(app_id, run.granularity, "")["pk"], run.first_key, run.last_key) for run in runs
    ]
    values_range = _day_values_range(start, end - Granularity.DAY.step)
    reads += [
        (dimension_key(app_id, dimension, "", "")["pk"], *values_range) for dimension in Dimension
    ]
    days = Run(Granularity.DAY, start, end).starts()
    day = Granularity.DAY.key
    reads += [(messages_key(app_id, day(moment), "")["pk"], None, None) for moment in days]
    found = run_parallel([partial(_query_partition, *read) for read in reads])
    return {key_of(item): item for items in found for item in items}


def _query_partition(pk: str, first: str | None, last: str | None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": pk},
        "ConsistentRead": True,
    }
    if first is not None:
        query["KeyConditionExpression"] += " AND sk BETWEEN :first AND :last"
        query["ExpressionAttributeValues"].update({":first": first, ":last": last})
    return list(db.query_items(db.aggregates_table(), **query))


def delete_unless_notified(key: dict[str, str]) -> bool:
    """Delete an item unless it holds one of the notifier's counters; True when deleted."""
    names = {f"#n{i}": name for i, name in enumerate(NOTIFIER_COUNTERS)}
    try:
        db.aggregates_table().delete_item(
            Key=key,
            ConditionExpression=" AND ".join(f"attribute_not_exists({n})" for n in names),
            ExpressionAttributeNames=names,
        )
    except db.client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def set_attributes(key: dict[str, str], values: dict[str, int | str | None]) -> None:
    """SET each attribute to its value, REMOVE those whose value is None: one UpdateItem."""
    names: dict[str, str] = {}
    placeholders: dict[str, Any] = {}
    sets, removes = [], []
    for i, (attribute, value) in enumerate(values.items()):
        names[f"#a{i}"] = attribute
        if value is None:
            removes.append(f"#a{i}")
        else:
            placeholders[f":v{i}"] = value
            sets.append(f"#a{i} = :v{i}")
    update: dict[str, Any] = {
        "Key": key,
        "UpdateExpression": update_expression(SET=sets, REMOVE=removes),
        "ExpressionAttributeNames": names,
    }
    if placeholders:
        update["ExpressionAttributeValues"] = placeholders
    db.aggregates_table().update_item(**update)


# The notifier's state
#
# Cooldowns: one item per (alert rule, level), `APP#<app>#ALERT` / `<rule_id>|<LEVEL>`, holding
# `last_sent_at` (epoch ms) and `event_id`, the event that claimed it. Claiming is one
# conditional write, so of notifiers claiming at once (a storm) exactly one gets through. The
# notifier's counters are counts like the others (`count_notifications`).


def cooldown_partition(app_id: int) -> str:
    """Where the notifier claims the cooldowns of an app's rules."""
    return f"APP#{app_id}#ALERT"


def cooldown_key(app_id: int, rule_id: str, level: str) -> dict[str, str]:
    return {"pk": cooldown_partition(app_id), "sk": f"{rule_id}|{level}"}


def claim_cooldown(
    app_id: int, rule_id: str, level: str, event_id: str, now: datetime, cooldown_seconds: int
) -> bool:
    """Claim the cooldown of (rule, level) for this event at `now`: True unless another event
    claimed it less than `cooldown_seconds` before (this event's own claim, taken by an earlier
    try, is taken again)."""
    now_ms = int(now.timestamp() * 1000)
    try:
        db.aggregates_table().update_item(
            Key=cooldown_key(app_id, rule_id, level),
            UpdateExpression="SET #last = :now, #by = :event",
            ConditionExpression="attribute_not_exists(#last) OR #last <= :cutoff OR #by = :event",
            ExpressionAttributeNames={"#last": "last_sent_at", "#by": "event_id"},
            ExpressionAttributeValues={
                ":now": now_ms,
                ":cutoff": now_ms - cooldown_seconds * 1000,
                ":event": event_id,
            },
        )
    except db.client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def forget_cooldowns(app_id: int, rule_id: str) -> None:
    """Delete a rule's cooldown claims (one per level at most): the rule was deleted."""
    table = db.aggregates_table()
    claims = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :rule)",
        ExpressionAttributeValues={":pk": cooldown_partition(app_id), ":rule": f"{rule_id}|"},
        ProjectionExpression="pk, sk",
    )["Items"]
    for claim in claims:
        table.delete_item(Key=claim)
