"""The propagator: forwarding new events to subscriptions, the heartbeat, sub-minute rounds.

The handler is driven with events/propagator_schedule.json and a fake context; time is a fake
clock (the propagator's and the write path's), so backoffs, the delay and the sub-minute loop
are tested without sleeping. Receivers are real HTTP servers on loopback.
"""

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from loopback_receiver import LoopbackReceiver

from eventlog.access.apps import create_app
from eventlog.base.config import get_settings
from eventlog.base.errors import ConflictError
from eventlog.base.timeutil import format_iso, parse_iso, utcnow
from eventlog.delivery import outbound, propagation, subscriptions
from eventlog.events import ingestion
from eventlog.models.subscriptions import SubscriptionIn
from eventlog.storage import registry
from tests.support.handlers import FakeLambdaContext, handler_module, sample_event

SECRET = "whsec_propagator_tests_0123"  # noqa: S105 - a test value
TOKEN = "consumer-api-token"  # noqa: S105 - a test value
SECOND = timedelta(seconds=1)


# ---------------------------------------------------------------- fixtures and helpers


class FakeClock:
    """Real time shifted by `offset`; sleeping moves it on at once."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.mono = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Any = None

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep()

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.mono += seconds


@pytest.fixture
def clock(aws: Any, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The propagator's clock and the write path's (ids, subscriptions) on one fake time."""
    fake = FakeClock()
    monkeypatch.setattr(propagation, "clock", fake)
    monkeypatch.setattr(ingestion, "utcnow", fake.now)
    monkeypatch.setattr(subscriptions, "utcnow", fake.now)
    # outbound's retry pause (not the signature's time)
    monkeypatch.setattr(
        outbound, "time", SimpleNamespace(time=time.time, monotonic=time.monotonic, sleep=id)
    )
    return fake


@pytest.fixture
def settings(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`settings(NAME=value, ...)` changes the functions' environment; no delay by default."""

    def change(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    change(PROPAGATION_DELAY_SECONDS=0)
    return change


@pytest.fixture
def env(clock: FakeClock, settings: Any, loopback_targets: None) -> Any:
    return SimpleNamespace(clock=clock, settings=settings)


@pytest.fixture
def default_app(aws: Any) -> Any:
    return create_app("default")


@pytest.fixture
def receivers(receiver: LoopbackReceiver) -> Iterator[list[LoopbackReceiver]]:
    """`receiver` and two more."""
    more = [LoopbackReceiver() for _ in range(2)]
    yield [receiver, *more]
    for server in more:
        server.close()


@dataclass
class Context(FakeLambdaContext):
    remaining_ms: int = 90_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def propagate(remaining_ms: int = 90_000) -> dict[str, Any]:
    """One scheduled invocation of the propagator, as EventBridge Scheduler makes it."""
    handler = handler_module("propagator").lambda_handler
    return handler(sample_event("propagator_schedule"), Context(remaining_ms=remaining_ms))


def subscribe(app_id: int, url: str, **fields: Any) -> Any:
    return subscriptions.create_subscription(
        app_id, SubscriptionIn.model_validate({"url": url, "secret": SECRET, **fields})
    )


def state(sub: Any) -> Any:

    return subscriptions.get_subscription(sub.app_id, sub.id)


def ingest(api: Any, app_id: int, *events: dict[str, Any]) -> list[str]:
    reply = api.ingest(app_id, list(events))
    assert reply.status == 201, reply.text
    return [item["id"] for item in reply.body["items"]]


def messages(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"message": f"event {i}", **fields} for i in range(count)]


def forwarded_ids(receiver: Any) -> list[str]:
    return [event["id"] for request in receiver.requests for event in request.json["events"]]


# ---------------------------------------------------------------- delivery


def test_a_healthy_receiver_gets_every_event_once_in_order_across_runs(api, app, receiver, env):
    sub = subscribe(app.id, receiver.url, batch_size=3)
    first = ingest(api, app.id, *messages(7))
    assert propagate()["delivered_events"] == 7
    assert [len(r.json["events"]) for r in receiver.requests] == [3, 3, 1]

    second = ingest(api, app.id, *messages(4)) + ingest(api, app.id, {"name": "login"})
    propagate()
    propagate()  # nothing new: nothing sent
    assert forwarded_ids(receiver) == first + second
    assert all(len(r.json["events"]) <= 3 for r in receiver.requests)
    assert len(receiver.requests) == 5

    for request in receiver.requests:
        body = request.json
        assert body["subscription_id"] == sub.id
        assert body["app_id"] == app.id
        assert body["batch_id"] == request.headers["idempotency-key"]
        assert request.headers["x-eventlog-subscription"] == sub.id
        assert request.headers["content-type"] == "application/json"
        assert "authorization" not in request.headers
    # events as the API returns them
    assert receiver.requests[-1].json["events"][-1] == api.get_event(app.id, second[-1]).body

    now = state(sub)
    assert now.delivered == 12
    assert now.checkpoint >= second[-1]
    assert now.consecutive_failures == 0
    assert now.last_delivery_at is not None
    assert now.last_error is None


def test_batches_hold_at_most_batch_size_events(api, app, receiver, env):
    subscribe(app.id, receiver.url)  # batch_size 100
    ids = ingest(api, app.id, *messages(100)) + ingest(api, app.id, *messages(50))
    propagate()
    assert [len(r.json["events"]) for r in receiver.requests] == [100, 50]
    assert forwarded_ids(receiver) == ids


def test_a_batch_stops_short_of_max_batch_bytes(api, app, receiver, env, monkeypatch):
    monkeypatch.setattr(propagation, "MAX_BATCH_BYTES", 5_000)
    subscribe(app.id, receiver.url)
    big = {"message": "x" * 2_000}
    ids = ingest(api, app.id, big, big, big, {"message": "y" * 6_000}, big)
    propagate()
    assert [len(r.json["events"]) for r in receiver.requests] == [2, 1, 1, 1]
    assert forwarded_ids(receiver) == ids


def test_the_signature_verifies_and_a_tampered_body_does_not(api, app, receiver, env):
    subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(2))
    propagate()
    (request,) = receiver.requests
    timestamp = request.headers["x-eventlog-timestamp"]
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-eventlog-signature"] == f"v1={digest.hexdigest()}"
    signature = request.headers["x-eventlog-signature"]
    assert outbound.verify_signature(SECRET, request.body, timestamp, signature)
    tampered = request.body.replace(b"event 0", b"event X")
    assert tampered != request.body
    forged = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + tampered, hashlib.sha256)
    assert f"v1={forged.hexdigest()}" != signature
    assert not outbound.verify_signature(SECRET, tampered, timestamp, signature)
    assert not outbound.verify_signature("another-secret-value", request.body, timestamp, signature)


