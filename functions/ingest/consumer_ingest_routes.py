"""Seed 003 (consumer): POST /api/event and POST /event (its code serves both), a list of
`{"event_type", "event_payload"}` or a single one, stored as native events of the caller's app."""

from http import HTTPStatus
from typing import Any

from answers import answer_once
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit
from eventlog_api import caller_app_id, json_body, json_response
from pydantic import TypeAdapter, ValidationError

from eventlog.base.errors import InvalidInputError
from eventlog.compat.models.consumer import ConsumerAccepted, ConsumerEvent
from eventlog.events import ingestion
from eventlog.storage import registry

logger = Logger(child=True)
metrics = Metrics()  # Powertools shares one metric set: app.py's handler publishes it
router = Router()


def _events(payload: Any) -> list[ConsumerEvent]:
    """Every item, validated; any invalid one refuses the whole body (as the seed's FastAPI
    does), naming each bad field by its item's index."""
    try:
        if isinstance(payload, list):
            return TypeAdapter(list[ConsumerEvent]).validate_python(payload)
        return [ConsumerEvent.model_validate(payload)]
    except ValidationError as error:
        details = [detail.model_dump() for detail in ingestion.field_errors(error)]
        fields = ", ".join(detail["field"] for detail in details)
        raise InvalidInputError(f"invalid {fields}: nothing was stored", details) from None


@router.post("/api/event", summary="Send typed events, one or a list")
@router.post("/event", summary="Send typed events, one or a list (without /api)")
def post_events() -> Response[ConsumerAccepted]:
    app_id = registry.app_or_default(caller_app_id(router))  # 401 comes before any 400
    events = _events(json_body(router))

    def store() -> dict[str, Any]:
        result = ingestion.ingest_batch(app_id, [event.as_event() for event in events])
        metrics.add_metric("EventsAccepted", MetricUnit.Count, result.accepted)
        logger.info("consumer events stored", extra={"app_id": app_id, "stored": result.accepted})
        return {"status": HTTPStatus.OK, "body": ConsumerAccepted().model_dump()}

    answer = answer_once(router, f"consumer:{app_id}", store)
    return json_response(answer["body"], answer["status"])
