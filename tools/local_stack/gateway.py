"""The HTTP gateway: API Gateway's request pipeline (route, authorizer, API key, Lambda proxy)
in front of the in-process handlers."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local_stack.apis import Api, RouteTable
from local_stack.authorizer import AccessControl
from local_stack.events import (
    HttpRequest,
    MalformedResponse,
    is_binary,
    proxy_event,
    read_proxy_response,
)
from local_stack.gateway_responses import ErrorContext, gateway_response
from local_stack.runtime import LambdaFunction

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Gateway:
    def __init__(
        self,
        routes: RouteTable,
        apis: dict[str, Api],
        functions: dict[str, LambdaFunction],
        access: AccessControl,
    ):
        self.routes = routes
        self.functions = functions
        self.access = access
        # Requests that match no route belong to no API: the first API's responses shape them.
        self.fallback_api = next(iter(apis.values()), None)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    # ------------------------------------------------------------ lifecycle

    def start(self, host: str, port: int) -> int:
        handler = type("Handler", (_RequestHandler,), {"gateway": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long stop() may wait for it to notice
            daemon=True,
        )
        self._thread.start()
        return self._server.server_address[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------ the pipeline

    def handle(self, request: HttpRequest) -> HttpResponse:
        match = self.routes.match(request.method, request.path)
        route = match.route
        if route is None:
            # API Gateway answers an unknown path, and an unknown method on a known path, alike.
            return self.error(self.fallback_api, request, "MISSING_AUTHENTICATION_TOKEN")
        outcome = self.access.check(route, request, match.path_parameters)
        if outcome.error:
            return self.error(route.api, request, outcome.error, outcome.message, outcome.context)
        authorizer_context = outcome.context if route.authorizer else None
        event = proxy_event(
            route, request, match.path_parameters, authorizer_context, outcome.api_key
        )
        function = self.functions[route.function_id]
        try:
            result = read_proxy_response(function.invoke(event))
        except MalformedResponse as error:
            print(
                f"local_stack: {function.logical_id}: malformed proxy response: {error}",
                file=sys.stderr,
            )
            return _internal_error(request)
        except Exception:
            print(f"local_stack: {function.logical_id} raised:", file=sys.stderr)
            traceback.print_exc()
            return _internal_error(request)
        if result.base64_encoded:
            self._check_binary_support(route.api, route.path, request)
        headers = list(result.headers)
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))  # API Gateway's default
        headers.append(("x-amzn-RequestId", request.request_id))
        return HttpResponse(result.status, headers, result.body)

    def error(
        self,
        api: Api | None,
        request: HttpRequest,
        response_type: str,
        message: str | None = None,
        authorizer: dict | None = None,
    ) -> HttpResponse:
        context = ErrorContext(
            response_type=response_type,
            message=message,
            request_id=request.request_id,
            stage=api.stage if api else "",
            path=request.path,
            authorizer=authorizer or {},
            request_headers=dict(request.headers),
        )
        response = gateway_response(api.gateway_responses if api else {}, context)
        headers = [*response.headers.items(), ("x-amzn-RequestId", request.request_id)]
        return HttpResponse(response.status, headers, response.body)

    def _check_binary_support(self, api: Api, path: str, request: HttpRequest) -> None:
        """A binary body reaches a client only when its Accept type is a BinaryMediaType: say so
        here, where it works anyway, instead of letting AWS return base64 text."""
        accept = (request.header("Accept") or "").split(",")[0]
        if not is_binary(accept, api.binary_media_types) and path not in self._warned:
            self._warned.add(path)
            print(
                f"local_stack: warning: {path} returned a base64 body; API Gateway decodes it "
                f"only when the request's Accept ({accept or 'none'}) matches the Api's "
                f"BinaryMediaTypes {api.binary_media_types}",
                file=sys.stderr,
            )


def _internal_error(request: HttpRequest) -> HttpResponse:
    """What API Gateway answers when the Lambda function fails or answers malformed."""
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", "InternalServerErrorException"),
        ("x-amzn-RequestId", request.request_id),
    ]
    return HttpResponse(502, headers, json.dumps({"message": "Internal server error"}).encode())


def _split_target(target: str) -> tuple[str, str]:
    """(path, query) of a request target; the path stays percent-encoded, as API Gateway has it."""
    if "://" in target.split("?", 1)[0]:  # absolute form: http://host/path?query
        # The authority is dropped unparsed: a malformed one (`http://[::1/`) is not our concern.
        authority_start = target.index("://") + 3
        ends = [i for i in map(target.find, "/?#", [authority_start] * 3) if i != -1]
        target = target[min(ends) :] if ends else "/"
    path, _, query = target.partition("?")
    return path or "/", query.partition("#")[0]


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: Gateway
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of API Gateway
    server_version = "eventlog-local"
    timeout = 60  # idle keep-alive connections do not hold a thread forever

    def _serve(self) -> None:
        started = time.monotonic()
        path, query = _split_target(self.path)
        request = HttpRequest(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=b"",
            source_ip=self.client_address[0],
        )
        body = self._read_body()
        if body is None:
            response = self.gateway.error(self.gateway.fallback_api, request, "REQUEST_TOO_LARGE")
            self.close_connection = True  # the unread body makes the connection unusable
        else:
            request.body = body
            try:
                response = self.gateway.handle(request)
            except Exception:  # a bug of the local stack itself: still answer, and say why
                traceback.print_exc()
                response = _internal_error(request)
        self._send(response)
        elapsed = (time.monotonic() - started) * 1000
        shown = self.path if len(self.path) <= 200 else self.path[:200] + "..."
        print(f"{self.command} {shown} {response.status} {elapsed:.0f}ms", file=sys.stderr)

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is over API Gateway's limit."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpResponse) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Callable[[], None]:
        """`do_<METHOD>` for every method, TRACE or made up alike: the route table decides, and a
        method no route has gets API Gateway's answer to an unknown route (not http.server's
        HTML 501)."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line or header, a request line over
        64 KB) as API Gateway's JSON `{"message": ...}`, not HTML."""
        reason = message or self.responses.get(code, ("Bad Request",))[0]
        self.log_error("code %d, message %s", code, reason)
        body = json.dumps({"message": reason}).encode()
        self.close_connection = True  # what came after a malformed request can't be trusted
        # An unparsed request line counts as HTTP/0.9, answered without status line or headers.
        self.request_version = self.protocol_version
        self._send(HttpResponse(code, [("Content-Type", "application/json")], body))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _serve logs one line per request instead
