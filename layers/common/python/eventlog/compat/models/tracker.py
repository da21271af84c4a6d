"""Seed 001 (event tracker): what its routes take and answer."""

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from eventlog.models.base import Model
from eventlog.models.stats import FIRST_YEAR, LAST_YEAR

DATE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
# strptime alone takes "2024-1-5 1:2:3": the seed's format has fixed widths.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse(value: object, pattern: re.Pattern[str], fmt: str, shown: str) -> datetime:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f'must be a string "{shown}"')
    moment = datetime.strptime(value, fmt).replace(tzinfo=UTC)  # a 13th month: its ValueError
    # The aggregates are read over these years (eventlog.compat.tracker.ALL_DAYS).
    if not FIRST_YEAR <= moment.year < LAST_YEAR:
        raise ValueError(f"must lie in the years {FIRST_YEAR} to {LAST_YEAR - 1}")
    return moment


def _date_time(value: object) -> datetime:
    return _parse(value, _DATE_TIME, DATE_TIME_FORMAT, "YYYY-MM-DD HH:mm:ss")


def _date(value: object) -> date:
    return _parse(value, _DATE, DATE_FORMAT, "YYYY-MM-DD").date()


# The seed's formats, without a zone: UTC.
TrackerDateTime = Annotated[datetime, BeforeValidator(_date_time)]
TrackerDate = Annotated[date, BeforeValidator(_date)]


class TrackerEventIn(Model):
    """The body of `POST /api/v1/events/{name}`, every field optional (an empty body too)."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=0, strict=True)] | None = Field(
        default=None, description="Occurrences; 0 or absent: one"
    )
    date: TrackerDateTime | None = Field(
        default=None, description='When they happened, "YYYY-MM-DD HH:mm:ss" in UTC; default: now'
    )


class DateRange(Model):
    """`start_date` and `end_date` ("YYYY-MM-DD", both inclusive), both or neither."""

    model_config = ConfigDict(extra="forbid")

    start_date: TrackerDate | None = None
    end_date: TrackerDate | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> "DateRange":
        if (self.start_date is None) != (self.end_date is None):
            raise ValueError("both start_date and end_date are needed for a date range")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        return self


class DailyCount(Model):
    event: str
    count: int
    date: str = Field(description="The day (UTC), YYYY-MM-DD")


class EventTotal(Model):
    event: str
    count: int


class Frequency(Model):
    event: str
    count: int
    hour_count: list[int] = Field(description="Occurrences in each hour of the day, 0 to 23, UTC")


class TrackerDeleted(Model):
    message: str
    event: str
    deleted: int = Field(description="Events deleted by this call")
    occurrences: int = Field(description="The sum of their counts")
    complete: bool = Field(description="False when time ran out: send the DELETE again")


class Pong(Model):
    message: str
