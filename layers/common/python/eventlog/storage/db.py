"""DynamoDB access shared by the repositories.

Clients are created on first use so that importing a handler stays cheap.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import boto3

from eventlog.base.config import get_settings

# Conditional writes cannot be batched, so they go out in parallel.
WRITE_CONCURRENCY = 8
BATCH_GET = 100  # keys per BatchGetItem request, DynamoDB's limit


@cache
def _resource() -> Any:
    return boto3.resource("dynamodb")


def client() -> Any:
    """The low-level client behind the tables (thread-safe, unlike the resource)."""
    return _resource().meta.client


def events_table() -> Any:
    return _resource().Table(get_settings().events_table)


def registry_table() -> Any:
    return _resource().Table(get_settings().registry_table)


def aggregates_table() -> Any:
    return _resource().Table(get_settings().aggregates_table)


def query_pages(table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Each reply of a Query, page after page, fetched only as the caller reads on."""
    while True:
        page = table.query(**query)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_items(table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, across pages."""
    for page in query_pages(table, **query):
        yield from page["Items"]


def run_parallel(calls: list[Any]) -> list[Any]:
    """Run zero-argument callables concurrently; results in order, the first error raised.

    The calls share one boto3 resource, whose builder of `Key(...)`/`Attr(...)` conditions is
    not thread-safe (it numbers placeholders in shared state): what runs here writes its
    expressions as strings.
    """
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(WRITE_CONCURRENCY, len(calls))) as pool:
        return list(pool.map(lambda call: call(), calls))


def batch_get_items(table: str, keys: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """The items that exist among these keys of one table, any number of them (BatchGetItem,
    BATCH_GET keys a request, in parallel)."""
    chunks = [keys[i : i + BATCH_GET] for i in range(0, len(keys), BATCH_GET)]
    replies = run_parallel([lambda c=c: _batch_get(table, c, options) for c in chunks])
    return [item for items in replies for item in items]


def _batch_get(table: str, keys: list[dict[str, Any]], options: dict) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request = {table: {"Keys": keys, **options}}
    pause = 0.05
    while True:
        reply = client().batch_get_item(RequestItems=request)
        items += reply["Responses"].get(table, [])
        # Keys DynamoDB left for later (throttling, 16 MB a reply): asked for again, backing off.
        request = reply.get("UnprocessedKeys") or {}
        if not request:
            return items
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
