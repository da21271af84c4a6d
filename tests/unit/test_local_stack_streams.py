"""The local stack's DynamoDB stream mapping (local_stack/streams.py), on moto's in-process mock:
FilterCriteria rules, Lambda's record shape, batches and checkpoints, reported failures, bisected
batches, retries and the OnFailure queue, drain() and the poller's thread; and the poller that
load_drivers gives the project's AggregatorFunction.

Handlers are small fakes that record what they were given: the aggregator has tests of its own.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws
from moto.dynamodbstreams.models import dynamodbstreams_backends

from local_stack import streams
from local_stack.drivers import load_drivers
from local_stack.resources import assign_physical_ids, provision
from local_stack.runtime import LambdaFunction
from local_stack.streams import (
    RecordFilter,
    StreamBlocked,
    StreamMapping,
    StreamPoller,
    stream_record,
)
from local_stack.template import Template, TemplateError
from tests.support import TEMPLATE_PATH
from tests.support.fake_aws import aws_client, create_key_table, load_template

TABLE = "Items"
FAILURE_QUEUE = "Failures"
FAILURE_QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{FAILURE_QUEUE}"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:consumer-fn"
WHERE = "Consumer.Events.Stream"


@pytest.fixture
def stream_arn() -> Iterator[str]:
    """A table with a NEW_AND_OLD_IMAGES stream, and the failure queue, in a fresh moto."""
    with mock_aws():
        table = create_key_table(
            TABLE,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        aws_client("sqs").create_queue(QueueName=FAILURE_QUEUE)
        yield table["LatestStreamArn"]


def put(*sort_keys: str, **attributes: Any) -> None:
    for sort_key in sort_keys:
        item = {"pk": {"S": "p"}, "sk": {"S": sort_key}, **attributes}
        aws_client("dynamodb").put_item(TableName=TABLE, Item=item)


class Handler:
    """Records each batch (its records' sort keys) and answers with `respond(event, call)`."""

    def __init__(self, respond: Callable[[dict[str, Any], int], Any] = lambda event, call: None):
        self.respond = respond
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return self.respond(event, len(self.events))

    @property
    def batches(self) -> list[list[str]]:
        return [[sort_key(record) for record in event["Records"]] for event in self.events]


def sort_key(record: dict[str, Any]) -> str:
    return record["dynamodb"]["Keys"]["sk"]["S"]


def sequence_numbers(handler: Handler, *keys: str) -> list[str]:
    """The sequence numbers of the records with these sort keys (as the handler saw them)."""
    numbers = {
        sort_key(record): record["dynamodb"]["SequenceNumber"]
        for event in handler.events
        for record in event["Records"]
    }
    return [numbers[key] for key in keys]


def raise_on(poison: str) -> Callable[[dict[str, Any], int], Any]:
    def respond(event: dict[str, Any], call: int) -> Any:
        if any(sort_key(record) == poison for record in event["Records"]):
            raise RuntimeError(f"cannot handle {poison}")

    return respond


def fake_function(handler: Handler) -> LambdaFunction:
    return LambdaFunction(
        logical_id="Consumer", name="consumer-fn", handler=handler, environment={}, timeout=3,
        memory=128, log_group="/aws/lambda/consumer-fn", events={}, lock=threading.Lock(),
    )  # fmt: skip


def make_poller(stream_arn: str, handler: Handler, **properties: Any) -> StreamPoller:
    props = {"Stream": stream_arn, "StartingPosition": "TRIM_HORIZON", **properties}
    return StreamPoller(fake_function(handler), StreamMapping.from_properties(props, WHERE))


def failure_records() -> list[dict[str, Any]]:
    sqs = aws_client("sqs")
    url = sqs.get_queue_url(QueueName=FAILURE_QUEUE)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def summary(poller: StreamPoller) -> tuple[int, int, int]:
    drained = poller.drain()
    return drained.invocations, drained.delivered, drained.skipped


# ---------------------------------------------------------------- FilterCriteria


@pytest.mark.parametrize(
    ("rule", "record", "matches"),
    [
        ("INSERT", {"f": "INSERT"}, True),
        ("INSERT", {"f": "MODIFY"}, False),
        ("INSERT", {}, False),
        (5, {"f": 5.0}, True),
        (5, {"f": "5"}, False),
        (True, {"f": True}, True),
        (True, {"f": 1}, False),
        (None, {"f": None}, True),
        (None, {}, False),
        ({"prefix": "E#"}, {"f": "E#01"}, True),
        ({"prefix": "E#"}, {"f": "N#01"}, False),
        ({"prefix": "E#"}, {}, False),
        ({"suffix": ".png"}, {"f": "a.png"}, True),
        ({"suffix": ".png"}, {"f": "a.jpg"}, False),
        ({"equals-ignore-case": "insert"}, {"f": "INSERT"}, True),
        ({"equals-ignore-case": "insert"}, {"f": "REMOVE"}, False),
        ({"exists": True}, {"f": None}, True),
        ({"exists": True}, {}, False),
        ({"exists": False}, {}, True),
        ({"exists": False}, {"f": "x"}, False),
        ({"anything-but": ["REMOVE", "MODIFY"]}, {"f": "INSERT"}, True),
        ({"anything-but": ["REMOVE", "MODIFY"]}, {"f": "REMOVE"}, False),
        ({"anything-but": "REMOVE"}, {"f": "REMOVE"}, False),
        ({"anything-but": ["REMOVE"]}, {}, False),
        ({"numeric": [">", 0, "<=", 5]}, {"f": 5}, True),
        ({"numeric": [">", 0, "<=", 5]}, {"f": 0}, False),
        ({"numeric": [">", 0, "<=", 5]}, {"f": "3"}, False),  # DynamoDB's N values are strings
        ({"numeric": ["=", 3]}, {"f": 3.0}, True),
    ],
)
def test_filter_rules(rule, record, matches):
    assert RecordFilter({"f": [rule]}, WHERE).matches(record) is matches


def test_filter_patterns_nest_and_combine_their_fields_and_rules():
    events_only = RecordFilter(
        {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "E#"}]}}},
        },
        WHERE,
    )

    def record(event_name: str, keys: Any) -> dict[str, Any]:
        return {"eventName": event_name, "dynamodb": {"Keys": keys}}

    assert events_only.matches(record("INSERT", {"sk": {"S": "E#1"}}))
    assert events_only.matches(record("MODIFY", {"sk": {"S": "E#1"}}))
    assert not events_only.matches(record("REMOVE", {"sk": {"S": "E#1"}}))  # every field
    assert not events_only.matches(record("INSERT", {"sk": {"S": "C#1"}}))
    assert not events_only.matches(record("INSERT", {"sk": {"N": "1"}}))
    assert not events_only.matches(record("INSERT", "E#1"))  # not an object where one nests
    assert not events_only.matches({"eventName": "INSERT"})


