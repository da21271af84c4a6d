"""Write routes' answers, computed once per Idempotency-Key when the client sends one.

Shared by the native and the seed ingest routes, so a retry behaves the same on all of them.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from eventlog.storage import idempotency


def answer_once(
    resolver: BaseRouter, scope: str, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """`compute()`'s answer (`{"status", "body"}`); with an Idempotency-Key, the first one
    replayed for a retry within `scope` (422 when the key comes back with another body)."""
    event = resolver.current_event
    key = event.headers.get("Idempotency-Key")
    if not key:
        return compute()
    return idempotency.run_once(
        scope=scope,
        key=key,
        body=event.decoded_body or "",
        compute=compute,
        lambda_context=resolver.lambda_context,
    )
