"""Statistics: the query parameters each route takes and the bodies it returns."""

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from eventlog.models.base import (
    EARLIEST_TIME,
    LATEST_TIME,
    CaseInsensitive,
    CompactModel,
    Label,
    Level,
    LevelIn,
    Model,
    UtcDatetime,
)
from eventlog.stats.buckets import Granularity

DEFAULT_TOP_MESSAGES = 10
# The years times may lie in (eventlog.models.base's bounds, which UtcDatetime enforces).
FIRST_YEAR, LAST_YEAR = EARLIEST_TIME.year, LATEST_TIME.year
MAX_TOP_MESSAGES = 100

TimeZoneName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")]


class StatsRange(Model):
    """A time range: ISO 8601 `since` / `until`, by default the 24 hours up to now."""

    model_config = ConfigDict(extra="forbid")

    since: UtcDatetime | None = Field(default=None, description="Start (ISO 8601, inclusive)")
    until: UtcDatetime | None = Field(default=None, description="End (ISO 8601, exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> "StatsRange":
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class LevelFilter(StatsRange):
    level: LevelIn | None = None


class CountsQuery(LevelFilter):
    """A range and the filters counts are kept for: level, and one of name or service."""

    name: Label | None = None
    service: Label | None = None

    @model_validator(mode="after")
    def _one_dimension(self) -> "CountsQuery":
        if self.name and self.service:
            raise ValueError("filter by name or by service, not both")
        return self


class TimeseriesQuery(CountsQuery):
    interval: Annotated[Granularity, CaseInsensitive] = Granularity.HOUR


class TopMessagesQuery(LevelFilter):
    limit: int = Field(default=DEFAULT_TOP_MESSAGES, ge=1, le=MAX_TOP_MESSAGES)


class HourlyQuery(StatsRange):
    name: Label | None = None
    tz: TimeZoneName = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris")


class Bucket(Model):
    bucket_start: str
    count: int


class Timeseries(Model):
    interval: Granularity
    since: str
    until: str
    series: list[Bucket]


class LevelCount(Model):
    level: Level
    count: int


class ByLevel(Model):
    since: str
    until: str
    items: list[LevelCount]


class MessageCount(Model):
    message: str
    count: int
    last_seen: str


class TopMessages(Model):
    limit: int
    items: list[MessageCount]


class NameCount(Model):
    name: str
    count: int
    first_seen: str = Field(description="Start of the first hour it was seen in the range")
    last_seen: str = Field(description="Start of the last hour it was seen in the range")


class NameOverflow(Model):
    count: int = Field(description="Events of the names beyond the limit, counted together")
    limit: int = Field(description="Distinct names counted apart per app and day")


class ByName(CompactModel):
    """Names by count; `overflow` only when some day had more distinct names than the limit."""

    since: str
    until: str
    items: list[NameCount]
    overflow: NameOverflow | None = Field(
        default=None,
        description="Set when some day of the range had more distinct names than the limit",
    )


class Hourly(CompactModel):
    name: str | None = None
    tz: str
    since: str
    until: str
    total: int
    hour_count: list[int] = Field(description="Counts for each hour of the day, 0 to 23, in tz")


class NotificationCounts(Model):
    since: str
    until: str
    sent: int = Field(description="Notifications delivered (one per channel)")
    failed: int = Field(description="Notifications given up after every retry (dead-lettered)")


class Metrics(Model):
    """Seed 002's `GET /metrics`: all-time totals of the caller's app."""

    logs_processed: int
    notifications_sent: int
