"""Alert rules: which events notify, when, and through which channels.

Secrets (a webhook's signing secret, a Slack incoming-webhook URL) are write-only: they go to
SSM Parameter Store and the API shows only that they are set.
"""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, SecretStr, StringConstraints, model_validator

from eventlog.models.base import Label, Level, LevelIn, Model

MAX_CHANNELS = 5
MAX_WINDOW_MINUTES = 60

# An event name or service to match: exact, or a prefix when it ends with `*` ("payment.*").
MatchPattern = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f*]*\*?$")
]
TargetUrl = Annotated[
    str, StringConstraints(max_length=1024, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s]+$")
]
SigningSecret = Annotated[SecretStr, Field(min_length=16, max_length=256)]
SnsTopicArn = Annotated[
    str, StringConstraints(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
]


def pattern_matches(pattern: str | None, value: str | None) -> bool:
    """No pattern matches everything; `x*` matches what starts with x; else exact."""
    if pattern is None:
        return True
    if value is None:
        return False
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


class Threshold(Model):
    """More than `more_than` matching events in the last `window_minutes` minutes."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["threshold"]
    more_than: int = Field(ge=0, le=1_000_000_000)
    window_minutes: int = Field(ge=1, le=MAX_WINDOW_MINUTES)


class Increase(Model):
    """The last window counts `percent`% more matching events than the window before it (and
    at least `min_count`)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["increase"]
    percent: int = Field(ge=1, le=1_000_000)
    window_minutes: int = Field(ge=1, le=MAX_WINDOW_MINUTES)
    min_count: int = Field(default=1, ge=1, le=1_000_000_000)


Condition = Annotated[Threshold | Increase, Field(discriminator="type")]


# ---------------------------------------------------------------- channels as clients send them


class WebhookChannelIn(Model):
    """HTTP POST of the JSON notification, signed with HMAC-SHA256 (see README)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"]
    url: TargetUrl
    secret: SigningSecret


class SlackChannelIn(Model):
    """A Slack (or compatible) incoming webhook; its URL is the secret."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["slack"]
    url: TargetUrl


class SnsChannelIn(Model):
    """An SNS topic (e-mail, SMS... fan-out by AWS); default: the stack's alerts topic."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["sns"]
    topic_arn: SnsTopicArn | None = None


ChannelIn = Annotated[WebhookChannelIn | SlackChannelIn | SnsChannelIn, Field(discriminator="type")]


# ---------------------------------------------------------------- channels as the API shows them


class WebhookChannel(Model):
    type: Literal["webhook"]
    url: str
    has_secret: bool = True


class SlackChannel(Model):
    type: Literal["slack"]
    url_hint: str = Field(description="Scheme and host of the incoming webhook; the rest is secret")


class SnsChannel(Model):
    type: Literal["sns"]
    topic_arn: str


Channel = Annotated[WebhookChannel | SlackChannel | SnsChannel, Field(discriminator="type")]


# ---------------------------------------------------------------- rules


def check_condition(event_name: str | None, service: str | None, condition: object) -> None:
    # Rates are read from the aggregates, which count per event name and per service, not per
    # pair of them.
    if condition is not None and event_name is not None and service is not None:
        raise ValueError("a rule with a condition matches on event_name or service, not both")


class AlertRuleIn(Model):
    model_config = ConfigDict(extra="forbid")

    description: Label | None = None
    min_level: LevelIn = Level.ERROR
    event_name: MatchPattern | None = Field(default=None, description="Exact, or `prefix*`")
    service: MatchPattern | None = Field(default=None, description="Exact, or `prefix*`")
    condition: Condition | None = Field(
        default=None, description="Without one, every matching event notifies"
    )
    cooldown_seconds: int = Field(
        default=300, ge=0, le=86_400, description="After a notification, per level: silence"
    )
    channels: list[ChannelIn] = Field(min_length=1, max_length=MAX_CHANNELS)
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> "AlertRuleIn":
        check_condition(self.event_name, self.service, self.condition)
        return self


class AlertRuleUpdate(Model):
    """Only the fields sent change; `channels`, when sent, replaces them all (secrets too)."""

    model_config = ConfigDict(extra="forbid")

    description: Label | None = None
    min_level: LevelIn | None = None
    event_name: MatchPattern | None = None
    service: MatchPattern | None = None
    condition: Condition | None = None
    cooldown_seconds: int | None = Field(default=None, ge=0, le=86_400)
    channels: list[ChannelIn] | None = Field(default=None, min_length=1, max_length=MAX_CHANNELS)
    enabled: bool | None = None

    @model_validator(mode="after")
    def _not_null(self) -> "AlertRuleUpdate":
        required = ("min_level", "cooldown_seconds", "channels", "enabled")
        nulled = [n for n in required if n in self.model_fields_set and getattr(self, n) is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        return self


class AlertRule(Model):
    id: str
    app_id: int
    description: str | None = None
    min_level: Level
    event_name: str | None = None
    service: str | None = None
    condition: Condition | None = None
    cooldown_seconds: int
    channels: list[Channel]
    enabled: bool
    created_at: str
    updated_at: str

    def matches(self, level: Level, name: str | None, service: str | None) -> bool:
        return (
            self.enabled
            and level.at_least(self.min_level)
            and pattern_matches(self.event_name, name)
            and pattern_matches(self.service, service)
        )


class AlertRulePage(Model):
    items: list[AlertRule]
    next_cursor: str | None
