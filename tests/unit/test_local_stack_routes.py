"""The local gateway's API Gateway rules: route matching, events, policies, gateway responses."""

import base64
import json
from pathlib import Path

import pytest

from local_stack.apis import Api, Route, RouteTable, load_apis, load_routes
from local_stack.authorizer import evaluate_policy
from local_stack.events import (
    HttpRequest,
    MalformedResponse,
    authorizer_event,
    proxy_event,
    read_proxy_response,
)
from local_stack.gateway_responses import ErrorContext, gateway_response
from local_stack.resources import assign_physical_ids
from local_stack.template import Template, load_yaml

API = Api(
    logical_id="Api",
    stage="v1",
    api_key_source="HEADER",
    binary_media_types=["image/png", "application/octet-*"],
    gateway_responses={},
    authorizers={},
    default_authorizer=None,
    api_key_required=False,
)


def route(method: str, path: str, function_id: str = "Fn") -> Route:
    return Route(API, path, method, function_id, authorizer=None, api_key_required=False)


TABLE = RouteTable(
    [
        route("GET", "/apps"),
        route("POST", "/apps/{app_id}"),
        route("GET", "/apps/{app_id}"),
        route("GET", "/apps/special"),
        route("GET", "/apps/{app_id}/events/{event_id}"),
        route("ANY", "/any"),
        route("GET", "/files/{path+}"),
        route("GET", "/"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "resource", "params"),
    [
        ("GET", "/apps", "/apps", {}),
        ("GET", "/apps/", "/apps", {}),  # a trailing slash makes no difference
        ("GET", "/apps/7", "/apps/{app_id}", {"app_id": "7"}),
        ("POST", "/apps/7", "/apps/{app_id}", {"app_id": "7"}),
        ("GET", "/apps/special", "/apps/special", {}),  # literal beats variable
        ("GET", "/apps/a%20b", "/apps/{app_id}", {"app_id": "a%20b"}),  # stays encoded
        ("GET", "/apps/1/events/e1", "/apps/{app_id}/events/{event_id}",
         {"app_id": "1", "event_id": "e1"}),
        ("DELETE", "/any", "/any", {}),
        ("GET", "/files/a/b/c.txt", "/files/{path+}", {"path": "a/b/c.txt"}),
        ("GET", "/", "/", {}),
    ],
)  # fmt: skip
def test_route_matching(method, path, resource, params):
    match = TABLE.match(method, path)
    assert match.route is not None and match.route.path == resource
    assert match.path_parameters == params


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("DELETE", "/apps/7"),  # known resource, no such method
        ("POST", "/apps/special"),  # the literal resource wins, and has no POST
        ("GET", "/files"),  # a greedy variable needs at least one segment
        ("GET", "/apps/1/events"),
    ],
)
def test_no_route(method, path):
    assert TABLE.match(method, path).route is None


def request(**overrides) -> HttpRequest:
    values = {
        "method": "POST",
        "path": "/apps/7",
        "query": "a=1&b=x%20y&a=2&empty=",
        "headers": [("Host", "h"), ("User-Agent", "ua"), ("X-Multi", "1"), ("X-Multi", "2")],
        "body": b'{"k": 1}',
    }
    values.update(overrides)
    return HttpRequest(**values)


def test_proxy_event_payload_1_0():
    event = proxy_event(route("POST", "/apps/{app_id}"), request(), {"app_id": "7"}, None, None)
    assert event["resource"] == "/apps/{app_id}"
    assert event["path"] == "/apps/7"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["pathParameters"] == {"app_id": "7"}
    assert event["stageVariables"] is None
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": 1}', False)
    context = event["requestContext"]
    assert context["path"] == "/apps/7"  # local URLs have no stage prefix
    assert context["stage"] == "v1"
    assert context["resourcePath"] == "/apps/{app_id}"
    assert context["identity"]["userAgent"] == "ua"
    assert "authorizer" not in context
    json.dumps(event)  # what Lambda receives is JSON


def test_proxy_event_empty_maps_are_null_and_binary_is_base64():
    png = b"\x89PNG\r\n"
    event = proxy_event(
        route("POST", "/apps/{app_id}"),
        request(query="", headers=[("Content-Type", "image/png")], body=png),
        {},
        {"principalId": "p"},
        "key",
    )
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    assert event["requestContext"]["authorizer"] == {"principalId": "p"}
    assert event["requestContext"]["identity"]["apiKey"] == "key"
    no_body = proxy_event(route("GET", "/apps"), request(body=b""), {}, None, None)
    assert no_body["body"] is None


