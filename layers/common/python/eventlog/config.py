"""Configuration read from the environment the SAM template sets."""

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Settings:
    events_table: str
    registry_table: str
    idempotency_table: str
    retention_days: int
    signing_secret_parameter: str
    usage_plan_id: str
    operator_api_key_id: str


@cache
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        events_table=env.get("EVENTS_TABLE", "EventsTable"),
        registry_table=env.get("REGISTRY_TABLE", "RegistryTable"),
        idempotency_table=env.get("IDEMPOTENCY_TABLE", "IdempotencyTable"),
        retention_days=int(env.get("RETENTION_DAYS", "30")),
        signing_secret_parameter=env.get("SIGNING_SECRET_PARAMETER", "/eventlog/signing-secret"),
        usage_plan_id=env.get("USAGE_PLAN_ID", ""),
        operator_api_key_id=env.get("OPERATOR_API_KEY_ID", ""),
    )
