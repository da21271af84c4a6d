"""Aggregates in DynamoDB, kept by the write path so statistics never read raw events.

Layout of the aggregates table (`pk`, `sk`):
- counts: `APP#<app_id>#<MINUTE|HOUR|DAY>` / bucket (`eventlog.buckets`), one item per bucket
  holding every counter of that period: `l|<level>`, `n|<name>|<level>`, `s|<service>|<level>`.
  Totals are sums over levels, so each counter exists once and a level filter is free.
- messages: `APP#<app_id>#MSG#<day>` / message fingerprint, one item per message group and day:
  `h|<hour>|<level>` counters, `t|<hour>|<level>` the last time seen (epoch ms) and `sample`
  (the first message stored).

Each event adds its `count` to the counters of its minute, hour and day, by when it happened
(`occurred_at`). Every request merges its events first, so it sends one `ADD` per bucket and per
message group, whatever its size; `ADD` is atomic, so concurrent writers never lose an update.
Deleting events subtracts the same amounts.
"""

import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

from eventlog import db
from eventlog.buckets import Granularity, Run
from eventlog.fingerprint import fingerprint
from eventlog.models.events import Event
from eventlog.timeutil import parse_iso

SAMPLE_CHARS = 1000
# Last-seen times set by one update: keeps its expressions well under DynamoDB's 4 KB.
LAST_SEEN_PER_UPDATE = 20
SEPARATOR = "|"


def level_counter(level: str) -> str:
    return f"l{SEPARATOR}{level}"


def name_counter(name: str, level: str) -> str:
    return f"n{SEPARATOR}{name}{SEPARATOR}{level}"


def service_counter(service: str, level: str) -> str:
    return f"s{SEPARATOR}{service}{SEPARATOR}{level}"


def hour_counter(hour: int, level: str) -> str:
    return f"h{SEPARATOR}{hour:02d}{SEPARATOR}{level}"


def hour_last_seen(hour: int, level: str) -> str:
    return f"t{SEPARATOR}{hour:02d}{SEPARATOR}{level}"


# Counters of notifications, in the same count buckets, by when they were delivered.
NOTIFICATIONS_SENT = f"x{SEPARATOR}notifications_sent"
NOTIFICATIONS_FAILED = f"x{SEPARATOR}notifications_failed"


def parse_counter(counter: str) -> tuple[str, str, str]:
    """(kind, label, level) of a counter name; labels may hold the separator, levels cannot."""
    kind, _, rest = counter.partition(SEPARATOR)
    label, _, level = rest.rpartition(SEPARATOR)
    return kind, label, level


def _counts_pk(app_id: int, granularity: Granularity) -> str:
    return f"APP#{app_id}#{granularity}"


def _messages_pk(app_id: int, day: str) -> str:
    return f"APP#{app_id}#MSG#{day}"


@dataclass
class _MessageDelta:
    counters: Counter[str] = field(default_factory=Counter)
    last_seen: dict[str, int] = field(default_factory=dict)  # t|hour|level -> epoch ms
    sample: str = ""


