"""Seed 001 (event tracker): daily counts, history, hourly frequencies and the histogram.

Read-only, from the aggregates. The caller's app applies (an admin's: the default app).
"""

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from eventlog_api import caller_app_id, json_response, known_query

from eventlog.compat import tracker
from eventlog.compat.models.tracker import DailyCount, DateRange, EventTotal, Frequency

router = Router()

PNG_RESPONSE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A PNG bar chart of the event's occurrences by hour of day (UTC)",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    }
}

# Path parameters arrive percent-encoded (as API Gateway passes them): `unquote` gives the name.


@router.get("/api/v1/events", summary="Occurrences per event and day")
def daily_counts(query: Annotated[DateRange, Query()]) -> Response[list[DailyCount]]:
    known_query(router, DateRange)
    return json_response(tracker.daily_counts(caller_app_id(router), query))


@router.get("/api/v1/event_history", summary="Total occurrences of each event")
def history() -> Response[list[EventTotal]]:
    return json_response(tracker.history(caller_app_id(router)))


# No return annotation: Powertools would validate the PNG's bytes as JSON.
@router.get(
    "/api/v1/event_frequencies/<name>/hist",
    responses=PNG_RESPONSE,
    summary="An event's occurrences per hour of the day, as a PNG bar chart",
)
def histogram(name: str):
    # Powertools sends bytes base64-encoded; API Gateway decodes them (BinaryMediaTypes).
    return Response(
        status_code=200,
        content_type="image/png",
        body=tracker.hourly_png(caller_app_id(router), unquote(name)),
    )


@router.get("/admin/v1/events/<name>", summary="An event's occurrences per day")
def events_named(name: str) -> Response[list[DailyCount]]:
    return json_response(tracker.events_named(caller_app_id(router), unquote(name)))


@router.get(
    "/admin/v1/event_frequencies/<name>", summary="An event's occurrences per hour of the day"
)
def frequency(name: str) -> Response[Frequency]:
    return json_response(tracker.frequency(caller_app_id(router), unquote(name)))


@router.get("/admin/v1/event_frequencies", summary="Every event's occurrences per hour of the day")
def frequencies() -> Response[list[Frequency]]:
    return json_response(tracker.frequencies(caller_app_id(router)))
