"""eventlog.base.timeutil: any ISO 8601 offset in, one UTC format out."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from eventlog.base.timeutil import epoch_seconds, format_iso, parse_iso, to_utc, utcnow


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-10T10:00:00Z", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10T10:00:00z", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10T10:00:00+00:00", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10T12:00:00+02:00", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10T05:30:00-04:30", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-11T01:00:00+15:00", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10T10:00:00", datetime(2026, 2, 10, 10, tzinfo=UTC)),  # naive: UTC
        ("2026-02-10 10:00:00", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10", datetime(2026, 2, 10, tzinfo=UTC)),
        ("  2026-02-10T10:00:00Z ", datetime(2026, 2, 10, 10, tzinfo=UTC)),
        ("2026-02-10T10:00:00.250+01:00", datetime(2026, 2, 10, 9, 0, 0, 250_000, tzinfo=UTC)),
    ],
)
def test_parse_iso_gives_utc(text, expected):
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-02-30T10:00:00Z", "10/02/2026", "T10:00"])
def test_parse_iso_refuses_what_is_no_date(text):
    with pytest.raises(ValueError):
        parse_iso(text)


def test_to_utc():
    naive = datetime(2026, 2, 10, 10)
    assert to_utc(naive) == datetime(2026, 2, 10, 10, tzinfo=UTC)
    paris = datetime(2026, 2, 10, 11, tzinfo=timezone(timedelta(hours=1)))
    assert to_utc(paris) == datetime(2026, 2, 10, 10, tzinfo=UTC)
    assert to_utc(paris).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 2, 10, 10, tzinfo=UTC), "2026-02-10T10:00:00Z"),
        (datetime(2026, 2, 10, 10, 0, 0, 250_000, tzinfo=UTC), "2026-02-10T10:00:00.250Z"),
        (datetime(2026, 2, 10, 10, 0, 0, 1_000, tzinfo=UTC), "2026-02-10T10:00:00.001Z"),
        (datetime(2026, 2, 10, 10, 0, 0, 999_999, tzinfo=UTC), "2026-02-10T10:00:00.999Z"),
        (datetime(2026, 2, 10, 10, 0, 0, 123_456, tzinfo=UTC), "2026-02-10T10:00:00.123Z"),
        (datetime(2026, 2, 10, 12, tzinfo=timezone(timedelta(hours=2))), "2026-02-10T10:00:00Z"),
        (datetime(2026, 2, 10, 10), "2026-02-10T10:00:00Z"),  # naive: UTC
    ],
)
def test_format_iso(moment, text):
    assert format_iso(moment) == text


def test_format_iso_leaves_out_milliseconds_there_are_none_of():
    # Less than a millisecond is no millisecond: the short form, not ".000".
    assert format_iso(datetime(2026, 2, 10, 10, 0, 0, 500, tzinfo=UTC)) == "2026-02-10T10:00:00Z"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(999, 1, 1, tzinfo=UTC), "0999-01-01T00:00:00Z"),
        (datetime(1, 1, 1, 0, 0, 0, 5_000, tzinfo=UTC), "0001-01-01T00:00:00.005Z"),
    ],
)
def test_format_iso_pads_years_to_four_digits(moment, text):
    # An event may say it occurred in year 999 (a typo); what comes back must still be ISO 8601.
    assert format_iso(moment) == text
    assert parse_iso(format_iso(moment)) == moment


def test_format_and_parse_round_trip():
    moment = datetime(2026, 2, 10, 10, 0, 0, 250_000, tzinfo=UTC)
    assert parse_iso(format_iso(moment)) == moment


def test_utcnow_is_aware_utc():
    assert utcnow().utcoffset() == timedelta(0)


def test_epoch_seconds():
    assert epoch_seconds(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert epoch_seconds(datetime(2026, 2, 10, 10, 0, 0, 999_999, tzinfo=UTC)) == 1_770_717_600
    assert epoch_seconds(datetime(2026, 2, 10, 12, tzinfo=timezone(timedelta(hours=2)))) == (
        1_770_717_600
    )
