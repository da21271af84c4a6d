"""Apps: the tenants. Each has an integer id, a unique name and its own ingest key.

One app is the service's own: `eventlog-internal` (registry.INTERNAL_APP_NAME) holds the
propagator's heartbeats, apart from every client's app (`default` included). It is created the
first time it is needed (`internal_app_id`: by the propagator's first round, or by the local
stack at start), with no ingest key, usage key or alert rule; no app can be created with its name.
"""

from eventlog.access import usage
from eventlog.access.auth import hash_key
from eventlog.access.keys import new_key_record
from eventlog.access.principal import Role
from eventlog.base.errors import ConflictError
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.delivery import alerts
from eventlog.models.admin import App, AppCreated, AppPage
from eventlog.storage import registry


def create_app(name: str) -> AppCreated:
    if name.lower() == registry.INTERNAL_APP_NAME:
        raise ConflictError(f"the app name '{name}' is reserved for the service's own events")
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


def internal_app_id() -> int:
    """The id of the service's own app (registry.INTERNAL_APP_NAME), created when missing.

    Registry writes only (the propagator may make it: no API Gateway usage key, no ingest key,
    no alert rule). Keys an admin makes for it are metered on the operator's usage key (an empty
    `usage_key` falls back to it), as admin keys are.
    """
    app_id = registry.app_id_by_name(registry.INTERNAL_APP_NAME)
    if app_id is not None:
        return app_id
    new_id = registry.next_app_id()
    app = {
        "id": new_id,
        "name": registry.INTERNAL_APP_NAME,
        "created_at": format_iso(utcnow()),
        "internal": True,
        "usage_key": "",
    }
    if registry.put_internal_app(app):
        return new_id
    # Another run made it meanwhile (the id drawn here stays unused).
    made = registry.app_id_by_name(registry.INTERNAL_APP_NAME)
    if made is None:
        raise ConflictError("the internal app could not be created")
    return made
