"""Alert rules over the admin API, and the write path queueing events that match them."""

import json
import socket
from typing import Any

import pytest

from tests.support.fake_aws import aws_client

RULES = "/apps/{app_id}/alert-rules"
RULE = "/apps/{app_id}/alert-rules/{rule_id}"
THRESHOLD = {"type": "threshold", "more_than": 1, "window_minutes": 1}
WEBHOOK_SECRET = "whsec_0123456789abcdef0123"  # noqa: S105 - a test value


def webhook_rule(url: str, **fields: Any) -> dict[str, Any]:
    return {"channels": [{"type": "webhook", "url": url, "secret": WEBHOOK_SECRET}], **fields}


def create(api: Any, app_id: int, body: Any) -> Any:
    return api.admin_request("POST", RULES, body, app_id=app_id)


def queued(aws: Any) -> list[dict[str, Any]]:
    """Every notification message waiting in the queue (left there: received, not deleted),
    once the stream processor has matched every event stored so far against the rules."""
    aws.settle()
    url = aws.provisioned.queues["NotificationQueue"]
    bodies = []
    while True:
        reply = aws_client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
        )
        messages = reply.get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(message["Body"]) for message in messages]


# ---------------------------------------------------------------- the default rule


def test_a_new_app_has_the_default_rule_error_and_critical_to_the_alerts_topic(api, aws, app):
    reply = api.admin_request("GET", RULES, app_id=app.id)
    assert reply.status == 200
    (rule,) = reply.body["items"]
    assert rule["min_level"] == "ERROR"
    assert rule["enabled"] is True
    assert rule["cooldown_seconds"] == 300
    assert rule["channels"] == [{"type": "sns", "topic_arn": aws.environment["ALERTS_TOPIC_ARN"]}]
    assert reply.body["next_cursor"] is None


# ---------------------------------------------------------------- create, read, update, delete


def test_creating_a_webhook_rule_stores_its_secret_in_ssm_and_never_returns_it(
    api, aws, app, receiver, loopback_targets
):
    body = webhook_rule(
        receiver.url,
        description="payments",
        min_level="warning",
        event_name="payment.*",
        condition={"type": "threshold", "more_than": 5, "window_minutes": 10},
    )
    reply = create(api, app.id, body)
    assert reply.status == 201, reply.text
    rule = reply.body
    assert WEBHOOK_SECRET not in reply.text
    assert rule["channels"] == [{"type": "webhook", "url": receiver.url, "has_secret": True}]
    assert rule["min_level"] == "WARNING"
    assert rule["event_name"] == "payment.*"
    assert rule["condition"] == {"type": "threshold", "more_than": 5, "window_minutes": 10}
    assert rule["id"].startswith("r_")
    stored = aws_client("ssm").get_parameters_by_path(
        Path=aws.environment["CHANNEL_SECRETS_PREFIX"], Recursive=True, WithDecryption=True
    )["Parameters"]
    assert [(p["Name"].rsplit("/", 3)[1:], p["Type"], p["Value"]) for p in stored] == [
        (["rules", rule["id"], "channel-0"], "SecureString", WEBHOOK_SECRET)
    ]
    fetched = api.admin_request("GET", RULE, app_id=app.id, rule_id=rule["id"])
    assert fetched.status == 200
    assert fetched.body == rule
    assert WEBHOOK_SECRET not in fetched.text


def test_a_slack_channel_shows_only_the_host_of_its_url(api, app, receiver, loopback_targets):
    slack_url = receiver.url + "/T000/B000/XXXXXXXXXXXXXXXX"
    reply = create(api, app.id, {"channels": [{"type": "slack", "url": slack_url}]})
    assert reply.status == 201, reply.text
    assert "XXXXXXXX" not in reply.text
    host = receiver.url.split("/hook")[0]
    assert reply.body["channels"] == [{"type": "slack", "url_hint": f"{host}/…"}]


@pytest.mark.parametrize(
    ("url", "refused_because"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://user:pass@example.com/hook", "credentials"),
    ],
)
def test_targets_that_are_not_public_are_refused(api, app, url, refused_because):
    reply = create(api, app.id, webhook_rule(url))
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert refused_because in reply.body["message"]


