"""The stream processor's side of notifications: events matching an alert rule go to the queue.

One message per (counted event, matching rule), sent in batches of ten. The notifier decides
from there (conditions, cooldowns) and delivers, once per (event, rule) however often a message
is sent: a stream chunk replayed after a failure queues its messages again, and nothing is
notified twice. A send that still fails after a retry raises QueueSendFailed, so the chunk is
retried rather than its notifications lost.
"""

import json
from functools import cache
from typing import Any

import boto3

from eventlog.base.config import get_settings
from eventlog.models.alerts import AlertRule
from eventlog.models.events import Event

SQS_BATCH = 10
# SQS takes 256 KB per message and per batch: events with large payloads go without them.
MESSAGE_BYTES = 200_000
BATCH_BYTES = 250_000
BULKY_FIELDS = {"data", "stack", "tags"}


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


def message_body(app_id: int, rule_id: str, event: Event) -> str:
    body = json.dumps(
        {"app_id": app_id, "rule_id": rule_id, "event": event.model_dump(mode="json")},
        separators=(",", ":"),
    )
    if len(body.encode()) > MESSAGE_BYTES:
        slim = event.model_dump(mode="json", exclude=BULKY_FIELDS)
        body = json.dumps({"app_id": app_id, "rule_id": rule_id, "event": slim})
    return body


def _batches(bodies: list[str]) -> list[list[str]]:
    batches: list[list[str]] = [[]]
    size = 0
    for body in bodies:
        length = len(body.encode())
        if len(batches[-1]) == SQS_BATCH or (batches[-1] and size + length > BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return [batch for batch in batches if batch]


class QueueSendFailed(Exception):
    """Some messages could not be queued (after one retry of the failed ones)."""


def send(queue_url: str, bodies: list[str]) -> None:
    """Queue these message bodies, in batches of ten under SQS's size limit."""
    for batch in _batches(bodies):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        for _attempt in range(2):  # failed entries of a batch get one more try
            reply = _sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)
            failed_ids = {failure["Id"] for failure in reply.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed_ids]
            if not entries:
                break
        if entries:
            raise QueueSendFailed(
                f"{len(entries)} messages not queued: {reply.get('Failed', [])[:3]}"
            )


def enqueue_matches(app_id: int, events: list[Event], rules: list[AlertRule]) -> int:
    """Queue every (event, rule) that matches; returns how many messages were sent."""
    bodies = [
        message_body(app_id, rule.id, event)
        for event in events
        for rule in rules
        if rule.matches(event.level, event.name, event.service)
    ]
    send(get_settings().notification_queue_url, bodies)
    return len(bodies)
