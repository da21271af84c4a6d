"""The registry table: apps and keys, and what each app owns (alert rules, subscriptions).

Layout (`pk` / `sk`, and the `gsi1` index for listings):
- app: `APP#<id>` / `APP`, listed under gsi1 `APPS` / zero-padded id;
- app name claim: `APPNAME#<lower-case name>` / `APPNAME` (names are unique, whatever the case);
- app id counter: `COUNTER` / `apps`;
- key: `KEY#<sha256 of the key>` / `KEY`, listed under gsi1 `KEYS` / key id (ids sort by time);
- bearer token: `TOKEN#<jti>` / `TOKEN`, written when minted, `revoked_at` set when revoked;
  `expires_at` (epoch seconds, the token's `exp`) is the table's TTL attribute, so the records
  of expired tokens go away;
- alert rule: `APP#<app_id>` / `RULE#<rule_id>`, beside the app's own item, so the write path
  reads an app and its rules with one Query (`app_and_rule_items`);
- subscription: `APP#<app_id>` / `SUB#<subscription_id>`, also under gsi1 `SUBS` /
  subscription id, so the propagator lists every subscription with one Query.

A subscription's item has two writers: the admin API writes its configuration, the propagator
its state (checkpoint, delivered, consecutive_failures, last_error, last_error_at,
last_delivery_at, next_attempt_at, enabled/disabled_reason when disabling, and the lease:
`lease_owner`, `lease_until` in epoch ms), each with an UpdateItem of its own attributes only, so
neither overwrites the other.

Items come and go as plain dicts; the models are the callers' (`eventlog.access`,
`eventlog.delivery`). A failed condition comes back as None or False, or as a domain error
(`eventlog.base.errors`): no caller sees boto3's exceptions.
"""

from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from eventlog.base.errors import ConflictError, NotFoundError
from eventlog.storage import db

APPS_INDEX_KEY = "APPS"
# The app of the seed APIs that have no apps.
DEFAULT_APP_NAME = "default"
# The service's own app: the propagator's heartbeats (`eventlog.access.apps.internal_app_id`).
# No client writes into it and no app can take its name; an admin key reads it like any app.
INTERNAL_APP_NAME = "eventlog-internal"
KEYS_INDEX_KEY = "KEYS"
RULE_PREFIX = "RULE#"
# Sort keys from the app's own item ("APP") through its rules ("RULE#..."), not its subscriptions.
_APP_AND_RULES = ("APP", "RULE$")
SUBSCRIPTION_PREFIX = "SUB#"
SUBSCRIPTIONS_INDEX_KEY = "SUBS"


def _update_if(**update: Any) -> dict[str, Any] | None:
    """An UpdateItem's returned attributes ({} without ReturnValues), None when its condition
    failed."""
    try:
        return db.registry_table().update_item(**update).get("Attributes", {})
    except db.client().exceptions.ConditionalCheckFailedException:
        return None


# ---------------------------------------------------------------- apps


def app_partition(app_id: int) -> str:
    """The partition of an app's item and of what belongs to it (alert rules, subscriptions)."""
    return f"APP#{app_id}"


def _app_key(app_id: int) -> dict[str, str]:
    return {"pk": app_partition(app_id), "sk": "APP"}


def app_item(app: dict[str, Any]) -> dict[str, Any]:
    return {
        **_app_key(app["id"]),
        "gsi1pk": APPS_INDEX_KEY,
        "gsi1sk": f"{app['id']:012d}",
        **app,
    }


