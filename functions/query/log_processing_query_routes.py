"""Seed 002 (log processing): GET /logs, the caller's app's logs."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from eventlog_api import caller_app_id, json_response, known_query

from eventlog.compat import logs
from eventlog.compat.models.logs import LogQuery, LogRecord

router = Router()


@router.get("/logs", summary="List logs, filtered by level, service and time")
def list_logs(query: Annotated[LogQuery, Query()]) -> Response[list[LogRecord]]:
    """Seed 002: the caller's app's most recent logs, sorted by timestamp."""
    known_query(router, LogQuery)
    return json_response(logs.list_logs(caller_app_id(router), query.level))
