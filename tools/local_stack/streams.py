"""Lambda's event source mapping for a DynamoDB stream (`Type: DynamoDB` events), read from moto.

The mapping reads the stream's shard in order. Records that no FilterCriteria pattern matches
are dropped as they are read (never delivered, never retried). The others go to the function
in batches of up to BatchSize, gathered for up to MaximumBatchingWindowInSeconds. After a
batch the position moves past what succeeded:

- no error and no reported failure: the whole batch;
- `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}` (ReportBatchItemFailures):
  the records before the lowest reported one; the rest is retried as a batch of its own;
- the handler raised, or its response is not one Lambda can read: nothing. The batch is
  retried, split in two halves (each retried on its own, each half one retry) with
  BisectBatchOnFunctionError.

Records retried MaximumRetryAttempts times, or older than MaximumRecordAgeInSeconds when they
fail, are skipped: a failure record naming their sequence numbers goes to the OnFailure SQS
queue, and the shard goes on.

A StreamPoller does this in a thread of its own (Driver), or synchronously with drain(), which
tests call to let the stream settle after their writes (moto in-process or in server mode).
"""

from __future__ import annotations

import base64
import json
import operator
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import boto3
from botocore.config import Config

from local_stack.drivers import Driver, InvalidBatchResponse, reported_failures
from local_stack.runtime import LambdaFunction
from local_stack.template import ACCOUNT_ID, REGION, TemplateError

StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
STARTING_POSITIONS: tuple[StartingPosition, ...] = ("TRIM_HORIZON", "LATEST")
GET_RECORDS_LIMIT = 1000  # the most one GetRecords returns
IDLE_POLL_SECONDS = 0.25  # Lambda polls a shard four times a second
FIRST_RETRY_SECONDS = 0.1  # a failing function is retried soon, then less and less often
LAST_RETRY_SECONDS = 1.0
ERROR_PAUSE_SECONDS = 1.0  # after a stream call failed
# drain() must return: records that failed this many invocations while retries are unlimited
# would hold the shard up for a day on AWS (until they expire); they stop a drain (StreamBlocked).
DRAIN_FAILURE_LIMIT = 100

_STREAM_ARN = re.compile(r"arn:aws:dynamodb:[^:]+:[0-9]+:table/[^/]+/stream/.+")
# botocore's default endpoint for DynamoDB Streams names the account
# (123456789012.streams-ddb...), which moto's in-process mock does not recognise.
_STREAMS_CONFIG = Config(account_id_endpoint_mode="disabled")


# ---------------------------------------------------------------- FilterCriteria

FieldTest = Callable[[bool, Any], bool]  # (is the field present, its value) -> does it match

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt,
}  # fmt: skip


class RecordFilter:
    """One FilterCriteria pattern, as Lambda applies it to a stream record: every field of the
    pattern must match; a nested object matches the record's object of that name; a list
    matches when one of its rules does. Rules: a value (string, number, true/false, null), or
    {"prefix"}, {"suffix"}, {"equals-ignore-case"}, {"exists"}, {"anything-but"} (values),
    {"numeric"} (JSON numbers only: DynamoDB's N values are strings). Any other rule is a
    TemplateError when the template is loaded, not a filter that silently lets all through."""

    def __init__(self, pattern: Any, where: str):
        self.pattern = pattern
        self._matches = _object_test(pattern, where)

    def matches(self, record: dict[str, Any]) -> bool:
        return self._matches(record)


def _object_test(pattern: Any, where: str) -> Callable[[Any], bool]:
    if not isinstance(pattern, dict) or not pattern:
        raise TemplateError(f"{where}: expected a non-empty object, not {json.dumps(pattern)}")
    tests: list[tuple[str, FieldTest]] = []
    for name, rules in pattern.items():
        path = f"{where}.{name}"
        if isinstance(rules, dict):
            tests.append((name, _nested(_object_test(rules, path))))
        elif isinstance(rules, list) and rules:
            tests.append((name, _any_of([_rule_test(rule, path) for rule in rules])))
        else:
            raise TemplateError(f"{path}: expected an object or a non-empty list of rules")

    def matches(data: Any) -> bool:
        return isinstance(data, dict) and all(
            test(name in data, data.get(name)) for name, test in tests
        )

    return matches


def _nested(matches: Callable[[Any], bool]) -> FieldTest:
    return lambda present, value: present and matches(value)


def _any_of(alternatives: list[FieldTest]) -> FieldTest:
    return lambda present, value: any(test(present, value) for test in alternatives)


