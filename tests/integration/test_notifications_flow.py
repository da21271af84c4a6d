"""Notifications and propagation end to end, over HTTP on the local stack, as AWS would run them:
the stack polls the notification queue and invokes the notifier (batch item failures honoured,
redrive to the dead-letter queue), and invokes the propagator on its schedule.

The stack here has fast retries and a one-second schedule (seconds are allowed locally); the
receivers are real HTTP servers on loopback.
"""

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from loopback_receiver import LoopbackReceiver, Received

from local_stack import LocalStackProcess
from tests.support.polling import eventually

WEBHOOK_SECRET = "whsec_integration_0123456789"  # noqa: S105 - test values
SUBSCRIPTION_SECRET = "subsec_integration_0123456789"  # noqa: S105
MAX_RECEIVES = 3
FAST = {
    "PropagationSchedule": "rate(1 second)",
    "PropagationIntervalSeconds": "1",  # backoff after a failure starts at 1 s
    "PropagationDelaySeconds": "1",
    "NotificationRetrySeconds": "1",
    "NotificationMaxReceives": str(MAX_RECEIVES),
}


@pytest.fixture(scope="module")
def fast_stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess(port=0, parameters=FAST) as running:
        yield running


class Client(requests.Session):
    def __init__(self, stack: LocalStackProcess):
        super().__init__()
        self.base_url = stack.url
        self.admin = {"x-api-key": stack.admin_key}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)

    def new_app(self, name: str) -> tuple[int, dict[str, str]]:
        """An app and its ingest headers."""
        created = self.post(f"/apps/{name}", headers=self.admin)
        assert created.status_code == 201, created.text
        return created.json()["id"], {"X-INGEST-KEY": created.json()["ingest_key"]}

    def user_headers(self, app_id: int) -> dict[str, str]:
        key = self.post("/keys", headers=self.admin, json={"role": "user", "app_id": app_id})
        assert key.status_code == 201, key.text
        return {"x-api-key": key.json()["key"]}


@pytest.fixture
def client(fast_stack: LocalStackProcess) -> Iterator[Client]:
    with Client(fast_stack) as session:
        yield session


@pytest.fixture
def sqs(fast_stack: LocalStackProcess) -> Any:
    return boto3.client(
        "sqs", endpoint_url=fast_stack.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
    )  # fmt: skip


def signed_correctly(request: Received, secret: str) -> bool:
    """What a receiver does, written here independently of the service's code."""
    timestamp = request.headers["x-eventlog-timestamp"]
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    fresh = abs(time.time() - int(timestamp)) <= 300
    return fresh and hmac.compare_digest(
        f"v1={mac.hexdigest()}", request.headers["x-eventlog-signature"]
    )


