"""DynamoDB access shared by the repositories.

Clients are created on first use so that importing a handler stays cheap.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import boto3

from eventlog.config import get_settings

# Conditional writes cannot be batched, so they go out in parallel.
WRITE_CONCURRENCY = 8


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