def test_a_record_reaches_the_function_if_any_filter_matches():
    mapping = StreamMapping.from_properties(
        {
            "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024-01-01T00:00:00",
            "StartingPosition": "LATEST",
            "FilterCriteria": {
                "Filters": [
                    {"Pattern": '{"eventName": ["INSERT"]}'},
                    {"Pattern": '{"eventName": ["REMOVE"]}'},
                ]
            },
        },
        WHERE,
    )
    assert [mapping.keeps({"eventName": name}) for name in ("INSERT", "MODIFY", "REMOVE")] == [
        True, False, True,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "pattern",
    [
        {"f": [{"wildcard": "E#*"}]},
        {"f": [{"cidr": "10.0.0.0/24"}]},
        {"f": [{"anything-but": {"prefix": "E#"}}]},
        {"f": [{"numeric": [">"]}]},
        {"f": [{"numeric": ["~", 1]}]},
        {"f": [{"prefix": "E#", "suffix": "1"}]},
        {"f": [["nested list"]]},
        {"f": []},
        {"f": "INSERT"},
        {},
        ["INSERT"],
    ],
)
def test_a_filter_rule_not_applied_locally_is_a_template_error(pattern):
    with pytest.raises(TemplateError, match=WHERE):
        RecordFilter(pattern, WHERE)


def test_a_pattern_must_be_json_text():
    with pytest.raises(TemplateError, match=r"Filters\[0\]\.Pattern: expected JSON text"):
        StreamMapping.from_properties(
            {
                "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/label",
                "StartingPosition": "LATEST",
                "FilterCriteria": {"Filters": [{"Pattern": "{eventName: INSERT}"}]},
            },
            WHERE,
        )


# ---------------------------------------------------------------- the mapping's properties


def test_mapping_defaults_are_aws_defaults():
    mapping = StreamMapping.from_properties(
        {
            "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/label",
            "StartingPosition": "LATEST",
        },
        WHERE,
    )
    assert (mapping.batch_size, mapping.batching_window, mapping.bisect_on_error) == (100, 0, False)
    assert (mapping.max_retries, mapping.max_record_age) == (-1, -1)
    assert (mapping.reports_item_failures, mapping.failure_queue_arn, mapping.filters) == (
        False, None, [],
    )  # fmt: skip
    assert mapping.table_name == "T"


