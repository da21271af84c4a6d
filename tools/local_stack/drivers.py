"""What invokes the functions no HTTP request reaches, the way AWS would: an SQS event source
mapping for every `Type: SQS` event, a DynamoDB stream mapping for every `Type: DynamoDB` one
(streams.py), a schedule for every `Type: Schedule` / `ScheduleV2` one.

Each runs in a thread of its own. SQS itself hides a received message for the queue's
visibility timeout and moves it to the dead-letter queue after the redrive policy's
maxReceiveCount (moto does both); a poller only decides what to delete. A stream keeps no such
state: its poller keeps its own position in the shard, retries and skips.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import boto3

from local_stack.runtime import LambdaFunction
from local_stack.template import ACCOUNT_ID, REGION, Template, TemplateError

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

LONG_POLL_SECONDS = 1  # short, so that stop() is never kept waiting for long
MAX_RECEIVE = 10  # SQS hands out at most 10 messages per ReceiveMessage
VISIBILITY_MARGIN = 0.5  # seconds: a batch is handed over this long before it could come back
# On stop, an invocation under way may finish: worth a short wait, not a whole propagation run.
STOP_GRACE_SECONDS = 10
SUMMARY_SECONDS = 60  # quietly, a driver sums up its invocations this often

_RATE = re.compile(r"rate\(\s*([0-9]+)\s+(second|minute|hour|day)s?\s*\)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class HeldOutput:
    """sys.stdout while the stack runs quietly: what a function prints during a driven
    invocation (its log lines, its metrics) is held for that invocation's thread, to be shown
    only if the invocation fails; everything else passes straight through."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self._local = threading.local()

    def write(self, text: str) -> int:
        held = getattr(self._local, "held", None)
        if held is None:
            return self.stream.write(text)
        held.append(text)
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding...
        return getattr(self.stream, name)

    @contextlib.contextmanager
    def holding(self) -> Iterator[list[str]]:
        held: list[str] = []
        self._local.held = held
        try:
            yield held
        finally:
            self._local.held = None


class InvocationLog:
    """What a driver says of its invocations: a line each (the default), or, when the stack
    runs quietly (`output` set), a line a minute summing them up, and at once, with what the
    function printed, each one that failed."""

    def __init__(self, name: str):
        self.name = name
        self.output: HeldOutput | None = None
        self._invocations = self._records = 0
        self._since = time.monotonic()

    @contextlib.contextmanager
    def invoking(self) -> Iterator[list[str]]:
        """Around an invocation: what the function prints, held if quiet."""
        if self.output is None:
            yield []
            return
        with self.output.holding() as held:
            yield held

    def report(self, line: str, held: list[str], *, failed: bool, records: int = 0) -> None:
        if self.output is None:
            print(f"{self.name} {line}", file=sys.stderr)
            return
        if failed:
            self.output.stream.write("".join(held))
            print(f"{self.name} {line}", file=sys.stderr)
        self._invocations += 1
        self._records += records
        elapsed = time.monotonic() - self._since
        if elapsed >= SUMMARY_SECONDS:
            records_text = f"{self._records} records in " if self._records else ""
            print(
                f"{self.name}: {records_text}{self._invocations} invocations in the last "
                f"{elapsed:.0f}s (VERBOSE=1 shows each)",
                file=sys.stderr,
            )
            self._invocations = self._records = 0
            self._since = time.monotonic()


class Driver:
    """A thread that invokes one function until stop() is called."""

    def __init__(self, function: LambdaFunction, name: str, description: str):
        self.function = function
        self.name = name  # e.g. "SQS Queue -> Function", in log lines
        self.description = description  # the name and its settings, for the start-up banner
        self.invocations = InvocationLog(name)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"local_stack {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop once its current invocation (if any) is over."""
        self._stopping.set()

    def join(self) -> None:
        grace = min(self.function.timeout, STOP_GRACE_SECONDS)
        self._thread.join(timeout=grace)
        if self._thread.is_alive():
            print(
                f"local_stack: {self.name}: still running after {grace:g}s, left unfinished",
                file=sys.stderr,
            )

    def _run(self) -> None:
        raise NotImplementedError


class Drivers:
    """Every driver of a template: started together, stopped together."""

    def __init__(self, drivers: list[Driver]):
        self.drivers = drivers

    def quiet(self, output: HeldOutput) -> None:
        """Sum up the invocations once a minute; show a failed one with what it printed."""
        for driver in self.drivers:
            driver.invocations.output = output

    def start(self) -> None:
        for driver in self.drivers:
            driver.start()

    def stop(self) -> None:
        for driver in self.drivers:
            driver.stop()  # all at once: they wind down side by side
        for driver in self.drivers:
            driver.join()

    def descriptions(self) -> list[str]:
        return [driver.description for driver in self.drivers]


