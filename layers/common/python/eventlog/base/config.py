"""Configuration read from the environment the SAM template sets (its Globals).

A missing or malformed setting stops the cold start with a message naming it: a function that
started without its queue URL would otherwise fail later, on some request, with a botocore error
about an empty parameter. Only settings with a sensible default (numbers the template exposes as
parameters, the networks a target may reach) may be left out.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

# template.yaml's TokenMaxLifetimeSeconds default: a day.
DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 86_400


class SettingsError(RuntimeError):
    """The environment lacks a setting, or holds one that cannot be read."""


@dataclass(frozen=True)
class Settings:
    events_table: str
    registry_table: str
    aggregates_table: str
    idempotency_table: str
    retention_days: int
    signing_secret_parameter: str
    # SSM parameter names: the ids themselves cannot be passed in (a circular dependency in CFN).
    usage_plan_id_parameter: str
    operator_api_key_id_parameter: str
    # The key (on a small usage plan of its own) that meters callers let through anonymously.
    anonymous_api_key_id_parameter: str
    notification_queue_url: str
    notification_max_receives: int
    alerts_topic_arn: str
    channel_secrets_prefix: str  # SSM path of webhook, Slack and subscription secrets
    allowed_target_networks: str  # CIDRs a target may resolve to although not public
    propagation_interval_seconds: int
    propagation_delay_seconds: int
    subscription_max_failures: int
    name_cardinality_limit: int  # distinct names (and services) counted per app and day
    aggregation_failure_queue_url: str  # stream records the aggregator could not count
    token_max_lifetime_seconds: int  # the longest expires_in POST /tokens grants


class _Environment:
    """Reads variables, noting every one missing or malformed, to name them all at once."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables
        self.missing: list[str] = []
        self.malformed: list[str] = []

    def text(self, name: str) -> str:
        value = self.variables.get(name, "")
        if not value:
            self.missing.append(name)
        return value

    def number(self, name: str, default: int, minimum: int = 1) -> int:
        """A whole number, as the template's parameter allows; its default when unset."""
        value = self.variables.get(name)
        if value is None:
            return default
        if value.isascii() and value.isdigit() and int(value) >= minimum:
            return int(value)
        self.malformed.append(f"{name}={value!r} (a whole number, at least {minimum})")
        return default

    def check(self) -> None:
        problems = []
        if self.missing:
            problems.append(f"missing {', '.join(self.missing)}")
        if self.malformed:
            problems.append(f"malformed {', '.join(self.malformed)}")
        if problems:
            raise SettingsError(
                f"Eventlog cannot start: {'; '.join(problems)}. template.yaml's Globals set "
                "these for every function; outside Lambda, set them in the environment."
            )


@cache
def get_settings() -> Settings:
    """The settings, read once; SettingsError naming every missing or malformed variable."""
    env = _Environment(os.environ)
    settings = Settings(
        events_table=env.text("EVENTS_TABLE"),
        registry_table=env.text("REGISTRY_TABLE"),
        aggregates_table=env.text("AGGREGATES_TABLE"),
        idempotency_table=env.text("IDEMPOTENCY_TABLE"),
        retention_days=env.number("RETENTION_DAYS", 30),
        signing_secret_parameter=env.text("SIGNING_SECRET_PARAMETER"),
        usage_plan_id_parameter=env.text("USAGE_PLAN_ID_PARAMETER"),
        operator_api_key_id_parameter=env.text("OPERATOR_API_KEY_ID_PARAMETER"),
        anonymous_api_key_id_parameter=env.text("ANONYMOUS_API_KEY_ID_PARAMETER"),
        notification_queue_url=env.text("NOTIFICATION_QUEUE_URL"),
        notification_max_receives=env.number("NOTIFICATION_MAX_RECEIVES", 5),
        alerts_topic_arn=env.text("ALERTS_TOPIC_ARN"),
        channel_secrets_prefix=env.text("CHANNEL_SECRETS_PREFIX"),
        # Optional: no network beyond the public internet unless the operator allows one.
        allowed_target_networks=os.environ.get("ALLOWED_TARGET_NETWORKS", ""),
        propagation_interval_seconds=env.number("PROPAGATION_INTERVAL_SECONDS", 60),
        propagation_delay_seconds=env.number("PROPAGATION_DELAY_SECONDS", 15, minimum=0),
        subscription_max_failures=env.number("SUBSCRIPTION_MAX_FAILURES", 10),
        name_cardinality_limit=env.number("NAME_CARDINALITY_LIMIT", 10000),
        aggregation_failure_queue_url=env.text("AGGREGATION_FAILURE_QUEUE_URL"),
        token_max_lifetime_seconds=env.number(
            "TOKEN_MAX_LIFETIME_SECONDS", DEFAULT_TOKEN_MAX_LIFETIME_SECONDS, minimum=60
        ),
    )
    env.check()
    return settings
