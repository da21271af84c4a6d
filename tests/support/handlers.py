"""Handlers called as Lambda calls them, with the sample events of `events/` made to measure."""

import functools
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local_stack.runtime import import_module_from
from tests.support import EVENTS_DIR, ROOT


@functools.cache
def handler_module(function: str) -> ModuleType:
    """functions/<function>/app.py, imported once under the unique name `handler_<function>`,
    with its sibling modules (every function has an `app.py`), as the local
    stack imports it."""
    code_dir = ROOT / "functions" / function
    return import_module_from(code_dir / "app.py", code_dir, f"handler_{function}")


# What `invoke` runs before calling a handler: the `aws` fixture's stream, settled.
_settling: Callable[[], object] | None = None


@contextmanager
def settling_first(settle: Callable[[], object]) -> Iterator[None]:
    """While inside, `invoke` runs `settle` before each handler, as the events table's stream
    would have been drained a second after the last write."""
    global _settling
    _settling = settle
    try:
        yield
    finally:
        _settling = None


@functools.cache
def _sample(name: str) -> str:
    return (EVENTS_DIR / f"{name}.json").read_text()


def sample_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json."""
    return json.loads(_sample(name))


def set_headers(event: dict[str, Any], headers: dict[str, str | None]) -> dict[str, Any]:
    """Set (or with None, remove) headers, whatever their case, in both header maps."""
    for name, value in headers.items():
        for field_name in ("headers", "multiValueHeaders"):
            current = event.get(field_name) or {}
            for existing in [key for key in current if key.lower() == name.lower()]:
                del current[existing]
            if value is not None:
                current[name] = value if field_name == "headers" else [value]
            event[field_name] = current
    return event


def set_path(event: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """Fill the event's resource with path parameters: path, pathParameters, requestContext."""
    parameters = {name: str(value) for name, value in parameters.items()}
    path = event["resource"].format(**parameters)
    event["path"] = path
    event["pathParameters"] = parameters or None
    context = event["requestContext"]
    context["path"] = f"/{context['stage']}{path}"
    if "methodArn" in event:
        prefix = event["methodArn"].split("/", 2)
        event["methodArn"] = f"{prefix[0]}/{prefix[1]}/{event['httpMethod']}{path}"
    return event


def set_query(event: dict[str, Any], query: dict[str, Any] | None) -> dict[str, Any]:
    query = {name: str(value) for name, value in (query or {}).items()}
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def set_body(event: dict[str, Any], body: Any) -> dict[str, Any]:
    """A str is sent as it is; anything else as JSON."""
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["isBase64Encoded"] = False
    return event


def set_caller(event: dict[str, Any], role: str, app_id: int | None, key_id: str) -> None:
    """The principal the authorizer put in the request context."""
    event["requestContext"]["authorizer"] = {
        "principalId": key_id,
        "role": role,
        "app_id": str(app_id or ""),
        "key_id": key_id,
        "integrationLatency": 12,
    }


@dataclass
class FakeLambdaContext:
    function_name: str = "eventlog-tests"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:eventlog-tests"
    log_group_name: str = "/aws/lambda/eventlog-tests"
    log_stream_name: str = "2026/02/10/[$LATEST]tests"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def error_fields(self) -> set[str]:
        """The fields an error's `details` name."""
        return {detail["field"] for detail in self.body["details"]}


def invoke(function: str, event: dict[str, Any]) -> Any:
    """Call a handler as Lambda does: JSON in, JSON out, a fresh context; the events table's
    stream settled first, as it would be a second after the last write."""
    if _settling is not None:
        _settling()
    handler = handler_module(function).lambda_handler
    result = handler(json.loads(json.dumps(event)), FakeLambdaContext())
    return json.loads(json.dumps(result))


def invoke_http(function: str, event: dict[str, Any]) -> HttpResponse:
    result = invoke(function, event)
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ", ".join(values))
    return HttpResponse(result["statusCode"], headers, result.get("body") or "")
