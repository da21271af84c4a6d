"""The Client and the logging handler against the local stack: exactly once across an outage,
nothing lost under load, drops counted (never blocking) when the queue is full."""

import logging
import socket
import time
from collections import Counter

import pytest
from eventlog_client import Client, EventlogHandler

from tests.clients.conftest import QUICK_BACKOFF
from tests.support.local_stack import settle
from tests.support.polling import eventually


@pytest.mark.parametrize("event_ids", [True, False], ids=["event-ids", "idempotency-key-only"])
def test_every_event_arrives_exactly_once_across_an_outage(proxy, new_app, reader, event_ids):
    app = new_app()
    client = Client(
        proxy.url, app["ingest_key"], app_id=app["id"], flush_interval=0.1,
        backoff=QUICK_BACKOFF, event_ids=event_ids,
    )  # fmt: skip
    sent = []

    def send(count: int) -> None:
        for _ in range(count):
            sent.append(f"event {len(sent)}")
            assert client.send(sent[-1], level="WARNING", attempt=len(sent)) is True

    send(50)
    assert client.flush(30)
    proxy.set_mode("down")  # 503, nothing reaches the stack
    send(100)
    eventually(lambda: proxy.failed >= 3, "3 refused requests", every=0.02)
    proxy.set_mode("lose")  # stored by the stack, but the client hears 502
    failed = proxy.failed
    send(100)
    eventually(lambda: proxy.failed >= failed + 3, "3 more refused", every=0.02)
    proxy.set_mode("up")
    assert client.flush(60)

    counts = client.counts()
    assert counts["retries"] >= 6
    assert counts["accepted"] + counts["duplicates"] == len(sent) == 250
    assert counts["rejected"] == counts["failed"] == counts["dropped"] == 0
    stored = Counter(event["message"] for event in reader(app["id"]).events())
    assert stored == Counter(sent)  # every one, each once
    client.close()


# 10,000 events take the local stack 20 to 40 s on two shared cores.
@pytest.mark.timeout(300)
def test_the_handler_loses_no_record_of_ten_thousand(stack, new_app, reader):
    app = new_app()
    # Without event ids: the stack stores five times as fast (batches stay retry-safe by key).
    handler = EventlogHandler(
        url=stack.url, key=app["ingest_key"], app_id=app["id"], event_ids=False
    )
    log = logging.getLogger("tests.sdk.load")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        started = time.perf_counter()
        for number in range(10_000):
            log.info("record %d", number, extra={"number": number})
        logging_seconds = time.perf_counter() - started
        assert handler.client.flush(300)
    finally:
        log.removeHandler(handler)
        handler.close()

    assert logging_seconds < 5  # the caller never waited for the server (about 20 µs a call)
    counts = handler.client.counts()
    assert (counts["accepted"], counts["dropped"], counts["rejected"]) == (10_000, 0, 0)
    settle(stack)
    assert reader(app["id"]).by_level() == {"INFO": 10_000}
    newest = next(reader(app["id"]).events())
    assert newest["service"] == "tests.sdk.load"
    assert newest["message"] == f"record {newest['data']['number']}"


def test_a_full_queue_drops_and_counts_never_blocks(proxy, stack, new_app, reader):
    app = new_app()
    client = Client(
        proxy.url, app["ingest_key"], app_id=app["id"], max_queue=100, flush_interval=0.05,
        backoff=QUICK_BACKOFF,
    )  # fmt: skip
    handler = EventlogHandler(client)
    log = logging.getLogger("tests.sdk.full")
    log.propagate = False
    log.addHandler(handler)
    proxy.set_mode("hang")  # the server takes nothing: the sender waits on its first batch
    try:
        started = time.perf_counter()
        for number in range(1_000):
            log.warning("record %d", number)
        logging_seconds = time.perf_counter() - started
        counts = client.counts()
        proxy.set_mode("up")
        assert client.flush(60)
    finally:
        log.removeHandler(handler)
        client.close()

    assert logging_seconds < 1  # dropping, not waiting
    # 100 queued, at most one batch of 100 taken by the sender before the queue filled
    assert 800 <= counts["dropped"] <= 900
    assert counts["dropped"] + counts["pending"] == 1_000
    assert client.dropped == counts["dropped"]
    delivered = client.counts()["accepted"]
    assert delivered == 1_000 - counts["dropped"]
    settle(stack)
    assert reader(app["id"]).by_level() == {"WARNING": delivered}


def test_a_record_becomes_an_event(stack, new_app, reader):
    app = new_app()
    handler = EventlogHandler(url=stack.url, key=app["ingest_key"], app_id=app["id"])
    log = logging.getLogger("tests.sdk.fields")
    log.propagate = False
    log.addHandler(handler)
    try:
        try:
            {}["missing"]
        except KeyError:
            log.exception("order %s failed", 42, extra={"order_id": 42, "customer": "ada"})
        log.log(logging.WARNING + 5, "between warning and error")
        handler.flush()
    finally:
        log.removeHandler(handler)
        handler.close()

    custom, failure = reader(app["id"]).events()  # newest first
    assert failure["level"] == "ERROR"
    assert failure["message"] == "order 42 failed"
    assert failure["service"] == "tests.sdk.fields"
    assert failure["data"] == {"order_id": 42, "customer": "ada"}
    assert failure["stack"]["type"] == "KeyError"
    assert failure["stack"]["frames"][-1]["function"] == "test_a_record_becomes_an_event"
    assert "KeyError: 'missing'" in failure["stack"]["text"]
    assert failure["event_id"]
    assert custom["level"] == "WARNING"


def test_an_unreachable_server_never_raises_into_the_caller():
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", "key", app_id=1, backoff=QUICK_BACKOFF)
    assert all(client.send("lost", level="ERROR") for _ in range(5))
    assert client.close(timeout=0.5) is False
    counts = client.counts()
    assert (counts["failed"], counts["accepted"], counts["pending"]) == (5, 0, 0)
    assert counts["retries"] >= 1
    assert client.send("after close") is False
    assert client.dropped == 1
