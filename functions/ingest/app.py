"""Ingest: POST /apps/{app_id}/events, one event or a batch of up to 100. The seed profiles'
write routes are in their routers: seed 000 (`event_logging_ingest_routes`), 001
(`tracker_ingest_routes`), 002 (`log_processing_ingest_routes`), 003 (`consumer_ingest_routes`)."""

from http import HTTPStatus
from typing import Any

import consumer_ingest_routes
import event_logging_ingest_routes
import log_processing_ingest_routes
import tracker_ingest_routes
from answers import answer_once
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from eventlog_api import AppId, create_resolver, json_body, json_response

from eventlog.base.config import get_settings
from eventlog.events import ingestion
from eventlog.models.events import BatchResult, Event

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
metrics = Metrics()
app = create_resolver()
app.include_router(consumer_ingest_routes.router)
app.include_router(event_logging_ingest_routes.router)
app.include_router(log_processing_ingest_routes.router)
app.include_router(tracker_ingest_routes.router)


def _batch_status(result: BatchResult) -> HTTPStatus:
    total = len(result.items)
    if result.accepted == total:
        return HTTPStatus.CREATED
    if result.rejected == total:
        return HTTPStatus.BAD_REQUEST
    if result.duplicates == total:
        return HTTPStatus.OK
    return HTTPStatus.MULTI_STATUS


def _ingest(app_id: int, payload: Any) -> dict[str, Any]:
    """The answer as a plain dict, so an idempotent retry can replay it."""
    if isinstance(payload, list):
        result = ingestion.ingest_batch(app_id, payload)
        metrics.add_metric("EventsAccepted", MetricUnit.Count, result.accepted)
        metrics.add_metric("EventsRejected", MetricUnit.Count, result.rejected)
        return {
            "status": _batch_status(result),
            "body": result.model_dump(mode="json", exclude_none=True),
        }
    stored = ingestion.ingest_one(app_id, payload)
    accepted = stored.status == "accepted"
    metrics.add_metric("EventsAccepted", MetricUnit.Count, int(accepted))
    return {
        "status": HTTPStatus.CREATED if accepted else HTTPStatus.OK,
        "body": stored.event.model_dump(mode="json"),
    }


@app.post(
    "/apps/<app_id>/events",
    status_code=HTTPStatus.CREATED,
    summary="Send an event, or a batch of up to 100",
)
def post_events(app_id: AppId) -> Response[Event | BatchResult]:
    payload = json_body(app)
    answer = answer_once(app, f"app:{app_id}", lambda: _ingest(app_id, payload))
    return json_response(answer["body"], answer["status"])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
