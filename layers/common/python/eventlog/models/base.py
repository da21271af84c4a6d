"""Shared types: levels, roles, field constraints, the principal, the base models."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

from eventlog.base.timeutil import format_iso, to_utc

MAX_BATCH = 100
# Offsets are read through, so deep ones cost reads: past this, page with the cursor.
MAX_OFFSET = 10_000
# Every time a client sends (occurred_at, sent_at, since, until...) lies in these bounds,
# inclusive: before 1970 event ids (ULIDs) and epoch arithmetic go negative, and far-off years
# overflow datetime arithmetic (an offset, a skew correction, a bucket).
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
TIME_BOUNDS = f"{format_iso(EARLIEST_TIME)} .. {format_iso(LATEST_TIME)}"


class Level(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    def at_least(self, other: "Level") -> bool:
        """Severity order (the values' alphabetical order is not it)."""
        order = list(Level)
        return order.index(self) >= order.index(other)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# Enum values given in any case: `error`, `Error`, `ERROR`.
CaseInsensitive = BeforeValidator(_upper)
LevelIn = Annotated[Level, CaseInsensitive]


def in_time_bounds(moment: datetime) -> bool:
    return EARLIEST_TIME <= moment <= LATEST_TIME


def _bounded_utc(value: datetime) -> datetime:
    try:
        moment = to_utc(value)  # year 1 or 9999 with an offset overflows here
    except OverflowError:
        moment = None
    if moment is None or not in_time_bounds(moment):
        raise ValueError(f"must lie in {TIME_BOUNDS} (UTC)")
    return moment


# A time as a client sends it (any ISO 8601 offset; none is UTC), in UTC, within the bounds.
UtcDatetime = Annotated[datetime, AfterValidator(_bounded_utc)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
ClientEventId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+=-]+$")
]
AppName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9._-]*$")
]


class Model(BaseModel):
    # Schemas are built on first use, not at import: cold starts pay only for what a route uses.
    model_config = ConfigDict(defer_build=True)


class CompactModel(Model):
    """Leaves unset optional fields out of its JSON instead of writing null."""

    @model_serializer(mode="wrap")
    def _leave_out_unset(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {field: value for field, value in serialize(self).items() if value is not None}


class FieldError(Model):
    field: str
    message: str
