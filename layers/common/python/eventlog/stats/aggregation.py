"""Aggregates in DynamoDB: what statistics read instead of raw events.

Written only by the stream processor (`eventlog.stats.stream`, exactly once per stored or deleted
event) and by the notifier's counters; no item grows with the number of distinct names,
services or messages. Layout of the aggregates table (`pk`, `sk`):

- counts: `APP#<app>#<MINUTE|HOUR|DAY>` / bucket (`eventlog.stats.buckets`): `l|<level>` per level,
  `x|…` the service's own counters (notifications, heartbeats), `r|<rule_id>` in minute buckets
  (the events each alert rule with a condition matched), and in day buckets `d|names` /
  `d|services`, how many distinct names and services the day has items for. Bounded: five
  levels, a few counters, at most MAX_RULES_PER_APP rules.
- names and services: `APP#<app>#<NAME|SERVICE>` / `<day>|<value>`, one item per value and
  day holding `h|<hour>|<level>` counters (at most 24 x 5). All values of a range of days are
  one Query; one value's days are one BatchGetItem. Counts by name and by service are kept per
  hour, not per minute: minutes would cost a write per value and minute.
- message groups: `APP#<app>#MSG#<day>` / message fingerprint: `h|<hour>|<level>` counters,
  `t|<hour>|<level>` the last time seen (epoch ms) and `sample` (the message of the first event
  received, of the first chunk that counted the group).
- the watermark: `APP#<app>#AS_OF` / `AS_OF`, `as_of_ms`: the newest change counted.

Beyond `NAME_CARDINALITY_LIMIT` distinct names (or services) in a day, new ones are counted
under OVERFLOW, a value no client can send (a control character).

Events count by when they happened (`occurred_at`). Deletions subtract what they added.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain
from typing import Any

from eventlog.base.concurrency import run_parallel
from eventlog.base.timeutil import parse_iso
from eventlog.models.events import HEARTBEAT_NAME, Event
from eventlog.stats.buckets import Granularity, Run
from eventlog.stats.fingerprint import fingerprint
from eventlog.storage import db

SAMPLE_CHARS = 1000
SEPARATOR = "|"
DAY_KEY_LENGTH = len("2026-02-10")
# Stands for the names (or services) beyond a day's limit: Label refuses control characters.
OVERFLOW = "\x1f"


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
    return f"t{SEPARATOR}{hour:02d}{SEPARATOR}{level}"


def parse_hour_counter(counter: str) -> tuple[int, str] | None:
    """(hour, level) of `h|<hour>|<level>`; None for any other attribute."""
    kind, _, rest = counter.partition(SEPARATOR)
    hour, _, level = rest.partition(SEPARATOR)
    return (int(hour), level) if kind == "h" and hour.isdigit() else None


# The service's own counters, in the same count buckets.
NOTIFICATIONS_SENT = f"x{SEPARATOR}notifications_sent"
NOTIFICATIONS_FAILED = f"x{SEPARATOR}notifications_failed"
HEARTBEATS = f"x{SEPARATOR}heartbeats"


def counts_key(app_id: int, granularity: Granularity, bucket: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#{granularity}", "sk": bucket}


def dimension_key(app_id: int, dimension: Dimension, day: str, value: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#{dimension}", "sk": f"{day}{SEPARATOR}{value}"}


def messages_key(app_id: int, day: str, group_id: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#MSG#{day}", "sk": group_id}


def watermark_key(app_id: int) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#AS_OF", "sk": "AS_OF"}


def key_of(key: dict[str, str]) -> tuple[str, str]:
    return key["pk"], key["sk"]


# ---------------------------------------------------------------- what changes add up to


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


@dataclass(frozen=True)
class DimensionValue:
    app_id: int
    dimension: Dimension
    day: str
    value: str

    def key(self, value: str | None = None) -> dict[str, str]:
        """Its item's key; with `value`, the key of another value of the same day (OVERFLOW)."""
        return dimension_key(self.app_id, self.dimension, self.day, value or self.value)

    @property
    def day_key(self) -> dict[str, str]:
        """The key of its day's count bucket, which holds the day's distinct counters."""
        return counts_key(self.app_id, Granularity.DAY, self.day)


