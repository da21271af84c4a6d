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
import sys

# pytest imports this file as `conftest`, test modules import it as `tests.conftest`: one
# module under both names, so that what fixtures set (the stream to settle) is what helpers see.
sys.modules.setdefault("tests.conftest", sys.modules[__name__])

import copy
import fnmatch
import functools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.config
import pytest
import requests
from loopback_receiver import LoopbackReceiver, Received  # noqa: F401 - tests import both here
from moto import mock_aws  # imported early: its botocore hooks then cover every client

from local_stack import LocalStackProcess, moto_patches, resources
from local_stack.resources import Provisioned, assign_physical_ids
from local_stack.runtime import LambdaFunction, import_module_from
from local_stack.streams import DrainSummary, StreamMapping, StreamPoller
from local_stack.template import Template, env_string, load_yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
EVENTS_DIR = ROOT / "events"

# Every DynamoDB operation a request path may use: keys and indexes, never a Scan.
ALLOWED_DYNAMODB_OPERATIONS = frozenset(
    {
        "GetItem",
        "Query",
        "PutItem",
        "BatchWriteItem",
        "UpdateItem",
        "TransactWriteItems",
        "DeleteItem",
        "BatchGetItem",
    }
)
# The variables of the template's Globals.Function environment the core reads.
FUNCTION_ENV_NAMES = (
    "EVENTS_TABLE",
    "REGISTRY_TABLE",
    "AGGREGATES_TABLE",
    "IDEMPOTENCY_TABLE",
    "RETENTION_DAYS",
    "SIGNING_SECRET_PARAMETER",
    "USAGE_PLAN_ID_PARAMETER",
    "OPERATOR_API_KEY_ID_PARAMETER",
    "NOTIFICATION_QUEUE_URL",
    "NOTIFICATION_MAX_RECEIVES",
    "ALERTS_TOPIC_ARN",
    "CHANNEL_SECRETS_PREFIX",
    "ALLOWED_TARGET_NETWORKS",
    "PROPAGATION_INTERVAL_SECONDS",
    "PROPAGATION_DELAY_SECONDS",
    "SUBSCRIPTION_MAX_FAILURES",
    "NAME_CARDINALITY_LIMIT",
    "AGGREGATION_FAILURE_QUEUE_URL",
)


# ---------------------------------------------------------------- AWS (moto)


@dataclass
class FakeAws:
    template: Template
    provisioned: Provisioned
    environment: dict[str, str]  # what the template gives the functions
    signing_secret: str
    stream: StreamPoller | None = None  # the aggregator's event source mapping

    def settle(self) -> DrainSummary:
        """Run the aggregator over every stream record not yet delivered (and those it adds)."""
        assert self.stream is not None
        return self.stream.drain()

    def set_signing_secret(self, value: str) -> None:
        """Replace the signing secret (as an operator rotating it would) and forget the old one."""
        aws_client("ssm").put_parameter(
            Name=self.environment["SIGNING_SECRET_PARAMETER"],
            Value=value,
            Type="SecureString",
            Overwrite=True,
        )
        self.signing_secret = value
        _clear_core_caches()

    @property
    def operator_api_key_value(self) -> str:
        """The value of the stack's operator API key (the admins' usage identifier)."""
        key_id = self.template.physical_ids["EventlogApiApiKey"]
        return aws_client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]


def _clear_core_caches() -> None:
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    from eventlog.base.config import get_settings
    from eventlog.stats import stream

    get_settings.cache_clear()
    # What an earlier moto context's aggregates held.
    stream.known_values.clear()
    stream.seen_times.clear()
    # SSM values read in an earlier moto context are gone with it. The providers' clients stay:
    # moto intercepts them in any context, and a new client costs more than a whole test.
    for provider in DEFAULT_PROVIDERS.values():
        provider.clear_cache()


def load_template() -> Template:
    """template.yaml, parsed once per process; each caller gets its own Template to fill in."""
    return Template(copy.deepcopy(_parsed_template()), TEMPLATE_PATH.parent)


@functools.cache
def _parsed_template() -> dict[str, Any]:
    return load_yaml(TEMPLATE_PATH.read_text())  # what Template.load parses


def function_environment(template: Template) -> dict[str, str]:
    """The environment template.yaml gives every function (Globals), Powertools' own aside."""
    variables = template.resolve(template.globals["Function"]["Environment"]["Variables"])
    env = {
        name: env_string(value)
        for name, value in variables.items()
        if not name.startswith("POWERTOOLS_")
    }
    missing = [name for name in FUNCTION_ENV_NAMES if name not in env]
    assert not missing, f"template.yaml no longer sets {missing} for the functions"
    return env


