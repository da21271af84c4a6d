"""UTC timestamps: parsing any ISO 8601 offset, and one output format."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_iso(value: str) -> datetime:
    """Parse ISO 8601; a value without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_iso(value: datetime) -> str:
    """`2026-02-10T10:00:00Z`, with milliseconds only when there are some."""
    value = to_utc(value)
    timespec = "milliseconds" if value.microsecond >= 1000 else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())
