"""eventlog.base.ids: ULIDs that sort by time, and the bounds of a time range."""

from datetime import UTC, datetime, timedelta

import pytest

from eventlog.base.ids import highest_ulid, is_ulid, lowest_ulid, new_key_id, new_ulid, new_ulids

MOMENT = datetime(2026, 2, 10, 10, 0, 0, 123_000, tzinfo=UTC)


def test_a_ulid_is_26_crockford_characters():
    ulid = new_ulid(MOMENT)
    assert len(ulid) == 26
    assert is_ulid(ulid)
    assert set(ulid) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_ulids_sort_by_time():
    moments = [MOMENT + timedelta(milliseconds=ms) for ms in (0, 1, 2, 999, 1000, 86_400_000)]
    ulids = [new_ulid(moment) for moment in moments]
    assert ulids == sorted(ulids)
    assert len(set(ulids)) == len(ulids)


def test_ulids_of_distant_times_sort_by_time():
    early = new_ulid(datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC))
    late = new_ulid(datetime(2100, 1, 1, tzinfo=UTC))
    assert early < new_ulid(MOMENT) < late


def test_ulids_of_one_millisecond_share_their_time_part():
    assert new_ulid(MOMENT)[:10] == new_ulid(MOMENT.replace(microsecond=123_999))[:10]
    assert new_ulid(MOMENT)[:10] != new_ulid(MOMENT + timedelta(milliseconds=1))[:10]


def test_ulids_are_random_within_a_millisecond():
    assert len({new_ulid(MOMENT) for _ in range(50)}) == 50


@pytest.mark.parametrize("count", [1, 2, 100])
def test_new_ulids_increase_in_their_own_order(count):
    ulids = new_ulids(MOMENT, count)
    assert len(ulids) == count == len(set(ulids))
    assert ulids == sorted(ulids)
    assert all(is_ulid(ulid) and ulid[:10] == ulids[0][:10] for ulid in ulids)


def test_new_ulids_of_none_is_empty():
    assert new_ulids(MOMENT, 0) == []


def test_bounds_enclose_every_ulid_of_their_millisecond():
    low, high = lowest_ulid(MOMENT), highest_ulid(MOMENT)
    assert is_ulid(low) and is_ulid(high)
    for ulid in [*new_ulids(MOMENT, 20), new_ulid(MOMENT.replace(microsecond=123_999))]:
        assert low <= ulid <= high
    assert highest_ulid(MOMENT - timedelta(milliseconds=1)) < low
    assert high < lowest_ulid(MOMENT + timedelta(milliseconds=1))


def test_bounds_of_a_time_range():
    inside = new_ulid(MOMENT + timedelta(minutes=5))
    before = new_ulid(MOMENT - timedelta(milliseconds=1))
    after = new_ulid(MOMENT + timedelta(minutes=10, milliseconds=1))
    low, high = lowest_ulid(MOMENT), highest_ulid(MOMENT + timedelta(minutes=10))
    assert low <= inside <= high
    assert before < low
    assert after > high


@pytest.mark.parametrize(
    "value",
    [
        "",
        "01JKZ0000000000000000000A",  # 25 characters
        "01JKZ0000000000000000000AAA",  # 27
        "01jkz0000000000000000000aa",  # lower case
        "01JKZ000000000000000000IAA",  # I is not Crockford
        "01JKZ000000000000000000LAA",
        "01JKZ000000000000000000OAA",
        "01JKZ000000000000000000UAA",
        "81JKZ0000000000000000000AA",  # more than 48 bits of time
        "01JKZ00000000000000000-0AA",
        " 01JKZ0000000000000000000A",
    ],
)
def test_is_ulid_refuses(value):
    assert not is_ulid(value)


@pytest.mark.parametrize(
    "value",
    ["01JKZ0000000000000000000AA", "00000000000000000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"],
)
def test_is_ulid_accepts(value):
    assert is_ulid(value)


def test_key_ids_are_prefixed_lower_case_and_sort_by_creation():
    first = new_key_id(MOMENT)
    second = new_key_id(MOMENT + timedelta(milliseconds=1))
    assert first.startswith("k_") and len(first) == 28
    assert first == first.lower()
    assert first < second
