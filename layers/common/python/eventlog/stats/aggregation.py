"""What stored and deleted events add to the aggregates (`eventlog.storage.aggregates` holds
their layout, and does the reads and writes).

Events count by when they happened (`occurred_at`). Deletions subtract what they added. The
stream processor (`eventlog.stats.stream`) and a recount (`eventlog.stats.recount`) count alike:
each merges its events into `Deltas`, then decides which names and services have an item of
their own, the day's `NAME_CARDINALITY_LIMIT` applied; the others are counted under OVERFLOW.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from eventlog.base.timeutil import parse_iso
from eventlog.models.events import HEARTBEAT_NAME, Event
from eventlog.stats.buckets import Granularity
from eventlog.stats.fingerprint import fingerprint
from eventlog.storage.aggregates import (
    HEARTBEATS,
    OVERFLOW,
    Dimension,
    ItemDelta,
    counts_key,
    dimension_key,
    hour_counter,
    hour_last_seen,
    key_of,
    level_counter,
    messages_key,
    rule_counter,
)

SAMPLE_CHARS = 1000


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

    Names and services are kept apart (`dimension_counts`) until the caller has decided which
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