def load_drivers(template: Template, functions: dict[str, LambdaFunction]) -> Drivers:
    """A poller per enabled SQS or DynamoDB event, a schedule per enabled rate() schedule (moto
    running, the template's tables and queues made)."""
    from local_stack.streams import StreamMapping, StreamPoller  # it builds on Driver, below

    drivers: list[Driver] = []
    for function in functions.values():
        for event_name, event in function.events.items():
            kind = template.resolve(event.get("Type"))
            if kind not in ("SQS", "DynamoDB", "Schedule", "ScheduleV2"):
                continue
            props = template.resolve(event.get("Properties") or {})
            where = f"{function.logical_id}.Events.{event_name}"
            if not _is_enabled(props):
                continue
            if kind == "SQS":
                drivers.append(SqsPoller(function, SqsMapping.from_properties(props, where)))
                continue
            if kind == "DynamoDB":
                drivers.append(StreamPoller(function, StreamMapping.from_properties(props, where)))
                continue
            schedule = Schedule.from_properties(function, kind, event_name, props)
            if schedule:
                drivers.append(schedule)
            else:
                print(
                    f"local_stack: warning: {where}: {props['ScheduleExpression']} is not driven "
                    "locally (only rate expressions are); invoke the function yourself",
                    file=sys.stderr,
                )
    return Drivers(drivers)


def _is_enabled(props: dict[str, Any]) -> bool:
    """`Enabled: false` (SQS, DynamoDB, Schedule) or `State: DISABLED` (Schedule, ScheduleV2) turn
    it off."""
    enabled = props.get("Enabled", True)
    return str(enabled).lower() != "false" and props.get("State", "ENABLED") != "DISABLED"


# ---------------------------------------------------------------- SQS


@dataclass
class SqsMapping:
    """An SQS event source mapping: which queue, how many messages per invocation, and
    whether the function reports failed messages ({"batchItemFailures": [...]})."""

    queue_arn: str
    batch_size: int
    batching_window: float  # seconds to keep gathering a batch that is not full yet
    reports_item_failures: bool

    @classmethod
    def from_properties(cls, props: dict[str, Any], where: str) -> SqsMapping:
        if props.get("FilterCriteria"):
            print(
                f"local_stack: warning: {where}: FilterCriteria are not applied locally "
                "(every message reaches the function)",
                file=sys.stderr,
            )
        return cls(
            queue_arn=str(props["Queue"]),
            batch_size=int(props.get("BatchSize", 10)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            reports_item_failures="ReportBatchItemFailures"
            in (props.get("FunctionResponseTypes") or []),
        )


class InvalidBatchResponse(Exception):
    """A response Lambda reads as "the whole batch failed"."""


def reported_failures(response: Any, message_ids: list[str]) -> set[str]:
    """The message ids of {"batchItemFailures": [{"itemIdentifier": id}, ...]}, read as Lambda
    reads it: no response, no list or an empty list is complete success; anything else that is
    not a list of known message ids is InvalidBatchResponse (the whole batch failed)."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise InvalidBatchResponse(f"the response is not an object: {response!r:.200}")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse(f"batchItemFailures is not a list: {failures!r:.200}")
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in message_ids:
            raise InvalidBatchResponse(f"not a message id of the batch: {failure!r:.200}")
        failed.add(identifier)
    return failed


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a message of ReceiveMessage (boto3's shape)."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(
        md5OfBody=message["MD5OfBody"],
        eventSource="aws:sqs",
        eventSourceARN=queue_arn,
        awsRegion=REGION,
    )
    return record


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """Lambda's spelling of a message attribute: camelCase, binary as base64, lists always."""
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = _base64(value["BinaryValue"])
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    shaped["dataType"] = value["DataType"]
    return shaped


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class SqsPoller(Driver):
    """Lambda's poller for one mapping: receive a batch, invoke, delete what succeeded."""

    def __init__(self, function: LambdaFunction, mapping: SqsMapping):
        self.mapping = mapping
        self.queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
        self._sqs = boto3.client("sqs")  # made here: creating clients is not thread-safe
        self.queue_url = self._sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
        )["Attributes"]
        # A batch is gathered for its batching window, but never until its first messages are
        # visible again (a visibility timeout as short as the window: AWS advises against it,
        # the local stack's tests like it): they would be received twice in one batch.
        self.gathering_seconds = min(
            mapping.batching_window, int(attributes["VisibilityTimeout"]) - VISIBILITY_MARGIN
        )
        name = f"SQS {self.queue_name} -> {function.logical_id}"
        super().__init__(function, name, name + self._settings(attributes))

    def _settings(self, attributes: dict[QueueAttributeNameType, str]) -> str:
        text = f" (batch {self.mapping.batch_size}, retry after {attributes['VisibilityTimeout']}s"
        if "RedrivePolicy" in attributes:
            redrive = json.loads(attributes["RedrivePolicy"])
            dead_letters = redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
            text += f", to {dead_letters} after {redrive['maxReceiveCount']} receives"
        return text + ")"

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._receive_batch()
                if messages and not self._stopping.is_set():  # stopping: back to the queue
                    self._deliver(messages)
            except Exception:  # an SQS call failed (the queue deleted, say): go on, slowly
                print(f"local_stack: {self.name}:", file=sys.stderr)
                traceback.print_exc()
                self._stopping.wait(LONG_POLL_SECONDS)

    def _receive_batch(self) -> list[MessageTypeDef]:
        """Up to BatchSize messages: a long poll for the first, then whatever else arrives
        within MaximumBatchingWindowInSeconds."""
        batch = self._receive(self.mapping.batch_size, LONG_POLL_SECONDS)
        deadline = time.monotonic() + self.gathering_seconds
        while batch and len(batch) < self.mapping.batch_size and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(self.mapping.batch_size - len(batch), 0)
            batch += more
            if not more:
                self._stopping.wait(min(0.1, remaining))
        return batch

    def _receive(self, count: int, wait_seconds: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(count, MAX_RECEIVE),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _deliver(self, messages: list[MessageTypeDef]) -> None:
        started = time.monotonic()
        message_ids = [message["MessageId"] for message in messages]
        event = {"Records": [sqs_record(message, self.mapping.queue_arn) for message in messages]}
        outcome = ""
        try:
            with self.invocations.invoking() as held:
                response = self.function.invoke(event)
        except Exception:
            print(f"local_stack: {self.function.logical_id} raised:", file=sys.stderr)
            traceback.print_exc()
            failed, outcome = set(message_ids), ", raised"
        else:
            try:
                failed = (
                    reported_failures(response, message_ids)
                    if self.mapping.reports_item_failures
                    else set()
                )
            except InvalidBatchResponse as error:
                failed, outcome = set(message_ids), f", invalid batch response: {error}"
        self._delete([message for message in messages if message["MessageId"] not in failed])
        elapsed = (time.monotonic() - started) * 1000
        self.invocations.report(
            f"{len(messages)} records, {len(failed)} failed{outcome} {elapsed:.0f}ms",
            held,
            failed=bool(failed),
            records=len(messages),
        )

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        for start in range(0, len(messages), MAX_RECEIVE):
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages[start : start + MAX_RECEIVE])
            ]
            response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in response.get("Failed", []):
                print(f"local_stack: {self.name}: not deleted: {failure}", file=sys.stderr)


