"""The events API Gateway sends to Lambda (REST proxy payload 1.0, REQUEST authorizer) and the
reading of a proxy integration's answer."""

from __future__ import annotations

import base64
import fnmatch
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from local_stack.apis import Route
from local_stack.template import ACCOUNT_ID, API_ID, REGION


@dataclass
class HttpRequest:
    """An incoming request, as the gateway received it."""

    method: str
    path: str  # without the query string, percent-encoding kept
    query: str
    headers: list[tuple[str, str]]  # in order, names as sent, repeated names kept
    body: bytes
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in reversed(self.headers) if key.lower() == wanted), None)


def _headers(request: HttpRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in request.headers:
        single[name] = value  # the last value wins in the single-value map
        multi.setdefault(name, []).append(value)
    return single, multi


def _query(request: HttpRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def method_arn(route: Route, request: HttpRequest) -> str:
    api = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}"
    return f"{api}/{route.api.stage}/{request.method}/{request.path.lstrip('/')}"


def request_context(route: Route, request: HttpRequest, api_key: str | None = None) -> dict:
    stage = route.api.stage
    return {
        "resourceId": "local",
        "resourcePath": route.path,
        "httpMethod": request.method,
        "extendedRequestId": request.request_id,
        "requestTime": time.strftime(
            "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received_ms / 1000)
        ),
        # The URL's path as the client sent it. Local URLs have no stage prefix, as on a custom
        # domain mapped to the stage (execute-api URLs have it: /Prod/...).
        "path": request.path,
        "accountId": ACCOUNT_ID,
        "protocol": "HTTP/1.1",
        "stage": stage,
        "domainPrefix": "localhost",
        "requestTimeEpoch": request.received_ms,
        "requestId": request.request_id,
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "apiKey": api_key,
            "apiKeyId": None,
            "sourceIp": request.source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": request.header("User-Agent"),
            "user": None,
        },
        "domainName": request.header("Host") or "localhost",
        "apiId": API_ID,
    }


def is_binary(media_type: str | None, binary_types: list[str]) -> bool:
    if not media_type:
        return False
    media_type = media_type.split(";")[0].strip().lower()
    return any(fnmatch.fnmatch(media_type, pattern.lower()) for pattern in binary_types)


def proxy_event(
    route: Route,
    request: HttpRequest,
    path_parameters: dict[str, str],
    authorizer: dict[str, Any] | None,
    api_key: str | None,
) -> dict[str, Any]:
    """The Lambda proxy integration event (payload format 1.0): empty maps are null."""
    headers, multi_headers = _headers(request)
    query, multi_query = _query(request)
    context = request_context(route, request, api_key)
    if authorizer is not None:
        context["authorizer"] = authorizer
    body: str | None = None
    encoded = False
    if request.body:
        # API Gateway reads a request without a Content-Type as application/json.
        content_type = request.header("Content-Type") or "application/json"
        if is_binary(content_type, route.api.binary_media_types):
            body, encoded = base64.b64encode(request.body).decode(), True
        else:
            body = request.body.decode("utf-8", errors="replace")
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    }


def authorizer_event(
    route: Route, request: HttpRequest, path_parameters: dict[str, str]
) -> dict[str, Any]:
    """The REQUEST authorizer event: like the proxy event, but empty maps stay maps."""
    headers, multi_headers = _headers(request)
    query, multi_query = _query(request)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(route, request),
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": {},
        "requestContext": request_context(route, request),
    }


class MalformedResponse(Exception):
    """API Gateway's "Malformed Lambda proxy response": the client gets a 502."""


@dataclass
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    base64_encoded: bool


def read_proxy_response(result: Any) -> ProxyResponse:
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse(f"not a proxy response: {str(result)[:200]}")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise MalformedResponse(f"statusCode {result['statusCode']!r}") from None
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, not {type(body).__name__}")
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers += [(name, _scalar(value)) for value in values]
    # Both maps are merged; a name/value pair present in both is sent once.
    seen = {(name.lower(), value) for name, value in headers}
    for name, value in (result.get("headers") or {}).items():
        if (name.lower(), _scalar(value)) not in seen:
            headers.append((name, _scalar(value)))
    encoded = bool(result.get("isBase64Encoded"))
    raw = (body or "").encode()
    if encoded:
        try:
            raw = base64.b64decode(body or "", validate=True)
        except ValueError:
            raise MalformedResponse("isBase64Encoded but the body is not base64") from None
    return ProxyResponse(status, headers, raw, encoded)


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        raise MalformedResponse(f"header value {value!r} is not a scalar")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
