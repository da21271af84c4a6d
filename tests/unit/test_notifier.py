"""The notifier (functions/notifier), driven with SQS events built from events/notifier_sqs.json.

What a user notices: a webhook gets one signed request per notification, Slack and SNS get
theirs, a failing target fails only its record, retries never repeat a delivery that succeeded,
cooldowns and rate conditions hold back the rest, and the aggregates count what was sent.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventlog.base.config import get_settings
from eventlog.base.ids import new_ulid
from eventlog.base.timeutil import epoch_seconds, format_iso, utcnow
from eventlog.delivery import alerts, channels, notifications, notify_queue
from eventlog.delivery.outbound import verify_signature
from eventlog.models.alerts import AlertRuleIn, AlertRuleUpdate
from eventlog.models.events import Event
from eventlog.stats.buckets import Granularity, Run
from eventlog.storage import aggregates, event_store
from tests.support.fake_aws import load_template
from tests.support.handlers import FakeLambdaContext, handler_module, invoke, sample_event

SECRET = "whsec_tests_0123456789abcdef"  # noqa: S105 - a test secret
START = datetime(2026, 2, 10, 10, 5, 30, tzinfo=UTC)


# ---------------------------------------------------------------- helpers


@dataclass
class FakeClock:
    now: datetime

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process retry of a webhook waits 10 ms instead of half a second."""
    monkeypatch.setattr(channels, "HTTP_BACKOFF_SECONDS", 0.01)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The notifier's clock (decisions, cooldowns, sent_at, signatures), set by the test."""
    from eventlog.delivery import notifications

    fake = FakeClock(START)
    monkeypatch.setattr(notifications, "utcnow", lambda: fake.now)
    return fake


def rule(app_id: int, *channel_list: dict[str, Any], **fields: Any) -> Any:
    return alerts.create_rule(app_id, AlertRuleIn(channels=list(channel_list), **fields))


def webhook(url: str, secret: str = SECRET) -> dict[str, Any]:
    return {"type": "webhook", "url": url, "secret": secret}


def stored_event(app_id: int, at: datetime, level: str = "ERROR", **fields: Any) -> Event:
    """An event as ingest stores it. The stream processor counts it (for the alert rules that
    exist then) when the events table's stream settles: `notify` settles it before the notifier
    runs, as Lambda would have a second after the write."""
    values = {"message": "TimeoutError: request timed out", "name": "checkout", **fields}
    received = utcnow()  # after the test's rules: they count events received from then on
    event = Event(
        id=new_ulid(received),
        app_id=app_id,
        received_at=format_iso(received),
        occurred_at=format_iso(at),
        level=level,
        **values,
    )
    event_store.put_new_events([event], epoch_seconds(received + timedelta(days=30)))
    return event


def message(app_id: int, rule_id: str, event: Event) -> str:
    """The body the stream processor queues (its own function)."""
    return notify_queue.message_body(app_id, rule_id, event)


def sqs_event(*bodies: str, receive_count: int = 1) -> dict[str, Any]:
    """An SQS event for the notifier: one record per body, shaped like the sample's records."""
    template = sample_event("notifier_sqs")["Records"][0]
    records = []
    for number, body in enumerate(bodies):
        record = json.loads(json.dumps(template))
        record["messageId"] = f"message-{number}"
        record["body"] = body
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def notify(*bodies: str, receive_count: int = 1) -> list[str]:
    """Invoke the notifier; the ids of the records it reports as failed."""
    answer = invoke("notifier", sqs_event(*bodies, receive_count=receive_count))
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def counters(app_id: int, at: datetime) -> list[dict[str, int]]:
    """The notification counters of the minute, hour and day of `at`."""
    found = []
    for granularity in Granularity:
        start = granularity.floor(at)
        buckets = aggregates.read_counts(
            app_id, [Run(granularity, start, start + granularity.step)]
        )
        values = buckets[0].counters if buckets else {}
        found.append(
            {
                "sent": values.get(aggregates.NOTIFICATIONS_SENT, 0),
                "failed": values.get(aggregates.NOTIFICATIONS_FAILED, 0),
            }
        )
    return found


