"""Powertools Idempotency's records (the idempotency table): idempotent requests, and the
notifier's persistence layer.

Idempotent requests: a retried request with the same Idempotency-Key gets the first answer.
Powertools is loaded on first use: most requests carry no key, and it is slow to import.

The notifier (`eventlog.delivery.notifications`) records its decisions and deliveries with
Powertools' idempotent functions over a layer of its own: Powertools configures a layer once,
with the first config it is used with (the ingest path's has other keys).
"""

import hashlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from eventlog.base.config import get_settings
from eventlog.base.errors import ConflictError, IdempotencyKeyReusedError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

# A retry after this long is treated as a new request.
REMEMBER_SECONDS = 24 * 3600


@cache
def _persistence() -> "DynamoDBPersistenceLayer":
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


@cache
def notifier_persistence() -> "DynamoDBPersistenceLayer":
    """The notifier's records (see above: not the ingest path's layer)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


def run_once(
    scope: str, key: str, body: str, compute: Callable[[], dict[str, Any]], lambda_context: Any
) -> dict[str, Any]:
    """`compute()`'s result, computed once per (scope, key) and replayed afterwards."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[scope, key]",
        payload_validation_jmespath="body_sha256",
        expires_after_seconds=REMEMBER_SECONDS,
    )
    config.register_lambda_context(lambda_context)

    @idempotent_function(
        data_keyword_argument="request", persistence_store=_persistence(), config=config
    )
    def once(request: dict[str, str]) -> dict[str, Any]:
        return compute()

    request = {"scope": scope, "key": key, "body_sha256": hashlib.sha256(body.encode()).hexdigest()}
    try:
        return once(request=request)
    except IdempotencyValidationError:
        raise IdempotencyKeyReusedError(
            f"Idempotency-Key '{key}' was used before with a different body"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise ConflictError(
            f"a request with Idempotency-Key '{key}' is still in progress; retry shortly"
        ) from None
