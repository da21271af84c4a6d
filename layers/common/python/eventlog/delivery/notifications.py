"""The notifier's core: one queued (event, rule) message becomes at most one notification per
channel of the rule, however often SQS delivers the message.

A message (`eventlog.delivery.notify_queue`) is `{"app_id", "rule_id", "event"}`. Processing it:

1. **Decision**, made once per (app, event, rule) and recorded with Powertools Idempotency, so a
   redelivered message reuses it instead of deciding again (a second decision would find the
   cooldown it claimed itself and stay silent, or notify twice). In order, it is `skip` when the
   rule is gone, disabled or no longer matches the event; when the rule's condition does not hold
   on the aggregates' minute counts (the stream processor counted the event before it queued
   it, so nothing is counted here); when the rule's cooldown for the event's level is running.
   Else it is `notify`, with the rule's channels as they were.
2. **Delivery** through each decided channel, each recorded with Powertools Idempotency by
   (app, event, rule, channel index): when one channel succeeded and another failed, the retry
   sends only the failed one, and a message redelivered after a success sends nothing.
3. **Counts**: each fresh delivery adds 1 to `notifications_sent` in the aggregates; a delivery
   that fails on the message's last receive (SQS moves it to the dead-letter queue next) adds 1
   to `notifications_failed`. Any failed delivery raises `NotificationFailed`, so the record is
   reported in the batch's failures and retried alone.

Cooldown: one claim per (rule, level) in the aggregates table (`eventlog.storage.aggregates`,
"The notifier's state"). Claiming is one conditional write (no claim yet, or the last one at
least `cooldown_seconds` old, or the claim is this event's own), so notifiers running at once in
a storm let exactly one through. A rule without a cooldown claims nothing. The claim is taken
when deciding: a notification that then fails every delivery keeps the others silent for the
cooldown, and reaches the dead-letter queue (which alarms).

Deadlines: the notifier gives each record a deadline (`record_deadline`): RECORD_SECONDS from
its start, and never later than the invocation's own deadline (the Lambda's remaining time less
REPORT_MARGIN_SECONDS, kept to answer the batch). Every outbound request of the record ends by
it, however slowly a server answers (`channels.send(time_left=...)`), so one slow webhook uses
its own record's time and no other's. The template's BatchSize x RECORD_SECONDS + the margin fits
in the notifier's Timeout, so in a full invocation every record starts with its whole budget. A
record that cannot start (less than MIN_START_SECONDS left), or that was cut short by the
invocation's end and ran out of time, raises `NotificationDeferred`: reported as a batch item
failure, and made visible again at once (`release`) rather than after NotificationRetrySeconds.
Its receive count still grows (SQS counts receives, not failures): see "Deadlines" in the
notifier's module for the trade-off.

Every function takes `now` so the clock is the caller's (tests pass a fake one).
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, NoReturn

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from pydantic import Field, ValidationError, model_validator

from eventlog.base.config import get_settings
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.delivery import alerts, channels
from eventlog.delivery.outbound import DeliveryError
from eventlog.models.alerts import AlertRule, Condition, Increase, Threshold
from eventlog.models.base import Level, Model
from eventlog.models.events import Event
from eventlog.stats.buckets import Granularity, Run
from eventlog.storage import aggregates, idempotency

logger = Logger(child=True)

# How long a decision and a delivery are remembered: far beyond the queue's retries
# (NotificationMaxReceives x NotificationRetrySeconds). A message redriven from the dead-letter
# queue later than this is decided afresh.
REMEMBER_SECONDS = 24 * 3600

# Kept at the end of an invocation, after the last record: the batch's answer, the visibility
# of the records left for later, the metrics.
REPORT_MARGIN_SECONDS = 3.0
# The most one record may take: one HTTP channel's worst case (channels.HTTP_WORST_SECONDS,
# 10.5 s) and half a second for the decision and the records. A rule's other channels (up to 5)
# share it: one slow to the end leaves them to the record's retry, which repeats no success.
RECORD_SECONDS = 11.0
# A record is not started with less than this before the invocation's deadline.
MIN_START_SECONDS = 2.0
# A record that failed with less than this left of its deadline ran out of time.
OUT_OF_TIME_SECONDS = 1.0
# SQS's ChangeMessageVisibilityBatch takes up to 10 entries.
VISIBILITY_BATCH = 10


# ---------------------------------------------------------------- the message


class NotificationMessage(Model):
    app_id: int
    rule_id: str = Field(min_length=1, max_length=200)
    event: Event

    @model_validator(mode="after")
    def _same_app(self) -> "NotificationMessage":
        if self.event.app_id != self.app_id:
            raise ValueError("the event belongs to another app")
        return self


class MalformedMessageError(ValueError):
    pass


def parse_message(body: str) -> NotificationMessage:
    try:
        return NotificationMessage.model_validate(json.loads(body))
    except (ValueError, TypeError) as error:  # JSONDecodeError and ValidationError among them
        if isinstance(error, ValidationError):
            reason = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()
            )
        else:
            reason = str(error)
        raise MalformedMessageError(reason) from None


# ---------------------------------------------------------------- conditions


def rule_count(rule: AlertRule, counters: dict[str, int]) -> int:
    """The events of one minute bucket that the rule's condition counts: the stream processor
    counts each event a rule with a condition matches in the rule's own counter, so patterns
    and levels are applied once, when counting (from the rule's creation on)."""
    return counters.get(aggregates.rule_counter(rule.id), 0)


def window_counts(
    app_id: int, rule: AlertRule, window_minutes: int, windows: int, now: datetime
) -> list[int]:
    """The rule's counts in the last `windows` windows of `window_minutes` minutes, the current
    one (ending with the current minute, included) first."""
    step = Granularity.MINUTE.step
    end = Granularity.MINUTE.floor(now) + step
    start = end - windows * window_minutes * step
    totals = [0] * windows
    for bucket in aggregates.read_counts(app_id, [Run(Granularity.MINUTE, start, end)]):
        minutes_back = int((end - bucket.start) / step) - 1  # 0 for the current minute
        totals[minutes_back // window_minutes] += rule_count(rule, bucket.counters)
    return totals


def condition_holds(condition: Condition, counts: list[int]) -> tuple[bool, str]:
    """Whether the condition holds on [current window, previous window] counts, and why."""
    current = counts[0]
    minutes = condition.window_minutes
    if isinstance(condition, Threshold):
        held = current > condition.more_than
        return held, (
            f"{current} matching events in the last {minutes} min "
            f"({'more' if held else 'not more'} than {condition.more_than})"
        )
    assert isinstance(condition, Increase)
    previous = counts[1]
    # current >= previous x (1 + percent/100), in integers; a previous 0 is an increase as soon
    # as min_count is reached.
    increased = current * 100 >= previous * (100 + condition.percent)
    held = increased and current >= condition.min_count
    return held, (
        f"{current} matching events in the last {minutes} min against {previous} in the "
        f"{minutes} min before (needs +{condition.percent}% and at least {condition.min_count})"
    )


def evaluate_condition(app_id: int, rule: AlertRule, now: datetime) -> tuple[bool, str]:
    if rule.condition is None:
        return True, "no condition"
    windows = 2 if isinstance(rule.condition, Increase) else 1
    counts = window_counts(app_id, rule, rule.condition.window_minutes, windows, now)
    return condition_holds(rule.condition, counts)


# ---------------------------------------------------------------- cooldown


def claim_cooldown(
    app_id: int, rule: AlertRule, level: Level, event_id: str, now: datetime
) -> bool:
    """True when this event may notify: no notification of this rule and level in the last
    `cooldown_seconds` (or the one there was is this event's own, claimed by an earlier try)."""
    if rule.cooldown_seconds <= 0:
        return True
    return aggregates.claim_cooldown(app_id, rule.id, level, event_id, now, rule.cooldown_seconds)


# ---------------------------------------------------------------- decision


def decide(message: NotificationMessage, rule: AlertRule | None, now: datetime) -> dict[str, Any]:
    """`{"action": "notify"|"skip", "reason", "channels"}`; channels: `[{"index", "target"}]`."""
    event = message.event

    def skip(reason: str) -> dict[str, Any]:
        return {"action": "skip", "reason": reason, "channels": []}

    if rule is None:
        return skip("the rule no longer exists")
    if not rule.enabled:
        return skip("the rule is disabled")
    if not rule.matches(event.level, event.name, event.service):
        return skip("the rule no longer matches the event")
    held, why = evaluate_condition(message.app_id, rule, now)
    if not held:
        return skip(f"condition not met: {why}")
    if not claim_cooldown(message.app_id, rule, event.level, event.id, now):
        return skip(
            f"cooldown: rule {rule.id} notified {event.level.value} less than "
            f"{rule.cooldown_seconds} s ago"
        )
    targets = [
        {"index": index, "target": channels.target(channel)}
        for index, channel in enumerate(rule.channels)
    ]
    return {"action": "notify", "reason": why, "channels": targets}


# ---------------------------------------------------------------- idempotency


def _once(
    kind: str, key: str, compute: Callable[[], dict[str, Any]], lambda_context: Any
) -> tuple[dict[str, Any], bool]:
    """`compute()`'s result, computed once per (kind, key), and whether it was computed now
    (False: a result recorded earlier, replayed). Raises what `compute` raises (nothing is
    recorded then) and IdempotencyAlreadyInProgressError while another invocation computes it.
    """
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=REMEMBER_SECONDS)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=idempotency.notifier_persistence(),
        config=config,
        key_prefix=f"notifier.{kind}",
    )
    def once(request: dict[str, str]) -> dict[str, Any]:
        return {"result": compute(), "run": request["run"]}

    run = uuid.uuid4().hex  # not part of the key: tells a fresh result from a replayed one
    recorded = once(request={"key": key, "run": run})
    return recorded["result"], recorded["run"] == run


