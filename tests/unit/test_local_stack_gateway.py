"""The local gateway end to end, over HTTP, with a small template and handlers of its own:
what API Gateway does around the handlers (authorizer, API keys, errors, binary bodies)."""

import base64
import json
import socket
import textwrap
import time
from pathlib import Path

import boto3
import pytest
import requests

from local_stack import LocalStackProcess

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: test}
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        TABLE: !Ref Table
        QUEUE_URL: !Ref Queue
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: gpk, AttributeType: S}
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: gsi
          KeySchema: [{AttributeName: gpk, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
  DeadLetters:
    Type: AWS::SQS::Queue
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 3}
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      ApiKeySourceType: AUTHORIZER
      BinaryMediaTypes: [image~1png]
      Auth:
        DefaultAuthorizer: TestAuthorizer
        ApiKeyRequired: true
        Authorizers:
          TestAuthorizer:
            FunctionArn: !GetAtt AuthFunction.Arn
            FunctionPayloadType: REQUEST
            Identity: {Headers: [X-Token], ReauthorizeEvery: 0}
        UsagePlan:
          CreateUsagePlan: PER_API
          Throttle: {BurstLimit: 5, RateLimit: 10}
      GatewayResponses:
        ACCESS_DENIED:
          StatusCode: 403
          ResponseTemplates: {application/json: '{"reason":"$context.authorizer.reason"}'}
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: 404
          ResponseTemplates: {application/json: '{"error":"NOT_FOUND"}'}
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: auth/
      Handler: app.handler
      Environment: {Variables: {KEY_ID: !Ref ApiApiKey}}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Events:
        Echo:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/echo/{id}", Method: get}
        Public:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /public
            Method: get
            Auth: &public {Authorizer: NONE, ApiKeyRequired: false}
        Raise:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /raise
            Method: get
            Auth: *public
        Malformed:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /malformed
            Method: get
            Auth: *public
        Png:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /png
            Method: get
            Auth: *public
        Upload:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /upload
            Method: post
            Auth: *public
"""

AUTHORIZER = """
import os

import boto3
import helper

def handler(event, context):
    assert helper.NAME == "auth"
    mode = event["headers"].get("X-Mode", "")
    if mode == "unauthorized":
        raise Exception("Unauthorized")
    if mode == "boom":
        raise ValueError("boom")
    if mode == "malformed":
        return {"principalId": "user-1"}
    arn = event["methodArn"]
    response = {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke",
            "Effect": "Deny" if mode == "deny" else "Allow",
            "Resource": arn.replace("/GET/", "/POST/") if mode == "elsewhere" else arn,
        }]},
        "context": {"reason": "denied by test", "n": 5, "flag": True},
    }
    if mode == "wrong-key":
        response["usageIdentifierKey"] = "not-a-key"
    elif mode != "no-key":
        key = boto3.client("apigateway").get_api_key(apiKey=os.environ["KEY_ID"], includeValue=True)
        response["usageIdentifierKey"] = key["value"]
    return response
"""

ECHO = """
import base64
import json
import os

import helper

