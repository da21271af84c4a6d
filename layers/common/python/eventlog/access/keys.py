"""API keys: created once in plaintext, stored only as SHA-256 hashes, revocable."""

import secrets
from typing import Any

from eventlog.access import usage
from eventlog.access.auth import hash_key
from eventlog.access.principal import Role
from eventlog.base.errors import InvalidInputError, NotFoundError
from eventlog.base.ids import new_key_id
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.models.admin import Key, KeyCreated, KeyIn, KeyPage
from eventlog.storage import registry


def new_key_record(
    role: Role, app_id: int | None, label: str | None, usage_key: str
) -> tuple[str, dict[str, Any]]:
    """A fresh plaintext key and the record to store under its hash."""
    now = utcnow()
    record: dict[str, Any] = {
        "id": new_key_id(now),
        "role": role.value,
        "created_at": format_iso(now),
        "usage_key": usage_key,
    }
    if app_id is not None:
        record["app_id"] = app_id
    if label:
        record["label"] = label
    return secrets.token_hex(32), record


def create_key(request: KeyIn) -> KeyCreated:
    if request.app_id is None:
        usage_key = usage.operator_usage_key()
    else:
        app = registry.get_app(request.app_id)
        if app is None:
            raise InvalidInputError(f"app {request.app_id} does not exist")
        usage_key = app["usage_key"]
    plaintext, record = new_key_record(request.role, request.app_id, request.label, usage_key)
    registry.put_key(hash_key(plaintext), record)
    return KeyCreated.model_validate({**record, "key": plaintext})


def list_keys(limit: int, after: str | None, app_id: int | None) -> KeyPage:
    found = registry.list_keys(limit, after, app_id)
    items = [Key.model_validate(item) for item in found[:limit]]
    return KeyPage(items=items, next_cursor=items[-1].id if len(found) > limit else None)


def revoke_key(key_id: str) -> Key:
    item = registry.get_key_by_id(key_id)
    if item is None:
        raise NotFoundError(f"no key with id '{key_id}'")
    return Key.model_validate(registry.mark_key_revoked(item, format_iso(utcnow())))
