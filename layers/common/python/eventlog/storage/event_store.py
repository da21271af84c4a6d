"""Raw events in DynamoDB.

Layout of the events table (`pk`, `sk`):
- an event: `APP#<app_id>` / `E#<ulid>`; ULIDs sort by received time, so listing newest first and
  filtering by received time are key ranges of one Query;
- a client `event_id` claim: `APP#<app_id>#EID` / `<event_id>`, holding the ULID it was stored
  under, so the same client id is stored once however often it is sent;
- a numbered event's index item: `APP#<app_id>#N` / its number, zero-padded (seed 000's integer
  ids, `eventlog.events.sequences`), holding the event's ULID: a number is looked up with one
  GetItem, and numbers list in order with one Query;
- an app's number counter: `APP#<app_id>#SEQ` / `SEQ`, `top`: the last number taken.
All but the counter carry `expires_at` (epoch seconds) for DynamoDB's TTL, an index item its
event's; the counter never expires, so a number outlives its event and is never taken again.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from eventlog.models.events import Event
from eventlog.storage import db

JSON_FIELDS = ("data", "stack", "tags")
EVENT_PREFIX = "E#"  # the sort keys of events (not claims or index items)


def _event_key(app_id: int, event_id: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}", "sk": f"{EVENT_PREFIX}{event_id}"}


def _claim_key(app_id: int, client_event_id: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#EID", "sk": client_event_id}


def _number_partition(app_id: int) -> str:
    return f"APP#{app_id}#N"


def _number_key(app_id: int, number: int) -> dict[str, str]:
    # Zero-padded, so the string sort keys sort as the numbers do.
    return {"pk": _number_partition(app_id), "sk": f"{number:015d}"}


def _counter_key(app_id: int) -> dict[str, str]:
    return {"pk": f"APP#{app_id}#SEQ", "sk": "SEQ"}


def to_item(event: Event, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_event_key(event.app_id, event.id),
        **event.model_dump(exclude_none=True, exclude=set(JSON_FIELDS)),
        "expires_at": expires_at,
    }
    # JSON objects are kept as text: DynamoDB has no floats and would reorder nothing we need.
    for field in JSON_FIELDS:
        value = getattr(event, field)
        if value is not None:
            item[field] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return item


def item_size(value: Any) -> int:
    """What DynamoDB counts of an item (attribute names and values), in bytes: strings in UTF-8,
    numbers about one byte per two digits, maps and lists a few bytes each beside their
    contents (the rules of tools/capacity.py, on the item as the resource sends it)."""
    if isinstance(value, dict):
        return 3 + sum(len(str(name).encode()) + 1 + item_size(v) for name, v in value.items())
    if isinstance(value, list | tuple | set):
        return 3 + sum(1 + item_size(v) for v in value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool) or value is None:
        return 1
    return len(str(value)) // 2 + 2


def from_item(item: dict[str, Any]) -> Event:
    fields = {k: v for k, v in item.items() if k not in ("pk", "sk", "expires_at")}
    for field in JSON_FIELDS:
        if field in fields:
            fields[field] = json.loads(fields[field])
    fields["app_id"] = int(fields["app_id"])
    fields["count"] = int(fields.get("count", 1))
    if "number" in fields:
        fields["number"] = int(fields["number"])
    return Event.model_validate(fields)


def put_new_events(events: list[Event], expires_at: int) -> None:
    """Store events whose ids are fresh ULIDs: nothing can collide, so they are batched, a
    numbered event's index item in the same batch."""
    items = []
    for event in events:
        items.append(to_item(event, expires_at))
        if event.number is not None:
            index = {**_number_key(event.app_id, event.number), "id": event.id}
            items.append({**index, "expires_at": expires_at})
    db.events_table().put_all(items)


