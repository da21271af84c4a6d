"""REQUEST authorizer: who is calling (x-api-key, X-INGEST-KEY or a bearer JWT), and may they?

Missing or unknown credential: raise "Unauthorized" (API Gateway answers 401). Known caller on a
route or app it may not use: a Deny policy with the reason in its context (403).
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventlog import auth, usage
from eventlog.errors import AuthenticationError
from eventlog.principal import Principal, Role

logger = Logger()

ADMINS = frozenset({Role.ADMIN})
READERS = frozenset({Role.ADMIN, Role.USER})
WRITERS = frozenset({Role.ADMIN, Role.USER, Role.INGEST})

# Who may call each route (method, resource); any route not listed is for admins only.
ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/apps/{app_id}/events"): WRITERS,
    ("GET", "/apps/{app_id}/events"): READERS,
    ("GET", "/apps/{app_id}/events/{event_id}"): READERS,
    **{
        ("GET", f"/apps/{{app_id}}/stats/{route}"): READERS
        for route in (
            "timeseries",
            "by-level",
            "by-name",
            "top-messages",
            "hourly",
            "hourly.png",
            "notifications",
        )
    },
    ("GET", "/metrics"): READERS,
    ("POST", "/logs"): WRITERS,
    ("GET", "/logs"): READERS,
    ("GET", "/api/ready"): WRITERS,
    ("GET", "/ready"): WRITERS,
    # Seed 000 (event logging)
    ("POST", "/events"): WRITERS,
    ("GET", "/events"): READERS,
    ("GET", "/events/{event_id}"): READERS,
    # Seed 001 (event tracker); its /admin/v1 routes are for admins only, like every route
    # not listed here.
    ("POST", "/api/v1/events/{name}"): WRITERS,
    ("GET", "/api/v1/events"): READERS,
    ("GET", "/api/v1/event_history"): READERS,
    ("GET", "/api/v1/event_frequencies/{name}/hist"): READERS,
    # Seed 003 (consumer)
    ("POST", "/api/event"): WRITERS,
    ("POST", "/event"): WRITERS,
}


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _identify(event: APIGatewayAuthorizerRequestEvent) -> tuple[Principal, str | None]:
    """The caller and their usage-plan key; Unauthorized when there is no valid credential."""
    for header in ("x-api-key", "X-INGEST-KEY"):
        key = event.headers.get(header)
        if key:
            found = auth.authenticate_key(key.strip())
            if found is None:
                logger.info("unknown or revoked key", extra={"header": header})
                raise Unauthorized
            return found
    authorization = event.headers.get("Authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            principal = auth.verify_token(token.strip())
        except AuthenticationError as error:
            logger.info("bearer token refused", extra={"reason": error.message})
            raise Unauthorized from None
        usage_key = auth.app_usage_key(principal.app_id) if principal.app_id else None
        return principal, usage_key
    raise Unauthorized


def _refusal(principal: Principal, event: APIGatewayAuthorizerRequestEvent) -> str | None:
    """Why the caller may not make this request, or None when they may."""
    allowed = ROUTE_ROLES.get((event.http_method, event.resource), frozenset({Role.ADMIN}))
    if principal.role not in allowed:
        route = f"{event.http_method} {event.resource}"
        return f"credentials of role '{principal.role.value}' may not call {route}"
    app_id = (event.path_parameters or {}).get("app_id")
    if (
        app_id is not None
        and "{app_id}" in event.resource
        and not principal.may_use_app(int(app_id) if app_id.isdigit() else -1)
    ):
        return f"this credential is for app {principal.app_id}, not app {app_id}"
    return None


def _policy(
    principal: Principal, method_arn: str, reason: str | None, usage_key: str | None
) -> dict:
    """The IAM policy for exactly this request (results are not cached: see template.yaml)."""
    context: dict[str, Any] = {
        "role": principal.role.value,
        "app_id": str(principal.app_id or ""),
        "key_id": principal.key_id,
    }
    policy: dict[str, Any] = {
        "principalId": principal.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Deny" if reason else "Allow",
                    "Resource": method_arn,
                }
            ],
        },
        "context": context,
    }
    if reason:
        context["reason"] = reason
    else:
        policy["usageIdentifierKey"] = usage_key or usage.operator_usage_key()
    return policy


@logger.inject_lambda_context
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict:
    principal, usage_key = _identify(event)
    reason = _refusal(principal, event)
    if reason:
        logger.info("request refused", extra={"key_id": principal.key_id, "reason": reason})
    return _policy(principal, event.method_arn, reason, usage_key)
