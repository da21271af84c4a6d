"""Propagation: forwarding each subscription's new events to its URL, and the heartbeat.

A run (one scheduled invocation) is one round, or several (see "Sub-minute rates"). A round:
1. lists the enabled subscriptions (a Query on the registry's gsi1 `SUBS`, never a Scan) and
   works on those that are due (not backing off) in parallel, each under a lease;
2. writes a heartbeat event into the service's internal app, `eventlog-internal`
   (`name: eventlog.heartbeat`, service `propagator`, the round's figures in `data`), created by
   the first round that needs it (`eventlog.access.apps.internal_app_id`). It is written when the
   round is done, so a gap in heartbeats shows that rounds stopped completing, whatever the
   cause. Heartbeats stay out of every client's app (`default` included): no seed listing,
   `/metrics` or native listing of a client's app shows them. Stacks older than this wrote them
   into `default`; those expire with the events table's retention, and `/metrics` (which
   subtracts the heartbeat counter) never counted them.

Forwarding one subscription: its events after its checkpoint are read oldest first and sent as
signed JSON batches of up to `batch_size` events and about MAX_BATCH_BYTES (formats below). The
checkpoint is a position: every event with an id up to it was delivered or left out. It moves
only after a 2xx answer, to the last event of the batch or past the events the filter left out
after it (up to the delay's cutoff, `highest_ulid(now - delay)`, once everything before it is
read), with a write conditional on the checkpoint still being the one read: two runs can never
move it backwards, and no event is skipped. Delivery is at least once: a batch sent again after
a failure (or after a run died between the answer and the checkpoint) carries the same
`Idempotency-Key`, so a receiver can drop repeats. Events the filter leaves out (and expired
ones) are read past and the checkpoint moves on; a round reads at most MAX_ITEMS_READ items of a
subscription, so a rare filter cannot make it read an app's whole history at once (the next
round goes on from there).

Only events older than PROPAGATION_DELAY_SECONDS (by the time in their ULID) are forwarded. An
event's id is stamped when its request is received, but it becomes readable only when the write
completes, up to the ingest function's timeout later (a slow batch, retries). Were the
checkpoint moved to the newest event readable now, an event stamped earlier and still in flight
would land below the checkpoint and never be forwarded. Reading only up to `now - delay`, with
the delay longer than any write can take (and than DynamoDB's eventually consistent reads lag),
leaves nothing in flight below the checkpoint. One case it cannot cover: a request with a client
`event_id` that died between claiming the id and storing the event, retried after the delay,
stores the event under the id claimed earlier, below the checkpoint (see eventlog.events.ingestion).

Failures: a non-2xx answer, a network error, a refused target (outbound's SSRF rules) or a
signing secret that cannot be read adds one to `consecutive_failures`, keeps `last_error` (with
the status) and `last_error_at`, and sets `next_attempt_at` = round start + min(interval x
2^(failures-1), MAX_BACKOFF_SECONDS); the subscription is left alone until then. After
SUBSCRIPTION_MAX_FAILURES in a row it is disabled (`enabled: false`, `disabled_reason` naming
the last error) until a user enables it again. A 2xx resets the run of failures. An unexpected
error of our own (DynamoDB, say) is that subscription's outcome for the round (status `error`),
not counted: the next round tries again.

State writes: the admin API writes a subscription's configuration, this module only its state
(checkpoint, failures, lease), each only its own attributes, so neither overwrites the other
(`eventlog.storage.registry`, "subscriptions: delivery state").

Leases: a subscription is worked on under a lease (a conditional write) that lasts until the
invocation's end plus a margin, and is released when the subscription is done. Overlapping runs
(a manual invoke, a schedule retry, the local stack) never work on the same subscription at
once; the lease of a run that died expires by itself.

Sub-minute rates: EventBridge Scheduler runs the function at most once a minute. With
PROPAGATION_INTERVAL_SECONDS = N below 60, one invocation runs a round every N seconds for a
minute (rounds start at 0, N, 2N, ... < 60 s, sleeping in between), each with its heartbeat, and
starts no round when less than MIN_ROUND_SECONDS are left before the Lambda's timeout (less
STOP_MARGIN_SECONDS). Within a round, a batch is sent only while its request can finish in the
time left. With N = 60 (or more) an invocation is one round.

Bodies (UTF-8 JSON):
- `eventlog`: `{"subscription_id", "app_id", "batch_id", "events": [events as the API returns
  them]}`;
- `consumer`: `[{"event_type": <name, or level>, "event_payload": "<the event as JSON text>"}]`,
  what an event consumer (seed 003, `POST /api/event`) takes.
Headers: `X-Eventlog-Timestamp` and `X-Eventlog-Signature` (outbound.signature_headers, with the
subscription's secret), `Idempotency-Key` (= batch_id: sha256 of the subscription id and the
batch's first and last event ids), `X-Eventlog-Subscription`, and `Authorization: Bearer <token>`
when the subscription has one.
"""

