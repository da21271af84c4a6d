"""Settings: a function missing a setting stops at its cold start, naming what is missing."""

import os
import subprocess
import sys

import pytest

from eventlog.base.config import SettingsError, get_settings
from tests.support import ROOT
from tests.support.fake_aws import FUNCTION_ENV_NAMES


@pytest.fixture
def environment(monkeypatch):
    """Every variable the template's Globals give the functions, as a deployed stack has them."""
    for name in FUNCTION_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    values = {
        "EVENTS_TABLE": "events",
        "REGISTRY_TABLE": "registry",
        "AGGREGATES_TABLE": "aggregates",
        "IDEMPOTENCY_TABLE": "idempotency",
        "SIGNING_SECRET_PARAMETER": "/eventlog/signing-secret",
        "USAGE_PLAN_ID_PARAMETER": "/eventlog/stack/usage-plan-id",
        "OPERATOR_API_KEY_ID_PARAMETER": "/eventlog/stack/operator-api-key-id",
        "ANONYMOUS_API_KEY_ID_PARAMETER": "/eventlog/stack/anonymous-api-key-id",
        "NOTIFICATION_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/notifications",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:alerts",
        "CHANNEL_SECRETS_PREFIX": "/eventlog/stack/secrets",
        "AGGREGATION_FAILURE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/failures",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_numbers_default_to_the_template_parameters(environment):
    settings = get_settings()

    assert settings.notification_queue_url.endswith("/notifications")
    assert (settings.retention_days, settings.notification_max_receives) == (30, 5)
    assert (settings.propagation_interval_seconds, settings.propagation_delay_seconds) == (60, 15)
    assert (settings.subscription_max_failures, settings.name_cardinality_limit) == (10, 10000)
    assert settings.allowed_target_networks == ""
    assert settings.token_max_lifetime_seconds == 86_400


def test_every_missing_setting_is_named_at_once(environment):
    environment.delenv("NOTIFICATION_QUEUE_URL")
    environment.setenv("ALERTS_TOPIC_ARN", "")

    with pytest.raises(SettingsError) as error:
        get_settings()

    assert str(error.value) == (
        "Eventlog cannot start: missing NOTIFICATION_QUEUE_URL, ALERTS_TOPIC_ARN. template.yaml's"
        " Globals set these for every function; outside Lambda, set them in the environment."
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RETENTION_DAYS", "0", "RETENTION_DAYS='0' (a whole number, at least 1)"),
        ("RETENTION_DAYS", "thirty", "RETENTION_DAYS='thirty' (a whole number, at least 1)"),
        (
            "PROPAGATION_DELAY_SECONDS",
            "-1",
            "PROPAGATION_DELAY_SECONDS='-1' (a whole number, at least 0)",
        ),
        ("NAME_CARDINALITY_LIMIT", "²", "NAME_CARDINALITY_LIMIT='²' (a whole number, at least 1)"),
        (
            "TOKEN_MAX_LIFETIME_SECONDS",
            "59",
            "TOKEN_MAX_LIFETIME_SECONDS='59' (a whole number, at least 60)",
        ),
    ],
)
def test_a_malformed_number_is_named(environment, name, value, expected):
    environment.setenv(name, value)

    with pytest.raises(SettingsError, match="malformed") as error:
        get_settings()

    assert expected in str(error.value)


def test_the_anonymous_usage_key_parameter_is_required(environment):
    environment.delenv("ANONYMOUS_API_KEY_ID_PARAMETER")

    with pytest.raises(SettingsError, match="missing ANONYMOUS_API_KEY_ID_PARAMETER"):
        get_settings()


def test_a_delay_of_zero_is_allowed(environment):
    environment.setenv("PROPAGATION_DELAY_SECONDS", "0")

    assert get_settings().propagation_delay_seconds == 0


def test_a_handler_without_its_settings_fails_its_cold_start(environment):
    """As Lambda would report an init error: the process stops while importing the handler."""
    environment.delenv("NOTIFICATION_QUEUE_URL")
    code = ROOT / "functions" / "ingest"
    pythonpath = os.pathsep.join([str(ROOT / "layers/common/python"), str(code)])

    started = subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=code,
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert started.returncode == 1
    assert started.stderr.splitlines()[-1] == (
        "eventlog.base.config.SettingsError: Eventlog cannot start: missing NOTIFICATION_QUEUE_URL."
        " template.yaml's Globals set these for every function; outside Lambda, set them in the"
        " environment."
    )