@functools.cache
def aws_client(service_name: str) -> Any:
    """One boto3 client per service per process, for the tests and for provisioning.

    moto intercepts a client in whichever mock context it is used, and creating clients was most
    of the time a fresh stack took: a handful of them cost more than a whole test.
    """
    return boto3.client(service_name)


def create_key_table(name: str, **options: Any) -> dict[str, Any]:
    """A table keyed by string `pk` and `sk`, on demand, in the current moto: its description.
    `options` go to CreateTable (a StreamSpecification, say)."""
    return aws_client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )["TableDescription"]


class _WarmBoto3:
    """What provisioning sees as `boto3`."""

    client = staticmethod(aws_client)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """A fresh moto with everything template.yaml creates, and the functions' environment."""
    moto_patches.apply()
    with mock_aws():
        template = load_template()
        assign_physical_ids(template)
        with monkeypatch.context() as patch:
            patch.setattr(resources, "boto3", _WarmBoto3)
            provisioned = resources.provision(template)
        environment = function_environment(template)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        assert environment["SIGNING_SECRET_PARAMETER"] == template.ref("SigningSecretParameterName")
        fake = FakeAws(template, provisioned, environment, signing_secret="")
        fake.set_signing_secret(secrets.token_hex(32))  # the SecureString operators create
        fake.stream = _aggregator_stream(template)
        global _settling
        _settling = fake
        try:
            yield fake
        finally:
            _settling = None
    _clear_core_caches()


# The stack whose stream `invoke` settles before calling a handler (None: no `aws` fixture).
_settling: FakeAws | None = None


def _aggregator_stream(template: Template) -> StreamPoller:
    """The AggregatorFunction's DynamoDB stream mapping, as the local stack builds it."""
    props = template.properties("AggregatorFunction", "Function")
    (event,) = [e for e in props["Events"].values() if e["Type"] == "DynamoDB"]
    mapping = StreamMapping.from_properties(template.resolve(event["Properties"]), "tests")
    function = LambdaFunction(
        logical_id="AggregatorFunction",
        name="AggregatorFunction",
        handler=handler_module("aggregator").lambda_handler,
        environment={},
        timeout=float(template.resolve(props["Timeout"])),
        memory=512,
        log_group="/aws/lambda/AggregatorFunction",
        events={},
        lock=threading.Lock(),
    )
    return StreamPoller(function, mapping)


# ---------------------------------------------------------------- the DynamoDB guard


class DynamoDBCalls:
    """Names of the DynamoDB operations sent by the core's clients (botocore before-call hook)."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def clear(self) -> None:
        self.operations.clear()

    def forbidden(self) -> list[str]:
        return [name for name in self.operations if name not in ALLOWED_DYNAMODB_OPERATIONS]


def core_dynamodb_clients() -> list[Any]:
    """The clients every DynamoDB call of the core goes through (tables, idempotency records)."""
    from eventlog.delivery import notifications
    from eventlog.storage import db, idempotency

    return [db.client(), idempotency._persistence().client, notifications._persistence().client]


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


@functools.cache
def handler_module(function: str) -> ModuleType:
    """functions/<function>/app.py, imported once under the unique name `handler_<function>`,
    with its sibling modules (every function has an `app.py`), as the local
    stack imports it."""
    code_dir = ROOT / "functions" / function
    return import_module_from(code_dir / "app.py", code_dir, f"handler_{function}")


@functools.cache
def _sample(name: str) -> str:
    return (EVENTS_DIR / f"{name}.json").read_text()


def sample_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json."""
    return json.loads(_sample(name))


@pytest.fixture
def sample_body() -> Callable[[str], Any]:
    """The JSON body of events/<name>.json, parsed."""
    return lambda name: json.loads(sample_event(name)["body"])


def set_headers(event: dict[str, Any], headers: dict[str, str | None]) -> dict[str, Any]:
    """Set (or with None, remove) headers, whatever their case, in both header maps."""
    for name, value in headers.items():
        for field_name in ("headers", "multiValueHeaders"):
            current = event.get(field_name) or {}
            for existing in [key for key in current if key.lower() == name.lower()]:
                del current[existing]
            if value is not None:
                current[name] = value if field_name == "headers" else [value]
            event[field_name] = current
    return event


