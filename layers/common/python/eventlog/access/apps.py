"""Apps: the tenants. Each has an integer id, a unique name and its own ingest key."""

from eventlog.access import usage
from eventlog.access.auth import hash_key
from eventlog.access.keys import new_key_record
from eventlog.access.principal import Role
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.delivery import alerts
from eventlog.models.admin import App, AppCreated, AppPage
from eventlog.storage import registry


def create_app(name: str) -> AppCreated:
    app_id = registry.next_app_id()
    usage_key_id, usage_key = usage.create_app_usage_key(app_id, name)
    created_at = format_iso(utcnow())
    app = {
        "id": app_id,
        "name": name,
        "created_at": created_at,
        "usage_key": usage_key,
        "usage_key_id": usage_key_id,
    }
    ingest_key, key_record = new_key_record(Role.INGEST, app_id, "ingest key", usage_key)
    try:
        registry.put_app_with_key(
            app,
            hash_key(ingest_key),
            key_record,
            alerts.default_rule_item(app_id, created_at),
        )
    except Exception:
        usage.delete_usage_key(usage_key_id)
        raise
    return AppCreated.model_validate({**app, "ingest_key": ingest_key})


def get_app(app_id: int) -> App:
    return App.model_validate(registry.require_app(app_id))


def list_apps(limit: int, after: int | None) -> AppPage:
    found = registry.list_apps(limit, after)
    items = [App.model_validate(item) for item in found[:limit]]
    next_cursor = str(items[-1].id) if len(found) > limit else None
    return AppPage(items=items, next_cursor=next_cursor)
