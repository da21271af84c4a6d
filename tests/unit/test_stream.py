"""The stream processor (eventlog.stats.stream): chunks, markers and exactly-once counting.

Batches are taken from the events table's stream in moto and handed to `stream.process` the way
Lambda would hand them, including the ways Lambda hands them again: the same batch after a
crash, its two halves (BisectBatchOnFunctionError), the rest from a reported failure. Failures
are injected before a chunk's commit, after it and between chunks; every time, once the stream
settles, the statistics equal a recount of the raw events.
"""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventlog.events import ingestion
from eventlog.models.stats import (
    CountsQuery,
    HourlyQuery,
    LevelFilter,
    TimeseriesQuery,
    TopMessagesQuery,
)
from eventlog.stats import statistics, stream
from eventlog.storage import db
from local_stack.streams import stream_record
from tests.support.fake_aws import aws_client
from tests.support.local_stack import EventRecords

NOW = datetime.now(UTC).replace(microsecond=0)
RANGE = {"since": NOW - timedelta(days=2), "until": NOW + timedelta(days=2)}
PLENTY_OF_TIME = lambda: 60.0  # noqa: E731 - seconds left in the invocation


class StreamReader:
    """Reads the events table's stream from where it last stopped, in Lambda's record shape."""

    def __init__(self, stream_arn: str):
        self.arn = stream_arn
        self.records = EventRecords(stream_arn)

    def new_records(self) -> list[dict[str, Any]]:
        return [stream_record(record, self.arn) for record in self.records.read()]


@pytest.fixture
def reader(aws) -> StreamReader:
    return StreamReader(aws.template.attributes[("EventsTable", "StreamArn")])


def many_names(app_id: int, count: int, start: int = 0) -> list[dict[str, Any]]:
    """Events each with a name of its own, so a batch of them spans several chunks."""
    levels = ("INFO", "WARNING", "ERROR")
    return [
        {
            "name": f"name-{i:04d}",
            "level": levels[i % 3],
            "service": f"svc-{i % 4}",
            "message": f"order {i} failed",
            "occurred_at": (NOW - timedelta(minutes=i)).isoformat(),
        }
        for i in range(start, start + count)
    ]


def store(app_id: int, events: list[dict[str, Any]]) -> None:
    for first in range(0, len(events), 100):
        result = ingestion.ingest_batch(app_id, events[first : first + 100])
        assert result.accepted == len(events[first : first + 100])


def recount(app_id: int) -> tuple[Counter[str], Counter[str]]:
    """Counts by level and by name from the raw events themselves."""
    by_level: Counter[str] = Counter()
    by_name: Counter[str] = Counter()
    for page in db.query_pages(
        db.events_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues={":pk": f"APP#{app_id}", ":e": "E#"},
    ):
        for item in page["Items"]:
            by_level[item["level"]] += int(item.get("count", 1))
            if "name" in item:
                by_name[item["name"]] += int(item.get("count", 1))
    return by_level, by_name


def assert_statistics_match_the_raw_events(app_id: int) -> None:
    by_level, by_name = recount(app_id)
    levels = statistics.by_level(app_id, CountsQuery(**RANGE))
    assert {item.level.value: item.count for item in levels.items} == dict(+by_level)
    names = statistics.by_name(app_id, LevelFilter(**RANGE))
    assert {item.name: item.count for item in names.items} == dict(+by_name)
    assert names.overflow is None


def settle(reader: StreamReader) -> None:
    outcome = stream.process(reader.new_records(), PLENTY_OF_TIME)
    assert outcome.failed_at is None


# ---------------------------------------------------------------- parsing


def test_an_insert_adds_and_a_deletion_subtracts(aws, app, reader):
    stored = ingestion.ingest_one(app.id, {"message": "hello", "name": "greeting"}).event
    settle(reader)
    assert recount(app.id)[0] == Counter({"INFO": 1})
    assert_statistics_match_the_raw_events(app.id)

    from eventlog.events import deletion

    deletion.delete_event(app.id, stored.id)
    (removal,) = reader.new_records()
    record = stream.parse(removal)
    assert [(event.id, sign) for event, sign in record.changes] == [(stored.id, -1)]
    stream.process([removal], PLENTY_OF_TIME)
    assert statistics.by_level(app.id, CountsQuery(**RANGE)).items == []
    assert statistics.by_name(app.id, LevelFilter(**RANGE)).items == []


