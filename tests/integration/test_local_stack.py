"""The local stack itself, on the real template: routes, gateway responses, resources."""

import re
from pathlib import Path

from local_stack.apis import RouteTable, load_apis, load_routes
from local_stack.resources import assign_physical_ids
from local_stack.template import Template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def load_template() -> Template:
    template = Template.load(TEMPLATE)
    assign_physical_ids(template)
    return template


def api_events(template: Template):
    """(function, method, path, auth) of every `Type: Api` event in the template."""
    for function_id, _ in template.of_type("AWS::Serverless::Function"):
        events = template.properties(function_id, "Function").get("Events") or {}
        for event in events.values():
            if event.get("Type") == "Api":
                props = template.resolve(event["Properties"])
                yield function_id, props["Method"].upper(), props["Path"], props.get("Auth") or {}


def test_every_api_event_is_routed_to_its_function():
    template = load_template()
    table = RouteTable(load_routes(template, load_apis(template, {})))
    events = list(api_events(template))
    assert events, "the template has no Api events"
    for function_id, method, path, _ in events:
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        for candidate in (method,) if method != "ANY" else ("GET", "POST", "DELETE"):
            match = table.match(candidate, concrete)
            assert match.route is not None, f"{candidate} {concrete} is not routed"
            assert (match.route.function_id, match.route.path) == (function_id, path)
    assert len(table.routes) == len(events)


def test_health_answers_without_credential(http):
    response = http.get("/health")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")


def test_missing_credential_is_401_json(http):
    template = load_template()
    protected = next(
        (method, path)
        for _, method, path, auth in api_events(template)
        if auth.get("Authorizer") != "NONE"
    )
    method = protected[0] if protected[0] != "ANY" else "GET"
    response = http.request(method, re.sub(r"\{[^}]+\}", "1", protected[1]))
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert "message" in response.json()


def test_unknown_route_is_404_json(http):
    response = http.get("/no/such/route", headers=http.admin)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()


def test_tables_of_the_template_exist(stack_aws):
    template = load_template()
    expected = {
        template.physical_ids[logical_id]: template.resolve(props)
        for logical_id, props in template.of_type("AWS::DynamoDB::Table")
    }
    dynamodb = stack_aws("dynamodb")
    assert set(dynamodb.list_tables()["TableNames"]) == set(expected)
    for name, props in expected.items():
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == props["KeySchema"]
        indexes = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {index["IndexName"] for index in props.get("GlobalSecondaryIndexes", [])}
        if props.get("TimeToLiveSpecification", {}).get("Enabled"):
            ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]


def test_default_app_and_admin_key_were_made(stack):
    assert stack.admin_key and stack.ingest_key
    assert isinstance(stack.default_app_id, int)
