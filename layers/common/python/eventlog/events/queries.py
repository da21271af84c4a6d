"""Reading events: one page newest first, or one event by id; numbered events (seed 000) by
number."""

import hashlib
import re

from eventlog.access import signing
from eventlog.base.errors import InvalidInputError, NotFoundError
from eventlog.base.ids import highest_ulid, is_ulid, lowest_ulid
from eventlog.base.timeutil import epoch_seconds, utcnow
from eventlog.models.events import Event, EventPage, EventQuery, NumberedEventPage
from eventlog.storage import event_store, registry

CURSOR_PURPOSE = "cursor"
FILTERED_PAGE_SIZE = 100
# Bounds what one request reads (about 35 read units at 1 KB an event), however rare the filter.
MAX_ITEMS_READ = 1000
# Event numbers are 1 to 15 digits (the width of their padded sort keys).
NUMBER = re.compile(r"[0-9]{1,15}")
# Index items read by one listing of numbered events, live or expired (about 8 read units).
MAX_NUMBERS_READ = 10_000
# A listing of numbered events stops past this much JSON: Lambda answers at most 6 MB, and
# escaping the body in the proxy reply can double it.
MAX_LISTED_BYTES = 2_500_000


def _query_fingerprint(app_id: int, query: EventQuery) -> str:
    """Binds a cursor to the app and filters it was issued for."""
    fields = query.model_dump(include={"level", "name", "service", "since", "until"}, mode="json")
    return hashlib.sha256(f"{app_id}|{sorted(fields.items())}".encode()).hexdigest()[:16]


def list_events(app_id: int, query: EventQuery) -> EventPage:
    """One page, newest first. A request reads at most MAX_ITEMS_READ items: when a rare filter
    leaves the page short, it ends early with a cursor to go on from where it stopped."""
    registry.require_app(app_id)
    fingerprint = _query_fingerprint(app_id, query)
    start_after, position, skip = None, 0, query.offset
    if query.cursor:
        payload = signing.unseal(query.cursor, CURSOR_PURPOSE)
        if payload.get("q") != fingerprint or not is_ulid(str(payload.get("after"))):
            raise InvalidInputError("invalid cursor: it belongs to another query")
        start_after, position, skip = payload["after"], int(payload["pos"]), int(payload["skip"])
    filters = query.model_dump(include={"level", "name", "service"}, exclude_none=True, mode="json")
    wanted = skip + query.limit + 1
    pages = event_store.query_event_pages(
        app_id,
        lowest_id=lowest_ulid(query.since) if query.since else "0" * 26,
        highest_id=highest_ulid(query.until) if query.until else "Z" * 26,
        start_after_id=start_after,
        now_epoch=epoch_seconds(utcnow()),
        filters=filters,
        page_size=FILTERED_PAGE_SIZE if filters else min(wanted, FILTERED_PAGE_SIZE),
    )
    matched: list[Event] = []
    evaluated, stopped_at = 0, None
    for page in pages:
        matched += page.events
        evaluated += page.evaluated
        if len(matched) >= wanted or page.last_id is None:
            break
        if evaluated >= MAX_ITEMS_READ:
            stopped_at = page.last_id
            break
    items = matched[skip : skip + query.limit]
    skipped = min(skip, len(matched))
    position += skipped + len(items)
    if len(matched) > skip + query.limit:
        resume = {"after": items[-1].id, "skip": 0}
    elif stopped_at is not None:
        resume = {"after": stopped_at, "skip": skip - skipped}
    else:
        return EventPage(items=items, next_cursor=None, next_offset=None)
    cursor = signing.seal({"q": fingerprint, "pos": position, **resume}, CURSOR_PURPOSE)
    return EventPage(items=items, next_cursor=cursor, next_offset=position)


def get_event(app_id: int, event_id: str) -> Event:
    registry.require_app(app_id)
    event = None
    if is_ulid(event_id):
        event = event_store.get_event(app_id, event_id, epoch_seconds(utcnow()))
    if event is None:
        raise NotFoundError(f"no event '{event_id}' in app {app_id}")
    return event


def get_numbered(app_id: int, number: str) -> Event:
    """The app's event with this number (seed 000's integer event_id)."""
    registry.require_app(app_id)
    now = epoch_seconds(utcnow())
    event_id = (
        event_store.numbered_event_id(app_id, int(number), now)
        if NUMBER.fullmatch(number)
        else None
    )
    event = event_store.get_event(app_id, event_id, now) if event_id else None
    if event is None:
        raise NotFoundError(f"no event {number} in app {app_id}")
    return event


def list_numbered(app_id: int, after: int, limit: int) -> NumberedEventPage:
    """Up to `limit` of the app's numbered events above `after`, ascending by number.

    Reads the numbers from their index items (one Query, few read units), then the events
    (BatchGetItem). A page ends early, with `next_after`, when MAX_NUMBERS_READ index items or
    MAX_LISTED_BYTES of events are reached."""
    registry.require_app(app_id)
    now = epoch_seconds(utcnow())
    ids: dict[int, str] = {}
    evaluated, stopped_at = 0, None
    for page in event_store.number_pages(app_id, after=after, now_epoch=now, page_size=limit + 1):
        ids.update(page.ids)
        evaluated += page.evaluated
        if len(ids) > limit or page.last_number is None:
            break
        if evaluated >= MAX_NUMBERS_READ:
            stopped_at = page.last_number
            break
    numbers = sorted(ids)[:limit]
    next_after = numbers[-1] if len(ids) > limit else stopped_at
    found = event_store.get_events(app_id, [ids[number] for number in numbers], now)
    items: list[Event] = []
    size = 0
    for number in numbers:
        event = found.get(ids[number])
        if event is None:
            continue  # deleted since its number was read
        size += len(event.model_dump_json())
        if items and size > MAX_LISTED_BYTES:
            return NumberedEventPage(items=items, next_after=items[-1].number)
        items.append(event)
    return NumberedEventPage(items=items, next_after=next_after)