# ---------------------------------------------------------------- processing


@dataclass
class Outcome:
    """What one message did (for metrics): fresh deliveries, given-up ones, skips, drops, and
    (for a batch) the records left for later for want of time."""

    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    dropped: int = 0
    deferred: int = 0

    def add(self, other: "Outcome") -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.dropped += other.dropped
        self.deferred += other.deferred


class NotificationFailed(Exception):
    """A delivery failed: the message must be retried (its other deliveries will not repeat)."""

    def __init__(self, message: str, outcome: Outcome):
        super().__init__(message)
        self.outcome = outcome


class NotificationDeferred(NotificationFailed):
    """The invocation's time ran out for this record (it could not start, or its deadline was
    cut short by the invocation's end and it ran out of time): not the record's own failure.
    Retried at once (`release`)."""


# ---------------------------------------------------------------- deadlines


def invocation_deadline(remaining_ms: int) -> float:
    """When the invocation's last record must be done (time.monotonic()), from the Lambda's
    remaining time (context.get_remaining_time_in_millis())."""
    return time.monotonic() + remaining_ms / 1000 - REPORT_MARGIN_SECONDS


@dataclass(frozen=True)
class RecordDeadline:
    at: float  # time.monotonic()
    cut_short: bool  # the invocation ends before RECORD_SECONDS are up

    def left(self) -> float:
        return self.at - time.monotonic()