def next_app_id() -> int:
    reply = db.registry_table().update_item(
        Key={"pk": "COUNTER", "sk": "apps"},
        UpdateExpression="ADD #value :one",
        ExpressionAttributeNames={"#value": "value"},
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    return int(reply["Attributes"]["value"])


def put_app_with_key(
    app: dict[str, Any], key_hash: str, key: dict[str, Any], first_rule: dict[str, Any]
) -> None:
    """Store a new app, its name claim, its ingest key and its first alert rule (`rule_item`)
    together, or nothing."""
    if not _put_new_app(app, [key_item(key_hash, key), first_rule]):
        raise ConflictError(f"an app named '{app['name']}' exists already")


def put_internal_app(app: dict[str, Any]) -> bool:
    """Store the internal app and its name claim together (no keys, no rules); False when an app
    of that name exists already (another run made it first)."""
    return _put_new_app(app, [])


def _put_new_app(app: dict[str, Any], owned: list[dict[str, Any]]) -> bool:
    """The app, its name claim and the items it owns in one transaction; False, and nothing
    written, when the name is taken."""
    table_name = db.registry_table().name
    name_claim = {"pk": f"APPNAME#{app['name'].lower()}", "sk": "APPNAME", "app_id": app["id"]}
    new_only = {"ConditionExpression": "attribute_not_exists(pk)"}
    try:
        db.transact_write_items(
            [
                {"Put": {"TableName": table_name, "Item": name_claim, **new_only}},
                {"Put": {"TableName": table_name, "Item": app_item(app), **new_only}},
                *({"Put": {"TableName": table_name, "Item": item}} for item in owned),
            ]
        )
    except db.client().exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons", [])
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return False
        raise
    return True


def get_app(app_id: int) -> dict[str, Any] | None:
    return db.registry_table().get_item(Key=_app_key(app_id)).get("Item")


def app_id_by_name(name: str) -> int | None:
    """The id of the app with this name (any case), from its name claim."""
    claim = db.registry_table().get_item(Key={"pk": f"APPNAME#{name.lower()}", "sk": "APPNAME"})
    return int(claim["Item"]["app_id"]) if "Item" in claim else None


def database_answers() -> str | None:
    """None when DynamoDB answers a read of the registry; else why not (seed 003's readiness)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        db.registry_table().get_item(Key={"pk": "COUNTER", "sk": "apps"})
    except (BotoCoreError, ClientError) as error:
        return f"the database does not answer: {type(error).__name__}"
    return None


def app_or_default(app_id: int | None) -> int:
    """The app asked for, or (None: a credential without an app) the default app."""
    if app_id is None:
        app_id = app_id_by_name(DEFAULT_APP_NAME)
        if app_id is None:
            raise NotFoundError(
                f"there is no '{DEFAULT_APP_NAME}' app: create it, or use an app's key"
            )
    require_app(app_id)
    return app_id


def require_app(app_id: int) -> dict[str, Any]:
    """The app, or NotFoundError: every app-scoped request starts here."""
    item = get_app(app_id)
    if item is None:
        raise NotFoundError(f"no app with id {app_id}")
    return item


def _listing(index_key: str, start_after: str | None, limit: int, **query: Any) -> Iterator[dict]:
    condition: ConditionBase = Key("gsi1pk").eq(index_key)
    if start_after:
        condition &= Key("gsi1sk").gt(start_after)
    query = {"IndexName": "gsi1", "KeyConditionExpression": condition, "Limit": limit + 1, **query}
    return db.query_items(db.registry_table(), **query)


def list_apps(limit: int, start_after_id: int | None) -> list[dict[str, Any]]:
    """Up to limit + 1 apps by id (the extra one tells the caller there is a next page)."""
    start = f"{start_after_id:012d}" if start_after_id is not None else None
    return list(islice(_listing(APPS_INDEX_KEY, start, limit), limit + 1))


# ---------------------------------------------------------------- keys


def _key_key(key_hash: str) -> dict[str, str]:
    return {"pk": f"KEY#{key_hash}", "sk": "KEY"}


def key_item(key_hash: str, key: dict[str, Any]) -> dict[str, Any]:
    return {**_key_key(key_hash), "gsi1pk": KEYS_INDEX_KEY, "gsi1sk": key["id"], **key}


def put_key(key_hash: str, key: dict[str, Any]) -> None:
    db.registry_table().put_item(Item=key_item(key_hash, key))


def get_key_by_hash(key_hash: str) -> dict[str, Any] | None:
    return db.registry_table().get_item(Key=_key_key(key_hash)).get("Item")


def list_keys(limit: int, start_after_id: str | None, app_id: int | None) -> list[dict[str, Any]]:
    """Up to limit + 1 keys by id, optionally only one app's."""
    query = {"FilterExpression": Attr("app_id").eq(app_id)} if app_id is not None else {}
    return list(islice(_listing(KEYS_INDEX_KEY, start_after_id, limit, **query), limit + 1))


def get_key_by_id(key_id: str) -> dict[str, Any] | None:
    found = db.registry_table().query(
        IndexName="gsi1",
        KeyConditionExpression=Key("gsi1pk").eq(KEYS_INDEX_KEY) & Key("gsi1sk").eq(key_id),
    )["Items"]
    return found[0] if found else None


def other_live_admin_key(key_id: str) -> dict[str, Any] | None:
    """A live admin key other than `key_id`, None when there is none (a Query of gsi1's keys,
    stopping at the first one found)."""
    found = db.query_items(
        db.registry_table(),
        IndexName="gsi1",
        KeyConditionExpression=Key("gsi1pk").eq(KEYS_INDEX_KEY),
        FilterExpression=Attr("role").eq("admin") & Attr("revoked_at").not_exists(),
    )
    return next((item for item in found if item["id"] != key_id), None)


def revoke_key_keeping(item: dict[str, Any], keeper: dict[str, Any], revoked_at: str) -> bool:
    """Revoke the live key `item` while the key `keeper` stays live, in one transaction: False
    when either changed meanwhile (two admins revoking the last two admin keys at once cannot
    both succeed)."""
    table_name = db.registry_table().name
    live = "attribute_exists(pk) AND attribute_not_exists(revoked_at)"
    try:
        db.transact_write_items(
            [
                {
                    "Update": {
                        "TableName": table_name,
                        "Key": {"pk": item["pk"], "sk": item["sk"]},
                        "UpdateExpression": "SET revoked_at = :when",
                        "ConditionExpression": live,
                        "ExpressionAttributeValues": {":when": revoked_at},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table_name,
                        "Key": {"pk": keeper["pk"], "sk": keeper["sk"]},
                        "ConditionExpression": live,
                    }
                },
            ]
        )
    except db.client().exceptions.TransactionCanceledException:
        return False
    return True


def mark_key_revoked(item: dict[str, Any], revoked_at: str) -> dict[str, Any]:
    """Set revoked_at once (revoking twice keeps the first time); returns the updated key."""
    return db.registry_table().update_item(
        Key={"pk": item["pk"], "sk": item["sk"]},
        ReturnValues="ALL_NEW",
        UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :when)",
        ExpressionAttributeValues={":when": revoked_at},
        ConditionExpression=Attr("pk").exists(),
    )["Attributes"]


