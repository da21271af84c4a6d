"""Seed 003 (consumer): its readiness check, GET /api/ready and GET /ready."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from eventlog_api import json_response, require_caller

from eventlog.storage import registry

logger = Logger(child=True)
router = Router()


@router.get("/api/ready", summary="Readiness: is the service up")
@router.get("/ready", summary="Readiness: is the service up (without /api)")
def ready() -> Response[dict[str, str]]:
    """Seed 003 (its document says /api/ready, its code /ready): ready only when DynamoDB
    answers. Like every seed 003 route, it answers 401 with the reason to an unknown caller."""
    require_caller(router)
    reason = registry.database_answers()
    if reason:
        logger.warning("not ready", extra={"reason": reason})
        return json_response({"status": "not ready", "reason": reason}, 503)
    return json_response({"status": "ready"})