def record_deadline(invocation: float) -> RecordDeadline | None:
    """A record starting now: its deadline, or None when there is no time to start it."""
    now = time.monotonic()
    if invocation - now < MIN_START_SECONDS:
        return None
    own = now + RECORD_SECONDS
    return RecordDeadline(min(own, invocation), cut_short=invocation < own)


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


def release(receipt_handles: list[str]) -> None:
    """Make deferred records visible again now (visibility timeout 0), not after the queue's
    NotificationRetrySeconds. Best effort: a record not released comes back after the usual
    delay."""
    queue_url = get_settings().notification_queue_url
    for start in range(0, len(receipt_handles), VISIBILITY_BATCH):
        chunk = receipt_handles[start : start + VISIBILITY_BATCH]
        entries = [
            {"Id": str(number), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for number, handle in enumerate(chunk)
        ]
        try:
            reply = _sqs().change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:
            logger.warning("deferred records not released", exc_info=True)
            continue
        for failure in reply.get("Failed", []):
            logger.warning("deferred record not released", extra={"failure": failure})


def delivery_id(message: NotificationMessage, index: int) -> str:
    """Stable across retries: the X-Eventlog-Delivery header a receiver deduplicates by."""
    return f"{message.event.id}.{message.rule_id}.{index}"


def process(
    body: str,
    receive_count: int = 1,
    lambda_context: Any = None,
    now: datetime | None = None,
    deadline: float | None = None,
) -> Outcome:
    """Decide and deliver one queued message; NotificationFailed when a delivery failed.

    `deadline` (time.monotonic(), None: none) is the invocation's (`invocation_deadline`): the
    record gets its own from it (`record_deadline`); NotificationDeferred when there is no time
    to start it, or its deadline was cut short by the invocation's and it ran out of time.
    """
    now = now or utcnow()
    try:
        message = parse_message(body)
    except MalformedMessageError as error:
        # Dropped, not retried: a body that does not parse now never will, so retrying would only
        # hold it for NotificationMaxReceives x NotificationRetrySeconds and then page whoever
        # watches the dead-letter alarm for a producer bug, not a delivery problem. The error
        # log (with the body) is the evidence; the record counts as processed.
        logger.error(
            "malformed notification message dropped",
            extra={"reason": str(error), "body": body[:2000]},
        )
        return Outcome(dropped=1)
    record = None if deadline is None else record_deadline(deadline)
    if deadline is not None and record is None:
        _not_started(message, receive_count, now)
    decided = _decision(message, receive_count, lambda_context, now, record)
    if isinstance(decided, Outcome):
        return decided
    delivery, targets = decided
    failures = [reason for target in targets if (reason := _deliver(delivery, target))]
    _count(message.app_id, now, delivery.outcome)
    if failures:
        failed = NotificationDeferred if delivery.out_of_time else NotificationFailed
        raise failed("; ".join(failures), delivery.outcome)
    return delivery.outcome


def _not_started(message: NotificationMessage, receive_count: int, now: datetime) -> NoReturn:
    """A record left for a later invocation: this one has no time to start it."""
    last_receive = receive_count >= get_settings().notification_max_receives
    log = logger.error if last_receive else logger.warning
    log(
        "no time left in this invocation: not started, retried at once"
        + ("; last receive: the message goes to the dead-letter queue" * last_receive),
        extra={
            "app_id": message.app_id,
            "rule_id": message.rule_id,
            "event_id": message.event.id,
            "receive_count": receive_count,
        },
    )
    outcome = Outcome(failed=int(last_receive))
    _count(message.app_id, now, outcome)
    raise NotificationDeferred("no time left in this invocation to start it", outcome)


@dataclass
class _Delivery:
    """A notification decided on, on its way to its rule's channels."""

    message: NotificationMessage
    rule: AlertRule
    key: str  # (app, event, rule): what the decision and each delivery are recorded by
    context: dict[str, Any]  # for log lines
    now: datetime
    lambda_context: Any
    receive_count: int
    deadline: RecordDeadline | None = None
    outcome: Outcome = field(default_factory=Outcome)
    out_of_time: bool = False  # a delivery failed for want of the invocation's time

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline.left()

    @property
    def last_receive(self) -> bool:
        """SQS moves the message to the dead-letter queue after this receive."""
        return self.receive_count >= get_settings().notification_max_receives

    @property
    def notification(self) -> channels.Notification:
        return channels.Notification(
            app_id=self.message.app_id,
            rule=self.rule,
            event=self.message.event.model_dump(mode="json"),
            sent_at=self.now,
        )


def _decision(
    message: NotificationMessage,
    receive_count: int,
    lambda_context: Any,
    now: datetime,
    deadline: RecordDeadline | None = None,
) -> Outcome | tuple[_Delivery, list[dict[str, Any]]]:
    """The message's decision, made once: an Outcome when nothing is to be delivered, else the
    delivery and the channels decided (`{"index", "target"}`)."""
    event = message.event
    context = {"app_id": message.app_id, "rule_id": message.rule_id, "event_id": event.id}
    rule = alerts.find_rule(message.app_id, message.rule_id)
    key = f"{message.app_id}|{event.id}|{message.rule_id}"
    decision, fresh = _once("decision", key, lambda: decide(message, rule, now), lambda_context)
    log_extra = {**context, "level": event.level.value, "replayed": not fresh, **decision}
    if decision["action"] != "notify":
        logger.info("notification suppressed", extra=log_extra)
        return Outcome(suppressed=int(fresh))
    logger.info("notification decided", extra=log_extra)
    if not fresh and (rule is None or not rule.enabled):
        # Decided before, and the rule was deleted or disabled since: stop there.
        logger.info(
            "not delivered: the rule was deleted or disabled since the decision", extra=context
        )
        return Outcome()
    assert rule is not None  # a fresh "notify" decision had it
    delivery = _Delivery(message, rule, key, context, now, lambda_context, receive_count, deadline)
    return delivery, decision["channels"]


def _deliver(delivery: _Delivery, decided: dict[str, Any]) -> str | None:
    """Deliver through one decided channel, once whatever the retries; the reason it failed."""
    index, target = decided["index"], decided["target"]
    channel_context = {**delivery.context, "channel": index, "target": target}
    rule = delivery.rule
    current = rule.channels[index] if index < len(rule.channels) else None
    if current is None or channels.target(current) != target:
        logger.warning("channel changed since the decision: not delivered", extra=channel_context)
        return None

    def send() -> dict[str, Any]:
        time_left = delivery.time_left()
        if time_left is not None and time_left <= 0:
            raise DeliveryError(f"no time left for channel {index}: its record's deadline passed")
        answer = channels.send(
            delivery.notification, index, delivery_id(delivery.message, index), time_left
        )
        return {"answer": answer, "at": format_iso(delivery.now)}

    try:
        result, sent_now = _once(
            "delivery", f"{delivery.key}|{index}", send, delivery.lambda_context
        )
    except IdempotencyAlreadyInProgressError:
        # Another invocation is delivering this very message (SQS delivers at least once):
        # retry later, when its record says how that went. Not a failure of ours to count.
        logger.warning("delivery in progress elsewhere: retry later", extra=channel_context)
        return f"channel {index}: being delivered by another invocation"
    except Exception as error:
        return _failed(delivery, index, error, channel_context)
    if sent_now:
        delivery.outcome.sent += 1
        logger.info("notification delivered", extra={**channel_context, **result})
    else:
        logger.info("delivered before: not repeated", extra={**channel_context, **result})
    return None


def _failed(
    delivery: _Delivery, index: int, error: Exception, channel_context: dict[str, Any]
) -> str:
    reason = error.message if isinstance(error, DeliveryError) else repr(error)
    retryable = getattr(error, "retryable", True)
    deadline = delivery.deadline
    if retryable and deadline is not None and deadline.cut_short:
        # Cut short by the invocation's end (not by the record's own RECORD_SECONDS): a failure
        # with next to no time left is the invocation's, not the target's.
        delivery.out_of_time |= deadline.left() < OUT_OF_TIME_SECONDS
    last_receive = delivery.last_receive
    delivery.outcome.failed += int(last_receive)
    log = logger.error if last_receive or not retryable else logger.warning
    log(
        "delivery failed"
        + ("; last receive: the message goes to the dead-letter queue" * last_receive)
        + ("; a retry will not help" * (not retryable)),
        extra={
            **channel_context,
            "reason": reason,
            "status": getattr(error, "status", None),
            "retryable": retryable,
            "receive_count": delivery.receive_count,
            "time_left": None if deadline is None else round(deadline.left(), 3),
        },
        exc_info=not isinstance(error, DeliveryError),
    )
    return f"channel {index}: {reason}"


def _count(app_id: int, now: datetime, outcome: Outcome) -> None:
    """Add this message's deliveries to the aggregates' notification counters.

    Only fresh deliveries count (a replayed one was counted when it happened). A failed update
    is logged, not retried: retrying could count twice, and the notification went out.
    """
    if not outcome.sent and not outcome.failed:
        return
    try:
        aggregates.count_notifications(app_id, now, sent=outcome.sent, failed=outcome.failed)
    except Exception:
        logger.exception(
            "notification counters not updated",
            extra={"app_id": app_id, "sent": outcome.sent, "failed": outcome.failed},
        )