def test_mapping_properties_as_the_template_resolves_them(capsys):
    mapping = StreamMapping.from_properties(
        {
            "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/label",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": "25",  # parameters arrive as strings
            "MaximumBatchingWindowInSeconds": "2",
            "BisectBatchOnFunctionError": "true",
            "MaximumRetryAttempts": "3",
            "MaximumRecordAgeInSeconds": 60,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": FAILURE_QUEUE_ARN}},
        },
        WHERE,
    )
    assert (mapping.batch_size, mapping.batching_window, mapping.bisect_on_error) == (25, 2, True)
    assert (mapping.max_retries, mapping.max_record_age, mapping.reports_item_failures) == (
        3, 60, True,
    )  # fmt: skip
    assert mapping.failure_queue_arn == FAILURE_QUEUE_ARN
    sns = "arn:aws:sns:us-east-1:123456789012:Topic"
    to_sns = StreamMapping.from_properties(
        {
            "Stream": mapping.stream_arn,
            "StartingPosition": "LATEST",
            "DestinationConfig": {"OnFailure": {"Type": "SNS", "Destination": sns}},
        },
        WHERE,
    )
    assert to_sns.failure_queue_arn is None
    assert (
        f"{WHERE}: the OnFailure destination {sns} is not an SQS queue" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {
                "Stream": "arn:aws:local:us-east-1:123456789012:EventsTable/StreamArn",
                "StartingPosition": "LATEST",
            },
            "not a DynamoDB stream ARN .does the table have a StreamSpecification",
        ),
        (
            {
                "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/label",
                "StartingPosition": "AT_TIMESTAMP",
            },
            "StartingPosition 'AT_TIMESTAMP': expected TRIM_HORIZON or LATEST",
        ),
    ],
)
def test_mapping_errors(props, message):
    with pytest.raises(TemplateError, match=f"{WHERE}: .*{message}"):
        StreamMapping.from_properties(props, WHERE)


# ---------------------------------------------------------------- records


def test_records_reach_the_function_in_lambdas_shape(stream_arn):
    put("E#1", blob={"B": b"\x00\xff"})
    put("E#1", blob={"B": b"\x01"}, tags={"SS": ["a"]})
    aws_client("dynamodb").delete_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "E#1"}})
    handler = Handler()
    make_poller(stream_arn, handler).drain()
    [[inserted, modified, removed]] = [event["Records"] for event in handler.events]
    keys = {"pk": {"S": "p"}, "sk": {"S": "E#1"}}
    first_image = {**keys, "blob": {"B": "AP8="}}  # binaries in base64, as Lambda sends them
    second_image = {**keys, "blob": {"B": "AQ=="}, "tags": {"SS": ["a"]}}
    assert [record["eventName"] for record in (inserted, modified, removed)] == [
        "INSERT", "MODIFY", "REMOVE",
    ]  # fmt: skip
    assert (inserted["dynamodb"]["NewImage"], "OldImage" in inserted["dynamodb"]) == (
        first_image, False,
    )  # fmt: skip
    assert (modified["dynamodb"]["OldImage"], modified["dynamodb"]["NewImage"]) == (
        first_image, second_image,
    )  # fmt: skip
    assert (removed["dynamodb"]["OldImage"], "NewImage" in removed["dynamodb"]) == (
        second_image, False,
    )  # fmt: skip
    for record in (inserted, modified, removed):
        assert list(record) == [
            "eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
            "eventSourceARN",
        ]  # fmt: skip
        assert (record["eventVersion"], record["eventSource"], record["awsRegion"]) == (
            "1.0", "aws:dynamodb", "us-east-1",
        )  # fmt: skip
        assert record["eventSourceARN"] == stream_arn
        change = record["dynamodb"]
        assert change["Keys"] == keys
        assert (change["StreamViewType"], type(change["SizeBytes"])) == ("NEW_AND_OLD_IMAGES", int)
        created = change["ApproximateCreationDateTime"]
        assert isinstance(created, float)  # epoch seconds, with moto's milliseconds
        assert abs(time.time() - created) < 60
    numbers = [
        int(record["dynamodb"]["SequenceNumber"]) for record in (inserted, modified, removed)
    ]
    assert numbers == sorted(numbers)


