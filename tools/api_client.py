"""The API as the operator's tools call it (`make smoke`, `make demo`): one request at a time,
with the admin key unless another credential is given. Standard library only, so the tools run
anywhere python3 does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

REQUEST_TIMEOUT_SECONDS = 30


class ApiFailure(Exception):
    """A request that could not be made, or did not get the answer expected."""


@dataclass
class Reply:
    status: int
    body: Any  # the JSON answer; None if there is none or it is not JSON
    text: str  # the answer as text, cut to 500 characters (for messages)


@dataclass
class Client:
    base_url: str
    admin_key: str

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        credential: dict[str, str] | None = None,
    ) -> Reply:
        """One request with this credential header (default: the admin key's)."""
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own stage
            self.base_url.rstrip("/") + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Content-Type": "application/json",
                **({"x-api-key": self.admin_key} if credential is None else credential),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
                return _reply(response.status, response.read())
        except urllib.error.HTTPError as error:
            return _reply(error.code, error.read())
        except (urllib.error.URLError, TimeoutError) as error:
            raise ApiFailure(f"{method} {path}: cannot reach {self.base_url}: {error}") from error

    def expect(
        self,
        status: int,
        method: str,
        path: str,
        body: Any = None,
        credential: dict[str, str] | None = None,
    ) -> Any:
        """The JSON answer of a request that must answer `status` (else ApiFailure)."""
        reply = self.call(method, path, body, credential)
        if reply.status != status:
            raise ApiFailure(f"{method} {path}: {reply.status}, expected {status}: {reply.text}")
        return reply.body


def _reply(status: int, raw: bytes) -> Reply:
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    return Reply(status, body, text[:500])
