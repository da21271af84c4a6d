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
