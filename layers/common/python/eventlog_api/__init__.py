"""The HTTP side every API function shares: one resolver setup, one error format, the caller.

Errors always look like `{"error": CODE, "message": text}`, with `details` naming each bad field.
The core (package `eventlog`) raises domain errors; this is the one place they become statuses.

The door: every request body is read through `RequestEvent`, whichever route reads it (the
routes' own `json_body` / `text_body`, or Powertools parsing a `Body()` model parameter). A body
must be UTF-8; a JSON body must be well-formed, nest at most MAX_JSON_DEPTH deep, hold finite
numbers of at most MAX_NUMBER_DIGITS digits and no lone surrogates. Anything else is a 400
naming the problem before any model sees it. A body is JSON whatever its Content-Type says
(`curl -d` sends form-urlencoded), as API Gateway passes it.
"""

import base64
import binascii
import json
import math
import re
from functools import cached_property
from http import HTTPStatus
from typing import Annotated, Any, NoReturn

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel, BeforeValidator

from eventlog.access.principal import parse_app_id
from eventlog.base.errors import (
    AuthenticationError,
    ConflictError,
    EventlogError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
)

MAX_BODY_BYTES = 256 * 1024
# DynamoDB's limit for nested attributes; the body's own object or list counts as one level.
MAX_JSON_DEPTH = 32
# DynamoDB's Number precision: an integer of more digits could not be stored as one.
MAX_NUMBER_DIGITS = 38
JSON_CONTENT_TYPE = "application/json"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

STATUS_OF_ERROR: dict[type[EventlogError], HTTPStatus] = {
    InvalidInputError: HTTPStatus.BAD_REQUEST,
    AuthenticationError: HTTPStatus.UNAUTHORIZED,
    NotFoundError: HTTPStatus.NOT_FOUND,
    ConflictError: HTTPStatus.CONFLICT,
    IdempotencyKeyReusedError: HTTPStatus.UNPROCESSABLE_ENTITY,
    PayloadTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
}

REQUEST_PARTS = {"query", "path", "header", "body"}

logger = Logger()


def json_response(body: BaseModel | dict | list, status: int = HTTPStatus.OK) -> Response:
    """A JSON reply; Powertools checks it against the route's `Response[Model]` and encodes it."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    response = json_response(body, status)
    if status == HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"  # RFC 6750: how to authenticate
    return response


def _field_name(error: dict[str, Any]) -> str:
    if error["type"] == "json_invalid":
        return "body"  # its location holds the character offset, not a field
    # Powertools prefixes the source ("query", "body"...), twice for a model of query parameters.
    parts = [str(part) for part in error["loc"]]
    while len(parts) > 1 and parts[0] in REQUEST_PARTS:
        parts.pop(0)
    return ".".join(parts) or "body"


def _problem(error: dict[str, Any]) -> str:
    if error["type"] == "json_invalid":  # as json_body says it
        reason = (error.get("ctx") or {}).get("error")
        return f"malformed JSON: {reason}" if reason else "malformed JSON"
    return error["msg"].removeprefix("Value error, ")


def create_resolver() -> APIGatewayRestResolver:
    """A REST resolver with request validation and the service's error format."""
    app = _Resolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response:
        details = [
            {
                "field": _field_name(item),
                "message": _problem(item),
            }
            for item in error.errors()
        ]
        # A rule across fields (since before until) is the message itself; otherwise name them.
        across_fields = [item["message"] for item in details if item["field"] in REQUEST_PARTS]
        fields = ", ".join(sorted({item["field"] for item in details}))
        message = "; ".join(across_fields) if across_fields else f"invalid {fields}"
        return error_response(HTTPStatus.BAD_REQUEST, "VALIDATION_ERROR", message, details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content(_: RequestUnsupportedContentType) -> Response:
        # Not reached while RequestEvent labels every body JSON; a 4xx all the same.
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", "send the body as JSON"
        )

    @app.exception_handler(EventlogError)
    def _domain_error(error: EventlogError) -> Response:
        status = STATUS_OF_ERROR.get(type(error), HTTPStatus.BAD_REQUEST)
        return error_response(status, error.code, error.message, error.details)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL", "internal error; it has been logged"
        )

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such route")

    return app


def known_query(app: BaseRouter, takes: type[BaseModel] | tuple[str, ...]) -> None:
    """Refuse query parameters the route does not take (the fields of its query model, or
    these names), rather than ignore a filter silently."""
    names = tuple(takes.model_fields) if isinstance(takes, type) else takes
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - set(names))
    if unknown:
        raise InvalidInputError(
            f"unknown query parameter {', '.join(map(repr, unknown))}: this route takes "
            f"{', '.join(names) or 'none'}"
        )


def _app_id(value: Any) -> Any:
    if isinstance(value, str) and parse_app_id(value) is None:
        raise ValueError("an app id is 1 to 18 ASCII digits")
    return value


