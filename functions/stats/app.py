"""Stats: counts over time, by level, by name, top messages, the hourly distribution (JSON or
PNG), notifications and seed 002's /metrics, all from the aggregates. Read-only.

Every answer says how fresh it is in `X-Eventlog-As-Of`: when the newest change counted for the
app was made (the aggregates follow the events table's stream, about a second behind). A header,
not a field, so that the seed profiles' bodies stay as their clients know them.
"""

from typing import Annotated

import log_processing_stats_routes
import tracker_stats_routes
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from eventlog_api import AppId, caller_app_id, create_resolver, json_response, known_query

from eventlog.access.principal import parse_app_id
from eventlog.base.config import get_settings
from eventlog.models.stats import (
    ByLevel,
    ByName,
    CountsQuery,
    Hourly,
    HourlyQuery,
    LevelFilter,
    NotificationCounts,
    StatsRange,
    Timeseries,
    TimeseriesQuery,
    TopMessages,
    TopMessagesQuery,
)
from eventlog.stats import statistics

AS_OF_HEADER = "X-Eventlog-As-Of"

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
app = create_resolver()
app.include_router(log_processing_stats_routes.router)
app.include_router(tracker_stats_routes.router)


def freshness(resolver: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """Read the watermark before the counts, so that it never claims more than they hold."""
    path_app_id = (resolver.current_event.path_parameters or {}).get("app_id")
    if path_app_id is None:  # seed 001 and 002: the caller's app
        as_of = statistics.as_of(caller_app_id(resolver))
    else:  # a malformed id gets its 400 from the route
        app_id = parse_app_id(path_app_id)
        as_of = statistics.as_of(app_id) if app_id is not None else None
    response = next_middleware(resolver)
    if as_of and response.status_code == 200:
        response.headers[AS_OF_HEADER] = as_of
    return response


app.use(middlewares=[freshness])


@app.get("/apps/<app_id>/stats/timeseries", summary="Event counts per minute, hour or day")
def timeseries(app_id: AppId, query: Annotated[TimeseriesQuery, Query()]) -> Response[Timeseries]:
    known_query(app, TimeseriesQuery)
    return json_response(statistics.timeseries(app_id, query))


@app.get("/apps/<app_id>/stats/by-level", summary="Event counts per level")
def by_level(app_id: AppId, query: Annotated[CountsQuery, Query()]) -> Response[ByLevel]:
    known_query(app, CountsQuery)
    return json_response(statistics.by_level(app_id, query))


@app.get("/apps/<app_id>/stats/by-name", summary="Event counts per name and per service")
def by_name(app_id: AppId, query: Annotated[LevelFilter, Query()]) -> Response[ByName]:
    known_query(app, LevelFilter)
    return json_response(statistics.by_name(app_id, query))


@app.get(
    "/apps/<app_id>/stats/top-messages", summary="The most frequent messages, grouped by shape"
)
def top_messages(
    app_id: AppId, query: Annotated[TopMessagesQuery, Query()]
) -> Response[TopMessages]:
    known_query(app, TopMessagesQuery)
    return json_response(statistics.top_messages(app_id, query))


@app.get("/apps/<app_id>/stats/hourly", summary="Event counts per hour of the day, in a time zone")
def hourly(app_id: AppId, query: Annotated[HourlyQuery, Query()]) -> Response[Hourly]:
    known_query(app, HourlyQuery)
    return json_response(statistics.hourly(app_id, query))


@app.get(
    "/apps/<app_id>/stats/notifications",
    summary="Notifications sent, failed, suppressed and dropped",
)
def notifications(
    app_id: AppId, query: Annotated[StatsRange, Query()]
) -> Response[NotificationCounts]:
    known_query(app, StatsRange)
    return json_response(statistics.notifications(app_id, query))


PNG_RESPONSE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A PNG bar chart of the hourly distribution",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    }
}


# No return annotation: Powertools would validate the PNG's bytes as JSON.
@app.get(
    "/apps/<app_id>/stats/hourly.png",
    responses=PNG_RESPONSE,
    summary="Event counts per hour of the day, as a PNG bar chart",
)
def hourly_png(app_id: AppId, query: Annotated[HourlyQuery, Query()]):
    known_query(app, HourlyQuery)
    # Powertools sends bytes base64-encoded; API Gateway decodes them (BinaryMediaTypes).
    return Response(
        status_code=200,
        content_type="image/png",
        body=statistics.hourly_png(app_id, query),
        headers={"Cache-Control": "max-age=60"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
