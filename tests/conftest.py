"""Shared test setup: a fake AWS that never leaves this process, and the service built in it.

- The environment below is set before anything imports boto3: fake credentials, one region,
  no profile or endpoint of the developer's, no instance-metadata probing.
- `aws`: moto's `mock_aws()` with every resource of template.yaml created by the local stack's
  own provisioning (nothing about tables is repeated here), the signing secret in SSM, and the
  environment the template gives the functions.
- The events table's stream is driven by the local stack's own poller (`aws.settle()` runs the
  aggregator over every record written so far, as Lambda would within about a second). Every
  handler invoked through `invoke` (the `api` fixture's requests) sees the stream settled
  first, so a test reads statistics as a client reads them once `as_of` has caught up.
- Handlers are imported from their files under unique module names (several are `app.py`) and
  called with the sample events of `events/`, changed only where a test needs it (`api`).
- Every test that uses `aws` records the DynamoDB operations it causes and fails at teardown on
  any operation outside ALLOWED_DYNAMODB_OPERATIONS (a Scan on a request path is a defect).
"""

import os

_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "Eventlog",
    "POWERTOOLS_SERVICE_NAME": "tests",
    "POWERTOOLS_DEV": "false",
}
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]  # AWS_PROFILE, AWS_ENDPOINT_URL*, ...: nothing may point elsewhere
os.environ.update(_FAKE_AWS)

# ruff: noqa: E402 - the imports below must see the environment above
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from loopback_receiver import LoopbackReceiver
from moto import mock_aws  # imported early: its botocore hooks then cover every client

from local_stack import LocalStackProcess, moto_patches, resources
from local_stack.resources import assign_physical_ids
from tests.support.api import Api
from tests.support.dripping import DrippingReceiver
from tests.support.fake_aws import (
    DynamoDBCalls,
    FakeAws,
    WarmBoto3,
    aggregator_stream,
    clear_core_caches,
    core_dynamodb_clients,
    function_environment,
    load_template,
)
from tests.support.handlers import sample_event, settling_first
from tests.support.local_stack import TEST_STACK_PARAMETERS, StackSession

# ---------------------------------------------------------------- AWS (moto)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """A fresh moto with everything template.yaml creates, and the functions' environment."""
    moto_patches.apply()
    with mock_aws():
        template = load_template()
        assign_physical_ids(template)
        with monkeypatch.context() as patch:
            patch.setattr(resources, "boto3", WarmBoto3)
            provisioned = resources.provision(template)
        environment = function_environment(template)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        assert environment["SIGNING_SECRET_PARAMETER"] == template.ref("SigningSecretParameterName")
        fake = FakeAws(template, provisioned, environment, signing_secret="")
        fake.set_signing_secret(secrets.token_hex(32))  # the SecureString operators create
        fake.stream = aggregator_stream(template)
        with settling_first(fake.settle):
            yield fake
    clear_core_caches()


# ---------------------------------------------------------------- the DynamoDB guard


@pytest.fixture
def dynamodb_calls(aws: FakeAws) -> Iterator[DynamoDBCalls]:
    calls = DynamoDBCalls()
    hook_id = f"tests-dynamodb-calls-{id(calls)}"
    clients = core_dynamodb_clients()
    for client in clients:
        client.meta.events.register("before-call.dynamodb", calls, unique_id=hook_id)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-call.dynamodb", unique_id=hook_id)


@pytest.fixture(autouse=True)
def _dynamodb_uses_keys_only(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on the fake AWS fails at teardown if anything sent a Scan (or worse)."""
    if "aws" not in request.fixturenames:
        yield
        return
    calls: DynamoDBCalls = request.getfixturevalue("dynamodb_calls")
    yield
    assert not calls.forbidden(), (
        f"DynamoDB operations outside keys and indexes: {calls.forbidden()} "
        f"(all operations: {calls.operations})"
    )


# ---------------------------------------------------------------- the service's data, via the core


@pytest.fixture
def app(aws: FakeAws) -> Any:
    """An app (eventlog.access.apps.create_app): id, name, created_at, plaintext ingest key."""
    from eventlog.access.apps import create_app

    return create_app("shop")


@pytest.fixture
def other_app(aws: FakeAws) -> Any:
    from eventlog.access.apps import create_app

    return create_app("warehouse")


@pytest.fixture
def admin_key(aws: FakeAws) -> Any:
    from eventlog.access.keys import create_key
    from eventlog.access.principal import Role
    from eventlog.models.admin import KeyIn

    return create_key(KeyIn(role=Role.ADMIN, label="tests admin"))


@pytest.fixture
def user_key(app: Any) -> Any:
    from eventlog.access.keys import create_key
    from eventlog.access.principal import Role
    from eventlog.models.admin import KeyIn

    return create_key(KeyIn(role=Role.USER, app_id=app.id, label="tests user"))


@pytest.fixture
def store_event(aws: FakeAws) -> Callable[..., Any]:
    """Write an event straight through the event store, received at a chosen time.

    `store_event(app_id, received, expires_at=None, **fields)` returns the stored Event; fields
    default to an INFO event with a message. `expires_at` (epoch seconds) defaults to retention.
    """
    from eventlog.base.ids import new_ulid
    from eventlog.base.timeutil import epoch_seconds, format_iso
    from eventlog.models.events import Event
    from eventlog.storage import event_store

    def store(
        app_id: int, received: datetime, expires_at: int | None = None, **fields: Any
    ) -> Event:
        values = {"level": "INFO", "message": "stored by a test", **fields}
        event = Event(
            id=new_ulid(received),
            app_id=app_id,
            received_at=format_iso(received),
            occurred_at=values.pop("occurred_at", format_iso(received)),
            **values,
        )
        if expires_at is None:
            expires_at = epoch_seconds(received + timedelta(days=30))
        event_store.put_new_events([event], expires_at)
        return event

    return store


# ---------------------------------------------------------------- handlers and their events


@pytest.fixture
def sample_body() -> Callable[[str], Any]:
    """The JSON body of events/<name>.json, parsed."""
    return lambda name: json.loads(sample_event(name)["body"])


@pytest.fixture
def api() -> Api:
    return Api()


# ---------------------------------------------------------------- receivers on loopback


@pytest.fixture
def receiver() -> Iterator[LoopbackReceiver]:
    server = LoopbackReceiver()
    yield server
    server.close()


@pytest.fixture
def dripping() -> Iterator[DrippingReceiver]:
    """A webhook that drips its reply a byte at a time and never finishes it."""
    server = DrippingReceiver()
    yield server
    server.close()


@pytest.fixture
def loopback_targets(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Allow webhook and subscription targets on loopback, as the local stack does."""
    from eventlog.base.config import get_settings

    monkeypatch.setenv("ALLOWED_TARGET_NETWORKS", "127.0.0.0/8,::1/128")
    get_settings.cache_clear()


# ---------------------------------------------------------------- the local stack over HTTP


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStackProcess]:
    """The whole service from template.yaml, with the `default` app and an admin key made."""
    with LocalStackProcess(port=0, parameters=TEST_STACK_PARAMETERS) as running:
        yield running


@pytest.fixture
def http(stack: LocalStackProcess) -> Iterator[StackSession]:
    with StackSession(stack) as session:
        yield session


@pytest.fixture
def stack_aws(stack: LocalStackProcess):
    """`stack_aws("dynamodb")`: a boto3 client on the stack's moto, to see what was stored.
    (Not named `aws`: that is the in-process mock_aws fixture of tests/conftest.py.)"""

    def client(service: str) -> Any:
        return boto3.client(
            service, endpoint_url=stack.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
        )  # fmt: skip

    return client
