"""Subscriptions: stored per app in the registry table (`eventlog.storage.registry`), their
secrets in SSM. This module writes a subscription's configuration, the propagator its state
(`eventlog.delivery.propagation`), each only its own attributes, so neither overwrites the other.
Secrets (signing secret, bearer token) are SecureStrings under `subscriptions/<id>/`.
"""

from typing import Any

from eventlog.base.errors import InvalidInputError, NotFoundError
from eventlog.base.ids import lowest_ulid, new_ulid
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.delivery import secret_store
from eventlog.models.subscriptions import (
    Subscription,
    SubscriptionIn,
    SubscriptionPage,
    SubscriptionUpdate,
)
from eventlog.storage import registry

MAX_SUBSCRIPTIONS_PER_APP = 25
# Names of the secrets in the store, not secrets.
SECRET = "secret"  # noqa: S105
BEARER_TOKEN = "bearer_token"  # noqa: S105


def _secrets_owner(subscription_id: str) -> str:
    return f"subscriptions/{subscription_id}"


def from_item(item: dict[str, Any]) -> Subscription:
    return Subscription.model_validate(
        {name: value for name, value in item.items() if name in Subscription.model_fields}
    )


def _check_url(url: str) -> None:
    from eventlog.delivery.outbound import check_target  # ssl and http.client: only when needed

    check_target(url)


def create_subscription(app_id: int, request: SubscriptionIn) -> Subscription:
    registry.require_app(app_id)
    existing = registry.subscription_items(app_id, MAX_SUBSCRIPTIONS_PER_APP)
    if len(existing) >= MAX_SUBSCRIPTIONS_PER_APP:
        raise InvalidInputError(f"an app has at most {MAX_SUBSCRIPTIONS_PER_APP} subscriptions")
    _check_url(request.url)
    now = utcnow()
    subscription_id = "s_" + new_ulid(now).lower()
    secrets = {SECRET: request.secret.get_secret_value()}
    if request.bearer_token is not None:
        secrets[BEARER_TOKEN] = request.bearer_token.get_secret_value()
    secret_store.replace(_secrets_owner(subscription_id), secrets)  # before the subscription
    subscription = Subscription(
        id=subscription_id,
        app_id=app_id,
        url=request.url,
        description=request.description,
        filter=request.filter,
        batch_size=request.batch_size,
        format=request.format,
        has_bearer_token=request.bearer_token is not None,
        enabled=request.enabled,
        checkpoint=lowest_ulid(request.start_at or now),
        delivered=0,
        consecutive_failures=0,
        created_at=format_iso(now),
        updated_at=format_iso(now),
    )
    registry.put_subscription(subscription.model_dump(mode="json", exclude_none=True))
    return subscription


def get_subscription(app_id: int, subscription_id: str) -> Subscription:
    registry.require_app(app_id)
    item = registry.get_subscription(app_id, subscription_id)
    if item is None:
        raise NotFoundError(f"app {app_id} has no subscription {subscription_id}")
    return from_item(item)


def list_subscriptions(app_id: int, limit: int, cursor: str | None) -> SubscriptionPage:
    registry.require_app(app_id)
    items = registry.subscription_items(app_id, limit + 1, cursor)
    found = [from_item(item) for item in items[:limit]]
    return SubscriptionPage(items=found, next_cursor=found[-1].id if len(items) > limit else None)


def update_subscription(
    app_id: int, subscription_id: str, update: SubscriptionUpdate
) -> Subscription:
    current = get_subscription(app_id, subscription_id)
    sent = update.model_fields_set
    if "url" in sent and update.url:
        _check_url(update.url)
    assignments: dict[str, Any] = {"updated_at": format_iso(utcnow())}
    for name in ("url", "description", "batch_size", "format", "enabled"):
        if name in sent:
            assignments[name] = getattr(update, name)
    if "filter" in sent and update.filter is not None:
        assignments["filter"] = update.filter.model_dump(mode="json", exclude_none=True)
    removals: list[str] = []
    if update.enabled and not current.enabled:
        # Turned back on: the run of failures that disabled it is over.
        assignments["consecutive_failures"] = 0
        removals += ["disabled_reason", "next_attempt_at"]
    owner = _secrets_owner(subscription_id)
    if "secret" in sent and update.secret is not None:
        secret_store.put(owner, {SECRET: update.secret.get_secret_value()})
    if "bearer_token" in sent:
        if update.bearer_token is None:
            secret_store.remove(owner, [BEARER_TOKEN])
        else:
            secret_store.put(owner, {BEARER_TOKEN: update.bearer_token.get_secret_value()})
        assignments["has_bearer_token"] = update.bearer_token is not None
    if assignments.get("description", "") is None:
        del assignments["description"]
        removals.append("description")
    updated = registry.update_subscription(app_id, subscription_id, assignments, removals)
    if updated is None:  # deleted since it was read
        raise NotFoundError(f"app {app_id} has no subscription {subscription_id}")
    return from_item(updated)


def delete_subscription(app_id: int, subscription_id: str) -> Subscription:
    registry.require_app(app_id)
    deleted = registry.delete_subscription(app_id, subscription_id)
    if deleted is None:
        raise NotFoundError(f"app {app_id} has no subscription {subscription_id}")
    secret_store.delete(_secrets_owner(subscription_id))
    return from_item(deleted)


def subscription_secrets(subscription: Subscription) -> tuple[str, str | None]:
    """The signing secret and the bearer token (None when there is none)."""
    values = secret_store.read(_secrets_owner(subscription.id), subscription.updated_at)
    return values[SECRET], values.get(BEARER_TOKEN)
