"""Query: list and get an app's events; seed 002's GET /logs; seed 003's readiness; the
unauthenticated health check."""

from typing import Annotated

import docs_routes
import event_logging_routes
import tracker_routes
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from eventlog_api import (
    caller_app_id,
    create_resolver,
    json_response,
    known_query,
    require_caller,
)

from eventlog import logs, queries, registry
from eventlog.models.events import Event, EventPage, EventQuery
from eventlog.models.logs import LogQuery, LogRecord

logger = Logger()
app = create_resolver()
app.include_router(docs_routes.router)
app.include_router(event_logging_routes.router)
app.include_router(tracker_routes.router)


@app.get("/health")
def health() -> Response[dict[str, str]]:
    return json_response({"status": "ok"})


@app.get("/api/ready")
@app.get("/ready")
def ready() -> Response[dict[str, str]]:
    """Seed 003 (its document says /api/ready, its code /ready): ready only when DynamoDB
    answers. Like every seed 003 route, it answers 401 with the reason to an unknown caller."""
    require_caller(app)
    reason = registry.database_answers()
    if reason:
        logger.warning("not ready", extra={"reason": reason})
        return json_response({"status": "not ready", "reason": reason}, 503)
    return json_response({"status": "ready"})


@app.get("/apps/<app_id>/events")
def list_events(app_id: int, query: Annotated[EventQuery, Query()]) -> Response[EventPage]:
    known_query(app, EventQuery)
    return json_response(queries.list_events(app_id, query))


@app.get("/apps/<app_id>/events/<event_id>")
def get_event(app_id: int, event_id: str) -> Response[Event]:
    return json_response(queries.get_event(app_id, event_id))


@app.get("/logs")
def list_logs(query: Annotated[LogQuery, Query()]) -> Response[list[LogRecord]]:
    """Seed 002: the caller's app's most recent logs, sorted by timestamp."""
    known_query(app, LogQuery)
    return json_response(logs.list_logs(caller_app_id(app), query.level))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