def set_path(event: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """Fill the event's resource with path parameters: path, pathParameters, requestContext."""
    parameters = {name: str(value) for name, value in parameters.items()}
    path = event["resource"].format(**parameters)
    event["path"] = path
    event["pathParameters"] = parameters or None
    context = event["requestContext"]
    context["path"] = f"/{context['stage']}{path}"
    if "methodArn" in event:
        prefix = event["methodArn"].split("/", 2)
        event["methodArn"] = f"{prefix[0]}/{prefix[1]}/{event['httpMethod']}{path}"
    return event


def set_query(event: dict[str, Any], query: dict[str, Any] | None) -> dict[str, Any]:
    query = {name: str(value) for name, value in (query or {}).items()}
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def set_body(event: dict[str, Any], body: Any) -> dict[str, Any]:
    """A str is sent as it is; anything else as JSON."""
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["isBase64Encoded"] = False
    return event


def set_caller(event: dict[str, Any], role: str, app_id: int | None, key_id: str) -> None:
    """The principal the authorizer put in the request context."""
    event["requestContext"]["authorizer"] = {
        "principalId": key_id,
        "role": role,
        "app_id": str(app_id or ""),
        "key_id": key_id,
        "integrationLatency": 12,
    }


@dataclass
class FakeLambdaContext:
    function_name: str = "eventlog-tests"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:eventlog-tests"
    log_group_name: str = "/aws/lambda/eventlog-tests"
    log_stream_name: str = "2026/02/10/[$LATEST]tests"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def error_fields(self) -> set[str]:
        """The fields an error's `details` name."""
        return {detail["field"] for detail in self.body["details"]}


def invoke(function: str, event: dict[str, Any]) -> Any:
    """Call a handler as Lambda does: JSON in, JSON out, a fresh context; the events table's
    stream settled first, as it would be a second after the last write."""
    if _settling is not None:
        _settling.settle()
    handler = handler_module(function).lambda_handler
    result = handler(json.loads(json.dumps(event)), FakeLambdaContext())
    return json.loads(json.dumps(result))


def invoke_http(function: str, event: dict[str, Any]) -> HttpResponse:
    result = invoke(function, event)
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ", ".join(values))
    return HttpResponse(result["statusCode"], headers, result.get("body") or "")


