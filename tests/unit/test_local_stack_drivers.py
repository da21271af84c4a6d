"""The local stack's drivers, with a small template and handlers of its own: SQS event source
mappings (the Lambda event, partial batch failures, retries, the dead-letter queue), schedules
(events, never overlapping), parameter overrides and a prompt stop.

The SQS scenarios each have a queue of their own and are all sent as soon as the stack is up,
so they run side by side (1-second visibility timeouts) while the tests check them in turn. One
stack serves the whole file: starting one takes seconds."""

import hashlib
import io
import json
import textwrap
import time
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from local_stack import LocalStackProcess, drivers
from local_stack.drivers import (
    HeldOutput,
    InvalidBatchResponse,
    InvocationLog,
    reported_failures,
    schedule_period,
    sqs_record,
)
from local_stack.stack import LOCAL_PARAMETERS, load_template
from local_stack.template import TemplateError
from tests.support.polling import eventually

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  RecordDir: {Type: String, Default: unset}
  RetrySeconds: {Type: Number, Default: 30}
Globals:
  Function:
    CodeUri: code/
    Timeout: 5
    Environment:
      Variables:
        RECORD_DIR: !Ref RecordDir
Resources:
  DeliverQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: !Ref RetrySeconds}
  PartialQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: !Ref RetrySeconds}
  InvalidQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: !Ref RetrySeconds}
  RaiseQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: !Ref RetrySeconds}
  DoomedQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref RetrySeconds
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 2}
  DeadLetters:
    Type: AWS::SQS::Queue
  ConsumerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.consume
      Events:
        Deliver:
          Type: SQS
          Properties:
            Queue: !GetAtt DeliverQueue.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
        # Batches of two, gathered for a while: both messages of a scenario together. The
        # window is as long as the visibility timeout: a batch must still go before its
        # messages are visible again (or one message could be in it twice).
        Partial:
          Type: SQS
          Properties:
            Queue: !GetAtt PartialQueue.Arn
            BatchSize: 2
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
        Invalid:
          Type: SQS
          Properties:
            Queue: !GetAtt InvalidQueue.Arn
            BatchSize: 2
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
        Raise:
          Type: SQS
          Properties:
            Queue: !GetAtt RaiseQueue.Arn
            BatchSize: 2
            MaximumBatchingWindowInSeconds: 1
        Doomed:
          Type: SQS
          Properties: {Queue: !GetAtt DoomedQueue.Arn}
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.tick
      Events:
        Tick:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 second)}
        Noon:
          Type: ScheduleV2
          Properties: {ScheduleExpression: "cron(0 12 * * ? *)"}
  PingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.ping
      Events:
        Ping:
          Type: Api
          Properties: {Path: /ping, Method: get}
  RuleFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.record_event
      Events:
        Every:
          Type: Schedule
          Properties: {ScheduleExpression: rate(1 second)}
  InputFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.record_event
      Events:
        Every:
          Type: Schedule
          Properties: {ScheduleExpression: rate(1 second), Input: '{"hello": "world"}'}
  DisabledFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.record_event
      Events:
        Every:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 second), State: DISABLED}
"""

HANDLERS = """
import json
import os
import time
import urllib.request
from pathlib import Path


def record(name, entry):
    with open(Path(os.environ["RECORD_DIR"]) / f"{name}.jsonl", "a") as file:
        file.write(json.dumps(entry) + "\\n")


def consume(event, context):
    batch = [item["messageId"] for item in event["Records"]]
    failures, error = [], None
    for item in event["Records"]:
        queue = item["eventSourceARN"].rsplit(":", 1)[-1]
        record(queue, {"at": time.time(), "record": item, "batch": batch})
        first = item["attributes"]["ApproximateReceiveCount"] == "1"
        body = item["body"]
        if body == "fail-always" or (body == "fail-once" and first):
            failures.append({"itemIdentifier": item["messageId"]})
        elif body == "unknown-id-once" and first:
            failures.append({"itemIdentifier": "no-such-message"})
        elif body == "raise-always" or (body == "raise-once" and first):
            error = RuntimeError(f"failing on {body}")
    if error:
        raise error
    return {"batchItemFailures": failures}


