"""The events the bench sends: realistic ones, like events/ingest_batch.json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NAMES = ("checkout", "login", "search", "payment", "signup")
LEVELS = ("info", "warning", "error")  # the level filter of section 2 matches one event in three
BATCH = 100  # events per batch request: the API's largest


def make_event(
    i: int, client_id: str | None = None, occurred: datetime | None = None
) -> dict[str, Any]:
    """Event i: 5 names, 3 levels, tags; with a client event_id if given."""
    event = {
        "occurred_at": (occurred or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        "level": LEVELS[i % len(LEVELS)],
        "name": NAMES[i % len(NAMES)],
        "service": "api",
        "message": f"{NAMES[i % len(NAMES)]} {LEVELS[i % len(LEVELS)]} #{i}: request handled",
        "tags": {"env": "prod", "version": "1.2.3"},
    }
    if client_id is not None:
        event["event_id"] = client_id
    return event


def spread_over(start: datetime, span: timedelta, i: int, total: int) -> datetime:
    """When event i of `total` happened, spread evenly over [start, start + span)."""
    return start + span * (i + 0.5) / total
