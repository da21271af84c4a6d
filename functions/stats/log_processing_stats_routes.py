"""Seed 002 (log processing): `/metrics`, the all-time totals of the caller's app (an admin's:
the `default` app), from the aggregates."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from eventlog_api import caller_app_id, json_response

from eventlog.models.stats import Metrics
from eventlog.stats import statistics

router = Router()


@router.get("/metrics", summary="All-time log counts, in total and per level")
def metrics() -> Response[Metrics]:
    return json_response(statistics.metrics(caller_app_id(router)))