def put_event_once(event: Event, expires_at: int) -> bool:
    """Store an event unless its id exists already; True when this call stored it."""
    try:
        db.events_table().put_item(
            Item=to_item(event, expires_at), ConditionExpression="attribute_not_exists(pk)"
        )
    except db.client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def claim_client_event_id(
    app_id: int, client_event_id: str, event_id: str, received_at: str, expires_at: int
) -> dict[str, Any] | None:
    """Claim a client event id for `event_id`; returns the earlier claim when there is one."""
    table = db.events_table()
    try:
        table.put_item(
            Item={
                **_claim_key(app_id, client_event_id),
                "id": event_id,
                "received_at": received_at,
                "expires_at": expires_at,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except db.client().exceptions.ConditionalCheckFailedException:
        earlier = table.get_item(Key=_claim_key(app_id, client_event_id), ConsistentRead=True)
        return earlier.get("Item")
    return None


def take_numbers(app_id: int, count: int) -> int:
    """Take the app's next `count` event numbers with one atomic ADD; returns the last of them."""
    reply = db.events_table().update_item(
        Key=_counter_key(app_id),
        UpdateExpression="ADD #top :size",
        ExpressionAttributeNames={"#top": "top"},
        ExpressionAttributeValues={":size": count},
        ReturnValues="UPDATED_NEW",
    )
    return int(reply["Attributes"]["top"])


def _live(item: dict[str, Any] | None, now_epoch: int) -> TypeGuard[dict[str, Any]]:
    # TTL deletion lags by up to days: expired items are hidden here, not only by DynamoDB.
    return item is not None and int(item["expires_at"]) > now_epoch


def get_event(app_id: int, event_id: str, now_epoch: int) -> Event | None:
    item = db.events_table().get_item(Key=_event_key(app_id, event_id)).get("Item")
    return from_item(item) if _live(item, now_epoch) else None


def numbered_event_id(app_id: int, number: int, now_epoch: int) -> str | None:
    """The ULID of the app's event with this number, while it is stored."""
    item = db.events_table().get_item(Key=_number_key(app_id, number)).get("Item")
    return item["id"] if _live(item, now_epoch) else None


@dataclass
class NumberPage:
    ids: dict[int, str]  # number -> ULID of the live numbered events read, ascending
    evaluated: int  # index items read, live or not
    last_number: int | None  # the last number read, live or not; None at the end


def number_pages(
    app_id: int, *, after: int, now_epoch: int, page_size: int
) -> Iterator[NumberPage]:
    """An app's event numbers above `after`, ascending, with their events' ULIDs, a page at a
    time. Expired index items are left out, but counted in `last_number` so a caller can move
    past them."""
    query = {
        "KeyConditionExpression": "pk = :pk AND sk > :after",
        "FilterExpression": "#expires > :now",
        "ProjectionExpression": "sk, #id",
        "ExpressionAttributeNames": {"#expires": "expires_at", "#id": "id"},
        "ExpressionAttributeValues": {
            ":pk": _number_partition(app_id),
            ":after": _number_key(app_id, after)["sk"],
            ":now": now_epoch,
        },
        "Limit": page_size,
    }
    for reply in db.query_pages(db.events_table(), **query):
        last_key = reply.get("LastEvaluatedKey")
        yield NumberPage(
            ids={int(item["sk"]): item["id"] for item in reply["Items"]},
            evaluated=reply["ScannedCount"],
            last_number=int(last_key["sk"]) if last_key else None,
        )


def get_events(app_id: int, event_ids: list[str], now_epoch: int) -> dict[str, Event]:
    """The live events among these ids, by id (BatchGetItem, up to 100 ids a request)."""
    table = db.events_table().name
    keys = [_event_key(app_id, event_id) for event_id in event_ids]
    items = db.batch_get_items(table, keys)
    events = [from_item(item) for item in items if _live(item, now_epoch)]
    return {event.id: event for event in events}


@dataclass
class QueryPage:
    events: list[Event]
    evaluated: int  # items read, matching or not: what the page cost
    last_id: str | None  # where the next page starts; None at the end of the range


def _event_pages(query: dict[str, Any]) -> Iterator[QueryPage]:
    for reply in db.query_pages(db.events_table(), **query):
        last_key = reply.get("LastEvaluatedKey")
        yield QueryPage(
            events=[from_item(item) for item in reply["Items"]],
            evaluated=reply["ScannedCount"],
            last_id=last_key["sk"].removeprefix("E#") if last_key else None,
        )


def query_event_pages(
    app_id: int,
    *,
    lowest_id: str,
    highest_id: str,
    start_after_id: str | None,
    now_epoch: int,
    filters: dict[str, str],
    page_size: int,
) -> Iterator[QueryPage]:
    """An app's events, newest first, with ids in [lowest_id, highest_id], a page at a time."""
    condition = Key("pk").eq(f"APP#{app_id}") & Key("sk").between(
        f"E#{lowest_id}", f"E#{highest_id}"
    )
    item_filter: ConditionBase = Attr("expires_at").gt(now_epoch)
    for field, value in filters.items():
        item_filter &= Attr(field).eq(value)
    query: dict[str, Any] = {
        "KeyConditionExpression": condition,
        "FilterExpression": item_filter,
        "ScanIndexForward": False,
        "Limit": page_size,
    }
    if start_after_id:
        query["ExclusiveStartKey"] = _event_key(app_id, start_after_id)
    yield from _event_pages(query)


def event_pages_ascending(
    app_id: int,
    *,
    after_id: str,
    highest_id: str,
    now_epoch: int,
    any_of: dict[str, list[str]],
    page_size: int,
) -> Iterator[QueryPage]:
    """An app's events, oldest first, with ids in (after_id, highest_id], a page at a time.

    `any_of` keeps the events whose field has one of the values (`{"level": ["ERROR"]}`); expired
    events are left out. `evaluated` and `last_id` count the items read, kept or not, so a caller
    can move past the ones left out. The expressions are strings: this runs in threads, where
    boto3's Key/Attr builders are not safe (see `eventlog.storage.db`).
    """
    if after_id >= highest_id:
        return  # nothing can lie between (and DynamoDB refuses a BETWEEN the wrong way round)
    names = {"#expires": "expires_at"}
    values: dict[str, Any] = {
        ":pk": f"APP#{app_id}",
        ":low": f"E#{after_id}",
        ":high": f"E#{highest_id}",
        ":now": now_epoch,
    }
    conditions = ["#expires > :now"]
    for f, (field, allowed) in enumerate(sorted(any_of.items())):
        names[f"#f{f}"] = field
        placeholders = []
        for v, value in enumerate(allowed):
            values[f":f{f}v{v}"] = value
            placeholders.append(f":f{f}v{v}")
        conditions.append(f"#f{f} IN ({', '.join(placeholders)})")
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "FilterExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": True,
        "Limit": page_size,
        # The lower bound is inclusive: starting after it makes it exclusive.
        "ExclusiveStartKey": _event_key(app_id, after_id),
    }
    yield from _event_pages(query)


def delete_event(app_id: int, event_id: str) -> Event | None:
    """Delete an event; returns it when this call deleted it, None when it was not there.

    Concurrent deletions of one event each ask for the old item: only one of them gets it, so
    only one reports it deleted (the stream has one REMOVE, which the aggregates subtract).
    """
    reply = db.events_table().delete_item(Key=_event_key(app_id, event_id), ReturnValues="ALL_OLD")
    item = reply.get("Attributes")
    if item is None:
        return None
    event = from_item(item)
    if event.number is not None:
        # Should this call die first, the index item points at nothing: readers skip it, and
        # its TTL removes it.
        db.events_table().delete_item(Key=_number_key(app_id, event.number))
    if event.event_id is not None:
        # The claim stays, marked, so a late retry of the same event_id does not store it again.
        try:
            db.events_table().update_item(
                Key=_claim_key(app_id, event.event_id),
                UpdateExpression="SET deleted = :yes",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":yes": True},
            )
        except db.client().exceptions.ConditionalCheckFailedException:
            pass  # the claim has expired: so has any retry
    return event


