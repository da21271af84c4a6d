"""Seed 001 (event tracker): GET /health/ping."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from eventlog_api import json_response

from eventlog.compat.models.tracker import Pong

router = Router()


@router.get("/health/ping", summary="Ping: answers without a credential")
def ping() -> Response[Pong]:
    """No credential needed (template.yaml: Authorizer NONE)."""
    return json_response(Pong(message="pong"))