def test_the_consumer_format_is_what_a_seed_003_consumer_takes(api, app, receiver, env):
    subscribe(app.id, receiver.url, format="consumer")
    ids = ingest(
        api,
        app.id,
        {"name": "order.created", "data": {"order": 7}},
        {"message": "disk full", "level": "error"},
    )
    propagate()
    (request,) = receiver.requests
    body = request.json
    assert isinstance(body, list)
    assert [item["event_type"] for item in body] == ["order.created", "ERROR"]
    assert all(set(item) == {"event_type", "event_payload"} for item in body)
    assert all(isinstance(item["event_payload"], str) for item in body)
    payloads = [json.loads(item["event_payload"]) for item in body]
    assert payloads == [api.get_event(app.id, event_id).body for event_id in ids]
    assert payloads[0]["data"] == {"order": 7}
    assert request.headers["idempotency-key"]


def test_a_bearer_token_is_sent_as_authorization(api, app, receiver, env):
    subscribe(app.id, receiver.url, bearer_token=TOKEN, format="consumer")
    ingest(api, app.id, *messages(1))
    propagate()
    (request,) = receiver.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_subscriptions_are_forwarded_in_parallel_each_to_its_own_url(
    api, app, other_app, receivers, env
):
    subscribe(app.id, receivers[0].url)
    subscribe(app.id, receivers[1].url, batch_size=2)
    subscribe(other_app.id, receivers[2].url)
    subscribe(other_app.id, receivers[2].url + "/disabled", enabled=False)
    shop = ingest(api, app.id, *messages(5))
    warehouse = ingest(api, other_app.id, *messages(3))
    summary = propagate()
    assert summary["delivered_events"] == 5 + 5 + 3
    assert forwarded_ids(receivers[0]) == shop
    assert forwarded_ids(receivers[1]) == shop
    assert forwarded_ids(receivers[2]) == warehouse  # nothing to the disabled one
    assert {r.path for r in receivers[2].requests} == {"/hook"}


