"""Lambda authorizers and API keys, applied the way API Gateway applies them."""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import boto3

from local_stack.apis import Api, Authorizer, Route
from local_stack.events import HttpRequest, authorizer_event, method_arn
from local_stack.runtime import LambdaFunction

DENIED = "User is not authorized to access this resource"


@dataclass
class Outcome:
    """Either an error (a gateway response type) or what the handler's event carries."""

    error: str | None = None
    message: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # requestContext.authorizer
    api_key: str | None = None


class AccessControl:
    def __init__(self, functions: dict[str, LambdaFunction]):
        self._functions = functions
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._apigateway = boto3.client("apigateway")  # made once: clients are thread-safe

    def check(self, route: Route, request: HttpRequest, path_parameters: dict[str, str]) -> Outcome:
        outcome = Outcome()
        response: dict[str, Any] = {}
        if route.authorizer is not None:
            authorized = self._authorize(route, route.authorizer, request, path_parameters)
            if isinstance(authorized, Outcome):
                return authorized
            response = authorized
            outcome.context = self._handler_context(response)
            decision = evaluate_policy(response["policyDocument"], method_arn(route, request))
            if decision != "Allow":
                message = DENIED + (" with an explicit deny" if decision == "Deny" else "")
                return Outcome("ACCESS_DENIED", message, outcome.context)
        if route.api_key_required:
            if route.api.api_key_source == "AUTHORIZER":
                key = response.get("usageIdentifierKey")
            else:
                key = request.header("x-api-key")
            if not key or not api_key_in_plan(self._apigateway, str(key), route.api):
                return Outcome("INVALID_API_KEY", "Forbidden", outcome.context)
            outcome.api_key = str(key)
        return outcome

    def _authorize(
        self, route: Route, authorizer: Authorizer, request: HttpRequest, params: dict[str, str]
    ) -> dict[str, Any] | Outcome:
        """The authorizer's (validated) response, from its cache when API Gateway would cache."""
        identity = _identity_values(authorizer, request)
        if identity is None:  # a missing identity source: 401 without calling the function
            return Outcome("UNAUTHORIZED", "Unauthorized")
        cache_key = (authorizer.name, identity)
        use_cache = authorizer.ttl_seconds > 0 and bool(identity)
        if use_cache:
            with self._lock:
                cached = self._cache.get(cache_key)
            if cached and cached[0] > time.monotonic():
                return cached[1]
        if authorizer.payload_type == "TOKEN":
            token = identity[0]
            if authorizer.token_validation and not re.fullmatch(authorizer.token_validation, token):
                return Outcome("UNAUTHORIZED", "Unauthorized")
            event = {
                "type": "TOKEN",
                "authorizationToken": token,
                "methodArn": method_arn(route, request),
            }
        else:
            event = authorizer_event(route, request, params)
        started = time.monotonic()
        try:
            response = self._functions[authorizer.function_id].invoke(event)
        except Exception as error:
            if str(error) == "Unauthorized":  # the documented way to answer 401
                return Outcome("UNAUTHORIZED", "Unauthorized")
            print(f"local_stack: authorizer {authorizer.name} failed:", file=sys.stderr)
            traceback.print_exc()
            return Outcome("AUTHORIZER_FAILURE", None)
        problem = _response_problem(response)
        if problem:
            print(
                f"local_stack: authorizer {authorizer.name} answered badly: {problem}",
                file=sys.stderr,
            )
            return Outcome("AUTHORIZER_CONFIGURATION_ERROR", None)
        response["_latency_ms"] = int((time.monotonic() - started) * 1000)
        if use_cache:
            with self._lock:
                self._cache[cache_key] = (time.monotonic() + authorizer.ttl_seconds, response)
        return response

    @staticmethod
    def _handler_context(response: dict[str, Any]) -> dict[str, Any]:
        """requestContext.authorizer: the context values stringified, plus principalId."""
        context = {
            key: _stringified(value) for key, value in (response.get("context") or {}).items()
        }
        context["principalId"] = response["principalId"]
        context["integrationLatency"] = response.get("_latency_ms", 0)
        return context


def _identity_values(authorizer: Authorizer, request: HttpRequest) -> tuple[str, ...] | None:
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    values = []
    for kind, name in authorizer.identity_sources:
        if kind == "header":
            value = request.header(name)
        elif kind == "query":
            value = query.get(name)
        else:  # stage variables (none locally) and context variables
            value = request_context_value(name, request)
        if not value:
            return None
        values.append(value)
    return tuple(values)


def request_context_value(name: str, request: HttpRequest) -> str | None:
    context = {"sourceIp": request.source_ip, "requestId": request.request_id,
               "identity.sourceIp": request.source_ip}  # fmt: skip
    return context.get(name)


def _response_problem(response: Any) -> str | None:
    if not isinstance(response, dict):
        return "not an object"
    if not response.get("principalId"):
        return "no principalId"
    policy = response.get("policyDocument")
    if not isinstance(policy, dict) or not policy.get("Statement"):
        return "no policyDocument with a Statement"
    for key, value in (response.get("context") or {}).items():
        if not isinstance(value, str | int | float | bool):
            return f"context[{key!r}] is {value!r}: only strings, numbers and booleans are allowed"
    return None


def _stringified(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate_policy(policy: dict[str, Any], arn: str) -> str:
    """Allow, Deny (an explicit Deny matched) or None (no statement matched: also denied)."""
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    decision = None
    for statement in statements:
        actions = _as_list(statement.get("Action"))
        if not any(_wildcard(action, "execute-api:Invoke", True) for action in actions):
            continue
        if not any(_wildcard(resource, arn) for resource in _as_list(statement.get("Resource"))):
            continue
        effect = str(statement.get("Effect", "")).capitalize()
        if effect == "Deny":
            return "Deny"
        if effect == "Allow":
            decision = "Allow"
    return decision or "None"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM-style matching: `*` any run of characters (slashes included), `?` one character."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, flags=re.IGNORECASE if ignore_case else 0) is not None


def api_key_in_plan(client: Any, value: str, api: Api) -> bool:
    """True when `value` is an enabled API key of the API's usage plan (SAM's), or of another
    plan naming the API's stage (asked of moto every time, so keys created or deleted by the
    handlers count at once)."""
    for page in client.get_paginator("get_api_keys").paginate(includeValues=True):
        for key in page.get("items", []):
            if key.get("value") != value or not key.get("enabled", True):
                continue
            for plan in client.get_usage_plans(keyId=key["id"]).get("items", []):
                stages = {stage.get("stage") for stage in plan.get("apiStages") or []}
                if plan["id"] == api.usage_plan_id or api.stage in stages:
                    return True
    return False