@dataclass
class Deltas:
    """What a set of events adds to (or, deleted, takes from) the aggregates."""

    counts: dict[tuple[Granularity, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    messages: dict[tuple[str, str], _MessageDelta] = field(
        default_factory=lambda: defaultdict(_MessageDelta)
    )

    def add(self, event: Event, sign: int) -> None:
        occurred = parse_iso(event.occurred_at)
        amount = sign * event.count
        level = event.level.value
        counters = [level_counter(level)]
        if event.name:
            counters.append(name_counter(event.name, level))
        if event.service:
            counters.append(service_counter(event.service, level))
        for granularity in Granularity:
            bucket = self.counts[(granularity, granularity.key(granularity.floor(occurred)))]
            for counter in counters:
                bucket[counter] += amount
        if event.message:
            day = Granularity.DAY.key(occurred)
            group = self.messages[(day, fingerprint(event.message))]
            group.counters[hour_counter(occurred.hour, level)] += amount
            group.sample = group.sample or event.message[:SAMPLE_CHARS]
            if sign > 0:  # a deletion never moves last_seen back: it is not known what to
                seen = hour_last_seen(occurred.hour, level)
                occurred_ms = int(occurred.timestamp() * 1000)
                group.last_seen[seen] = max(group.last_seen.get(seen, 0), occurred_ms)


def _add_expression(counters: dict[str, int]) -> tuple[str, dict[str, str], dict[str, int]]:
    names = {f"#c{i}": name for i, name in enumerate(counters)}
    values = {f":c{i}": amount for i, amount in enumerate(counters.values())}
    clauses = ", ".join(f"#c{i} :c{i}" for i in range(len(counters)))
    return f"ADD {clauses}", names, values


def _update_counts(app_id: int, granularity: Granularity, bucket: str, counters: dict) -> None:
    expression, names, values = _add_expression(counters)
    db.aggregates_table().update_item(
        Key={"pk": _counts_pk(app_id, granularity), "sk": bucket},
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def _last_seen_clauses(seen: dict[str, int]) -> tuple[str, str, dict, dict]:
    """SET clauses moving each last-seen time forward, and the condition that they all do."""
    names = {f"#t{i}": name for i, name in enumerate(seen)}
    values = {f":t{i}": ms for i, ms in enumerate(seen.values())}
    assignments = ", ".join(f"#t{i} = :t{i}" for i in range(len(seen)))
    condition = " AND ".join(
        f"(attribute_not_exists(#t{i}) OR #t{i} < :t{i})" for i in range(len(seen))
    )
    return assignments, condition, names, values


def _set_if_later(key: dict[str, str], seen: dict[str, int]) -> None:
    assignments, condition, names, values = _last_seen_clauses(seen)
    db.aggregates_table().update_item(
        Key=key,
        UpdateExpression=f"SET {assignments}",
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def _advance_last_seen(key: dict[str, str], seen: dict[str, int]) -> None:
    """Move last-seen times forward: together when none goes back, else each on its own."""
    failed = db.client().exceptions.ConditionalCheckFailedException
    try:
        _set_if_later(key, seen)
        return
    except failed:
        if len(seen) == 1:
            return
    for name, ms in seen.items():
        with contextlib.suppress(failed):
            _set_if_later(key, {name: ms})


def _update_messages(app_id: int, day: str, group_id: str, delta: _MessageDelta) -> None:
    """Counts, sample and last-seen times of a message group, in one update when it can.

    DynamoDB has no max(): a last-seen time moves only forward, by a condition. An earlier
    event arriving late fails it: the counts then go alone and the times one by one (rare).
    Expressions are capped at 4 KB, so a backfill touching many hours sends its times in parts.
    """
    counts, names, values = _add_expression(delta.counters)
    names["#sample"], values[":sample"] = "sample", delta.sample
    update = f"{counts} SET #sample = if_not_exists(#sample, :sample)"
    key = {"pk": _messages_pk(app_id, day), "sk": group_id}
    seen = list(delta.last_seen.items())
    first = dict(seen[:LAST_SEEN_PER_UPDATE])
    table = db.aggregates_table()
    counts_only = {
        "Key": key,
        "UpdateExpression": update,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if not first:
        table.update_item(**counts_only)
    else:
        assignments, condition, seen_names, seen_values = _last_seen_clauses(first)
        try:
            table.update_item(
                Key=key,
                UpdateExpression=f"{update}, {assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, **seen_names},
                ExpressionAttributeValues={**values, **seen_values},
            )
        except db.client().exceptions.ConditionalCheckFailedException:
            table.update_item(**counts_only)
            _advance_last_seen(key, first)
    for start in range(LAST_SEEN_PER_UPDATE, len(seen), LAST_SEEN_PER_UPDATE):
        _advance_last_seen(key, dict(seen[start : start + LAST_SEEN_PER_UPDATE]))


def apply(app_id: int, events: Iterable[Event], sign: int = 1) -> None:
    """Add stored events to the aggregates (sign=1), or take deleted ones away (sign=-1)."""
    deltas = Deltas()
    for event in events:
        deltas.add(event, sign)
    calls = []
    for (granularity, bucket), counters in deltas.counts.items():
        nonzero = {name: amount for name, amount in counters.items() if amount}
        if nonzero:
            calls.append(lambda g=granularity, b=bucket, c=nonzero: _update_counts(app_id, g, b, c))
    for (day, group_id), delta in deltas.messages.items():
        delta.counters = Counter({k: v for k, v in delta.counters.items() if v})
        if delta.counters:
            calls.append(lambda d=day, g=group_id, m=delta: _update_messages(app_id, d, g, m))
    db.run_parallel(calls)


def count_notifications(app_id: int, at: datetime, sent: int = 0, failed: int = 0) -> None:
    """Add delivered (sent) and given-up (failed) notifications to the minute, hour and day."""
    counters = {
        name: amount
        for name, amount in ((NOTIFICATIONS_SENT, sent), (NOTIFICATIONS_FAILED, failed))
        if amount
    }
    if counters:
        db.run_parallel(
            [
                lambda g=granularity: _update_counts(app_id, g, g.key(g.floor(at)), counters)
                for granularity in Granularity
            ]
        )


# ---------------------------------------------------------------- reading


@dataclass
class CountsBucket:
    granularity: Granularity
    start: datetime
    counters: dict[str, int]


def _counts_of(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(value) for name, value in item.items() if name not in ("pk", "sk")}


def read_counts(app_id: int, runs: list[Run]) -> list[CountsBucket]:
    """The stored count buckets of each run, in time order (buckets with nothing are absent)."""

    def read(run: Run) -> list[CountsBucket]:
        items = db.query_items(
            db.aggregates_table(),
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": _counts_pk(app_id, run.granularity),
                ":first": run.first_key,
                ":last": run.last_key,
            },
        )
        return [
            CountsBucket(run.granularity, run.granularity.start(item["sk"]), _counts_of(item))
            for item in items
        ]

    return list(chain.from_iterable(db.run_parallel([lambda r=run: read(r) for run in runs])))


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
            ExpressionAttributeValues={":pk": _messages_pk(app_id, Granularity.DAY.key(day))},
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

    return list(chain.from_iterable(db.run_parallel([lambda d=day: read(d) for day in days])))
