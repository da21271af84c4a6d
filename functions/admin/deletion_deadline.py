"""Deleting by name: how long a deletion may run (what the invocation has left, less time to
answer), and the cursor it answers when time runs out (a header: seed 001's body has no room
for it) and takes back as `?cursor=`."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventlog.events.deletion import CURSOR_HEADER

# Left for answering after the last chunk of a deletion by name.
DELETION_MARGIN_SECONDS = 3

CURSOR_DESCRIPTION = (
    f"Go on from where an earlier deletion of this name ran out of time: its {CURSOR_HEADER}"
)
# A sealed cursor is about 110 characters.
Cursor = Annotated[str | None, Query(max_length=300, description=CURSOR_DESCRIPTION)]

DELETION_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "Deleted; `complete: false` when time ran out",
        "headers": {
            CURSOR_HEADER: {
                "description": "When time ran out: send it back as `cursor` to go on from here",
                "schema": {"type": "string"},
            }
        },
    }
}


def deletion_deadline(context: LambdaContext) -> float:
    """The time.monotonic() by which a deletion must stop."""
    remaining = context.get_remaining_time_in_millis() / 1000
    return time.monotonic() + remaining - DELETION_MARGIN_SECONDS


def with_cursor(response: Response, cursor: str | None) -> Response:
    if cursor:
        response.headers[CURSOR_HEADER] = cursor
    return response
