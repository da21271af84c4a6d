"""Deleting events. The aggregates follow from the events table's stream (`eventlog.stats.stream`
subtracts what each deletion removed), as they follow every stored event."""

import time
from functools import partial

from eventlog.base.concurrency import run_parallel
from eventlog.base.errors import NotFoundError
from eventlog.base.ids import is_ulid
from eventlog.models.events import Event, EventsDeleted
from eventlog.storage import event_store, registry

# Events deleted between two looks at the deadline.
CHUNK = 100


def delete_event(app_id: int, event_id: str) -> Event:
    registry.require_app(app_id)
    event = event_store.delete_event(app_id, event_id) if is_ulid(event_id) else None
    if event is None:
        raise NotFoundError(f"no event '{event_id}' in app {app_id}")
    return event


def delete_events_named(app_id: int, name: str, deadline: float) -> EventsDeleted:
    """Delete every event of an app with this name, until done or `deadline` (time.monotonic()).

    Short of time it stops between chunks and says it is not complete: calling again goes on.
    """
    registry.require_app(app_id)
    deleted: list[Event] = []
    for ids in event_store.event_id_pages(app_id, name=name):
        for chunk in (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)):
            if time.monotonic() > deadline:
                return _summary(app_id, name, deleted, complete=False)
            events = run_parallel(
                [partial(event_store.delete_event, app_id, event_id) for event_id in chunk]
            )
            deleted += [event for event in events if event is not None]
    return _summary(app_id, name, deleted, complete=True)


def _summary(app_id: int, name: str, deleted: list[Event], *, complete: bool) -> EventsDeleted:
    return EventsDeleted(
        app_id=app_id,
        name=name,
        deleted=len(deleted),
        occurrences=sum(event.count for event in deleted),
        complete=complete,
    )
