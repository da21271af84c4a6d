"""The local stack's template reading: short tags, Globals, intrinsic functions, physical ids."""

from pathlib import Path

import pytest

from local_stack.resources import assign_physical_ids
from local_stack.template import Template, TemplateError, load_yaml, merge_globals

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: v2}
  Retention: {Type: Number, Default: 7}
  Names: {Type: CommaDelimitedList, Default: "a, b"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Mappings:
  Sizes: {v2: {memory: 256}}
Globals:
  Function:
    Timeout: 10
    Layers: [!Ref Layer]
    Environment:
      Variables:
        TABLE: !Ref Table
        STAGE: !Ref Stage
  Api:
    BinaryMediaTypes: [image~1png]
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layers/common/}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-events"
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Queue:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 3
      Layers: [arn:aws:lambda:us-east-1:1:layer:extra:1]
      Environment:
        Variables:
          OWN: !GetAtt Table.Arn
      Events:
        Get:
          Type: Api
          Properties: {Path: /x, Method: get}
"""


@pytest.fixture
def template() -> Template:
    loaded = Template(load_yaml(TEMPLATE), Path("/repo"))
    assign_physical_ids(loaded)
    return loaded


def test_short_tags_become_long_forms():
    doc = load_yaml(
        "a: !Ref X\nb: !GetAtt T.Arn\nc: !GetAtt [T, StreamArn]\nd: !Sub 'x-${Y}'\n"
        "e: !Select [1, !Split [',', 'p,q']]\nf: !If [C, 1, 2]\ng: !Join ['-', [a, b]]\n"
    )
    assert doc == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["T", "Arn"]},
        "c": {"Fn::GetAtt": ["T", "StreamArn"]},
        "d": {"Fn::Sub": "x-${Y}"},
        "e": {"Fn::Select": [1, {"Fn::Split": [",", "p,q"]}]},
        "f": {"Fn::If": ["C", 1, 2]},
        "g": {"Fn::Join": ["-", ["a", "b"]]},
    }


def test_parameters_pseudo_parameters_and_functions(template: Template):
    resolve = template.resolve
    assert resolve({"Ref": "Stage"}) == "v2"
    assert resolve({"Ref": "Retention"}) == "7"  # CloudFormation passes strings
    assert resolve({"Ref": "Names"}) == ["a", "b"]
    assert resolve({"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${Stage}/${!Literal}"}) == (
        "us-east-1/123456789012/v2/${Literal}"
    )
    assert resolve({"Fn::Sub": ["${A}-${AWS::URLSuffix}", {"A": {"Ref": "Stage"}}]}) == (
        "v2-amazonaws.com"
    )
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "p,q"]}]}) == "q"
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-v2"
    assert resolve({"Fn::If": ["IsProd", "big", "small"]}) == "small"
    assert resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "memory"]}) == 256
    assert resolve({"k": {"Ref": "AWS::NoValue"}, "j": 1}) == {"j": 1}
    with pytest.raises(TemplateError):
        resolve({"Ref": "Nothing"})


def test_resource_refs_and_attributes(template: Template):
    assert template.resolve({"Ref": "Table"}) == "eventlog-local-events"  # its TableName
    assert template.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/eventlog-local-events"
    )
    assert template.resolve({"Fn::Sub": "${Table.Arn}"}).endswith(":table/eventlog-local-events")
    assert template.attributes[("Queue", "QueueName")] == "Queue.fifo"
    assert template.resolve({"Ref": "ServerlessRestApi.Stage"}) == "Prod"  # implicit API


def test_conditions_decide_what_is_created(template: Template):
    assert [logical_id for logical_id, _ in template.of_type("AWS::SQS::Queue")] == ["Queue"]
    assert template.condition("NotProd") is True


def test_globals_merge_like_sam(template: Template):
    props = template.properties("Fn", "Function")
    assert props["Timeout"] == 3
    assert len(props["Layers"]) == 2  # lists concatenate
    assert set(props["Environment"]["Variables"]) == {"TABLE", "STAGE", "OWN"}  # maps merge
    assert merge_globals({"a": {"b": 1}}, {"a": {"Ref": "X"}}) == {"a": {"Ref": "X"}}


def test_implicit_api_takes_globals(template: Template):
    assert template.apis() == {"ServerlessRestApi": {"BinaryMediaTypes": ["image~1png"]}}


# ---------------------------------------------------------------- the project's template.yaml

# API Gateway's REST integration timeout: a function that runs longer is cut off with a 504.
API_GATEWAY_TIMEOUT_SECONDS = 29


def project_template(**parameters: str) -> Template:
    return Template.load(Path(__file__).resolve().parents[2] / "template.yaml", parameters)


def function_timeout(template: Template, logical_id: str) -> int:
    return int(template.resolve(template.properties(logical_id, "Function")["Timeout"]))


def test_the_schedule_is_named_after_the_stack():
    template = project_template()
    schedule = template.properties("PropagatorFunction")["Events"]["Schedule"]["Properties"]
    assert schedule["Name"] == {"Fn::Sub": "${AWS::StackName}-propagation"}
    assert template.resolve(schedule["Name"]) == "eventlog-local-propagation"


def reserved_concurrency(template: Template, logical_id: str) -> dict[str, str]:
    props = template.properties(logical_id, "Function")
    return template.resolve({"Reserved": props.get("ReservedConcurrentExecutions")})


def test_no_concurrency_is_reserved_unless_asked():
    # A new account's limit is 10, all of which must stay unreserved: the default reserves none.
    default = project_template()
    for logical_id, _ in default.of_type("AWS::Serverless::Function"):
        assert reserved_concurrency(default, logical_id) in ({}, {"Reserved": None}), logical_id
    reserved = project_template(PropagatorReservedConcurrency="1")
    assert reserved_concurrency(reserved, "PropagatorFunction") == {"Reserved": "1"}


def test_the_propagation_delay_cannot_be_set_below_the_longest_write():
    template = project_template()
    spec = template.doc["Parameters"]["PropagationDelaySeconds"]
    # Longer than an ingest request can run, and a second for eventually consistent reads.
    assert spec["MinValue"] >= function_timeout(template, "IngestFunction") + 1
    assert spec["MinValue"] <= spec["Default"] <= spec["MaxValue"]


def test_api_functions_answer_before_api_gateway_gives_up():
    template = project_template()
    for logical_id, _ in template.of_type("AWS::Serverless::Function"):
        events = template.properties(logical_id, "Function").get("Events") or {}
        if any(event.get("Type") == "Api" for event in events.values()):
            assert function_timeout(template, logical_id) < API_GATEWAY_TIMEOUT_SECONDS, logical_id