# ---------------------------------------------------------------- bearer tokens


def _token_key(jti: str) -> dict[str, str]:
    return {"pk": f"TOKEN#{jti}", "sk": "TOKEN"}


def put_token(token: dict[str, Any]) -> None:
    """Record a minted token: `jti`, `subject`, `role`, `app_id` and `usage_key` (app tokens),
    `expires_at` (epoch seconds: the TTL)."""
    db.registry_table().put_item(
        Item={**_token_key(token["jti"]), **token},
        ConditionExpression="attribute_not_exists(pk)",
    )


def get_token(jti: str) -> dict[str, Any] | None:
    """A token's record (one GetItem: all the authorizer reads for a bearer token)."""
    return db.registry_table().get_item(Key=_token_key(jti)).get("Item")


def mark_token_revoked(jti: str, revoked_at: str) -> dict[str, Any] | None:
    """Set revoked_at once (revoking twice keeps the first time); the record, None when there is
    no such token (or it expired and its record is gone)."""
    return _update_if(
        Key=_token_key(jti),
        UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :when)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":when": revoked_at},
        ReturnValues="ALL_NEW",
    )


# ---------------------------------------------------------------- what an app owns


def _owned_items(app_id: int, prefix: str, limit: int, after: str | None) -> list[dict]:
    """Up to `limit` items of an app's partition whose sort key starts with `prefix` (its alert
    rules, its subscriptions), from after the one whose id is `after`."""
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": app_partition(app_id), ":prefix": prefix},
        "Limit": limit,
    }
    if after:
        query["ExclusiveStartKey"] = {"pk": app_partition(app_id), "sk": f"{prefix}{after}"}
    return db.registry_table().query(**query)["Items"]


