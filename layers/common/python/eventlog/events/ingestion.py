"""Ingestion: validate, stamp, deduplicate and store events. Nothing else.

Counting and alert rules happen downstream, from the events table's stream
(`eventlog.stats.stream`): a stored event is counted and matched even when the request that
stored it dies a moment later, and a request never waits for, or fails because of, the
aggregates.

An event that could not be stored (larger than DynamoDB's item limit) is rejected as that item
before anything is written, so a batch is never half-stored by it.

Deduplication: an event with a client `event_id` first claims that id (a conditional write), then
is stored with a conditional write under the ULID the claim holds. A retry finds the claim and
re-stores the event under the same ULID only if the first attempt died in between, so the event
ends up stored exactly once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from pydantic import ValidationError

from eventlog.base.concurrency import run_parallel
from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError
from eventlog.base.ids import new_ulids
from eventlog.base.timeutil import epoch_seconds, format_iso, utcnow
from eventlog.events import sequences
from eventlog.models.base import MAX_BATCH, TIME_BOUNDS, FieldError, in_time_bounds
from eventlog.models.events import BatchItemResult, BatchResult, Event, EventIn
from eventlog.storage import event_store, registry

# DynamoDB's limit on an item: an event stored as more is refused before anything is written.
MAX_ITEM_BYTES = 400 * 1024


@dataclass
class Stored:
    status: Literal["accepted", "duplicate", "rejected"]
    event: Event
    problem: FieldError | None = None  # why it was rejected


def field_errors(error: ValidationError) -> list[FieldError]:
    return [
        FieldError(
            field=".".join(str(part) for part in item["loc"]) or "event",
            message=item["msg"].removeprefix("Value error, "),
        )
        for item in error.errors()
    ]


def invalid_input(error: ValidationError) -> InvalidInputError:
    """A request body's validation failure as the 400 naming each bad field."""
    errors = field_errors(error)
    fields = ", ".join(sorted({item.field for item in errors}))
    return InvalidInputError(f"invalid {fields}", details=_dump(errors))


def _occurred(event_in: EventIn, received: datetime) -> datetime:
    occurred = event_in.occurred_at or received
    if event_in.occurred_at is not None and event_in.sent_at is not None:
        # The client's clock is off by (sent_at - received): shift its occurred_at by as much.
        # Both lie within the time bounds, so this cannot overflow; it may leave them.
        occurred += received - event_in.sent_at
    return occurred


def _skew_problem(event_in: EventIn, received: datetime) -> FieldError | None:
    occurred = _occurred(event_in, received)
    if in_time_bounds(occurred):
        return None
    return FieldError(
        field="sent_at",
        message=f"corrected for the clock skew sent_at shows, occurred_at would be "
        f"{format_iso(occurred)}, outside {TIME_BOUNDS}",
    )


def _stamp(app_id: int, event_in: EventIn, event_id: str, received: datetime) -> Event:
    occurred = _occurred(event_in, received)
    if not in_time_bounds(occurred):
        occurred = received  # never stored: the event is rejected (_skew_problem)
    return Event(
        id=event_id,
        app_id=app_id,
        received_at=format_iso(received),
        occurred_at=format_iso(occurred),
        **event_in.model_dump(exclude={"occurred_at", "sent_at"}),
    )


def _unstorable(event: Event, expires_at: int) -> FieldError | None:
    size = event_store.item_size(event_store.to_item(event, expires_at))
    if size <= MAX_ITEM_BYTES:
        return None
    return FieldError(
        field="event",
        message=f"the event would take {size:,} bytes stored, over DynamoDB's "
        f"{MAX_ITEM_BYTES:,}: send less data, stack or tags",
    )