# `{app_id}` in a path, read as the authorizer reads it: `+3`, `3.0` or `٣` name no app.
AppId = Annotated[int, BeforeValidator(_app_id)]


def rest_event(app: BaseRouter) -> APIGatewayProxyEvent:
    """The request being answered, as the REST resolver (`create_resolver`) parsed it: Powertools
    types a router's `current_event` as any kind of proxy event."""
    event = app.current_event
    assert isinstance(event, APIGatewayProxyEvent), f"not a REST API event: {type(event)}"
    return event


def require_caller(app: BaseRouter) -> dict[str, Any]:
    """Who is calling: the authorizer's context. On the routes where the authorizer lets an
    unidentified caller through so that the 401 can say why, its `refusal` is raised here."""
    context = rest_event(app).request_context.authorizer.raw_event or {}
    refusal = context.get("refusal")
    if refusal:
        raise AuthenticationError(refusal)
    return context


def caller_app_id(app: BaseRouter) -> int | None:
    """The app of the caller's credential; None for an admin."""
    app_id = require_caller(app).get("app_id")
    return int(app_id) if app_id else None


def _refuse(problem: str) -> NoReturn:
    raise InvalidInputError(problem, details=[{"field": "body", "message": problem}])


def _no_constant(name: str) -> NoReturn:
    _refuse(f"{name} is not a JSON number: send a finite number, or null")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        _refuse(f"the number {text[:40]} is too large: send a finite number")
    return number


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        _refuse(f"an integer of {digits} digits: at most {MAX_NUMBER_DIGITS} are kept")
    return int(text)


def _where(path: list[str | int]) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return where.removeprefix(".") or "the top level"


def _check_tree(value: Any) -> None:
    """Depth and strings, walked without recursion (a parsed body can be as deep as json let)."""
    pending: list[tuple[Any, list[str | int]]] = [(value, [])]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                _refuse(f"the string at {_where(path)} holds a lone surrogate: it is not Unicode")
            continue
        if not isinstance(item, dict | list):
            continue
        if len(path) >= MAX_JSON_DEPTH:
            _refuse(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels (at {_where(path)})")
        if isinstance(item, dict):
            for key, child in item.items():
                if LONE_SURROGATE.search(key):
                    _refuse(f"a key at {_where(path)} holds a lone surrogate: it is not Unicode")
                pending.append((child, [*path, key]))
        else:
            pending.extend((child, [*path, index]) for index, child in enumerate(item))


def parse_json(text: str) -> Any:
    """A request body parsed as JSON within the door's limits (the module's docstring), or the
    400 naming what is wrong with it."""
    size = len(text.encode(errors="surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        value = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int
        )
    except json.JSONDecodeError as error:
        _refuse(f"malformed JSON: {error}")
    except RecursionError:  # json's own limit, far past ours
        _refuse(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    _check_tree(value)
    return value


class RequestEvent(APIGatewayProxyEvent):
    """The REST proxy event, its body read through the door."""

    @cached_property
    def decoded_body(self) -> str | None:
        """The body as text: UTF-8 only (API Gateway passes every body base64-encoded, its
        binary media types being */*)."""
        body = self.body
        if not body:
            return body
        if self.is_base64_encoded:
            try:
                raw = base64.b64decode(body, validate=True)
            except binascii.Error:
                _refuse("the body is not valid base64, as isBase64Encoded says")
        else:
            raw = body.encode(errors="surrogatepass")
        try:
            return raw.decode()
        except UnicodeDecodeError as error:
            _refuse(f"the body is not UTF-8 text (byte {error.start}): send UTF-8")

    @cached_property
    def json_body(self) -> Any:
        """Parsed within the door's limits; None without a body (Powertools says which field
        is missing)."""
        text = self.decoded_body
        return parse_json(text) if text else None

    @property
    def headers(self) -> dict[str, str]:
        """A body is JSON whatever its Content-Type says: Powertools, which reads it by the
        header for `Body()` parameters, is told so."""
        headers = super().headers
        if "content-type" in headers:
            headers["content-type"] = JSON_CONTENT_TYPE
        return headers


class _Resolver(APIGatewayRestResolver):
    def _to_proxy_event(self, event: dict) -> BaseProxyEvent:
        return RequestEvent(event)


def text_body(app: BaseRouter, expected: str = "JSON") -> str:
    """The request body (UTF-8 text), refusing oversized and empty ones."""
    body = app.current_event.decoded_body or ""
    size = len(body.encode())
    if size > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise InvalidInputError(f"the body is empty: send {expected}")
    return body


def json_body(app: BaseRouter) -> Any:
    """The request body parsed as JSON within the door's limits; refusing empty bodies."""
    return parse_json(text_body(app))
