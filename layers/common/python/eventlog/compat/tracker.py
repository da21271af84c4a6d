"""Seed 001 (event tracker) over the core: named occurrences, counted by day and hour of day.

An occurrence is a native event with a `name` and a `count`; the seed's readings come from the
aggregates only (`eventlog.storage.aggregates`): one item per name and day, holding its counts per
hour. Only days with data are stored, so a reading grows with the (name, day) pairs an app has,
never with its number of events. Names beyond a day's distinct-name limit are counted together
and not listed here. The hourly frequencies and the histogram count the last FREQUENCY_DAYS days
(UTC, today included): one name's is a BatchGetItem of its keys on those days, whatever other
names the app has; everyone's a Query of those days. The daily counts and the history are
all-time.

Names match exactly, whatever characters they hold. The propagator's heartbeats
(`HEARTBEAT_NAME`) are the service's own events, not tracked ones: they are neither listed nor
found, and the name cannot be posted or deleted here.

Orders: daily counts by date, then name; totals and frequencies by name (Python's code point
order, so `A` before `a`).
"""

from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from eventlog.base.errors import InvalidInputError, NotFoundError
from eventlog.base.timeutil import utcnow
from eventlog.compat.models.tracker import (
    DailyCount,
    DateRange,
    EventTotal,
    Frequency,
    TrackerDeleted,
    TrackerEventIn,
)
from eventlog.events import deletion, ingestion
from eventlog.models.events import HEARTBEAT_NAME
from eventlog.models.stats import FIRST_YEAR, LAST_YEAR
from eventlog.stats.buckets import Granularity
from eventlog.storage import aggregates, registry
from eventlog.storage.aggregates import OVERFLOW, Dimension

DAY = Granularity.DAY
HOURS = 24
ALL_DAYS = (datetime(FIRST_YEAR, 1, 1, tzinfo=UTC), datetime(LAST_YEAR, 1, 1, tzinfo=UTC))
# The hourly frequencies and the histogram count the last this many days (UTC), today included,
# so what they read is bounded however long an app's history grows.
FREQUENCY_DAYS = 365


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"no event named '{name}'")


def record(app_id: int | None, name: str, payload: Any) -> None:
    """Store `count` occurrences of `name` (0 or none: one) at `date` (none: now) in the app
    (None: the default app). `payload` is the parsed JSON body, None when there was none."""
    app_id = registry.app_or_default(app_id)
    if name == HEARTBEAT_NAME:
        raise InvalidInputError(f"'{name}' is the service's own event name: choose another")
    try:
        occurrence = TrackerEventIn.model_validate({} if payload is None else payload)
    except ValidationError as error:
        raise ingestion.invalid_input(error) from None
    event: dict[str, Any] = {"name": name, "count": occurrence.count or 1}
    if occurrence.date is not None:
        event["occurred_at"] = occurrence.date
    ingestion.ingest_one(app_id, event)


def _days(app_id: int, first: datetime, last: datetime) -> list[tuple[datetime, Counter[str]]]:
    """Each day from first to last (included) with data, in order, and each name's count."""
    days: defaultdict[datetime, Counter[str]] = defaultdict(Counter)
    for found in aggregates.read_dimension_days(app_id, Dimension.NAME, first, last):
        if found.value not in (HEARTBEAT_NAME, OVERFLOW):
            days[found.day][found.value] += sum(found.counters.values())
    # Names deleted since leave zeros behind: only positive counts.
    return [(day, +days[day]) for day in sorted(days) if +days[day]]


def _daily(days: list[tuple[datetime, Counter[str]]], only: str | None = None) -> list[DailyCount]:
    return [
        DailyCount(event=name, count=counts[name], date=DAY.key(start))
        for start, counts in days
        for name in sorted(counts)
        if only is None or name == only
    ]


def daily_counts(app_id: int | None, query: DateRange) -> list[DailyCount]:
    """The count of every name on every day, from start_date to end_date included (none: all)."""
    app_id = registry.app_or_default(app_id)
    first, last = ALL_DAYS
    if query.start_date and query.end_date:
        first = datetime.combine(query.start_date, time(), UTC)
        last = datetime.combine(query.end_date, time(), UTC)
    return _daily(_days(app_id, first, last))