def _store(app_id: int, events_in: list[EventIn], numbered: bool = False) -> list[Stored]:
    """`numbered`: each event stored now also gets the app's next number
    (eventlog.events.sequences)."""
    registry.require_app(app_id)
    received = utcnow()
    expires_at = epoch_seconds(received + timedelta(days=get_settings().retention_days))
    ids = new_ulids(received, len(events_in))
    events = [
        _stamp(app_id, event_in, event_id, received)
        for event_in, event_id in zip(events_in, ids, strict=True)
    ]
    results: dict[int, Stored] = {}
    for i, event in enumerate(events):
        problem = _skew_problem(events_in[i], received) or _unstorable(event, expires_at)
        if problem:
            results[i] = Stored("rejected", event, problem)
    storable = [i for i in range(len(events)) if i not in results]

    fresh = [i for i in storable if events[i].event_id is None]
    first_with_id: dict[str, int] = {}
    repeated: dict[int, int] = {}
    for i in storable:
        client_id = events[i].event_id
        if client_id is not None:
            repeated_of = first_with_id.setdefault(client_id, i)
            if repeated_of != i:
                repeated[i] = repeated_of
    claiming = list(first_with_id.values())
    if numbered:
        for i in fresh:
            events[i] = events[i].model_copy(update={"number": sequences.next_number(app_id)})
    # Fresh events first: nothing can collide with them, and the stream then meets a batch's
    # events in the order sent, unless a client event_id makes them wait for their claims.
    event_store.put_new_events([events[i] for i in fresh], expires_at)

    earlier_claims = run_parallel(
        [
            partial(
                event_store.claim_client_event_id,
                app_id,
                client_id,
                events[i].id,
                events[i].received_at,
                expires_at,
            )
            for client_id, i in first_with_id.items()
        ]
    )
    deleted: list[int] = []
    for i, claim in zip(claiming, earlier_claims, strict=True):
        if claim is not None:
            events[i] = events[i].model_copy(
                update={"id": claim["id"], "received_at": claim["received_at"]}
            )
            if claim.get("deleted"):
                deleted.append(i)  # deleted on purpose: a late retry must not bring it back
    storing = [i for i in claiming if i not in deleted]
    stored_now = run_parallel(
        [partial(event_store.put_event_once, events[i], expires_at) for i in storing]
    )

    results.update({i: Stored("accepted", events[i]) for i in fresh})
    for i, stored in zip(storing, stored_now, strict=True):
        results[i] = Stored("accepted" if stored else "duplicate", events[i])
    for i in deleted:
        results[i] = Stored("duplicate", events[i])
    for i, first in repeated.items():
        results[i] = Stored("duplicate", events[first])
    return [results[i] for i in range(len(events))]


def ingest_one(app_id: int, raw: Any) -> Stored:
    """Store one event; a duplicate returns the event stored first."""
    try:
        event_in = EventIn.model_validate(raw)
    except ValidationError as error:
        raise InvalidInputError("invalid event", details=_dump(field_errors(error))) from None
    (stored,) = _store(app_id, [event_in])
    if stored.problem:
        raise _refusal(stored.problem)
    if stored.status == "duplicate":
        original = event_store.get_event(app_id, stored.event.id, epoch_seconds(utcnow()))
        return Stored("duplicate", original or stored.event)
    return stored


def ingest_numbered(app_id: int, event_in: EventIn) -> Event:
    """Store one event under the app's next number as well as its ULID (seed 000's integer ids).

    Seed 000 sends no client event_id (only events without one are numbered): its retries are
    answered once by their Idempotency-Key instead."""
    (stored,) = _store(app_id, [event_in], numbered=True)
    if stored.problem:
        raise _refusal(stored.problem)
    return stored.event


def ingest_batch(app_id: int, raw_items: list[Any]) -> BatchResult:
    """Store the valid events of a batch and report on every item."""
    if not raw_items:
        raise InvalidInputError("the batch is empty: send at least one event")
    if len(raw_items) > MAX_BATCH:
        raise InvalidInputError(f"a batch holds at most {MAX_BATCH} events, got {len(raw_items)}")
    results: list[BatchItemResult | None] = [None] * len(raw_items)
    valid: list[tuple[int, EventIn]] = []
    for index, raw in enumerate(raw_items):
        try:
            valid.append((index, EventIn.model_validate(raw)))
        except ValidationError as error:
            results[index] = BatchItemResult(
                index=index, status="rejected", errors=field_errors(error)
            )
    if valid:
        stored = _store(app_id, [event_in for _, event_in in valid])
        for (index, _), outcome in zip(valid, stored, strict=True):
            if outcome.problem:
                results[index] = BatchItemResult(
                    index=index, status="rejected", errors=[outcome.problem]
                )
            else:
                results[index] = BatchItemResult(
                    index=index, status=outcome.status, id=outcome.event.id
                )
    items = [result for result in results if result is not None]
    rejected = sum(item.status == "rejected" for item in items)
    refused = rejected == len(items)
    return BatchResult(
        error=InvalidInputError.code if refused else None,
        message=f"all {rejected} events were rejected: see items" if refused else None,
        accepted=sum(item.status == "accepted" for item in items),
        duplicates=sum(item.status == "duplicate" for item in items),
        rejected=rejected,
        items=items,
    )


def _refusal(problem: FieldError) -> InvalidInputError:
    """The 400 for the one event of a request that could not be stored."""
    return InvalidInputError(f"invalid {problem.field}: {problem.message}", _dump([problem]))


def _dump(errors: list[FieldError]) -> list[dict[str, Any]]:
    return [error.model_dump() for error in errors]
