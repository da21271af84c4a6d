"""Seed 000 (event logging): POST /events."""

from http import HTTPStatus
from typing import Any

from answers import answer_once
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit
from eventlog_api import caller_app_id, json_body, json_response
from pydantic import ValidationError

from eventlog.compat.models.event_logging import LoggedEvent, LoggedEventIn
from eventlog.events import ingestion
from eventlog.storage import registry

metrics = Metrics()  # Powertools shares metrics between instances: app.py's handler flushes them
router = Router()


def _parse(payload: Any) -> LoggedEventIn:
    # Parsed here rather than by the resolver, whose errors for a malformed body name no field.
    try:
        return LoggedEventIn.model_validate(payload)
    except ValidationError as error:
        raise ingestion.invalid_input(error) from None


@router.post(
    "/events",
    status_code=HTTPStatus.CREATED,
    summary="Log an event; it gets the next number of its app",
)
def log_event() -> Response[LoggedEvent]:
    """Into the caller's app (an admin's: the default app), numbered 1, 2, 3... in that app."""
    request = _parse(json_body(router))
    app_id = registry.app_or_default(caller_app_id(router))

    def store() -> dict:
        event = ingestion.ingest_numbered(app_id, request.to_event())
        metrics.add_metric("EventsAccepted", MetricUnit.Count, 1)
        return {
            "status": HTTPStatus.CREATED,
            "body": LoggedEvent.of(event).model_dump(mode="json"),
        }

    answer = answer_once(router, f"app:{app_id}:events", store)
    return json_response(answer["body"], answer["status"])