def subscribe_queue_to(topic_arn: str) -> Any:
    """An SQS queue subscribed to the topic; returns a function reading what arrived."""
    from tests.support.fake_aws import aws_client

    sqs, sns = aws_client("sqs"), aws_client("sns")
    url = sqs.create_queue(QueueName=f"sns-tap-{abs(hash(topic_arn))}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)

    def read() -> list[dict[str, Any]]:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in reply.get("Messages", [])]

    return read


# ---------------------------------------------------------------- webhook


def test_webhook_receives_one_signed_request(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), description="On-call hook", cooldown_seconds=0)
    event = stored_event(app.id, clock.now, service="api", tags={"env": "prod"})

    assert notify(message(app.id, hook.id, event)) == []

    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-eventlog-delivery"] == f"{event.id}.{hook.id}.0"
    assert request.json == {
        "type": "eventlog.alert",
        "app_id": app.id,
        "rule": {"id": hook.id, "description": "On-call hook"},
        "event": event.model_dump(mode="json"),
        "sent_at": format_iso(clock.now),
    }
    # The signature, recomputed as a receiver would, from the raw body.
    timestamp = request.headers["x-eventlog-timestamp"]
    assert timestamp == str(int(clock.now.timestamp()))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-eventlog-signature"] == f"v1={expected.hexdigest()}"
    signature = request.headers["x-eventlog-signature"]
    now = clock.now.timestamp()
    assert verify_signature(SECRET, request.body, timestamp, signature, now=now)
    tampered = request.body.replace(b"TimeoutError", b"TimeoutErrox")
    assert not verify_signature(SECRET, tampered, timestamp, signature, now=now)
    assert not verify_signature("another-secret-0123456789", request.body, timestamp, signature)

    assert counters(app.id, clock.now) == [{"sent": 1, "failed": 0}] * 3


