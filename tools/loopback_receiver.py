"""A real HTTP server on loopback that records what it receives: the receiver of webhooks and
subscription batches in the tests and in the benchmark (the only address either contacts), and
`make receiver PORT=9000 [SECRET=...]`, which prints each delivery the local stack makes and
whether its signature verifies (README, "Verifying a signature")."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SIGNATURE_MAX_AGE_SECONDS = 300


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackReceiver:
    """A real HTTP server on 127.0.0.1 that records every request (webhooks, subscribers).

    It answers 200 unless told otherwise: `fail_next(n, status)` answers the next n requests
    with `status`; `set_status(status)` changes the answer for every request until set back.
    """

    def __init__(self, port: int = 0, on_receive: Callable[[Received, int], None] | None = None):
        receiver = self
        self.requests: list[Received] = []
        self.statuses: list[int] = []  # what each request was answered
        self._lock = threading.Condition()
        self._failures: list[int] = []
        self._status = 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    "POST",
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    self.rfile.read(length),
                )
                status = receiver._record(request)
                if on_receive:
                    on_receive(request, status)
                payload = json.dumps({"received": status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def _record(self, request: Received) -> int:
        with self._lock:
            self.requests.append(request)
            status = self._failures.pop(0) if self._failures else self._status
            self.statuses.append(status)
            self._lock.notify_all()
            return status

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def set_status(self, status: int) -> None:
        with self._lock:
            self._status = status

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """At least `count` requests received (or AssertionError after `timeout` seconds)."""
        return self.wait_until(
            lambda requests: len(requests) >= count, f"{count} requests", timeout
        )

    def wait_until(
        self, condition: Callable[[list[Received]], bool], expected: str, timeout: float = 20
    ) -> list[Received]:
        """The requests received once `condition` holds of them (or AssertionError naming what
        was `expected` after `timeout` seconds)."""
        with self._lock:
            arrived = self._lock.wait_for(lambda: condition(self.requests), timeout)
            assert arrived, f"{len(self.requests)} requests received, expected {expected}"
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def verify(secret: str, body: bytes, headers: dict[str, str]) -> str:
    """The README's check of a delivery's signature (HMAC-SHA256 of the timestamp, a dot and
    the raw body): "verified", or what is wrong. Header names in lower case."""
    timestamp, signature = headers.get("x-eventlog-timestamp"), headers.get("x-eventlog-signature")
    if not timestamp or not signature:
        return "unsigned (no X-Eventlog-Signature: a Slack message, or not from Eventlog)"
    signed = f"{timestamp}.".encode() + body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "SIGNATURE DOES NOT MATCH (another secret?)"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return f"signature matches, but the timestamp is over {SIGNATURE_MAX_AGE_SECONDS}s old"
    return "signature verified"


def describe(request: Received, status: int, secret: str | None) -> str:
    """A delivery as `make receiver` prints it."""
    headers = request.headers
    lines = [f"{time.strftime('%H:%M:%S')} {request.method} {request.path} -> {status}"]
    lines += [
        f"  {name}: {headers[name]}"
        for name in ("x-eventlog-delivery", "idempotency-key")  # what repeats share
        if name in headers
    ]
    if secret is not None:
        lines.append(f"  {verify(secret, request.body, headers)}")
    try:
        body = json.dumps(request.json, indent=2, ensure_ascii=False)
    except ValueError:
        body = request.body.decode(errors="replace")
    lines += [f"  {line}" for line in body.splitlines()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make receiver", description=__doc__)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", help="the webhook's or subscription's secret, to verify")
    args = parser.parse_args(argv)

    def show(request: Received, status: int) -> None:
        print(describe(request, status, args.secret), flush=True)

    try:
        receiver = LoopbackReceiver(args.port, on_receive=show)
    except OSError as error:
        print(f"receiver: cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr)
        return 1
    url = receiver.url.removesuffix("/hook")
    print(f"Receiving on {url}/<any path> (Ctrl-C stops). A webhook or subscription url:")
    print(f"  {url}/hook", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
