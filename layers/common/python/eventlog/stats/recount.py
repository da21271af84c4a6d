"""Repair: recount an app's aggregates for whole UTC days from its raw events.

`plan_recount` reads every raw event of the app (one paginated Query of its partition: an event
may be received long after it happened, so its ULID says nothing of `occurred_at`), counts the
ones that happened in [since, until) the way the stream processor does (`aggregation.Deltas`,
the app's current alert rules), reads what the aggregates table holds for the same items, and
returns the difference: per item, each event-derived attribute old -> new. `apply_recount`
writes it. The notifier's counters (`x|notifications_*`) are not derived from events: a plan
never holds them, nothing writes them, and an item holding one is never deleted.

What cannot be rebuilt exactly:
- the day's distinct-name (and service) limit is applied in ULID (received) order: the first
  NAME_CARDINALITY_LIMIT values of a day get items of their own, the rest OVERFLOW. The live
  aggregator decides in stream order, nearly the same; a value that was counted under OVERFLOW
  may get its own item, or the other way round;
- alert rule counters (`r|<rule_id>`) follow the rules as they are now, counting the events
  received since each rule's creation: rules deleted since lose their counters, and a rule's
  earlier patterns or enabled state are not known;
- raw events expire after RETENTION_DAYS while aggregates are kept: a range starting before
  now - retention would lose the expired events' counts, so it is refused unless forced. Events
  past their TTL that DynamoDB has not removed yet are still counted (they were counted live).

What the aggregator leaves behind when events are deleted, and a recount removes (no statistic
changes): a name, service or message group item with nothing left (deleted, and the day's
`d|names` / `d|services` lowered: the aggregator never frees a place under the day's limit),
and the last-seen time of an hour with nothing left. A counter left at 0 is taken as absent.

It races with the live aggregator on the same days: the plan sets absolute values computed from
the events read, so an event the aggregator counts between the read of the aggregates and the
write is overwritten (lost), and an event stored while the raw events are read may be in the
plan and then added again by the aggregator (counted twice). Run it on days that no longer get
events (their occurred_at, so late events count too), or run it twice: the second run corrects
what the first raced with, and changes nothing when the days were quiet.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from eventlog.base.concurrency import run_parallel
from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError
from eventlog.base.ids import ULID_PATTERN
from eventlog.base.timeutil import parse_iso, utcnow
from eventlog.delivery import alerts
from eventlog.models.alerts import AlertRule
from eventlog.models.events import Event
from eventlog.stats.aggregation import Deltas, DimensionValue
from eventlog.stats.buckets import Granularity
from eventlog.storage import aggregates, event_store
from eventlog.storage.aggregates import (
    HEARTBEATS,
    LAST_SEEN_PREFIX,
    SEPARATOR,
    Dimension,
    key_of,
)
from eventlog.storage.event_store import EVENT_PREFIX, from_item

# Longer ranges read too much at once (a minute bucket per minute): refused unless forced.
MAX_RANGE_DAYS = 366
# What Event and Deltas need of a raw event, and its key: its data, stack and tags are not read.
PROJECTED_ATTRIBUTES = (
    "sk", "id", "app_id", "received_at", "occurred_at", "level", "message", "name", "service",
    "count",
)  # fmt: skip
# The attributes the stream processor derives from events; anything else on an item is kept.
COUNTER_PREFIXES = tuple(f"{kind}{SEPARATOR}" for kind in ("l", "r", "d", "h"))
PLAIN_ATTRIBUTES = ("sample", "value")
KEYS = ("pk", "sk")

Value = int | str | None
# (raw events read so far, estimated fraction of the partition read)
Progress = Callable[[int, float], None]
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class RecountRefusedError(InvalidInputError):
    """A range that a recount could make worse (older than retention) or that is too long."""


def is_counter(attribute: str) -> bool:
    return attribute.startswith(COUNTER_PREFIXES) or attribute == HEARTBEATS


def is_event_derived(attribute: str) -> bool:
    return (
        is_counter(attribute)
        or attribute.startswith(LAST_SEEN_PREFIX)
        or attribute in PLAIN_ATTRIBUTES
    )


@dataclass(frozen=True)
class AttributeChange:
    """A counter absent from an item reads as 0; any other absent attribute as None. A new value
    of 0 or None removes the attribute."""

    attribute: str
    old: Value
    new: Value


@dataclass
class ItemChange:
    key: dict[str, str]
    changes: list[AttributeChange]
    existed: bool  # the item was stored before
    delete: bool  # nothing would be left on it: deleted rather than emptied


@dataclass
class RecountPlan:
    app_id: int
    since: datetime
    until: datetime
    events_read: int = 0  # raw events of the app, in range or not
    events_counted: int = 0  # those that happened in the range
    events_unreadable: int = 0  # raw items not readable as events (the aggregator skips them)
    items_compared: int = 0
    items: list[ItemChange] = field(default_factory=list)

    @property
    def attributes_changed(self) -> int:
        return sum(len(item.changes) for item in self.items)


# ---------------------------------------------------------------- planning


def plan_recount(
    app_id: int,
    since: date,
    until: date,
    *,
    force: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> RecountPlan:
    """What the aggregates of the days [since, until) should hold, compared with what they hold.

    Refuses (RecountRefusedError) a range starting before now - RETENTION_DAYS, or longer than
    MAX_RANGE_DAYS, unless `force`; NotFoundError when the app does not exist.
    """
    now = now or utcnow()
    start, end = _day_start(since), _day_start(until)
    _check_range(start, end, now, force)
    _, rules = alerts.app_and_rules(app_id)
    plan = RecountPlan(app_id, start, end)
    expected = _expected_items(_raw_events(plan, now, progress), rules)
    stored = aggregates.read_items_of_days(app_id, start, end)
    keys = sorted(set(expected) | set(stored))
    plan.items_compared = len(keys)
    for key in keys:
        change = _item_change(key, stored.get(key), expected.get(key, {}))
        if change is not None:
            plan.items.append(change)
    return plan


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _check_range(start: datetime, end: datetime, now: datetime, force: bool) -> None:
    if start >= end:
        raise InvalidInputError(f"since ({start:%Y-%m-%d}) must be before until ({end:%Y-%m-%d})")
    if force:
        return
    retention = get_settings().retention_days
    earliest = now - timedelta(days=retention)
    if start < earliest:
        first_whole_day = Granularity.DAY.ceil(earliest)
        raise RecountRefusedError(
            f"{start:%Y-%m-%d} is before now - {retention} days (RETENTION_DAYS): raw events "
            f"of those days may have expired and a recount would lower right counts. Start on "
            f"{first_whole_day:%Y-%m-%d} or later, or force it"
        )
    if (end - start).days > MAX_RANGE_DAYS:
        raise RecountRefusedError(
            f"{(end - start).days} days from since to until: at most {MAX_RANGE_DAYS} at once "
            "(recount in parts), or force it"
        )


def _received_ms(item: dict[str, Any]) -> int | None:
    """When a raw event was received, from its ULID: 48 bits of epoch milliseconds in its
    first 10 characters (None for a key that is not a ULID)."""
    ulid = str(item["sk"]).removeprefix(EVENT_PREFIX)
    if not ULID_PATTERN.match(ulid):
        return None
    millis = 0
    for char in ulid[:10]:
        millis = millis * 32 + _ULID_ALPHABET.index(char)
    return millis


def _raw_events(plan: RecountPlan, now: datetime, progress: Progress | None) -> Iterator[Event]:
    """The app's events that happened in the plan's range, oldest received first; the plan's
    read counters are kept up to date."""
    now_ms = int(now.timestamp() * 1000)
    oldest_ms: int | None = None
    for page in event_store.event_item_pages(plan.app_id, PROJECTED_ATTRIBUTES):
        for item in page:
            plan.events_read += 1
            try:
                event = from_item(item)
            except (KeyError, TypeError, ValueError):  # ValidationError is a ValueError
                plan.events_unreadable += 1
                continue
            if plan.since <= parse_iso(event.occurred_at) < plan.until:
                plan.events_counted += 1
                yield event
        if progress is not None and page:
            # The partition is read in received order: how far the last item read lies
            # between the oldest one and now estimates the share read.
            if oldest_ms is None:
                oldest_ms = _received_ms(page[0])
            read_ms = _received_ms(page[-1])
            if oldest_ms is not None and read_ms is not None:
                fraction = (read_ms - oldest_ms) / max(now_ms - oldest_ms, 1)
                progress(plan.events_read, min(max(fraction, 0.0), 1.0))
    if progress is not None:
        progress(plan.events_read, 1.0)


def _rules_counting(rules: list[AlertRule]) -> Callable[[Event], list[str]]:
    """The ids of the rules with a condition that count an event (as `stream._Rules.counted`),
    from each rule's creation on."""
    conditional = [
        (rule, parse_iso(rule.created_at)) for rule in rules if rule.condition is not None
    ]

    def counting(event: Event) -> list[str]:
        received = parse_iso(event.received_at)
        return [
            rule.id
            for rule, created in conditional
            if received >= created and rule.matches(event.level, event.name, event.service)
        ]

    return counting


