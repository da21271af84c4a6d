"""Seed 002's logs over the events: a log is stored as an event, and listed back as a log.

`POST /logs` takes the seed's JSON object or one text log line in a common format
(`eventlog.compat.logformats`, detected automatically); whatever makes it invalid (an empty
body, a field the event model refuses) gets the seed's 400 `{"error": "Invalid log data"}`.
`GET /logs` lists an app's most recent MAX_LOGS logs (by arrival), sorted by their timestamp.
The propagator's heartbeats live in the service's own app (`eventlog-internal`), not in
`default`; the ones stacks wrote into `default` before that are left out of the listing too.
"""

import json
from typing import Any

from pydantic import ValidationError

from eventlog.base.errors import InvalidInputError
from eventlog.base.timeutil import epoch_seconds, format_iso, parse_iso, utcnow
from eventlog.compat.logformats import normalize_level, parse_log_line
from eventlog.compat.models.logs import LogIn, LogRecord
from eventlog.events import ingestion
from eventlog.models.events import HEARTBEAT_NAME, Event
from eventlog.storage import event_store, registry

# GET /logs answers a bare list (the seed's contract): this bounds what one request reads.
MAX_LOGS = 1000
PAGE_SIZE = 100
REQUEST_ID = "request_id"
# The propagator's (eventlog.delivery.propagation imports far more than this module needs).
HEARTBEAT_SERVICE = "propagator"


class InvalidLogError(InvalidInputError):
    """Answered exactly as the seed does: 400 {"error": "Invalid log data"}."""


def _from_json(raw: Any) -> dict[str, Any]:
    log = LogIn.model_validate(raw)
    tags = dict(log.model_extra or {})
    if log.request_id is not None:
        tags[REQUEST_ID] = log.request_id
    event: dict[str, Any] = {"level": log.level, "message": log.message}
    if log.timestamp is not None:
        event["occurred_at"] = log.timestamp
    if log.service is not None:
        event["service"] = log.service
    if log.data is not None:
        event["data"] = log.data
    if tags:
        event["tags"] = tags
    return event


def _from_text(line: str) -> dict[str, Any] | None:
    parsed = parse_log_line(line, utcnow())
    if parsed is None:
        return None
    event_format = parsed.pop("format")
    return {**parsed, "tags": {"format": event_format}}


def to_event(body: str) -> dict[str, Any]:
    """The event a log request describes; InvalidLogError when it describes none."""
    text = body.strip()
    try:
        if text.startswith("{"):
            return _from_json(json.loads(text))
        event = _from_text(body)
    except (ValueError, ValidationError) as error:  # JSONDecodeError is a ValueError
        raise InvalidLogError("Invalid log data", details=[{"reason": str(error)[:500]}]) from None
    if event is None:
        raise InvalidLogError("Invalid log data", details=[{"reason": "no known log format"}])
    return event


def ingest_log(app_id: int | None, body: str) -> Event:
    app_id = registry.app_or_default(app_id)
    event = to_event(body)
    try:
        return ingestion.ingest_one(app_id, event).event
    except InvalidInputError as error:  # the event model's refusal: the seed's answer
        details = error.details or [{"reason": error.message}]
        raise InvalidLogError("Invalid log data", details=details) from None


def _is_heartbeat(event: Event) -> bool:
    """A propagator heartbeat (older stacks wrote them into the `default` app)."""
    return event.name == HEARTBEAT_NAME and event.service == HEARTBEAT_SERVICE


def _timestamp(event: Event) -> str:
    return format_iso(parse_iso(event.occurred_at)).removesuffix("Z")


def to_log(event: Event) -> LogRecord:
    return LogRecord(
        timestamp=_timestamp(event),
        level=event.level,
        service=event.service,
        request_id=(event.tags or {}).get(REQUEST_ID),
        message=event.message,
        data=event.data,
    )


def list_logs(app_id: int | None, level: str | None) -> list[LogRecord]:
    app_id = registry.app_or_default(app_id)
    filters = {}
    if level is not None:
        known = normalize_level(level)
        if known is None:
            return []  # the seed answers an unknown level with an empty list
        filters["level"] = known
    events: list[Event] = []
    pages = event_store.query_event_pages(
        app_id,
        lowest_id="0" * 26,
        highest_id="Z" * 26,
        start_after_id=None,
        now_epoch=epoch_seconds(utcnow()),
        filters=filters,
        page_size=PAGE_SIZE,
    )
    evaluated = 0
    for page in pages:
        events += [event for event in page.events if not _is_heartbeat(event)]
        evaluated += page.evaluated
        if len(events) >= MAX_LOGS or evaluated >= MAX_LOGS:
            break
    newest = events[:MAX_LOGS]
    return [to_log(event) for event in sorted(newest, key=lambda e: (e.occurred_at, e.id))]