@dataclass
class Deltas:
    """What a sequence of changes (an event stored: +1, deleted: -1) adds to the aggregates.

    Names and services are kept apart (`dimension_values`) until the caller has decided which
    of them are counted under their own item (`place_dimensions`), the day's limit applied.
    """

    items: dict[tuple[str, str], ItemDelta] = field(default_factory=dict)
    dimension_counts: dict[DimensionValue, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    positive_values: set[DimensionValue] = field(default_factory=set)  # ones with an event added

    def item(self, key: dict[str, str]) -> ItemDelta:
        return self.items.setdefault(key_of(key), ItemDelta(key))

    def add(self, event: Event, sign: int, rule_ids: Iterable[str] = ()) -> None:
        occurred = parse_iso(event.occurred_at)
        amount = sign * event.count
        level = event.level.value
        day = Granularity.DAY.key(occurred)
        for granularity in Granularity:
            bucket = granularity.key(granularity.floor(occurred))
            counters = self.item(counts_key(event.app_id, granularity, bucket)).counters
            counters[level_counter(level)] += amount
            if event.name == HEARTBEAT_NAME:
                counters[HEARTBEATS] += amount
            if granularity is Granularity.MINUTE:
                for rule_id in rule_ids:
                    counters[rule_counter(rule_id)] += amount
        hour = hour_counter(occurred.hour, level)
        for dimension, value in ((Dimension.NAME, event.name), (Dimension.SERVICE, event.service)):
            if value:
                found = DimensionValue(event.app_id, dimension, day, value)
                self.dimension_counts[found][hour] += amount
                if sign > 0:
                    self.positive_values.add(found)
        if event.message:
            group = self.item(messages_key(event.app_id, day, fingerprint(event.message)))
            group.counters[hour] += amount
            if group.sample is None or event.id < group.sample_of:
                group.sample, group.sample_of = event.message[:SAMPLE_CHARS], event.id
            if sign > 0:  # a deletion never moves last_seen back: it is not known what to
                seen = hour_last_seen(occurred.hour, level)
                occurred_ms = int(occurred.timestamp() * 1000)
                group.last_seen[seen] = max(group.last_seen.get(seen, 0), occurred_ms)

    def place_dimensions(self, own_item: set[DimensionValue]) -> None:
        """Move the name and service counts into items: a value in `own_item` into its own, any
        other into its day's OVERFLOW item."""
        for found, counters in self.dimension_counts.items():
            value = found.value if found in own_item else OVERFLOW
            item = self.item(found.key(value))
            item.value = value
            item.counters.update(counters)
        self.dimension_counts = defaultdict(Counter)
        self.positive_values = set()

    def changed_items(self) -> list[ItemDelta]:
        return [item for item in self.items.values() if not item.is_empty()]


def update_expression(**clauses: list[str]) -> str:
    """`ADD a :a SET b = :b REMOVE c` from the clauses (by their keyword) that hold something."""
    return " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses.items() if parts)


def update_of(delta: ItemDelta, table: str) -> dict[str, Any]:
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
        "TableName": table,
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
    table = db.aggregates_table().name
    calls = []
    for granularity in Granularity:
        delta = ItemDelta(counts_key(app_id, granularity, granularity.key(granularity.floor(at))))
        delta.counters.update({NOTIFICATIONS_SENT: sent, NOTIFICATIONS_FAILED: failed})
        if not delta.is_empty():
            calls.append(lambda d=delta: db.call("update_item", **update_of(d, table)))
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


# ---------------------------------------------------------------- reading


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

    return list(chain.from_iterable(run_parallel([lambda r=run: read(r) for run in runs])))


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


def read_dimension_days(
    app_id: int, dimension: Dimension, first_day: datetime, last_day: datetime
) -> list[DimensionDay]:
    """Every value's counts on each day from first_day to last_day included: one Query."""
    day = Granularity.DAY.key
    items = db.query_items(
        db.aggregates_table(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={
            ":pk": dimension_key(app_id, dimension, "", "")["pk"],
            # "}" sorts after the separator: every value of the last day is included.
            ":first": f"{day(first_day)}{SEPARATOR}",
            ":last": f"{day(last_day)}}}",
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
                last_seen={k: int(v) for k, v in item.items() if k.startswith(f"t{SEPARATOR}")},
            )
            for item in items
            if "sample" in item
        ]

    return list(chain.from_iterable(run_parallel([lambda d=day: read(d) for day in days])))


def read_watermark(app_id: int) -> datetime | None:
    """When the newest change counted for the app was made; None before the first."""
    item = db.aggregates_table().get_item(Key=watermark_key(app_id)).get("Item")
    if not item:
        return None
    return datetime.fromtimestamp(int(item["as_of_ms"]) / 1000, UTC)
