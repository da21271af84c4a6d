"""Reading events: one page newest first, or one event by id."""

import hashlib
from itertools import islice

from eventlog import registry, repository, signing
from eventlog.errors import InvalidInputError, NotFoundError
from eventlog.ids import highest_ulid, is_ulid, lowest_ulid
from eventlog.models.events import Event, EventPage, EventQuery
from eventlog.timeutil import epoch_seconds, utcnow

CURSOR_PURPOSE = "cursor"
FILTERED_PAGE_SIZE = 100


def _query_fingerprint(app_id: int, query: EventQuery) -> str:
    """Binds a cursor to the app and filters it was issued for."""
    fields = query.model_dump(include={"level", "name", "service", "since", "until"}, mode="json")
    return hashlib.sha256(f"{app_id}|{sorted(fields.items())}".encode()).hexdigest()[:16]


def list_events(app_id: int, query: EventQuery) -> EventPage:
    registry.require_app(app_id)
    fingerprint = _query_fingerprint(app_id, query)
    start_after, position = None, query.offset
    if query.cursor:
        payload = signing.unseal(query.cursor, CURSOR_PURPOSE)
        if payload.get("q") != fingerprint or not is_ulid(str(payload.get("after"))):
            raise InvalidInputError("invalid cursor: it belongs to another query")
        start_after, position = payload["after"], int(payload.get("pos", 0))
    filters = query.model_dump(include={"level", "name", "service"}, exclude_none=True, mode="json")
    wanted = query.offset + query.limit + 1
    events = repository.query_events(
        app_id,
        lowest_id=lowest_ulid(query.since) if query.since else "0" * 26,
        highest_id=highest_ulid(query.until) if query.until else "Z" * 26,
        start_after_id=start_after,
        now_epoch=epoch_seconds(utcnow()),
        filters=filters,
        page_size=FILTERED_PAGE_SIZE if filters else min(wanted, FILTERED_PAGE_SIZE),
    )
    found = list(islice(events, query.offset, wanted))
    items = found[: query.limit]
    if len(found) <= query.limit:
        return EventPage(items=items, next_cursor=None, next_offset=None)
    position += len(items)
    cursor = {"q": fingerprint, "after": items[-1].id, "pos": position}
    return EventPage(
        items=items, next_cursor=signing.seal(cursor, CURSOR_PURPOSE), next_offset=position
    )


def get_event(app_id: int, event_id: str) -> Event:
    registry.require_app(app_id)
    event = None
    if is_ulid(event_id):
        event = repository.get_event(app_id, event_id, epoch_seconds(utcnow()))
    if event is None:
        raise NotFoundError(f"no event '{event_id}' in app {app_id}")
    return event
