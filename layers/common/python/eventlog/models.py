"""Request and response bodies, and the principal a credential stands for."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from eventlog.timeutil import to_utc

MAX_BATCH = 100
# Offsets are read through, so deep ones cost reads: past this, page with the cursor.
MAX_OFFSET = 10_000


class Level(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    INGEST = "ingest"


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


LevelIn = Annotated[Level, BeforeValidator(_upper)]
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


class EventIn(Model):
    """One event as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    occurred_at: UtcDatetime | None = Field(
        default=None, description="When it happened (ISO 8601, any offset); default: received"
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
        default=None, description="Client clock at sending: corrects occurred_at for skew"
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


class FieldError(Model):
    field: str
    message: str


class BatchItemResult(CompactModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = None
    errors: list[FieldError] | None = None


class BatchResult(Model):
    accepted: int
    duplicates: int
    rejected: int
    items: list[BatchItemResult]


class EventPage(Model):
    items: list[Event]
    next_cursor: str | None
    next_offset: int | None


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
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        if self.cursor and self.offset:
            raise ValueError("page with either cursor or offset, not both")
        return self


class App(Model):
    id: int
    name: str
    created_at: str


class AppCreated(App):
    ingest_key: str = Field(description="Plaintext ingest key: shown this once, stored hashed")


class AppPage(Model):
    items: list[App]
    next_cursor: str | None


class KeyIn(Model):
    model_config = ConfigDict(extra="forbid")

    role: Role
    app_id: int | None = Field(default=None, ge=1)
    label: Label | None = None

    @model_validator(mode="after")
    def _app_matches_role(self) -> "KeyIn":
        if self.role is Role.ADMIN and self.app_id is not None:
            raise ValueError("admin keys are not tied to an app: leave app_id out")
        if self.role is not Role.ADMIN and self.app_id is None:
            raise ValueError(f"a {self.role.value} key needs an app_id")
        return self


class Key(Model):
    id: str
    role: Role
    app_id: int | None = None
    label: str | None = None
    created_at: str
    revoked_at: str | None = None


class KeyCreated(Key):
    key: str = Field(description="Plaintext key: shown this once, stored as a SHA-256 hash")


class KeyPage(Model):
    items: list[Key]
    next_cursor: str | None


class TokenIn(Model):
    model_config = ConfigDict(extra="forbid")

    role: Role
    app_id: int | None = Field(default=None, ge=1)
    subject: Label = "eventlog-client"
    expires_in: int = Field(default=3600, ge=60, le=31_536_000, description="Seconds")

    @model_validator(mode="after")
    def _app_matches_role(self) -> "TokenIn":
        KeyIn(role=self.role, app_id=self.app_id)
        return self


class TokenOut(Model):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme, not a secret)
    expires_at: str


class Principal(Model):
    """Who is calling: the authorizer builds it, handlers receive it in the request context."""

    role: Role
    app_id: int | None = None
    key_id: str

    @model_validator(mode="after")
    def _scoped_unless_admin(self) -> "Principal":
        if self.role is not Role.ADMIN and self.app_id is None:
            raise ValueError(f"a {self.role.value} principal needs an app")
        return self

    def may_use_app(self, app_id: int) -> bool:
        return self.role is Role.ADMIN or self.app_id == app_id
