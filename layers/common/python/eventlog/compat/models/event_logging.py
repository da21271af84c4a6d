"""Seed 000's events (`POST /events`, `GET /events`, `GET /events/{event_id}`): a view of
numbered events.

The seed's fields map onto an event: `event_type` is its name (and its level when it is a level
name, so the seed's ERROR events count as errors), `service_name` its service, `additional_data`
its message (a string) or its data (a JSON object). Its integer `event_id` is the event's number.
"""

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from eventlog.models.base import Label, Level, Model
from eventlog.models.events import Event, EventIn

MAX_LIMIT = 1000
LEVEL_NAMES = {level.value for level in Level}  # as LevelIn takes them, in any case

MAX_MESSAGE = 10_000  # as an event's message


class LoggedEventIn(Model):
    """The seed's request body; fields it does not name are refused, not dropped."""

    model_config = ConfigDict(extra="forbid")

    event_type: Label
    service_name: Label | None = None
    additional_data: str | dict[str, Any] | None = Field(
        default=None, description="A string (stored as the message) or a JSON object (the data)"
    )

    @field_validator("additional_data", mode="before")
    @classmethod
    def _string_or_object(cls, value: Any) -> Any:
        # Checked before the union, so a wrong value gets one error, not one per member.
        if value is not None and not isinstance(value, str | dict):
            raise ValueError("must be a string or a JSON object")
        if isinstance(value, str) and len(value) > MAX_MESSAGE:
            raise ValueError(f"a string takes at most {MAX_MESSAGE} characters")
        return value

    def to_event(self) -> EventIn:
        event: dict[str, Any] = {"name": self.event_type, "service": self.service_name}
        if self.event_type.upper() in LEVEL_NAMES:
            event["level"] = self.event_type
        if isinstance(self.additional_data, str):
            event["message"] = self.additional_data
        else:
            event["data"] = self.additional_data
        return EventIn.model_validate(event)


class LoggedEvent(Model):
    """A seed 000 event as its API returns it: every key present, null when not sent."""

    event_id: int
    event_creation_date: str = Field(description="When it was received (ISO 8601, UTC)")
    event_type: str
    service_name: str | None
    additional_data: str | dict[str, Any] | None

    @classmethod
    def of(cls, event: Event) -> "LoggedEvent":
        # Only events stored by POST /events are numbered, and their event_type is their name.
        assert event.number is not None, f"event {event.id} has no number"
        assert event.name is not None, f"event {event.id} has no name"
        return cls(
            event_id=event.number,
            event_creation_date=event.received_at,
            event_type=event.name,
            service_name=event.service,
            additional_data=event.message if event.message is not None else event.data,
        )


class LoggedEventQuery(Model):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT)
    after: int = Field(default=0, ge=0, description="List the events numbered above this one")
