"""Time buckets of the aggregates: minute, hour and day, in UTC.

A bucket is named by the start of its period (`2026-02-10T10:05`, `2026-02-10T10`, `2026-02-10`),
so the buckets of one granularity sort by time and a time range is one key range. Any range of
whole minutes is covered by at most five runs of buckets — minutes up to the first whole hour,
hours up to the first whole day, whole days, then hours and minutes to the end — which is what
keeps the cost of a statistic independent of how many events it counts.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Granularity(StrEnum):
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"

    @property
    def step(self) -> timedelta:
        return _STEPS[self]

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
        if self is Granularity.MINUTE:
            return moment
        moment = moment.replace(minute=0)
        return moment if self is Granularity.HOUR else moment.replace(hour=0)

    def ceil(self, moment: datetime) -> datetime:
        floor = self.floor(moment)
        return floor if floor == moment else floor + self.step

    def key(self, start: datetime) -> str:
        """The name of the bucket starting at `start` (a bucket boundary)."""
        return start.strftime(_KEY_FORMATS[self])

    def start(self, key: str) -> datetime:
        return datetime.strptime(key, _KEY_FORMATS[self]).replace(tzinfo=UTC)


_STEPS = {
    Granularity.MINUTE: timedelta(minutes=1),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
}
_KEY_FORMATS = {
    Granularity.MINUTE: "%Y-%m-%dT%H:%M",
    Granularity.HOUR: "%Y-%m-%dT%H",
    Granularity.DAY: "%Y-%m-%d",
}


@dataclass(frozen=True)
class Run:
    """Consecutive buckets of one granularity: [start, end)."""

    granularity: Granularity
    start: datetime
    end: datetime

    @property
    def first_key(self) -> str:
        return self.granularity.key(self.start)

    @property
    def last_key(self) -> str:
        return self.granularity.key(self.end - self.granularity.step)

    def starts(self) -> Iterator[datetime]:
        moment = self.start
        while moment < self.end:
            yield moment
            moment += self.granularity.step


def count_buckets(granularity: Granularity, since: datetime, until: datetime) -> int:
    """How many buckets [since, until) spans, both ends on bucket boundaries."""
    return int((until - since) / granularity.step)


def cover(since: datetime, until: datetime, coarsest: Granularity = Granularity.DAY) -> list[Run]:
    """The fewest runs of buckets, none coarser than `coarsest`, that exactly cover the whole
    minutes [since, until)."""
    runs: list[Run] = []

    def split(start: datetime, end: datetime, granularity: Granularity) -> None:
        finer = {Granularity.DAY: Granularity.HOUR, Granularity.HOUR: Granularity.MINUTE}
        if granularity is Granularity.MINUTE:
            if start < end:
                runs.append(Run(granularity, start, end))
            return
        inner_start, inner_end = granularity.ceil(start), granularity.floor(end)
        if inner_start >= inner_end:
            split(start, end, finer[granularity])
            return
        split(start, inner_start, finer[granularity])
        runs.append(Run(granularity, inner_start, inner_end))
        split(inner_end, end, finer[granularity])

    split(since, until, coarsest)
    return runs
