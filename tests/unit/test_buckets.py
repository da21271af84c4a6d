"""Time buckets: boundaries, names, and covering a range with the fewest runs of buckets."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from eventlog.stats.buckets import Granularity, Run, count_buckets, cover

MINUTE, HOUR, DAY = Granularity.MINUTE, Granularity.HOUR, Granularity.DAY


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("granularity", "moment", "floor", "ceil", "key"),
    [
        (MINUTE, "2026-02-10T10:05:30", "2026-02-10T10:05", "2026-02-10T10:06", "2026-02-10T10:05"),
        (MINUTE, "2026-02-10T10:05:00", "2026-02-10T10:05", "2026-02-10T10:05", "2026-02-10T10:05"),
        (HOUR, "2026-02-10T10:59:59.999", "2026-02-10T10:00", "2026-02-10T11:00", "2026-02-10T10"),
        (HOUR, "2026-02-10T23:00:01", "2026-02-10T23:00", "2026-02-11T00:00", "2026-02-10T23"),
        (DAY, "2026-02-28T23:59:59", "2026-02-28T00:00", "2026-03-01T00:00", "2026-02-28"),
        (DAY, "2028-02-28T12:00:00", "2028-02-28T00:00", "2028-02-29T00:00", "2028-02-28"),
        (DAY, "2026-12-31T00:00:00", "2026-12-31T00:00", "2026-12-31T00:00", "2026-12-31"),
    ],
)
def test_floor_ceil_and_key(granularity, moment, floor, ceil, key):
    assert granularity.floor(at(moment)) == at(floor)
    assert granularity.ceil(at(moment)) == at(ceil)
    assert granularity.key(granularity.floor(at(moment))) == key
    assert granularity.start(key) == at(floor)


def test_floor_converts_other_offsets_to_utc():
    paris = datetime.fromisoformat("2026-02-10T00:30:00+01:00")
    assert DAY.floor(paris) == at("2026-02-09T00:00")
    assert HOUR.floor(paris) == at("2026-02-09T23:00")


def test_keys_sort_as_time_does():
    moments = sorted(at("2026-01-01T00:00") + timedelta(minutes=37 * i) for i in range(500))
    for granularity in Granularity:
        keys = [granularity.key(granularity.floor(moment)) for moment in moments]
        assert keys == sorted(keys)


def test_count_buckets():
    assert count_buckets(HOUR, at("2026-02-10T00:00"), at("2026-02-11T00:00")) == 24
    assert count_buckets(MINUTE, at("2026-02-10T00:00"), at("2026-02-10T00:00")) == 0
    assert count_buckets(DAY, at("2026-02-01T00:00"), at("2026-03-01T00:00")) == 28


def runs_of(since: str, until: str, coarsest: Granularity = DAY) -> list[tuple[str, str, str]]:
    return [
        (run.granularity.value, run.first_key, run.last_key)
        for run in cover(at(since), at(until), coarsest)
    ]


def test_a_range_inside_one_hour_is_minutes():
    assert runs_of("2026-02-10T10:05", "2026-02-10T10:30") == [
        ("MINUTE", "2026-02-10T10:05", "2026-02-10T10:29")
    ]


def test_an_empty_range_has_no_runs():
    assert runs_of("2026-02-10T10:05", "2026-02-10T10:05") == []


def test_whole_hours_are_one_run():
    assert runs_of("2026-02-10T10:00", "2026-02-10T13:00") == [
        ("HOUR", "2026-02-10T10", "2026-02-10T12")
    ]


def test_a_range_over_days_has_five_runs_at_most():
    assert runs_of("2026-02-10T22:30", "2026-02-13T01:15") == [
        ("MINUTE", "2026-02-10T22:30", "2026-02-10T22:59"),
        ("HOUR", "2026-02-10T23", "2026-02-10T23"),
        ("DAY", "2026-02-11", "2026-02-12"),
        ("HOUR", "2026-02-13T00", "2026-02-13T00"),
        ("MINUTE", "2026-02-13T01:00", "2026-02-13T01:14"),
    ]


def test_coarsest_hour_never_uses_days():
    runs = runs_of("2026-02-10T22:30", "2026-02-13T01:15", coarsest=HOUR)
    assert [granularity for granularity, _, _ in runs] == ["MINUTE", "HOUR", "MINUTE"]
    assert runs[1] == ("HOUR", "2026-02-10T23", "2026-02-13T00")


def test_cover_is_exact_for_random_ranges():
    """Every minute of the range lies in exactly one bucket of the runs, and nothing else does."""
    rng = random.Random(20260210)  # noqa: S311 - a reproducible sample, not a secret
    origin = at("2026-01-01T00:00")
    for _ in range(300):
        since = origin + timedelta(minutes=rng.randrange(0, 5 * 24 * 60))
        until = since + timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
        runs = cover(since, until)
        assert len(runs) <= 5
        covered = [
            minute
            for run in runs
            for start in run.starts()
            for minute in Run(MINUTE, start, start + run.granularity.step).starts()
        ]
        assert covered == list(Run(MINUTE, since, until).starts())
