"""HTTP to the Eventlog API with the standard library: credentials, JSON in and out, errors.

One key works for every route: it goes as `X-INGEST-KEY` on the ingest route (an app's ingest
key is meant for that header) and as `x-api-key` everywhere else; the service authenticates
both headers alike. A token goes as `Authorization: Bearer`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

USER_AGENT = "eventlog-client/0.1"
# Statuses worth sending again: throttling and the server's or a proxy's trouble.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class ApiError(Exception):
    """An answer of 400 or more: `status`, the service's `code` and `message`, the whole `body`."""

    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body
        details = body if isinstance(body, dict) else {}
        self.code = str(details.get("error") or f"HTTP_{status}")
        self.message = str(details.get("message") or details.get("error") or body or "")
        super().__init__(f"{status} {self.code}: {self.message}")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES


class Transport:
    """Requests on one service URL with one credential; `timeout` in seconds per request."""

    def __init__(
        self,
        url: str,
        key: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
    ):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the service URL must be http(s)://host[:port][/path], not {url!r}")
        self.url = url.rstrip("/")
        self.key = key
        self.token = token
        self.timeout = timeout

    def credential_headers(self, ingest: bool = False) -> dict[str, str]:
        if self.key:
            return {"X-INGEST-KEY" if ingest else "x-api-key": self.key}
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def exchange(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        ingest: bool = False,
    ) -> Reply:
        """One request; any HTTP status is a Reply, a network failure an OSError."""
        query = {name: value for name, value in (params or {}).items() if value is not None}
        target = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(target, data=body, method=method)  # noqa: S310 - http(s) only
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in {**self.credential_headers(ingest), **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return _reply(answer.status, answer.read(), answer.headers.items())
        except urllib.error.HTTPError as error:
            with error:
                return _reply(error.code, error.read(), error.headers.items())

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> Reply:
        """A request whose answer must be a success: ApiError otherwise."""
        body = None if json_body is None else json.dumps(json_body).encode()
        reply = self.exchange(method, path, params=params, body=body)
        if reply.status >= 400:
            raise ApiError(reply.status, reply.body)
        return reply


def _reply(status: int, raw: bytes, headers: Any) -> Reply:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return Reply(status, body, {name.lower(): value for name, value in headers})
