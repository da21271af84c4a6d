"""API Gateway usage-plan keys: the identity API Gateway throttles and meters.

Each app gets its own API Gateway key on the stack's usage plan, so one tenant's burst cannot
use up another's quota. Principals without an app (admins) use the stack's operator key;
callers let through without a credential (seed 003's explained 401s) the anonymous key, on a
small usage plan of its own (template.yaml's AnonymousUsagePlan).
The authorizer returns the key as `usageIdentifierKey` (the API uses ApiKeySourceType AUTHORIZER).
"""

import secrets
from functools import cache
from typing import Any

import boto3

from eventlog.base.config import get_settings

# The ids never change for a deployment; re-read hourly all the same.
PARAMETER_MAX_AGE_SECONDS = 3600


@cache
def _client() -> Any:
    return boto3.client("apigateway")


def _parameter(name: str) -> str:
    from aws_lambda_powertools.utilities.parameters import get_parameter

    return str(get_parameter(name, max_age=PARAMETER_MAX_AGE_SECONDS))


def create_app_usage_key(app_id: int, app_name: str) -> tuple[str, str]:
    """A new API Gateway key for the app, bound to the usage plan: (key id, key value)."""
    value = secrets.token_urlsafe(30)
    key = _client().create_api_key(
        name=f"eventlog-app-{app_id}",
        description=f"Usage key of app {app_name}",
        enabled=True,
        value=value,
    )
    _client().create_usage_plan_key(
        usagePlanId=_parameter(get_settings().usage_plan_id_parameter),
        keyId=key["id"],
        keyType="API_KEY",
    )
    return key["id"], value


def delete_usage_key(key_id: str) -> None:
    _client().delete_api_key(apiKey=key_id)


def operator_usage_key() -> str:
    """The stack's own usage key value (read once per container)."""
    return _key_value(_parameter(get_settings().operator_api_key_id_parameter))


def anonymous_usage_key() -> str:
    """The usage key value of callers let through without a credential (seed 003's explained
    401s): on a small usage plan of its own, so they cannot spend the operator's quota."""
    return _key_value(_parameter(get_settings().anonymous_api_key_id_parameter))


@cache
def _key_value(key_id: str) -> str:
    return _client().get_api_key(apiKey=key_id, includeValue=True)["value"]
