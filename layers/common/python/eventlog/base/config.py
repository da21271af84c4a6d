"""Configuration read from the environment the SAM template sets."""

import os
from dataclasses import dataclass
from functools import cache


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


@cache
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        events_table=env.get("EVENTS_TABLE", "EventsTable"),
        registry_table=env.get("REGISTRY_TABLE", "RegistryTable"),
        aggregates_table=env.get("AGGREGATES_TABLE", "AggregatesTable"),
        idempotency_table=env.get("IDEMPOTENCY_TABLE", "IdempotencyTable"),
        retention_days=int(env.get("RETENTION_DAYS", "30")),
        signing_secret_parameter=env.get("SIGNING_SECRET_PARAMETER", "/eventlog/signing-secret"),
        usage_plan_id_parameter=env.get("USAGE_PLAN_ID_PARAMETER", ""),
        operator_api_key_id_parameter=env.get("OPERATOR_API_KEY_ID_PARAMETER", ""),
        notification_queue_url=env.get("NOTIFICATION_QUEUE_URL", ""),
        notification_max_receives=int(env.get("NOTIFICATION_MAX_RECEIVES", "5")),
        alerts_topic_arn=env.get("ALERTS_TOPIC_ARN", ""),
        channel_secrets_prefix=env.get("CHANNEL_SECRETS_PREFIX", "/eventlog/secrets"),
        allowed_target_networks=env.get("ALLOWED_TARGET_NETWORKS", ""),
        propagation_interval_seconds=int(env.get("PROPAGATION_INTERVAL_SECONDS", "60")),
        propagation_delay_seconds=int(env.get("PROPAGATION_DELAY_SECONDS", "15")),
        subscription_max_failures=int(env.get("SUBSCRIPTION_MAX_FAILURES", "10")),
        name_cardinality_limit=int(env.get("NAME_CARDINALITY_LIMIT", "10000")),
        aggregation_failure_queue_url=env.get("AGGREGATION_FAILURE_QUEUE_URL", ""),
    )
