"""The Client: `send()` returns at once; a background thread batches and delivers.

The caller's side is a bounded queue: when it is full (the server down for long, or far more
events than it takes) an event is dropped and counted in `dropped`, never waited for. Nothing
the client does raises into the caller: failures are counted (`counts()`) and logged on the
`eventlog_client` logger, which the logging handler never sends (no feedback loop).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from eventlog_client.delivery import (
    MAX_BATCH,
    MAX_BATCH_BYTES,
    Backoff,
    Batch,
    Outcome,
    encode,
    post_batch,
    utc_timestamp,
)
from eventlog_client.transport import Reply, Transport

logger = logging.getLogger("eventlog_client")

# The fields of an event the API takes besides message, level, name and service; any other
# keyword of send() goes into `data`.
EVENT_FIELDS = frozenset({"occurred_at", "count", "data", "stack", "tags", "event_id"})
# How often the sender looks for a flush or a close while it waits to fill a batch.
POLL_SECONDS = 0.05
STATS = ("timeseries", "by-level", "by-name", "top-messages", "hourly", "notifications")


class Client:
    """A client of one app of an Eventlog service.

    `key`: an ingest, user or admin key (or `token`: a bearer token). Writes need an ingest,
    user or admin credential; reads a user or admin one. `max_queue` events wait at most;
    a batch goes when it has `batch_size` events or its first event has waited
    `flush_interval` seconds. `event_ids`: give every event an id, so that a retry can
    never store it twice, even when the server lost track of the batch's Idempotency-Key (on
    the local stack, ids cost the server about five times as much per event).
    """

    def __init__(
        self,
        url: str,
        key: str | None = None,
        *,
        token: str | None = None,
        app_id: int,
        max_queue: int = 10_000,
        batch_size: int = MAX_BATCH,
        flush_interval: float = 1.0,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        event_ids: bool = True,
    ):
        self.transport = Transport(url, key=key, token=token, timeout=timeout)
        self.app_id = int(app_id)
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.flush_interval = flush_interval
        self.backoff = backoff or Backoff()
        self.event_ids = event_ids
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # queued or being delivered
        self._counts = dict.fromkeys(("accepted", "duplicates", "rejected", "failed", "retries"), 0)
        self._dropped = 0
        self._flushing = threading.Event()
        self._closing = threading.Event()
        self._give_up_at: float | None = None
        self._thread: threading.Thread | None = None
        self._carried: str | None = None  # an event that did not fit in the last batch

    # ------------------------------------------------------------------ writing

    def send(
        self,
        message: str | None = None,
        *,
        level: str = "INFO",
        name: str | None = None,
        service: str | None = None,
        **fields: Any,
    ) -> bool:
        """Queue one event; False when it was dropped (queue full, client closed). Keywords
        the API knows (occurred_at, count, data, stack, tags, event_id) are fields of the
        event; any other keyword goes into its `data`."""
        try:
            event: dict[str, Any] = {"level": level, "occurred_at": utc_timestamp()}
            for label, value in (("message", message), ("name", name), ("service", service)):
                if value is not None:
                    event[label] = value
            extra = {
                label: fields.pop(label) for label in list(fields) if label not in EVENT_FIELDS
            }
            event.update(fields)
            if extra:
                event["data"] = {**(event.get("data") or {}), **extra}
            return self._enqueue(event)
        except Exception:  # never into the caller's code path
            logger.exception("eventlog_client: an event could not be queued")
            return self._drop()

    def send_event(self, event: dict[str, Any]) -> bool:
        """Queue an event given as the API's JSON object (an event_id is added if missing);
        False when it was dropped."""
        try:
            return self._enqueue(event)
        except Exception:  # never into the caller's code path
            logger.exception("eventlog_client: an event could not be queued")
            return self._drop()

    def _enqueue(self, event: dict[str, Any]) -> bool:
        if self._closing.is_set():
            return self._drop()
        event = dict(event)
        event.pop("sent_at", None)  # set when the batch is sent
        if self.event_ids and not event.get("event_id"):
            event["event_id"] = uuid.uuid4().hex
        if self._thread is None:
            self._start()
        with self._lock:
            self._pending += 1
        try:
            self._queue.put_nowait(event)  # encoded by the sender: the caller pays less
        except queue.Full:
            with self._lock:
                self._pending -= 1
            return self._drop()
        return True

    @property
    def dropped(self) -> int:
        """Events refused because the queue was full or the client closed."""
        return self._dropped

    def counts(self) -> dict[str, int]:
        """accepted, duplicates, rejected (by the server), failed (given up at close),
        retries (attempts repeated), dropped (never queued) and pending (not answered yet)."""
        with self._lock:
            return {**self._counts, "dropped": self._dropped, "pending": self._pending}

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver what is queued now; True once nothing is pending, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._flushing.set()
        with self._idle:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(POLL_SECONDS if remaining is None else min(remaining, 1.0))
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Stop taking events, deliver what is queued within `timeout` seconds (retries stop
        then: what is left counts as failed). Called at exit; True if everything went."""
        self._closing.set()
        self._give_up_at = time.monotonic() + timeout
        delivered = self.flush(timeout)
        if self._thread is not None:
            self._thread.join(max(0.0, self._give_up_at - time.monotonic()) + 1.0)
        return delivered

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drop(self) -> bool:
        with self._lock:
            self._dropped += 1
        return False

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="eventlog-sender", daemon=True)
            self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not (self._closing.is_set() and self._queue.empty() and self._carried is None):
            events = self._collect()
            if not events:
                continue
            if self._giving_up():  # closing, and its time is up: no more attempts
                self._settle(len(events), Outcome(failed=len(events)))
                continue
            try:
                outcome = post_batch(
                    self.transport,
                    self.app_id,
                    Batch(events, sent_at="each" if self.event_ids else "once"),
                    backoff=self.backoff,
                    give_up=self._giving_up,
                    on_retry=self._retrying,
                )
            except Exception:  # a bug must not stop the sender: the batch is lost, counted
                logger.exception("eventlog_client: a batch could not be delivered")
                outcome = Outcome(failed=len(events))
            self._settle(len(events), outcome)

    def _collect(self) -> list[str]:
        """Up to batch_size events (and MAX_BATCH_BYTES): what is there on a flush or a close,
        else what comes within flush_interval of the first one."""
        first, self._carried = self._carried, None
        if first is None:
            try:
                first = encode(self._queue.get(timeout=POLL_SECONDS))
            except queue.Empty:
                self._flushing.clear()
                return []
        events, size = [first], len(first)
        deadline = time.monotonic() + self.flush_interval
        while len(events) < self.batch_size:
            try:
                event = encode(self._queue.get_nowait())
            except queue.Empty:
                if self._flushing.is_set() or self._closing.is_set():
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
                continue
            if size + len(event) > MAX_BATCH_BYTES:
                self._carried = event  # the next batch's first
                break
            events.append(event)
            size += len(event) + 1
        return events

    def _giving_up(self) -> bool:
        return self._give_up_at is not None and time.monotonic() >= self._give_up_at

    def _retrying(self, reply: Reply | None, error: OSError | None) -> None:
        with self._lock:
            self._counts["retries"] += 1
        logger.debug("eventlog_client: retrying a batch (%s)", reply.status if reply else error)

    def _settle(self, size: int, outcome: Outcome) -> None:
        for index, errors in outcome.rejections:
            logger.warning("eventlog_client: event %s of a batch rejected: %s", index, errors)
        if outcome.failed:
            logger.warning("eventlog_client: %s events not delivered before close", outcome.failed)
        with self._idle:
            self._counts["accepted"] += outcome.accepted
            self._counts["duplicates"] += outcome.duplicates
            self._counts["rejected"] += outcome.rejected
            self._counts["failed"] += outcome.failed
            self._pending -= size
            self._idle.notify_all()

    # ------------------------------------------------------------------ reading

    def events(self, *, page_size: int = 50, **filters: Any) -> Iterator[dict[str, Any]]:
        """The app's events, newest first, every page (by cursor): filters level, name,
        service, since, until (on received_at)."""
        yield from self.pages(f"/apps/{self.app_id}/events", limit=page_size, **filters)

    def event(self, event_id: str) -> dict[str, Any]:
        return self.get(f"/apps/{self.app_id}/events/{event_id}")

    def stats(self, kind: str, **params: Any) -> Any:
        """A statistic of the app: timeseries, by-level, by-name, top-messages, hourly or
        notifications, with the route's parameters (since, until, interval, level...)."""
        if kind not in STATS:
            raise ValueError(f"unknown statistic {kind!r}: one of {', '.join(STATS)}")
        return self.get(f"/apps/{self.app_id}/stats/{kind}", **params)

    def by_level(self, **params: Any) -> dict[str, int]:
        """{level: count} over since..until (default: the last 24 hours)."""
        items = self.stats("by-level", **params)["items"]
        return {item["level"]: item["count"] for item in items}

    def timeseries(self, interval: str = "HOUR", **params: Any) -> list[tuple[str, int]]:
        """[(bucket_start, count)], every bucket of since..until."""
        series = self.stats("timeseries", interval=interval, **params)["series"]
        return [(bucket["bucket_start"], bucket["count"]) for bucket in series]

    def get(self, path: str, **params: Any) -> Any:
        """GET a path of the API (ApiError on a 4xx or 5xx)."""
        return self.transport.call("GET", path, params=params).body

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated listing, following next_cursor."""
        cursor = None
        while True:
            page = self.get(path, **params, cursor=cursor)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
