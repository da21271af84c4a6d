"""Apps, keys and bearer tokens."""

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from eventlog.access.principal import Role
from eventlog.models.base import Label, Model


class App(Model):
    id: int
    name: str
    created_at: str


class AppCreated(App):
    ingest_key: str = Field(description="Plaintext ingest key: shown this once, stored hashed")


class AppPage(Model):
    items: list[App]
    next_cursor: str | None


class CredentialScope(Model):
    """The role a new key or token gets, and its app (every role but admin has one)."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    app_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _app_matches_role(self) -> "CredentialScope":
        if self.role is Role.ADMIN and self.app_id is not None:
            raise ValueError("admin credentials are not tied to an app: leave app_id out")
        if self.role is not Role.ADMIN and self.app_id is None:
            raise ValueError(f"a {self.role.value} credential needs an app_id")
        return self


class KeyIn(CredentialScope):
    label: Label | None = None


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


class TokenIn(CredentialScope):
    subject: Label = "eventlog-client"
    expires_in: int = Field(
        default=3600,
        ge=60,
        le=31_536_000,
        description=(
            "Seconds; at most the stack's TokenMaxLifetimeSeconds (a day by default). Left out:"
            " an hour, or that maximum when it is shorter"
        ),
    )


class TokenOut(Model):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme, not a secret)
    expires_at: str
    jti: str = Field(description="The token's id: DELETE /tokens/{jti} revokes it")


class TokenRevoked(Model):
    jti: str
    subject: str
    role: Role
    app_id: int | None = None
    expires_at: str
    revoked_at: str
