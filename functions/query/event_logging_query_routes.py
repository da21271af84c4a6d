"""Seed 000 (event logging): GET /events and GET /events/{event_id}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from eventlog_api import caller_app_id, json_response, known_query

from eventlog.compat.models.event_logging import LoggedEvent, LoggedEventQuery
from eventlog.events import queries
from eventlog.storage import registry

router = Router()


@router.get("/events", summary="List logged events, filtered by level, type and time")
def list_logged_events(query: Annotated[LoggedEventQuery, Query()]) -> Response[list[LoggedEvent]]:
    """The caller's app's seed 000 events, ascending by event_id. The body stays the seed's bare
    list; when more remain, a `Link: <?after=N&limit=M>; rel="next"` header says where to go on
    (a reference relative to this request's URL, right whatever the stage or domain)."""
    known_query(router, LoggedEventQuery)
    app_id = registry.app_or_default(caller_app_id(router))
    page = queries.list_numbered(app_id, query.after, query.limit)
    reply = json_response([LoggedEvent.of(event) for event in page.items])
    if page.next_after is not None:
        reply.headers["Link"] = f'<?after={page.next_after}&limit={query.limit}>; rel="next"'
    return reply


@router.get("/events/<event_id>", summary="Get a logged event by its number")
def get_logged_event(event_id: str) -> Response[LoggedEvent]:
    app_id = registry.app_or_default(caller_app_id(router))
    return json_response(LoggedEvent.of(queries.get_numbered(app_id, event_id)))
