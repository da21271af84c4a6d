"""Seed 003's consumer events (`POST /api/event`): an event type and its payload."""

from typing import Any

from pydantic import ConfigDict, field_validator

from eventlog.models.base import Label, Model

# EventIn.message's limit. A longer payload (our propagator's JSON of a long event) is kept whole
# in `data` rather than refused or cut.
MESSAGE_MAX_LENGTH = 10_000


class ConsumerEvent(Model):
    """One event as the seed's consumer takes it. Like the seed's pydantic model, it ignores
    fields it does not know."""

    model_config = ConfigDict(extra="ignore")

    event_type: Label
    event_payload: str | dict[str, Any]

    @field_validator("event_payload", mode="before")
    @classmethod
    def _text_or_object(cls, value: Any) -> Any:
        # One error for the field, rather than one for each member of the union.
        if not isinstance(value, str | dict):
            raise ValueError("must be a string (or a JSON object)")
        return value

    def as_event(self) -> dict[str, Any]:
        """The native event: the type is its name, a text payload its message; an object, or
        text too long for a message, goes to `data`."""
        if isinstance(self.event_payload, dict):
            return {"name": self.event_type, "data": self.event_payload}
        if len(self.event_payload) > MESSAGE_MAX_LENGTH:
            return {"name": self.event_type, "data": {"event_payload": self.event_payload}}
        return {"name": self.event_type, "message": self.event_payload}


class ConsumerAccepted(Model):
    """The seed's answer, `{"status_code": "200"}` (its document wraps it in a list and braces
    that are not JSON; its readiness example, written alike, means `{"status": "ready"}`)."""

    status_code: str = "200"