def history(app_id: int | None) -> list[EventTotal]:
    """The all-time total of every name."""
    app_id = registry.app_or_default(app_id)
    totals: Counter[str] = Counter()
    for _, counts in _days(app_id, *ALL_DAYS):
        totals.update(counts)
    return [EventTotal(event=name, count=totals[name]) for name in sorted(totals)]


def events_named(app_id: int | None, name: str) -> list[DailyCount]:
    """The count of one name on every day it occurred."""
    app_id = registry.app_or_default(app_id)
    found = _daily(_days(app_id, *ALL_DAYS), only=name)
    if not found:
        raise _not_found(name)
    return found


def frequency_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The first and last day (UTC) the hourly frequencies and the histogram count: the last
    FREQUENCY_DAYS days, today included."""
    today = DAY.floor(now or utcnow())
    return today - timedelta(days=FREQUENCY_DAYS - 1), today


def _hour_counts(found: aggregates.DimensionDay, into: list[int]) -> None:
    for hour, count in found.hours():
        into[hour.hour] += count


def frequencies(app_id: int | None) -> list[Frequency]:
    """Every name's total over the frequency window and its distribution over the hours of the
    day (UTC): one Query of the window's (day, name) items."""
    app_id = registry.app_or_default(app_id)
    hour_counts: defaultdict[str, list[int]] = defaultdict(lambda: [0] * HOURS)
    for found in aggregates.read_dimension_days(app_id, Dimension.NAME, *frequency_window()):
        if found.value not in (HEARTBEAT_NAME, OVERFLOW):
            _hour_counts(found, hour_counts[found.value])
    return [
        Frequency(event=name, count=sum(hour_counts[name]), hour_count=hour_counts[name])
        for name in sorted(hour_counts)
        if sum(hour_counts[name]) > 0
    ]


def frequency(app_id: int | None, name: str) -> Frequency:
    """One name's total over the frequency window and its distribution over the hours of the
    day (UTC): a BatchGetItem of its FREQUENCY_DAYS (day, name) keys, whatever other names the
    app has."""
    app_id = registry.app_or_default(app_id)
    if name in (HEARTBEAT_NAME, OVERFLOW):
        raise _not_found(name)
    first, last = frequency_window()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    hour_count = [0] * HOURS
    for found in aggregates.read_dimension_value(app_id, Dimension.NAME, name, days):
        _hour_counts(found, hour_count)
    if sum(hour_count) <= 0:
        raise _not_found(name)
    return Frequency(event=name, count=sum(hour_count), hour_count=hour_count)


def hourly_png(app_id: int | None, name: str) -> bytes:
    from eventlog.stats.histogram import render_hourly_png

    found = frequency(app_id, name)
    return render_hourly_png(
        found.hour_count,
        title=f"'{name}' by hour of day: {found.count:,} occurrences",
        x_label="hour of day (UTC)",
    )


def delete(
    app_id: int | None, name: str, deadline: float, cursor: str | None = None
) -> tuple[TrackerDeleted, str | None]:
    """Delete every occurrence of `name` until done or `deadline` (time.monotonic()), from the
    oldest or from where an earlier call's `cursor` stopped; returns the seed's body and, when
    time ran out, the cursor to go on from (`eventlog.events.deletion`).

    A name without occurrences is not found, unless a cursor says an earlier call deleted
    them: then the deletion is complete, having deleted nothing more."""
    app_id = registry.app_or_default(app_id)
    if name == HEARTBEAT_NAME:
        raise _not_found(name)
    result = deletion.delete_named(app_id, name, deadline, cursor)
    summary = result.summary
    if summary.complete and not summary.deleted and cursor is None:
        raise _not_found(name)
    message = f"deleted {summary.occurrences} occurrences of event '{name}'"
    if not summary.complete:
        message += " so far; time ran out: send the DELETE again to delete the rest"
        if result.cursor:
            header = deletion.CURSOR_HEADER
            message += f", with ?cursor= and this answer's {header} to go on from here"
    body = TrackerDeleted(
        message=message,
        event=name,
        deleted=summary.deleted,
        occurrences=summary.occurrences,
        complete=summary.complete,
    )
    return body, result.cursor
