"""Section 5: notifications and propagation, their DynamoDB request units (figures, no targets).

(a) ingest with alert rules and the aggregator after it, which queues the notifications; (b) the
notifier driven with SQS events like events/notifier_sqs.json; (c) the propagator with
events/propagator_schedule.json. Webhooks and subscriptions go to an HTTP server of the bench on
127.0.0.1 (the template's AllowedTargetNetworks set to loopback): nothing else is contacted.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
from capacity import Usage
from loopback_receiver import LoopbackReceiver

from bench.aggregation import AggregationRun
from bench.report import notes, print_operations
from bench.section import Options, Section, Target
from bench.stack import (
    DELIVERY_PARAMETERS,
    EVENTS,
    FILL_STREAM_BATCH,
    NOTIFIER,
    PROPAGATOR,
    RECEIVER_SECRET,
    Stack,
    Tenant,
    in_process_moto,
    unqueued,
)
from bench.workload import BATCH, NAMES, make_event
from bench.writes import WriteRun

RULES_MANY = 25  # eventlog.delivery.alerts.MAX_RULES_PER_APP: the most an app can have
RULE_BATCHES = 1  # batches of BATCH ERROR events per app in (a)
RULES_MATCHING = 4  # of the rules added in (a), those on the names the bench sends
NOTIFY_WINDOW_MINUTES = 10
NOTIFY_BACKGROUND = 200  # events over the window before the threshold scenario (setup)
NOTIFY_MORE_THAN = 50  # the threshold: more matching events than this in the window
PROPAGATION_BATCH = 100


@dataclass(frozen=True)
class Sizes:
    rule_singles: int  # single ERROR events per app in (a)
    notify_messages: int  # messages (SQS records) per notifier scenario, in one SQS event
    propagated: int  # events the propagator forwards in (c1)

    @classmethod
    def of(cls, options: Options) -> Sizes:
        return cls(3, 2, 200) if options.quick else cls(10, 5, 1_000)


def forwarded_events(receiver: LoopbackReceiver) -> int:
    """Events in the `eventlog` batches the receiver got."""
    payloads = [request.json for request in receiver.requests]
    return sum(len(p.get("events") or []) for p in payloads if isinstance(p, dict))


@dataclass
class RuleRun:
    """(a): ingest requests of an app with `rules` alert rules, and the aggregator after them,
    which reads the app's rules (once per app and invocation) and queues the notifications."""

    rules: int
    singles: WriteRun
    batches: WriteRun
    aggregated: tuple[AggregationRun, AggregationRun]  # over the singles, over the batches
    queued: tuple[int, int]  # SQS messages each queued (one per event and matching rule)

    @property
    def runs(self) -> tuple[WriteRun, WriteRun]:
        return self.singles, self.batches


@dataclass
class UnitsRun:
    """What some notifier messages, or a propagator run, consumed."""

    label: str
    units: int  # messages processed; events forwarded (1 for a run that forwarded none)
    usage: Usage
    sent: int = 0  # webhook requests received (notifier); events received (propagator)
    note: str = ""
    part: Usage | None = None  # what a part consumed (the propagator's heartbeat)


@dataclass
class NotificationsResult:
    sizes: Sizes
    rules: list[RuleRun]
    notifier: list[UnitsRun]
    propagator: list[UnitsRun]
    registry_table: str  # physical name
    seconds: float
    scans: int


def make_error_event(i: int, base: datetime) -> dict[str, Any]:
    """An ERROR event, 100 ms after the previous one: the same times for every app of (a)."""
    return {
        **make_event(i, occurred=base + timedelta(milliseconds=100 * i)),
        "level": "error",
        "message": f"{NAMES[i % len(NAMES)]} failed #{i}: TimeoutError: request timed out",
    }