# ---------------------------------------------------------------- failures


def test_a_failing_receiver_keeps_the_checkpoint_and_the_retry_has_the_same_key(
    api, app, receiver, env
):
    sub = subscribe(app.id, receiver.url, batch_size=2)
    ids = ingest(api, app.id, *messages(3))
    receiver.set_status(503)
    summary = propagate()
    assert summary["failed"] == 1
    assert len(receiver.requests) == 2  # tried twice in the run (503 is worth a retry)
    failed_key = receiver.requests[0].headers["idempotency-key"]
    assert receiver.requests[1].headers["idempotency-key"] == failed_key

    failed = state(sub)
    assert failed.checkpoint == sub.checkpoint
    assert failed.delivered == 0
    assert failed.consecutive_failures == 1
    assert "HTTP 503" in failed.last_error
    assert failed.last_error_at is not None
    assert failed.enabled

    receiver.set_status(200)
    env.clock.advance(61)
    propagate()
    retried = receiver.requests[2]
    assert retried.headers["idempotency-key"] == failed_key
    assert retried.json["batch_id"] == failed_key
    assert retried.body == receiver.requests[0].body
    assert [e["id"] for r in receiver.requests[2:] for e in r.json["events"]] == ids
    recovered = state(sub)
    assert recovered.consecutive_failures == 0
    assert recovered.next_attempt_at is None
    assert recovered.delivered == 3
    assert recovered.last_error == failed.last_error  # kept: the last error seen


def test_a_failure_mid_run_keeps_what_was_delivered_and_skips_nothing(api, app, receiver, env):
    sub = subscribe(app.id, receiver.url, batch_size=2)
    ids = ingest(api, app.id, *messages(5))
    receiver.fail_next(1, 200)  # the first batch goes through...
    receiver.fail_next(2, 500)  # ...the second does not (twice)
    propagate()
    assert state(sub).checkpoint == ids[1]
    assert state(sub).delivered == 2
    env.clock.advance(61)
    propagate()
    assert len(receiver.requests) == 5  # 200, 500 twice, then the last two batches
    delivered = [receiver.requests[0], *receiver.requests[3:]]
    assert [e["id"] for r in delivered for e in r.json["events"]] == ids
    assert state(sub).delivered == 5


def test_no_retry_before_next_attempt_at_and_the_backoff_doubles(api, app, receiver, env):
    sub = subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(1))
    receiver.set_status(400)  # not worth a retry: one request per run
    start = env.clock.now()
    propagate()
    assert len(receiver.requests) == 1
    first = state(sub)
    assert parse_iso(first.next_attempt_at) - start == pytest.approx(
        timedelta(seconds=60), abs=timedelta(seconds=1)
    )

    env.clock.advance(30)
    propagate()  # backing off
    assert len(receiver.requests) == 1
    env.clock.advance(31)
    propagate()
    assert len(receiver.requests) == 2
    second = state(sub)
    assert second.consecutive_failures == 2
    waited = parse_iso(second.next_attempt_at) - env.clock.now()
    assert waited == pytest.approx(timedelta(seconds=120), abs=SECOND)


def test_the_backoff_is_capped_at_an_hour(api, app, receiver, env):
    env.settings(PROPAGATION_INTERVAL_SECONDS=1000)  # backoffs 1000 s, 2000 s, then the cap
    sub = subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(1))
    receiver.set_status(400)
    waits = []
    for _ in range(3):
        propagate()
        waits.append(parse_iso(state(sub).next_attempt_at) - env.clock.now())
        env.clock.advance(3600)
    assert waits == pytest.approx([1000 * SECOND, 2000 * SECOND, 3600 * SECOND], abs=SECOND)
    assert len(receiver.requests) == 3


def test_a_subscription_is_disabled_after_max_failures_in_a_row(api, app, receiver, env):
    env.settings(SUBSCRIPTION_MAX_FAILURES=3)
    sub = subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(1))
    receiver.set_status(410)
    summaries = []
    for _ in range(3):
        summaries.append(propagate())
        env.clock.advance(3600)
    assert [s["disabled"] for s in summaries] == [0, 0, 1]
    disabled = state(sub)
    assert disabled.enabled is False
    assert disabled.consecutive_failures == 3
    assert "HTTP 410" in disabled.last_error
    assert "3 failed deliveries" in disabled.disabled_reason
    assert "HTTP 410" in disabled.disabled_reason
    assert disabled.next_attempt_at is None
    assert disabled.checkpoint == sub.checkpoint

    propagate()
    assert len(receiver.requests) == 3  # nothing more once disabled


