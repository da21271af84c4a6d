"""Notifier: SQS-triggered, delivers the notifications the write path queued.

Powertools Batch: each record is processed on its own, and the answer lists the records that
failed (`batchItemFailures`, the event source mapping's ReportBatchItemFailures), so SQS retries
only those; after NotificationMaxReceives receives a record moves to the dead-letter queue. The
decisions and deliveries are in `eventlog.delivery.notifications`.

Deadlines: the invocation's deadline is the Lambda's remaining time less REPORT_MARGIN_SECONDS
(3 s); each record gets RECORD_SECONDS (11 s) from its start, never past it, and every outbound
request of the record ends by its deadline, however slowly a server drips its reply. BatchSize
(5) x 11 s + 3 s fits in the Timeout (60 s): a slow webhook spends its own record's time only.
A record that cannot start in the time left (a shorter invocation than the template's), or was
cut short by the invocation's end, is reported as failed and made visible again at once
(visibility timeout 0), so it is retried in seconds, not after NotificationRetrySeconds. SQS
still counts that receive toward NotificationMaxReceives (it counts receives, not failures);
with the budget above no full invocation defers a record, so only a record whose own targets
fail NotificationMaxReceives times reaches the dead-letter queue.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventlog.base.config import get_settings
from eventlog.delivery import notifications

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
# Not Metrics(): its metrics live in class attributes shared by every function of a process
# (the local stack runs this one beside the API functions).
metrics = EphemeralMetrics()
# A batch whose records all failed is answered like any other (every record listed) rather than
# by raising: SQS retries the same records either way, and a failing webhook is not a failure of
# this function (the NotificationsFailed metric and the dead-letter alarm report it).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_batch = notifications.Outcome()
_deadline = 0.0  # the invocation's (time.monotonic()): notifications.invocation_deadline
_deferred: list[str] = []  # receipt handles of the records this invocation had no time for


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    logger.append_keys(message_id=record.message_id)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        outcome = notifications.process(
            record.body, receive_count, lambda_context, deadline=_deadline
        )
    except notifications.NotificationFailed as failure:
        _batch.add(failure.outcome)
        if isinstance(failure, notifications.NotificationDeferred):
            _batch.deferred += 1
            _deferred.append(record.receipt_handle)
        raise
    except Exception:
        logger.exception("notification not processed", extra={"receive_count": receive_count})
        raise
    _batch.add(outcome)


def _publish_metrics() -> None:
    metrics.add_metric("NotificationsSent", MetricUnit.Count, _batch.sent)
    metrics.add_metric("NotificationsFailed", MetricUnit.Count, _batch.failed)
    metrics.add_metric("NotificationsSuppressed", MetricUnit.Count, _batch.suppressed)
    metrics.add_metric("NotificationsDropped", MetricUnit.Count, _batch.dropped)
    metrics.add_metric("NotificationsDeferred", MetricUnit.Count, _batch.deferred)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _batch, _deadline, _deferred
    _batch = notifications.Outcome()
    _deadline = notifications.invocation_deadline(context.get_remaining_time_in_millis())
    _deferred = []
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        if _deferred:
            notifications.release(_deferred)
        _publish_metrics()
