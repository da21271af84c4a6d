"""Query: list and get an app's events; the unauthenticated health check. The seed profiles'
read routes are in their routers: seed 000 (`event_logging_query_routes`), 001
(`tracker_query_routes`), 002 (`log_processing_query_routes`), 003 (`consumer_query_routes`),
the API documentation (`docs_routes`) and the web console (`console_routes`)."""

from typing import Annotated

import console_routes
import consumer_query_routes
import docs_routes
import event_logging_query_routes
import log_processing_query_routes
import tracker_query_routes
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from eventlog_api import AppId, create_resolver, json_response, known_query

from eventlog.base.config import get_settings
from eventlog.events import queries
from eventlog.models.events import Event, EventPage, EventQuery

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
app = create_resolver()
app.include_router(console_routes.router)
app.include_router(consumer_query_routes.router)
app.include_router(docs_routes.router)
app.include_router(event_logging_query_routes.router)
app.include_router(log_processing_query_routes.router)
app.include_router(tracker_query_routes.router)


@app.get("/health", summary="Liveness: answers without a credential")
def health() -> Response[dict[str, str]]:
    return json_response({"status": "ok"})


@app.get(
    "/apps/<app_id>/events", summary="List an app's events, newest first, filtered and paginated"
)
def list_events(app_id: AppId, query: Annotated[EventQuery, Query()]) -> Response[EventPage]:
    known_query(app, EventQuery)
    return json_response(queries.list_events(app_id, query))


@app.get("/apps/<app_id>/events/<event_id>", summary="Get an event")
def get_event(app_id: AppId, event_id: str) -> Response[Event]:
    return json_response(queries.get_event(app_id, event_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
