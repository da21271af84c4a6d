"""Aggregator: the events table's stream (DynamoDB Streams event source mapping).

Counts every stored and deleted event into the aggregates exactly once, matches alert rules and
queues notifications (`eventlog.stats.stream`). The answer lists the first record not applied
(`batchItemFailures`, the mapping's ReportBatchItemFailures): Lambda retries from there. A chunk
is the unit of work, not a record, so Powertools' record-by-record BatchProcessor does not fit;
its DynamoDB stream data classes read the records.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventlog.base.config import get_settings
from eventlog.stats import stream

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
# Not Metrics(): its metrics live in class attributes shared by every function of a process
# (the local stack runs this one beside the API functions).
metrics = EphemeralMetrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    outcome = stream.process(records, lambda: context.get_remaining_time_in_millis() / 1000)
    metrics.add_metric("RecordsCounted", MetricUnit.Count, outcome.counted)
    metrics.add_metric("RecordsReplayed", MetricUnit.Count, outcome.replayed)
    metrics.add_metric("RecordsNotCountable", MetricUnit.Count, outcome.uncountable)
    logger.info(
        "stream batch",
        extra={
            "records": len(records),
            "chunks": outcome.chunks,
            "counted": outcome.counted,
            "replayed": outcome.replayed,
            "uncountable": outcome.uncountable,
            "failed_at": outcome.failed_at,
        },
    )
    return outcome.response()
