"""Seed 002's log records (`POST /logs`, `GET /logs`): a view of events."""

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from eventlog.models.base import Label, Level, LevelIn, Model, UtcDatetime


class LogIn(Model):
    """The seed's JSON log object. Fields it does not know are kept in the event's tags."""

    model_config = ConfigDict(extra="allow")

    timestamp: UtcDatetime | None = Field(default=None, description="ISO 8601; default: now")
    level: LevelIn
    service: Label | None = None
    request_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    message: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    data: dict[str, Any] | None = None


class LogRecord(Model):
    """A log as the seed lists it: every key present, `timestamp` without a zone (UTC)."""

    timestamp: str
    level: Level
    service: str | None
    request_id: str | None
    message: str | None
    data: dict[str, Any] | None


class LogAccepted(Model):
    status: str = "Log processed successfully"


class LogQuery(Model):
    model_config = ConfigDict(extra="forbid")

    level: str | None = Field(
        default=None, max_length=50, description="Only this level; an unknown level lists none"
    )
