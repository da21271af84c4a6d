"""template.yaml's dashboard and alarms: every function, queue and table is watched, and every
alarm tells the alerts topic."""

import json
import re
from typing import Any

import pytest

from local_stack.resources import assign_physical_ids
from local_stack.template import Template
from tests.support.fake_aws import load_template


@pytest.fixture(scope="module")
def template() -> Template:
    loaded = load_template()
    assign_physical_ids(loaded)
    return loaded


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.of_type("AWS::CloudWatch::Alarm"))


def function_ids(template: Template) -> list[str]:
    return [logical_id for logical_id, _ in template.of_type("AWS::Serverless::Function")]


def alarm_metric(props: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(namespace, metric name, dimensions with unresolved values) of a single-metric alarm."""
    dimensions = {item["Name"]: item["Value"] for item in props.get("Dimensions", [])}
    return props["Namespace"], props["MetricName"], dimensions


def dashboard_body(template: Template) -> dict[str, Any]:
    (_, props), = template.of_type("AWS::CloudWatch::Dashboard")  # fmt: skip
    return json.loads(template.resolve(props["DashboardBody"]))


def dashboard_metrics(template: Template) -> list[list[Any]]:
    """Every metric row of the dashboard: namespace, name, dimension pairs, options last."""
    return [
        row
        for widget in dashboard_body(template)["widgets"]
        for row in widget["properties"].get("metrics", [])
    ]


def dimension_values(row: list[Any]) -> dict[str, str]:
    pairs = [item for item in row[2:] if not isinstance(item, dict)]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_alarm_on_its_errors_and_its_throttles(template, metric):
    watched = {
        dimensions["FunctionName"]["Ref"]
        for props in alarms(template).values()
        if "MetricName" in props
        for namespace, name, dimensions in [alarm_metric(props)]
        if namespace == "AWS/Lambda" and name == metric
    }
    assert set(function_ids(template)) - watched == set(), f"functions without a {metric} alarm"


def test_every_alarm_notifies_the_alerts_topic(template):
    for logical_id, props in alarms(template).items():
        assert {"Ref": "AlertsTopic"} in props.get("AlarmActions", []), logical_id


def test_the_missing_heartbeat_alarm_breaches_when_no_heartbeat_arrives(template):
    """The propagator's heartbeat metric (Powertools, POWERTOOLS_SERVICE_NAME the dimension):
    no data at all is what a stopped propagator looks like."""
    namespace = template.resolve(
        template.globals["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    )
    service = template.properties("PropagatorFunction")["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    heartbeat = [
        props
        for props in alarms(template).values()
        if "MetricName" in props
        and alarm_metric(props) == (namespace, "HeartbeatsWritten", {"service": service})
    ]
    assert len(heartbeat) == 1
    (props,) = heartbeat
    assert props["TreatMissingData"] == "breaching"
    assert props["ComparisonOperator"] == "LessThanThreshold"
    assert props["Threshold"] == 1


def test_the_propagator_emits_the_metric_the_heartbeat_alarm_watches(template):
    source = (template.path("functions/propagator") / "app.py").read_text()
    assert re.search(r'add_metric\(\s*"HeartbeatsWritten"', source)


def test_the_stream_lag_5xx_rate_and_dead_letters_have_alarms(template):
    watched = {
        (alarm_metric(props)[1], json.dumps(alarm_metric(props)[2], sort_keys=True))
        for props in alarms(template).values()
        if "MetricName" in props
    }
    assert ("IteratorAge", json.dumps({"FunctionName": {"Ref": "AggregatorFunction"}})) in watched
    assert any(metric == "5XXError" for metric, _ in watched)
    for queue in ("NotificationDeadLetterQueue", "AggregationFailureQueue"):
        dimensions = {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}
        assert ("ApproximateNumberOfMessagesVisible", json.dumps(dimensions)) in watched, queue


def test_the_table_throttle_alarm_sums_every_table(template):
    (props,) = (p for p in alarms(template).values() if "Metrics" in p)
    tables = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for query in props["Metrics"]
        if "MetricStat" in query
    }
    assert tables == {logical_id for logical_id, _ in template.of_type("AWS::DynamoDB::Table")}


def test_the_dashboard_body_is_json_once_substituted_and_names_only_existing_things(template):
    (_, props), = template.of_type("AWS::CloudWatch::Dashboard")  # fmt: skip
    variables = set(re.findall(r"\$\{([^}.]+)", props["DashboardBody"]["Fn::Sub"]))
    known = set(template.resources) | set(template.parameters) | {"AWS::Region", "AWS::StackName"}
    assert variables - known == set(), "the dashboard names resources the template lacks"
    assert dashboard_body(template)["widgets"]


def test_the_dashboard_shows_every_function_table_and_queue(template):
    rows = dashboard_metrics(template)
    shown = {value for row in rows for value in dimension_values(row).values()}
    names = {
        template.physical_ids[logical_id]
        for logical_id, _ in template.of_type("AWS::Serverless::Function", "AWS::DynamoDB::Table")
    }
    queues = {
        template.get_att(logical_id, "QueueName")
        for logical_id, _ in template.of_type("AWS::SQS::Queue")
    }
    assert names | queues <= shown


def test_the_dashboard_shows_api_traffic_latency_stream_lag_and_heartbeats(template):
    metrics = {(row[0], row[1]) for row in dashboard_metrics(template)}
    assert {
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("Eventlog", "HeartbeatsWritten"),
    } <= metrics
    stats = {row[-1].get("stat") for row in dashboard_metrics(template) if row[1] == "Latency"}
    assert {"p50", "p99"} <= stats


def test_the_api_metrics_name_the_api_as_sam_does(template):
    """SAM names a REST API without Name after the stack (its generated definition's title)."""
    assert "Name" not in template.properties("EventlogApi")
    for row in dashboard_metrics(template):
        if row[0] == "AWS/ApiGateway":
            assert dimension_values(row)["ApiName"] == template.ref("AWS::StackName")
