"""One notification through one channel of an alert rule: a webhook, Slack, or an SNS topic.

- Webhook: POST of the JSON notification (`notification_payload`), signed like every outbound
  request (`X-Eventlog-Timestamp`, `X-Eventlog-Signature`, see `eventlog.delivery.outbound`),
  with an `X-Eventlog-Delivery` id that stays the same when a delivery is retried, so a receiver can
  drop a repeat.
- Slack: POST of `{"text": ...}` to the incoming-webhook URL (the channel's secret), a short
  mrkdwn summary.
- SNS: `Publish` to the channel's topic (the stack's alerts topic by default): a subject, then
  the summary and the JSON notification.

Every failure is an `outbound.DeliveryError`; `retryable=False` says a retry will not help (a
refused target, a 4xx other than 408/425/429, an SNS topic that does not exist or refuses us).

Deadlines: `send(..., time_left=seconds)` is what the notification has left. An HTTP channel's
tries (HTTP_ATTEMPTS of at most HTTP_TIMEOUT_SECONDS each, connection to last byte of the reply,
however slowly the server drips it) all end within it; SNS is not called with less than
SNS_MIN_SECONDS left, and its client's timeouts bound a publish to about SNS_WORST_SECONDS.
Out of time is a retryable DeliveryError.
"""

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eventlog.base.config import get_settings
from eventlog.base.timeutil import format_iso
from eventlog.delivery import alerts, outbound
from eventlog.models.alerts import AlertRule, SlackChannel, SnsChannel, WebhookChannel

DELIVERY_HEADER = "X-Eventlog-Delivery"
NOTIFICATION_TYPE = "eventlog.alert"
HTTP_TIMEOUT_SECONDS = 5.0
HTTP_ATTEMPTS = 2  # in this invocation; SQS retries the record after that
HTTP_BACKOFF_SECONDS = 0.5
# The most one HTTP channel takes: every try to its timeout, and the pauses between them.
HTTP_WORST_SECONDS = HTTP_ATTEMPTS * HTTP_TIMEOUT_SECONDS + HTTP_BACKOFF_SECONDS * (
    2 ** (HTTP_ATTEMPTS - 1) - 1
)
# SNS: 2 tries, each connecting within 1 s and answered within 4 s (boto3's defaults are 60 s).
SNS_CONNECT_SECONDS = 1
SNS_READ_SECONDS = 4
SNS_ATTEMPTS = 2
SNS_WORST_SECONDS = SNS_ATTEMPTS * (SNS_CONNECT_SECONDS + SNS_READ_SECONDS)
SNS_MIN_SECONDS = 1.0  # a publish is not started with less time left
SNS_SUBJECT_CHARS = 100
# SNS takes 256 KB per message: an event that would not fit goes without its bulky fields.
SNS_MESSAGE_BYTES = 240_000
BULKY_FIELDS = ("data", "stack", "tags")
SUMMARY_MESSAGE_CHARS = 300
# SNS refuses these topics' errors for good: retrying cannot make them work.
SNS_PERMANENT_ERRORS = frozenset(
    {"NotFound", "AuthorizationError", "InvalidParameter", "InvalidParameterValue", "KMSDisabled"}
)


@dataclass(frozen=True)
class Notification:
    """What one (event, rule) notifies, whatever the channel."""

    app_id: int
    rule: AlertRule
    event: dict[str, Any]  # the stored event as the API returns it
    sent_at: datetime


def notification_payload(notification: Notification) -> dict[str, Any]:
    return {
        "type": NOTIFICATION_TYPE,
        "app_id": notification.app_id,
        "rule": {"id": notification.rule.id, "description": notification.rule.description},
        "event": notification.event,
        "sent_at": format_iso(notification.sent_at),
    }


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _what(event: dict[str, Any]) -> str:
    """`name (service)`, `name`, `service` or `event`."""
    name, service = event.get("name"), event.get("service")
    if name and service:
        return f"{name} ({service})"
    return name or service or "event"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(notification: Notification) -> str:
    """One line: `ERROR in app 3: checkout (api): TimeoutError: request timed out`."""
    event = notification.event
    text = f"{event.get('level')} in app {notification.app_id}: {_what(event)}"
    if event.get("message"):
        text += f": {_shorten(event['message'], SUMMARY_MESSAGE_CHARS)}"
    return text


def _slack_escape(text: str) -> str:
    # The three characters Slack's mrkdwn wants escaped (everything else is literal).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(notification: Notification) -> str:
    event, rule = notification.event, notification.rule
    lines = [
        f"*{_slack_escape(str(event.get('level')))}* in app {notification.app_id}: "
        f"*{_slack_escape(_what(event))}*"
    ]
    if event.get("message"):
        lines.append(f"> {_slack_escape(_shorten(event['message'], SUMMARY_MESSAGE_CHARS))}")
    lines.append(
        f"Rule: {_slack_escape(rule.description or rule.id)} · "
        f"event `{event.get('id')}` at {event.get('occurred_at')} (count {event.get('count', 1)})"
    )
    return "\n".join(lines)


