"""DynamoDB capacity units, computed request by request from the documented rules.

moto does not report consumed capacity reliably, so the benchmark computes it: `CapacityMeter`
hooks a botocore DynamoDB client (`before-call` / `after-call`), sees every request in wire format
and applies the rules below. The rules are plain functions so that they can be tested alone.

Item size (what DynamoDB bills on): for each attribute, the UTF-8 length of its name plus the
size of its value:
- string: UTF-8 bytes; binary: raw bytes; number: 1 byte per two significant digits, plus 1;
- boolean and null: 1 byte;
- list and map: 3 bytes plus their contents, plus 1 byte per element (a map element also counts
  its name's UTF-8 bytes);
- sets: the sum of their elements.

Write units (1 KB = 1,024 bytes):
- PutItem: ceil(larger of the item before and after / 1 KB), at least 1; UpdateItem: the same,
  the item read before and after the call (an `ADD` that grows an item from 1,000 to 1,030 bytes
  costs 2, one that leaves it at 1,000 costs 1); DeleteItem: the deleted item (at least 1);
- BatchWriteItem: each put and delete as above (unprocessed items cost nothing);
- TransactWriteItems: twice the table units of each action (prepare and commit), index entries
  once; a ConditionCheck twice the units of the item it checks;
- a conditional write that fails still consumes units, and writes no index entry: a PutItem
  the units it would have cost; an UpdateItem, whose new item is never built, those of the
  item as it stands (at least 1, also when there is no item);
- every index (global, or local) with its own write: an item entering the index 1 write of the
  projected entry, leaving it 1 write of the old entry, changing its index keys both, staying
  with a changed projection 1 write of the new entry; each rounded up to 1 KB.

Read units (4 KB = 4,096 bytes), halved when eventually consistent:
- GetItem: ceil(item size / 4 KB), at least 1, also for an item that does not exist; BatchGetItem
  the same per key; TransactGetItems twice that;
- Query and Scan: the sizes of all the items *evaluated* (before any FilterExpression, whatever
  the ProjectionExpression) summed over the page, then rounded up to 4 KB, at least 1 unit.
  Which items a page evaluated is found by sending the same request again, without its filter
  and projection, to an unhooked client: same key condition, start key, direction and Limit,
  hence the same items. Its count is checked against the page's `ScannedCount`.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096

Item = dict[str, dict[str, Any]]  # an item in DynamoDB's wire format: name -> {"S": "..."}


# ---------------------------------------------------------------- item sizes


def number_size(text: str) -> int:
    """Bytes of a number: 1 per two significant digits, plus 1.

    >>> number_size("12"), number_size("123"), number_size("1000"), number_size("-0.00125")
    (2, 3, 2, 3)
    """
    digits = Decimal(text).normalize().as_tuple().digits  # leading and trailing zeros trimmed
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in wire format, e.g. {"S": "abc"} -> 3.

    >>> value_size({"S": "héllo"}), value_size({"BOOL": True}), value_size({"NULL": True})
    (6, 1, 1)
    >>> value_size({"M": {"env": {"S": "prod"}}}), value_size({"L": [{"N": "1"}, {"N": "22"}]})
    (11, 9)
    """
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(_binary(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode()) for text in content)
    if kind == "NS":
        return sum(number_size(text) for text in content)
    if kind == "BS":
        return sum(len(_binary(data)) for data in content)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in content)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(v) + 1 for name, v in content.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def _binary(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else base64.b64decode(content)


def item_size(item: Item | None) -> int:
    """Bytes of an item: its attribute names (UTF-8) plus their values; 0 for no item.

    >>> item_size({"pk": {"S": "APP#1"}, "count": {"N": "1"}})
    14
    """
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# ---------------------------------------------------------------- unit rules


def write_units(size: int) -> int:
    """Write units of one item write: ceil(size / 1 KB), at least 1.

    >>> write_units(0), write_units(1024), write_units(1025)
    (1, 1, 2)
    """
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    """Read units of one item read (GetItem): ceil(size / 4 KB), at least 1; half if eventual.

    >>> read_units(100, consistent=True), read_units(100, consistent=False), read_units(4097, True)
    (1.0, 0.5, 2.0)
    """
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def page_read_units(sizes: Iterable[int], consistent: bool) -> float:
    """Read units of one Query or Scan page: the evaluated items' sizes summed, then rounded.

    >>> page_read_units([400] * 21, consistent=False), page_read_units([], consistent=False)
    (1.5, 0.5)
    """
    return read_units(sum(sizes), consistent)


@dataclass(frozen=True)
class IndexShape:
    name: str
    keys: tuple[str, ...]  # the index's own key attributes
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[IndexShape, ...] = ()

    @classmethod
    def from_description(cls, table: dict[str, Any]) -> TableShape:
        """From DescribeTable's `Table`."""
        indexes = []
        for index in table.get("GlobalSecondaryIndexes", []) + table.get(
            "LocalSecondaryIndexes", []
        ):
            projection = index.get("Projection", {})
            indexes.append(
                IndexShape(
                    name=index["IndexName"],
                    keys=tuple(key["AttributeName"] for key in index["KeySchema"]),
                    projection=projection.get("ProjectionType", "ALL"),
                    included=tuple(projection.get("NonKeyAttributes", [])),
                )
            )
        keys = tuple(key["AttributeName"] for key in table["KeySchema"])
        return cls(name=table["TableName"], keys=keys, indexes=tuple(indexes))

    def entry(self, index: IndexShape, item: Item | None) -> Item | None:
        """The item's entry in the index, or None when the item lacks an index key."""
        if not item or any(key not in item for key in index.keys):
            return None
        if index.projection == "ALL":
            return dict(item)
        wanted = set(self.keys) | set(index.keys) | set(index.included)
        return {name: value for name, value in item.items() if name in wanted}

    def index_write_units(self, old: Item | None, new: Item | None) -> int:
        """Write units the table's indexes consume when `old` becomes `new` (None: no item)."""
        units = 0
        for index in self.indexes:
            before, after = self.entry(index, old), self.entry(index, new)
            if before is None and after is None:
                continue
            if before is None or after is None:
                units += write_units(item_size(before or after))
            elif any(before[key] != after[key] for key in index.keys):
                units += write_units(item_size(before)) + write_units(item_size(after))
            elif before != after:
                units += write_units(item_size(after))
        return units

    def item_write_units(self, old: Item | None, new: Item | None, succeeded: bool = True) -> int:
        """Units of writing one item (put, update or delete) and its index entries.

        A failed write passes `succeeded=False` (a failed UpdateItem also `new=old`).

        >>> table, key = TableShape("T", ("pk",)), {"pk": {"S": "k"}}
        >>> def sized(n): return {**key, "c": {"S": "x" * (n - 3)}}  # n bytes in all
        >>> table.item_write_units(sized(1000), sized(1030)), table.item_write_units(None, sized(9))
        (2, 1)
        >>> table.item_write_units(sized(1030), sized(1030), succeeded=False)
        2
        >>> table.item_write_units(None, None, succeeded=False)
        1
        """
        table_units = write_units(max(item_size(old), item_size(new)))
        return table_units + (self.index_write_units(old, new) if succeeded else 0)


# ---------------------------------------------------------------- accounting


@dataclass
class Usage:
    """Consumed capacity, per table and in total, and what was called."""

    write: Counter[str] = field(default_factory=Counter)  # table -> write units
    read: Counter[str] = field(default_factory=Counter)  # table -> read units
    calls: Counter[str] = field(default_factory=Counter)  # "Table.Operation" -> calls
    op_write: Counter[str] = field(default_factory=Counter)  # "Table.Operation" -> write units
    op_read: Counter[str] = field(default_factory=Counter)  # "Table.Operation" -> read units
    failed_conditions: Counter[str] = field(default_factory=Counter)  # "Table.Operation" -> n
    evaluated: Counter[str] = field(default_factory=Counter)  # table -> items a Query evaluated
    evaluated_bytes: Counter[str] = field(default_factory=Counter)  # table -> their sizes
    stored_items: Counter[str] = field(default_factory=Counter)  # table -> items put or updated
    stored_bytes: Counter[str] = field(default_factory=Counter)  # table -> their sizes after
    scanned_count_mismatches: int = 0  # re-issued pages whose count differed from ScannedCount

    @property
    def write_units(self) -> float:
        return float(sum(self.write.values()))

    @property
    def read_units(self) -> float:
        return float(sum(self.read.values()))

    def copy(self) -> Usage:
        return self - Usage()

    def __sub__(self, other: Usage) -> Usage:
        result = Usage()
        for name, mine in self.__dict__.items():
            theirs = getattr(other, name)
            if isinstance(mine, Counter):
                mine = Counter({key: mine[key] - theirs[key] for key in mine})
                mine = +mine  # only what changed (counts never go down)
            else:
                mine = mine - theirs
            setattr(result, name, mine)
        return result

    def __add__(self, other: Usage) -> Usage:
        result = Usage()
        for name, mine in self.__dict__.items():
            setattr(result, name, mine + getattr(other, name))
        return result


def _add_units(counter: Counter[str], key: str, units: float) -> None:
    # Units are fractional (0.5 RCU): Counter's arithmetic works on floats, as its documentation
    # says, but typeshed types its values as int.
    counter[key] += units  # type: ignore[assignment]


_FAILED_CONDITION = {"ConditionalCheckFailedException", "TransactionCanceledException"}
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")
_NOT_EXISTS = re.compile(r"\(*\s*attribute_not_exists\s*\(\s*([#A-Za-z0-9_]+)\s*\)\s*\)*")
_ABSENT_UNLESS_FAILED = "absent unless the condition failed"


def _requires_absent(request: dict, keys: tuple[str, ...]) -> bool:
    """True when the whole condition is `attribute_not_exists(<a key attribute>)`.

    >>> _requires_absent({"ConditionExpression": "attribute_not_exists(#n0)",
    ...                   "ExpressionAttributeNames": {"#n0": "pk"}}, ("pk", "sk"))
    True
    >>> _requires_absent({"ConditionExpression": "attribute_not_exists(pk) OR v = :v"}, ("pk",))
    False
    """
    match = _NOT_EXISTS.fullmatch(request.get("ConditionExpression", "").strip())
    if match is None:
        return False
    name = match.group(1)
    return request.get("ExpressionAttributeNames", {}).get(name, name) in keys


class CapacityMeter:
    """Counts the capacity the requests of hooked clients consume.

    `inspector` is a DynamoDB client that is *not* hooked (same endpoint): the meter reads items
    before and after writes with it, and re-sends Query and Scan pages without their filter.
    """

    def __init__(self, inspector: Any):
        self._inspector = inspector
        self._shapes: dict[str, TableShape] = {}
        self._lock = threading.Lock()
        self._usage = Usage()
        self._paused = False

    # -------------------------------------------------------- public side

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb.*", self._before_call)
        client.meta.events.register("after-call.dynamodb.*", self._after_call)

    @property
    def usage(self) -> Usage:
        with self._lock:
            return self._usage.copy()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Requests sent meanwhile are neither counted nor inspected (setup, filling tables)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    @contextmanager
    def measure(self) -> Iterator[Usage]:
        """`with meter.measure() as used:` - `used` holds what the block consumed, at its end."""
        start = self.usage
        used = Usage()
        yield used
        delta = self.usage - start
        used.__dict__.update(delta.__dict__)

    # -------------------------------------------------------- hooks

    def _before_call(self, model: Any, params: dict[str, Any], context: dict, **_: Any) -> None:
        if self._paused:
            return
        request = json.loads(params.get("body") or b"{}")
        context["capacity_request"] = request
        before = getattr(self, f"_before_{model.name}", None)
        if before is not None:
            context["capacity_state"] = before(request)

    def _after_call(self, model: Any, http_response: Any, parsed: dict, context: dict, **_: Any):
        request = context.get("capacity_request")
        if request is None:
            return
        error = None
        if http_response.status_code >= 300:
            error = (parsed.get("Error") or {}).get("Code")
        if error is not None and error not in _FAILED_CONDITION:
            return  # validation errors, missing tables...: nothing consumed
        after = getattr(self, f"_after_{model.name}", None)
        if after is None:
            return
        usage = Usage()
        after(usage, request, parsed, error is not None, context.get("capacity_state"))
        with self._lock:
            self._usage = self._usage + usage

    # -------------------------------------------------------- helpers

    def _shape(self, table: str) -> TableShape:
        if table not in self._shapes:
            description = self._inspector.describe_table(TableName=table)["Table"]
            self._shapes[table] = TableShape.from_description(description)
        return self._shapes[table]

    def _key_of(self, table: str, item: Item) -> Item:
        return {name: item[name] for name in self._shape(table).keys}

    def _peek(self, table: str, key: Item) -> Item | None:
        reply = self._inspector.get_item(TableName=table, Key=key, ConsistentRead=True)
        return _wire_or_none(reply.get("Item"))

    def _peek_many(self, table: str, keys: list[Item]) -> list[Item | None]:
        found: dict[str, Item] = {}
        for start in range(0, len(keys), 100):
            request = {table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                reply = self._inspector.batch_get_item(RequestItems=request)
                for item in reply["Responses"].get(table, []):
                    found[_key_text(self._key_of(table, item))] = item
                request = reply.get("UnprocessedKeys") or {}
        return [found.get(_key_text(key)) for key in keys]

    @staticmethod
    def _record(usage: Usage, table: str, operation: str, write: float = 0, read: float = 0):
        usage.calls[f"{table}.{operation}"] += 1
        if write:
            _add_units(usage.write, table, write)
            _add_units(usage.op_write, f"{table}.{operation}", write)
        if read:
            _add_units(usage.read, table, read)
            _add_units(usage.op_read, f"{table}.{operation}", read)

    @staticmethod
    def _stored(usage: Usage, table: str, item: Item | None) -> None:
        if item:
            usage.stored_items[table] += 1
            usage.stored_bytes[table] += item_size(item)

    # -------------------------------------------------------- writes

    def _before_PutItem(self, request: dict) -> Item | str | None:
        table = request["TableName"]
        if _requires_absent(request, self._shape(table).keys):
            return _ABSENT_UNLESS_FAILED  # no read needed: it succeeds only if there is no item
        return self._peek(table, self._key_of(table, request["Item"]))

    def _after_PutItem(self, usage: Usage, request: dict, parsed: dict, failed: bool, old):
        table = request["TableName"]
        if old == _ABSENT_UNLESS_FAILED:  # a failed write changed nothing: read the item now
            old = self._peek(table, self._key_of(table, request["Item"])) if failed else None
        units = self._shape(table).item_write_units(old, request["Item"], not failed)
        self._record(usage, table, "PutItem", write=units)
        if failed:
            usage.failed_conditions[f"{table}.PutItem"] += 1
        else:
            self._stored(usage, table, request["Item"])

    def _before_UpdateItem(self, request: dict) -> Item | None:
        return self._peek(request["TableName"], request["Key"])

    def _after_UpdateItem(self, usage: Usage, request: dict, parsed: dict, failed: bool, old):
        table = request["TableName"]
        new = old if failed else self._peek(table, request["Key"])
        units = self._shape(table).item_write_units(old, new, not failed)
        self._record(usage, table, "UpdateItem", write=units)
        if failed:
            usage.failed_conditions[f"{table}.UpdateItem"] += 1
        else:
            self._stored(usage, table, new)

    def _before_DeleteItem(self, request: dict) -> Item | None:
        return self._peek(request["TableName"], request["Key"])

    def _after_DeleteItem(self, usage: Usage, request: dict, parsed: dict, failed: bool, old):
        table = request["TableName"]
        units = self._shape(table).item_write_units(old, None, not failed)
        self._record(usage, table, "DeleteItem", write=units)
        if failed:
            usage.failed_conditions[f"{table}.DeleteItem"] += 1

    def _before_BatchWriteItem(self, request: dict) -> dict[str, list[Item | None]]:
        olds = {}
        for table, writes in request["RequestItems"].items():
            keys = [
                self._key_of(table, w["PutRequest"]["Item"]) if "PutRequest" in w
                else w["DeleteRequest"]["Key"]
                for w in writes
            ]  # fmt: skip
            olds[table] = self._peek_many(table, keys)
        return olds

    def _after_BatchWriteItem(self, usage: Usage, request: dict, parsed: dict, failed, olds):
        unprocessed = parsed.get("UnprocessedItems") or {}
        for table, writes in request["RequestItems"].items():
            skipped = {json.dumps(w, sort_keys=True) for w in unprocessed.get(table, [])}
            units = 0
            for write, old in zip(writes, olds[table], strict=True):
                if json.dumps(write, sort_keys=True) in skipped:
                    continue
                new = write["PutRequest"]["Item"] if "PutRequest" in write else None
                units += self._shape(table).item_write_units(old, new)
                self._stored(usage, table, new)
            self._record(usage, table, "BatchWriteItem", write=units)

    def _before_TransactWriteItems(self, request: dict) -> list[Item | None]:
        olds = []
        for action in request["TransactItems"]:
            ((kind, body),) = action.items()
            table = body["TableName"]
            key = self._key_of(table, body["Item"]) if kind == "Put" else body["Key"]
            olds.append(self._peek(table, key))
        return olds

    def _after_TransactWriteItems(self, usage: Usage, request: dict, parsed, failed, olds):
        for action, old in zip(request["TransactItems"], olds, strict=True):
            ((kind, body),) = action.items()
            table = body["TableName"]
            new = old  # what a ConditionCheck, or any action of a cancelled transaction, leaves
            if not failed and kind == "Put":
                new = body["Item"]
            elif not failed and kind == "Update":
                new = self._peek(table, body["Key"])
            elif not failed and kind == "Delete":
                new = None
            attempted = body["Item"] if kind == "Put" else new
            table_units = write_units(max(item_size(old), item_size(attempted)))
            index_units = (
                0 if kind == "ConditionCheck" else self._shape(table).index_write_units(old, new)
            )
            if not failed and kind in ("Put", "Update"):
                self._stored(usage, table, new)
            # prepare and commit: twice the table's units; index entries are written once
            write = 2 * table_units + index_units
            self._record(usage, table, f"TransactWriteItems.{kind}", write=write)
        if failed:
            usage.failed_conditions["TransactWriteItems"] += 1

    # -------------------------------------------------------- reads

    def _before_GetItem(self, request: dict) -> Item | None:
        if "ProjectionExpression" in request or "AttributesToGet" in request:
            return self._peek(request["TableName"], request["Key"])  # billed on the whole item
        return None

    def _after_GetItem(self, usage: Usage, request: dict, parsed: dict, failed, whole):
        item = whole if whole is not None else _wire_or_none(parsed.get("Item"))
        units = read_units(item_size(item), bool(request.get("ConsistentRead")))
        self._record(usage, request["TableName"], "GetItem", read=units)

    def _after_BatchGetItem(self, usage: Usage, request: dict, parsed: dict, failed, _):
        unprocessed = parsed.get("UnprocessedKeys") or {}
        for table, wanted in request["RequestItems"].items():
            skipped = {_key_text(key) for key in (unprocessed.get(table) or {}).get("Keys", [])}
            keys = [key for key in wanted["Keys"] if _key_text(key) not in skipped]
            consistent = bool(wanted.get("ConsistentRead"))
            items = self._peek_many(table, keys)
            units = sum(read_units(item_size(item), consistent) for item in items)
            self._record(usage, table, "BatchGetItem", read=units)

    def _after_TransactGetItems(self, usage: Usage, request: dict, parsed: dict, failed, _):
        for action in request["TransactItems"]:
            body = action["Get"]
            item = self._peek(body["TableName"], body["Key"])
            units = 2 * read_units(item_size(item), consistent=True)
            self._record(usage, body["TableName"], "TransactGetItems", read=units)

    def _after_Query(self, usage: Usage, request: dict, parsed: dict, failed, _):
        self._page(usage, "Query", request, parsed)

    def _after_Scan(self, usage: Usage, request: dict, parsed: dict, failed, _):
        self._page(usage, "Scan", request, parsed)

    def _page(self, usage: Usage, operation: str, request: dict, parsed: dict) -> None:
        """Units of one page: every item it evaluated, found by re-sending it unfiltered."""
        table = request["TableName"]
        evaluated = self._evaluated_items(operation, request)
        if len(evaluated) != parsed.get("ScannedCount", len(evaluated)):
            usage.scanned_count_mismatches += 1
        sizes = [item_size(item) for item in evaluated]
        units = page_read_units(sizes, bool(request.get("ConsistentRead")))
        usage.evaluated[table] += len(evaluated)
        usage.evaluated_bytes[table] += sum(sizes)
        self._record(usage, table, operation, read=units)

    def _evaluated_items(self, operation: str, request: dict) -> list[Item]:
        unfiltered = {
            key: value
            for key, value in request.items()
            if key not in {"FilterExpression", "QueryFilter", "ScanFilter", "ConditionalOperator",
                           "ProjectionExpression", "AttributesToGet", "Select",
                           "ExpressionAttributeNames", "ExpressionAttributeValues",
                           "ReturnConsumedCapacity"}
        }  # fmt: skip
        used = set(_PLACEHOLDER.findall(request.get("KeyConditionExpression", "")))
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        names = {key: value for key, value in names.items() if key in used}
        values = {key: value for key, value in values.items() if key in used}
        if names:
            unfiltered["ExpressionAttributeNames"] = names
        if values:
            unfiltered["ExpressionAttributeValues"] = values
        send = self._inspector.query if operation == "Query" else self._inspector.scan
        return [_wire(item) for item in send(**unfiltered)["Items"]]


def _wire_or_none(item: Any) -> Item | None:
    return None if item is None else _wire(item)


def _wire(item: Any) -> Item:
    """The item as received: wire format is checked, not assumed."""
    for name, value in item.items():
        if not (isinstance(value, dict) and len(value) == 1):
            raise TypeError(f"attribute {name!r} is not in DynamoDB wire format: {value!r}")
    return item


def _key_text(key: Item) -> str:
    return json.dumps(key, sort_keys=True)
