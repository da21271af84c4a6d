"""Seed 001 (event tracker): POST /api/v1/events/{name}."""

from http import HTTPStatus
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from eventlog_api import caller_app_id, json_body

from eventlog.compat import tracker

logger = Logger(child=True)
router = Router()


# No return annotation: the body is empty, not JSON.
@router.post(
    "/api/v1/events/<name>",
    summary="Record occurrences of a named event",
    status_code=HTTPStatus.CREATED,
    responses={201: {"description": "Recorded; the body is empty, as the seed's", "content": {}}},
)
def record_occurrences(name: str):
    """Occurrences of `name` in the caller's app (an admin's: the default app); the body,
    optional, is {"count", "date"}. The seed answers 201 with an empty body."""
    # API Gateway passes path parameters percent-encoded.
    has_body = bool((router.current_event.decoded_body or "").strip())
    payload = json_body(router) if has_body else None
    tracker.record(caller_app_id(router), unquote(name), payload)
    return Response(status_code=HTTPStatus.CREATED, body="")