def test_an_expiry_by_ttl_changes_nothing(aws, app, reader):
    ingestion.ingest_one(app.id, {"message": "hello"})
    (insert,) = reader.new_records()
    stream.process([insert], PLENTY_OF_TIME)
    expiry = {
        **insert,
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            **insert["dynamodb"],
            "OldImage": insert["dynamodb"]["NewImage"],
            "SequenceNumber": str(int(insert["dynamodb"]["SequenceNumber"]) + 1000),
        },
    }
    del expiry["dynamodb"]["NewImage"]
    assert stream.parse(expiry).changes == []
    assert stream.process([expiry], PLENTY_OF_TIME).failed_at is None
    levels = statistics.by_level(app.id, CountsQuery(**RANGE)).items
    assert [(item.level.value, item.count) for item in levels] == [("INFO", 1)]


def test_a_record_that_is_not_an_event_goes_to_the_failure_queue_and_the_rest_counts(
    aws, app, reader
):
    ingestion.ingest_batch(app.id, [{"message": "one"}, {"message": "two"}])
    first, second = reader.new_records()
    broken = json.loads(json.dumps(second))
    broken["dynamodb"]["NewImage"]["level"] = {"S": "LOUD"}
    outcome = stream.process([first, broken], PLENTY_OF_TIME)
    assert (outcome.failed_at, outcome.uncountable) == (None, 1)
    levels = statistics.by_level(app.id, CountsQuery(**RANGE)).items
    assert [(item.level.value, item.count) for item in levels] == [("INFO", 1)]
    queue = aws.template.physical_ids["AggregationFailureQueue"]
    (message,) = aws_client("sqs").receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(message["Body"])
    assert "level" in body["reason"]
    assert body["record"]["dynamodb"]["SequenceNumber"] == second["dynamodb"]["SequenceNumber"]


# ---------------------------------------------------------------- chunks


def test_chunks_are_cut_the_same_way_from_the_same_record(aws, app, reader):
    store(app.id, many_names(app.id, 250))
    records = [stream.parse(raw) for raw in reader.new_records()]
    ends = []
    start = 0
    while start < len(records):
        ends.append(stream.chunk_end(records, start))
        start = ends[-1]
    assert len(ends) >= 3  # a name, a message group each: many items per record
    assert ends == sorted(set(ends)) and ends[-1] == len(records)
    # Cut again from the second chunk's first record, in a batch that starts there.
    tail = records[ends[0] :]
    assert stream.chunk_end(tail, 0) == ends[1] - ends[0]


def test_the_middle_of_a_batch_is_guarded():
    assert stream.guards_of([object()] * 10) == {5}  # type: ignore[list-item]
    assert stream.guards_of([object()] * 7) == {3, 4}  # type: ignore[list-item]
    assert stream.guards_of([object()]) == set()  # type: ignore[list-item]


# ---------------------------------------------------------------- failures, then Lambda's retry


class Crash(BaseException):
    """Stands for the invocation dying (a timeout, the runtime killed): no handler answer."""


def inject(monkeypatch, chunk: int, *, after_commit: bool, error: type) -> None:
    """Make the commit of the `chunk`-th chunk (from 1) fail, before or after it is written."""
    real = db.client().transact_write_items
    committed = [0]

    def transact(**request: Any) -> Any:
        if not after_commit and committed[0] == chunk - 1:
            raise error("injected before the commit")
        reply = real(**request)
        committed[0] += 1
        if after_commit and committed[0] == chunk:
            raise error("injected after the commit")
        return reply

    monkeypatch.setattr(db.client(), "transact_write_items", transact)


def from_sequence(records: list[dict[str, Any]], sequence: str) -> list[dict[str, Any]]:
    return [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(sequence)]


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
def test_a_failed_chunk_is_retried_from_its_first_record_and_counted_once(
    aws, app, reader, monkeypatch, after_commit
):
    store(app.id, many_names(app.id, 250))
    batch = reader.new_records()
    inject(monkeypatch, 2, after_commit=after_commit, error=RuntimeError)
    outcome = stream.process(batch, PLENTY_OF_TIME)
    assert outcome.failed_at is not None and outcome.chunks == 1
    monkeypatch.undo()
    retry = stream.process(from_sequence(batch, outcome.failed_at), PLENTY_OF_TIME)
    assert retry.failed_at is None
    assert retry.replayed == (retry.replayed if after_commit else 0)
    assert_statistics_match_the_raw_events(app.id)