def webhook_rule(client: Client, app_id: int, url: str, **fields: Any) -> dict[str, Any]:
    body = {"channels": [{"type": "webhook", "url": url, "secret": WEBHOOK_SECRET}], **fields}
    reply = client.post(f"/apps/{app_id}/alert-rules", headers=client.admin, json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def queue_depth(sqs: Any, name: str) -> int:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


# ---------------------------------------------------------------- notifications


def test_an_error_event_reaches_a_webhook_within_seconds_signed_and_metrics_count_it(
    client, receiver
):
    app_id, ingest = client.new_app("notify-demo")
    rule = webhook_rule(client, app_id, receiver.url, description="errors to the webhook")
    started = time.monotonic()
    posted = client.post(
        f"/apps/{app_id}/events",
        headers=ingest,
        json={"level": "ERROR", "message": "payment failed", "name": "payment"},
    )
    assert posted.status_code == 201, posted.text
    (request,) = receiver.wait_for(1, timeout=15)
    assert time.monotonic() - started < 10
    assert signed_correctly(request, WEBHOOK_SECRET)
    assert not signed_correctly(
        Received(request.method, request.path, request.headers, request.body + b" "),
        WEBHOOK_SECRET,
    )
    notification = request.json
    assert notification["type"] == "eventlog.alert"
    assert notification["app_id"] == app_id
    assert notification["rule"]["id"] == rule["id"]
    assert notification["event"] == posted.json()
    # The webhook and the default rule's SNS topic: two notifications sent, one log processed.
    user = client.user_headers(app_id)
    metrics = eventually(
        lambda: (
            reply.json()
            if (reply := client.get("/metrics", headers=user)).json()["notifications_sent"] == 2
            else None
        )
    )
    assert metrics == {"logs_processed": 1, "notifications_sent": 2}
    time.sleep(1.5)  # nothing more arrives: each notification is sent once
    assert len(receiver.requests) == 1


def test_a_receiver_answering_500_gets_retries_then_the_message_waits_in_the_dlq(
    client, receiver, sqs, fast_stack
):
    receiver.set_status(500)
    app_id, ingest = client.new_app("notify-failing")
    webhook_rule(client, app_id, receiver.url)
    dead_letters_before = queue_depth(sqs, "NotificationDeadLetterQueue")
    posted = client.post(
        f"/apps/{app_id}/events", headers=ingest, json={"level": "CRITICAL", "message": "db down"}
    )
    assert posted.status_code == 201
    eventually(
        lambda: queue_depth(sqs, "NotificationDeadLetterQueue") == dead_letters_before + 1,
        timeout=40,
    )
    attempts = len(receiver.requests)
    assert attempts == MAX_RECEIVES * 2  # each receive: two attempts in a row
    deliveries = {request.headers["x-eventlog-delivery"] for request in receiver.requests}
    assert len(deliveries) == 1  # the same delivery every time: receivers can drop repeats
    time.sleep(2)
    assert len(receiver.requests) == attempts  # dead-lettered: no more retries
    counts = client.get(
        f"/apps/{app_id}/stats/notifications", headers=client.user_headers(app_id)
    ).json()
    assert (counts["sent"], counts["failed"]) == (1, 1)  # the SNS default rule; the webhook


def test_one_failing_record_of_a_batch_retries_alone(client, receiver):
    other = LoopbackReceiver()
    try:
        app_id, ingest = client.new_app("notify-partial")
        webhook_rule(client, app_id, receiver.url, event_name="good")
        webhook_rule(client, app_id, other.url, event_name="flaky")
        other.fail_next(2, 503)  # the first receive fails (two attempts), the second succeeds
        batch = [
            {"level": "ERROR", "name": "good", "message": "a"},
            {"level": "ERROR", "name": "flaky", "message": "b"},
        ]
        assert client.post(f"/apps/{app_id}/events", headers=ingest, json=batch).status_code == 201
        other.wait_for(3, timeout=20)
        receiver.wait_for(1)
        time.sleep(1.5)
        assert len(receiver.requests) == 1
        assert len(other.requests) == 3
        assert other.requests[2].json["event"]["name"] == "flaky"
    finally:
        other.close()


# ---------------------------------------------------------------- propagation


def subscribe(client: Client, app_id: int, url: str, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "secret": SUBSCRIPTION_SECRET, **fields}
    reply = client.post(f"/apps/{app_id}/subscriptions", headers=client.admin, json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def delivered_events(receiver: LoopbackReceiver) -> list[dict[str, Any]]:
    """Events of the 2xx batches, each batch once (repeats dropped by Idempotency-Key)."""
    seen: set[str] = set()
    events = []
    for request, status in zip(receiver.requests, receiver.statuses, strict=True):
        key = request.headers["idempotency-key"]
        if status < 300 and key not in seen:
            seen.add(key)
            events += request.json["events"]
    return events


def test_a_subscription_gets_every_event_in_order_none_missing_after_an_outage(client, receiver):
    app_id, ingest = client.new_app("propagate-demo")
    subscription = subscribe(client, app_id, receiver.url, batch_size=7)
    posted: list[str] = []

    def post(count: int, start: int) -> None:
        batch = [{"message": f"event {start + i}", "name": "step"} for i in range(count)]
        reply = client.post(f"/apps/{app_id}/events", headers=ingest, json=batch)
        assert reply.status_code == 201, reply.text
        posted.extend(item["id"] for item in reply.json()["items"])

    post(10, 0)
    post(10, 10)
    eventually(lambda: len(delivered_events(receiver)) == 20)
    receiver.set_status(503)  # the outage
    post(15, 20)
    path = f"/apps/{app_id}/subscriptions/{subscription['id']}"
    failing = eventually(
        lambda: (
            (s := client.get(path, headers=client.admin).json())["consecutive_failures"] >= 2 and s
        )
    )
    assert "503" in failing["last_error"]
    assert failing["enabled"] is True
    receiver.set_status(200)
    post(5, 35)
    eventually(lambda: len(delivered_events(receiver)) == 40, timeout=40)
    events = delivered_events(receiver)
    assert [event["id"] for event in events] == posted  # all, in order, once each
    assert all(len(request.json["events"]) <= 7 for request in receiver.requests)
    assert all(signed_correctly(request, SUBSCRIPTION_SECRET) for request in receiver.requests)
    recovered = client.get(path, headers=client.admin).json()
    assert recovered["delivered"] == 40
    assert recovered["consecutive_failures"] == 0


def test_each_propagator_run_writes_a_heartbeat_into_the_internal_app(client, fast_stack):
    apps = client.get("/apps?limit=100", headers=client.admin).json()["items"]
    (internal,) = [app for app in apps if app["name"] == "eventlog-internal"]
    query = f"/apps/{internal['id']}/events?name=eventlog.heartbeat&limit=5"
    first = eventually(lambda: client.get(query, headers=client.admin).json()["items"])
    assert first[0]["service"] == "propagator"
    later = eventually(
        lambda: (
            (items := client.get(query, headers=client.admin).json()["items"])[0]["id"]
            != first[0]["id"]
            and items
        )
    )
    assert later[0]["received_at"] > first[0]["received_at"]
    default = f"/apps/{fast_stack.default_app_id}/events?name=eventlog.heartbeat"
    assert client.get(default, headers=client.admin).json()["items"] == []