def _deleted(key: dict[str, str]) -> dict[str, Any] | None:
    """Delete an item; what it was, None when there was none."""
    return db.registry_table().delete_item(Key=key, ReturnValues="ALL_OLD").get("Attributes")


# ---------------------------------------------------------------- alert rules


def _rule_key(app_id: int, rule_id: str) -> dict[str, str]:
    return {"pk": app_partition(app_id), "sk": f"{RULE_PREFIX}{rule_id}"}


def rule_item(rule: dict[str, Any]) -> dict[str, Any]:
    """The item of a rule (its fields, `app_id` and `id` among them)."""
    return {**_rule_key(rule["app_id"], rule["id"]), **rule}


def put_rule(rule: dict[str, Any]) -> None:
    db.registry_table().put_item(Item=rule_item(rule))


def replace_rule(rule: dict[str, Any], updated_at_read: str) -> bool:
    """Store a rule over the one read; False when that one changed meanwhile (its `updated_at`
    is no longer `updated_at_read`)."""
    try:
        db.registry_table().put_item(
            Item=rule_item(rule),
            ConditionExpression="updated_at = :seen",
            ExpressionAttributeValues={":seen": updated_at_read},
        )
    except db.client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def get_rule(app_id: int, rule_id: str) -> dict[str, Any] | None:
    return db.registry_table().get_item(Key=_rule_key(app_id, rule_id)).get("Item")


def rule_items(app_id: int, limit: int, after: str | None = None) -> list[dict[str, Any]]:
    """Up to `limit` rules of an app by id, from after the rule `after`."""
    return _owned_items(app_id, RULE_PREFIX, limit, after)


def delete_rule(app_id: int, rule_id: str) -> dict[str, Any] | None:
    """The rule deleted, None when there was none."""
    return _deleted(_rule_key(app_id, rule_id))


def app_and_rule_items(app_id: int) -> list[dict[str, Any]]:
    """The app's item (if there is an app) and its rules' items, in one Query."""
    return list(
        db.query_items(
            db.registry_table(),
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": app_partition(app_id),
                ":first": _APP_AND_RULES[0],
                ":last": _APP_AND_RULES[1],
            },
        )
    )


# ---------------------------------------------------------------- subscriptions: configuration


def subscription_key(app_id: int, subscription_id: str) -> dict[str, str]:
    return {"pk": app_partition(app_id), "sk": f"{SUBSCRIPTION_PREFIX}{subscription_id}"}


def put_subscription(subscription: dict[str, Any]) -> None:
    """Store a new subscription (its fields, `app_id` and `id` among them)."""
    db.registry_table().put_item(
        Item={
            **subscription_key(subscription["app_id"], subscription["id"]),
            "gsi1pk": SUBSCRIPTIONS_INDEX_KEY,
            "gsi1sk": subscription["id"],
            **subscription,
        }
    )


def get_subscription(app_id: int, subscription_id: str) -> dict[str, Any] | None:
    return db.registry_table().get_item(Key=subscription_key(app_id, subscription_id)).get("Item")


def subscription_items(app_id: int, limit: int, after: str | None = None) -> list[dict[str, Any]]:
    """Up to `limit` subscriptions of an app by id, from after the subscription `after`."""
    return _owned_items(app_id, SUBSCRIPTION_PREFIX, limit, after)


def update_subscription(
    app_id: int, subscription_id: str, assignments: dict[str, Any], removals: list[str]
) -> dict[str, Any] | None:
    """Set `assignments` (never empty) and remove the attributes `removals` of a subscription;
    the subscription as it is then, None when there is none."""
    names = {f"#a{i}": name for i, name in enumerate(assignments)}
    names |= {f"#r{i}": name for i, name in enumerate(removals)}
    expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(assignments)))
    if removals:
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
    return _update_if(
        Key=subscription_key(app_id, subscription_id),
        UpdateExpression=expression,
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":a{i}": v for i, v in enumerate(assignments.values())},
        ReturnValues="ALL_NEW",
    )