class NotificationQueue:
    """The template's notification queue in moto, emptied after each look: moto's SendMessage
    counts every message of its queue (quadratic in the queue's length), and nothing reads it
    here."""

    def __init__(self, stack: Stack) -> None:
        self._sqs = boto3.client("sqs")
        self._url = str(stack.template.physical_ids["NotificationQueue"])  # Ref: its URL

    def drain(self) -> int:
        """How many messages the queue holds; it is empty afterwards."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        self._sqs.purge_queue(QueueUrl=self._url)
        return int(attributes["ApproximateNumberOfMessages"])


def _extra_rule(number: int, url: str) -> Any:
    """One more rule, like those users add: ERROR events of one name to a webhook, half of them
    with a threshold condition. The first RULES_MATCHING are on names the bench sends (one each),
    the others on names it does not: moto's SQS slows down with every message queued at once."""
    from eventlog.models.alerts import AlertRuleIn

    name = NAMES[number % len(NAMES)] if number <= RULES_MATCHING else f"jobs.task{number:02d}"
    fields: dict[str, Any] = {
        "description": f"bench rule {number:02d}: {name} errors to the on-call webhook",
        "min_level": "ERROR",
        "event_name": name,
        "channels": [{"type": "webhook", "url": url, "secret": RECEIVER_SECRET}],
    }
    if number % 2:
        fields["condition"] = {
            "type": "threshold",
            "more_than": 10,
            "window_minutes": NOTIFY_WINDOW_MINUTES,
        }
    return AlertRuleIn.model_validate(fields)


def app_with_rules(stack: Stack, count: int, url: str) -> tuple[Tenant, list[Any]]:
    """An app with `count` alert rules (its default one and count - 1 more): its tenant and
    its rules (setup, not counted)."""
    from eventlog.delivery import alerts

    tenant = stack.tenant(f"bench-rules-{count}")
    with stack.meter.paused():
        [default] = alerts.list_rules(tenant.app_id, 10, None).items
        if count == 0:
            alerts.delete_rule(tenant.app_id, default.id)
        for number in range(1, count):
            alerts.create_rule(tenant.app_id, _extra_rule(number, url))
        _, rules = alerts.app_and_rules(tenant.app_id)
    if len(rules) != count:
        raise RuntimeError(f"bench: an app with {len(rules)} rules, not {count}")
    return tenant, rules


def measure_rules(stack: Stack, sizes: Sizes, queue: NotificationQueue, url: str) -> list[RuleRun]:
    """(a) The write path of apps with 0, 1 (the default) and RULES_MANY alert rules: the ingest
    requests, then the aggregator over the events they stored (one invocation each time)."""
    from eventlog.models.base import Level

    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    runs = []
    for count in (0, 1, RULES_MANY):
        tenant, rules = app_with_rules(stack, count, url)
        queue.drain()
        rules_label = f"{count} rule{'s' * (count != 1)}"
        singles = WriteRun(f"{rules_label}: {sizes.rule_singles} single ERROR events")
        batches = WriteRun(f"{rules_label}: {RULE_BATCHES} batch of {BATCH} ERROR events")
        single_bodies = [make_error_event(i, base) for i in range(sizes.rule_singles)]
        first = sizes.rule_singles
        batch_bodies = [
            [make_error_event(i, base) for i in range(start, start + BATCH)]
            for start in range(first, first + RULE_BATCHES * BATCH, BATCH)
        ]
        aggregated: list[AggregationRun] = []  # over the singles, then over the batches
        queued: list[int] = []
        for run, bodies in ((singles, single_bodies), (batches, batch_bodies)):
            events = []
            for body in bodies:
                run.add(stack.post_events(tenant, body), len(body) if isinstance(body, list) else 1)
                events += body if isinstance(body, list) else [body]
            if run.outcomes != Counter({"accepted": run.events}):
                raise RuntimeError(f"bench: {run.label}: {run.outcomes}")
            aggregator = AggregationRun(run.label)
            aggregator.aggregate(stack, run.events)
            aggregated.append(aggregator)
            queued.append(queue.drain())
            expected = sum(
                rule.matches(Level.ERROR, event["name"], event["service"])
                for event in events
                for rule in rules
            )
            if queued[-1] != expected:
                raise RuntimeError(
                    f"bench: {run.label}: {queued[-1]} messages queued, not {expected}"
                )
        runs.append(
            RuleRun(count, singles, batches, (aggregated[0], aggregated[1]), (queued[0], queued[1]))
        )
    return runs


