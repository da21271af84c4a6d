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
    )