import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from eventlog.access import apps
from eventlog.base.concurrency import run_parallel
from eventlog.base.config import get_settings
from eventlog.base.ids import highest_ulid
from eventlog.base.timeutil import epoch_seconds, format_iso, parse_iso, utcnow
from eventlog.delivery import outbound, subscriptions
from eventlog.events import ingestion
from eventlog.models.events import HEARTBEAT_NAME, Event
from eventlog.models.subscriptions import Subscription
from eventlog.storage import event_store, registry

HEARTBEAT_SERVICE = "propagator"

# Reads of one subscription in one round (about 35 read units at 1 KB an event).
MAX_ITEMS_READ = 1000
READ_PAGE_SIZE = 200
# A batch stops short of this many bytes of events (one event may exceed it alone): receivers
# limit request sizes, and 100 events of up to 256 KB each would make a batch no one takes.
MAX_BATCH_BYTES = 1_000_000
MAX_BACKOFF_SECONDS = 3600
ERROR_CHARS = 300

# One batch's request: a 5 s timeout, tried twice half a second apart when time allows.
REQUEST_TIMEOUT_SECONDS = 5.0
REQUEST_ATTEMPTS = 2
REQUEST_BACKOFF_SECONDS = 0.5
# Rounds start within this window of an invocation (the schedule's one-minute period).
ROUNDS_WINDOW_SECONDS = 60
# A run stops this long before the Lambda's timeout; a round needs this long to be worth it.
STOP_MARGIN_SECONDS = 3.0
MIN_ROUND_SECONDS = 10.0
# A lease outlives its invocation by this much (clock differences between runs).
LEASE_MARGIN_SECONDS = 10
# Secrets are read one thread at a time: the first read creates the SSM client, and creating
# boto3 clients from one session is not thread-safe. Later reads come from secret_store's cache.
_SECRETS_LOCK = threading.Lock()


class Clock:
    """Time as the propagator sees it (tests replace `clock` with a fake one)."""

    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


clock = Clock()


# ---------------------------------------------------------------- reports


@dataclass
class Outcome:
    """What one round did with one subscription (one log line)."""

    subscription_id: str
    app_id: int
    # delivered | idle | failed | disabled | backing_off | busy | conflict | error
    status: str
    delivered: int = 0  # events delivered (2xx) in this round
    batches: int = 0
    skipped: int = 0  # read and left out: not matching the filter, or expired
    checkpoint: str | None = None
    complete: bool = True  # False: stopped by the read cap or the time left; more may follow
    error: str | None = None
    next_attempt_at: str | None = None


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    """An outcome as log fields (unset ones left out)."""
    return {name: value for name, value in asdict(outcome).items() if value is not None}


@dataclass
class RoundReport:
    round: int
    started_at: str
    outcomes: list[Outcome] = field(default_factory=list)
    duration_ms: int = 0
    heartbeat_id: str | None = None
    heartbeat_error: str | None = None  # why writing it failed

    def count(self, *statuses: str) -> int:
        return sum(outcome.status in statuses for outcome in self.outcomes)

    @property
    def delivered(self) -> int:
        return sum(outcome.delivered for outcome in self.outcomes)

    def stats(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "subscriptions": len(self.outcomes),
            "delivered_events": self.delivered,
            "batches": sum(outcome.batches for outcome in self.outcomes),
            "failed": self.count("failed", "disabled", "error"),
            "disabled": self.count("disabled"),
            "backing_off": self.count("backing_off"),
            "busy": self.count("busy"),
            "duration_ms": self.duration_ms,
            "interval_seconds": get_settings().propagation_interval_seconds,
            "delay_seconds": get_settings().propagation_delay_seconds,
        }


