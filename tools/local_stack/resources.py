"""AWS on loopback: moto in server mode, and the template's resources created in it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from local_stack.template import ACCOUNT_ID, API_ID, REGION, Template, TemplateError

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# The property holding each resource type's name, which is also what Ref returns for most.
_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SSM::Parameter": "Name",
}
_QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy", "FifoQueue",
    "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
    "SqsManagedSseEnabled",
)  # fmt: skip
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


class MotoEndpoint:
    """moto's server on 127.0.0.1, on a port the OS picks (no race with other stacks)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # heavy import, only when a stack starts

        from local_stack import moto_patches

        moto_patches.apply()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log for every AWS call
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._server.start()
        wsgi_server = self._server._server
        assert wsgi_server is not None, "start() returns once the server is made"
        wsgi_server.app = _dynamodb_one_at_a_time(wsgi_server.app)
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.stop()


def _dynamodb_one_at_a_time(app: Any) -> Any:
    """moto's DynamoDB is not thread-safe (concurrent `ADD`s to one item lose updates, where
    DynamoDB applies each atomically): its requests take turns; other services' (an SQS long
    poll) do not wait for them."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with lock:
                return app(environ, start_response)
        return app(environ, start_response)

    return serve


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """Variables that send every boto3 call of this process to moto, with fake credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,  # honoured by botocore for every service
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",  # never probe 169.254.169.254
        "AWS_CONFIG_FILE": os.devnull,  # a developer's profiles must not redirect anything
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass
class Provisioned:
    """What was created, for the gateway (usage plans) and for the start-up banner."""

    tables: list[str] = field(default_factory=list)
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    usage_plans: dict[str, str] = field(default_factory=dict)  # Api logical id -> plan id
    signing_parameter: str | None = None


def assign_physical_ids(template: Template) -> None:
    """Ref and GetAtt values that are known before anything exists (names and ARNs)."""
    for logical_id, resource in template.resources.items():
        template.physical_ids[logical_id] = logical_id
        name_property = _NAME_PROPERTY.get(resource.get("Type", ""))
        props = resource.get("Properties") or {}
        if name_property and name_property in props:
            # A name built from something not made yet: the logical id will do.
            with contextlib.suppress(TemplateError):
                template.physical_ids[logical_id] = str(template.resolve(props[name_property]))
    for logical_id, resource in template.resources.items():
        _assign_attributes(template, logical_id, resource)
    _assign_api_ids(template)


def _assign_attributes(template: Template, logical_id: str, resource: dict[str, Any]) -> None:
    name = template.physical_ids[logical_id]
    kind = resource.get("Type", "")
    arn_prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}"
    attrs: dict[str, Any] = {}
    if kind in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
        attrs["Arn"] = f"{arn_prefix.format('dynamodb')}:table/{name}"
    elif kind == "AWS::SQS::Queue":
        props = resource.get("Properties") or {}
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name = template.physical_ids[logical_id] = f"{name}.fifo"
        attrs.update(Arn=f"{arn_prefix.format('sqs')}:{name}", QueueName=name)
    elif kind == "AWS::SNS::Topic":
        arn = template.physical_ids[logical_id] = f"{arn_prefix.format('sns')}:{name}"
        attrs.update(TopicArn=arn, TopicName=name)
    elif kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        attrs["Arn"] = f"{arn_prefix.format('lambda')}:function:{name}"
    elif kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
        template.physical_ids[logical_id] = f"{arn_prefix.format('lambda')}:layer:{name}:1"
    elif kind == "AWS::Logs::LogGroup":
        attrs["Arn"] = f"{arn_prefix.format('logs')}:log-group:{name}:*"
    for attribute, value in attrs.items():
        template.attributes[(logical_id, attribute)] = value


def _assign_api_ids(template: Template) -> None:
    for api_id, props in template.apis().items():
        template.physical_ids[api_id] = API_ID
        stage = template.resolve(props.get("StageName", "Prod"))
        template.physical_ids[f"{api_id}.Stage"] = stage  # SAM's !Ref MyApi.Stage
        template.attributes[(api_id, "RootResourceId")] = "root"


