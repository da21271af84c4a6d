"""moto, made fit for a stack that runs for hours.

moto's TransactWriteItems copies every table the transaction names, whole, before applying it
(to roll back when a condition fails): the aggregator's chunk transactions would get slower as
the aggregates grow, about a second per transaction at a thousand items. `apply()` replaces the
copy with one of the items the transaction touches, which is what a rollback needs: moto's own
code still checks and applies every action, only the snapshot is smaller.

Safe because moto's DynamoDB requests run one at a time here (the local stack's lock, and tests
in one thread). Items only: stream records written by actions before a failed one stay (no
transaction of this project writes to a table with a stream).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_original = dynamodb_models.DynamoDBBackend.transact_write_items


class _CopyKeepingTables:
    """What moto's module sees as `copy` during a transaction: tables are not copied."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any]]:
    """(table, hash key, range key) of each action, as moto stores them."""
    touched = []
    for entry in transact_items:
        for kind, action in entry.items():
            table = backend.tables.get(action.get("TableName"))
            if table is None:
                continue  # moto answers for it
            key = action["Item"] if kind == "Put" else action.get("Key") or {}
            hash_key = key.get(table.hash_key_attr)
            range_key = key.get(table.range_key_attr) if table.range_key_attr else None
            if hash_key is not None:
                touched.append(
                    (table, DynamoType(hash_key), DynamoType(range_key) if range_key else None)
                )
    return touched


def _saved(table: Table, hash_key: Any, range_key: Any) -> Any:
    try:
        return copy.deepcopy(table.get_item(hash_key, range_key))
    except Exception:  # a key missing its range part: moto refuses the transaction itself
        return None


def _restore(table: Table, hash_key: Any, range_key: Any, saved: Any) -> None:
    if range_key is None:
        if saved is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = saved
        return
    if saved is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = saved


@functools.wraps(_original)
def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    touched = _touched(self, transact_items)
    saved = [_saved(table, hash_key, range_key) for table, hash_key, range_key in touched]
    # A stand-in for the module, with the two functions moto calls: not a module to mypy.
    dynamodb_models.copy = _CopyKeepingTables  # type: ignore[assignment]
    try:
        _original(self, transact_items)
    except Exception:
        for (table, hash_key, range_key), item in zip(touched, saved, strict=True):
            _restore(table, hash_key, range_key, item)
        raise
    finally:
        dynamodb_models.copy = copy


def apply() -> None:
    """Install the patch (once; calling again changes nothing)."""
    # A patch of moto's method, the point of this module: mypy refuses assignments to methods.
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