def tick(event, context):
    records = Path(os.environ["RECORD_DIR"])
    path = records / "tick.jsonl"
    runs = path.read_text().count('"start"') if path.exists() else 0
    record("tick", {"start": time.time(), "event": event})
    if (records / "api_url").exists():  # the stack's own API, called while this run holds its lock
        api_url = (records / "api_url").read_text()
        with urllib.request.urlopen(api_url + "/ping", timeout=5) as response:  # loopback
            record("tick", {"ping": response.status})
    time.sleep(1.1)  # longer than the schedule's period
    record("tick", {"end": time.time()})
    if runs == 1:
        raise RuntimeError("the second run fails")


def ping(event, context):
    return {"statusCode": 200, "body": "pong"}


def record_event(event, context):
    record(context.function_name, {"event": event})
"""

# (queue, bodies): what each scenario sends, all at once when the stack is up.
SCENARIOS = {
    "PartialQueue": ["ok", "fail-once"],
    "InvalidQueue": ["ok", "unknown-id-once"],
    "RaiseQueue": ["raise-once", "fail-always"],
    "DoomedQueue": ["raise-always"],
}


def write_stack_files(root: Path) -> Path:
    (root / "code").mkdir()
    (root / "code" / "app.py").write_text(textwrap.dedent(HANDLERS))
    (root / "records").mkdir()
    (root / "template.yaml").write_text(TEMPLATE)
    return root / "template.yaml"


def records(stack: LocalStackProcess, name: str) -> list[dict]:
    path = Path(stack.parameters["RecordDir"]) / f"{name}.jsonl"
    if not path.exists():
        return []
    text = path.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def wait_for(condition, timeout=15.0):
    return eventually(condition, timeout=timeout, every=0.05)


def aws(stack, service):
    return boto3.client(
        service, endpoint_url=stack.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
    )  # fmt: skip


def queue_url(stack, name):
    return aws(stack, "sqs").get_queue_url(QueueName=name)["QueueUrl"]


def messages_left(stack, name) -> int:
    attributes = aws(stack, "sqs").get_queue_attributes(
        QueueUrl=queue_url(stack, name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def at_least(count: int, key: str, entries: list[dict]) -> list[dict] | None:
    """The entries once `count` of them have `key`, for wait_for."""
    return entries if sum(key in entry for entry in entries) >= count else None


def deliveries(stack, queue, body) -> list[dict]:
    return [entry for entry in records(stack, queue) if entry["record"]["body"] == body]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("drivers")
    parameters = {"RecordDir": str(root / "records"), "RetrySeconds": "1"}
    running = LocalStackProcess(
        template=write_stack_files(root), bootstrap=False, parameters=parameters
    ).start()
    (root / "records" / "api_url").write_text(running.url)
    sqs = aws(running, "sqs")
    for queue, bodies in SCENARIOS.items():
        entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
        sqs.send_message_batch(QueueUrl=queue_url(running, queue), Entries=entries)
    yield running
    running.stop()
    print(running.log())


# ---------------------------------------------------------------- SQS


def test_a_message_reaches_the_handler_in_lambdas_sqs_event_shape(stack):
    sent_at = int(time.time() * 1000)
    sent = aws(stack, "sqs").send_message(
        QueueUrl=queue_url(stack, "DeliverQueue"),
        MessageBody='{"n": 1}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "alert"},
            "size": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    record = wait_for(lambda: records(stack, "DeliverQueue"))[0]["record"]
    SqsModel.model_validate({"Records": [record]})  # Powertools' model of the Lambda event
    assert record["messageId"] == sent["MessageId"]
    assert record["receiptHandle"]
    assert record["body"] == '{"n": 1}'
    assert record["md5OfBody"] == hashlib.md5(b'{"n": 1}').hexdigest()  # noqa: S324
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs", "arn:aws:sqs:us-east-1:123456789012:DeliverQueue", "us-east-1",
    )  # fmt: skip
    attributes = record["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert int(attributes["SentTimestamp"]) >= sent_at - 1000
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert attributes["SenderId"]
    lists = {"stringListValues": [], "binaryListValues": []}
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "alert", **lists, "dataType": "String"},
        "size": {"stringValue": "3", **lists, "dataType": "Number"},
        "blob": {"binaryValue": "AP8=", **lists, "dataType": "Binary"},
    }
    wait_for(lambda: messages_left(stack, "DeliverQueue") == 0)  # deleted once handled


def test_batch_item_failures_leave_exactly_the_failed_message(stack):
    failed = wait_for(lambda: at_least(2, "record", deliveries(stack, "PartialQueue", "fail-once")))
    [ok] = deliveries(stack, "PartialQueue", "ok")
    assert ok["batch"] == failed[0]["batch"]  # one batch, and only the failed one came back
    assert failed[1]["batch"] == [failed[1]["record"]["messageId"]]
    counts = [entry["record"]["attributes"]["ApproximateReceiveCount"] for entry in failed]
    assert counts == ["1", "2"]
    assert failed[1]["at"] - failed[0]["at"] >= 0.9  # after the visibility timeout (1 s)
    wait_for(lambda: messages_left(stack, "PartialQueue") == 0)


def test_an_unknown_item_identifier_fails_the_whole_batch(stack):
    wait_for(lambda: len(records(stack, "InvalidQueue")) == 4)
    for body in ("ok", "unknown-id-once"):
        counts = [
            entry["record"]["attributes"]["ApproximateReceiveCount"]
            for entry in deliveries(stack, "InvalidQueue", body)
        ]
        assert counts == ["1", "2"]
    wait_for(lambda: messages_left(stack, "InvalidQueue") == 0)


def test_a_handler_exception_retries_the_whole_batch(stack):
    wait_for(lambda: len(records(stack, "RaiseQueue")) == 4)
    for body in ("raise-once", "fail-always"):
        counts = [
            entry["record"]["attributes"]["ApproximateReceiveCount"]
            for entry in deliveries(stack, "RaiseQueue", body)
        ]
        assert counts == ["1", "2"]
    # Without ReportBatchItemFailures a returned failure means nothing: everything is deleted.
    wait_for(lambda: messages_left(stack, "RaiseQueue") == 0)


def test_after_max_receive_count_the_message_is_in_the_dead_letter_queue(stack):
    sqs = aws(stack, "sqs")
    dead_letters = queue_url(stack, "DeadLetters")
    moved = wait_for(
        lambda: sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=1).get("Messages")
    )
    assert [message["Body"] for message in moved] == ["raise-always"]
    counts = [
        e["record"]["attributes"]["ApproximateReceiveCount"] for e in records(stack, "DoomedQueue")
    ]
    assert counts == ["1", "2"]  # maxReceiveCount: 2
    assert messages_left(stack, "DoomedQueue") == 0


@pytest.mark.parametrize(
    "line",
    [
        "SQS PartialQueue -> ConsumerFunction 2 records, 1 failed ",
        "SQS PartialQueue -> ConsumerFunction 1 records, 0 failed ",
        "SQS RaiseQueue -> ConsumerFunction 2 records, 2 failed, raised ",
        "RuntimeError: failing on raise-once",  # the traceback
        "SQS InvalidQueue -> ConsumerFunction 2 records, 2 failed, invalid batch response: "
        "not a message id of the batch: {'itemIdentifier': 'no-such-message'} ",
    ],
)
def test_one_log_line_per_sqs_invocation(stack, line):
    wait_for(lambda: line in stack.log())


# ---------------------------------------------------------------- schedules


def test_a_rate_schedule_runs_repeatedly_never_concurrently_and_survives_a_failure(stack):
    runs = wait_for(lambda: at_least(3, "start", records(stack, "tick")))
    starts = [entry["start"] for entry in runs if "start" in entry]
    ends = [entry["end"] for entry in runs if "end" in entry]
    assert all(start >= end for start, end in zip(starts[1:], ends, strict=False))  # no overlap
    assert all(entry["event"] == {} for entry in runs if "start" in entry)  # ScheduleV2, no Input
    log = stack.log()
    assert "RuntimeError: the second run fails" in log  # and the third run still came
    assert "SCHEDULE rate(1 second) -> TickFunction raised " in log
    assert "SCHEDULE rate(1 second) -> TickFunction ok " in log


def test_a_scheduled_function_may_call_the_api_while_it_runs(stack):
    # Its lock is its own: the API function's is free (one shared lock would deadlock here).
    pings = wait_for(lambda: [e["ping"] for e in records(stack, "tick") if "ping" in e])
    assert set(pings) == {200}


def test_schedule_events_inputs_and_disabled_schedules(stack):
    rule_event = wait_for(lambda: records(stack, "RuleFunction"))[0]["event"]
    assert set(rule_event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip
    assert (rule_event["detail-type"], rule_event["source"], rule_event["detail"]) == (
        "Scheduled Event", "aws.events", {},
    )  # fmt: skip
    assert rule_event["resources"] == [
        "arn:aws:events:us-east-1:123456789012:rule/RuleFunctionEvery"
    ]
    assert time.strptime(rule_event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert wait_for(lambda: records(stack, "InputFunction"))[0]["event"] == {"hello": "world"}
    assert records(stack, "DisabledFunction") == []
    assert "TickFunction.Events.Noon: cron(0 12 * * ? *) is not driven locally" in stack.log()


def test_schedule_periods():
    assert [schedule_period(f"rate({e})") for e in ("1 second", "5 seconds", "1 minute")] == [
        1, 5, 60,
    ]  # fmt: skip
    assert schedule_period("rate(2 hours)") == 7200
    assert schedule_period("rate(1 day)") == 86400
    assert schedule_period("cron(0/5 * * * ? *)") is None
    assert schedule_period("at(2030-01-01T00:00:00)") is None
    for wrong in ("rate(0 minutes)", "rate(5 weeks)", "every 5 minutes"):
        with pytest.raises(TemplateError):
            schedule_period(wrong)


# ---------------------------------------------------------------- pieces


def test_sqs_record_from_a_receive_message_answer():
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "MD5OfBody": "md5",
        "Body": "hello",
        "Attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1"},
        "MD5OfMessageAttributes": "md5a",
        "MessageAttributes": {
            "tags": {
                "DataType": "String",
                "StringListValues": ["a"],
                "BinaryListValues": [b"\x01"],
            },
        },
    }
    assert sqs_record(message, "arn:aws:sqs:us-east-1:1:q") == {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": "hello",
        "attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1"},
        "messageAttributes": {
            "tags": {"stringListValues": ["a"], "binaryListValues": ["AQ=="], "dataType": "String"}
        },
        "md5OfMessageAttributes": "md5a",
        "md5OfBody": "md5",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1",
    }
    plain = sqs_record({**message, "MessageAttributes": {}}, "arn")
    assert plain["messageAttributes"] == {}


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}, {"a", "b"}),
    ],
)
def test_reported_failures(response, failed):
    assert reported_failures(response, ["a", "b"]) == failed


@pytest.mark.parametrize(
    "response",
    [
        "ok",
        ["a"],
        {"batchItemFailures": "a"},
        {"batchItemFailures": ["a"]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "a"}]},
        {"batchItemFailures": [{"itemIdentifier": "c"}]},
    ],
)
def test_responses_that_fail_the_whole_batch(response):
    with pytest.raises(InvalidBatchResponse):
        reported_failures(response, ["a", "b"])


# ---------------------------------------------------------------- parameters and stopping


def test_parameter_overrides_reach_resources_and_environment(stack):
    attributes = aws(stack, "sqs").get_queue_attributes(
        QueueUrl=queue_url(stack, "DeliverQueue"), AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes == {"VisibilityTimeout": "1"}  # RetrySeconds, 30 by default
    assert wait_for(lambda: records(stack, "InputFunction"))  # RECORD_DIR came from RecordDir
    assert "SQS DeliverQueue -> ConsumerFunction (batch 10, retry after 1s)" in stack.log()


def test_local_defaults_apply_to_declared_parameters_unless_overridden(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n"
        "  AllowedTargetNetworks: {Type: String, Default: ''}\n"
        "  PropagationSchedule: {Type: String, Default: rate(1 minute)}\n"
        "Resources: {}\n"
    )
    template = load_template(path, {"PropagationSchedule": "rate(2 seconds)"})
    assert template.parameters == {
        "AllowedTargetNetworks": LOCAL_PARAMETERS["AllowedTargetNetworks"],
        "PropagationSchedule": "rate(2 seconds)",
    }  # and none of the other local defaults: the template does not declare them
    with pytest.raises(TemplateError, match="unknown parameter Nope"):
        load_template(path, {"Nope": "1"})


def test_an_unknown_parameter_stops_the_start_with_a_clear_message(tmp_path):
    starting = LocalStackProcess(template=write_stack_files(tmp_path), parameters={"Nope": "1"})
    with pytest.raises(RuntimeError, match=r"unknown parameter Nope: template\.yaml declares"):
        starting.start()
    assert starting.returncode == 2


def test_stop_is_prompt_and_lets_the_current_invocation_finish(stack):
    """Last in the file: it stops the module's stack (a second stack would cost seconds)."""
    wait_for(lambda: at_least(1, "start", runs := records(stack, "tick")) and "end" not in runs[-1])
    started = time.monotonic()
    stack.stop()
    assert time.monotonic() - started < 5  # a long poll (1 s) and the rest of the run (1.1 s)
    assert stack.returncode == 0, stack.log()
    assert "Stopped." in stack.log()
    runs = records(stack, "tick")
    assert sum("start" in e for e in runs) == sum("end" in e for e in runs)  # none cut short


