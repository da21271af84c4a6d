"""How long a deletion by name may run: what the invocation has left, less time to answer."""

import time

from aws_lambda_powertools.utilities.typing import LambdaContext

# Left for answering after the last chunk of a deletion by name.
DELETION_MARGIN_SECONDS = 3


def deletion_deadline(context: LambdaContext) -> float:
    """The time.monotonic() by which a deletion must stop."""
    remaining = context.get_remaining_time_in_millis() / 1000
    return time.monotonic() + remaining - DELETION_MARGIN_SECONDS
