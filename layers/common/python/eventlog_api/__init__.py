"""The HTTP side every API function shares: one resolver setup, one error format, the caller.

Errors always look like `{"error": CODE, "message": text}`, with `details` naming each bad field.
The core (package `eventlog`) raises domain errors; this is the one place they become statuses.
"""

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel

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
    app = APIGatewayRestResolver(enable_validation=True)

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


def known_query(app: BaseRouter, model: type[BaseModel]) -> None:
    """Refuse query parameters the route does not take, rather than ignore a filter silently."""
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - set(model.model_fields))
    if unknown:
        raise InvalidInputError(
            f"unknown query parameter {', '.join(map(repr, unknown))}: this route takes "
            f"{', '.join(model.model_fields)}"
        )


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


def text_body(app: BaseRouter, expected: str = "JSON") -> str:
    """The request body, refusing oversized and empty ones."""
    body = app.current_event.decoded_body or ""
    size = len(body.encode())
    if size > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise InvalidInputError(f"the body is empty: send {expected}")
    return body


def json_body(app: BaseRouter) -> Any:
    """The request body parsed as JSON, refusing oversized and malformed bodies."""
    body = text_body(app)
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"malformed JSON: {error}") from None
