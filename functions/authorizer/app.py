"""REQUEST authorizer: who is calling (x-api-key, X-INGEST-KEY or a bearer JWT), and may they?

Missing or invalid credential: raise "Unauthorized" (API Gateway answers 401), except on the
routes that must say why (EXPLAINED_401_ROUTES). Known caller on a route or app it may not use:
a Deny policy with the reason in its context (403).
"""

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventlog.access import auth, usage
from eventlog.access.principal import Principal, Role, parse_app_id
from eventlog.base.config import get_settings
from eventlog.base.errors import AuthenticationError

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
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


# Seed 003's clients read why a 401 happened from its body, but API Gateway's own 401 cannot carry
# a reason. On these routes an unidentified caller is let through with only the reason in the
# context (no role, no app), and the handler answers 401 with it (eventlog_api.require_caller).
EXPLAINED_401_ROUTES = frozenset(
    {("POST", "/api/event"), ("POST", "/event"), ("GET", "/api/ready"), ("GET", "/ready")}
)
BEARER = "send Authorization: Bearer <token>"


@dataclass(frozen=True)
class Request:
    """What the authorizer reads of API Gateway's REQUEST authorizer event. Not Powertools' data
    class: importing it loads the data classes of every event source, a tenth of this function's
    cold start, which every cold request path waits for."""

    method: str
    resource: str
    method_arn: str
    headers: dict[str, str]  # names in lower case: HTTP's are case-insensitive
    app_id: str | None

    @classmethod
    def of(cls, event: dict[str, Any]) -> "Request":
        return cls(
            method=event["httpMethod"],
            resource=event["resource"],
            method_arn=event["methodArn"],
            headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
            app_id=(event.get("pathParameters") or {}).get("app_id"),
        )


class Unauthorized(Exception):
    """API Gateway answers 401 to exactly this message; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__("Unauthorized")
        self.reason = reason


def _identify(request: Request) -> tuple[Principal, str | None]:
    """The caller and their usage-plan key; Unauthorized, with the reason, when there is no
    valid credential."""
    for header in ("x-api-key", "X-INGEST-KEY"):
        key = request.headers.get(header.lower())
        if key:
            found = auth.authenticate_key(key.strip())
            if found is None:
                raise Unauthorized(f"the {header} key is unknown or revoked")
            return found
    authorization = (request.headers.get("authorization") or "").strip()
    if not authorization:
        raise Unauthorized(f"no credential: {BEARER}")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(f"the Authorization scheme is not Bearer: {BEARER}")
    if not token.strip():
        raise Unauthorized(f"the Authorization header has no token: {BEARER}")
    try:
        # One GetItem: the token's record (revoked?) or, for a token without a jti, its app.
        return auth.authenticate_token(token.strip())
    except AuthenticationError as error:
        raise Unauthorized(error.message) from None


def _explained_refusal(method_arn: str, reason: str) -> dict:
    """Let an unidentified caller through to a handler that answers 401 with the reason."""
    return {
        "principalId": "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}
            ],
        },
        "context": {"refusal": reason},
        # Metered apart, on a small plan: anyone can send these, so they must not spend the
        # operator's throttle and quota (nor any app's).
        "usageIdentifierKey": usage.anonymous_usage_key(),
    }


def _denial(principal: Principal, request: Request) -> str | None:
    """Why the caller may not make this request, or None when they may."""
    allowed = ROUTE_ROLES.get((request.method, request.resource), frozenset({Role.ADMIN}))
    if principal.role not in allowed:
        route = f"{request.method} {request.resource}"
        return f"credentials of role '{principal.role.value}' may not call {route}"
    app_id = request.app_id
    if app_id is not None and "{app_id}" in request.resource:
        # A malformed id names no app: only an admin gets through (the handler answers 4xx).
        wanted = parse_app_id(app_id)
        if wanted is None and principal.role is not Role.ADMIN:
            # Not echoed: the reason lands in a JSON template, and a path may hold anything.
            return f"this credential is for app {principal.app_id}; the path names no app id"
        if wanted is not None and not principal.may_use_app(wanted):
            return f"this credential is for app {principal.app_id}, not app {wanted}"
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
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict:
    request = Request.of(event)
    try:
        principal, usage_key = _identify(request)
    except Unauthorized as refused:
        logger.info("unidentified caller", extra={"reason": refused.reason})
        if (request.method, request.resource) in EXPLAINED_401_ROUTES:
            return _explained_refusal(request.method_arn, refused.reason)
        raise
    reason = _denial(principal, request)
    if reason:
        logger.info("request refused", extra={"key_id": principal.key_id, "reason": reason})
    return _policy(principal, request.method_arn, reason, usage_key)