def provision(template: Template) -> Provisioned:
    """Create the template's tables, queues, topics, parameters and usage plans in moto."""
    done = Provisioned()
    _create_usage_plans(template, done)  # first: SSM parameters may hold the plan's ids
    dynamodb = boto3.client("dynamodb")
    for logical_id, props in template.of_type("AWS::DynamoDB::Table"):
        done.tables.append(_create_table(dynamodb, template, logical_id, template.resolve(props)))
    for logical_id, props in template.of_type("AWS::Serverless::SimpleTable"):
        done.tables.append(_create_simple_table(dynamodb, template, logical_id, props))
    _create_queues(template, done)
    sns = boto3.client("sns")
    for logical_id, _props in template.of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=template.attributes[(logical_id, "TopicName")])
    ssm = boto3.client("ssm")
    for logical_id, props in template.of_type("AWS::SSM::Parameter"):
        props = template.resolve(props)
        ssm.put_parameter(
            Name=template.physical_ids[logical_id], Value=str(props["Value"]),
            Type=props.get("Type", "String"), Overwrite=True,
        )  # fmt: skip
    if "SigningSecretParameterName" in template.parameters:
        # Created by hand before a deploy (CloudFormation cannot make SecureStrings): made here.
        done.signing_parameter = template.ref("SigningSecretParameterName")
        ssm.put_parameter(
            Name=done.signing_parameter, Value=secrets.token_hex(32), Type="SecureString",
            Overwrite=True,
        )  # fmt: skip
    return done