# ---------------------------------------------------- quietly (make local without VERBOSE)


def test_quietly_a_driver_sums_up_once_a_minute_and_shows_each_failure_with_its_output(
    monkeypatch, capsys
):
    output = HeldOutput(io.StringIO())
    log = InvocationLog("SCHEDULE rate(5 seconds) -> PropagatorFunction")
    log.output = output
    clock = iter([100.0, 130.0, 161.0, 170.0])
    monkeypatch.setattr(drivers.time, "monotonic", lambda: next(clock))
    log._since = 100.0

    for outcome in ("ok", "raised", "ok"):
        with log.invoking() as held:
            output.write(f'{{"message": "run {outcome}"}}\n')  # the function's log line
        log.report(f"{outcome} 12ms", held, failed=outcome != "ok", records=2)

    assert output.stream.getvalue() == '{"message": "run raised"}\n'  # only the failed run's
    assert capsys.readouterr().err.splitlines() == [
        "SCHEDULE rate(5 seconds) -> PropagatorFunction raised 12ms",
        "SCHEDULE rate(5 seconds) -> PropagatorFunction: 6 records in 3 invocations in the last "
        "61s (VERBOSE=1 shows each)",
    ]
    output.write("a request's line\n")  # outside a driven invocation: passes through
    assert output.stream.getvalue().endswith("a request's line\n")


def test_by_default_a_driver_logs_each_invocation_with_its_output(capsys):
    log = InvocationLog("SQS NotificationQueue -> NotifierFunction")
    with log.invoking() as held:
        print("the function's line")
    log.report("1 records, 0 failed 3ms", held, failed=False, records=1)

    captured = capsys.readouterr()
    assert captured.out == "the function's line\n"
    assert captured.err == "SQS NotificationQueue -> NotifierFunction 1 records, 0 failed 3ms\n"