def test_authorizer_event():
    event = authorizer_event(route("POST", "/apps/{app_id}"), request(query=""), {"app_id": "7"})
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/v1/POST/apps/7"
    assert event["queryStringParameters"] == {}  # maps, even empty
    assert event["pathParameters"] == {"app_id": "7"}
    assert event["requestContext"]["resourcePath"] == "/apps/{app_id}"


def test_proxy_response_reading():
    response = read_proxy_response(
        {
            "statusCode": "201",
            "headers": {"A": "1", "B": 2},
            "multiValueHeaders": {"Set-Cookie": ["x=1", "y=2"], "A": ["1"]},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 201
    assert response.body == b"\x00\x01"
    assert sorted(response.headers) == [("A", "1"), ("B", "2"), ("Set-Cookie", "x=1"),
                                        ("Set-Cookie", "y=2")]  # fmt: skip
    for bad in (None, {"body": "x"}, {"statusCode": 200, "body": {"a": 1}}, {"statusCode": "x"}):
        with pytest.raises(MalformedResponse):
            read_proxy_response(bad)


ARN = "arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/apps/7"


@pytest.mark.parametrize(
    ("statements", "decision"),
    [
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}], "Allow"),
        ([{"Effect": "Allow", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*"}],
         "Allow"),
        ([{"Effect": "Allow", "Action": "*", "Resource": ["x", "*/v1/GET/apps/*"]}], "Allow"),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*/POST/*"}], "None"),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
          {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}], "Deny"),
        ([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], "None"),
    ],
)  # fmt: skip
def test_policy_evaluation(statements, decision):
    assert evaluate_policy({"Version": "2012-10-17", "Statement": statements}, ARN) == decision


def test_gateway_responses_from_the_template():
    headers = {"X-Static": "'yes'", "X-Echo": "method.request.header.Origin"}
    configured = {
        "ACCESS_DENIED": {
            "StatusCode": 403,
            "ResponseParameters": {"Headers": headers},
            "ResponseTemplates": {"application/json": '{"why":"$context.authorizer.reason"}'},
        },
        "DEFAULT_4XX": {
            "ResponseTemplates": {"application/json": '{"m":$context.error.messageString}'}
        },
    }
    denied = gateway_response(
        configured,
        ErrorContext("ACCESS_DENIED", None, authorizer={"reason": "no"},
                     request_headers={"origin": "o"}),
    )  # fmt: skip
    assert (denied.status, json.loads(denied.body)) == (403, {"why": "no"})
    assert denied.headers["X-Static"] == "yes" and denied.headers["X-Echo"] == "o"
    unauthorized = gateway_response(configured, ErrorContext("UNAUTHORIZED", None))
    assert (unauthorized.status, json.loads(unauthorized.body)) == (401, {"m": "Unauthorized"})
    failure = gateway_response({}, ErrorContext("AUTHORIZER_FAILURE", None))
    assert (failure.status, json.loads(failure.body)) == (500, {"message": None})


APIS_TEMPLATE = """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: live
      ApiKeySourceType: AUTHORIZER
      Auth:
        DefaultAuthorizer: Auth
        ApiKeyRequired: true
        Authorizers:
          Auth:
            FunctionArn: !GetAtt AuthFn.Arn
            FunctionPayloadType: REQUEST
            Identity: {Headers: [X-Token]}
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: a/, Handler: app.handler}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: f/
      Handler: app.handler
      Events:
        Private: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /p, Method: get}}
        Public:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /health
            Method: get
            Auth: {Authorizer: NONE, ApiKeyRequired: false}
"""


def test_apis_and_routes_from_a_template():
    template = Template(load_yaml(APIS_TEMPLATE), Path("/repo"))
    assign_physical_ids(template)
    apis = load_apis(template, {"Api": "plan-1"})
    api = apis["Api"]
    assert (api.stage, api.api_key_source, api.usage_plan_id) == ("live", "AUTHORIZER", "plan-1")
    authorizer = api.authorizers["Auth"]
    assert authorizer.function_id == "AuthFn"
    assert authorizer.identity_sources == [("header", "X-Token")]
    assert authorizer.ttl_seconds == 300  # SAM's default ReauthorizeEvery
    routes = {r.path: r for r in load_routes(template, apis)}
    assert routes["/p"].authorizer is authorizer and routes["/p"].api_key_required
    assert routes["/health"].authorizer is None and not routes["/health"].api_key_required
