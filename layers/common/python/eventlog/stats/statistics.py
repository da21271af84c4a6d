"""Statistics, computed from the aggregates only: their cost depends on the time range asked
(and, by name, on the names it returns), never on how many events it holds.

The aggregates follow the events table's stream, about a second behind writes: `as_of` says
when the newest change they count was made (the API sends it as `X-Eventlog-As-Of`).

Statistics count whole hours (a timeseries, whole buckets of its interval): `since` is rounded
down and `until` up, and the replies give the range counted. Partial hours would mean reading
minute buckets, whose number and size grow with how busy an app is. Events count by when they
happened (`occurred_at`). Counts by name and by service are kept per hour: a timeseries by
minute, or an hourly distribution in a zone not a whole number of hours from UTC, can be asked
for the totals only.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.models.base import Level
from eventlog.models.stats import (
    FIRST_YEAR,
    LAST_YEAR,
    Bucket,
    ByLevel,
    ByName,
    CountsQuery,
    Hourly,
    HourlyQuery,
    LevelCount,
    LevelFilter,
    MessageCount,
    Metrics,
    NameCount,
    NameOverflow,
    NotificationCounts,
    StatsRange,
    Timeseries,
    TimeseriesQuery,
    TopMessages,
    TopMessagesQuery,
)
from eventlog.stats.buckets import Granularity, Run, count_buckets, cover
from eventlog.storage import aggregates, registry
from eventlog.storage.aggregates import (
    HEARTBEATS,
    NOTIFICATIONS_FAILED,
    NOTIFICATIONS_SENT,
    OVERFLOW,
    CountsBucket,
    Dimension,
    DimensionDay,
    hour_counter,
    hour_last_seen,
    level_counter,
    parse_hour_counter,
)

DEFAULT_RANGE = timedelta(hours=24)
# 24 hours of minutes would be more buckets than a timeseries returns.
DEFAULT_MINUTES_RANGE = timedelta(hours=1)
MAX_RANGE = timedelta(days=3660)
MAX_BUCKETS = 1000
# Message groups are kept per day, distributions per hour: these bound what one request reads.
MAX_TOP_MESSAGES_RANGE = timedelta(days=31)
MAX_HOURLY_RANGE = timedelta(days=366)
# Zones whose offset is not whole hours (Asia/Kolkata) need minute buckets.
MAX_HOURLY_RANGE_BY_MINUTE = timedelta(days=7)
MINUTE, HOUR, DAY = Granularity.MINUTE, Granularity.HOUR, Granularity.DAY


def _range(
    query: StatsRange,
    granularity: Granularity = HOUR,
    longest: timedelta = MAX_RANGE,
    default: timedelta = DEFAULT_RANGE,
) -> tuple[datetime, datetime]:
    """The whole buckets [since, until) to count: by default the 24 hours up to now."""
    until = query.until or utcnow()
    since = query.since or until - default
    if since >= until:
        raise InvalidInputError("since must be before until")
    if until - since > longest:
        raise InvalidInputError(
            f"the range from since to until is longer than this statistic allows "
            f"({longest.days} days): narrow it"
        )
    return granularity.floor(since), granularity.ceil(until)


def _levels(level: Level | None) -> list[str]:
    return [level.value] if level else [member.value for member in Level]


def _sum(bucket: CountsBucket, counters: list[str]) -> int:
    return sum(bucket.counters.get(counter, 0) for counter in counters)


def _level_counters(levels: list[str]) -> list[str]:
    return [level_counter(level) for level in levels]


def _dimension(query: CountsQuery) -> tuple[Dimension, str] | None:
    """The name or service a query filters on, if any."""
    if query.name:
        return Dimension.NAME, query.name
    if query.service:
        return Dimension.SERVICE, query.service
    return None


def _days(since: datetime, until: datetime) -> list[datetime]:
    return list(Run(DAY, DAY.floor(since), DAY.ceil(until)).starts())


def _hour_level_counts(
    days: list[DimensionDay], since: datetime, until: datetime, levels: list[str]
) -> Counter[tuple[datetime, str]]:
    """(hour, level) -> count of these name (or service) days, for the hours in [since, until)."""
    counts: Counter[tuple[datetime, str]] = Counter()
    for day in days:
        for counter, count in day.counters.items():
            parsed = parse_hour_counter(counter)
            if parsed and parsed[1] in levels:
                hour = day.day.replace(hour=parsed[0])
                if since <= hour < until:
                    counts[(hour, parsed[1])] += count
    return counts


def _value_counts(
    app_id: int, found: tuple[Dimension, str], since: datetime, until: datetime, levels: list[str]
) -> Counter[tuple[datetime, str]]:
    days = aggregates.read_dimension_value(app_id, *found, _days(since, until))
    return _hour_level_counts(days, since, until, levels)


def _per_hour_only(what: str) -> InvalidInputError:
    return InvalidInputError(
        f"counts by name and by service are kept per hour: {what}, or leave out name and service"
    )


def timeseries(app_id: int, query: TimeseriesQuery) -> Timeseries:
    registry.require_app(app_id)
    granularity = query.interval
    default = DEFAULT_MINUTES_RANGE if granularity is MINUTE else DEFAULT_RANGE
    since, until = _range(query, granularity, default=default)
    buckets = count_buckets(granularity, since, until)
    if buckets > MAX_BUCKETS:
        raise InvalidInputError(
            f"{buckets} {granularity.lower()} buckets from since to until; at most {MAX_BUCKETS}: "
            "narrow the range or use a larger interval"
        )
    run = Run(granularity, since, until)
    levels = _levels(query.level)
    found = _dimension(query)
    counts: Counter[datetime] = Counter()
    if found is None:
        counters = _level_counters(levels)
        for bucket in aggregates.read_counts(app_id, [run]):
            counts[bucket.start] += _sum(bucket, counters)
    elif granularity is MINUTE:
        raise _per_hour_only("ask for interval HOUR or DAY")
    else:
        for (hour, _), count in _value_counts(app_id, found, since, until, levels).items():
            counts[granularity.floor(hour)] += count
    return Timeseries(
        interval=granularity,
        since=format_iso(since),
        until=format_iso(until),
        series=[
            Bucket(bucket_start=format_iso(start), count=counts.get(start, 0))
            for start in run.starts()
        ],
    )


def by_level(app_id: int, query: CountsQuery) -> ByLevel:
    registry.require_app(app_id)
    since, until = _range(query)
    levels = _levels(query.level)
    found = _dimension(query)
    totals: Counter[str] = Counter()
    if found is None:
        for bucket in aggregates.read_counts(app_id, cover(since, until)):
            for level in levels:
                totals[level] += bucket.counters.get(level_counter(level), 0)
    else:
        for (_, level), count in _value_counts(app_id, found, since, until, levels).items():
            totals[level] += count
    order = list(Level)
    items = sorted(
        (LevelCount(level=Level(level), count=count) for level, count in totals.items() if count),
        key=lambda item: (-item.count, order.index(item.level)),
    )
    return ByLevel(since=format_iso(since), until=format_iso(until), items=items)


def top_messages(app_id: int, query: TopMessagesQuery) -> TopMessages:
    """The most frequent message groups in whole hours, then the most recently seen first."""
    registry.require_app(app_id)
    since, until = _range(query, HOUR, MAX_TOP_MESSAGES_RANGE)
    days = list(Run(DAY, DAY.floor(since), DAY.ceil(until)).starts())
    levels = _levels(query.level)
    totals: Counter[str] = Counter()
    last_seen: dict[str, int] = {}
    samples: dict[str, str] = {}
    for group in aggregates.read_message_groups(app_id, days):
        for hour in range(24):
            if not since <= group.day + timedelta(hours=hour) < until:
                continue
            for level in levels:
                count = group.counters.get(hour_counter(hour, level), 0)
                if count > 0:
                    totals[group.group_id] += count
                    seen = group.last_seen.get(hour_last_seen(hour, level), 0)
                    last_seen[group.group_id] = max(last_seen.get(group.group_id, 0), seen)
                    samples.setdefault(group.group_id, group.sample)
    ranked = sorted(
        (group_id for group_id, count in totals.items() if count > 0),
        key=lambda group_id: (-totals[group_id], -last_seen[group_id]),
    )
    return TopMessages(
        limit=query.limit,
        items=[
            MessageCount(
                message=samples[group_id],
                count=totals[group_id],
                last_seen=format_iso(datetime.fromtimestamp(last_seen[group_id] / 1000, UTC)),
            )
            for group_id in ranked[: query.limit]
        ],
    )


def by_name(app_id: int, query: LevelFilter) -> ByName:
    """Totals per event name, with the first and last hour each was seen in the range; names
    over the day's distinct-name limit are counted together in `overflow`."""
    registry.require_app(app_id)
    since, until = _range(query)
    levels = _levels(query.level)
    days = aggregates.read_dimension_days(
        app_id, Dimension.NAME, DAY.floor(since), DAY.floor(until - HOUR.step)
    )
    by_value: dict[str, list[DimensionDay]] = {}
    for day in days:
        by_value.setdefault(day.value, []).append(day)
    items: list[NameCount] = []
    overflow = 0
    for name, name_days in by_value.items():
        counts = _hour_level_counts(name_days, since, until, levels)
        hours = sorted({hour for (hour, _), count in counts.items() if count})
        total = sum(counts.values())
        if total <= 0 or not hours:
            continue
        if name == OVERFLOW:
            overflow = total
            continue
        items.append(
            NameCount(
                name=name,
                count=total,
                first_seen=format_iso(hours[0]),
                last_seen=format_iso(hours[-1]),
            )
        )
    items.sort(key=lambda item: (-item.count, item.name))
    return ByName(
        since=format_iso(since),
        until=format_iso(until),
        items=items,
        overflow=NameOverflow(count=overflow, limit=get_settings().name_cardinality_limit)
        if overflow
        else None,
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, like "America"
        raise InvalidInputError(
            f"unknown time zone '{name}': use an IANA name such as Europe/Paris"
        ) from None


def hourly(app_id: int, query: HourlyQuery) -> Hourly:
    """The distribution over the hours of the day, in the query's time zone (DST included)."""
    registry.require_app(app_id)
    zone = _zone(query.tz)
    since, until = _range(query, HOUR, MAX_HOURLY_RANGE)
    odd_zone = any(start.astimezone(zone).minute for start in Run(HOUR, since, until).starts())
    hour_count = [0] * 24
    if query.name:
        if odd_zone:
            raise _per_hour_only(f"{query.tz} is not a whole number of hours from UTC")
        found = (Dimension.NAME, query.name)
        for (hour, _), count in _value_counts(app_id, found, since, until, _levels(None)).items():
            hour_count[hour.astimezone(zone).hour] += count
        return _hourly(query, since, until, hour_count)
    if odd_zone:
        if until - since > MAX_HOURLY_RANGE_BY_MINUTE:
            raise InvalidInputError(
                f"time zone {query.tz} is not a whole number of hours from UTC: its hourly "
                f"distribution covers at most {MAX_HOURLY_RANGE_BY_MINUTE.days} days"
            )
        runs = [Run(MINUTE, since, until)]
    else:
        runs = cover(since, until, coarsest=HOUR)
    counters = _level_counters(_levels(None))
    for bucket in aggregates.read_counts(app_id, runs):
        hour_count[bucket.start.astimezone(zone).hour] += _sum(bucket, counters)
    return _hourly(query, since, until, hour_count)


def _hourly(query: HourlyQuery, since: datetime, until: datetime, hour_count: list[int]) -> Hourly:
    return Hourly(
        name=query.name,
        tz=query.tz,
        since=format_iso(since),
        until=format_iso(until),
        total=sum(hour_count),
        hour_count=hour_count,
    )


def hourly_png(app_id: int, query: HourlyQuery) -> bytes:
    from eventlog.stats.histogram import render_hourly_png

    distribution = hourly(app_id, query)
    subject = f"'{query.name}'" if query.name else "All events"
    return render_hourly_png(
        distribution.hour_count,
        title=f"{subject} by hour of day: {distribution.total:,} "
        f"from {distribution.since} to {distribution.until}",
        x_label=f"hour of day ({query.tz})",
    )


def notifications(app_id: int, query: StatsRange) -> NotificationCounts:
    """Notifications delivered and given up in the range (counted when they were sent)."""
    registry.require_app(app_id)
    since, until = _range(query)
    buckets = aggregates.read_counts(app_id, cover(since, until))
    return NotificationCounts(
        since=format_iso(since),
        until=format_iso(until),
        sent=sum(_sum(bucket, [NOTIFICATIONS_SENT]) for bucket in buckets),
        failed=sum(_sum(bucket, [NOTIFICATIONS_FAILED]) for bucket in buckets),
    )


# Every day an app has counts for: only days with data are stored, so the read grows with the
# days an app was used, not with its events.
ALL_TIME = Run(DAY, datetime(FIRST_YEAR, 1, 1, tzinfo=UTC), datetime(LAST_YEAR, 1, 1, tzinfo=UTC))


def metrics(app_id: int | None) -> Metrics:
    """All-time totals of an app (None: the `default` app): events stored, notifications sent."""
    app_id = registry.app_or_default(app_id)
    buckets = aggregates.read_counts(app_id, [ALL_TIME])
    # The propagator's heartbeats are the service's own events, not logs a client sent. They go
    # to the internal app now; stacks older than it counted some in `default`: left out here.
    every_level = _level_counters(_levels(None))
    return Metrics(
        logs_processed=sum(
            _sum(bucket, every_level) - bucket.counters.get(HEARTBEATS, 0) for bucket in buckets
        ),
        notifications_sent=sum(_sum(bucket, [NOTIFICATIONS_SENT]) for bucket in buckets),
    )


def as_of(app_id: int | None) -> str | None:
    """When the newest change counted for the app (None: the default app) was made."""
    if app_id is None:
        app_id = registry.app_or_default(None)
    watermark = aggregates.read_watermark(app_id)
    return format_iso(watermark) if watermark else None
