"""Subscriptions: where the propagator forwards an app's new events, and how it is doing.

The signing secret and the bearer token are write-only (SSM Parameter Store).
"""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, SecretStr, model_validator

from eventlog.models.alerts import SigningSecret, TargetUrl
from eventlog.models.base import CompactModel, Label, Level, LevelIn, Model, UtcDatetime

MAX_SUBSCRIPTION_BATCH = 100
BearerToken = Annotated[SecretStr, Field(min_length=1, max_length=4096)]
# eventlog: {"subscription_id", "app_id", "batch_id", "events": [...]};
# consumer: [{"event_type", "event_payload"}], what an event consumer (seed 003) takes.
BatchFormat = Literal["eventlog", "consumer"]


class SubscriptionFilter(CompactModel):
    """Forward only events with one of these levels, names, services (unset: any)."""

    model_config = ConfigDict(extra="forbid")

    levels: list[LevelIn] | None = Field(default=None, min_length=1, max_length=5)
    names: list[Label] | None = Field(default=None, min_length=1, max_length=20)
    services: list[Label] | None = Field(default=None, min_length=1, max_length=20)

    def matches(self, level: Level, name: str | None, service: str | None) -> bool:
        return (
            (self.levels is None or level in self.levels)
            and (self.names is None or name in self.names)
            and (self.services is None or service in self.services)
        )


class SubscriptionIn(Model):
    model_config = ConfigDict(extra="forbid")

    url: TargetUrl
    description: Label | None = None
    filter: SubscriptionFilter = Field(default_factory=SubscriptionFilter)
    secret: SigningSecret = Field(description="Signs every batch (HMAC-SHA256); never shown")
    bearer_token: BearerToken | None = Field(
        default=None, description="Sent as Authorization: Bearer; never shown"
    )
    batch_size: int = Field(default=MAX_SUBSCRIPTION_BATCH, ge=1, le=MAX_SUBSCRIPTION_BATCH)
    format: BatchFormat = "eventlog"
    start_at: UtcDatetime | None = Field(
        default=None, description="Forward events received from this time on (default: now)"
    )
    enabled: bool = True


class SubscriptionUpdate(Model):
    """Only the fields sent change. `enabled: true` also clears a run of failures.
    `bearer_token: null` removes the token."""

    model_config = ConfigDict(extra="forbid")

    url: TargetUrl | None = None
    description: Label | None = None
    filter: SubscriptionFilter | None = None
    secret: SigningSecret | None = None
    bearer_token: BearerToken | None = None
    batch_size: int | None = Field(default=None, ge=1, le=MAX_SUBSCRIPTION_BATCH)
    format: BatchFormat | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _not_null(self) -> "SubscriptionUpdate":
        required = ("url", "filter", "secret", "batch_size", "format", "enabled")
        nulled = [n for n in required if n in self.model_fields_set and getattr(self, n) is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        return self


class Subscription(Model):
    id: str
    app_id: int
    url: str
    description: str | None = None
    filter: SubscriptionFilter
    batch_size: int
    format: BatchFormat
    has_bearer_token: bool
    enabled: bool
    disabled_reason: str | None = Field(
        default=None, description="Why the propagator turned it off, if it did"
    )
    checkpoint: str = Field(
        description="A position: every event with an id up to it was delivered or filtered out"
    )
    delivered: int = Field(description="Events delivered so far")
    consecutive_failures: int
    last_error: str | None = None
    last_error_at: str | None = None
    last_delivery_at: str | None = None
    next_attempt_at: str | None = Field(
        default=None, description="Set while backing off after a failure"
    )
    created_at: str
    updated_at: str


class SubscriptionPage(Model):
    items: list[Subscription]
    next_cursor: str | None
