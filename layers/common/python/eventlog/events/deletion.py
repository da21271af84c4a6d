"""Deleting events. The aggregates follow from the events table's stream (`eventlog.stats.stream`
subtracts what each deletion removed), as they follow every stored event.

Deleting by name reads the app's events oldest first with a filter on the name, which costs
every event read, matching or not. A deletion that runs out of time hands back a cursor (signed,
bound to the app and the name) holding the last event id it is done with: called again with it,
it goes on from there, so the events behind it (those deleted are gone, the others kept) are not
read again. Without the cursor it starts from the oldest event again, which is correct too, only
dearer. An event stored while a deletion runs may be left if the deletion has read past its id
already (as with any deletion that runs while events are written).
"""

import hashlib
import time
from dataclasses import dataclass
from functools import partial

from eventlog.access import signing
from eventlog.base.concurrency import run_parallel
from eventlog.base.errors import InvalidInputError, NotFoundError
from eventlog.base.ids import is_ulid
from eventlog.models.events import Event, EventsDeleted
from eventlog.storage import event_store, registry

# Events deleted between two looks at the deadline.
CHUNK = 100
CURSOR_PURPOSE = "deletion cursor"
# The HTTP routes answer the cursor in this header (seed 001's body has no room for it) and take
# it back as the `cursor` query parameter.
CURSOR_HEADER = "X-Eventlog-Cursor"
# Items one Query page reads (None: DynamoDB's 1 MB); the deadline is checked after each page.
READ_PAGE_SIZE: int | None = None


@dataclass
class NamedDeletion:
    summary: EventsDeleted
    cursor: str | None  # where a call with more time goes on from; None when complete


def delete_event(app_id: int, event_id: str) -> Event:
    registry.require_app(app_id)
    event = event_store.delete_event(app_id, event_id) if is_ulid(event_id) else None
    if event is None:
        raise NotFoundError(f"no event '{event_id}' in app {app_id}")
    return event


def delete_events_named(
    app_id: int, name: str, deadline: float, cursor: str | None = None
) -> EventsDeleted:
    """`delete_named`'s summary, without its cursor."""
    return delete_named(app_id, name, deadline, cursor).summary


def delete_named(
    app_id: int, name: str, deadline: float, cursor: str | None = None
) -> NamedDeletion:
    """Delete every event of an app with this name, until done or `deadline` (time.monotonic()),
    from the oldest or from where an earlier call's `cursor` stopped.

    Short of time it stops between chunks and pages, says it is not complete and returns the
    cursor to go on from.
    """
    registry.require_app(app_id)
    done_up_to = _resume_point(app_id, name, cursor) if cursor else None
    deleted: list[Event] = []
    pages = event_store.event_id_pages(
        app_id, name=name, after_id=done_up_to, page_size=READ_PAGE_SIZE
    )
    for page in pages:
        for chunk in (page.ids[i : i + CHUNK] for i in range(0, len(page.ids), CHUNK)):
            if time.monotonic() > deadline:
                return _stopped(app_id, name, deleted, done_up_to)
            events = run_parallel(
                [partial(event_store.delete_event, app_id, event_id) for event_id in chunk]
            )
            deleted += [event for event in events if event is not None]
            done_up_to = chunk[-1]
        if page.last_id is None:
            break
        done_up_to = page.last_id
        if time.monotonic() > deadline:
            return _stopped(app_id, name, deleted, done_up_to)
    return NamedDeletion(_summary(app_id, name, deleted, complete=True), None)


def _fingerprint(app_id: int, name: str) -> str:
    """Binds a cursor to the app and name it was issued for."""
    return hashlib.sha256(f"{app_id}|{name}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _resume_point(app_id: int, name: str, cursor: str) -> str:
    payload = signing.unseal(cursor, CURSOR_PURPOSE)
    after = payload.get("after")
    if payload.get("q") != _fingerprint(app_id, name) or not is_ulid(str(after)):
        raise InvalidInputError("invalid cursor: it belongs to another deletion")
    return str(after)


def _stopped(app_id: int, name: str, deleted: list[Event], done_up_to: str | None) -> NamedDeletion:
    cursor = None
    if done_up_to is not None:
        payload = {"q": _fingerprint(app_id, name), "after": done_up_to}
        cursor = signing.seal(payload, CURSOR_PURPOSE)
    return NamedDeletion(_summary(app_id, name, deleted, complete=False), cursor)


def _summary(app_id: int, name: str, deleted: list[Event], *, complete: bool) -> EventsDeleted:
    return EventsDeleted(
        app_id=app_id,
        name=name,
        deleted=len(deleted),
        occurrences=sum(event.count for event in deleted),
        complete=complete,
    )
