"""API keys: created once in plaintext, stored only as SHA-256 hashes, revocable."""

import secrets
from typing import Any

from eventlog.access import usage
from eventlog.access.auth import hash_key
from eventlog.access.principal import Role
from eventlog.base.errors import ConflictError, InvalidInputError, NotFoundError
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


# Revocations of admin keys racing each other: tries before answering 409.
_ADMIN_REVOCATION_ATTEMPTS = 3


def revoke_key(key_id: str) -> Key:
    """Revoke a key (again: keeps the first time). The last live admin key is never revoked
    (ConflictError): nobody could manage the stack after it."""
    item = registry.get_key_by_id(key_id)
    if item is None:
        raise NotFoundError(f"no key with id '{key_id}'")
    for _ in range(_ADMIN_REVOCATION_ATTEMPTS):
        if item["role"] != Role.ADMIN.value or item.get("revoked_at"):
            return Key.model_validate(registry.mark_key_revoked(item, format_iso(utcnow())))
        keeper = registry.other_live_admin_key(key_id)
        if keeper is None:
            raise ConflictError(
                f"key '{key_id}' is the last live admin key: create another admin key "
                "(POST /keys) before revoking this one"
            )
        revoked_at = format_iso(utcnow())
        if registry.revoke_key_keeping(item, keeper, revoked_at):
            return Key.model_validate({**item, "revoked_at": revoked_at})
        item = registry.get_key_by_id(key_id) or item  # changed meanwhile: look again
    raise ConflictError(f"key '{key_id}' is being revoked concurrently with other admin keys")