def test_a_5xx_is_tried_again_in_the_same_invocation(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    receiver.fail_next(1, 503)

    assert notify(message(app.id, hook.id, stored_event(app.id, clock.now))) == []

    first, second = receiver.requests
    assert first.headers["x-eventlog-delivery"] == second.headers["x-eventlog-delivery"]
    assert counters(app.id, clock.now)[0] == {"sent": 1, "failed": 0}


# ---------------------------------------------------------------- Slack and SNS


def test_slack_gets_a_text_summary(app, receiver, loopback_targets, clock):
    slack_url = receiver.url.replace("/hook", "/services/T000/B000/XXXX")
    slack = rule(
        app.id, {"type": "slack", "url": slack_url}, description="Errors <team>", min_level="ERROR"
    )
    event = stored_event(
        app.id, clock.now, level="CRITICAL", service="billing", message="card <declined> & more"
    )

    assert notify(message(app.id, slack.id, event)) == []

    [request] = receiver.requests
    assert request.path == "/services/T000/B000/XXXX"
    assert "x-eventlog-signature" not in request.headers  # Slack verifies by its secret URL
    assert list(request.json) == ["text"]
    text = request.json["text"]
    assert text.splitlines()[0] == f"*CRITICAL* in app {app.id}: *checkout (billing)*"
    assert "> card &lt;declined&gt; &amp; more" in text
    assert "Errors &lt;team&gt;" in text and event.id in text


def test_the_default_rule_publishes_to_the_alerts_topic(app, clock):
    """Every app starts with a rule sending its ERROR and CRITICAL events to the stack's topic."""
    [default] = alerts.list_rules(app.id, 10, None).items
    read_topic = subscribe_queue_to(get_settings().alerts_topic_arn)
    event = stored_event(app.id, clock.now, service="api", data={"order": 42})

    assert notify(message(app.id, default.id, event)) == []

    [published] = read_topic()
    assert published["Subject"] == (
        f"[Eventlog] ERROR in app {app.id}: checkout (api): TimeoutError: request timed out"
    )
    assert len(published["Subject"]) <= 100
    summary, _, payload = published["Message"].partition("\n\n")
    assert summary == published["Subject"].removeprefix("[Eventlog] ")
    assert json.loads(payload)["event"] == event.model_dump(mode="json")
    assert json.loads(payload)["rule"]["id"] == default.id
    assert counters(app.id, clock.now)[0] == {"sent": 1, "failed": 0}


def test_sns_subject_is_ascii_and_short(app, clock):
    [default] = alerts.list_rules(app.id, 10, None).items
    read_topic = subscribe_queue_to(get_settings().alerts_topic_arn)
    event = stored_event(app.id, clock.now, message="Zahlung fehlgeschlagen \u2013 " + "ü" * 300)

    assert notify(message(app.id, default.id, event)) == []

    [published] = read_topic()
    subject = published["Subject"]
    assert len(subject) <= 100 and subject.isascii() and "\n" not in subject
    assert "ü" * 300 in published["Message"]


# ---------------------------------------------------------------- failures and retries


def test_a_failing_webhook_fails_only_its_record(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    first = stored_event(app.id, clock.now)
    second = stored_event(app.id, clock.now)
    receiver.fail_next(2, 500)  # both in-process attempts of the first record

    failed = notify(message(app.id, hook.id, first), message(app.id, hook.id, second))

    assert failed == ["message-0"]
    delivered = [r.json["event"]["id"] for r in receiver.requests if r.json]
    assert delivered == [first.id, first.id, second.id]
    assert counters(app.id, clock.now)[0] == {"sent": 1, "failed": 0}  # not the last receive

    # SQS delivers the failed record again: it goes through, the other is not repeated.
    assert notify(message(app.id, hook.id, first), receive_count=2) == []
    assert [r.json["event"]["id"] for r in receiver.requests][3:] == [first.id]
    assert counters(app.id, clock.now)[0] == {"sent": 2, "failed": 0}


def test_the_retry_delivers_only_the_channel_that_failed(app, receiver, loopback_targets, clock):
    read_topic = subscribe_queue_to(get_settings().alerts_topic_arn)
    both = rule(app.id, {"type": "sns"}, webhook(receiver.url), cooldown_seconds=0)
    body = message(app.id, both.id, stored_event(app.id, clock.now))
    receiver.fail_next(2, 502)

    assert notify(body) == ["message-0"]
    assert len(read_topic()) == 1 and len(receiver.requests) == 2

    clock.advance(180)  # the queue's retry delay
    assert notify(body, receive_count=2) == []
    assert read_topic() == []  # SNS not published again
    assert len(receiver.requests) == 3
    ids = {request.headers["x-eventlog-delivery"] for request in receiver.requests}
    assert ids == {delivery_id(body, 1)}  # the same delivery id on every try
    assert counters(app.id, clock.now)[1] == {"sent": 2, "failed": 0}  # the hour


def delivery_id(body: str, index: int) -> str:
    parsed = json.loads(body)
    return f"{parsed['event']['id']}.{parsed['rule_id']}.{index}"


def test_a_message_delivered_again_after_success_sends_nothing(
    app, receiver, loopback_targets, clock
):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    body = message(app.id, hook.id, stored_event(app.id, clock.now))

    assert notify(body) == []
    assert notify(body, receive_count=2) == []
    assert notify(body, body) == []  # twice in one batch, as SQS may do

    assert len(receiver.requests) == 1
    assert counters(app.id, clock.now)[0] == {"sent": 1, "failed": 0}


def test_failure_on_the_last_receive_counts_as_failed(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    body = message(app.id, hook.id, stored_event(app.id, clock.now))
    receiver.set_status(500)
    last = get_settings().notification_max_receives

    assert notify(body, receive_count=last - 1) == ["message-0"]
    assert counters(app.id, clock.now)[0] == {"sent": 0, "failed": 0}
    assert notify(body, receive_count=last) == ["message-0"]  # SQS moves it to the DLQ next
    assert counters(app.id, clock.now) == [{"sent": 0, "failed": 1}] * 3


def test_a_permanent_4xx_is_not_retried_in_process_but_fails_the_record(
    app, receiver, loopback_targets, clock, caplog
):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    receiver.set_status(404)

    assert notify(message(app.id, hook.id, stored_event(app.id, clock.now))) == ["message-0"]

    assert len(receiver.requests) == 1
    assert "a retry will not help" in caplog.text


def test_a_refused_target_fails_the_record_without_a_request(
    app, receiver, loopback_targets, clock, monkeypatch, caplog
):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    monkeypatch.setenv("ALLOWED_TARGET_NETWORKS", "")  # loopback is refused again
    get_settings.cache_clear()

    assert notify(message(app.id, hook.id, stored_event(app.id, clock.now))) == ["message-0"]

    assert receiver.requests == []
    [failure] = [r for r in caplog.records if r.getMessage().startswith("delivery failed")]
    assert "a retry will not help" in failure.getMessage()
    assert "a loopback address: refused" in failure.reason


# ---------------------------------------------------------------- cooldown


def test_cooldown_holds_back_a_second_notification(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=300)

    assert notify(message(app.id, hook.id, stored_event(app.id, clock.now))) == []
    clock.advance(299)
    assert notify(message(app.id, hook.id, stored_event(app.id, clock.now))) == []
    assert len(receiver.requests) == 1

    clock.advance(1)  # 300 s after the first notification
    assert notify(message(app.id, hook.id, stored_event(app.id, clock.now))) == []
    assert len(receiver.requests) == 2


def test_cooldown_is_per_level(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=600, min_level="WARNING")
    bodies = [
        message(app.id, hook.id, stored_event(app.id, clock.now, level=level))
        for level in ("ERROR", "CRITICAL", "WARNING", "ERROR", "CRITICAL")
    ]

    assert notify(*bodies) == []

    levels = [request.json["event"]["level"] for request in receiver.requests]
    assert levels == ["ERROR", "CRITICAL", "WARNING"]


def test_a_storm_in_one_batch_notifies_once(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url))  # cooldown: 300 s by default
    storm = [message(app.id, hook.id, stored_event(app.id, clock.now)) for _ in range(6)]

    assert notify(*storm) == []

    assert len(receiver.requests) == 1
    assert counters(app.id, clock.now)[0] == {"sent": 1, "failed": 0}


# ---------------------------------------------------------------- conditions


def test_threshold_notifies_once_exceeded(app, receiver, loopback_targets, clock):
    hook = rule(
        app.id,
        webhook(receiver.url),
        event_name="payment.*",
        condition={"type": "threshold", "more_than": 3, "window_minutes": 5},
        cooldown_seconds=0,
    )
    # Not counted: before the window, another name, a lower level.
    stored_event(app.id, clock.now - timedelta(minutes=5), name="payment.charge", count=10)
    stored_event(app.id, clock.now, name="checkout", count=10)
    stored_event(app.id, clock.now, level="WARNING", name="payment.charge", count=10)
    # Counted: 3 events within the last 5 minutes, this one included.
    stored_event(app.id, clock.now - timedelta(minutes=4), name="payment.refund", count=2)
    third = stored_event(app.id, clock.now, name="payment.charge")

    assert notify(message(app.id, hook.id, third)) == []
    assert receiver.requests == []

    fourth = stored_event(app.id, clock.now, level="CRITICAL", name="payment.charge")
    assert notify(message(app.id, hook.id, fourth)) == []
    assert [request.json["event"]["id"] for request in receiver.requests] == [fourth.id]


def test_increase_compares_with_the_window_before(app, receiver, loopback_targets, clock):
    hook = rule(
        app.id,
        webhook(receiver.url),
        service="billing",
        condition={"type": "increase", "percent": 100, "window_minutes": 10, "min_count": 3},
        cooldown_seconds=0,
    )
    stored_event(app.id, clock.now - timedelta(minutes=15), service="billing", count=2)
    third = stored_event(app.id, clock.now, service="billing", count=3)  # 3 against 2: +50%

    assert notify(message(app.id, hook.id, third)) == []
    assert receiver.requests == []

    fourth = stored_event(app.id, clock.now, service="billing")  # 4 against 2: +100%
    assert notify(message(app.id, hook.id, fourth)) == []
    assert len(receiver.requests) == 1


# ---------------------------------------------------------------- rules gone, disabled, changed


def test_a_deleted_or_disabled_rule_notifies_nothing(app, receiver, loopback_targets, clock):
    deleted = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    disabled = rule(app.id, webhook(receiver.url), cooldown_seconds=0, enabled=False)
    event = stored_event(app.id, clock.now)
    alerts.delete_rule(app.id, deleted.id)

    failed = notify(
        message(app.id, deleted.id, event),
        message(app.id, disabled.id, event),
        message(app.id, "r_never_existed", event),
    )

    assert failed == []
    assert receiver.requests == []
    assert counters(app.id, clock.now)[0] == {"sent": 0, "failed": 0}


def test_a_rule_disabled_before_the_retry_stops_it(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    body = message(app.id, hook.id, stored_event(app.id, clock.now))
    receiver.fail_next(2, 500)
    assert notify(body) == ["message-0"]

    alerts.update_rule(app.id, hook.id, AlertRuleUpdate(enabled=False))
    assert notify(body, receive_count=2) == []

    assert len(receiver.requests) == 2  # the two failed attempts only


def test_a_rule_that_no_longer_matches_notifies_nothing(app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0, min_level="ERROR")
    event = stored_event(app.id, clock.now, level="ERROR")
    alerts.update_rule(app.id, hook.id, AlertRuleUpdate(min_level="CRITICAL"))

    assert notify(message(app.id, hook.id, event)) == []
    assert receiver.requests == []


# ---------------------------------------------------------------- malformed messages


def test_malformed_messages_are_dropped_not_retried(app, receiver, loopback_targets, clock, caplog):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    good = message(app.id, hook.id, stored_event(app.id, clock.now))
    malformed = [
        "not json",
        "[1, 2]",
        json.dumps({"app_id": app.id, "rule_id": hook.id}),
        json.dumps({"app_id": "one", "rule_id": hook.id, "event": {"id": "e"}}),
    ]

    # Processed, not failed: retrying could never make them parse.
    assert notify(*malformed, good) == []

    assert len(receiver.requests) == 1
    dropped = [
        r for r in caplog.records if r.getMessage() == "malformed notification message dropped"
    ]
    assert [r.body for r in dropped] == malformed
    assert "event: Field required" in dropped[2].reason


def test_an_event_of_another_app_is_malformed(app, other_app, receiver, loopback_targets, clock):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    foreign = stored_event(other_app.id, clock.now)
    body = json.dumps({"app_id": app.id, "rule_id": hook.id, "event": foreign.model_dump()})

    assert notify(body) == []
    assert receiver.requests == []


# ---------------------------------------------------------------- from ingestion to delivery


def test_an_ingested_event_reaches_the_webhook(api, aws, app, receiver, loopback_targets):
    """The stream processor queues it; the queue's records, as Lambda gets them, drive the
    notifier."""
    from tests.support.fake_aws import aws_client

    hook = rule(app.id, webhook(receiver.url), event_name="checkout", cooldown_seconds=0)
    reply = api.ingest(app.id, {"level": "ERROR", "name": "checkout", "message": "boom"})
    assert reply.status == 201, reply.text
    aws.settle()  # ingest only stores: the stream processor matches rules and queues

    sqs = aws_client("sqs")
    queued = sqs.receive_message(
        QueueUrl=get_settings().notification_queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
    )["Messages"]
    rule_ids = sorted(json.loads(m["Body"])["rule_id"] for m in queued)
    assert hook.id in rule_ids and len(rule_ids) == 2  # and the app's default rule
    template = sample_event("notifier_sqs")["Records"][0]
    records = [
        {
            **template,
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "md5OfBody": m["MD5OfBody"],
        }
        for m in queued
    ]

    assert invoke("notifier", {"Records": records}) == {"batchItemFailures": []}

    [request] = receiver.requests
    assert request.json["event"] == reply.body
    assert request.json["rule"]["id"] == hook.id


def test_the_sample_event_is_processed(aws, caplog):
    """events/notifier_sqs.json (for `sam local invoke`): its rule does not exist here."""
    assert invoke("notifier", sample_event("notifier_sqs")) == {"batchItemFailures": []}

    skipped = [r for r in caplog.records if r.getMessage() == "notification suppressed"]
    assert [r.reason for r in skipped] == ["the rule no longer exists"] * 2


# ---------------------------------------------------------------- deadlines


@dataclass
class ShortContext(FakeLambdaContext):
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def notify_with(aws: Any, event: dict[str, Any], remaining_seconds: float) -> list[str]:
    """Invoke the notifier with `remaining_seconds` left in the invocation; the failed ids."""
    aws.settle()
    handler = handler_module("notifier").lambda_handler
    context = ShortContext(remaining_ms=int(remaining_seconds * 1000))
    answer = handler(json.loads(json.dumps(event)), context)
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def published_metrics(capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    """The notifier's last metrics (CloudWatch embedded metric format, on stdout)."""
    lines = [line for line in capsys.readouterr().out.splitlines() if "NotificationsSent" in line]
    document = json.loads(lines[-1])
    return {name: document[name][0] for name in document if name.startswith("Notifications")}


def test_the_budget_fits_the_template():
    """BatchSize records of RECORD_SECONDS each, and the margin, fit in the Timeout; a record's
    budget holds one HTTP channel's worst case (every try and pause) and an SNS publish."""
    template = load_template()
    function = template.properties("NotifierFunction", "Function")
    mapping = function["Events"]["Notifications"]["Properties"]
    timeout = int(template.resolve(function["Timeout"]))
    batch_size = int(template.resolve(mapping["BatchSize"]))

    budget = batch_size * notifications.RECORD_SECONDS + notifications.REPORT_MARGIN_SECONDS
    assert budget <= timeout
    assert channels.HTTP_WORST_SECONDS < notifications.RECORD_SECONDS
    assert channels.SNS_WORST_SECONDS < notifications.RECORD_SECONDS
    retry = template.doc["Parameters"]["NotificationRetrySeconds"]
    assert int(retry["MinValue"]) >= timeout  # Lambda requires visibility >= Timeout


def test_a_dripping_webhook_spends_only_its_own_records_time(
    aws, app, receiver, dripping, loopback_targets, clock, monkeypatch, capsys
):
    """Every record is on its last receive: the slow webhook's record fails (its own target),
    the others are delivered, in about the slow record's budget, not the drip's length."""
    monkeypatch.setattr(notifications, "RECORD_SECONDS", 1.0)
    slow = rule(app.id, webhook(dripping.url), cooldown_seconds=0)
    fast = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    events = [stored_event(app.id, clock.now) for _ in range(4)]
    bodies = [
        message(app.id, fast.id, events[0]),
        message(app.id, slow.id, events[1]),
        message(app.id, fast.id, events[2]),
        message(app.id, fast.id, events[3]),
    ]
    last = get_settings().notification_max_receives

    started = time.monotonic()
    failed = notify_with(aws, sqs_event(*bodies, receive_count=last), remaining_seconds=60)
    elapsed = time.monotonic() - started

    assert failed == ["message-1"]
    assert dripping.requests >= 1
    delivered = [request.json["event"]["id"] for request in receiver.requests]
    assert delivered == [events[0].id, events[2].id, events[3].id]
    assert elapsed < 5  # the drip would have held the invocation for 100000 x 0.05 s
    # The slow record failed on its last receive: counted, and it goes to the dead-letter queue.
    assert counters(app.id, clock.now)[0] == {"sent": 3, "failed": 1}
    metrics = published_metrics(capsys)
    assert metrics["NotificationsSent"] == 3 and metrics["NotificationsFailed"] == 1
    assert metrics["NotificationsDeferred"] == 0  # its own budget ran out, not the invocation's


def queued_records() -> list[dict[str, Any]]:
    """What the notification queue holds now, received as Lambda's poller receives it."""
    from tests.support.fake_aws import aws_client

    queued = (
        aws_client("sqs")
        .receive_message(
            QueueUrl=get_settings().notification_queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
        )
        .get("Messages", [])
    )
    template = sample_event("notifier_sqs")["Records"][0]
    arn = template["eventSourceARN"]
    return [
        {
            **template,
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "md5OfBody": m["MD5OfBody"],
            "eventSourceARN": arn,
        }
        for m in queued
    ]


def test_without_time_to_start_records_fail_undelivered_and_return_at_once(
    aws, app, receiver, loopback_targets, clock, capsys
):
    hook = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    read_topic = subscribe_queue_to(get_settings().alerts_topic_arn)
    stored_event(app.id, clock.now)
    stored_event(app.id, clock.now)
    aws.settle()  # the stream processor queues them: for the hook and the app's default rule
    records = queued_records()
    assert len(records) == 4
    ids = sorted(record["messageId"] for record in records)

    # Less than the margin and a record's start: nothing starts.
    little = notifications.REPORT_MARGIN_SECONDS + notifications.MIN_START_SECONDS - 0.5
    failed = notify_with(aws, {"Records": records}, remaining_seconds=little)

    assert sorted(failed) == ids
    assert receiver.requests == [] and read_topic() == []
    assert counters(app.id, clock.now)[0] == {"sent": 0, "failed": 0}
    assert published_metrics(capsys)["NotificationsDeferred"] == 4
    # Visible again at once (the queue's retry delay is NotificationRetrySeconds, 120 s).
    again = queued_records()
    assert sorted(record["messageId"] for record in again) == ids
    assert {record["attributes"]["ApproximateReceiveCount"] for record in again} == {"2"}

    # The next invocation, with time, delivers them (the default rule's cooldown holds back its
    # second notification).
    assert notify_with(aws, {"Records": again}, remaining_seconds=60) == []
    assert len(receiver.requests) == 2 and len(read_topic()) == 1
    assert all(request.json["rule"]["id"] == hook.id for request in receiver.requests)
    assert counters(app.id, clock.now)[0] == {"sent": 3, "failed": 0}


def test_a_record_cut_short_by_the_invocations_end_is_deferred_with_those_after_it(
    aws, app, receiver, dripping, loopback_targets, clock, monkeypatch, caplog, capsys
):
    """The invocation has 1 s for records: the dripping webhook's record runs out of it (the
    invocation's time, shorter than its own budget), the next cannot start. Both are reported
    as failed, nothing is delivered or counted, and the margin is left to answer."""
    monkeypatch.setattr(notifications, "MIN_START_SECONDS", 0.5)
    slow = rule(app.id, webhook(dripping.url), cooldown_seconds=0)
    fast = rule(app.id, webhook(receiver.url), cooldown_seconds=0)
    bodies = [
        message(app.id, slow.id, stored_event(app.id, clock.now)),
        message(app.id, fast.id, stored_event(app.id, clock.now)),
    ]

    started = time.monotonic()
    remaining = notifications.REPORT_MARGIN_SECONDS + 1.0
    failed = notify_with(aws, sqs_event(*bodies, receive_count=2), remaining_seconds=remaining)
    elapsed = time.monotonic() - started

    assert failed == ["message-0", "message-1"]
    assert dripping.requests == 1 and receiver.requests == []
    assert elapsed < remaining  # the margin is left to answer
    assert counters(app.id, clock.now)[0] == {"sent": 0, "failed": 0}
    deferred = [r for r in caplog.records if "no time left in this invocation" in r.getMessage()]
    assert len(deferred) == 1  # the second record: not started
    assert published_metrics(capsys)["NotificationsDeferred"] == 2  # both retried at once
