"""API Gateway's own responses (no route, authorizer denials, ...), as the template shapes them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Response type -> (default status, default message, x-amzn-ErrorType), as API Gateway has them.
DEFAULTS: dict[str, tuple[int, str | None, str]] = {
    "ACCESS_DENIED": (403, "User is not authorized to access this resource", "AccessDenied"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error", "ApiConfigurationException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None, "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, None, "AuthorizerFailureException"),
    "BAD_REQUEST_BODY": (400, "Invalid request body", "BadRequestException"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters", "BadRequestException"),
    "INTEGRATION_FAILURE": (504, "Internal server error", "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out", "InternalServerErrorException"),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "MISSING_AUTHENTICATION_TOKEN": (
        403, "Missing Authentication Token", "MissingAuthenticationTokenException"
    ),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded", "LimitExceededException"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long", "RequestTooLargeException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "UNAUTHORIZED": (401, "Unauthorized", "UnauthorizedException"),
}  # fmt: skip
DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
# $context.x, $!context.x or ${context.x}
_CONTEXT_VARIABLE = re.compile(r"\$!?(?:\{context\.([\w.]+)\}|context\.(\w+(?:\.\w+)*))")


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ErrorContext:
    """What `$context...` in a response template can refer to."""

    response_type: str
    message: str | None
    request_id: str = ""
    stage: str = ""
    path: str = ""
    authorizer: dict[str, Any] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)

    def lookup(self, name: str) -> str:
        if name == "error.messageString":
            return json.dumps(self.message)  # quoted, or null: the template adds no quotes
        if name == "error.message":
            return self.message or ""
        if name == "error.responseType":
            return self.response_type
        if name.startswith("authorizer."):
            value = self.authorizer.get(name.removeprefix("authorizer."))
            return "" if value is None else str(value)
        simple = {"requestId": self.request_id, "stage": self.stage, "path": self.path,
                  "extendedRequestId": self.request_id}  # fmt: skip
        return simple.get(name, "")  # an unknown variable renders empty


def gateway_response(configured: dict[str, Any], context: ErrorContext) -> GatewayResponse:
    """The response of `context.response_type`, from the template's GatewayResponses when set.

    Like API Gateway, a type the template leaves out falls back to DEFAULT_4XX / DEFAULT_5XX,
    and those to API Gateway's built-in `{"message": ...}`.
    """
    default_status, default_message, error_type = DEFAULTS.get(
        context.response_type, (500, "Internal server error", "InternalServerErrorException")
    )
    if context.message is None:
        context.message = default_message
    family = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
    spec = _merged(configured.get(family), configured.get(context.response_type))
    status = int(spec.get("StatusCode") or default_status)
    templates = spec.get("ResponseTemplates") or {}
    body_template = templates.get("application/json", DEFAULT_TEMPLATE)
    body = _CONTEXT_VARIABLE.sub(lambda m: context.lookup(m.group(1) or m.group(2)), body_template)
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}
    for name, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
        headers[name] = _header_value(str(value), context)
    return GatewayResponse(status, headers, body.encode())


def _merged(family: dict[str, Any] | None, specific: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(family or {})
    merged.pop("StatusCode", None)  # the default responses carry no status of their own
    for key, value in (specific or {}).items():
        merged[key] = value
    return merged


def _header_value(mapping: str, context: ErrorContext) -> str:
    """'literal' strings, or method.request.header.X / context.X mapping expressions."""
    if mapping.startswith("'") and mapping.endswith("'"):
        return mapping[1:-1]
    if mapping.startswith("method.request.header."):
        wanted = mapping.removeprefix("method.request.header.").lower()
        return next((v for k, v in context.request_headers.items() if k.lower() == wanted), "")
    if mapping.startswith("context."):
        return context.lookup(mapping.removeprefix("context."))
    return mapping