def test_a_signing_secret_that_cannot_be_read_is_a_failure(api, app, receiver, env):
    from eventlog.delivery import secret_store

    sub = subscribe(app.id, receiver.url)
    secret_store.delete(f"subscriptions/{sub.id}")
    ingest(api, app.id, *messages(1))
    assert propagate()["failed"] == 1
    assert receiver.requests == []
    assert state(sub).last_error == "its signing secret cannot be read: KeyError"


def test_an_unexpected_error_stays_with_its_subscription(
    api, app, other_app, receivers, env, monkeypatch
):
    read = propagation.event_store.event_pages_ascending

    def broken_for_shop(app_id: int, **query: Any) -> Any:
        if app_id == app.id:
            raise RuntimeError("the events table is unwell")
        return read(app_id, **query)

    monkeypatch.setattr(propagation.event_store, "event_pages_ascending", broken_for_shop)
    broken = subscribe(app.id, receivers[0].url)
    subscribe(other_app.id, receivers[1].url)
    ingest(api, app.id, *messages(1))
    ids = ingest(api, other_app.id, *messages(2))
    summary = propagate()
    assert summary["failed"] == 1
    assert forwarded_ids(receivers[1]) == ids
    assert state(broken).consecutive_failures == 0  # not the receiver's failure
    # its lease was given back: the next run works on it
    monkeypatch.setattr(propagation.event_store, "event_pages_ascending", read)
    propagate()
    assert len(forwarded_ids(receivers[0])) == 1


def test_a_refused_target_is_a_failure_with_a_clear_error(api, app, receiver, env):
    sub = subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(1))
    env.settings(ALLOWED_TARGET_NETWORKS="")  # loopback no longer allowed
    assert propagate()["failed"] == 1
    assert receiver.requests == []
    failed = state(sub)
    assert "loopback address: refused" in failed.last_error
    assert "127.0.0.1" in failed.last_error
    assert failed.consecutive_failures == 1
    assert failed.checkpoint == sub.checkpoint


# ---------------------------------------------------------------- what is forwarded


def test_the_filter_skips_events_and_still_moves_the_checkpoint(api, app, receiver, env):
    sub = subscribe(
        app.id, receiver.url, filter={"levels": ["error", "critical"], "services": ["pay"]}
    )
    ids = ingest(
        api,
        app.id,
        {"message": "a", "level": "INFO", "service": "pay"},
        {"message": "b", "level": "ERROR", "service": "pay"},
        {"message": "c", "level": "ERROR", "service": "web"},
        {"message": "d", "level": "CRITICAL", "service": "pay"},
        {"message": "e", "level": "WARNING", "service": "pay"},
    )
    propagate()
    assert forwarded_ids(receiver) == [ids[1], ids[3]]
    assert state(sub).checkpoint >= ids[4]
    assert state(sub).delivered == 2

    only_info = ingest(api, app.id, *messages(3, service="pay"))
    propagate()
    assert len(receiver.requests) == 1  # nothing matched: nothing sent
    assert state(sub).checkpoint >= only_info[-1]


def test_a_run_reads_a_bounded_number_of_items_of_a_rare_filter(
    api, app, receiver, env, monkeypatch
):
    monkeypatch.setattr(propagation, "MAX_ITEMS_READ", 10)
    monkeypatch.setattr(propagation, "READ_PAGE_SIZE", 4)
    sub = subscribe(app.id, receiver.url, filter={"names": ["rare"]})
    noise = ingest(api, app.id, *messages(25))
    rare = ingest(api, app.id, {"name": "rare"})
    propagate()
    assert receiver.requests == []
    assert state(sub).checkpoint == noise[11]  # three pages of four, then it stopped
    propagate()
    assert state(sub).checkpoint == noise[23]
    propagate()
    assert forwarded_ids(receiver) == rare


