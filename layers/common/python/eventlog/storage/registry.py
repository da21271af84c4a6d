"""Apps and keys in DynamoDB (the registry table).

Layout (`pk` / `sk`, and the `gsi1` index for listings):
- app: `APP#<id>` / `APP`, listed under gsi1 `APPS` / zero-padded id;
- app name claim: `APPNAME#<lower-case name>` / `APPNAME` (names are unique, whatever the case);
- app id counter: `COUNTER` / `apps`;
- key: `KEY#<sha256 of the key>` / `KEY`, listed under gsi1 `KEYS` / key id (ids sort by time).
"""

from collections.abc import Iterator
from itertools import islice
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from eventlog.base.errors import ConflictError, NotFoundError
from eventlog.storage import db

APPS_INDEX_KEY = "APPS"
# The app of the seed APIs that have no apps, and of the propagator's heartbeats.
DEFAULT_APP_NAME = "default"
KEYS_INDEX_KEY = "KEYS"


def app_partition(app_id: int) -> str:
    """The partition of an app's item and of what belongs to it (alert rules, subscriptions)."""
    return f"APP#{app_id}"


def owned_items(app_id: int, prefix: str, limit: int, after_sk: str | None = None) -> list[dict]:
    """Up to `limit` items of an app's partition whose sort key starts with `prefix` (its alert
    rules, its subscriptions), from after `after_sk`."""
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": app_partition(app_id), ":prefix": prefix},
        "Limit": limit,
    }
    if after_sk:
        query["ExclusiveStartKey"] = {"pk": app_partition(app_id), "sk": after_sk}
    return db.registry_table().query(**query)["Items"]


def _app_key(app_id: int) -> dict[str, str]:
    return {"pk": app_partition(app_id), "sk": "APP"}


def _key_key(key_hash: str) -> dict[str, str]:
    return {"pk": f"KEY#{key_hash}", "sk": "KEY"}


def app_item(app: dict[str, Any]) -> dict[str, Any]:
    return {
        **_app_key(app["id"]),
        "gsi1pk": APPS_INDEX_KEY,
        "gsi1sk": f"{app['id']:012d}",
        **app,
    }


def key_item(key_hash: str, key: dict[str, Any]) -> dict[str, Any]:
    return {**_key_key(key_hash), "gsi1pk": KEYS_INDEX_KEY, "gsi1sk": key["id"], **key}


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
    """Store a new app, its name claim, its ingest key and its first alert rule together, or
    nothing."""
    table_name = db.registry_table().name
    name_claim = {"pk": f"APPNAME#{app['name'].lower()}", "sk": "APPNAME", "app_id": app["id"]}
    new_only = {"ConditionExpression": "attribute_not_exists(pk)"}
    try:
        db.transact_write_items(
            [
                {"Put": {"TableName": table_name, "Item": name_claim, **new_only}},
                {"Put": {"TableName": table_name, "Item": app_item(app), **new_only}},
                {"Put": {"TableName": table_name, "Item": key_item(key_hash, key)}},
                {"Put": {"TableName": table_name, "Item": first_rule}},
            ]
        )
    except db.client().exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons", [])
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            raise ConflictError(f"an app named '{app['name']}' exists already") from None
        raise


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


def mark_key_revoked(item: dict[str, Any], revoked_at: str) -> dict[str, Any]:
    """Set revoked_at once (revoking twice keeps the first time); returns the updated key."""
    return db.registry_table().update_item(
        Key={"pk": item["pk"], "sk": item["sk"]},
        ReturnValues="ALL_NEW",
        UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :when)",
        ExpressionAttributeValues={":when": revoked_at},
        ConditionExpression=Attr("pk").exists(),
    )["Attributes"]