def delete_subscription(app_id: int, subscription_id: str) -> dict[str, Any] | None:
    """The subscription deleted, None when there was none."""
    return _deleted(subscription_key(app_id, subscription_id))


def enabled_subscriptions() -> list[dict[str, Any]]:
    """Every enabled subscription, of every app (a Query on gsi1)."""
    return list(
        db.query_items(
            db.registry_table(),
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :subs",
            FilterExpression="enabled = :yes",
            ExpressionAttributeValues={":subs": SUBSCRIPTIONS_INDEX_KEY, ":yes": True},
        )
    )


# ---------------------------------------------------------------- subscriptions: delivery state


def lease_subscription(
    app_id: int, subscription_id: str, owner: str, now: datetime, until_ms: int
) -> dict[str, Any] | None:
    """The subscription as it is now, leased to `owner` until `until_ms`; None when another
    run holds it, or it is disabled or gone. An owner may lease again what it holds."""
    return _update_if(
        Key=subscription_key(app_id, subscription_id),
        UpdateExpression="SET lease_owner = :owner, lease_until = :until",
        ConditionExpression=(
            "attribute_exists(pk) AND enabled = :yes"
            " AND (attribute_not_exists(lease_until) OR lease_until < :now"
            " OR lease_owner = :owner)"
        ),
        ExpressionAttributeValues={
            ":owner": owner,
            ":until": until_ms,
            ":now": int(now.timestamp() * 1000),
            ":yes": True,
        },
        ReturnValues="ALL_NEW",
    )


def release_subscription_lease(app_id: int, subscription_id: str, owner: str) -> None:
    """End `owner`'s lease (nothing when it holds none: it expired and another run took it)."""
    _update_if(
        Key=subscription_key(app_id, subscription_id),
        UpdateExpression="REMOVE lease_owner, lease_until",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeValues={":owner": owner},
    )


def advance_checkpoint(
    app_id: int, subscription_id: str, read: str, new: str, delivered: int, at: str
) -> bool:
    """Move the checkpoint from `read` to `new` (False if it is no longer `read`); with events
    delivered (at `at`), count them and end a run of failures."""
    values: dict[str, Any] = {":read": read, ":new": new}
    update = "SET #checkpoint = :new"
    if delivered:
        update += ", last_delivery_at = :at, consecutive_failures = :zero"
        update += " ADD delivered :count REMOVE next_attempt_at"
        values.update({":at": at, ":zero": 0, ":count": delivered})
    moved = _update_if(
        Key=subscription_key(app_id, subscription_id),
        UpdateExpression=update,
        ConditionExpression="#checkpoint = :read",
        ExpressionAttributeNames={"#checkpoint": "checkpoint"},
        ExpressionAttributeValues=values,
    )
    return moved is not None


def record_delivery_failure(
    app_id: int,
    subscription_id: str,
    *,
    owner: str,
    failures_before: int,
    error: str,
    at: str,
    next_attempt_at: str | None,
    disabled_reason: str | None,
) -> bool:
    """Count a failed delivery by the lease's `owner` (False when the subscription changed
    meanwhile: re-enabled by a user, or deleted). With `disabled_reason`, disable it."""
    values: dict[str, Any] = {
        ":owner": owner,
        ":before": failures_before,
        ":failures": failures_before + 1,
        ":error": error,
        ":at": at,
    }
    sets = ["consecutive_failures = :failures", "last_error = :error", "last_error_at = :at"]
    if disabled_reason is not None:
        sets += ["enabled = :no", "disabled_reason = :reason"]
        values.update({":no": False, ":reason": disabled_reason})
        update = f"SET {', '.join(sets)} REMOVE next_attempt_at"
    else:
        sets.append("next_attempt_at = :next")
        values[":next"] = next_attempt_at
        update = f"SET {', '.join(sets)}"
    before = "consecutive_failures = :before"
    if failures_before == 0:
        before = f"(attribute_not_exists(consecutive_failures) OR {before})"
    recorded = _update_if(
        Key=subscription_key(app_id, subscription_id),
        UpdateExpression=update,
        ConditionExpression=f"attribute_exists(pk) AND lease_owner = :owner AND {before}",
        ExpressionAttributeValues=values,
    )
    return recorded is not None