def _expected_items(
    events: Iterator[Event], rules: list[AlertRule]
) -> dict[tuple[str, str], dict[str, Value]]:
    """Key -> the event-derived attributes the item should hold (absent: no item)."""
    deltas = Deltas()
    counting = _rules_counting(rules)
    for event in events:
        deltas.add(event, +1, counting(event))
    # Each day's distinct values in the order of their first event received: a value enters
    # `dimension_counts` (a dict, in insertion order) with its first event.
    by_day: dict[tuple[Dimension, str], list[DimensionValue]] = defaultdict(list)
    for value in deltas.dimension_counts:
        by_day[(value.dimension, value.day)].append(value)
    limit = get_settings().name_cardinality_limit
    own: set[DimensionValue] = set()
    for (dimension, _), values in by_day.items():
        allowed = values[:limit]
        own.update(allowed)
        deltas.item(values[0].day_key).counters[dimension.distinct_counter] += len(allowed)
    deltas.place_dimensions(own)
    expected: dict[tuple[str, str], dict[str, Value]] = {}
    for delta in deltas.changed_items():
        attributes: dict[str, Value] = {**delta.nonzero(), **delta.last_seen}
        if delta.sample is not None:
            attributes["sample"] = delta.sample
        if delta.value is not None:
            attributes["value"] = delta.value
        expected[key_of(delta.key)] = attributes
    return expected