def _ascii(text: str) -> str:
    """`é` -> `e`; what has no ASCII form (an en dash, `€`) becomes `?`, a line break a space."""
    out = []
    for char in text:
        if " " <= char <= "~":
            out.append(char)
        elif char.isspace():
            out.append(" ")
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append("".join(c for c in plain if " " <= c <= "~") or "?")
    return "".join(out)


def sns_subject(notification: Notification) -> str:
    """SNS subjects: ASCII, no line breaks, under 100 characters, starting with a printable."""
    subject = " ".join(_ascii(f"[Eventlog] {summary(notification)}").split())
    if len(subject) > SNS_SUBJECT_CHARS:
        subject = subject[: SNS_SUBJECT_CHARS - 3] + "..."
    return subject


def sns_message(notification: Notification) -> str:
    payload = notification_payload(notification)
    message = f"{summary(notification)}\n\n{json.dumps(payload, indent=2, ensure_ascii=False)}"
    if len(message.encode()) <= SNS_MESSAGE_BYTES:
        return message
    slim = {k: v for k, v in notification.event.items() if k not in BULKY_FIELDS}
    message_text = slim.get("message")
    if isinstance(message_text, str) and len(message_text) > 2000:
        slim["message"] = message_text[:2000] + "…"
    payload = {**payload, "event": slim, "truncated": True}
    return f"{summary(notification)}\n\n{json.dumps(payload, indent=2, ensure_ascii=False)}"


# ---------------------------------------------------------------- sending


@cache
def _sns() -> Any:
    config = Config(
        connect_timeout=SNS_CONNECT_SECONDS,
        read_timeout=SNS_READ_SECONDS,
        retries={"total_max_attempts": SNS_ATTEMPTS, "mode": "standard"},
    )
    return boto3.client("sns", config=config)


def _post(url: str, body: bytes, headers: dict[str, str], time_left: float | None) -> str:
    reply = outbound.post_json(
        url,
        body,
        headers,
        timeout=HTTP_TIMEOUT_SECONDS,
        attempts=HTTP_ATTEMPTS,
        backoff=HTTP_BACKOFF_SECONDS,
        time_left=time_left,
    )
    return f"HTTP {reply.status}"


def _send_webhook(
    notification: Notification, index: int, url: str, delivery_id: str, time_left: float | None
) -> str:
    body = _encode(notification_payload(notification))
    secret = alerts.channel_secret(notification.rule, index)
    headers = outbound.signature_headers(secret, body, int(notification.sent_at.timestamp()))
    return _post(url, body, {**headers, DELIVERY_HEADER: delivery_id}, time_left)


def _send_slack(notification: Notification, index: int, time_left: float | None) -> str:
    url = alerts.channel_secret(notification.rule, index)
    return _post(url, _encode({"text": slack_text(notification)}), {}, time_left)


def _publish(notification: Notification, topic_arn: str, time_left: float | None) -> str:
    if not topic_arn:
        raise outbound.DeliveryError("no SNS topic: the channel has none and no ALERTS_TOPIC_ARN")
    if time_left is not None and time_left < SNS_MIN_SECONDS:
        raise outbound.DeliveryError(f"no time left to publish to {topic_arn}")
    try:
        reply = _sns().publish(
            TopicArn=topic_arn,
            Subject=sns_subject(notification),
            Message=sns_message(notification),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise outbound.DeliveryError(
            f"SNS {code} on {topic_arn}: {error}",
            status=status,
            retryable=code not in SNS_PERMANENT_ERRORS,
        ) from None
    except BotoCoreError as error:
        raise outbound.DeliveryError(f"SNS {type(error).__name__}: {error}") from None
    return f"SNS message {reply['MessageId']}"


def target(channel: WebhookChannel | SlackChannel | SnsChannel) -> str:
    """What a channel delivers to, as the rule shows it (a Slack URL is secret: its hint)."""
    if isinstance(channel, WebhookChannel):
        return f"webhook {channel.url}"
    if isinstance(channel, SlackChannel):
        return f"slack {channel.url_hint}"
    return f"sns {channel.topic_arn or get_settings().alerts_topic_arn}"


def send(
    notification: Notification, index: int, delivery_id: str, time_left: float | None = None
) -> str:
    """Deliver through the rule's channel `index` within `time_left` seconds (None: the
    channel's own bounds only); what the target answered, or DeliveryError."""
    channel = notification.rule.channels[index]
    if isinstance(channel, WebhookChannel):
        return _send_webhook(notification, index, channel.url, delivery_id, time_left)
    if isinstance(channel, SlackChannel):
        return _send_slack(notification, index, time_left)
    topic_arn = channel.topic_arn or get_settings().alerts_topic_arn
    return _publish(notification, topic_arn, time_left)