@pytest.mark.parametrize(
    ("url", "refused_because"),
    [
        ("http://[2002:a9fe:a9fe::]/hook", "6to4 address embedding 169.254.169.254"),
        ("http://[64:ff9b::a9fe:a9fe]/hook", "NAT64"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "Teredo"),
        ("http://[fec0::1]/hook", "site-local"),
        ("http://[::ffff:169.254.169.254]/hook", "link-local"),
    ],
)
def test_ipv6_addresses_embedding_or_reaching_other_networks_are_refused(
    api, app, url, refused_because
):
    reply = create(api, app.id, webhook_rule(url))
    assert reply.status == 400
    assert refused_because in reply.body["message"]


MALFORMED_URLS = [
    ("http://[::1", "Invalid IPv6 URL"),
    ("https://[::1/hook", "Invalid IPv6 URL"),
    ("http://example.com:99999/hook", "Port out of range"),
    ("http://[::1]x/hook", "malformed host"),
]


@pytest.mark.parametrize(("url", "problem"), MALFORMED_URLS)
def test_malformed_urls_get_a_400_naming_the_problem(api, app, url, problem):
    for channel in (
        {"type": "webhook", "url": url, "secret": WEBHOOK_SECRET},
        {"type": "slack", "url": url},
    ):
        reply = create(api, app.id, {"channels": [channel]})
        assert reply.status == 400, reply.text
        assert problem in reply.body["message"]


def test_a_malformed_url_in_an_update_gets_a_400(api, app, receiver, loopback_targets):
    rule = create(api, app.id, webhook_rule(receiver.url)).body
    path = {"app_id": app.id, "rule_id": rule["id"]}
    for url, problem in MALFORMED_URLS:
        reply = api.admin_request("PATCH", RULE, webhook_rule(url), **path)
        assert reply.status == 400, reply.text
        assert problem in reply.body["message"]


def test_a_host_that_does_not_resolve_is_refused(api, app, monkeypatch):
    def no_such_host(*_: Any, **__: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # no DNS query leaves the machine
    reply = create(api, app.id, webhook_rule("https://no-such-host.invalid/hook"))
    assert reply.status == 400
    assert "does not resolve" in reply.body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "channels"),
        ({"channels": []}, "channels"),
        ({"channels": [{"type": "pager"}]}, "channels.0"),
        ({"channels": [{"type": "webhook", "url": "https://x.example", "secret": "short"}]}, None),
        ({"channels": [{"type": "sns"}], "min_level": "LOUD"}, "min_level"),
        ({"channels": [{"type": "sns"}], "cooldown_seconds": -1}, "cooldown_seconds"),
        ({"channels": [{"type": "sns"}], "colour": "red"}, "colour"),
        (
            {"channels": [{"type": "sns"}], "condition": {"type": "threshold", "more_than": 1}},
            "condition.threshold.window_minutes",
        ),
        (
            {"channels": [{"type": "sns", "topic_arn": "arn:aws:s3:::bucket"}]},
            "channels.0.sns.topic_arn",
        ),
    ],
)
def test_invalid_rules_get_a_400_naming_the_field(api, app, body, field):
    reply = create(api, app.id, body)
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"
    if field:
        assert field in reply.error_fields
    else:
        assert any("secret" in name for name in reply.error_fields)


def test_a_condition_counts_by_name_or_by_service_not_both(api, app):
    body = {
        "channels": [{"type": "sns"}],
        "event_name": "checkout",
        "service": "shop",
        "condition": {"type": "increase", "percent": 50, "window_minutes": 5},
    }
    reply = create(api, app.id, body)
    assert reply.status == 400
    assert "not both" in reply.body["message"]


def test_rules_of_an_unknown_app_are_404(api, aws):
    assert create(api, 999, {"channels": [{"type": "sns"}]}).status == 404
    assert api.admin_request("GET", RULES, app_id=999).status == 404


def test_an_unknown_rule_is_404(api, app):
    for method in ("GET", "DELETE"):
        reply = api.admin_request(method, RULE, app_id=app.id, rule_id="r_nope")
        assert reply.status == 404
        assert reply.body["error"] == "NOT_FOUND"


def test_rules_are_listed_a_page_at_a_time(api, app):
    created = [
        create(api, app.id, {"channels": [{"type": "sns"}], "description": f"rule {i}"}).body
        for i in range(4)
    ]
    ids, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.admin_request("GET", RULES, query=query, app_id=app.id)
        assert page.status == 200
        assert len(page.body["items"]) <= 2
        ids += [rule["id"] for rule in page.body["items"]]
        cursor = page.body["next_cursor"]
        if not cursor:
            break
    assert len(ids) == 5  # the default rule and four more
    assert {rule["id"] for rule in created} <= set(ids)


