"""A real HTTP server on loopback that records what it receives: the receiver of webhooks and
subscription batches in the tests and in the benchmark (the only address either contacts)."""

import http.server
import json
import threading
from dataclasses import dataclass
from typing import Any


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

    def __init__(self) -> None:
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
                payload = json.dumps({"received": status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        with self._lock:
            arrived = self._lock.wait_for(lambda: len(self.requests) >= count, timeout)
            assert arrived, f"{len(self.requests)} requests received, expected {count}"
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