@pytest.mark.parametrize("crash_on", [1, 2, 3])
def test_a_crash_after_a_commit_then_bisected_halves_count_once(
    aws, app, reader, monkeypatch, crash_on
):
    store(app.id, many_names(app.id, 250))
    batch = reader.new_records()
    inject(monkeypatch, crash_on, after_commit=True, error=Crash)
    with pytest.raises(Crash):
        stream.process(batch, PLENTY_OF_TIME)
    monkeypatch.undo()
    # BisectBatchOnFunctionError: the batch again, in two halves (the second may start inside
    # a chunk the crashed invocation committed).
    middle = len(batch) // 2
    for half in (batch[:middle], batch[middle:]):
        assert stream.process(half, PLENTY_OF_TIME).failed_at is None
    assert_statistics_match_the_raw_events(app.id)


def test_a_crash_between_chunks_then_the_same_batch_counts_once(aws, app, reader, monkeypatch):
    store(app.id, many_names(app.id, 250))
    batch = reader.new_records()
    real_end = stream.chunk_end
    cuts = [0]

    def crash_on_the_third_cut(records: list[Any], start: int) -> int:
        cuts[0] += 1
        if cuts[0] == 3:
            raise Crash("between the second and the third chunk")
        return real_end(records, start)

    monkeypatch.setattr(stream, "chunk_end", crash_on_the_third_cut)
    with pytest.raises(Crash):
        stream.process(batch, PLENTY_OF_TIME)
    monkeypatch.undo()
    again = stream.process(batch, PLENTY_OF_TIME)
    assert again.failed_at is None and again.replayed > 0
    assert_statistics_match_the_raw_events(app.id)


def test_a_whole_batch_delivered_twice_counts_once(aws, app, reader):
    store(app.id, many_names(app.id, 120))
    batch = reader.new_records()
    first = stream.process(batch, PLENTY_OF_TIME)
    second = stream.process(batch, PLENTY_OF_TIME)
    assert (first.counted, second.counted, second.replayed) == (len(batch), 0, len(batch))
    assert_statistics_match_the_raw_events(app.id)


def test_a_longer_batch_after_a_crash_counts_the_new_records_too(aws, app, reader, monkeypatch):
    store(app.id, many_names(app.id, 150))
    batch = reader.new_records()
    inject(monkeypatch, 99, after_commit=True, error=Crash)  # never: every chunk commits
    stream.process(batch[:90], PLENTY_OF_TIME)
    monkeypatch.undo()
    # The retry holds more records than the first try had (the stream grew meanwhile).
    assert stream.process(batch, PLENTY_OF_TIME).failed_at is None
    assert_statistics_match_the_raw_events(app.id)


def test_time_running_short_leaves_the_rest_for_a_retry(aws, app, reader):
    store(app.id, many_names(app.id, 250))
    batch = reader.new_records()
    left = iter([60.0, 60.0, 1.0])
    outcome = stream.process(batch, lambda: next(left))
    assert outcome.chunks == 2 and outcome.failed_at is not None
    assert stream.process(from_sequence(batch, outcome.failed_at), PLENTY_OF_TIME).chunks >= 1
    assert_statistics_match_the_raw_events(app.id)


# ---------------------------------------------------------------- what is counted where


def test_names_beyond_the_days_limit_are_counted_under_the_overflow(aws, app, reader, monkeypatch):
    from eventlog.base.config import get_settings

    monkeypatch.setenv("NAME_CARDINALITY_LIMIT", "5")
    get_settings.cache_clear()
    events = [{"name": f"n{i}", "message": "x", "occurred_at": NOW.isoformat()} for i in range(8)]
    store(app.id, events)
    settle(reader)
    store(app.id, [{"name": "n1", "message": "x", "occurred_at": NOW.isoformat()}])
    settle(reader)
    names = statistics.by_name(app.id, LevelFilter(**RANGE))
    assert {item.name: item.count for item in names.items} == {
        "n0": 1, "n1": 2, "n2": 1, "n3": 1, "n4": 1
    }  # fmt: skip
    assert names.overflow is not None
    assert (names.overflow.count, names.overflow.limit) == (3, 5)
    levels = statistics.by_level(app.id, CountsQuery(**RANGE)).items
    assert [(item.level.value, item.count) for item in levels] == [("INFO", 9)]


def test_the_watermark_is_the_newest_change_counted(aws, app, reader):
    assert statistics.as_of(app.id) is None
    stored = ingestion.ingest_one(app.id, {"message": "hello"}).event
    assert statistics.as_of(app.id) is None  # stored, not counted yet
    settle(reader)
    assert statistics.as_of(app.id) == stored.received_at