def _create_table(client: Any, template: Template, logical_id: str, props: dict) -> str:
    name = template.physical_ids[logical_id]
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(index_kind):
            request[index_kind] = [
                {key: index[key] for key in _INDEX_KEYS if key in index}
                for index in props[index_kind]
            ]
    if request["BillingMode"] == "PROVISIONED":
        for index in request.get("GlobalSecondaryIndexes", []):
            index["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, **stream}
    table = client.create_table(**request)["TableDescription"]
    if table.get("LatestStreamArn"):
        template.attributes[(logical_id, "StreamArn")] = table["LatestStreamArn"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    return name


def _throughput(value: dict | None) -> dict[str, int]:
    value = value or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    return {key: int(value[key]) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _create_simple_table(client: Any, template: Template, logical_id: str, props: dict) -> str:
    props = template.resolve(props)
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    key_type = {"String": "S", "Number": "N", "Binary": "B"}[key["Type"]]
    table = {
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": key_type}],
        "BillingMode": "PROVISIONED" if props.get("ProvisionedThroughput") else "PAY_PER_REQUEST",
        "ProvisionedThroughput": props.get("ProvisionedThroughput"),
    }
    return _create_table(client, template, logical_id, table)


def _create_queues(template: Template, done: Provisioned) -> None:
    sqs = boto3.client("sqs")
    queues = [
        (logical_id, template.resolve(props))
        for logical_id, props in template.of_type("AWS::SQS::Queue")
    ]
    # Dead-letter queues first: a redrive policy must name a queue that exists.
    queues.sort(key=lambda item: "RedrivePolicy" in item[1])
    for logical_id, props in queues:
        attributes: dict[QueueAttributeNameType, str] = {}
        for name in _QUEUE_ATTRIBUTES:
            if name in props:
                value = props[name]
                if isinstance(value, dict):
                    value = json.dumps(value)
                elif isinstance(value, bool):
                    value = "true" if value else "false"
                attributes[name] = str(value)
        url = sqs.create_queue(
            QueueName=template.attributes[(logical_id, "QueueName")], Attributes=attributes
        )["QueueUrl"]
        template.physical_ids[logical_id] = url  # Ref of a queue is its URL
        template.attributes[(logical_id, "QueueUrl")] = url
        done.queues[logical_id] = url


def _create_usage_plans(template: Template, done: Provisioned) -> None:
    """The usage plan and API key SAM generates for `Auth.UsagePlan`, under SAM's logical ids."""
    apigateway = boto3.client("apigateway")
    shared_plan: str | None = None
    for api_id, props in template.apis().items():
        plan = (props.get("Auth") or {}).get("UsagePlan") or {}
        mode = template.resolve(plan.get("CreateUsagePlan", "NONE"))
        if mode == "SHARED" and shared_plan:
            done.usage_plans[api_id] = shared_plan
            continue
        if mode not in ("PER_API", "SHARED"):
            continue
        prefix = api_id if mode == "PER_API" else "Serverless"
        plan = template.resolve(plan)
        request: dict[str, Any] = {"name": plan.get("UsagePlanName", f"{prefix}UsagePlan")}
        if plan.get("Description"):
            request["description"] = plan["Description"]
        if plan.get("Throttle"):
            throttle = plan["Throttle"]
            request["throttle"] = {
                "burstLimit": int(throttle.get("BurstLimit", 0)),
                "rateLimit": float(throttle.get("RateLimit", 0)),
            }
        if plan.get("Quota"):
            quota = plan["Quota"]
            request["quota"] = {"limit": int(quota["Limit"]), "period": quota["Period"]}
            if "Offset" in quota:
                request["quota"]["offset"] = int(quota["Offset"])
        plan_id = apigateway.create_usage_plan(**request)["id"]
        key_id = apigateway.create_api_key(name=f"{prefix}ApiKey", enabled=True)["id"]
        plan_key = apigateway.create_usage_plan_key(
            usagePlanId=plan_id, keyId=key_id, keyType="API_KEY"
        )
        template.physical_ids[f"{prefix}UsagePlan"] = plan_id
        template.physical_ids[f"{prefix}ApiKey"] = key_id
        template.physical_ids[f"{prefix}UsagePlanKey"] = plan_key["id"]
        done.usage_plans[api_id] = plan_id
        if mode == "SHARED":
            shared_plan = plan_id
    _create_plain_usage_plans(template, apigateway)


def _create_plain_usage_plans(template: Template, apigateway: Any) -> None:
    """The template's own AWS::ApiGateway::ApiKey, UsagePlan and UsagePlanKey resources (a plan
    beside SAM's: the gateway accepts a key of any plan that names the API's stage)."""
    for logical_id, props in template.of_type("AWS::ApiGateway::ApiKey"):
        props = template.resolve(props)
        request: dict[str, Any] = {
            "name": str(props.get("Name", logical_id)),
            "enabled": str(props.get("Enabled", "false")).lower() == "true",
        }
        if props.get("Value"):
            request["value"] = str(props["Value"])
        template.physical_ids[logical_id] = apigateway.create_api_key(**request)["id"]
    for logical_id, props in template.of_type("AWS::ApiGateway::UsagePlan"):
        props = template.resolve(props)
        plan: dict[str, Any] = {
            "name": str(props.get("UsagePlanName", logical_id)),
            "apiStages": [
                {"apiId": str(stage["ApiId"]), "stage": str(stage["Stage"])}
                for stage in props.get("ApiStages") or []
            ],
        }
        if props.get("Throttle"):
            plan["throttle"] = {
                "burstLimit": int(props["Throttle"].get("BurstLimit", 0)),
                "rateLimit": float(props["Throttle"].get("RateLimit", 0)),
            }
        if props.get("Quota"):
            plan["quota"] = {
                "limit": int(props["Quota"]["Limit"]),
                "period": str(props["Quota"]["Period"]),
            }
        template.physical_ids[logical_id] = apigateway.create_usage_plan(**plan)["id"]
    for logical_id, props in template.of_type("AWS::ApiGateway::UsagePlanKey"):
        props = template.resolve(props)
        apigateway.create_usage_plan_key(
            usagePlanId=str(props["UsagePlanId"]), keyId=str(props["KeyId"]), keyType="API_KEY"
        )
        template.physical_ids[logical_id] = str(props["KeyId"])