def test_a_deletion_by_ttl_carries_its_user_identity():
    record = stream_record(
        {
            "eventID": "e",
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": datetime(2024, 5, 1, 12, 0, 30, 500000, UTC),
                "Keys": {"pk": {"S": "p"}},
                "OldImage": {"pk": {"S": "p"}},
                "SequenceNumber": "100",
                "SizeBytes": 12,
                "StreamViewType": "OLD_IMAGE",
            },
            "userIdentity": {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"},
        },
        "arn:stream",
    )
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1714564830.5
    assert record["eventSourceARN"] == "arn:stream"


# ---------------------------------------------------------------- batches and checkpoints


def test_batches_of_batch_size_and_nothing_delivered_twice(stream_arn):
    put("E#1", "E#2", "E#3", "E#4", "E#5")
    handler = Handler()
    poller = make_poller(stream_arn, handler, BatchSize=2)
    assert summary(poller) == (3, 5, 0)
    assert handler.batches == [["E#1", "E#2"], ["E#3", "E#4"], ["E#5"]]
    assert summary(poller) == (0, 0, 0)  # checkpointed after each success
    put("E#6")
    assert summary(poller) == (1, 1, 0)
    assert handler.batches[-1] == ["E#6"]
    # moto keeps every iterator it issued: only the poller's current one is left.
    assert len(dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators) == 1


def test_records_no_filter_matches_are_never_delivered(stream_arn):
    put("E#1", "C#1", "E#2", "N#1")
    handler = Handler(lambda event, call: {"batchItemFailures": []})
    pattern = '{"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "E#"}]}}}}'
    poller = make_poller(stream_arn, handler, FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert summary(poller) == (1, 2, 0)
    put("C#2")
    assert summary(poller) == (0, 0, 0)
    assert handler.batches == [["E#1", "E#2"]]


def test_latest_starts_after_the_records_already_in_the_stream(stream_arn):
    put("E#1")
    handler = Handler()
    poller = make_poller(stream_arn, handler, StartingPosition="LATEST")
    put("E#2")
    poller.drain()
    assert handler.batches == [["E#2"]]


# ---------------------------------------------------------------- failures


def test_a_reported_failure_is_retried_from_the_lowest_reported_record(stream_arn):
    put("E#1", "E#2", "E#3", "E#4")

    def respond(event: dict[str, Any], call: int) -> Any:
        if call == 1:
            third, second = event["Records"][2], event["Records"][1]
            return {
                "batchItemFailures": [
                    {"itemIdentifier": third["dynamodb"]["SequenceNumber"]},
                    {"itemIdentifier": second["dynamodb"]["SequenceNumber"]},
                ]
            }
        return {"batchItemFailures": []}

    handler = Handler(respond)
    poller = make_poller(stream_arn, handler, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert summary(poller) == (2, 4, 0)
    assert handler.batches == [["E#1", "E#2", "E#3", "E#4"], ["E#2", "E#3", "E#4"]]


def test_reported_failures_mean_nothing_without_report_batch_item_failures(stream_arn):
    put("E#1", "E#2")
    handler = Handler(lambda event, call: {"batchItemFailures": [{"itemIdentifier": "x"}]})
    assert summary(make_poller(stream_arn, handler)) == (1, 2, 0)


@pytest.mark.parametrize(
    "success", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}]
)
def test_responses_that_mean_success(stream_arn, success):
    put("E#1", "E#2")
    handler = Handler(lambda event, call: success)
    poller = make_poller(stream_arn, handler, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert summary(poller) == (1, 2, 0)


@pytest.mark.parametrize(
    "malformed",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"sequenceNumber": "1"}]},
        {"batchItemFailures": "all of them"},
        "failed",
    ],
)
def test_a_malformed_response_fails_the_whole_batch(stream_arn, malformed, capsys):
    put("E#1", "E#2")
    handler = Handler(lambda event, call: malformed if call == 1 else None)
    poller = make_poller(stream_arn, handler, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert summary(poller) == (2, 2, 0)
    assert handler.batches == [["E#1", "E#2"], ["E#1", "E#2"]]  # not bisected: not asked to
    log = capsys.readouterr().err
    assert "DYNAMODB Items stream -> Consumer 2 records, 2 failed, invalid batch response: " in log


def test_a_raising_function_gets_halves_until_the_bad_record_is_alone_and_skipped(stream_arn):
    put("E#1", "E#2", "E#3", "E#4")
    handler = Handler(raise_on("E#3"))
    poller = make_poller(
        stream_arn, handler, BisectBatchOnFunctionError=True, MaximumRetryAttempts=3,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": FAILURE_QUEUE_ARN}},
    )  # fmt: skip
    assert summary(poller) == (8, 3, 1)
    # Splitting uses up no retry (as on AWS): E#3 alone is retried 3 times, then skipped.
    assert handler.batches == [
        ["E#1", "E#2", "E#3", "E#4"], ["E#1", "E#2"], ["E#3", "E#4"],
        ["E#3"], ["E#3"], ["E#3"], ["E#3"], ["E#4"],
    ]  # fmt: skip
    [failure] = failure_records()
    [number] = sequence_numbers(handler, "E#3")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 4
    assert failure["requestContext"]["functionArn"] == FUNCTION_ARN
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        number, number, 1,
    )  # fmt: skip