def test_events_newer_than_the_delay_are_not_forwarded_yet(api, app, receiver, env):
    env.settings(PROPAGATION_DELAY_SECONDS=30)
    sub = subscribe(app.id, receiver.url)
    ids = ingest(api, app.id, *messages(3))
    propagate()
    assert receiver.requests == []
    assert state(sub).checkpoint == sub.checkpoint  # not moved past writes that may be in flight
    env.clock.advance(29)
    propagate()
    assert receiver.requests == []
    later = ingest(api, app.id, *messages(1))
    env.clock.advance(2)
    propagate()
    assert forwarded_ids(receiver) == ids  # `later` is 2 s old only
    env.clock.advance(29)
    propagate()
    assert forwarded_ids(receiver) == ids + later


def test_expired_events_are_not_forwarded(app, receiver, env, store_event):
    sub = subscribe(app.id, receiver.url)
    now = env.clock.now()
    store_event(app.id, now, expires_at=int(now.timestamp()) - 1)
    kept = store_event(app.id, now + timedelta(milliseconds=5))
    env.clock.advance(1)
    propagate()
    assert forwarded_ids(receiver) == [kept.id]
    assert state(sub).delivered == 1


def test_events_before_start_at_are_not_forwarded(api, app, receiver, env):
    old = ingest(api, app.id, *messages(2))
    env.clock.advance(1)
    later = ingest(api, app.id, *messages(1))
    env.clock.advance(1)
    subscribe(app.id, receiver.url, start_at=(env.clock.now() - timedelta(seconds=1.5)).isoformat())
    propagate()
    assert forwarded_ids(receiver) == later
    assert not set(old) & set(forwarded_ids(receiver))


# ---------------------------------------------------------------- heartbeat and the handler


def heartbeats(api: Any, app_id: int) -> list[dict[str, Any]]:
    return api.all_events(app_id, name="eventlog.heartbeat")


def internal_app() -> int:
    app_id = registry.app_id_by_name(registry.INTERNAL_APP_NAME)
    assert app_id is not None
    return app_id


def test_each_run_writes_a_heartbeat_into_the_internal_app(api, app, default_app, receiver, env):
    subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(2))
    propagate()
    (beat,) = heartbeats(api, internal_app())
    assert beat["level"] == "INFO"
    assert beat["service"] == "propagator"
    assert beat["data"]["round"] == 1
    assert beat["data"]["subscriptions"] == 1
    assert beat["data"]["delivered_events"] == 2
    assert beat["data"]["failed"] == 0
    assert beat["data"]["interval_seconds"] == 60
    assert beat["data"]["delay_seconds"] == 0
    propagate()
    assert len(heartbeats(api, internal_app())) == 2
    # Nothing of the service's own in a client's app, `default` included.
    assert api.all_events(default_app.id) == []


def test_the_first_round_creates_the_internal_app_once(api, app, receiver, env, caplog):
    assert registry.app_id_by_name(registry.INTERNAL_APP_NAME) is None  # a fresh stack
    subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(1))
    assert propagate()["delivered_events"] == 1
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []
    internal = registry.get_app(internal_app())
    assert internal is not None
    assert (internal["name"], internal["internal"]) == (registry.INTERNAL_APP_NAME, True)
    propagate()
    assert registry.app_id_by_name(registry.INTERNAL_APP_NAME) == internal["id"]
    assert len(heartbeats(api, internal["id"])) == 2
    # Nothing else was made for it: no ingest key, no alert rule.
    assert [item["sk"] for item in registry.app_and_rule_items(internal["id"])] == ["APP"]
    assert registry.list_keys(10, None, internal["id"]) == []


def test_a_run_that_loses_the_race_to_create_the_internal_app_uses_the_winners(aws, monkeypatch):
    from eventlog.access import apps

    winner = apps.internal_app_id()
    calls = iter([None, winner])  # not there when first read, there once the write is refused
    monkeypatch.setattr(registry, "app_id_by_name", lambda _name: next(calls))
    assert apps.internal_app_id() == winner


def test_no_app_can_take_the_internal_apps_name(aws):
    for name in (registry.INTERNAL_APP_NAME, registry.INTERNAL_APP_NAME.upper()):
        with pytest.raises(ConflictError, match="reserved"):
            create_app(name)