# ---------------------------------------------------------------- schedules


def schedule_period(expression: str) -> int | None:
    """Seconds between the runs of rate(N unit) (seconds allowed: locally only); None for
    cron() and at(), which the local stack does not drive."""
    match = _RATE.fullmatch(expression.strip())
    if match and int(match[1]) > 0:
        return int(match[1]) * _UNIT_SECONDS[match[2]]
    if expression.strip().startswith(("cron(", "at(")):
        return None
    raise TemplateError(f"{expression!r}: expected rate(N unit), cron(...) or at(...)")


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """What an EventBridge rule without Input sends its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class Schedule(Driver):
    """An EventBridge rule (`Schedule`) or EventBridge Scheduler schedule (`ScheduleV2`) on a
    rate: runs never overlap (a tick that falls during a run waits for it; later ones lapse),
    and a run that raises is logged and the schedule goes on."""

    def __init__(
        self,
        function: LambdaFunction,
        expression: str,
        period: int,
        make_event: Callable[[], Any],
    ):
        name = f"SCHEDULE {expression} -> {function.logical_id}"
        super().__init__(function, name, name)
        self.period = period
        self._make_event = make_event

    @classmethod
    def from_properties(
        cls, function: LambdaFunction, kind: str, event_name: str, props: dict[str, Any]
    ) -> Schedule | None:
        expression = str(props["ScheduleExpression"])
        period = schedule_period(expression)
        if period is None:
            return None
        if "Input" in props:
            try:
                given = json.loads(props["Input"])
            except (TypeError, ValueError) as error:
                raise TemplateError(
                    f"{function.logical_id}.Events.{event_name}: Input is not JSON text: {error}"
                ) from error
            return cls(function, expression, period, lambda: given)
        if kind == "ScheduleV2":
            return cls(function, expression, period, dict)  # Scheduler sends {} without Input
        rule_name = str(props.get("Name") or f"{function.logical_id}{event_name}")
        return cls(function, expression, period, lambda: scheduled_event(rule_name))

    def _run(self) -> None:
        due = time.monotonic() + self.period
        while not self._stopping.wait(max(0.0, due - time.monotonic())):
            self._invoke()
            due += self.period
            overdue = time.monotonic() - due
            if overdue > 0:  # the run overran: the tick that fell during it runs now
                due += overdue // self.period * self.period

    def _invoke(self) -> None:
        started = time.monotonic()
        outcome = "ok"
        try:
            with self.invocations.invoking() as held:
                self.function.invoke(self._make_event())
        except Exception:
            print(f"local_stack: {self.function.logical_id} raised:", file=sys.stderr)
            traceback.print_exc()
            outcome = "raised"
        elapsed = (time.monotonic() - started) * 1000
        self.invocations.report(f"{outcome} {elapsed:.0f}ms", held, failed=outcome != "ok")
