"""Who is calling. Plain Python, not pydantic: the authorizer builds one per request and its cold
start should not pay for pydantic."""

import re
from dataclasses import dataclass
from enum import StrEnum

# An app id as a path or a claim writes it: ASCII digits only ("²".isdigit() is true, and
# int("²") raises), short enough that int() never refuses it (Python limits digits to 4300).
_APP_ID = re.compile(r"[0-9]{1,18}")


def parse_app_id(text: str) -> int | None:
    """The app id `text` spells, or None when it spells none (no app has that id)."""
    return int(text) if isinstance(text, str) and _APP_ID.fullmatch(text) else None


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    INGEST = "ingest"


@dataclass(frozen=True)
class Principal:
    role: Role
    key_id: str
    app_id: int | None = None

    def __post_init__(self) -> None:
        # Accepts what keys and tokens store ("user", 3) and refuses anything else.
        object.__setattr__(self, "role", Role(self.role))
        if self.app_id is not None and (type(self.app_id) is not int or self.app_id < 1):
            raise ValueError(f"app must be a positive integer, not {self.app_id!r}")
        if self.role is not Role.ADMIN and self.app_id is None:
            raise ValueError(f"a {self.role.value} principal needs an app")

    def may_use_app(self, app_id: int) -> bool:
        return self.role is Role.ADMIN or self.app_id == app_id
