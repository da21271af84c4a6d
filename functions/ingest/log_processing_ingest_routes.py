"""Seed 002 (log processing): POST /logs, a JSON log object or one text log line, into the
caller's app (an admin's: the default app)."""

from http import HTTPStatus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from eventlog_api import caller_app_id, json_response, parse_json, text_body

from eventlog.base.errors import InvalidInputError
from eventlog.compat import logs
from eventlog.compat.models.logs import LogAccepted

logger = Logger(child=True)
router = Router()


@router.post(
    "/logs",
    status_code=HTTPStatus.CREATED,
    summary="Send a log: JSON, or a syslog or plain text line",
)
def post_log() -> Response[LogAccepted]:
    """Seed 002: into the caller's app (an admin's: the default app)."""
    app_id = caller_app_id(router)  # 401 comes before any 400
    stored = logs.ingest_log(app_id, _log_body())
    logger.info("log stored", extra={"app_id": stored.app_id, "event_id": stored.id})
    return json_response(LogAccepted(), HTTPStatus.CREATED)


def _log_body() -> str:
    """The body, through the door's limits (eventlog_api) like every JSON body; what they
    refuse is answered with the seed's body, as any invalid log is."""
    try:
        body = text_body(router, "a log")
        if body.lstrip().startswith("{"):
            parse_json(body)
    except InvalidInputError as error:
        raise logs.InvalidLogError("Invalid log data", error.details) from None
    return body


@router.exception_handler(logs.InvalidLogError)
def _invalid_log(error: logs.InvalidLogError) -> Response:
    # The seed's exact body; what was wrong goes to the log.
    logger.info("invalid log data", extra={"details": error.details})
    return json_response({"error": "Invalid log data"}, HTTPStatus.BAD_REQUEST)