def _plain(value: Any) -> Value:
    """A stored value as a plan holds it: DynamoDB numbers come back as Decimal."""
    return value if isinstance(value, str) or value is None else int(value)


def _item_change(
    key: tuple[str, str], stored: dict[str, Any] | None, expected: dict[str, Value]
) -> ItemChange | None:
    old = {name: _plain(value) for name, value in (stored or {}).items() if is_event_derived(name)}
    changes = []
    for attribute in sorted(set(old) | set(expected)):
        absent = 0 if is_counter(attribute) else None
        before, after = old.get(attribute, absent), expected.get(attribute, absent)
        if before != after:
            changes.append(AttributeChange(attribute, before, after))
    if not changes:
        return None
    kept = [name for name in stored or {} if name not in KEYS and not is_event_derived(name)]
    return ItemChange(
        key={"pk": key[0], "sk": key[1]},
        changes=changes,
        existed=stored is not None,
        delete=stored is not None and not expected and not kept,
    )


# ---------------------------------------------------------------- applying


def apply_recount(plan: RecountPlan) -> None:
    """Write a plan: an UpdateItem per changed item (SET the new values, REMOVE what is gone), a
    DeleteItem for an item left with nothing. The notifier's counters are never written."""
    run_parallel([partial(_apply_item, item) for item in plan.items])


def _apply_item(item: ItemChange) -> None:
    # The notifier may have counted on the item since it was read: then it is kept, emptied.
    if item.delete and aggregates.delete_unless_notified(item.key):
        return
    new_values = {
        change.attribute: None if change.new == 0 else change.new for change in item.changes
    }
    aggregates.set_attributes(item.key, new_values)