def _sqs_event(bodies: list[str], receive_count: int = 1) -> dict[str, Any]:
    """An SQS event for the notifier, one record per body, shaped like events/notifier_sqs.json."""
    template = json.loads((EVENTS / "notifier_sqs.json").read_text())["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def measure_notifier(stack: Stack, sizes: Sizes, receiver: LoopbackReceiver) -> list[UnitsRun]:
    """(b) The notifier's units per message, (event, rule) as the write path queues them."""
    from eventlog.delivery import alerts, notify_queue
    from eventlog.events import ingestion
    from eventlog.models.alerts import AlertRuleIn

    messages = sizes.notify_messages
    webhook = {"type": "webhook", "url": receiver.url, "secret": RECEIVER_SECRET}
    threshold = {
        "type": "threshold",
        "more_than": NOTIFY_MORE_THAN,
        "window_minutes": NOTIFY_WINDOW_MINUTES,
    }

    def new_rule(app_id: int, **fields: Any) -> Any:
        rule_in = AlertRuleIn.model_validate({"channels": [webhook], **fields})
        return alerts.create_rule(app_id, rule_in)

    def error_event(i: int, occurred: datetime | None = None) -> dict[str, Any]:
        event = make_event(i, occurred=occurred)
        return {**event, "level": "error", "message": f"{event['name']} failed #{i}"}

    app_id = stack.new_app("bench-notify")
    with stack.meter.paused():  # setup: rules, then events (their writes are sections 1, 1b)
        plain = [new_rule(app_id, description=f"plain {n}") for n in range(messages)]
        counted = [
            new_rule(app_id, description=f"threshold {n}", condition=threshold)
            for n in range(messages)
        ]
        quiet = new_rule(app_id, description="cooldown")
        events = [
            ingestion.ingest_one(app_id, error_event(i)).event for i in range(2 * messages + 1)
        ]
    # The threshold's window holds NOTIFY_BACKGROUND events more, spread over its minutes, which
    # the aggregator counts for the threshold rules (created first: a rule counts the events
    # counted after it exists); the messages they would queue are not sent.
    now = datetime.now(UTC)
    step = timedelta(minutes=NOTIFY_WINDOW_MINUTES) / NOTIFY_BACKGROUND
    background = [
        error_event(i, now - step * (NOTIFY_BACKGROUND - i)) for i in range(NOTIFY_BACKGROUND)
    ]
    stack.store(app_id, background)
    with stack.meter.paused(), unqueued():
        stack.aggregate(len(events) + NOTIFY_BACKGROUND, FILL_STREAM_BATCH)

    def bodies(rules: Sequence[Any], chosen: Sequence[Any]) -> list[str]:
        return [
            notify_queue.message_body(app_id, rule.id, event)
            for rule, event in zip(rules, chosen, strict=True)
        ]

    def process(label: str, batch: list[str], sent: int, receive_count: int = 1) -> UnitsRun:
        before = len(receiver.requests)
        with stack.meter.measure() as used:
            answer = stack.functions[NOTIFIER].invoke(_sqs_event(batch, receive_count))
        if answer["batchItemFailures"]:
            raise RuntimeError(f"bench: notifier, {label}: {answer['batchItemFailures']}")
        got = len(receiver.requests) - before
        if got != sent:
            raise RuntimeError(f"bench: notifier, {label}: {got} webhook requests, not {sent}")
        return UnitsRun(label, len(batch), used, got)

    first = bodies(plain, events[:messages])
    runs = [process("(b1) no condition, 1 webhook: notified", first, messages)]
    runs.append(
        process(
            f"(b2) as (b1), threshold over {NOTIFY_WINDOW_MINUTES} min: notified",
            bodies(counted, events[messages : 2 * messages]),
            messages,
        )
    )
    table = stack.aggregates_table
    buckets = runs[-1].usage.evaluated[table] / messages
    kb = runs[-1].usage.evaluated_bytes[table] / messages / 1024
    runs[
        -1
    ].note = (
        f" (more than {NOTIFY_MORE_THAN}: its Query read {buckets:.0f} minute buckets, {kb:.1f} KB)"
    )
    with stack.meter.paused():  # setup: the notification that starts the cooldown
        process("cooldown claimed", bodies([quiet], events[-1:]), 1)
    later = bodies([quiet] * messages, events[:messages])
    runs.append(process("(b3) as (b1), suppressed by the cooldown", later, 0))
    runs.append(process("(b4) (b1) redelivered: delivered before", first, 0, receive_count=2))
    return runs


def measure_propagator(stack: Stack, sizes: Sizes, receiver: LoopbackReceiver) -> list[UnitsRun]:
    """(c) One subscription forwarding `propagated` events, then a run with nothing new."""
    from eventlog.delivery import propagation, subscriptions
    from eventlog.models.subscriptions import SubscriptionIn
    from eventlog.storage.registry import DEFAULT_APP_NAME

    stack.new_app(DEFAULT_APP_NAME)  # the heartbeat's
    app_id = stack.new_app("bench-propagated")
    with stack.meter.paused():  # setup: the subscription
        subscription_in = {"url": receiver.url, "secret": RECEIVER_SECRET}
        subscriptions.create_subscription(
            app_id,
            SubscriptionIn.model_validate({**subscription_in, "batch_size": PROPAGATION_BATCH}),
        )
    stack.store(app_id, [make_event(i) for i in range(sizes.propagated)])

    # The heartbeat (an event in the default app, after the round's forwarding) measured apart:
    # the one private function of the core the bench touches, as no public one isolates it.
    heartbeats: list[Usage] = []
    write_heartbeat = propagation._write_heartbeat

    def measured_heartbeat(report: Any) -> None:
        with stack.meter.measure() as used:
            write_heartbeat(report)
        heartbeats.append(used)

    def run(label: str, forwarded: int) -> UnitsRun:
        before = forwarded_events(receiver)
        with (
            mock.patch.object(propagation, "_write_heartbeat", measured_heartbeat),
            stack.meter.measure() as used,
        ):
            summary = stack.functions[PROPAGATOR].invoke({})
        got = forwarded_events(receiver) - before
        if summary["delivered_events"] != forwarded or got != forwarded or summary["failed"]:
            raise RuntimeError(f"bench: propagator, {label}: {summary}, {got} events received")
        if summary["rounds"] != 1:
            raise RuntimeError(f"bench: propagator, {label}: {summary['rounds']} rounds, not 1")
        return UnitsRun(label, max(forwarded, 1), used, got, part=heartbeats[-1])

    return [
        run(
            f"(c1) {sizes.propagated:,} new events, batch_size {PROPAGATION_BATCH}",
            sizes.propagated,
        ),
        run("(c2) nothing new: one round, one subscription", 0),
    ]


def measure(options: Options) -> NotificationsResult:
    sizes = Sizes.of(options)
    started = time.monotonic()
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"  # a purge at will
    receiver = LoopbackReceiver()
    try:
        with in_process_moto(DELIVERY_PARAMETERS) as stack:
            rules = measure_rules(stack, sizes, NotificationQueue(stack), receiver.url)
            notifier = measure_notifier(stack, sizes, receiver)
            propagator = measure_propagator(stack, sizes, receiver)
            registry = str(stack.template.physical_ids["RegistryTable"])
            seconds = time.monotonic() - started
            return NotificationsResult(
                sizes, rules, notifier, propagator, registry, seconds, stack.scans
            )
    finally:
        receiver.close()


# ---------------------------------------------------------------- report


def _print_rule_effect(
    what: str, runs_per_rule_count: Sequence[Sequence[Any]], counts: str
) -> None:
    """Whether the WCU per event of single events and of batches change with the rules."""
    for index, kind in enumerate(("single events", f"batches of {BATCH}")):
        figures = [runs[index].wcu_per_event for runs in runs_per_rule_count]
        same = all(abs(figure - figures[0]) < 1e-9 for figure in figures)
        shown = " / ".join(f"{figure:.2f}" for figure in figures)
        verdict = "unchanged by the rules" if same else "CHANGED by the rules"
        print(f"   {what} WCU per event, {kind}, {counts} rules: {shown}: {verdict}")


def show(result: NotificationsResult) -> None:
    _show_rules(result)
    _show_notifier(result)
    _show_propagator(result)


def _show_rules(result: NotificationsResult) -> None:
    notes(
        "(a) ingest with alert rules, then the aggregator over the events stored, one invocation "
        f"each time (the {result.sizes.rule_singles} single events' records in one, as a 1 s "
        "batching window gathers them): ingest only stores (it reads the app alone); the "
        "aggregator reads the app and its rules in one Query per app and invocation, counts, and "
        "queues one SQS message per (event, matching rule) (msgs/event, not DynamoDB). "
        f"{RULES_MATCHING} of the {RULES_MANY} rules are on names sent."
    )
    print(f"   {'ingest requests':<40} {'events':>6} {'reqs':>4} {'WCU/event':>9} {'RCU/req':>7}")
    for rule_run in result.rules:
        for run in rule_run.runs:
            print(
                f"   {run.label:<40} {run.events:>6} {run.requests:>4} {run.wcu_per_event:>9.2f} "
                f"{run.handler.read_units / run.requests:>7.2f}   no target"
            )
    counts = " / ".join(str(rule_run.rules) for rule_run in result.rules)
    _print_rule_effect("ingest", [rule_run.runs for rule_run in result.rules], counts)
    print(
        f"   {'aggregator, after them':<40} {'events':>6} {'inv':>4} {'WCU/event':>9} "
        f"{'RCU/event':>9} {'Query RCU/inv':>13} {'items/KB':>9} {'extra/event':>11} "
        f"{'msgs/event':>10}"
    )
    registry = result.registry_table
    without_rules = result.rules[0].aggregated
    for rule_run in result.rules:
        for agg, queued, baseline in zip(
            rule_run.aggregated, rule_run.queued, without_rules, strict=True
        ):
            used = agg.usage
            query_rcu = used.op_read[f"{registry}.Query"] / agg.invocations
            items = used.evaluated[registry] / agg.invocations
            kb = used.evaluated_bytes[registry] / agg.invocations / 1024
            units = (used.write_units + used.read_units) / agg.events
            extra = units - (baseline.usage.write_units + baseline.usage.read_units) / agg.events
            print(
                f"   {agg.label:<40} {agg.events:>6} {agg.invocations:>4} "
                f"{agg.wcu_per_event:>9.2f} {agg.rcu_per_event:>9.3f} {query_rcu:>13.2f} "
                f"{f'{items:.0f} / {kb:.1f}':>9} {extra:>+11.3f} {queued / agg.events:>10.2f}"
            )
    _print_rule_effect("aggregator", [rule_run.aggregated for rule_run in result.rules], counts)
    notes(
        "Query RCU/inv: the read of the app and its rules (eventually consistent), once per app "
        "and invocation; items / KB: what it evaluated; extra/event: the aggregator's units (WCU "
        "+ RCU) per event beyond those of the same events in the app without rules. A rule with "
        "a condition counts the events it matches in the minute bucket the chunk writes anyway "
        "(r|<rule>)."
    )


def _show_notifier(result: NotificationsResult) -> None:
    print()
    notes(
        "(b) notifier (functions/notifier/app.py): an SQS event of "
        f"{result.sizes.notify_messages} records, each an (event, rule); rules with one "
        "webhook to 127.0.0.1 and the default cooldown (300 s), a rule per record in (b1), (b2)"
    )
    print(f"   {'scenario':<52} {'msgs':>4} {'sent':>4} {'WCU/msg':>8} {'RCU/msg':>8}")
    for notified in result.notifier:
        write, read = notified.usage.write_units, notified.usage.read_units
        print(
            f"   {notified.label:<52} {notified.units:>4} {notified.sent:>4} "
            f"{write / notified.units:>8.2f} {read / notified.units:>8.2f}"
            f"   no target{notified.note}"
        )
    print("   per message, by table and operation:")
    print_operations([(run.label, run.usage, run.units) for run in result.notifier])


def _show_propagator(result: NotificationsResult) -> None:
    print()
    notes(
        "(c) propagator (functions/propagator/app.py): one subscription to 127.0.0.1, "
        "PropagationDelaySeconds 0; a run is one round, its heartbeat (an event in the "
        "'default' app) included and shown apart"
    )
    print(
        f"   {'scenario':<46} {'events':>6} {'reqs':>4} {'WCU':>6} {'RCU':>6} "
        f"{'WCU/event':>9} {'RCU/event':>9}   heartbeat WCU / RCU"
    )
    for round_ in result.propagator:
        write, read = round_.usage.write_units, round_.usage.read_units
        per = (
            f"{write / round_.sent:>9.3f} {read / round_.sent:>9.3f}"
            if round_.sent
            else f"{'-':>9} " * 2
        )
        heartbeat = round_.part or Usage()
        print(
            f"   {round_.label:<46} {round_.sent:>6} {round_.usage.calls.total():>4} {write:>6.2f} "
            f"{read:>6.2f} {per.rstrip():>19}   {heartbeat.write_units:.2f} / "
            f"{heartbeat.read_units:.2f}   no target"
        )
    print("   per run, by table and operation:")
    print_operations([(run.label, run.usage, 1) for run in result.propagator])
    print(
        "   reqs: DynamoDB requests. Not counted (setup): apps, rules, the subscription, the "
        f"events.\n   Section 5 took {result.seconds:.0f} s, in a process of its own."
    )


def targets(result: NotificationsResult | None, options: Options) -> list[Target]:
    return []  # figures only


SECTION = Section(
    key="notifications",
    title="5. Notifications and propagation: DynamoDB request units",
    subtitle="ingest with alert rules and the aggregator, the notifier, the propagator: AWS in "
    "moto, HTTP to 127.0.0.1",
    measure=measure,
    show=show,
    targets=targets,
    scans=lambda result: result.scans,
)