def test_out_of_retries_a_batch_goes_to_the_failure_queue_and_the_shard_goes_on(stream_arn):
    put("E#1", "E#2", "E#3")
    handler = Handler(raise_on("E#1"))
    poller = make_poller(
        stream_arn, handler, BatchSize=2, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": FAILURE_QUEUE_ARN}},
    )  # fmt: skip
    assert summary(poller) == (4, 1, 2)
    assert handler.batches == [["E#1", "E#2"]] * 3 + [["E#3"]]
    [failure] = failure_records()
    first, second = sequence_numbers(handler, "E#1", "E#2")
    assert set(failure) == {
        "requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo",
    }  # fmt: skip
    assert set(failure["requestContext"]) == {
        "requestId", "functionArn", "condition", "approximateInvokeCount",
    }  # fmt: skip
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["responseContext"] == {
        "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled",
    }  # fmt: skip
    assert failure["version"] == "1.0"
    assert datetime.strptime(failure["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    info = failure["DDBStreamBatchInfo"]
    assert info == {
        "shardId": poller.shard_id,
        "startSequenceNumber": first,
        "endSequenceNumber": second,
        "approximateArrivalOfFirstRecord": info["approximateArrivalOfFirstRecord"],
        "approximateArrivalOfLastRecord": info["approximateArrivalOfLastRecord"],
        "batchSize": 2,
        "streamArn": stream_arn,
    }
    created = handler.events[0]["Records"][0]["dynamodb"]["ApproximateCreationDateTime"]
    expected_arrival = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert info["approximateArrivalOfFirstRecord"] == expected_arrival


def test_a_partial_failure_out_of_retries_skips_from_the_reported_record_on(stream_arn):
    put("E#1", "E#2", "E#3", "E#4")

    def respond(event: dict[str, Any], call: int) -> Any:
        failed = [r for r in event["Records"] if sort_key(r) == "E#3"]
        return {"batchItemFailures": [{"itemIdentifier": failed[0]["dynamodb"]["SequenceNumber"]}]}

    handler = Handler(respond)
    poller = make_poller(
        stream_arn, handler, MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": FAILURE_QUEUE_ARN}},
    )  # fmt: skip
    assert summary(poller) == (2, 2, 2)
    assert handler.batches == [["E#1", "E#2", "E#3", "E#4"], ["E#3", "E#4"]]  # not halved
    [failure] = failure_records()
    info = failure["DDBStreamBatchInfo"]
    assert [info["startSequenceNumber"], info["endSequenceNumber"]] == sequence_numbers(
        handler, "E#3", "E#4"
    )


def test_records_too_old_when_they_fail_are_skipped(stream_arn):
    put("E#1")
    handler = Handler(raise_on("E#1"))
    poller = make_poller(
        stream_arn, handler, MaximumRecordAgeInSeconds=0,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": FAILURE_QUEUE_ARN}},
    )  # fmt: skip
    assert summary(poller) == (1, 0, 1)
    [failure] = failure_records()
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


def test_without_a_failure_queue_skipped_records_are_only_logged(stream_arn, capsys):
    put("E#1", "E#2")
    handler = Handler(raise_on("E#1"))
    poller = make_poller(stream_arn, handler, MaximumRetryAttempts=0)
    assert summary(poller) == (1, 0, 2)
    assert failure_records() == []
    log = capsys.readouterr().err
    assert "DYNAMODB Items stream -> Consumer 2 records, 2 failed, raised " in log
    assert "RuntimeError: cannot handle E#1" in log  # the traceback
    skipped = "2 records skipped (RetryAttemptsExhausted, approximateInvokeCount 1), dropped"
    assert f"DYNAMODB Items stream -> Consumer {skipped} (no OnFailure queue)" in log


# ---------------------------------------------------------------- drain() and the thread


def test_drain_settles_what_the_invocations_write(stream_arn):
    def respond(event: dict[str, Any], call: int) -> None:
        for record in event["Records"]:
            number = int(sort_key(record).removeprefix("E#"))
            if number < 4:
                put(f"E#{number + 1}")

    handler = Handler(respond)
    put("E#1")
    assert summary(make_poller(stream_arn, handler, BatchSize=10)) == (4, 4, 0)
    assert handler.batches == [["E#1"], ["E#2"], ["E#3"], ["E#4"]]


def test_drain_refuses_to_retry_for_ever(stream_arn, monkeypatch):
    monkeypatch.setattr(streams, "DRAIN_FAILURE_LIMIT", 3)
    put("E#1")
    handler = Handler(raise_on("E#1"))
    poller = make_poller(stream_arn, handler)  # MaximumRetryAttempts: -1, AWS's default
    with pytest.raises(StreamBlocked, match="failed 3 invocations and MaximumRetryAttempts is un"):
        poller.drain()
    assert len(handler.events) == 3


def test_the_thread_gathers_a_batch_retries_after_a_pause_and_logs_each_invocation(
    stream_arn, capsys
):
    put("E#1", "E#2", "E#3")
    called_at: list[float] = []
    retried = threading.Event()

    def respond(event: dict[str, Any], call: int) -> None:
        called_at.append(time.monotonic())
        if call == 1:
            raise RuntimeError("first attempt fails")
        retried.set()

    handler = Handler(respond)
    poller = make_poller(stream_arn, handler, BatchSize=10, MaximumBatchingWindowInSeconds=0.1)
    assert poller.description == (
        "DYNAMODB Items stream -> Consumer (batch 10, window 0.1s, retries unlimited)"
    )
    poller.start()
    try:
        assert retried.wait(timeout=5)
    finally:
        poller.stop()
        poller.join()
    assert handler.batches == [["E#1", "E#2", "E#3"]] * 2
    assert called_at[1] - called_at[0] >= streams.FIRST_RETRY_SECONDS
    log = capsys.readouterr().err
    assert "DYNAMODB Items stream -> Consumer 3 records, 3 failed, raised " in log
    assert "DYNAMODB Items stream -> Consumer 3 records, 0 failed " in log


# ---------------------------------------------------------------- the project's template


def aggregator_template() -> Template:
    """template.yaml with only the AggregatorFunction and the resources its stream event names
    (the whole template's API, topics and parameters would take a second to provision)."""
    doc = load_template().doc
    resources = ("AggregatorFunction", "EventsTable", "AggregationFailureQueue")
    parameters = {name: spec for name, spec in doc["Parameters"].items() if "Aggregator" in name}
    subset = {
        "Parameters": parameters,
        "Globals": {"Function": {}},
        "Resources": {name: doc["Resources"][name] for name in resources},
    }
    return Template(subset, TEMPLATE_PATH.parent)


def test_load_drivers_gives_the_aggregator_a_stream_poller():
    with mock_aws():
        template = aggregator_template()
        assign_physical_ids(template)
        provision(template)
        props = template.properties("AggregatorFunction", "Function")
        aggregator = LambdaFunction(
            logical_id="AggregatorFunction", name="AggregatorFunction", handler=Handler(),
            environment={}, timeout=60, memory=128, log_group="/aws/lambda/AggregatorFunction",
            events=props["Events"], lock=threading.Lock(),
        )  # fmt: skip
        [poller] = load_drivers(template, {"AggregatorFunction": aggregator}).drivers
    assert isinstance(poller, StreamPoller)
    mapping = poller.mapping
    assert mapping.stream_arn == template.attributes[("EventsTable", "StreamArn")]
    assert (mapping.starting_position, mapping.batch_size, mapping.batching_window) == (
        "TRIM_HORIZON", 1000, 1,
    )  # fmt: skip
    assert (mapping.bisect_on_error, mapping.max_retries, mapping.reports_item_failures) == (
        True, 10, True,
    )  # fmt: skip
    assert mapping.failure_queue_arn == template.attributes[("AggregationFailureQueue", "Arn")]
    assert [f.pattern for f in mapping.filters] == [
        {"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "E#"}]}}}}
    ]
    assert poller.description == (
        "DYNAMODB EventsTable stream -> AggregatorFunction (batch 1000, window 1s, bisect, "
        "retries 10, then to AggregationFailureQueue, filtered)"
    )