def test_patch_changes_only_the_fields_sent(api, app):
    rule = create(api, app.id, {"channels": [{"type": "sns"}], "description": "before"}).body
    reply = api.admin_request(
        "PATCH", RULE, {"enabled": False, "cooldown_seconds": 60}, app_id=app.id, rule_id=rule["id"]
    )
    assert reply.status == 200, reply.text
    assert reply.body["enabled"] is False
    assert reply.body["cooldown_seconds"] == 60
    assert reply.body["description"] == "before"
    assert reply.body["updated_at"] >= rule["updated_at"]
    again = api.admin_request("GET", RULE, app_id=app.id, rule_id=rule["id"]).body
    assert again == reply.body


def test_patch_refuses_null_for_required_fields_and_inconsistent_results(api, app):
    rule = create(api, app.id, {"channels": [{"type": "sns"}], "event_name": "checkout"}).body
    nulled = api.admin_request("PATCH", RULE, {"channels": None}, app_id=app.id, rule_id=rule["id"])
    assert nulled.status == 400
    assert "channels cannot be null" in nulled.text
    both = api.admin_request(
        "PATCH",
        RULE,
        {"service": "shop", "condition": THRESHOLD},
        app_id=app.id,
        rule_id=rule["id"],
    )
    assert both.status == 400
    assert "not both" in both.body["message"]


def test_replacing_channels_replaces_their_secrets(api, aws, app, receiver, loopback_targets):
    rule = create(api, app.id, webhook_rule(receiver.url)).body
    reply = api.admin_request(
        "PATCH", RULE, {"channels": [{"type": "sns"}]}, app_id=app.id, rule_id=rule["id"]
    )
    assert reply.status == 200
    left = aws_client("ssm").get_parameters_by_path(
        Path=aws.environment["CHANNEL_SECRETS_PREFIX"], Recursive=True
    )["Parameters"]
    assert left == []


def test_deleting_a_rule_deletes_its_secrets(api, aws, app, receiver, loopback_targets):
    rule = create(api, app.id, webhook_rule(receiver.url)).body
    reply = api.admin_request("DELETE", RULE, app_id=app.id, rule_id=rule["id"])
    assert reply.status == 200
    assert reply.body["id"] == rule["id"]
    assert api.admin_request("GET", RULE, app_id=app.id, rule_id=rule["id"]).status == 404
    params = aws_client("ssm").get_parameters_by_path(
        Path=aws.environment["CHANNEL_SECRETS_PREFIX"], Recursive=True
    )["Parameters"]
    assert params == []


def test_an_app_has_a_bounded_number_of_rules(api, app, monkeypatch):
    from eventlog.delivery import alerts

    monkeypatch.setattr(alerts, "MAX_RULES_PER_APP", 3)  # 25 in production: same code path
    for _ in range(2):  # and the default one
        assert create(api, app.id, {"channels": [{"type": "sns"}]}).status == 201
    reply = create(api, app.id, {"channels": [{"type": "sns"}]})
    assert reply.status == 400
    assert "at most 3" in reply.body["message"]


def test_rules_belong_to_their_app(api, app, other_app):
    rule = create(api, app.id, {"channels": [{"type": "sns"}]}).body
    assert api.admin_request("GET", RULE, app_id=other_app.id, rule_id=rule["id"]).status == 404


# ---------------------------------------------------------------- the write path


def test_an_error_event_is_queued_once_per_matching_rule(api, aws, app):
    create(api, app.id, {"channels": [{"type": "sns"}], "min_level": "CRITICAL"})
    named = create(api, app.id, {"channels": [{"type": "sns"}], "event_name": "pay*"}).body
    reply = api.ingest(app.id, {"level": "error", "message": "card declined", "name": "payment"})
    assert reply.status == 201
    messages = queued(aws)
    assert len(messages) == 2  # the default rule and the payment rule; not the CRITICAL one
    assert named["id"] in {message["rule_id"] for message in messages}
    for message in messages:
        assert message["app_id"] == app.id
        assert message["event"] == reply.body


def test_events_below_every_rule_are_not_queued(api, aws, app):
    assert api.ingest(app.id, {"level": "warning", "message": "slow"}).status == 201
    assert queued(aws) == []