@dataclass
class RunReport:
    rounds: list[RoundReport]

    def summary(self) -> dict[str, Any]:
        return {
            "rounds": len(self.rounds),
            "delivered_events": sum(report.delivered for report in self.rounds),
            "failed": sum(report.count("failed", "disabled", "error") for report in self.rounds),
            "disabled": sum(report.count("disabled") for report in self.rounds),
        }


# ---------------------------------------------------------------- a run


@dataclass(frozen=True)
class _Round:
    owner: str  # the lease owner: this invocation
    now: datetime  # one clock read: due times, the delay cutoff, backoffs
    deadline: float  # clock.monotonic() by which the invocation must be done

    def left(self) -> float:
        return self.deadline - clock.monotonic()

    def lease_until_ms(self) -> int:
        seconds = self.left() + STOP_MARGIN_SECONDS + LEASE_MARGIN_SECONDS
        return int((self.now.timestamp() + seconds) * 1000)


def run(
    remaining_ms: int,
    on_round: Callable[[RoundReport], None] | None = None,
    run_id: str | None = None,
) -> RunReport:
    """One scheduled invocation: a round, or a round every N seconds for a minute (N < 60).

    `remaining_ms` is the Lambda's time left (context.get_remaining_time_in_millis()); `on_round`
    sees each round's report as soon as it is done (the handler logs it).
    """
    interval = get_settings().propagation_interval_seconds
    owner = run_id or uuid.uuid4().hex
    start = clock.monotonic()
    deadline = start + remaining_ms / 1000 - STOP_MARGIN_SECONDS
    rounds: list[RoundReport] = []
    slot = 0
    while True:
        report = run_round(_Round(owner, clock.now(), deadline), number=len(rounds) + 1)
        rounds.append(report)
        if on_round is not None:
            on_round(report)
        if interval >= ROUNDS_WINDOW_SECONDS:
            break
        # The next slot still ahead: a round that overran its slot skips the ones it missed.
        slot = max(slot + 1, math.ceil((clock.monotonic() - start) / interval))
        next_start = start + slot * interval
        if slot * interval >= ROUNDS_WINDOW_SECONDS or deadline - next_start < MIN_ROUND_SECONDS:
            break
        wait = next_start - clock.monotonic()
        if wait > 0:
            clock.sleep(wait)
    return RunReport(rounds)


def run_round(context: _Round, number: int = 1) -> RoundReport:
    """Forward for every enabled subscription that is due, then write the heartbeat."""
    started = clock.monotonic()
    report = RoundReport(round=number, started_at=format_iso(context.now))
    candidates = [subscriptions.from_item(item) for item in registry.enabled_subscriptions()]
    report.outcomes = run_parallel([partial(_guarded, sub, context) for sub in candidates])
    report.duration_ms = int((clock.monotonic() - started) * 1000)
    _write_heartbeat(report)
    return report


def _write_heartbeat(report: RoundReport) -> None:
    try:
        stored = ingestion.ingest_one(
            apps.internal_app_id(),
            {
                "name": HEARTBEAT_NAME,
                "level": "INFO",
                "service": HEARTBEAT_SERVICE,
                "message": f"propagation round {report.round}",
                "data": report.stats(),
            },
        )
        report.heartbeat_id = stored.event.id
    except Exception as error:  # the heartbeat must not stop the rounds that follow
        report.heartbeat_error = f"heartbeat not written: {type(error).__name__}: {error}"


# ---------------------------------------------------------------- one subscription


def _guarded(sub: Subscription, context: _Round) -> Outcome:
    """Forward for one subscription; an unexpected error is its outcome, not the round's end."""
    try:
        return forward(sub, context)
    except Exception as error:
        return Outcome(
            sub.id,
            sub.app_id,
            "error",
            checkpoint=sub.checkpoint,
            error=_short(f"{type(error).__name__}: {error}"),
        )