def event_item_pages(app_id: int, attributes: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    """Every event item of an app with these attributes only, expired or not, oldest received
    first, a page of a consistent Query at a time: items, not events, for a caller that reads
    the unreadable ones too (a recount)."""
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    query = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": f"APP#{app_id}", ":prefix": EVENT_PREFIX},
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
        "ConsistentRead": True,
    }
    for reply in db.query_pages(db.events_table(), **query):
        yield reply["Items"]


@dataclass
class IdPage:
    ids: list[str]  # the ids of the page's events with the name, oldest first
    last_id: str | None  # the last event id read, matching or not; None at the end


def event_id_pages(
    app_id: int, *, name: str, after_id: str | None = None, page_size: int | None = None
) -> Iterator[IdPage]:
    """The ids of an app's events with this name, oldest first, after `after_id` (None: from the
    oldest), a page of a Query at a time (`page_size` items read, or DynamoDB's 1 MB).

    The filter on the name costs every event read, matching or not: `last_id` says how far the
    page read, so a caller that stops can go on from there instead of reading it all again. The
    expressions are strings, as in `event_pages_ascending`.
    """
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "FilterExpression": "#name = :name",
        "ProjectionExpression": "sk",
        "ExpressionAttributeNames": {"#name": "name"},
        "ExpressionAttributeValues": {
            ":pk": f"APP#{app_id}",
            ":prefix": EVENT_PREFIX,
            ":name": name,
        },
    }
    if page_size is not None:
        query["Limit"] = page_size
    if after_id is not None:
        query["ExclusiveStartKey"] = _event_key(app_id, after_id)
    for reply in db.query_pages(db.events_table(), **query):
        last_key = reply.get("LastEvaluatedKey")
        yield IdPage(
            ids=[item["sk"].removeprefix(EVENT_PREFIX) for item in reply["Items"]],
            last_id=last_key["sk"].removeprefix(EVENT_PREFIX) if last_key else None,
        )
