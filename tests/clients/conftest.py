"""The SDK and the CLI against the local stack (the session's `stack` of tests/conftest.py),
each test in apps of its own, some through a loopback proxy that can fail on purpose."""

import http.client
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eventlog_client import Backoff, Client

from local_stack import LocalStackProcess
from tests.support.local_stack import StackSession

# Retries within a test's patience: 50 ms doubling up to half a second.
QUICK_BACKOFF = Backoff(base=0.05, cap=0.5)


class FailingProxy:
    """A loopback HTTP proxy in front of the stack. `mode`: "up" forwards; "down" answers 503
    without forwarding (an outage); "lose" forwards, then answers 502 (the server stored the
    batch, the client never hears so); "hang" holds every request until set to another mode."""

    def __init__(self, target: str):
        self.target = urllib.parse.urlsplit(target)
        self.mode = "up"
        self.failed = 0  # requests answered with a failure
        self.changed = threading.Condition()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.handle(self)

            do_POST = do_PATCH = do_DELETE = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set_mode(self, mode: str) -> None:
        with self.changed:
            self.mode = mode
            self.changed.notify_all()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self.changed:
            self.changed.wait_for(lambda: self.mode != "hang", timeout=60)
            mode = self.mode
        if mode == "down":
            return self._fail(request, 503)
        status, headers, answer = self._forward(request, body)
        if mode == "lose":
            return self._fail(request, 502)
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any, bytes]:
        connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=60)
        try:
            headers = {
                name: value for name, value in request.headers.items() if name.lower() != "host"
            }
            connection.request(request.command, request.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    def _fail(self, request: BaseHTTPRequestHandler, status: int) -> None:
        self.failed += 1
        payload = b'{"message":"Service Unavailable"}'
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self.set_mode("up")
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(stack: LocalStackProcess) -> Iterator[FailingProxy]:
    server = FailingProxy(stack.url)
    yield server
    server.close()


@pytest.fixture
def new_app(http: StackSession) -> Callable[[], dict[str, Any]]:
    """`new_app()`: a fresh app of the stack ({id, name, ingest_key, ...})."""

    def create() -> dict[str, Any]:
        reply = http.post(f"/apps/sdk-{secrets.token_hex(6)}", headers=http.admin)
        assert reply.status_code == 201, reply.text
        return reply.json()

    return create


@pytest.fixture
def reader(stack: LocalStackProcess) -> Callable[[int], Client]:
    """`reader(app_id)`: a Client with the admin key, for reading an app back (statistics:
    `settle(stack)` first, as tests/support/local_stack.py's readers do)."""

    def make(app_id: int) -> Client:
        return Client(stack.url, stack.admin_key, app_id=app_id)

    return make