def _due(sub: Subscription, now: datetime) -> bool:
    return sub.next_attempt_at is None or parse_iso(sub.next_attempt_at) <= now


def forward(listed: Subscription, context: _Round) -> Outcome:
    """Lease the subscription, forward its new events, release it."""
    if not _due(listed, context.now):
        return _backing_off(listed)
    item = registry.lease_subscription(
        listed.app_id, listed.id, context.owner, context.now, context.lease_until_ms()
    )
    if item is None:
        return Outcome(listed.id, listed.app_id, "busy", checkpoint=listed.checkpoint)
    leased = subscriptions.from_item(item)
    try:
        if not _due(leased, context.now):  # the listing (an index) may be behind
            return _backing_off(leased)
        return _Forwarding(leased, context).run()
    finally:
        registry.release_subscription_lease(leased.app_id, leased.id, context.owner)


def _backing_off(sub: Subscription) -> Outcome:
    return Outcome(
        sub.id,
        sub.app_id,
        "backing_off",
        checkpoint=sub.checkpoint,
        error=sub.last_error,
        next_attempt_at=sub.next_attempt_at,
    )


class _Forwarding:
    """One subscription's work in one round, under its lease."""

    def __init__(self, sub: Subscription, context: _Round):
        self.sub = sub
        self.context = context
        self.checkpoint = sub.checkpoint
        self.failures = sub.consecutive_failures
        self.outcome = Outcome(sub.id, sub.app_id, "idle", checkpoint=sub.checkpoint)
        self._secrets: tuple[str, str | None] | None = None

    def run(self) -> Outcome:
        settings = get_settings()
        cutoff = self.context.now - timedelta(seconds=settings.propagation_delay_seconds)
        highest = highest_ulid(cutoff)
        pages = event_store.event_pages_ascending(
            self.sub.app_id,
            after_id=self.checkpoint,
            highest_id=highest,
            now_epoch=epoch_seconds(self.context.now),
            any_of=_filter_values(self.sub),
            page_size=READ_PAGE_SIZE,
        )
        pending: list[Event] = []
        pending_bytes = 0
        read_through = self.checkpoint  # every event up to here is sent, pending or left out
        read = 0
        for page in pages:
            read += page.evaluated
            self.outcome.skipped += page.evaluated - len(page.events)
            for event in page.events:
                size = len(_json(event.model_dump(mode="json")).encode())
                if pending and pending_bytes + size > MAX_BATCH_BYTES:
                    if not self._send(pending, pending[-1].id):
                        return self.outcome
                    pending, pending_bytes = [], 0
                pending.append(event)
                pending_bytes += size
                if len(pending) == self.sub.batch_size:
                    if not self._send(pending, pending[-1].id):
                        return self.outcome
                    pending, pending_bytes = [], 0
            read_through = page.last_id or highest  # no last key: read to the end of the range
            if page.last_id is not None and read >= MAX_ITEMS_READ:
                self.outcome.complete = False
                break
        if pending:
            self._send(pending, read_through)
        elif read_through > self.checkpoint:
            self._skip_to(read_through)
        return self.outcome

    # ------------------------------------------------------------ delivery

    def _send(self, events: list[Event], new_checkpoint: str) -> bool:
        """Deliver a batch and move the checkpoint; False when this round stops here."""
        plan = _request_plan(self.context.left())
        if plan is None:
            self.outcome.complete = False
            return False
        timeout, attempts = plan
        body, batch_id = batch_body(self.sub, events)
        try:
            headers = self._headers(body, batch_id)
        except Exception as error:  # counted: a subscription that cannot sign cannot deliver
            self._record_failure(f"its signing secret cannot be read: {type(error).__name__}")
            return False
        try:
            outbound.post_json(
                self.sub.url,
                body,
                headers,
                timeout=timeout,
                attempts=attempts,
                backoff=REQUEST_BACKOFF_SECONDS,
                time_left=self.context.left(),
            )
        except outbound.DeliveryError as error:
            self._record_failure(error.message)
            return False
        if not self._advance(new_checkpoint, delivered=len(events)):
            # Another run moved it: it owns the rest (it may send this batch again, same key).
            self.outcome.status = "conflict"
            self.outcome.error = "the checkpoint was moved by another run"
            return False
        self.checkpoint = self.outcome.checkpoint = new_checkpoint
        self.failures = 0
        self.outcome.status = "delivered"
        self.outcome.delivered += len(events)
        self.outcome.batches += 1
        return True

    def _headers(self, body: bytes, batch_id: str) -> dict[str, str]:
        if self._secrets is None:
            with _SECRETS_LOCK:
                self._secrets = subscriptions.subscription_secrets(self.sub)
        secret, token = self._secrets
        headers = {
            **outbound.signature_headers(secret, body),
            "Idempotency-Key": batch_id,
            "X-Eventlog-Subscription": self.sub.id,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _skip_to(self, new_checkpoint: str) -> None:
        """Move past events the filter left out (nothing to deliver)."""
        if self._advance(new_checkpoint, delivered=0):
            self.checkpoint = self.outcome.checkpoint = new_checkpoint
        else:
            self.outcome.status = "conflict"
            self.outcome.error = "the checkpoint was moved by another run"

    def _advance(self, new_checkpoint: str, delivered: int) -> bool:
        """Move the checkpoint from the one read (False: another run moved it)."""
        return registry.advance_checkpoint(
            self.sub.app_id,
            self.sub.id,
            self.checkpoint,
            new_checkpoint,
            delivered,
            at=format_iso(clock.now()),
        )

    def _record_failure(self, message: str) -> None:
        settings = get_settings()
        failures = self.failures + 1
        error = _short(message)
        disable = failures >= settings.subscription_max_failures
        backoff = min(
            settings.propagation_interval_seconds * 2 ** (failures - 1), MAX_BACKOFF_SECONDS
        )
        next_attempt = (
            None if disable else format_iso(self.context.now + timedelta(seconds=backoff))
        )
        registry.record_delivery_failure(
            self.sub.app_id,
            self.sub.id,
            owner=self.context.owner,
            failures_before=self.failures,
            error=error,
            at=format_iso(clock.now()),
            next_attempt_at=next_attempt,
            disabled_reason=(
                _short(f"disabled after {failures} failed deliveries in a row; last: {error}")
                if disable
                else None
            ),
        )
        self.failures = failures
        self.outcome.status = "disabled" if disable else "failed"
        self.outcome.error = error
        self.outcome.next_attempt_at = next_attempt


def _request_plan(left: float) -> tuple[float, int] | None:
    """(timeout, attempts) of a request that can finish in `left` seconds, or None."""
    full = REQUEST_TIMEOUT_SECONDS * REQUEST_ATTEMPTS + REQUEST_BACKOFF_SECONDS
    if left >= full:
        return REQUEST_TIMEOUT_SECONDS, REQUEST_ATTEMPTS
    if left >= REQUEST_TIMEOUT_SECONDS:
        return REQUEST_TIMEOUT_SECONDS, 1
    return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _filter_values(sub: Subscription) -> dict[str, list[str]]:
    """The subscription's filter as event fields and the values each may have."""
    rules = sub.filter
    fields = {"level": rules.levels, "name": rules.names, "service": rules.services}
    return {name: [str(v) for v in values] for name, values in fields.items() if values}


# ---------------------------------------------------------------- batches


def batch_id(subscription_id: str, events: list[Event]) -> str:
    """Stable for the same batch, so a batch sent again carries the same Idempotency-Key."""
    text = f"{subscription_id}:{events[0].id}:{events[-1].id}"
    return hashlib.sha256(text.encode()).hexdigest()


def batch_body(sub: Subscription, events: list[Event]) -> tuple[bytes, str]:
    """The request body in the subscription's format, and the batch id."""
    identifier = batch_id(sub.id, events)
    dumped = [event.model_dump(mode="json") for event in events]
    payload: Any
    if sub.format == "consumer":
        payload = [
            {"event_type": event.name or str(event.level), "event_payload": _json(item)}
            for event, item in zip(events, dumped, strict=True)
        ]
    else:
        payload = {
            "subscription_id": sub.id,
            "app_id": sub.app_id,
            "batch_id": identifier,
            "events": dumped,
        }
    return _json(payload).encode(), identifier


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
