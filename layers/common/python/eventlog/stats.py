"""Statistics, computed from the aggregates only: their cost depends on the time range asked,
never on how many events it holds.

Statistics count whole hours (a timeseries, whole buckets of its interval): `since` is rounded
down and `until` up, and the replies give the range counted. Partial hours would mean reading
minute buckets, whose number and size grow with how busy an app is. Events count by when they
happened (`occurred_at`).
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventlog import aggregation, registry
from eventlog.aggregation import (
    NOTIFICATIONS_FAILED,
    NOTIFICATIONS_SENT,
    CountsBucket,
    hour_counter,
    hour_last_seen,
    level_counter,
    name_counter,
    service_counter,
)
from eventlog.buckets import Granularity, Run, count_buckets, cover
from eventlog.errors import InvalidInputError
from eventlog.models.base import Level
from eventlog.models.events import HEARTBEAT_NAME
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
    NotificationCounts,
    StatsRange,
    Timeseries,
    TimeseriesQuery,
    TopMessages,
    TopMessagesQuery,
)
from eventlog.timeutil import format_iso, utcnow

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


def _counter(level: str, name: str | None = None, service: str | None = None) -> str:
    if name:
        return name_counter(name, level)
    if service:
        return service_counter(service, level)
    return level_counter(level)


def _counters(levels: list[str], name: str | None = None, service: str | None = None) -> list[str]:
    """The counters whose sum the filters ask for."""
    return [_counter(level, name, service) for level in levels]


def _sum(bucket: CountsBucket, counters: list[str]) -> int:
    return sum(bucket.counters.get(counter, 0) for counter in counters)


def name_counts(bucket: CountsBucket, levels: list[str] | None = None) -> Counter[str]:
    """The count of each event name in a bucket, summed over `levels` (default: every level)."""
    levels = levels or _levels(None)
    counts: Counter[str] = Counter()
    for counter, count in bucket.counters.items():
        kind, name, level = aggregation.parse_counter(counter)
        if kind == "n" and level in levels:
            counts[name] += count
    return counts


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
    counters = _counters(_levels(query.level), query.name, query.service)
    read = aggregation.read_counts(app_id, [run])
    counts = {bucket.start: _sum(bucket, counters) for bucket in read}
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
    buckets = aggregation.read_counts(app_id, cover(since, until))
    totals: Counter[str] = Counter()
    for level in _levels(query.level):
        counter = _counter(level, query.name, query.service)
        totals[level] = sum(bucket.counters.get(counter, 0) for bucket in buckets)
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
    for group in aggregation.read_message_groups(app_id, days):
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
    """Totals per event name, with the first and last hour each was seen in the range."""
    registry.require_app(app_id)
    since, until = _range(query)
    buckets = aggregation.read_counts(app_id, cover(since, until))
    levels = _levels(query.level)
    totals: Counter[str] = Counter()
    first: dict[str, CountsBucket] = {}
    last: dict[str, CountsBucket] = {}
    for bucket in buckets:
        for name, count in name_counts(bucket, levels).items():
            if count > 0:
                totals[name] += count
                first.setdefault(name, bucket)
                last[name] = bucket
    hours_of_day: dict[datetime, list[CountsBucket]] = {}

    def hour_seen(name: str, bucket: CountsBucket, latest: bool) -> str:
        if bucket.granularity is DAY:
            if bucket.start not in hours_of_day:
                run = Run(HOUR, bucket.start, bucket.start + DAY.step)
                hours_of_day[bucket.start] = aggregation.read_counts(app_id, [run])
            counters = _counters(levels, name)
            seen = [hour for hour in hours_of_day[bucket.start] if _sum(hour, counters) > 0]
            if seen:  # else written between two reads: the day is the best answer
                bucket = seen[-1] if latest else seen[0]
        return format_iso(bucket.start)

    items = [
        NameCount(
            name=name,
            count=count,
            first_seen=hour_seen(name, first[name], latest=False),
            last_seen=hour_seen(name, last[name], latest=True),
        )
        for name, count in sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
    ]
    return ByName(since=format_iso(since), until=format_iso(until), items=items)


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
    if any(start.astimezone(zone).minute for start in Run(HOUR, since, until).starts()):
        if until - since > MAX_HOURLY_RANGE_BY_MINUTE:
            raise InvalidInputError(
                f"time zone {query.tz} is not a whole number of hours from UTC: its hourly "
                f"distribution covers at most {MAX_HOURLY_RANGE_BY_MINUTE.days} days"
            )
        runs = [Run(MINUTE, since, until)]
    else:
        runs = cover(since, until, coarsest=HOUR)
    counters = _counters(_levels(None), query.name)
    hour_count = [0] * 24
    for bucket in aggregation.read_counts(app_id, runs):
        hour_count[bucket.start.astimezone(zone).hour] += _sum(bucket, counters)
    return Hourly(
        name=query.name,
        tz=query.tz,
        since=format_iso(since),
        until=format_iso(until),
        total=sum(hour_count),
        hour_count=hour_count,
    )


def hourly_png(app_id: int, query: HourlyQuery) -> bytes:
    from eventlog.histogram import render_hourly_png

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
    buckets = aggregation.read_counts(app_id, cover(since, until))
    return NotificationCounts(
        since=format_iso(since),
        until=format_iso(until),
        sent=sum(_sum(bucket, [NOTIFICATIONS_SENT]) for bucket in buckets),
        failed=sum(_sum(bucket, [NOTIFICATIONS_FAILED]) for bucket in buckets),
    )


# Every day an app has counts for: only days with data are stored, so the read grows with the
# days an app was used, not with its events.
ALL_TIME = Run(DAY, datetime(FIRST_YEAR, 1, 1, tzinfo=UTC), datetime(LAST_YEAR, 1, 1, tzinfo=UTC))
# Every hour an app has counts for: grows with the hours it was used.
ALL_TIME_HOURS = Run(HOUR, ALL_TIME.start, ALL_TIME.end)


def metrics(app_id: int | None) -> Metrics:
    """All-time totals of an app (None: the `default` app): events stored, notifications sent."""
    app_id = registry.app_or_default(app_id)
    buckets = aggregation.read_counts(app_id, [ALL_TIME])
    # The propagator's heartbeats are the service's own events, not logs a client sent.
    every_level = _counters(_levels(None))
    heartbeats = _counters(_levels(None), HEARTBEAT_NAME)
    return Metrics(
        logs_processed=sum(
            _sum(bucket, every_level) - _sum(bucket, heartbeats) for bucket in buckets
        ),
        notifications_sent=sum(_sum(bucket, [NOTIFICATIONS_SENT]) for bucket in buckets),
    )
