"""Events as clients send them and as the API returns them; listings."""

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from eventlog.models.base import (
    MAX_OFFSET,
    TIME_BOUNDS,
    ClientEventId,
    CompactModel,
    FieldError,
    Label,
    Level,
    LevelIn,
    Model,
    UtcDatetime,
)

# The propagator's own event, written into the default app every round
# (eventlog.delivery.propagation).
HEARTBEAT_NAME = "eventlog.heartbeat"


class EventIn(Model):
    """One event as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    occurred_at: UtcDatetime | None = Field(
        default=None,
        description=f"When it happened (ISO 8601, any offset, in {TIME_BOUNDS}); default: received",
    )
    level: LevelIn = Level.INFO
    message: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    name: Label | None = None
    service: Label | None = None
    count: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] = 1
    data: dict[str, Any] | None = None
    stack: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    event_id: ClientEventId | None = Field(
        default=None, description="Client id: the same event_id is stored once per app"
    )
    sent_at: UtcDatetime | None = Field(
        default=None,
        description="Client clock at sending: corrects occurred_at for skew (the corrected time "
        f"must lie in {TIME_BOUNDS} too)",
    )

    @model_validator(mode="after")
    def _has_content(self) -> "EventIn":
        if not self.message and not self.name:
            raise ValueError("an event needs a message or a name")
        return self


class Event(CompactModel):
    """A stored event as the API returns it (unset optional fields are left out)."""

    id: str
    app_id: int
    received_at: str
    occurred_at: str
    level: Level
    message: str | None = None
    name: str | None = None
    service: str | None = None
    count: int = 1
    data: dict[str, Any] | None = None
    stack: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    event_id: str | None = None
    number: int | None = Field(
        default=None, description="Its number in the app (seed 000's integer event_id), if any"
    )


class BatchItemResult(CompactModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = None
    errors: list[FieldError] | None = None


class BatchResult(CompactModel):
    # Set only when every event was rejected: the service's error shape, items still reported.
    error: str | None = None
    message: str | None = None
    accepted: int
    duplicates: int
    rejected: int
    items: list[BatchItemResult]


class EventPage(Model):
    items: list[Event]
    next_cursor: str | None
    next_offset: int | None


class NumberedEventPage(Model):
    """Numbered events (seed 000), ascending by number."""

    items: list[Event]
    next_after: int | None = Field(description="The number to list on after; None at the end")


class EventQuery(Model):
    """Filters and paging of an event listing; times filter on received_at."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = Field(default=None, max_length=2048)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    level: LevelIn | None = None
    name: Label | None = None
    service: Label | None = None
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "EventQuery":
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        if self.cursor and self.offset:
            raise ValueError("page with either cursor or offset, not both")
        return self


class EventsDeleted(Model):
    app_id: int
    name: str
    deleted: int = Field(description="Events deleted by this call")
    occurrences: int = Field(description="The sum of their counts")
    complete: bool = Field(description="False when time ran out: call again to go on")
