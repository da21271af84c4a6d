"""Notifier: SQS-triggered, delivers the notifications the write path queued.

Powertools Batch: each record is processed on its own, and the answer lists the records that
failed (`batchItemFailures`, the event source mapping's ReportBatchItemFailures), so SQS retries
only those; after NotificationMaxReceives receives a record moves to the dead-letter queue. The
decisions and deliveries are in `eventlog.delivery.notifications`.
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


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    logger.append_keys(message_id=record.message_id)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        outcome = notifications.process(record.body, receive_count, lambda_context)
    except notifications.NotificationFailed as failure:
        _batch.add(failure.outcome)
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


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _batch
    _batch = notifications.Outcome()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        _publish_metrics()
