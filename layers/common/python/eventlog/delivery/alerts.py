"""Alert rules: stored per app in the registry table (`eventlog.storage.registry`), beside the
app's own item, so the write path reads an app and its rules with one Query (`app_and_rules`).
Their channel secrets (a webhook's signing secret, a Slack URL) are SecureStrings in SSM under
`rules/<rule_id>/channel-<index>`.
"""

from typing import Any
from urllib.parse import urlsplit

from eventlog.base.config import get_settings
from eventlog.base.errors import ConflictError, InvalidInputError, NotFoundError
from eventlog.base.ids import new_ulid
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.delivery import secret_store
from eventlog.models.alerts import (
    AlertRule,
    AlertRuleIn,
    AlertRulePage,
    AlertRuleUpdate,
    Channel,
    ChannelIn,
    SlackChannel,
    SlackChannelIn,
    SnsChannel,
    SnsChannelIn,
    WebhookChannel,
    WebhookChannelIn,
    check_condition,
)
from eventlog.models.base import Level
from eventlog.storage import aggregates, registry

# Every ingest request reads its app's rules: a bound keeps that read small.
MAX_RULES_PER_APP = 25


def _secrets_owner(rule_id: str) -> str:
    return f"rules/{rule_id}"


def _channel_secret_name(index: int) -> str:
    return f"channel-{index}"


def _stored_channels(channels: list[ChannelIn]) -> tuple[list[Channel], dict[str, str]]:
    """What the rule item keeps of each channel (shown by the API), and the secrets apart."""
    from eventlog.delivery.outbound import (
        check_target,  # ssl and http.client: not for the write path
    )

    shown: list[Channel] = []
    secrets: dict[str, str] = {}
    for index, channel in enumerate(channels):
        if isinstance(channel, WebhookChannelIn):
            check_target(channel.url)
            shown.append(WebhookChannel(type="webhook", url=channel.url))
            secrets[_channel_secret_name(index)] = channel.secret.get_secret_value()
        elif isinstance(channel, SlackChannelIn):
            check_target(channel.url)
            parts = urlsplit(channel.url)
            shown.append(SlackChannel(type="slack", url_hint=f"{parts.scheme}://{parts.netloc}/…"))
            secrets[_channel_secret_name(index)] = channel.url
        elif isinstance(channel, SnsChannelIn):
            alerts_topic = get_settings().alerts_topic_arn
            topic = channel.topic_arn or alerts_topic
            if _account(topic) != _account(alerts_topic):
                # The notifier may publish to this account's topics only (template.yaml).
                raise InvalidInputError(
                    f"channels.{index}.topic_arn: the topic must be in this stack's account "
                    f"({_account(alerts_topic)})"
                )
            shown.append(SnsChannel(type="sns", topic_arn=topic))
    return shown, secrets


def _account(topic_arn: str) -> str:
    return topic_arn.split(":")[4] if topic_arn.count(":") >= 5 else ""


def _stored(rule: AlertRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude_none=True)


def _from_item(item: dict[str, Any]) -> AlertRule:
    return AlertRule.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})


def new_rule_id() -> str:
    return "r_" + new_ulid(utcnow()).lower()


def default_rule_item(app_id: int, created_at: str) -> dict[str, Any]:
    """Every new app's first rule: ERROR and CRITICAL events notify the stack's alerts topic."""
    rule = AlertRule(
        id=new_rule_id(),
        app_id=app_id,
        description="Default: ERROR and CRITICAL events notify the stack's alerts topic",
        min_level=Level.ERROR,
        cooldown_seconds=300,
        channels=[SnsChannel(type="sns", topic_arn=get_settings().alerts_topic_arn)],
        enabled=True,
        created_at=created_at,
        updated_at=created_at,
    )
    return registry.rule_item(_stored(rule))


def create_rule(app_id: int, rule_in: AlertRuleIn) -> AlertRule:
    registry.require_app(app_id)
    if len(registry.rule_items(app_id, limit=MAX_RULES_PER_APP)) >= MAX_RULES_PER_APP:
        raise InvalidInputError(f"an app has at most {MAX_RULES_PER_APP} alert rules")
    channels, secrets = _stored_channels(rule_in.channels)
    now = format_iso(utcnow())
    rule = AlertRule(
        id=new_rule_id(),
        app_id=app_id,
        **rule_in.model_dump(exclude={"channels"}),
        channels=channels,
        created_at=now,
        updated_at=now,
    )
    # Secrets first: a rule is never stored without them.
    secret_store.replace(_secrets_owner(rule.id), secrets)
    registry.put_rule(_stored(rule))
    return rule


def find_rule(app_id: int, rule_id: str) -> AlertRule | None:
    item = registry.get_rule(app_id, rule_id)
    return _from_item(item) if item else None


def get_rule(app_id: int, rule_id: str) -> AlertRule:
    registry.require_app(app_id)
    rule = find_rule(app_id, rule_id)
    if rule is None:
        raise NotFoundError(f"app {app_id} has no alert rule {rule_id}")
    return rule


def list_rules(app_id: int, limit: int, cursor: str | None) -> AlertRulePage:
    registry.require_app(app_id)
    items = registry.rule_items(app_id, limit=limit + 1, after=cursor)
    rules = [_from_item(item) for item in items[:limit]]
    return AlertRulePage(items=rules, next_cursor=rules[-1].id if len(items) > limit else None)


def update_rule(app_id: int, rule_id: str, update: AlertRuleUpdate) -> AlertRule:
    current = get_rule(app_id, rule_id)
    changes = {name: getattr(update, name) for name in update.model_fields_set}
    secrets: dict[str, str] | None = None
    if "channels" in changes:
        changes["channels"], secrets = _stored_channels(update.channels or [])
    merged = {**current.model_dump(), **changes, "updated_at": format_iso(utcnow())}
    try:
        check_condition(merged["event_name"], merged["service"], merged["condition"])
    except ValueError as error:
        raise InvalidInputError(str(error)) from None
    rule = AlertRule.model_validate(merged)
    if secrets is not None:
        secret_store.replace(_secrets_owner(rule_id), secrets)
    if not registry.replace_rule(_stored(rule), updated_at_read=current.updated_at):
        raise ConflictError(f"alert rule {rule_id} changed meanwhile: read it and retry")
    return rule


def delete_rule(app_id: int, rule_id: str) -> AlertRule:
    registry.require_app(app_id)
    deleted = registry.delete_rule(app_id, rule_id)
    if deleted is None:
        raise NotFoundError(f"app {app_id} has no alert rule {rule_id}")
    secret_store.delete(_secrets_owner(rule_id))
    aggregates.forget_cooldowns(app_id, rule_id)
    return _from_item(deleted)


def channel_secret(rule: AlertRule, index: int) -> str:
    """The signing secret of a webhook channel, or the URL of a Slack channel."""
    return secret_store.read(_secrets_owner(rule.id), rule.updated_at)[_channel_secret_name(index)]


def app_and_rules(app_id: int) -> tuple[dict[str, Any], list[AlertRule]]:
    """The app (NotFoundError if none) and its rules, in one Query: the write path's first read."""
    app: dict[str, Any] | None = None
    rules: list[AlertRule] = []
    for item in registry.app_and_rule_items(app_id):
        if item["sk"] == "APP":
            app = item
        else:
            rules.append(_from_item(item))
    if app is None:
        raise NotFoundError(f"no app with id {app_id}")
    return app, rules