def _rule_test(rule: Any, where: str) -> FieldTest:
    if _is_value(rule):
        return lambda present, value: present and _equal(value, rule)
    if isinstance(rule, dict) and len(rule) == 1:
        ((name, operand),) = rule.items()
        test = _operator_test(name, operand)
        if test:
            return test
    raise TemplateError(
        f"{where}: {json.dumps(rule)} is not a filter rule the local stack applies (values, "
        "prefix, suffix, equals-ignore-case, exists, anything-but of values, numeric)"
    )


def _operator_test(name: str, operand: Any) -> FieldTest | None:
    """The test of one {"operator": operand} rule; None if it is not one of those known."""
    if name == "prefix" and isinstance(operand, str):
        return lambda present, value: isinstance(value, str) and value.startswith(operand)
    if name == "suffix" and isinstance(operand, str):
        return lambda present, value: isinstance(value, str) and value.endswith(operand)
    if name == "equals-ignore-case" and isinstance(operand, str):
        return lambda present, value: isinstance(value, str) and value.lower() == operand.lower()
    if name == "exists" and isinstance(operand, bool):
        return lambda present, value: present is operand
    if name == "anything-but":
        excluded = operand if isinstance(operand, list) else [operand]
        if excluded and all(_is_value(item) for item in excluded):
            return lambda present, value: present and not any(_equal(value, e) for e in excluded)
    if name == "numeric":
        bounds = _numeric_bounds(operand)
        if bounds:
            return lambda present, value: (
                _is_number(value) and all(compare(value, limit) for compare, limit in bounds)
            )
    return None


def _numeric_bounds(operand: Any) -> list[tuple[Callable[[Any, Any], bool], float]] | None:
    """[">", 0, "<=", 5] as (comparison, limit) pairs; None if it is not of that form."""
    if not isinstance(operand, list) or not operand or len(operand) % 2:
        return None
    pairs = list(zip(operand[::2], operand[1::2], strict=True))
    if not all(symbol in _COMPARISONS and _is_number(limit) for symbol, limit in pairs):
        return None
    return [(_COMPARISONS[symbol], limit) for symbol, limit in pairs]


def _is_value(rule: Any) -> bool:
    return rule is None or isinstance(rule, str | int | float)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected  # JSON's true is not 1
    return bool(value == expected)


# ---------------------------------------------------------------- the mapping


