"""The fake AWS the unit tests run in: the template, its environment, moto clients, and the
guard that records which DynamoDB operations the core sends."""

import copy
import functools
import threading
from dataclasses import dataclass
from typing import Any

import boto3

from local_stack.resources import Provisioned
from local_stack.runtime import LambdaFunction, global_environment
from local_stack.streams import DrainSummary, StreamMapping, StreamPoller
from local_stack.template import Template, load_yaml
from tests.support import TEMPLATE_PATH
from tests.support.handlers import handler_module

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
    "ANONYMOUS_API_KEY_ID_PARAMETER",
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
    "TOKEN_MAX_LIFETIME_SECONDS",
)


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
        clear_core_caches()

    @property
    def operator_api_key_value(self) -> str:
        """The value of the stack's operator API key (the admins' usage identifier)."""
        key_id = self.template.physical_ids["EventlogApiApiKey"]
        return aws_client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]


def clear_core_caches() -> None:
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
    env = {
        name: value
        for name, value in global_environment(template).items()
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


class WarmBoto3:
    """What provisioning sees as `boto3`."""

    client = staticmethod(aws_client)


def aggregator_stream(template: Template) -> StreamPoller:
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
    from eventlog.storage import db, idempotency

    return [
        db.client(),
        idempotency._persistence().client,
        idempotency.notifier_persistence().client,
    ]
