"""Calls run side by side: conditional writes that cannot be batched, reads of many keys, one
subscription's deliveries beside another's."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

MAX_WORKERS = 8

T = TypeVar("T")


def run_parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Run zero-argument callables concurrently; results in order, the first error raised."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(calls))) as pool:
        return list(pool.map(lambda call: call(), calls))
