"""Posting batches of events, retried without duplicates.

Every batch has an `Idempotency-Key` and, by default, every event an `event_id`, both kept
across the retries of that batch, so a batch the server stored but whose answer was lost is
stored once. With event ids, each attempt sets `sent_at` afresh, so the server's clock-skew
correction does not count the time spent waiting for a retry; the server then sees the same
key with another body (422 IDEMPOTENCY_KEY_REUSED) only when an earlier attempt was stored,
and the batch is sent once more without the key: its event ids make every stored event a
duplicate. Without event ids the body stays the same, and the key replays the first answer.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from eventlog_client.transport import Reply, Transport

MAX_BATCH = 100
# The API refuses bodies over 256 KB (413): batches are cut below that.
MAX_BATCH_BYTES = 250_000
KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
# 409 CONFLICT: an attempt with this Idempotency-Key is still being processed.
IN_PROGRESS = 409


def utc_timestamp(moment: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds, as the API writes times."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(event: dict[str, Any]) -> str:
    """Compact JSON; values JSON can't hold (datetimes, objects) are written as text, and
    `data`, `stack` or `tags` that can't be written at all (a cycle) as their repr."""
    try:
        return json.dumps(event, separators=(",", ":"), default=str, ensure_ascii=False)
    except ValueError:
        readable = {
            **event,
            **{
                part: {"repr": repr(event[part])[:2000]}
                for part in ("data", "stack", "tags")
                if part in event
            },
        }
        return json.dumps(readable, separators=(",", ":"), default=str, ensure_ascii=False)


@dataclass
class Outcome:
    """What the server did with one batch (or, for `failed`, what it never took)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    # (index in the batch, errors) of each rejected event
    rejections: list[tuple[int, Any]] = field(default_factory=list)


@dataclass
class Backoff:
    """Exponential backoff with jitter: a random wait in [delay/2, delay], delay doubling from
    `base` up to `cap` seconds; a Retry-After the server sends is honoured (up to `cap`)."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, reply: Reply | None = None) -> float:
        ceiling = min(self.cap, self.base * 2**attempt)
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not cryptographic
        retry_after = (reply.headers.get("retry-after") if reply else None) or ""
        if retry_after.strip().isdigit():
            wait = max(wait, min(self.cap, float(retry_after)))
        return wait


class Batch:
    """Encoded events and the batch's Idempotency-Key, fixed for all its attempts.

    `sent_at`: "each" attempt stamps it afresh (the events have event ids, which answer for a
    retry once the body differs), "once" stamps the first attempt's and sends the same body
    every time (the Idempotency-Key alone answers for a retry), "never" sends none (imports:
    their times are not the sender's clock)."""

    def __init__(
        self, events: list[str], idempotency_key: str | None = None, sent_at: str = "each"
    ):
        self.events = events
        self.idempotency_key = idempotency_key or uuid.uuid4().hex
        self.sent_at = sent_at
        self._body: bytes | None = None

    def body(self) -> bytes:
        if self._body is not None:
            return self._body
        if self.sent_at == "never":
            body = ("[" + ",".join(self.events) + "]").encode()
        else:
            sent_at = ',"sent_at":' + json.dumps(utc_timestamp()) + "}"
            # Each encoded event is a JSON object: sent_at goes in before its closing brace.
            body = ("[" + ",".join(event[:-1] + sent_at for event in self.events) + "]").encode()
        if self.sent_at != "each":
            self._body = body
        return body


def post_batch(
    transport: Transport,
    app_id: int,
    batch: Batch,
    *,
    backoff: Backoff | None = None,
    give_up: Callable[[], bool] = lambda: False,
    on_retry: Callable[[Reply | None, OSError | None], None] = lambda reply, error: None,
) -> Outcome:
    """Post `batch` until the server answers it for good (or `give_up()` says stop); every
    batch is answered with per-item statuses, which the Outcome counts."""
    backoff = backoff or Backoff()
    path = f"/apps/{app_id}/events"
    use_key = True
    attempt = 0
    while True:
        headers = {"Idempotency-Key": batch.idempotency_key} if use_key else {}
        reply: Reply | None = None
        error: OSError | None = None
        try:
            reply = transport.exchange(
                "POST", path, body=batch.body(), headers=headers, ingest=True
            )
        except OSError as failure:  # refused, reset, timed out: the server may have stored it
            error = failure
        if reply is not None and _code(reply) == KEY_REUSED and use_key:
            use_key = False  # an earlier attempt was stored: event ids answer for it now
            continue
        if reply is not None and not (reply.retryable or reply.status == IN_PROGRESS):
            return _outcome(reply, len(batch.events))
        if give_up():
            return Outcome(failed=len(batch.events))
        on_retry(reply, error)
        time.sleep(backoff.delay(attempt, reply))
        attempt += 1


def _code(reply: Reply) -> str | None:
    return reply.body.get("error") if isinstance(reply.body, dict) else None


def _outcome(reply: Reply, size: int) -> Outcome:
    body = reply.body if isinstance(reply.body, dict) else {}
    items = body.get("items")
    if not isinstance(items, list):  # refused whole: 401, 403, 413, ...
        return Outcome(rejected=size, rejections=[(-1, body or reply.status)])
    outcome = Outcome(
        accepted=int(body.get("accepted", 0)),
        duplicates=int(body.get("duplicates", 0)),
        rejected=int(body.get("rejected", 0)),
    )
    outcome.rejections = [
        (item.get("index", -1), item.get("errors"))
        for item in items
        if item.get("status") == "rejected"
    ]
    return outcome
