"""Propagator: run by EventBridge Scheduler (`{}`, or the schedule's Input, which it ignores).

Forwards each subscription's new events and writes the heartbeat, a round every
PROPAGATION_INTERVAL_SECONDS for a minute when that is below 60 (see eventlog.delivery.propagation).
One log line per subscription per round.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventlog.base.config import get_settings
from eventlog.delivery import propagation

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
# Not Metrics(): its metrics live in class attributes shared by every function of a process
# (the local stack runs this one beside the API functions).
metrics = EphemeralMetrics()

FAILED = ("failed", "disabled", "error")


def _log_round(report: propagation.RoundReport) -> None:
    for outcome in report.outcomes:
        fields = {"round": report.round, **propagation.outcome_fields(outcome)}
        text = f"subscription {outcome.subscription_id}: {outcome.status}"
        if outcome.status in FAILED:
            logger.warning(f"{text}: {outcome.error}", extra=fields)
        elif outcome.status == "backing_off":
            logger.info(f"{text} until {outcome.next_attempt_at}", extra=fields)
        else:
            logger.info(f"{text}, {outcome.delivered} events delivered", extra=fields)
    if report.heartbeat_error:
        logger.warning(report.heartbeat_error, extra={"round": report.round})
    metrics.add_metric("EventsForwarded", MetricUnit.Count, report.delivered)
    metrics.add_metric("DeliveryFailures", MetricUnit.Count, report.count(*FAILED))
    metrics.add_metric("SubscriptionsDisabled", MetricUnit.Count, report.count("disabled"))
    metrics.add_metric("HeartbeatsWritten", MetricUnit.Count, int(report.heartbeat_id is not None))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del event  # what the schedule sends carries nothing the run needs
    report = propagation.run(
        context.get_remaining_time_in_millis(),
        on_round=_log_round,
        run_id=context.aws_request_id,
    )
    summary = report.summary()
    logger.info("propagation run done", extra=summary)
    return summary