class Api:
    """The API's routes as API Gateway would invoke the handlers, built from events/*.json."""

    # ------------------------------------------------------------ ingest

    def ingest(
        self, app_id: Any, body: Any, headers: dict[str, str | None] | None = None
    ) -> HttpResponse:
        """POST /apps/{app_id}/events (a list body is a batch), as the app's ingest key."""
        event = set_body(set_path(sample_event("ingest_single"), app_id=app_id), body)
        set_headers(event, headers or {})
        set_caller(event, "ingest", _int_or_none(app_id), "k_ingest_tests")
        return invoke_http("ingest", event)

    # ------------------------------------------------------------ query

    def list_events(self, app_id: Any, **query: Any) -> HttpResponse:
        event = set_query(set_path(sample_event("query_list"), app_id=app_id), query)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("query", event)

    def all_events(self, app_id: Any, **query: Any) -> list[dict[str, Any]]:
        """Every event of a listing, following next_cursor to the end."""
        items, cursor = [], None
        while True:
            reply = self.list_events(
                app_id, limit=50, **query, **({"cursor": cursor} if cursor else {})
            )
            assert reply.status == 200, reply.text
            items += reply.body["items"]
            cursor = reply.body.get("next_cursor")
            if not cursor:
                return items

    def get_event(self, app_id: Any, event_id: str) -> HttpResponse:
        event = set_path(sample_event("query_get"), app_id=app_id, event_id=event_id)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("query", event)

    def health(self) -> HttpResponse:
        return invoke_http("query", sample_event("health"))

    # ------------------------------------------------------------ stats

    def stats(self, app_id: Any, route: str, **query: Any) -> HttpResponse:
        """GET /apps/{app_id}/stats/<route> as a user of the app."""
        event = sample_event("stats_timeseries")
        event["resource"] = event["requestContext"]["resourcePath"] = (
            f"/apps/{{app_id}}/stats/{route}"
        )
        set_query(set_path(event, app_id=app_id), query)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("stats", event)

    def unscoped(
        self,
        function: str,
        method: str,
        resource: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        role: str = "user",
        app_id: int | None = None,
        headers: dict[str, str] | None = None,
        **path_parameters: Any,
    ) -> HttpResponse:
        """A route without an app in its path (the seed APIs'): the credential's app applies."""
        event = sample_event("stats_timeseries")
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = resource
        set_query(set_path(event, **path_parameters), query)
        if body is not None:
            set_body(event, body)
        set_headers(event, headers or {})
        set_caller(event, role, app_id, f"k_{role}_tests")
        return invoke_http(function, event)

    def metrics(self, role: str = "user", app_id: int | None = None) -> HttpResponse:
        """Seed 002's GET /metrics, with a credential of this role and app."""
        event = sample_event("stats_timeseries")
        event["resource"] = event["requestContext"]["resourcePath"] = "/metrics"
        set_query(set_path(event), None)
        set_caller(event, role, app_id, f"k_{role}_tests")
        return invoke_http("stats", event)

    def hourly_png(self, app_id: Any, **query: Any) -> HttpResponse:
        """GET /apps/{app_id}/stats/hourly.png; the body stays as Lambda returns it (base64)."""
        event = set_query(set_path(sample_event("stats_hourly_png"), app_id=app_id), query)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("stats", event)

    # ------------------------------------------------------------ admin

    def delete_events(self, app_id: Any, **query: Any) -> HttpResponse:
        event = set_path(sample_event("admin_delete_events"), app_id=app_id)
        return invoke_http("admin", set_query(event, query))

    def delete_event(self, app_id: Any, event_id: str) -> HttpResponse:
        event = sample_event("admin_delete_event")
        return invoke_http("admin", set_path(event, app_id=app_id, event_id=event_id))

    def admin_request(
        self,
        method: str,
        resource: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        **path_parameters: Any,
    ) -> HttpResponse:
        """Any admin route (alert rules, subscriptions...), as an admin."""
        event = sample_event("admin_get_app")
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = resource
        set_path(event, **path_parameters)
        set_query(event, query)
        if body is not None:
            set_body(event, body)
        return invoke_http("admin", event)

    def create_app(self, name: str) -> HttpResponse:
        return invoke_http("admin", set_path(sample_event("admin_create_app"), app_id=name))

    def list_apps(self, **query: Any) -> HttpResponse:
        return invoke_http("admin", set_query(sample_event("admin_list_apps"), query))

    def get_app(self, app_id: Any) -> HttpResponse:
        return invoke_http("admin", set_path(sample_event("admin_get_app"), app_id=app_id))

    def create_key(self, body: Any) -> HttpResponse:
        return invoke_http("admin", set_body(sample_event("admin_create_key"), body))

    def list_keys(self, **query: Any) -> HttpResponse:
        return invoke_http("admin", set_query(sample_event("admin_list_keys"), query))

    def revoke_key(self, key_id: str) -> HttpResponse:
        return invoke_http("admin", set_path(sample_event("admin_revoke_key"), key_id=key_id))

    def create_token(self, body: Any) -> HttpResponse:
        return invoke_http("admin", set_body(sample_event("admin_create_token"), body))

    # ------------------------------------------------------------ authorizer

    def authorize(
        self,
        headers: dict[str, str | None],
        method: str = "GET",
        resource: str = "/apps/{app_id}/events",
        **path_parameters: Any,
    ) -> "Authorization":
        """The authorizer's answer for a request; the sample's x-api-key is replaced."""
        event = sample_event("authorizer_request")
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = resource
        set_path(event, **path_parameters)
        set_headers(event, {"x-api-key": None, **headers})
        return Authorization(event["methodArn"], invoke("authorizer", event))


