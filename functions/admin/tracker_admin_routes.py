"""Seed 001 (event tracker): DELETE /admin/v1/events/{name}."""

from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from deletion_deadline import DELETION_RESPONSES, Cursor, deletion_deadline, with_cursor
from eventlog_api import caller_app_id, json_response

from eventlog.compat import tracker
from eventlog.compat.models.tracker import TrackerDeleted

logger = Logger(child=True)
router = Router()


@router.delete(
    "/admin/v1/events/<name>",
    responses=DELETION_RESPONSES,
    summary="Delete every occurrence of an event",
)
def delete_occurrences(name: str, cursor: Cursor = None) -> Response[TrackerDeleted]:
    """Every occurrence of `name` in the default app (admin keys have no app of their own)."""
    name = unquote(name)  # API Gateway passes path parameters percent-encoded
    result, next_cursor = tracker.delete(
        caller_app_id(router), name, deletion_deadline(router.lambda_context), cursor
    )
    logger.info(
        "tracker events deleted",
        extra={"event_name": name, "deleted": result.deleted, "complete": result.complete},
    )
    return with_cursor(json_response(result), next_cursor)
