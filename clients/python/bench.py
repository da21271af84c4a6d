"""The SDK's two figures against a running service (`make local` prints URL, key and app):

- the caller's cost of one `logger.info` with EventlogHandler installed (µs a call: what the
  application pays; the sending happens on the client's thread);
- the client's throughput into the service (events/s, from the first send to the last answer),
  with event ids (the default) and without.

    python clients/python/bench.py --url http://127.0.0.1:3000 --key INGEST_KEY --app 1
"""

from __future__ import annotations

import argparse
import logging
import time

from eventlog_client import Client, EventlogHandler


def caller_cost(url: str, key: str, app_id: int, calls: int) -> float:
    """Mean µs per logger.info call (the queue holds every record: nothing is dropped)."""
    handler = EventlogHandler(url=url, key=key, app_id=app_id, max_queue=calls, event_ids=False)
    log = logging.getLogger("bench")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    started = time.perf_counter()
    for number in range(calls):
        log.info("request %d served", number, extra={"path": "/orders", "status": 200})
    elapsed = time.perf_counter() - started
    log.removeHandler(handler)
    handler.client.flush(600)
    handler.close()
    return elapsed / calls * 1e6


def throughput(url: str, key: str, app_id: int, events: int, event_ids: bool) -> float:
    client = Client(url, key, app_id=app_id, max_queue=events, event_ids=event_ids)
    started = time.perf_counter()
    for number in range(events):
        client.send(f"event {number}", level="INFO", name="bench", number=number)
    if not client.flush(1200):
        raise SystemExit(f"not delivered within 20 minutes: {client.counts()}")
    elapsed = time.perf_counter() - started
    client.close()
    counts = client.counts()
    assert counts["accepted"] == events, counts
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True, help="an ingest (or user, admin) key of the app")
    parser.add_argument("--app", type=int, required=True)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=5_000)
    args = parser.parse_args()
    cost = caller_cost(args.url, args.key, args.app, args.calls)
    print(f"logger.info with EventlogHandler: {cost:.1f} µs a call ({args.calls:,} calls)")
    for event_ids in (False, True):
        rate = throughput(args.url, args.key, args.app, args.events, event_ids)
        label = "with event ids" if event_ids else "without event ids"
        print(f"throughput into {args.url}, {label}: {rate:,.0f} events/s ({args.events:,} events)")


if __name__ == "__main__":
    main()