@dataclass
class StreamMapping:
    """A DynamoDB stream event source mapping, from the event's Properties (resolved)."""

    stream_arn: str
    starting_position: StartingPosition
    batch_size: int
    batching_window: float  # seconds to keep gathering a batch that is not full yet
    bisect_on_error: bool
    max_retries: int  # -1: no limit (AWS's default)
    max_record_age: float  # seconds; -1: no limit
    reports_item_failures: bool
    failure_queue_arn: str | None  # the OnFailure destination, an SQS queue
    filters: list[RecordFilter]  # none: every record reaches the function

    @classmethod
    def from_properties(cls, props: dict[str, Any], where: str) -> StreamMapping:
        stream_arn = str(props.get("Stream", ""))
        if not _STREAM_ARN.fullmatch(stream_arn):
            raise TemplateError(
                f"{where}: Stream {stream_arn!r} is not a DynamoDB stream ARN "
                "(does the table have a StreamSpecification?)"
            )
        starting_position = props.get("StartingPosition")
        if starting_position not in STARTING_POSITIONS:
            raise TemplateError(
                f"{where}: StartingPosition {starting_position!r}: expected "
                + " or ".join(STARTING_POSITIONS)
            )
        return cls(
            stream_arn=stream_arn,
            starting_position=starting_position,
            batch_size=int(props.get("BatchSize", 100)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            bisect_on_error=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
            max_retries=int(props.get("MaximumRetryAttempts", -1)),
            max_record_age=float(props.get("MaximumRecordAgeInSeconds", -1)),
            reports_item_failures="ReportBatchItemFailures"
            in (props.get("FunctionResponseTypes") or []),
            failure_queue_arn=_failure_queue_arn(props, where),
            filters=_filters(props, where),
        )

    @property
    def table_name(self) -> str:
        return self.stream_arn.split("/")[1]  # arn:aws:dynamodb:...:table/NAME/stream/LABEL

    def keeps(self, record: dict[str, Any]) -> bool:
        """Whether a record reaches the function: any filter matches, or there are none."""
        return not self.filters or any(f.matches(record) for f in self.filters)


def _failure_queue_arn(props: dict[str, Any], where: str) -> str | None:
    on_failure = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
    destination = on_failure.get("Destination")
    if not destination:
        return None
    if str(destination).startswith("arn:aws:sqs:"):
        return str(destination)
    print(
        f"local_stack: warning: {where}: the OnFailure destination {destination} is not an SQS "
        "queue: skipped records are not reported locally",
        file=sys.stderr,
    )
    return None


def _filters(props: dict[str, Any], where: str) -> list[RecordFilter]:
    filters = []
    entries = (props.get("FilterCriteria") or {}).get("Filters") or []
    for index, entry in enumerate(entries):
        here = f"{where}.FilterCriteria.Filters[{index}].Pattern"
        try:
            pattern = json.loads(entry["Pattern"])
        except (KeyError, TypeError, ValueError) as error:
            raise TemplateError(f"{here}: expected JSON text: {error}") from error
        filters.append(RecordFilter(pattern, here))
    return filters


# ---------------------------------------------------------------- records


def stream_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record of Lambda's DynamoDB event, from a record of GetRecords (boto3's shape):
    the creation time in epoch seconds, images in DynamoDB's JSON with binaries in base64."""
    change = record["dynamodb"]
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": change["ApproximateCreationDateTime"].timestamp()
    }
    for name in ("Keys", "NewImage", "OldImage"):
        if name in change:
            dynamodb[name] = _json_ready(change[name])
    for name in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        dynamodb[name] = change[name]
    shaped = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": "aws:dynamodb",
        "awsRegion": record["awsRegion"],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:  # a deletion by TTL
        identity = record["userIdentity"]
        shaped["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return shaped


def _json_ready(value: Any) -> Any:
    """boto3 decodes B and BS values to bytes; Lambda's event has them in base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {name: _json_ready(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value


def _sequence_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _created_at(record: dict[str, Any]) -> float:
    return float(record["dynamodb"]["ApproximateCreationDateTime"])


def _iso(epoch_seconds: float, timespec: str) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


# ---------------------------------------------------------------- the poller


@dataclass
class Batch:
    """Records on their way to the function, in stream order, and how often they were retried."""

    records: list[dict[str, Any]]
    retries: int = 0


@dataclass
class DrainSummary:
    """What one drain() did."""

    invocations: int = 0
    delivered: int = 0  # records the function processed successfully (each counted once)
    skipped: int = 0  # records given up on (reported to the OnFailure queue, if there is one)


class StreamBlocked(Exception):
    """drain() met records that keep failing while the mapping retries them without limit."""


class StreamPoller(Driver):
    """Lambda's poller for one DynamoDB stream mapping; its position in the shard is kept
    between drain() calls and across the thread's polls (use one or the other, not both)."""

    def __init__(self, function: LambdaFunction, mapping: StreamMapping):
        self.mapping = mapping
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function.name}"
        # Clients made here: creating clients is not thread-safe.
        self._streams = boto3.client("dynamodbstreams", config=_STREAMS_CONFIG)
        self._sqs: Any = None
        self._failure_queue_url: str | None = None
        if mapping.failure_queue_arn:
            self._sqs = boto3.client("sqs")
            queue_name = mapping.failure_queue_arn.rsplit(":", 1)[-1]
            self._failure_queue_url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        stream = self._streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]
        shard_ids = [shard["ShardId"] for shard in stream["Shards"]]
        if len(shard_ids) != 1:  # moto's streams have exactly one, open for ever
            raise RuntimeError(f"{mapping.stream_arn}: expected one shard, not {shard_ids}")
        self.shard_id = shard_ids[0]
        self._moto_streams = _in_process_moto_streams(mapping.stream_arn)
        self._last_read: str | None = None  # the sequence number of the last record read
        self._iterator: str | None = self._shard_iterator()  # now: LATEST means from now on
        self._pending: list[dict[str, Any]] = []  # read, kept by the filters, not yet delivered
        self._retrying: list[Batch] = []  # failed records waiting for their retry, next first
        name = f"DYNAMODB {mapping.table_name} stream -> {function.logical_id}"
        super().__init__(function, name, name + self._settings())

    def _settings(self) -> str:
        mapping = self.mapping
        settings = [f"batch {mapping.batch_size}"]
        if mapping.batching_window:
            settings.append(f"window {mapping.batching_window:g}s")
        if mapping.bisect_on_error:
            settings.append("bisect")
        retries = "unlimited" if mapping.max_retries < 0 else str(mapping.max_retries)
        settings.append(f"retries {retries}")
        if mapping.max_record_age >= 0:
            settings.append(f"records up to {mapping.max_record_age:g}s old")
        if mapping.failure_queue_arn:
            settings.append(f"then to {mapping.failure_queue_arn.rsplit(':', 1)[-1]}")
        if mapping.filters:
            settings.append("filtered")
        return " (" + ", ".join(settings) + ")"

    # ------------------------------------------------------------ the two ways to run

    def _run(self) -> None:
        retry_wait = FIRST_RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                batch = self._next_batch(self.mapping.batching_window)
                if batch is None:
                    self._stopping.wait(IDLE_POLL_SECONDS)
                    continue
                delivered, _ = self._deliver(batch)
            except Exception:  # a stream or SQS call failed: go on, slowly
                print(f"local_stack: {self.name}:", file=sys.stderr)
                traceback.print_exc()
                self._stopping.wait(ERROR_PAUSE_SECONDS)
                continue
            if delivered < len(batch.records) and self._retrying:
                self._stopping.wait(retry_wait)  # a failing function must not spin
                retry_wait = min(retry_wait * 2, LAST_RETRY_SECONDS)
            else:
                retry_wait = FIRST_RETRY_SECONDS

    def drain(self) -> DrainSummary:
        """Deliver every record in the stream now, and those the invocations write themselves,
        until the shard has nothing more: no batching window, no waits between retries."""
        summary = DrainSummary()
        while (batch := self._next_batch(batching_window=0)) is not None:
            if self.mapping.max_retries < 0 and batch.retries >= DRAIN_FAILURE_LIMIT:
                self._retrying.insert(0, batch)  # still the next to go
                first, last = batch.records[0], batch.records[-1]
                raise StreamBlocked(
                    f"{self.name}: records {_sequence_number(first)}..{_sequence_number(last)} "
                    f"failed {batch.retries} invocations and MaximumRetryAttempts is unlimited: on "
                    "AWS they would hold up the shard until they expire"
                )
            delivered, skipped = self._deliver(batch)
            summary.invocations += 1
            summary.delivered += delivered
            summary.skipped += skipped
        return summary

    # ------------------------------------------------------------ reading

    def _next_batch(self, batching_window: float) -> Batch | None:
        """The next records to invoke the function with: failed ones first, in order."""
        if self._retrying:
            return self._retrying.pop(0)
        self._fill(batching_window)
        if not self._pending:
            return None
        size = self.mapping.batch_size
        records, self._pending = self._pending[:size], self._pending[size:]
        return Batch(records)

    def _fill(self, batching_window: float) -> None:
        """Read until a whole batch is pending, or the shard has nothing more for now and the
        batching window of the records pending is over."""
        deadline = time.monotonic() + batching_window
        while len(self._pending) < self.mapping.batch_size:
            if self._read():
                continue
            remaining = deadline - time.monotonic()
            if not self._pending or remaining <= 0:
                return
            if self._stopping.wait(min(IDLE_POLL_SECONDS, remaining)):
                return

    def _read(self) -> int:
        """One GetRecords; returns how many records it read (the filters may drop them all)."""
        used, self._iterator = self._iterator or self._shard_iterator(), None
        try:
            response = self._streams.get_records(ShardIterator=used, Limit=GET_RECORDS_LIMIT)
        finally:
            self._forget_iterator(used)
        self._iterator = response.get("NextShardIterator")
        for raw in response["Records"]:
            record = stream_record(raw, self.mapping.stream_arn)
            self._last_read = _sequence_number(record)
            if self.mapping.keeps(record):
                self._pending.append(record)
        return len(response["Records"])

    def _shard_iterator(self) -> str:
        """An iterator just after the last record read (or at the starting position)."""
        if self._last_read is None:
            response = self._streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn,
                ShardId=self.shard_id,
                ShardIteratorType=self.mapping.starting_position,
            )
        else:
            response = self._streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn,
                ShardId=self.shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=self._last_read,
            )
        return str(response["ShardIterator"])

    def _forget_iterator(self, iterator: str) -> None:
        """moto keeps every shard iterator it ever issued, and every GetRecords issues one: a
        poller running for hours would fill the memory with them. moto runs in this process
        (the local stack's server, or mock_aws), so the ones used are dropped from its backend
        directly. Best effort: moto's internals may change, and then they are simply kept."""
        iterators = getattr(self._moto_streams, "shard_iterators", None)
        if isinstance(iterators, dict):
            iterators.pop(iterator, None)

    # ------------------------------------------------------------ invoking

    def _deliver(self, batch: Batch) -> tuple[int, int]:
        """Invoke the function with the batch, and queue or skip what failed; returns how many
        records succeeded and how many were skipped."""
        started = time.monotonic()
        records = batch.records
        sequence_numbers = [_sequence_number(record) for record in records]
        outcome, whole_batch_failed = "", False
        try:
            with self.invocations.invoking() as held:
                response = self.function.invoke({"Records": records})
        except Exception:
            print(f"local_stack: {self.function.logical_id} raised:", file=sys.stderr)
            traceback.print_exc()
            first_failed, outcome, whole_batch_failed = 0, ", raised", True
        else:
            first_failed = len(records)
            if self.mapping.reports_item_failures:
                try:
                    failed = reported_failures(response, sequence_numbers)
                except InvalidBatchResponse as error:
                    failed, whole_batch_failed = set(sequence_numbers), True
                    outcome = f", invalid batch response: {error}"
                if failed:  # the checkpoint goes before the lowest sequence number reported
                    first_failed = min(sequence_numbers.index(number) for number in failed)
        failures = records[first_failed:]
        elapsed = (time.monotonic() - started) * 1000
        self.invocations.report(
            f"{len(records)} records, {len(failures)} failed{outcome} {elapsed:.0f}ms",
            held,
            failed=bool(failures),
            records=len(records),
        )
        skipped = 0
        if failures:
            skipped = self._retry_or_skip(Batch(failures, batch.retries), split=whole_batch_failed)
        return first_failed, skipped

    def _retry_or_skip(self, failed: Batch, split: bool) -> int:
        """Queue the failed records for a retry (in halves, if the function failed and the
        mapping bisects), or skip them once out of retries or too old; returns how many were
        skipped. A partial failure is not split: only the records after its checkpoint remain."""
        condition = self._exhausted(failed)
        if condition:
            self._skip(failed, condition)
            return len(failed.records)
        records = failed.records
        if split and self.mapping.bisect_on_error and len(records) > 1:
            middle = (len(records) + 1) // 2
            parts = [records[:middle], records[middle:]]
        else:
            parts = [records]
        # Splitting a batch does not use up its retries (AWS: "splitting batches doesn't
        # consume the retry quota"); retrying it whole does.
        retries = failed.retries if len(parts) > 1 else failed.retries + 1
        self._retrying[:0] = [Batch(part, retries) for part in parts]
        return 0

    def _exhausted(self, failed: Batch) -> str | None:
        """Why the failed records are not retried again (the failure record's condition)."""
        max_age = self.mapping.max_record_age
        if max_age >= 0 and time.time() - _created_at(failed.records[0]) > max_age:
            return "RecordAgeExceeded"
        if 0 <= self.mapping.max_retries <= failed.retries:
            return "RetryAttemptsExhausted"
        return None

    def _skip(self, failed: Batch, condition: str) -> None:
        """Move past the records, and tell the OnFailure queue which they were (Lambda's
        failure record for streams: sequence numbers, not the records themselves)."""
        invocations = failed.retries + 1
        where = "dropped (no OnFailure queue)"
        if self._failure_queue_url:
            message = self.failure_record(failed.records, condition, invocations)
            self._sqs.send_message(
                QueueUrl=self._failure_queue_url, MessageBody=json.dumps(message)
            )
            where = f"reported to {self._failure_queue_url.rsplit('/', 1)[-1]}"
        print(
            f"{self.name} {len(failed.records)} records skipped ({condition}, "
            f"approximateInvokeCount {invocations}), {where}",
            file=sys.stderr,
        )

    def failure_record(
        self, records: list[dict[str, Any]], condition: str, invocations: int
    ) -> dict[str, Any]:
        """What Lambda sends an OnFailure destination for records of a DynamoDB stream."""
        first, last = records[0], records[-1]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": _iso(time.time(), "milliseconds"),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": _sequence_number(first),
                "endSequenceNumber": _sequence_number(last),
                "approximateArrivalOfFirstRecord": _iso(_created_at(first), "seconds"),
                "approximateArrivalOfLastRecord": _iso(_created_at(last), "seconds"),
                "batchSize": len(records),
                "streamArn": self.mapping.stream_arn,
            },
        }


def _in_process_moto_streams(stream_arn: str) -> Any:
    """moto's DynamoDB Streams backend for the stream's account and region (moto serves this
    process: the local stack's server and mock_aws both run in it); None without moto."""
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends
    except ImportError:
        return None
    region, account = stream_arn.split(":")[3:5]
    return dynamodbstreams_backends[account][region]