def test_no_aggregate_item_grows_with_distinct_names(aws, app, reader):
    store(app.id, many_names(app.id, 300))
    settle(reader)
    table = db.aggregates_table()
    day_bucket = table.get_item(Key={"pk": f"APP#{app.id}#DAY", "sk": NOW.strftime("%Y-%m-%d")})
    attributes = set(day_bucket["Item"]) - {"pk", "sk"}
    assert attributes <= {"l|INFO", "l|WARNING", "l|ERROR", "d|names", "d|services"}
    assert int(day_bucket["Item"]["d|names"]) == 300


# ---------------------------------------------------------------- everything at once


class Faults:
    """Failures at every point of the processor, drawn from a seeded generator: errors before a
    chunk's commit and after it (the processor reports them), and crashes (the invocation dies:
    Lambda retries its batch in halves) after a commit, between chunks and after the answer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, function: Any, seed: int, rate: float):
        import random

        self.random = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        self.rate = rate
        self.injected: Counter[str] = Counter()
        real_transact = db.client().transact_write_items
        real_end = stream.chunk_end
        real_handler = function.handler

        def transact(**request: Any) -> Any:
            self.maybe("error before a commit", RuntimeError)
            reply = real_transact(**request)
            self.maybe("error after a commit", RuntimeError)
            self.maybe("crash after a commit", Crash)
            return reply

        def chunk_end(records: list[Any], start: int) -> int:
            if start:
                self.maybe("crash between chunks", Crash)
            return real_end(records, start)

        def handler(event: Any, context: Any) -> Any:
            try:
                answer = real_handler(event, context)
            except Crash as crash:
                raise RuntimeError("the invocation died") from crash  # a function error
            self.maybe("crash after the answer", RuntimeError)
            return answer

        monkeypatch.setattr(db.client(), "transact_write_items", transact)
        monkeypatch.setattr(stream, "chunk_end", chunk_end)
        monkeypatch.setattr(function, "handler", handler)

    def maybe(self, where: str, error: type[BaseException]) -> None:
        if self.rate and self.random.random() < self.rate:
            self.injected[where] += 1
            raise error(f"injected: {where}")


def test_every_statistic_equals_a_recount_after_duplicates_deletions_and_faults(
    aws, app, api, monkeypatch
):
    from eventlog.events import deletion

    assert aws.stream is not None
    aws.stream.mapping.batch_size = 100  # several batches, most of several chunks
    faults = Faults(monkeypatch, aws.stream.function, seed=1, rate=0.12)
    levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

    def event(i: int, **extra: Any) -> dict[str, Any]:
        return {
            "level": levels[i % 5],
            "name": f"name-{i % 97}",
            "service": f"svc-{i % 3}",
            "message": f"request {i} took {i % 7} s",
            "occurred_at": (NOW - timedelta(minutes=7 * i % 2000)).isoformat(),
            "count": 1 + i % 3,
            **extra,
        }

    for part in range(6):
        batch = [event(part * 60 + i, event_id=f"e-{part * 60 + i}") for i in range(50)]
        batch += [event(part * 60 + i) for i in range(50, 60)]
        batch += batch[:5]  # repeated event_ids in the same batch
        assert api.ingest(app.id, batch).status in (201, 207)
        assert api.ingest(app.id, batch[:20]).status == 200  # all duplicates
        key = {"Idempotency-Key": f"retry-{part}"}
        first = api.ingest(app.id, [event(1000 + part)], headers=key)
        again = api.ingest(app.id, [event(1000 + part)], headers=key)
        assert (first.status, again.text) == (201, first.text)
        assert aws.settle().skipped == 0
    some_ids = [item["id"] for item in api.all_events(app.id)][:15:3]
    for event_id in some_ids:
        deletion.delete_event(app.id, event_id)
    assert deletion.delete_events_named(app.id, "name-5", deadline=1e12).deleted > 0
    assert aws.settle().skipped == 0

    faults.rate = 0
    summary = aws.settle()
    assert summary.skipped == 0
    # Which points are hit depends on how the chunks fall (the time of day moves the minute
    # buckets); each point is also tested alone above.
    assert sum(faults.injected.values()) >= 8, faults.injected
    assert len(faults.injected) >= 3, faults.injected
    assert_statistics_match_the_raw_events(app.id)
    by_level, _ = recount(app.id)
    hourly = statistics.hourly(app.id, HourlyQuery(**RANGE))
    assert hourly.total == sum(by_level.values())
    series = statistics.timeseries(app.id, TimeseriesQuery(interval="DAY", **RANGE))
    assert sum(bucket.count for bucket in series.series) == sum(by_level.values())
    messages = statistics.top_messages(app.id, TopMessagesQuery(limit=100, **RANGE))
    assert sum(item.count for item in messages.items) == sum(by_level.values())
