"""DynamoDB access shared by the storage modules: one low-level client, thin tables over it.

boto3's resources are not thread-safe (their condition builder numbers placeholders in shared
state), and storage calls run in threads (`eventlog.base.concurrency`). So there is no resource
here: a `Table` serializes values itself and builds each call's `Key(...)`/`Attr(...)` conditions
with a builder of its own, over the one client, which is thread-safe. The client is created on
first use so that importing a handler stays cheap, and it is the one to hook (capacity meters,
no-Scan guards): every call of the core goes through it.
"""

import time
from collections.abc import Iterator
from functools import cache, partial
from typing import Any

import boto3
from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from eventlog.base.concurrency import run_parallel
from eventlog.base.config import get_settings

BATCH_GET = 100  # keys per BatchGetItem request, DynamoDB's limit
BATCH_WRITE = 25  # items per BatchWriteItem request, DynamoDB's limit

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_CONDITIONS = {
    "KeyConditionExpression": True,
    "FilterExpression": False,
    "ConditionExpression": False,
}
_ITEMS = ("Key", "Item", "ExclusiveStartKey")


@cache
def client() -> Any:
    return boto3.client("dynamodb")


def to_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def encode(params: dict[str, Any]) -> dict[str, Any]:
    """A request with plain Python values (and boto3 conditions) as the client takes it."""
    wire = dict(params)
    names = dict(wire.get("ExpressionAttributeNames", {}))
    values = dict(wire.get("ExpressionAttributeValues", {}))
    builder = ConditionExpressionBuilder()  # one per request: its placeholders never collide
    for field, is_key_condition in _CONDITIONS.items():
        if isinstance(wire.get(field), ConditionBase):
            built = builder.build_expression(wire[field], is_key_condition=is_key_condition)
            wire[field] = built.condition_expression
            names.update(built.attribute_name_placeholders)
            values.update(built.attribute_value_placeholders)
    if names:
        wire["ExpressionAttributeNames"] = names
    if values:
        wire["ExpressionAttributeValues"] = to_wire(values)
    for field in _ITEMS:
        if field in wire:
            wire[field] = to_wire(wire[field])
    return wire


def decode(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply of the client with plain Python values (numbers as Decimal, as boto3's tables)."""
    plain = dict(reply)
    for field in ("Item", "Attributes", "LastEvaluatedKey"):
        if field in plain:
            plain[field] = from_wire(plain[field])
    if "Items" in plain:
        plain["Items"] = [from_wire(item) for item in plain["Items"]]
    return plain


def call(operation: str, **params: Any) -> dict[str, Any]:
    """One request (`put_item`, `update_item`…) in plain values, its TableName in `params`."""
    return decode(getattr(client(), operation)(**encode(params)))


class Table:
    """The calls of a boto3 Table that the storage modules use, safe to share between threads."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get_item(self, **params: Any) -> dict[str, Any]:
        return call("get_item", TableName=self.name, **params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return call("put_item", TableName=self.name, **params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return call("update_item", TableName=self.name, **params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return call("delete_item", TableName=self.name, **params)

    def query(self, **params: Any) -> dict[str, Any]:
        return call("query", TableName=self.name, **params)

    def put_all(self, items: list[dict[str, Any]]) -> None:
        """Store items without conditions, BATCH_WRITE a request; what DynamoDB leaves
        unprocessed (throttling) is sent again, backing off."""
        for start in range(0, len(items), BATCH_WRITE):
            requests = [
                {"PutRequest": {"Item": to_wire(item)}}
                for item in items[start : start + BATCH_WRITE]
            ]
            pending: dict[str, Any] = {self.name: requests}
            pause = 0.05
            while pending:
                pending = client().batch_write_item(RequestItems=pending).get("UnprocessedItems")
                if pending:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)


@cache
def _table(name: str) -> Table:
    return Table(name)


def events_table() -> Table:
    return _table(get_settings().events_table)


def registry_table() -> Table:
    return _table(get_settings().registry_table)


def aggregates_table() -> Table:
    return _table(get_settings().aggregates_table)


def transact_write_items(actions: list[dict[str, dict[str, Any]]]) -> None:
    """One transaction of `{"Put"|"Update"|"Delete"|"ConditionCheck": request}` in plain values."""
    client().transact_write_items(
        TransactItems=[
            {kind: encode(request) for kind, request in action.items()} for action in actions
        ]
    )


def query_pages(table: Table, **query: Any) -> Iterator[dict[str, Any]]:
    """Each reply of a Query, page after page, fetched only as the caller reads on."""
    while True:
        page = table.query(**query)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_items(table: Table, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, across pages."""
    for page in query_pages(table, **query):
        yield from page["Items"]


def batch_get_items(table: str, keys: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """The items that exist among these keys of one table, any number of them (BatchGetItem,
    BATCH_GET keys a request, in parallel)."""
    chunks = [keys[i : i + BATCH_GET] for i in range(0, len(keys), BATCH_GET)]
    replies = run_parallel([partial(_batch_get, table, chunk, options) for chunk in chunks])
    return [item for items in replies for item in items]


def _batch_get(table: str, keys: list[dict[str, Any]], options: dict) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request = {table: {"Keys": [to_wire(key) for key in keys], **options}}
    pause = 0.05
    while True:
        reply = client().batch_get_item(RequestItems=request)
        items += [from_wire(item) for item in reply["Responses"].get(table, [])]
        # Keys DynamoDB left for later (throttling, 16 MB a reply): asked for again, backing off.
        request = reply.get("UnprocessedKeys") or {}
        if not request:
            return items
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