def test_a_batch_queues_each_matching_event(api, aws, app):
    batch = [{"level": "ERROR" if i % 2 else "INFO", "message": f"m{i}"} for i in range(40)]
    reply = api.ingest(app.id, batch)
    assert reply.status == 201
    messages = queued(aws)
    assert len(messages) == 20
    ids = {item["id"] for item in reply.body["items"][1::2]}
    assert {message["event"]["id"] for message in messages} == ids


def test_a_duplicate_is_not_queued_again(api, aws, app):
    event = {"level": "ERROR", "message": "once", "event_id": "evt-1"}
    assert api.ingest(app.id, event).status == 201
    assert api.ingest(app.id, event).status == 200
    assert len(queued(aws)) == 1


def test_a_disabled_rule_queues_nothing(api, aws, app):
    (default,) = api.admin_request("GET", RULES, app_id=app.id).body["items"]
    api.admin_request("PATCH", RULE, {"enabled": False}, app_id=app.id, rule_id=default["id"])
    assert api.ingest(app.id, {"level": "CRITICAL", "message": "down"}).status == 201
    assert queued(aws) == []


def test_a_huge_event_is_queued_without_its_payload(api, aws, app):
    data = {"blob": "x" * 220_000}
    reply = api.ingest(app.id, {"level": "ERROR", "message": "big", "data": data})
    assert reply.status == 201
    (message,) = queued(aws)
    assert message["event"]["id"] == reply.body["id"]
    assert "data" not in message["event"]
    assert message["event"]["message"] == "big"


def test_a_rule_counts_in_its_condition_only_the_events_after_its_creation(api, aws, app):
    """The stream processor counts an event for the rules with a condition that exist when it
    counts it: a new rule's counter starts at its creation, it does not look back."""
    from eventlog.base.timeutil import utcnow
    from eventlog.delivery import alerts, notifications
    from eventlog.stats.buckets import Granularity, Run
    from eventlog.storage import aggregates

    payment = {"level": "ERROR", "name": "payment", "message": "card declined"}
    assert api.ingest(app.id, [payment] * 3).status == 201
    aws.settle()  # counted before the rule exists
    condition = {"type": "threshold", "more_than": 3, "window_minutes": 5}
    body = {"channels": [{"type": "sns"}], "event_name": "payment", "condition": condition}
    created = create(api, app.id, body)
    assert created.status == 201, created.text
    assert api.ingest(app.id, [payment] * 2).status == 201
    aws.settle()

    rule = alerts.find_rule(app.id, created.body["id"])
    now = utcnow()
    # All five are counted, and all five match the rule...
    end = Granularity.MINUTE.floor(now) + Granularity.MINUTE.step
    window = Run(Granularity.MINUTE, end - 5 * Granularity.MINUTE.step, end)
    buckets = aggregates.read_counts(app.id, [window])
    assert sum(bucket.counters.get("l|ERROR", 0) for bucket in buckets) == 5
    # ...but its condition counts the two stored after it was created: 2 is not more than 3.
    assert notifications.window_counts(app.id, rule, 5, 1, now) == [2]
    held, why = notifications.evaluate_condition(app.id, rule, now)
    assert held is False
    assert why.startswith("2 matching events in the last 5 min")


def test_an_sns_topic_of_another_account_is_refused(api, app):
    topic = "arn:aws:sns:us-east-1:999999999999:elsewhere"
    reply = create(api, app.id, {"channels": [{"type": "sns", "topic_arn": topic}]})
    assert reply.status == 400
    assert "this stack's account" in reply.body["message"]


def test_deleting_a_rule_forgets_its_cooldowns(api, aws, app):
    from eventlog.models.base import Level
    from eventlog.storage import aggregates, db

    rule = create(api, app.id, {"channels": [{"type": "sns"}]}).body
    table = db.aggregates_table()
    for level in (Level.ERROR, Level.CRITICAL):
        table.put_item(Item={**aggregates.cooldown_key(app.id, rule["id"], level), "x": 1})
    other = aggregates.cooldown_key(app.id, "r_other", Level.ERROR)
    table.put_item(Item={**other, "x": 1})
    assert api.admin_request("DELETE", RULE, app_id=app.id, rule_id=rule["id"]).status == 200
    left = table.query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": aggregates.cooldown_partition(app.id)},
    )["Items"]
    assert [item["sk"] for item in left] == [other["sk"]]