def test_a_heartbeat_that_cannot_be_written_warns_and_the_run_goes_on(
    api, app, receiver, env, caplog, monkeypatch
):
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the registry does not answer")

    monkeypatch.setattr(propagation.apps, "internal_app_id", broken)
    subscribe(app.id, receiver.url)
    ingest(api, app.id, *messages(1))
    assert propagate()["delivered_events"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["heartbeat not written: RuntimeError: the registry does not answer"]


def test_one_log_line_per_subscription_per_round(api, app, receivers, env, caplog):
    good = subscribe(app.id, receivers[0].url)
    bad = subscribe(app.id, receivers[1].url)
    receivers[1].set_status(400)
    ingest(api, app.id, *messages(2))
    caplog.clear()
    propagate()
    about = {
        sub.id: [r for r in caplog.records if getattr(r, "subscription_id", None) == sub.id]
        for sub in (good, bad)
    }
    (good_line,) = about[good.id]
    assert good_line.getMessage() == f"subscription {good.id}: delivered, 2 events delivered"
    assert good_line.levelname == "INFO"
    assert good_line.delivered == 2
    (bad_line,) = about[bad.id]
    assert bad_line.levelname == "WARNING"
    assert bad_line.status == "failed"
    assert "HTTP 400" in bad_line.getMessage()
    assert bad_line.round == 1


def test_a_leased_subscription_is_left_to_the_run_holding_it(api, app, receiver, env):
    sub = subscribe(app.id, receiver.url)
    ids = ingest(api, app.id, *messages(2))
    now = env.clock.now()
    until = int((now.timestamp() + 60) * 1000)

    def lease(owner: str) -> bool:
        return registry.lease_subscription(sub.app_id, sub.id, owner, now, until) is not None

    assert lease("another-run")
    assert not lease("a-third-run")
    assert lease("another-run")  # its own
    propagate()
    assert receiver.requests == []
    env.clock.advance(61)  # its run died: the lease expires
    propagate()
    assert forwarded_ids(receiver) == ids


def test_the_checkpoint_moves_only_from_the_value_read(api, app, receiver, env):
    sub = subscribe(app.id, receiver.url)
    ids = ingest(api, app.id, *messages(2))
    at = format_iso(env.clock.now())
    assert registry.advance_checkpoint(sub.app_id, sub.id, sub.checkpoint, ids[1], 2, at)
    # a slower run that read the old checkpoint cannot move it (back) to its own batch's end
    assert not registry.advance_checkpoint(sub.app_id, sub.id, sub.checkpoint, ids[0], 1, at)
    assert state(sub).checkpoint == ids[1]
    assert state(sub).delivered == 2


# ---------------------------------------------------------------- sub-minute rounds


def test_a_sub_minute_interval_runs_rounds_for_a_minute(api, app, default_app, receiver, env):
    env.settings(PROPAGATION_INTERVAL_SECONDS=15)
    subscribe(app.id, receiver.url)
    added: list[str] = []
    env.clock.on_sleep = lambda: added.extend(ingest(api, app.id, *messages(1)))
    assert propagate()["rounds"] == 4  # at 0, 15, 30 and 45 s
    assert env.clock.sleeps == [15, 15, 15]
    beats = heartbeats(api, internal_app())
    assert sorted(beat["data"]["round"] for beat in beats) == [1, 2, 3, 4]
    # events written between rounds went out in the next round
    assert forwarded_ids(receiver) == added
    assert len(receiver.requests) == 3


@pytest.mark.parametrize(
    ("interval", "remaining_ms", "rounds"),
    [(60, 90_000, 1), (7, 90_000, 9), (10, 40_000, 3), (30, 20_000, 1), (1, 90_000, 60)],
)
def test_rounds_start_within_the_minute_and_the_time_left(env, interval, remaining_ms, rounds):
    env.settings(PROPAGATION_INTERVAL_SECONDS=interval)
    assert propagate(remaining_ms)["rounds"] == rounds
    assert env.clock.sleeps == [interval] * (rounds - 1)


def test_a_round_that_overruns_its_slot_skips_the_slots_it_missed(env, default_app, monkeypatch):
    env.settings(PROPAGATION_INTERVAL_SECONDS=10)
    real_round = propagation.run_round
    overrun = iter([25, 0, 0, 0])

    def slow_round(context: Any, number: int = 1) -> Any:
        report = real_round(context, number)
        env.clock.advance(next(overrun))
        return report

    monkeypatch.setattr(propagation, "run_round", slow_round)
    assert propagate()["rounds"] == 4  # at 0 s (until 25 s), 30 s, 40 s, 50 s
    assert env.clock.sleeps == [5, 10, 10]
