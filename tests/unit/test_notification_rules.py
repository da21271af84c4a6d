"""The notifier's rules on their own: which events a condition counts, when it holds, cooldown
claims (a fake clock, concurrent claimers) and decisions recorded once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventlog.base.timeutil import format_iso, utcnow
from eventlog.delivery import alerts, notifications, notify_queue
from eventlog.models.alerts import AlertRule, AlertRuleIn, Increase, Threshold
from eventlog.models.base import Level
from eventlog.models.events import Event
from tests.support.handlers import FakeLambdaContext

NOW = datetime(2026, 2, 10, 10, 5, 30, tzinfo=UTC)
SNS = {"type": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts"}


def make_rule(**fields: Any) -> AlertRule:
    values = {
        "id": "r_test",
        "app_id": 1,
        "min_level": "ERROR",
        "cooldown_seconds": 300,
        "channels": [SNS],
        "enabled": True,
        "created_at": "2026-02-10T00:00:00Z",
        "updated_at": "2026-02-10T00:00:00Z",
        **fields,
    }
    return AlertRule.model_validate(values)


def condition_rule(app_id: int, **fields: Any) -> AlertRule:
    """A stored rule with a condition (by default, any matching event): the stream processor
    counts the events it matches from now on."""
    fields.setdefault("condition", {"type": "threshold", "more_than": 0, "window_minutes": 5})
    return alerts.create_rule(app_id, AlertRuleIn(channels=[{"type": "sns"}], **fields))


@pytest.fixture
def counted(aws: Any, store_event: Any) -> Any:
    """`counted(app_id, at, level="ERROR", count=1, **fields)`: an event stored as ingest stores
    it, then counted by the stream processor (for the rules that exist now); returns the event."""

    def store_and_count(
        app_id: int, at: datetime, level: str = "ERROR", count: int = 1, **fields: Any
    ) -> Event:
        # Received now, after the test's rules (they count events received from then on).
        fields = {"message": "m", "occurred_at": format_iso(at), **fields}
        event = store_event(app_id, utcnow(), level=level, count=count, **fields)
        aws.settle()
        return event

    return store_and_count


# ---------------------------------------------------------------- counting (pure)


COUNTERS = {
    "l|ERROR": 7,
    "l|CRITICAL": 2,
    "l|WARNING": 50,
    "r|r_test": 5,
    "r|r_test2": 3,  # another rule, whose id starts with this one's
    "r|r_other": 40,
    "x|notifications_sent": 30,
}


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"min_level": "WARNING"},
        {"min_level": "CRITICAL"},
        {"event_name": "payment.*"},
        {"service": "billing*", "min_level": "DEBUG"},
        {"event_name": "nothing"},
    ],
)
def test_rule_count_is_the_rules_own_counter(fields):
    """Levels and patterns were applied when the events were counted: a minute's count for a
    rule is its counter, whatever else the minute holds."""
    assert notifications.rule_count(make_rule(**fields), COUNTERS) == 5


def test_rule_count_is_zero_without_the_rules_counter():
    assert notifications.rule_count(make_rule(id="r_new"), COUNTERS) == 0
    assert notifications.rule_count(make_rule(), {}) == 0


# ---------------------------------------------------------------- counting (the stream processor)


# Stored at NOW: (level, name, service, count).
MIXED_EVENTS = [
    ("ERROR", "payment.charge", None, 3),
    ("CRITICAL", "payment.refund", None, 2),
    ("ERROR", "payment", None, 4),  # not `payment.*`
    ("ERROR", "checkout", None, 100),
    ("WARNING", "checkout", None, 41),
    ("ERROR", "invoice", "billing", 5),
    ("WARNING", "invoice", "billing", 9),
    ("ERROR", "invoice", "billing-eu", 6),
    ("INFO", "payment.charge", "billing", 1000),  # below every rule here
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 120),  # ERROR and CRITICAL
        ({"min_level": "WARNING"}, 170),
        ({"min_level": "CRITICAL"}, 2),
        ({"event_name": "payment.*"}, 5),
        ({"event_name": "payment"}, 4),
        ({"event_name": "payment.refund", "min_level": "CRITICAL"}, 2),
        ({"service": "billing"}, 5),
        ({"service": "billing*", "min_level": "WARNING"}, 20),
        ({"event_name": "nothing"}, 0),
        ({"enabled": False}, 0),
    ],
)
def test_a_condition_counts_the_events_its_rule_matches(app, counted, fields, expected):
    rule = condition_rule(app.id, **fields)
    for level, name, service, count in MIXED_EVENTS:
        counted(app.id, NOW, level=level, count=count, name=name, service=service)

    assert notifications.window_counts(app.id, rule, 5, 1, NOW) == [expected]


def test_a_pattern_holding_the_separator_matches_names_holding_it(app, counted):
    rule = condition_rule(app.id, event_name="a|b*")
    counted(app.id, NOW, name="a|b|c", count=2)
    counted(app.id, NOW, name="a", count=1)

    assert notifications.window_counts(app.id, rule, 5, 1, NOW) == [2]


# ---------------------------------------------------------------- conditions (pure)


def threshold(more_than: int) -> Threshold:
    return Threshold(type="threshold", more_than=more_than, window_minutes=5)


def increase(percent: int, min_count: int = 1) -> Increase:
    return Increase(type="increase", percent=percent, window_minutes=5, min_count=min_count)


@pytest.mark.parametrize(
    ("condition", "counts", "holds"),
    [
        (threshold(3), [3], False),
        (threshold(3), [4], True),
        (threshold(0), [1], True),
        (threshold(0), [0], False),
        (increase(100), [4, 2], True),  # exactly +100%
        (increase(100), [3, 2], False),
        (increase(50), [3, 2], True),
        (increase(50, min_count=4), [3, 2], False),  # +50%, but fewer than min_count
        (increase(100, min_count=3), [3, 0], True),  # from nothing: min_count decides
        (increase(100, min_count=3), [2, 0], False),
        (increase(1), [0, 0], False),  # min_count is at least 1
        (increase(10), [10, 10], False),  # no change
        (increase(10), [11, 10], True),
    ],
)
def test_condition_holds(condition, counts, holds):
    held, why = notifications.condition_holds(condition, counts)
    assert held is holds
    assert str(counts[0]) in why


# ---------------------------------------------------------------- windows on the aggregates


def test_windows_end_with_the_current_minute(app, counted):
    rule = condition_rule(app.id, event_name="pay*")
    counted(app.id, NOW, name="pay")  # the current minute (10:05)
    counted(app.id, NOW - timedelta(minutes=4), name="pay", count=2)  # 10:01: still current
    counted(app.id, NOW - timedelta(minutes=5), name="pay", count=4)  # 10:00: the window before
    counted(app.id, NOW - timedelta(minutes=9), name="pay", count=8)  # 09:56: the window before
    counted(app.id, NOW - timedelta(minutes=10), name="pay", count=16)  # 09:55: neither
    counted(app.id, NOW + timedelta(minutes=1), name="pay", count=32)  # the next minute: neither
    counted(app.id, NOW, name="other", count=64)  # another name
    counted(app.id, NOW, level="INFO", name="pay", count=128)  # below min_level

    assert notifications.window_counts(app.id, rule, 5, 2, NOW) == [3, 12]
    assert notifications.window_counts(app.id, rule, 1, 3, NOW) == [1, 0, 0]
    assert notifications.window_counts(app.id, rule, 10, 1, NOW) == [15]


def test_evaluate_condition_on_the_aggregates(app, counted):
    rule = condition_rule(
        app.id, service="api", condition={"type": "threshold", "more_than": 2, "window_minutes": 3}
    )
    counted(app.id, NOW - timedelta(minutes=2), service="api", count=2)
    assert notifications.evaluate_condition(app.id, rule, NOW)[0] is False
    counted(app.id, NOW, level="CRITICAL", service="api")
    assert notifications.evaluate_condition(app.id, rule, NOW)[0] is True
    # A minute later the oldest two have left the window.
    assert notifications.evaluate_condition(app.id, rule, NOW + timedelta(minutes=1))[0] is False


# ---------------------------------------------------------------- cooldown (fake clock)


def test_cooldown_claims_follow_the_clock(aws):
    rule = make_rule(cooldown_seconds=60)

    def claim(event_id: str, at: datetime, level: Level = Level.ERROR) -> bool:
        return notifications.claim_cooldown(1, rule, level, event_id, at)

    assert claim("e1", NOW)
    assert not claim("e2", NOW + timedelta(seconds=59.999))
    assert claim("e1", NOW + timedelta(seconds=30))  # its own claim, tried again
    assert claim("e3", NOW + timedelta(seconds=90))  # 60 s after e1's second claim
    assert claim("e4", NOW + timedelta(seconds=90), Level.CRITICAL)  # another level
    assert not claim("e5", NOW + timedelta(seconds=100), Level.CRITICAL)
    other_rule = make_rule(id="r_other", cooldown_seconds=60)
    assert notifications.claim_cooldown(
        1, other_rule, Level.ERROR, "e6", NOW + timedelta(seconds=90)
    )


def test_no_cooldown_always_claims_and_writes_nothing(aws, dynamodb_calls):
    rule = make_rule(cooldown_seconds=0)
    dynamodb_calls.clear()
    assert all(notifications.claim_cooldown(1, rule, Level.ERROR, f"e{i}", NOW) for i in range(3))
    assert dynamodb_calls.operations == []


def test_concurrent_claims_let_exactly_one_through(aws, monkeypatch):
    # DynamoDB applies each request atomically; in-process moto does not, so its requests take
    # turns here (as in the local stack). A claim that read first and wrote after would still
    # let several through.
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    one_at_a_time = threading.Lock()
    for operation in ("get_item", "put_item", "update_item"):
        original = getattr(DynamoDBBackend, operation)

        def serialized(*args, _original=original, **kwargs):
            with one_at_a_time:
                return _original(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, operation, serialized)
    rule = make_rule(cooldown_seconds=300)
    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(
            pool.map(
                lambda i: notifications.claim_cooldown(1, rule, Level.ERROR, f"e{i}", NOW),
                range(16),
            )
        )
    assert claims.count(True) == 1


# ---------------------------------------------------------------- decisions


def test_a_decision_is_made_once_per_event_and_rule(app, counted, monkeypatch):
    rule = alerts.create_rule(
        app.id,
        AlertRuleIn(
            channels=[{"type": "sns"}],
            condition={"type": "threshold", "more_than": 1, "window_minutes": 5},
        ),
    )
    monkeypatch.setattr(notifications, "utcnow", lambda: NOW)
    event = counted(app.id, NOW)
    body = notify_queue.message_body(app.id, rule.id, event)

    assert notifications.process(body, 1, FakeLambdaContext()) == notifications.Outcome(
        suppressed=1
    )  # 1 is not > 1
    counted(app.id, NOW, count=5)
    # The same message again: the recorded decision stands (nothing new suppressed, or sent).
    assert notifications.process(body, 2, FakeLambdaContext()) == notifications.Outcome()
    # Another event decides anew.
    other = notify_queue.message_body(app.id, rule.id, counted(app.id, NOW))
    assert notifications.process(other, 1, FakeLambdaContext()) == notifications.Outcome(sent=1)


def test_decide_explains_each_skip(app, counted):
    busy = condition_rule(
        app.id, condition={"type": "threshold", "more_than": 1, "window_minutes": 1}
    )
    event = counted(app.id, NOW, level="ERROR", name="checkout")
    body = notify_queue.message_body(app.id, "r_x", event)
    message = notifications.parse_message(body)

    def reason(rule: AlertRule | None) -> str:
        return notifications.decide(message, rule, NOW)["reason"]

    assert reason(None) == "the rule no longer exists"
    assert reason(make_rule(app_id=app.id, enabled=False)) == "the rule is disabled"
    assert reason(make_rule(app_id=app.id, event_name="pay*")) == (
        "the rule no longer matches the event"
    )
    assert reason(busy).startswith("condition not met: 1 matching events in the last 1 min")
    assert notifications.decide(message, make_rule(app_id=app.id), NOW) == {
        "action": "notify",
        "reason": "no condition",
        "channels": [{"index": 0, "target": f"sns {SNS['topic_arn']}"}],
    }
    # The same event may claim again (a retry of its own decision); another may not.
    assert reason(make_rule(app_id=app.id)) == "no condition"
    later = notify_queue.message_body(app.id, "r_x", counted(app.id, NOW))
    decision = notifications.decide(
        notifications.parse_message(later), make_rule(app_id=app.id), NOW
    )
    assert decision["action"] == "skip"
    assert decision["reason"] == "cooldown: rule r_test notified ERROR less than 300 s ago"