def handler(event, context):
    resource = event["resource"]
    if resource == "/raise":
        raise RuntimeError("handler failure")
    if resource == "/malformed":
        return {"body": "no statusCode"}
    if resource == "/png":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG").decode(), "isBase64Encoded": True}
    body = {
        "event": event,
        "helper": helper.NAME,
        "env": {name: os.environ.get(name) for name in ("TABLE", "QUEUE_URL")},
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": json.dumps(body)}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("stack")
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, code in (("auth", AUTHORIZER), ("echo", ECHO)):
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(textwrap.dedent(code))
        (root / folder / "helper.py").write_text(f"NAME = {folder!r}\n")  # same module name
    with LocalStackProcess(template=root / "template.yaml", bootstrap=False) as running:
        yield running
    print(running.log())


def get(stack, path, mode=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if mode is not None:
        headers.update({"X-Token": "t", "X-Mode": mode})
    return requests.get(stack.url + path, headers=headers, timeout=30, **kwargs)


def test_public_route_event_and_response(stack):
    response = get(stack, "/public?q=1&q=2")
    assert response.status_code == 200, response.text
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    body = response.json()
    assert body["helper"] == "echo"  # each function imports its own sibling modules
    assert body["env"]["TABLE"] == "Table"
    assert body["env"]["QUEUE_URL"].endswith("/Queue")
    assert body["function"] == "EchoFunction"
    assert 0 < body["remaining_ms"] <= 5000
    event = body["event"]
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["requestContext"]["stage"] == "test"
    assert "authorizer" not in event["requestContext"]


def test_allowed_request_carries_the_authorizer_context_and_api_key(stack):
    response = get(stack, "/echo/abc", mode="allow")
    assert response.status_code == 200, response.text
    event = response.json()["event"]
    authorizer = event["requestContext"]["authorizer"]
    assert {k: authorizer[k] for k in ("principalId", "reason", "n", "flag")} == {
        "principalId": "user-1", "reason": "denied by test", "n": "5", "flag": "true",
    }  # fmt: skip
    assert event["pathParameters"] == {"id": "abc"}
    assert event["resource"] == "/echo/{id}"
    assert event["requestContext"]["identity"]["apiKey"]


@pytest.mark.parametrize(
    ("mode", "status", "body"),
    [
        (None, 401, {"message": "Unauthorized"}),  # identity source missing: not even called
        ("unauthorized", 401, {"message": "Unauthorized"}),
        ("deny", 403, {"reason": "denied by test"}),
        ("elsewhere", 403, {"reason": "denied by test"}),  # allowed, but another method only
        ("no-key", 403, {"message": "Forbidden"}),
        ("wrong-key", 403, {"message": "Forbidden"}),
        ("boom", 500, {"message": None}),
        ("malformed", 500, {"message": None}),
    ],
)
def test_authorizer_outcomes(stack, mode, status, body):
    response = get(stack, "/echo/abc", mode=mode)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"


def test_no_route(stack):
    for response in (get(stack, "/nowhere"), requests.delete(stack.url + "/public", timeout=30)):
        assert (response.status_code, response.json()) == (404, {"error": "NOT_FOUND"})


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "BREW", "PROPFIND"])
@pytest.mark.parametrize("path", ["/public", "/nowhere"])
def test_a_method_no_route_has_gets_the_json_answer_of_an_unknown_route(stack, method, path):
    response = requests.request(method, stack.url + path, timeout=30)
    assert (response.status_code, response.json()) == (404, {"error": "NOT_FOUND"})
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /public HTTP/1.1 extra", 400),  # too many words
        (b"GET /public HTTP/x.y", 400),  # no version number
        (b"GET /public HTTP/3.0", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414),  # over http.server's 64 KB line
    ],
)
def test_a_malformed_request_gets_a_json_refusal_not_html(stack, request_line, status):
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request_line + b"\r\nHost: x\r\n\r\n")
        reply = connection.makefile("rb").read()  # the server closes the connection after it
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["message"]


def test_failing_handlers_give_502(stack):
    for path in ("/raise", "/malformed"):
        response = get(stack, path)
        assert (response.status_code, response.json()) == (
            502,
            {"message": "Internal server error"},
        )
    assert "handler failure" in stack.log()  # the traceback is logged


def test_binary_bodies(stack):
    png = get(stack, "/png", headers={"Accept": "image/png"})
    assert (png.content, png.headers["Content-Type"]) == (b"\x89PNG", "image/png")
    upload = requests.post(
        stack.url + "/upload", data=b"\x00\xff", headers={"Content-Type": "image/png"}, timeout=30
    )
    event = upload.json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"
    text = requests.post(stack.url + "/upload", json={"a": 1}, timeout=30).json()["event"]
    assert (text["isBase64Encoded"], json.loads(text["body"])) == (False, {"a": 1})


def test_request_over_10_mb_is_refused(stack):
    response = requests.post(stack.url + "/upload", data=b"x" * (10 * 1024 * 1024 + 1), timeout=60)
    assert (response.status_code, response.json()) == (413, {"message": "Request Too Long"})


def test_one_log_line_per_request(stack):
    get(stack, "/public")

    def logged() -> bool:
        return any(
            line.startswith("GET /public 200 ") and line.endswith("ms")
            for line in stack.log().splitlines()
        )

    deadline = time.monotonic() + 5  # the line is written once the reply is on its way
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged()


def aws(stack, service):
    return boto3.client(
        service, endpoint_url=stack.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
    )  # fmt: skip


def test_resources_from_the_template(stack):
    dynamodb = aws(stack, "dynamodb")
    table = dynamodb.describe_table(TableName="Table")["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi"]
    ttl = dynamodb.describe_time_to_live(TableName="Table")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    sqs = aws(stack, "sqs")
    url = sqs.get_queue_url(QueueName="Queue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(":DeadLetters")
    plans = aws(stack, "apigateway").get_usage_plans()["items"]
    assert [plan["throttle"] for plan in plans] == [{"burstLimit": 5, "rateLimit": 10.0}]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/apps/1/events?limit=5", ("/apps/1/events", "limit=5")),
        ("/", ("/", "")),
        ("/logs?level=error#top", ("/logs", "level=error")),
        ("http://127.0.0.1:3000/apps?limit=1", ("/apps", "limit=1")),
        ("http://example.com?x=1", ("/", "x=1")),
        ("http://example.com", ("/", "")),
        ("http://[::1/health", ("/health", "")),  # a malformed authority is not parsed
    ],
)
def test_a_request_target_splits_into_path_and_query(target, expected):
    from local_stack.gateway import _split_target

    assert _split_target(target) == expected