@dataclass
class Authorization:
    """A REQUEST authorizer's answer: an IAM policy, a context and a usage identifier key."""

    method_arn: str
    answer: dict[str, Any]

    @property
    def statements(self) -> list[dict[str, Any]]:
        return self.answer["policyDocument"]["Statement"]

    @property
    def allows_the_request(self) -> bool:
        """An Allow statement covers the method ARN and no Deny statement exists."""
        effects = {statement["Effect"] for statement in self.statements}
        return effects == {"Allow"} and any(
            fnmatch.fnmatchcase(self.method_arn, resource)  # IAM's `*` spans `/` too
            for statement in self.statements
            for resource in _as_list(statement["Resource"])
        )

    @property
    def denies_everything(self) -> bool:
        return {statement["Effect"] for statement in self.statements} == {"Deny"}

    @property
    def context(self) -> dict[str, Any]:
        return self.answer.get("context") or {}

    @property
    def usage_key(self) -> str | None:
        return self.answer.get("usageIdentifierKey")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _int_or_none(value: Any) -> int | None:
    return int(value) if str(value).isdigit() else None


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
def loopback_targets(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Allow webhook and subscription targets on loopback, as the local stack does."""
    from eventlog.base.config import get_settings

    monkeypatch.setenv("ALLOWED_TARGET_NETWORKS", "127.0.0.0/8,::1/128")
    get_settings.cache_clear()


# ---------------------------------------------------------------- the local stack over HTTP
# (integration and contract tests)
# The stream's records go to the aggregator as soon as they are read: no batching window, so a
# test waits for its statistics about a poll (a tenth of a second), not a second.
TEST_STACK_PARAMETERS = {"AggregatorBatchingWindowSeconds": "0"}


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStackProcess]:
    """The whole service from template.yaml, with the `default` app and an admin key made."""
    with LocalStackProcess(port=0, parameters=TEST_STACK_PARAMETERS) as running:
        yield running


class EventRecords:
    """The events table's stream from where it stopped last time: the records of events (what
    the aggregator's FilterCriteria lets through), as GetRecords returns them."""

    def __init__(self, stream_arn: str, **client_options: Any):
        # moto does not know botocore's account-based streams endpoint.
        config = botocore.config.Config(account_id_endpoint_mode="disabled")
        self._streams = boto3.client("dynamodbstreams", config=config, **client_options)
        shard = self._streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=shard["Shards"][0]["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            reply = self._streams.get_records(ShardIterator=self._iterator)
            self._iterator = reply["NextShardIterator"]
            if not reply["Records"]:
                return records
            records += [
                record
                for record in reply["Records"]
                if record["dynamodb"]["Keys"]["sk"]["S"].startswith("E#")
            ]


class Watermarks:
    """Waits, as a client would, until each app's statistics count what was written to it.

    It reads the events table's stream on the stack's moto (from where it stopped last time):
    each event record says which app changed and when (an event's received_at, a deletion's
    time), which is what the aggregator's watermark (`X-Eventlog-As-Of`) reaches once it has
    counted the change. `settle()` waits for every app changed since the last call.
    """

    DEADLINE_SECONDS = 90  # a bound on a slow machine, not a wait: it returns once caught up

    def __init__(self, endpoint_url: str):
        options = {
            "endpoint_url": endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self._aggregates = boto3.client("dynamodb", **options)
        table = self._aggregates.describe_table(TableName="EventsTable")["Table"]
        self._records = EventRecords(table["LatestStreamArn"], **options)
        self._lock = threading.Lock()

    def _changes(self) -> dict[int, float]:
        """The newest change of each app since the last call (epoch seconds)."""
        newest: dict[int, float] = {}
        for record in self._records.read():
            change = record["dynamodb"]
            app_id = int(change["Keys"]["pk"]["S"].removeprefix("APP#"))
            image = change.get("NewImage") if record["eventName"] == "INSERT" else None
            at = (
                datetime.fromisoformat(image["received_at"]["S"].replace("Z", "+00:00"))
                if image
                else change["ApproximateCreationDateTime"]
            ).timestamp()
            newest[app_id] = max(at, newest.get(app_id, 0.0))
        return newest

    def _as_of(self, app_id: int) -> float:
        item = self._aggregates.get_item(
            TableName="AggregatesTable",
            Key={"pk": {"S": f"APP#{app_id}#AS_OF"}, "sk": {"S": "AS_OF"}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["as_of_ms"]["N"]) / 1000 if item else 0.0

    def settle(self) -> None:
        with self._lock:
            waiting = self._changes()
            deadline = time.monotonic() + self.DEADLINE_SECONDS
            while waiting:
                waiting = {
                    app_id: at
                    for app_id, at in waiting.items()
                    if self._as_of(app_id) + 0.0005 < at  # as_of is kept in whole milliseconds
                }
                if waiting and time.monotonic() > deadline:
                    raise AssertionError(f"statistics did not catch up with apps {waiting}")
                if waiting:
                    time.sleep(0.05)


@functools.cache
def _watermarks(endpoint_url: str) -> Watermarks:
    return Watermarks(endpoint_url)


def settle(stack: LocalStackProcess) -> None:
    """Wait until the stack's statistics count every change made so far (see Watermarks)."""
    _watermarks(stack.endpoint_url).settle()


class StackSession(requests.Session):
    """A requests session for the stack: absolute URLs, or paths on the stack's URL
    (`http.get("/health")`); a 30 s timeout unless told otherwise. Credentials go per call:
    `http.get("/apps", headers=http.admin)`, `headers=http.ingest` (the default app's key)."""

    def __init__(self, stack: LocalStackProcess):
        super().__init__()
        self.stack = stack
        self.base_url = stack.url
        self.admin = {"x-api-key": stack.admin_key}
        self.ingest = {"X-INGEST-KEY": stack.ingest_key}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        if method in ("GET", b"GET"):
            settle(self.stack)  # reads see what was written, as once X-Eventlog-As-Of caught up
        return super().request(method, url, *args, **kwargs)


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
