"""Shared types: levels, roles, field constraints, the principal, the base models."""

from datetime import datetime
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

from eventlog.base.timeutil import to_utc

MAX_BATCH = 100
# Offsets are read through, so deep ones cost reads: past this, page with the cursor.
MAX_OFFSET = 10_000


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
UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
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
