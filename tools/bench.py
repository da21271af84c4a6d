"""Benchmark: DynamoDB request units per event, on the request path and in the aggregator, the
read cost of a page and of statistics, cold handler imports.

    make bench
    PYTHONPATH=layers/common/python:tools .venv/bin/python tools/bench.py [--check] [--runs N]

Exit status: 0 (a measurement, not a test) unless --check is given and a target is missed (1);
2 when a section could not be measured at all.

Requests go through the handlers as API Gateway sends them (REST proxy events built from the
samples in events/, the REQUEST authorizer invoked first, as ReauthorizeEvery: 0 does on AWS),
against the template's tables provisioned in moto in-process (with the local stack's patch of
moto's transactions, `local_stack.moto_patches`). Capacity is computed per request from
DynamoDB's documented rules by `capacity.CapacityMeter` (moto's own figures are not reliable),
attached to the core's client `eventlog.storage.db.client()`: see tools/capacity.py for the
rules. Setup (apps, keys, filling tables) is not counted.

Ingest only stores events (section 1). The events table's stream feeds the aggregator
(functions/aggregator/app.py), which counts them into the aggregates: section 1b drives it with
the local stack's stream poller (`local_stack.streams.StreamPoller`: the template's mapping,
its filter and BatchSize) over moto's stream, the handler imported here so that its DynamoDB
calls go through the metered client; the poller's own stream and SQS calls are Lambda's, not
counted. The statistics (section 3) read aggregates filled the same way, through the stream.

Sections 1b, 3 and 5 run in processes of their own (spawned, each with its own tables in
moto), for the minutes their setup takes, beside sections 1 and 2: 3 in one, 1b and then 5 in
another (5 once sections 1 and 2 are done too); the import timings of section 4 wait for all.
Section 5 (notifications and propagation, figures without targets): ingest with alert rules and
the aggregator after it, which queues the notifications, the notifier driven with SQS events like
events/notifier_sqs.json, the propagator with events/propagator_schedule.json. The Powertools
idempotency layers' own DynamoDB clients are metered too. Webhooks and subscriptions go to an HTTP
server of the bench on 127.0.0.1 (ALLOWED_TARGET_NETWORKS=127.0.0.0/8): nothing else is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import heapq
import io
import json
import multiprocessing
import operator
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from unittest import mock

if TYPE_CHECKING:
    from loopback_receiver import LoopbackReceiver

    from local_stack.streams import DrainSummary, StreamPoller

ROOT = Path(__file__).resolve().parent.parent
COMMON = ROOT / "layers" / "common" / "python"
TEMPLATE = ROOT / "template.yaml"

NAMES = ("checkout", "login", "search", "payment", "signup")
LEVELS = ("info", "warning", "error")  # the level filter below matches one event in three
BATCH = 100
BATCHES = 10
RESENT = 2  # batches of (c) sent a second time
SINGLES = 200
LATE_HOURS = 5  # batches of (e), each an hour earlier than the one before
STORED_SMALL, STORED_LARGE = 1_000, 10_000
PAGE_LIMIT = "20"
STATS_SMALL, STATS_LARGE = 1_000, 100_000  # events stored for the statistics of section 3
STATS_SPAN = timedelta(hours=24)
FILL_CHUNK = 1_000  # events per ingest_batch call when storing events as setup
IMPORT_RUNS = 5

# The aggregator (section 1b): the template's stream mapping, driven by the local stack's poller.
AGGREGATOR = "functions/aggregator/"
STREAM_BATCH = 100  # the template's AggregatorBatchSize: stream records per invocation
FILL_STREAM_BATCH = 1_000  # setup only (not measured): the largest batch the template allows
AGGREGATED_BATCHES = 10  # stream batches of (g) and (i)
NEW_NAME_BATCHES = 5  # stream batches of (h)
FEW_NAMES, MANY_NAMES = 10, 10_000  # (i): distinct names the app already has that day
STEADY_RATE = 50  # (j): single events a second, one stream batch a second (1 s window)
STEADY_SECONDS = 4
HOT_RATE = 5_000  # (k): events a second into one app, one second of them

# Targets: measured values must be <= limit.
TARGET_SINGLE_WCU = 1.0  # request path only: ingest stores, the aggregator counts (1b)
TARGET_BATCH_WCU = 1.0  # the plain batches (b)
TARGET_EVENT_ID_WCU = 2.0  # (c): each event and its client event_id's claim
TARGET_FEW_GROUPS_WCU = 0.25  # (g2): aggregator, 5 names x 3 levels, one message per name
TARGET_NEW_NAMES_WCU = 3.0  # (h): aggregator, every event a new name
TARGET_NAMES_RATIO = 1.1  # (i): aggregator, MANY_NAMES vs FEW_NAMES names that day
TARGET_STEADY_WCU = 1.3  # (j): request path + aggregation, 50 single events a second
TARGET_HOT_ITEM_WRITES = 100.0  # (k): writes a second on the hottest aggregate item
TARGET_PAGE_RATIO = 1.0  # a page costs the same however many events are stored
TARGET_STATS_RATIO = 1.1  # so does a statistic, over the same range
TARGET_IMPORT_RATIO = 1.5


# ---------------------------------------------------------------- environment


def _isolate_aws() -> None:
    """Fake credentials, one region, nothing from the developer's AWS config; no tracing."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_CA_BUNDLE",):
            del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's fake credentials
        AWS_SESSION_TOKEN="testing",  # noqa: S106
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        POWERTOOLS_TRACE_DISABLED="true",
    )


def _function_settings(template: Any, folder: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(logical id, environment, merged properties) of the function whose CodeUri is `folder`."""
    from local_stack.runtime import FUNCTION_TYPES
    from local_stack.template import env_string

    for logical_id, _ in template.of_type(*FUNCTION_TYPES):
        props = template.properties(logical_id, "Function")
        if template.path(str(template.resolve(props["CodeUri"]))) == (ROOT / folder).resolve():
            variables = (props.get("Environment") or {}).get("Variables") or {}
            env = {key: env_string(value) for key, value in template.resolve(variables).items()}
            return logical_id, env, props
    raise SystemExit(f"bench: no function with CodeUri {folder} in template.yaml")


def _load_template() -> Any:
    from local_stack import resources
    from local_stack.template import Template

    template = Template.load(TEMPLATE)
    resources.assign_physical_ids(template)
    return template


def mocked_aws() -> contextlib.AbstractContextManager[Any]:
    """moto in-process, its TransactWriteItems patched as the local stack does: moto's own copies
    every table a transaction names, whole, which would make each of the aggregator's chunk
    transactions slower as the aggregates grow (local_stack.moto_patches)."""
    import moto

    from local_stack import moto_patches

    moto_patches.apply()
    return moto.mock_aws()


# ---------------------------------------------------------------- the stack in moto


@dataclass
class Reply:
    status: int
    body: Any
    handler: Any  # capacity.Usage of the handler
    authorizer: Any  # capacity.Usage of the authorizer


@dataclass
class Tenant:
    app_id: int
    ingest_key: str
    user_key: str


class Stack:
    """The template's tables in moto, the handlers imported, a meter on the core's client."""

    def __init__(self) -> None:
        import boto3
        from capacity import CapacityMeter

        from local_stack import resources

        self.template = _load_template()
        resources.provision(self.template)
        self.functions = {
            name: self._load(f"functions/{name}/")
            for name in ("authorizer", "ingest", "query", "stats", "aggregator")
        }
        from eventlog.storage import db

        self.meter = CapacityMeter(boto3.client("dynamodb"))  # a client of its own: not hooked
        self.meter.attach(db.client())  # the core's client, which every handler uses
        self.stream = self._stream_poller()
        self._samples = {
            name: json.loads((ROOT / "events" / f"{name}.json").read_text())
            for name in ("ingest_batch", "query_list", "stats_timeseries", "authorizer_request")
        }
        self.events_table = str(self.template.physical_ids["EventsTable"])
        self.aggregates_table = str(self.template.physical_ids["AggregatesTable"])

    def _load(self, folder: str) -> Any:
        from local_stack.runtime import LambdaContext, import_module_from

        logical_id, env, props = _function_settings(self.template, folder)
        os.environ.update(env)  # Powertools reads its settings at import, as in Lambda
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        module_path, _, attribute = str(self.template.resolve(props["Handler"])).rpartition(".")
        code_dir = (ROOT / folder).resolve()
        source = code_dir / (module_path.replace(".", "/") + ".py")
        handler = getattr(import_module_from(source, code_dir, f"bench_{logical_id}"), attribute)
        name = str(self.template.physical_ids.get(logical_id, logical_id))

        def invoke(event: dict[str, Any]) -> Any:
            context = LambdaContext(
                function_name=name,
                memory_limit_in_mb=int(self.template.resolve(props.get("MemorySize", 128))),
                timeout_seconds=float(self.template.resolve(props.get("Timeout", 3))),
                log_group_name=f"/aws/lambda/{name}",
            )
            # JSON in and out, as Lambda does; EMF metrics lines go to a sink, not the report.
            with contextlib.redirect_stdout(io.StringIO()):
                result = handler(json.loads(json.dumps(event)), context)
            return json.loads(json.dumps(result))

        return invoke

    def _stream_poller(self) -> StreamPoller:
        """The AggregatorFunction's event source mapping on the events table's stream, as the
        local stack builds it (BatchSize, FilterCriteria, retries from the template; from the
        stream's first record), invoking the handler imported here."""
        from local_stack.runtime import LambdaFunction
        from local_stack.streams import StreamMapping, StreamPoller

        logical_id, _, props = _function_settings(self.template, AGGREGATOR)
        (event,) = [e for e in props["Events"].values() if e["Type"] == "DynamoDB"]
        mapping = StreamMapping.from_properties(self.template.resolve(event["Properties"]), "bench")
        invoke = self.functions["aggregator"]
        name = str(self.template.physical_ids.get(logical_id, logical_id))
        function = LambdaFunction(
            logical_id=logical_id,
            name=name,
            handler=lambda event, _context: invoke(event),  # invoke() makes its own context
            environment={},
            timeout=float(self.template.resolve(props["Timeout"])),
            memory=int(self.template.resolve(props.get("MemorySize", 128))),
            log_group=f"/aws/lambda/{name}",
            events={},
            lock=threading.Lock(),
        )
        return StreamPoller(function, mapping)

    def aggregate(self, expected: int, batch_size: int = STREAM_BATCH) -> DrainSummary:
        """Run the aggregator over every record the events table's stream holds, `batch_size` a
        batch, as Lambda would; checks that the `expected` events were all counted, each batch
        in one invocation (no failure, no retry). The poller's log lines are kept for an error."""
        self.stream.mapping.batch_size = batch_size
        log = io.StringIO()
        with contextlib.redirect_stderr(log):
            summary = self.stream.drain()
        batches = -(-expected // batch_size)
        if summary.delivered != expected or summary.skipped or summary.invocations != batches:
            raise RuntimeError(
                f"bench: the aggregator over {expected} events, batches of {batch_size}: "
                f"{summary}\n{log.getvalue()[-3000:]}"
            )
        return summary

    def tenant(self, name: str) -> Tenant:
        """An app with its ingest key and a user key (setup: created through the core)."""
        from eventlog.access import apps, keys
        from eventlog.access.principal import Role
        from eventlog.models.admin import KeyIn

        created = apps.create_app(name)
        user = keys.create_key(KeyIn(role=Role.USER, app_id=created.id, label="bench"))
        return Tenant(app_id=created.id, ingest_key=created.ingest_key, user_key=user.key)

    # -------------------------------------------------------- API Gateway, as far as needed

    def request(
        self,
        method: str,
        resource: str,
        path_parameters: dict[str, str],
        headers: dict[str, str],
        query: dict[str, str] | None = None,
        body: Any = None,
    ) -> Reply:
        path = resource
        for name, value in path_parameters.items():
            path = path.replace("{" + name + "}", value)
        request_id = str(uuid.uuid4())
        all_headers = {"Accept": "application/json", "Host": "bench.local", **headers}
        if body is not None:
            all_headers["Content-Type"] = "application/json"

        def common(event: dict[str, Any]) -> None:
            event.update(
                resource=resource,
                path=path,
                httpMethod=method,
                headers=all_headers,
                multiValueHeaders={key: [value] for key, value in all_headers.items()},
                queryStringParameters=query or None,
                multiValueQueryStringParameters={k: [v] for k, v in query.items()}
                if query
                else None,
                pathParameters=path_parameters or None,
            )
            context = event["requestContext"]
            context.update(
                resourcePath=resource,
                httpMethod=method,
                path=f"/{context['stage']}{path}",
                requestId=request_id,
                requestTimeEpoch=int(time.time() * 1000),
            )
            context.pop("authorizer", None)

        auth_event = copy.deepcopy(self._samples["authorizer_request"])
        common(auth_event)
        stage = auth_event["requestContext"]["stage"]
        api_id = auth_event["requestContext"]["apiId"]
        auth_event["methodArn"] = (
            f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/{stage}/{method}{path}"
        )
        with self.meter.measure() as auth_used:
            policy = self.functions["authorizer"](auth_event)
        effects = {statement["Effect"] for statement in policy["policyDocument"]["Statement"]}
        if effects != {"Allow"}:
            raise RuntimeError(f"bench: the authorizer refused {method} {path}: {policy}")

        if method == "POST":
            sample, function_name = "ingest_batch", "ingest"
        elif "/stats/" in resource:
            sample, function_name = "stats_timeseries", "stats"
        else:
            sample, function_name = "query_list", "query"
        event = copy.deepcopy(self._samples[sample])
        common(event)
        event["requestContext"]["authorizer"] = {
            "principalId": policy["principalId"],
            **policy.get("context", {}),
            "integrationLatency": 0,
        }
        event["requestContext"]["identity"]["apiKey"] = policy.get("usageIdentifierKey")
        event["body"] = None if body is None else json.dumps(body)
        function = self.functions[function_name]
        with self.meter.measure() as used:
            result = function(event)
        status = int(result["statusCode"])
        reply_body = json.loads(result["body"]) if result.get("body") else None
        if status >= 300:
            raise RuntimeError(f"bench: {method} {path} answered {status}: {reply_body}")
        return Reply(status, reply_body, used, auth_used)

    def post_events(self, tenant: Tenant, body: Any) -> Reply:
        return self.request(
            "POST",
            "/apps/{app_id}/events",
            {"app_id": str(tenant.app_id)},
            {"X-INGEST-KEY": tenant.ingest_key},
            body=body,
        )

    def post_seed_000_event(self, tenant: Tenant, body: Any) -> Reply:
        return self.request("POST", "/events", {}, {"X-INGEST-KEY": tenant.ingest_key}, body=body)

    def list_events(self, tenant: Tenant, query: dict[str, str]) -> Reply:
        return self.request(
            "GET",
            "/apps/{app_id}/events",
            {"app_id": str(tenant.app_id)},
            {"x-api-key": tenant.user_key},
            query=query,
        )

    def get_stats(self, tenant: Tenant, route: str, query: dict[str, str]) -> Reply:
        return self.request(
            "GET",
            f"/apps/{{app_id}}/stats/{route}",
            {"app_id": str(tenant.app_id)},
            {"x-api-key": tenant.user_key},
            query=query,
        )


# ---------------------------------------------------------------- 1. writes


def make_event(
    i: int, client_id: str | None = None, occurred: datetime | None = None
) -> dict[str, Any]:
    """A realistic event (like events/ingest_batch.json): 5 names, 3 levels, tags."""
    event = {
        "occurred_at": (occurred or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        "level": LEVELS[i % len(LEVELS)],
        "name": NAMES[i % len(NAMES)],
        "service": "api",
        "message": f"{NAMES[i % len(NAMES)]} {LEVELS[i % len(LEVELS)]} #{i}: request handled",
        "tags": {"env": "prod", "version": "1.2.3"},
    }
    if client_id is not None:
        event["event_id"] = client_id
    return event


def make_seed_000_event(i: int) -> dict[str, Any]:
    """Seed 000's sample body (POST /events), one message per event."""
    return {
        "event_type": LEVELS[i % len(LEVELS)].upper(),
        "service_name": "AuthService",
        "additional_data": f"Timeout error #{i}",
    }


@dataclass
class WriteRun:
    label: str
    target: float | None = None  # WCU per event, when this scenario has a target
    note: str = ""  # shown instead of a target
    events: int = 0
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    handler: Any = None
    authorizer: Any = None

    def add(self, reply: Reply, events: int) -> None:
        self.events += events
        self.requests += 1
        self.handler = reply.handler if self.handler is None else self.handler + reply.handler
        self.authorizer = (
            reply.authorizer if self.authorizer is None else self.authorizer + reply.authorizer
        )
        body = reply.body
        if isinstance(body, dict) and "items" in body:
            self.outcomes.update(item["status"] for item in body["items"])
        else:
            self.outcomes["accepted" if reply.status == 201 else "duplicate"] += 1

    @property
    def wcu_per_event(self) -> float:
        return (self.handler.write_units + self.authorizer.write_units) / self.events

    def table_wcu_per_event(self, table: str) -> float:
        return (self.handler.write[table] + self.authorizer.write[table]) / self.events


def ingest_batches(stack: Stack, tenant: Tenant, run: WriteRun, first: int, count: int, ids: str):
    for batch in range(count):
        start = first + batch * BATCH
        body = [
            make_event(i, f"{ids}-{i:06d}" if ids else None) for i in range(start, start + BATCH)
        ]
        run.add(stack.post_events(tenant, body), len(body))


def ingest_late(stack: Stack, tenant: Tenant, run: WriteRun) -> None:
    """Batches over whole hours of one UTC day, each an hour earlier than the one before: late
    events, which a message group's last-seen condition turns away when a later time is stored
    already (the failed conditional updates, and the updates that follow, show per operation)."""
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    if end.hour < LATE_HOURS:
        end = end.replace(hour=0)  # the last hours of yesterday: one day, whatever the time
    step = timedelta(hours=1) / BATCH
    for batch in range(LATE_HOURS):
        hour = end - timedelta(hours=batch + 1)
        start = batch * BATCH
        body = [make_event(start + i, occurred=hour + step * (i + 0.5)) for i in range(BATCH)]
        run.add(stack.post_events(tenant, body), len(body))


def measure_writes(stack: Stack) -> tuple[list[WriteRun], Tenant]:
    with stack.meter.paused():
        single, plain = stack.tenant("bench-single"), stack.tenant("bench-batch")
        with_ids, late = stack.tenant("bench-dedup"), stack.tenant("bench-late")
        seed_000 = stack.tenant("bench-seed-000")

    a = WriteRun("(a) single events, one per request", TARGET_SINGLE_WCU)
    for i in range(SINGLES):
        a.add(stack.post_events(single, make_event(i)), 1)

    b = WriteRun(f"(b) {BATCHES} batches of {BATCH}, 5 names x 3 levels", TARGET_BATCH_WCU)
    ingest_batches(stack, plain, b, 0, BATCHES, ids="")

    c = WriteRun("(c) as (b), every event with a client event_id", TARGET_EVENT_ID_WCU)
    ingest_batches(stack, with_ids, c, 0, BATCHES, ids="bench")

    d = WriteRun(f"(d) {RESENT} batches of (c) sent again: all duplicates")
    ingest_batches(stack, with_ids, d, 0, RESENT, ids="bench")

    e = WriteRun(f"(e) {LATE_HOURS} batches as (b), each an hour earlier (late)")
    ingest_late(stack, late, e)

    f = WriteRun(
        "(f) seed 000 single events, POST /events",
        note=" (numbered: + index item, + counter blocks)",
    )
    for i in range(SINGLES):
        f.add(stack.post_seed_000_event(seed_000, make_seed_000_event(i)), 1)

    runs = [a, b, c, d, e, f]
    outcomes = ("accepted", "accepted", "accepted", "duplicate", "accepted", "accepted")
    for run, outcome in zip(runs, outcomes, strict=True):
        if run.outcomes != Counter({outcome: run.events}):
            raise RuntimeError(f"bench: {run.label}: expected all {outcome}, got {run.outcomes}")
    return runs, plain


# ---------------------------------------------------------------- 1b. aggregation (the stream)


@contextlib.contextmanager
def unqueued() -> Iterator[None]:
    """The aggregator counts without queueing notifications (setup fills, and section 1b):
    moto's SendMessage counts every message of its queue, so the thousands of messages the
    ERROR events would queue (by the default rule every app has) would take it minutes, growing
    with the square. Queueing consumes no DynamoDB capacity (section 5 queues, and counts)."""
    from eventlog.delivery import notify_queue

    with mock.patch.object(notify_queue, "enqueue_matches", return_value=0):
        yield


def store(stack: Stack, app_id: int, events: list[dict[str, Any]]) -> None:
    """Store events through the core's `ingest_batch`, FILL_CHUNK a call and in order, so the
    stream holds them as listed (setup: not counted; the request path is section 1)."""
    from eventlog.events import ingestion

    accepted = 0
    with stack.meter.paused(), mock.patch.object(ingestion, "MAX_BATCH", FILL_CHUNK):
        for start in range(0, len(events), FILL_CHUNK):
            chunk = events[start : start + FILL_CHUNK]
            accepted += ingestion.ingest_batch(app_id, chunk).accepted
    if accepted != len(events):
        raise RuntimeError(f"bench: storing {len(events)} events: {accepted} accepted")


def new_app(stack: Stack, name: str) -> int:
    """A new app's id (setup: not counted)."""
    from eventlog.access import apps

    with stack.meter.paused():
        return int(apps.create_app(name).id)


ITEM_KINDS = {  # the part of an aggregate item's pk naming its kind (eventlog.stats.aggregation)
    "MINUTE": "counts",
    "HOUR": "counts",
    "DAY": "counts",
    "NAME": "names",
    "SERVICE": "services",
    "MSG": "message groups",
    "AS_OF": "watermark",
}
CHUNK_PARTS = ("counts", "names", "services", "message groups", "marker", "guards")


def item_kind(key: tuple[str, str]) -> str:
    """What an aggregate item is, from its key: a chunk's marker or guard, or ITEM_KINDS'."""
    pk, _ = key
    return "marker" if pk.startswith("CHUNK#") else ITEM_KINDS[pk.split("#")[2]]


def _wire_key(body: dict[str, Any]) -> tuple[str, str]:
    key = body["Item"] if "Item" in body else body["Key"]
    return key["pk"]["S"], key["sk"]["S"]


class AggregateWrites:
    """The aggregate items the aggregator's requests write, item by item: a botocore hook on the
    core's client, beside the meter. A committed TransactWriteItems is a chunk: its actions'
    keys in order (the marker first, then any guard, then the items counted into); the
    UpdateItems are the watermark's (one per app and invocation)."""

    def __init__(self) -> None:
        self.chunks: list[list[tuple[str, str]]] = []
        self.cancelled = 0  # transactions cancelled (the aggregator tries them again)
        self.watermarks: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        from eventlog.storage import db

        emitter = db.client().meta.events
        hooks = (
            ("before-call.dynamodb.TransactWriteItems", self._before_transaction),
            ("after-call.dynamodb.TransactWriteItems", self._after_transaction),
            ("before-call.dynamodb.UpdateItem", self._before_update),
        )
        for event_name, hook in hooks:
            emitter.register(event_name, hook)
        try:
            yield
        finally:
            for event_name, hook in hooks:
                emitter.unregister(event_name, hook)

    def _before_transaction(self, params: dict[str, Any], context: dict, **_: Any) -> None:
        request = json.loads(params.get("body") or b"{}")
        actions = [next(iter(action.values())) for action in request["TransactItems"]]
        context["bench_chunk"] = [_wire_key(body) for body in actions]

    def _after_transaction(self, http_response: Any, context: dict, **_: Any) -> None:
        keys = context.pop("bench_chunk", None)
        if keys is None:
            return
        if http_response.status_code < 300:
            self.chunks.append(keys)
        else:
            self.cancelled += 1

    def _before_update(self, params: dict[str, Any], **_: Any) -> None:
        self.watermarks.append(_wire_key(json.loads(params.get("body") or b"{}")))

    def items_per_chunk(self) -> dict[str, float]:
        """The items a chunk wrote on average, by CHUNK_PARTS."""
        counted: Counter[str] = Counter()
        for marker, *others in self.chunks:
            counted[item_kind(marker)] += 1
            for key in others:
                kind = item_kind(key)
                counted["guards" if kind == "marker" else kind] += 1
        return {part: counted[part] / max(1, len(self.chunks)) for part in CHUNK_PARTS}

    def writes_by_item(self) -> Counter[tuple[str, str]]:
        """How many committed requests wrote each item."""
        writes = Counter(key for chunk in self.chunks for key in chunk)
        writes.update(self.watermarks)
        return writes


@dataclass
class AggregationRun:
    """The aggregator over events stored beforehand: its units, what its chunks wrote, and
    for (j) the requests that stored the events."""

    label: str
    events: int = 0
    invocations: int = 0
    usage: Any = None  # capacity.Usage of the aggregator's invocations
    request: Any = None  # capacity.Usage of the requests (authorizer + ingest), (j) only
    writes: AggregateWrites = field(default_factory=AggregateWrites)

    def aggregate(self, stack: Stack, events: int) -> None:
        """Run the aggregator over the `events` just stored, STREAM_BATCH a batch: measured."""
        with stack.meter.measure() as used, self.writes.recording():
            summary = stack.aggregate(events)
        self.events += events
        self.invocations += summary.invocations
        self.usage = used if self.usage is None else self.usage + used

    def add_request(self, reply: Reply) -> None:
        used = reply.handler + reply.authorizer
        self.request = used if self.request is None else self.request + used

    @property
    def wcu_per_event(self) -> float:
        return self.usage.write_units / self.events

    @property
    def rcu_per_event(self) -> float:
        return self.usage.read_units / self.events

    @property
    def request_wcu_per_event(self) -> float:
        return self.request.write_units / self.events if self.request else 0.0

    @property
    def total_wcu_per_event(self) -> float:
        return self.request_wcu_per_event + self.wcu_per_event


@dataclass
class AggregationResults:
    """Section 1b."""

    runs: dict[str, AggregationRun]  # "g1", "g2", "g3", "h", "i1", "i2", "j1", "j2", "k"
    aggregates_table: str
    fill_seconds: float  # setup of (i): MANY_NAMES names through the stream
    seconds: float = 0.0

    @property
    def names_ratio(self) -> float:
        return self.runs["i2"].wcu_per_event / self.runs["i1"].wcu_per_event

    def hottest(self) -> tuple[tuple[str, str], int]:
        """(k): the aggregate item written by the most requests, and how many."""
        ((key, writes),) = self.runs["k"].writes.writes_by_item().most_common(1)
        return key, writes

    @property
    def hot_item_writes_per_second(self) -> float:
        """(k)'s hottest item's writes per HOT_RATE events: a second's worth at HOT_RATE/s."""
        return self.hottest()[1] * HOT_RATE / self.runs["k"].events


def spread_over(start: datetime, span: timedelta, i: int, total: int) -> datetime:
    """When event i of `total` happened, spread evenly over [start, start + span)."""
    return start + span * (i + 0.5) / total


def one_message_per_name(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a message naming its name only: one message group per name."""
    return {**event, "message": f"{event['name']}: request handled"}


def without_message(event: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != "message"}


def aggregated(stack: Stack, key: str, label: str, events: list[dict[str, Any]]) -> AggregationRun:
    """Store `events` in an app of their own (setup), then run the aggregator over them."""
    app_id = new_app(stack, f"bench-aggregated-{key}")
    store(stack, app_id, events)
    run = AggregationRun(label)
    run.aggregate(stack, len(events))
    return run


def names_of_the_day(count: int) -> list[str]:
    """`count` distinct names, NAMES among them."""
    return [*NAMES, *(f"jobs.task{n:05d}" for n in range(count - len(NAMES)))]


def aggregated_after_names(
    stack: Stack, key: str, label: str, names: int, events: list[dict[str, Any]], day: datetime
) -> tuple[AggregationRun, float]:
    """(i): the aggregator over `events` into an app that already has `names` distinct names
    counted that day (setup, not measured: an event each, through the stream, in batches of
    FILL_STREAM_BATCH); also the seconds that setup took."""
    started = time.monotonic()
    app_id = new_app(stack, f"bench-aggregated-{key}")
    filling = [{"name": name, "occurred_at": day.isoformat()} for name in names_of_the_day(names)]
    store(stack, app_id, filling)
    with stack.meter.paused():
        stack.aggregate(len(filling), FILL_STREAM_BATCH)
    fill_seconds = time.monotonic() - started
    store(stack, app_id, events)
    run = AggregationRun(label)
    run.aggregate(stack, len(events))
    return run, fill_seconds


def steady_singles(stack: Stack, key: str, label: str, event: Any) -> AggregationRun:
    """(j): STEADY_RATE single-event requests (measured: authorizer + ingest), then the stream
    batch of those events a 1 s batching window makes, STEADY_SECONDS times."""
    with stack.meter.paused():
        tenant = stack.tenant(f"bench-steady-{key}")
    run = AggregationRun(label)
    for second in range(STEADY_SECONDS):
        for i in range(STEADY_RATE):
            run.add_request(stack.post_events(tenant, event(second * STEADY_RATE + i)))
        run.aggregate(stack, STEADY_RATE)
    return run


def measure_aggregation(stack: Stack) -> AggregationResults:
    """The aggregator's units per event, scenario by scenario, each in an app of its own. The
    events (but (j)'s) happened in the last whole minute: a scenario's counts go to one minute,
    hour and day bucket, however long moto takes."""
    started = time.monotonic()
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    count = AGGREGATED_BATCHES * STREAM_BATCH
    low = [
        make_event(i, occurred=spread_over(minute, timedelta(minutes=1), i, count))
        for i in range(count)
    ]
    new_names = [
        {**event, "name": f"jobs.task{i:05d}"}
        for i, event in enumerate(low[: NEW_NAME_BATCHES * STREAM_BATCH])
    ]
    hot = [
        make_event(i, occurred=spread_over(minute, timedelta(seconds=1), i, HOT_RATE))
        for i in range(HOT_RATE)
    ]
    groups = f"{len(NAMES)} names x {len(LEVELS)} levels"
    runs: dict[str, AggregationRun] = {}
    with unqueued():
        runs["g1"] = aggregated(stack, "g1", f"(g1) {groups}, make_event's messages", low)
        runs["g2"] = aggregated(
            stack,
            "g2",
            f"(g2) {groups}, one message per name",
            [one_message_per_name(event) for event in low],
        )
        runs["g3"] = aggregated(
            stack, "g3", "(g3) as (g2), without messages", [without_message(e) for e in low]
        )
        runs["h"] = aggregated(stack, "h", "(h) every event a new name, else as (g1)", new_names)
        runs["i1"], _ = aggregated_after_names(
            stack, "i1", f"(i1) as (g1), with {FEW_NAMES} names that day", FEW_NAMES, low, minute
        )
        runs["i2"], fill_seconds = aggregated_after_names(
            stack,
            "i2",
            f"(i2) as (g1), with {MANY_NAMES:,} names that day",
            MANY_NAMES,
            low,
            minute,
        )
        runs["j1"] = steady_singles(
            stack, "j1", f"(j1) {STEADY_RATE}/s single events, make_event", make_event
        )
        runs["j2"] = steady_singles(
            stack,
            "j2",
            f'(j2) {STEADY_RATE}/s single events, {{"name": "login"}}',
            lambda _i: {"name": "login"},
        )
        runs["k"] = aggregated(stack, "k", f"(k) {HOT_RATE:,} events in 1 s, as (g1)", hot)
    return AggregationResults(
        runs, stack.aggregates_table, fill_seconds, time.monotonic() - started
    )


def measure_aggregation_apart() -> AggregationResults:
    """Section 1b in a process of its own (spawned), with its own tables in moto. The
    aggregator's logger writes a line per invocation to the stdout it found at import (as its
    Powertools logger does in Lambda): not into the report this process shares."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), mocked_aws():
        return measure_aggregation(Stack())


# ---------------------------------------------------------------- 2. reads


@dataclass
class PageCost:
    rcu: float  # the handler's read units (app lookup + the Query pages)
    authorizer_rcu: float
    evaluated: int  # items the Query pages evaluated
    pages: int  # Query requests
    returned: int
    next_cursor: str | None


def read_page(stack: Stack, tenant: Tenant, query: dict[str, str], expected: int) -> PageCost:
    reply = stack.list_events(tenant, query)
    used = reply.handler
    if used.scanned_count_mismatches:
        raise RuntimeError("bench: a re-issued Query page differed from the page's ScannedCount")
    cost = PageCost(
        rcu=used.read_units,
        authorizer_rcu=reply.authorizer.read_units,
        evaluated=sum(used.evaluated.values()),
        pages=sum(n for op, n in used.calls.items() if op.endswith(".Query")),
        returned=len(reply.body["items"]),
        next_cursor=reply.body.get("next_cursor"),
    )
    if cost.returned != expected:
        raise RuntimeError(f"bench: GET {query} returned {cost.returned} events, not {expected}")
    return cost


@dataclass(frozen=True)
class PageVariant:
    label: str
    query: dict[str, str]
    returns: int  # events the page holds
    target: bool  # its cost must not grow with the events stored
    follow: bool = True  # read page 2 through the cursor too
    slow: bool = False  # at 10,000 events only with --full: moto's Query is O(n) a page


PAGE_VARIANTS = (
    PageVariant("no filter", {"limit": PAGE_LIMIT}, int(PAGE_LIMIT), target=True),
    PageVariant(
        "level=ERROR (1 in 3 match)",
        {"limit": PAGE_LIMIT, "level": "ERROR"},
        int(PAGE_LIMIT),
        target=True,
    ),
    PageVariant(
        "level=CRITICAL (none match)",
        {"limit": PAGE_LIMIT, "level": "CRITICAL"},
        0,
        target=False,
        follow=False,
        slow=True,
    ),
)


def read_pages(stack: Stack, tenant: Tenant, slow: bool) -> dict[str, PageCost]:
    """The first page of each variant, and the page after it (by its cursor)."""
    costs = {}
    for variant in PAGE_VARIANTS:
        if variant.slow and not slow:
            continue
        first = costs[variant.label] = read_page(stack, tenant, variant.query, variant.returns)
        if variant.follow:
            if first.next_cursor is None:
                raise RuntimeError(f"bench: {variant.label}: no next page to follow")
            next_query = {**variant.query, "cursor": first.next_cursor}
            costs[f"{variant.label}, page 2"] = read_page(
                stack, tenant, next_query, variant.returns
            )
    return costs


def measure_reads(
    stack: Stack, tenant: Tenant, full: bool
) -> tuple[dict[str, PageCost], dict[str, PageCost]]:
    small = read_pages(stack, tenant, slow=True)
    fill = WriteRun("fill")
    with stack.meter.paused():  # setup: the write cost of batches is section 1
        more = (STORED_LARGE - STORED_SMALL) // BATCH
        ingest_batches(stack, tenant, fill, STORED_SMALL, more, ids="")
    if fill.outcomes != Counter({"accepted": STORED_LARGE - STORED_SMALL}):
        raise RuntimeError(f"bench: filling to {STORED_LARGE} events: {fill.outcomes}")
    large = read_pages(stack, tenant, slow=full)
    return small, large


# ---------------------------------------------------------------- 3. statistics

# Twelve message shapes, three of each kind, which fingerprint into four message groups
# (eventlog.stats.fingerprint): the variable parts are an email and an address, a UUID and a number,
# numbers, a quoted key and a time.
MESSAGE_SHAPES = (
    "user u{i}@example.com signed in from 10.0.{a}.{b}",
    "user first.last{i}@corp.example signed in from 192.168.{a}.{b}:443",
    "user ops+{i}@mail.example.org signed in from 2001:db8::{a}",
    "payment 3f2b8c1e-9a4d-4f6b-8e2a-{i:012d} declined: card ending {a:04d}",
    "payment 0b1c2d3e-4f50-4617-8899-{i:012d} declined: card ending {b:04d}",
    "payment 9e8d7c6b-5a49-4382-b1c0-{i:012d} declined: card ending 4242",
    "GET /orders/{i} took {a} ms",
    "GET /orders/{b} took {i} ms",
    "GET /orders/7 took {a}{b} ms",
    'cache miss for "session:{i}" at 2026-02-10T10:{b:02d}:00Z, retry {a}',
    'cache miss for "cart:{a}" at 2026-02-11 08:00:{b:02d}, retry 1',
    "cache miss for 'user:{i}' at 12:{b:02d}:33, retry 2",
)
MESSAGE_GROUPS = 4


@dataclass(frozen=True)
class StatsRoute:
    route: str
    query: dict[str, str]

    @property
    def label(self) -> str:
        return self.route + "".join(f"?{key}={value}" for key, value in self.query.items())


STATS_ROUTES = (
    StatsRoute("timeseries", {"interval": "HOUR"}),
    StatsRoute("by-level", {}),
    StatsRoute("top-messages", {}),
    StatsRoute("by-name", {}),
    StatsRoute("hourly", {}),
)


def stats_range(now: datetime) -> tuple[datetime, datetime]:
    """24 hours to the last half past the hour: off the hour at both ends, as the default range
    (the 24 hours up to now) is, so both ends are read as minute buckets; the same every run."""
    until = now.replace(minute=30, second=0, microsecond=0)
    if until > now:
        until -= timedelta(hours=1)
    return until - STATS_SPAN, until


def make_stats_event(i: int, total: int, since: datetime) -> dict[str, Any]:
    """Event i of `total` spread evenly over [since, since + 24 h), in time order."""
    a, b = i % 251, i % 59
    return {
        "occurred_at": (since + STATS_SPAN * (i + 0.5) / total).isoformat(timespec="milliseconds"),
        "level": LEVELS[i % len(LEVELS)],
        "name": NAMES[i % len(NAMES)],
        "service": "api",
        "message": MESSAGE_SHAPES[i % len(MESSAGE_SHAPES)].format(i=i, a=a, b=b),
    }


def fill_stats(stack: Stack, tenant: Tenant, total: int, since: datetime) -> None:
    """Store `total` events over the 24 hours, in time order, then count them through the
    events table's stream (setup: not counted).

    Larger batches than the API takes and than the mapping's BatchSize (FILL_CHUNK events an
    ingest_batch call, FILL_STREAM_BATCH records an invocation of the aggregator), only for
    speed: the aggregates come out the same however the events are batched (exact counts, the
    first message received as sample, the latest time as last_seen), and the statistics read
    nothing else. No notification is queued (`unqueued`)."""
    for start in range(0, total, FILL_CHUNK):
        end = min(start + FILL_CHUNK, total)
        store(stack, tenant.app_id, [make_stats_event(i, total, since) for i in range(start, end)])
    with stack.meter.paused(), unqueued():
        stack.aggregate(total, FILL_STREAM_BATCH)


@dataclass
class StatsCost:
    rcu: float  # the stats handler's read units (app lookup, watermark, aggregates Queries)
    watermark_rcu: float  # its GetItem of the app's watermark (X-Eventlog-As-Of)
    authorizer_rcu: float
    evaluated: int  # aggregate items the Queries evaluated
    evaluated_bytes: int  # their sizes
    queries: int  # Query requests


def _counted(route: str, body: Any) -> int:
    """How many events the reply of a route counts over the whole range."""
    if route == "timeseries":
        return sum(bucket["count"] for bucket in body["series"])
    if route == "hourly":
        return body["total"]
    if route == "top-messages" and len(body["items"]) != MESSAGE_GROUPS:
        raise RuntimeError(f"bench: top-messages found {len(body['items'])} message groups")
    return sum(item["count"] for item in body["items"])


def _iso(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def read_stats(
    stack: Stack, tenant: Tenant, since: datetime, until: datetime, stored: int
) -> dict[str, StatsCost]:
    """One request of each route; checks that it counts every event stored."""
    costs = {}
    for route in STATS_ROUTES:
        window = {"since": _iso(since), "until": _iso(until)}
        reply = stack.get_stats(tenant, route.route, {**route.query, **window})
        used = reply.handler
        if used.scanned_count_mismatches:
            raise RuntimeError("bench: a re-issued Query page differed from its ScannedCount")
        counted = _counted(route.route, reply.body)
        if counted != stored:
            raise RuntimeError(f"bench: {route.label} counted {counted} events, not {stored}")
        costs[route.label] = StatsCost(
            rcu=used.read_units,
            watermark_rcu=used.op_read[f"{stack.aggregates_table}.GetItem"],
            authorizer_rcu=reply.authorizer.read_units,
            evaluated=sum(used.evaluated.values()),
            evaluated_bytes=sum(used.evaluated_bytes.values()),
            queries=sum(n for op, n in used.calls.items() if op.endswith(".Query")),
        )
    return costs


@dataclass
class StatsResults:
    small: dict[str, StatsCost]  # route label -> cost, STATS_SMALL events stored
    large: dict[str, StatsCost]
    since: datetime
    until: datetime
    fill_seconds: float  # setup: storing and counting the STATS_LARGE events


def measure_stats(stack: Stack) -> StatsResults:
    """Each statistic over the same range, for an app with STATS_SMALL events stored and for one
    with STATS_LARGE, spread alike over that range."""
    with stack.meter.paused():
        small_app, large_app = stack.tenant("bench-stats-small"), stack.tenant("bench-stats-large")
    since, until = stats_range(datetime.now(UTC))
    fill_stats(stack, small_app, STATS_SMALL, since)
    started = time.monotonic()
    fill_stats(stack, large_app, STATS_LARGE, since)
    fill_seconds = time.monotonic() - started
    small = read_stats(stack, small_app, since, until, STATS_SMALL)
    large = read_stats(stack, large_app, since, until, STATS_LARGE)
    return StatsResults(small, large, since, until, fill_seconds)


def measure_stats_apart() -> StatsResults:
    """Section 3 in a process of its own (spawned: sys.path and the environment come along),
    with its own tables in moto: its setup, minutes of moto's CPU, runs beside the other
    sections (request units do not depend on timing; the import timings of section 4 wait)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), mocked_aws():
        return measure_stats(Stack())  # the aggregator's log lines: as in section 1b


# ---------------------------------------------------------------- 4. cold imports

_TIMER = (  # wall clock (the figure) and CPU time (steadier when the machine is busy)
    "import sys, time\n"
    "wall, cpu = time.perf_counter(), time.process_time()\n"
    "__import__(sys.argv[1])\n"
    "print(time.perf_counter() - wall, time.process_time() - cpu)\n"
)


def _import_env(pythonpath: list[Path], extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "POWERTOOLS_")) and key not in ("EVENTS_TABLE",)
    }
    env.update(extra)
    env.update(
        PYTHONPATH=os.pathsep.join(str(path) for path in pythonpath),
        POWERTOOLS_TRACE_DISABLED="true",  # as outside Lambda
    )
    return env


def _time_import(module: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds to import `module` in a fresh interpreter: (wall clock, CPU)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", _TIMER, module],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench: importing {module} failed:\n{result.stderr[-2000:]}")
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _import_profile(module: str, env: dict[str, str]) -> dict[str, int]:
    """Self time (us) of each module `python -X importtime` reports for importing `module`."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    times = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        times[name.strip()] = int(self_us)
    return times


@dataclass
class ImportCost:
    label: str
    runs: list[float]  # wall clock, ms
    cpu_runs: list[float]  # CPU time, ms
    extra: list[tuple[str, float]] = field(default_factory=list)  # (package, ms) beyond boto3

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_runs)


def measure_imports(runs: int) -> tuple[ImportCost, list[ImportCost]]:
    template = _load_template()
    folders = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
    envs = {}
    for name in folders:
        _, env, _ = _function_settings(template, f"functions/{name}/")
        envs[name] = _import_env([COMMON, ROOT / "functions" / name], env)
    base_env = _import_env([COMMON], {"AWS_DEFAULT_REGION": "us-east-1"})
    targets = [("boto3", "boto3", base_env)] + [(name, "app", envs[name]) for name in folders]
    wall: dict[str, list[float]] = {label: [] for label, _, _ in targets}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in targets}
    for round_ in range(runs + 1):  # round 0 warms the disk and bytecode caches, and is dropped
        for label, module, env in targets:  # interleaved: a busy moment hits every module alike
            wall_seconds, cpu_seconds = _time_import(module, env)
            if round_:
                wall[label].append(wall_seconds * 1000)
                cpu[label].append(cpu_seconds * 1000)
    boto3_cost = ImportCost("import boto3", wall["boto3"], cpu["boto3"])
    boto3_modules = _import_profile("boto3", base_env)
    handlers = []
    for name in folders:
        cost = ImportCost(f"functions/{name}/app.py", wall[name], cpu[name])
        extra: defaultdict[str, float] = defaultdict(float)  # package -> ms
        for module, self_us in _import_profile("app", envs[name]).items():
            if module not in boto3_modules:
                extra[module.split(".")[0]] += self_us / 1000
        cost.extra = heapq.nlargest(4, extra.items(), key=operator.itemgetter(1))
        handlers.append(cost)
    return boto3_cost, handlers


# ---------------------------------------------------------------- 5. notifications and propagation

RULES_MANY = 25  # eventlog.delivery.alerts.MAX_RULES_PER_APP: the most an app can have
RULE_SINGLES = 10  # single ERROR events per app in (a)
RULE_BATCHES = 1  # batches of BATCH ERROR events per app in (a)
RULES_MATCHING = 4  # of the rules added in (a), those on the names the bench sends
NOTIFY_MESSAGES = 5  # messages (SQS records) per notifier scenario, in one SQS event
NOTIFY_WINDOW_MINUTES = 10
NOTIFY_BACKGROUND = 200  # events over the window before the threshold scenario (setup)
NOTIFY_MORE_THAN = 50  # the threshold: more matching events than this in the window
PROPAGATED = 1_000
PROPAGATION_BATCH = 100
LOOPBACK_NETWORKS = "127.0.0.0/8"
BENCH_SECRET = "whsec_bench_0123456789abcdef"  # noqa: S105 - a value for the loopback receiver


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
    usage: Any  # capacity.Usage
    sent: int = 0  # webhook requests received (notifier); events received (propagator)
    note: str = ""
    part: Any = None  # capacity.Usage of a part (the propagator's heartbeat)


@dataclass
class NotifyResults:
    rules: list[RuleRun]
    notifier: list[UnitsRun]
    propagator: list[UnitsRun]
    tables: dict[str, str]  # physical name -> logical id
    seconds: float = 0.0


def make_error_event(i: int, base: datetime) -> dict[str, Any]:
    """An ERROR event, 100 ms after the previous one: the same times for every app of (a)."""
    return {
        **make_event(i, occurred=base + timedelta(milliseconds=100 * i)),
        "level": "error",
        "message": f"{NAMES[i % len(NAMES)]} failed #{i}: TimeoutError: request timed out",
    }


class NotificationQueue:
    """The notification queue in moto, emptied after each look: moto's SendMessage counts every
    message of its queue (quadratic in the queue's length), and nothing reads it here."""

    def __init__(self) -> None:
        import boto3

        from eventlog.base.config import get_settings

        self._sqs = boto3.client("sqs")
        self._url = get_settings().notification_queue_url

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
        "channels": [{"type": "webhook", "url": url, "secret": BENCH_SECRET}],
    }
    if number % 2:
        fields["condition"] = {
            "type": "threshold",
            "more_than": 10,
            "window_minutes": NOTIFY_WINDOW_MINUTES,
        }
    return AlertRuleIn.model_validate(fields)


def measure_rules(stack: Stack, queue: NotificationQueue, url: str) -> list[RuleRun]:
    """(a) The write path of apps with 0, 1 (the default) and RULES_MANY alert rules: the ingest
    requests, then the aggregator over the events they stored (one invocation each time)."""
    from eventlog.delivery import alerts
    from eventlog.models.base import Level

    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    runs = []
    for count in (0, 1, RULES_MANY):
        with stack.meter.paused():
            tenant = stack.tenant(f"bench-rules-{count}")
            [default] = alerts.list_rules(tenant.app_id, 10, None).items
            if count == 0:
                alerts.delete_rule(tenant.app_id, default.id)
            for number in range(1, count):
                alerts.create_rule(tenant.app_id, _extra_rule(number, url))
            _, rules = alerts.app_and_rules(tenant.app_id)
        if len(rules) != count:
            raise RuntimeError(f"bench: an app with {len(rules)} rules, not {count}")
        queue.drain()
        rules_label = f"{count} rule{'s' * (count != 1)}"
        singles = WriteRun(f"{rules_label}: {RULE_SINGLES} single ERROR events")
        batches = WriteRun(f"{rules_label}: {RULE_BATCHES} batch of {BATCH} ERROR events")
        single_bodies = [make_error_event(i, base) for i in range(RULE_SINGLES)]
        batch_bodies = [
            [make_error_event(i, base) for i in range(start, start + BATCH)]
            for start in range(RULE_SINGLES, RULE_SINGLES + RULE_BATCHES * BATCH, BATCH)
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
    template = json.loads((ROOT / "events" / "notifier_sqs.json").read_text())["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def measure_notifier(stack: Stack, receiver: LoopbackReceiver) -> list[UnitsRun]:
    """(b) The notifier's units per message, (event, rule) as the write path queues them."""
    from eventlog.delivery import alerts, notify_queue
    from eventlog.events import ingestion
    from eventlog.models.alerts import AlertRuleIn

    notifier = stack.functions["notifier"]
    webhook = {"type": "webhook", "url": receiver.url, "secret": BENCH_SECRET}
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

    app_id = new_app(stack, "bench-notify")
    with stack.meter.paused():  # setup: rules, then events (their writes are sections 1, 1b)
        plain = [new_rule(app_id, description=f"plain {n}") for n in range(NOTIFY_MESSAGES)]
        counted = [
            new_rule(app_id, description=f"threshold {n}", condition=threshold)
            for n in range(NOTIFY_MESSAGES)
        ]
        quiet = new_rule(app_id, description="cooldown")
        events = [
            ingestion.ingest_one(app_id, error_event(i)).event
            for i in range(2 * NOTIFY_MESSAGES + 1)
        ]
    # The threshold's window holds NOTIFY_BACKGROUND events more, spread over its minutes, which
    # the aggregator counts for the threshold rules (created first: a rule counts the events
    # counted after it exists); the messages they would queue are not sent.
    now = datetime.now(UTC)
    step = timedelta(minutes=NOTIFY_WINDOW_MINUTES) / NOTIFY_BACKGROUND
    store(
        stack,
        app_id,
        [error_event(i, now - step * (NOTIFY_BACKGROUND - i)) for i in range(NOTIFY_BACKGROUND)],
    )
    with stack.meter.paused(), unqueued():
        stack.aggregate(len(events) + NOTIFY_BACKGROUND, FILL_STREAM_BATCH)

    def bodies(rules: list[Any], chosen: list[Any]) -> list[str]:
        return [
            notify_queue.message_body(app_id, rule.id, event)
            for rule, event in zip(rules, chosen, strict=True)
        ]

    def process(label: str, batch: list[str], sent: int, receive_count: int = 1, note: str = ""):
        before = len(receiver.requests)
        with stack.meter.measure() as used:
            answer = notifier(_sqs_event(batch, receive_count))
        if answer["batchItemFailures"]:
            raise RuntimeError(f"bench: notifier, {label}: {answer['batchItemFailures']}")
        got = len(receiver.requests) - before
        if got != sent:
            raise RuntimeError(f"bench: notifier, {label}: {got} webhook requests, not {sent}")
        return UnitsRun(label, len(batch), used, got, note)

    first = bodies(plain, events[:NOTIFY_MESSAGES])
    runs = [process("(b1) no condition, 1 webhook: notified", first, NOTIFY_MESSAGES)]
    runs.append(
        process(
            f"(b2) as (b1), threshold over {NOTIFY_WINDOW_MINUTES} min: notified",
            bodies(counted, events[NOTIFY_MESSAGES : 2 * NOTIFY_MESSAGES]),
            NOTIFY_MESSAGES,
        )
    )
    buckets = runs[-1].usage.evaluated[stack.aggregates_table] / NOTIFY_MESSAGES
    kb = runs[-1].usage.evaluated_bytes[stack.aggregates_table] / NOTIFY_MESSAGES / 1024
    runs[
        -1
    ].note = (
        f" (more than {NOTIFY_MORE_THAN}: its Query read {buckets:.0f} minute buckets, {kb:.1f} KB)"
    )
    with stack.meter.paused():  # setup: the notification that starts the cooldown
        process("cooldown claimed", bodies([quiet], events[-1:]), 1)
    later = bodies([quiet] * NOTIFY_MESSAGES, events[:NOTIFY_MESSAGES])
    runs.append(process("(b3) as (b1), suppressed by the cooldown", later, 0))
    runs.append(process("(b4) (b1) redelivered: delivered before", first, 0, receive_count=2))
    return runs


def measure_propagator(stack: Stack, receiver: LoopbackReceiver) -> list[UnitsRun]:
    """(c) One subscription forwarding PROPAGATED events, then a run with nothing new."""
    from eventlog.access import apps
    from eventlog.base.config import get_settings
    from eventlog.delivery import propagation, subscriptions
    from eventlog.models.subscriptions import SubscriptionIn

    propagator = stack.functions["propagator"]
    with stack.meter.paused():  # setup: the heartbeat's app, the subscription, the events
        apps.create_app(propagation.DEFAULT_APP_NAME)
        app_id = apps.create_app("bench-propagated").id
        subscription_in = {"url": receiver.url, "secret": BENCH_SECRET}
        subscriptions.create_subscription(
            app_id,
            SubscriptionIn.model_validate({**subscription_in, "batch_size": PROPAGATION_BATCH}),
        )
    store(stack, app_id, [make_event(i) for i in range(PROPAGATED)])
    os.environ["PROPAGATION_DELAY_SECONDS"] = "0"
    get_settings.cache_clear()

    heartbeats: list[Any] = []
    write_heartbeat = propagation._write_heartbeat

    def measured_heartbeat(report: Any) -> None:  # after the round's forwarding: alone
        with stack.meter.measure() as used:
            write_heartbeat(report)
        heartbeats.append(used)

    def run(label: str, forwarded: int) -> UnitsRun:
        before = forwarded_events(receiver)
        with (
            mock.patch.object(propagation, "_write_heartbeat", measured_heartbeat),
            stack.meter.measure() as used,
        ):
            summary = propagator({})
        got = forwarded_events(receiver) - before
        if summary["delivered_events"] != forwarded or got != forwarded or summary["failed"]:
            raise RuntimeError(f"bench: propagator, {label}: {summary}, {got} events received")
        if summary["rounds"] != 1:
            raise RuntimeError(f"bench: propagator, {label}: {summary['rounds']} rounds, not 1")
        return UnitsRun(label, max(forwarded, 1), used, got, part=heartbeats[-1])

    return [
        run(f"(c1) {PROPAGATED:,} new events, batch_size {PROPAGATION_BATCH}", PROPAGATED),
        run("(c2) nothing new: one round, one subscription", 0),
    ]


def measure_notifications(stack: Stack) -> NotifyResults:
    from eventlog.base.config import get_settings
    from eventlog.delivery import notifications
    from eventlog.storage import idempotency

    started = time.monotonic()
    for name in ("notifier", "propagator"):
        stack.functions[name] = stack._load(f"functions/{name}/")
    os.environ["ALLOWED_TARGET_NETWORKS"] = LOOPBACK_NETWORKS
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"  # a purge at will
    get_settings.cache_clear()
    # The Powertools idempotency layers have clients of their own: the ingest path's
    # (Idempotency-Key) and the notifier's (decisions and deliveries).
    stack.meter.attach(idempotency._persistence().client)
    stack.meter.attach(notifications._persistence().client)
    tables = {
        str(stack.template.physical_ids[name]): name
        for name in ("EventsTable", "RegistryTable", "AggregatesTable", "IdempotencyTable")
    }
    from loopback_receiver import LoopbackReceiver

    receiver = LoopbackReceiver()
    queue = NotificationQueue()
    try:
        rules = measure_rules(stack, queue, receiver.url)
        notifier = measure_notifier(stack, receiver)
        propagator = measure_propagator(stack, receiver)
    finally:
        receiver.close()
    return NotifyResults(rules, notifier, propagator, tables, time.monotonic() - started)


def measure_notifications_apart() -> NotifyResults:
    """Section 5 in a process of its own (spawned), with its own tables, queue and topic in moto
    and its own settings (loopback targets allowed, no propagation delay)."""
    # The aggregator, the notifier and the propagator log a line per invocation, message and
    # subscription to stdout (their Powertools loggers keep the stream they found at import):
    # not into the report this process shares.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), mocked_aws():
        return measure_notifications(Stack())


# ---------------------------------------------------------------- report


@dataclass
class Target:
    description: str
    measured: float | None  # None: could not be measured
    limit: float
    unit: str = ""
    key: str = ""  # the scenario it is measured on, where a section shows it

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "ERROR"
        return "PASS" if self.measured <= self.limit + 1e-9 else "FAIL"


@dataclass
class Results:
    writes: list[WriteRun] | None = None
    small: dict[str, PageCost] | None = None
    large: dict[str, PageCost] | None = None
    stats: StatsResults | None = None
    tables: tuple[str, str] = ("EventsTable", "AggregatesTable")  # physical names in moto
    boto3_import: ImportCost | None = None
    imports: list[ImportCost] | None = None
    notifications: NotifyResults | None = None
    aggregation: AggregationResults | None = None
    errors: dict[str, str] = field(default_factory=dict)  # section -> what went wrong
    import_runs: int = IMPORT_RUNS


def _machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "?"

    return [
        f"date      {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"python    {platform.python_version()} ({platform.python_implementation()}) "
        f"on {platform.system()} {platform.release()} {platform.machine()}",
        f"cpus      {os.cpu_count()} x {cpu}",
        f"packages  boto3 {version('boto3')}, moto {version('moto')}, "
        f"aws-lambda-powertools {version('aws-lambda-powertools')}, pydantic {version('pydantic')}",
    ]


def _operations(usage: Any, events: int) -> list[str]:
    """What each DynamoDB operation did per event, e.g. 'EventsTable.PutItem 2.00 calls ...'."""
    parts = []
    for op in sorted(usage.calls):
        figures = [f"{usage.calls[op] / events:.2f} calls"]
        if usage.failed_conditions[op]:
            figures.append(f"{usage.failed_conditions[op] / events:.2f} failed conditions")
        if usage.op_write[op]:
            figures.append(f"{usage.op_write[op] / events:.2f} WCU")
        if usage.op_read[op]:
            figures.append(f"{usage.op_read[op] / events:.2f} RCU")
        parts.append(f"{op}: {', '.join(figures)}")
    for table, items in sorted(usage.stored_items.items()):
        size = usage.stored_bytes[table] / items
        parts.append(
            f"{table}: {items / events:.2f} items stored, {size:.0f} bytes each on average"
        )
    return parts


def _print_writes(writes: list[WriteRun], tables: tuple[str, str]) -> None:
    print(
        f"   {'scenario':<50} {'events':>6} {'reqs':>5} {'WCU':>8} {'WCU/event':>9} "
        f"{'RCU/req':>8} {'auth RCU/req':>12}"
    )
    for run in writes:
        handler, auth = run.handler, run.authorizer
        print(
            f"   {run.label:<50} {run.events:>6} {run.requests:>5} "
            f"{handler.write_units + auth.write_units:>8.2f} {run.wcu_per_event:>9.2f} "
            f"{handler.read_units / run.requests:>8.2f} {auth.read_units / run.requests:>12.2f}"
        )
    events_table, aggregates_table = tables
    print(
        f"   {'WCU per event, by table':<50} {'raw events':>10} {'aggregates':>10} {'total':>7}"
        f"   target"
    )
    for run in writes:
        target = f"<= {run.target:.2f}" if run.target is not None else f"none{run.note}"
        raw, aggregates = (run.table_wcu_per_event(table) for table in tables)
        total = run.wcu_per_event
        print(f"   {run.label:<50} {raw:>10.2f} {aggregates:>10.2f} {total:>7.2f}   {target}")
    print(
        f"   raw events: {events_table} (events, client event_id claims, seed 000's number "
        f"index items and counters);\n   aggregates: {aggregates_table}, which ingest no longer "
        "writes: the aggregator counts the events from\n   the events table's stream (section "
        "1b), so these figures are the request path alone. An event\n   is 1 WCU (under 1 KB); "
        "a client event_id adds its claim, 1 WCU an event (a duplicate (d) is\n   refused by "
        "both conditions, each still 1 WCU); a seed 000 event its number's index item (1 WCU)\n"
        "   and a share of the counter's block refills: blocks of 1, 2, 4... numbers, each "
        "lasting about 10 s\n   at the rate the last one went, at most 100 (here the rate is "
        "moto's, a few requests a second;\n   from 10 a second on, 0.01 WCU)."
    )
    print("   per event, by table and operation (ingest handler):")
    for run in writes:
        for number, part in enumerate(_operations(run.handler, run.events)):
            print(f"   {run.label[:3] if number == 0 else '':<3} {part}")


def _by_table(usage: Any, events: int) -> str:
    """'AggregatesTable 0.33 WCU 0.01 RCU, RegistryTable 0.01 RCU': per event, by table."""
    parts = []
    for table in sorted(set(usage.write) | set(usage.read)):
        figures = [f"{usage.write[table] / events:.3f} WCU"] if usage.write[table] else []
        if usage.read[table]:
            figures.append(f"{usage.read[table] / events:.3f} RCU")
        parts.append(f"{table} {' '.join(figures)}")
    return ", ".join(parts)


def _notes(*paragraphs: str) -> None:
    """Paragraphs of explanation, wrapped to the report's width and indented."""
    for paragraph in paragraphs:
        print(textwrap.fill(paragraph, width=100, initial_indent="   ", subsequent_indent="   "))


def _chunk_items(run: AggregationRun) -> float:
    return sum(run.writes.items_per_chunk().values())


def _over_or_within(measured: float, limit: float) -> str:
    return "over" if measured > limit + 1e-9 else "within"


def _steady_target_scope(realistic: AggregationRun, tracker: AggregationRun) -> str:
    """Which of (j)'s two scenarios the target is measured on, and why."""
    realistic_meets, tracker_meets = (
        run.total_wcu_per_event <= TARGET_STEADY_WCU + 1e-9 for run in (realistic, tracker)
    )
    if tracker_meets and not realistic_meets:
        return (
            "The target applies to the tracker-style events (j2), the one of the two that meets it."
        )
    return "The summary shows the tracker-style events (j2)."


def _print_aggregation(results: AggregationResults) -> None:
    targets = {target.key: target for target in aggregation_targets(results)}
    runs = results.runs
    g1, g2, g3, j1, j2, k = (runs[key] for key in ("g1", "g2", "g3", "j1", "j2", "k"))
    notes = {
        "g1": f"none: {len(NAMES) * len(LEVELS)} message groups, see (g)",
        "g3": "none: no message group, see (g)",
        "i1": "none: the base of (i2)",
        "j1": f"none: {j1.total_wcu_per_event:.2f} in all, "
        f"{_over_or_within(j1.total_wcu_per_event, TARGET_STEADY_WCU)} (j2)'s "
        f"{TARGET_STEADY_WCU:.2f}, see (j)",
    }
    print(
        f"   {'scenario':<46} {'events':>6} {'inv':>3} {'chunks':>6} {'request':>7} "
        f"{'aggregator':>10} {'total':>6} {'RCU/event':>9}   target"
    )
    for key, run in runs.items():
        target = targets.get(key)
        shown = f"<= {target.limit:.2f}{target.unit} {target.verdict}" if target else notes[key]
        if key == "i2":
            shown = f"(i2) / (i1) {results.names_ratio:.2f}x {shown}"
        if key == "k":
            shown = f"hottest item {results.hot_item_writes_per_second:.0f}/s {shown}"
        request = f"{run.request_wcu_per_event:.2f}" if run.request else "-"
        print(
            f"   {run.label:<46} {run.events:>6} {run.invocations:>3} "
            f"{len(run.writes.chunks):>6} {request:>7} {run.wcu_per_event:>10.2f} "
            f"{run.total_wcu_per_event:>6.2f} {run.rcu_per_event:>9.3f}   {shown}"
        )
    _notes(
        "WCU per event. request: authorizer + ingest, (j) only (the request path of the others "
        "is section 1); aggregator: its invocations over the events, stream batches of "
        f"{STREAM_BATCH} ((j): the {STEADY_RATE} events of a second); inv: invocations; chunks: "
        "transactions committed. RCU: the app's rules (once per app and invocation) and, for "
        "names and services not known yet, their items."
    )

    table = results.aggregates_table
    print(
        f"\n   {'':<5} {'the aggregator WCU per event, by what it wrote':<49}"
        "   items a chunk (one TransactWriteItems)"
    )
    print(
        f"   {'':<5} {'counted':>8} {'markers':>8} {'guards':>8} {'watermark':>9} {'share':>6}   "
        f"{'counts':>6} {'names':>6} {'services':>8} {'groups':>6} {'marker':>6} {'guards':>6} "
        f"{'all':>5}"
    )
    for key, run in runs.items():
        used, events = run.usage, run.events
        items = run.writes.items_per_chunk()
        chunks = len(run.writes.chunks)
        puts = used.op_write[f"{table}.TransactWriteItems.Put"] / events  # markers and guards
        markers = puts * chunks / (chunks + items["guards"] * chunks)
        counted = used.op_write[f"{table}.TransactWriteItems.Update"] / events
        watermark = used.op_write[f"{table}.UpdateItem"] / events
        share = (puts + watermark) / run.wcu_per_event
        widths = (6, 6, 8, 6, 6, 6)
        print(
            f"   {f'({key})':<5} {counted:>8.3f} {markers:>8.3f} {puts - markers:>8.3f} "
            f"{watermark:>9.3f} {share:>6.0%}   "
            + " ".join(
                f"{items[part]:>{width}.1f}"
                for part, width in zip(CHUNK_PARTS, widths, strict=True)
            )
            + f" {_chunk_items(run):>5.1f}"
        )
    _notes(
        "counted: the count buckets (minute, hour, day), names, services and message groups "
        "(groups) a chunk adds to; share: markers, guards and watermark updates, of the "
        "aggregator's WCU. An item written in a transaction costs twice its write units "
        "(prepare and commit): 2 WCU under 1 KB, however many events it merges. A marker per "
        "chunk, a guard on the batch's middle record when a chunk holds it, both 2 WCU; the "
        "watermark: one conditional UpdateItem (1 WCU) per app and invocation.",
        "Per table, per event:",
    )
    for key, run in runs.items():
        print(f"   {f'({key})':<5} {_by_table(run.usage, run.events)}")

    allowed = int((TARGET_FEW_GROUPS_WCU * STREAM_BATCH - 1) // 2)
    room = allowed - round(_chunk_items(g3))
    groups = f"{len(NAMES)} names x {len(LEVELS)} levels"
    print()
    _notes(
        f"(g) The <= {TARGET_FEW_GROUPS_WCU:.2f} target applies to (g2): it is stated for "
        f"{groups} with few message groups, and (g2) has one message per name, so "
        f"{len(NAMES)} groups. The bench's make_event messages (g1) name the event's name and "
        f"level, so they fingerprint into {len(NAMES) * len(LEVELS)} groups, each one more item "
        "a chunk. A chunk costs 2 WCU per item it touches, not per event: (g2) touches "
        f"{_chunk_items(g2):.0f} items a batch of {STREAM_BATCH}, {g2.wcu_per_event:.2f} WCU an "
        f"event with the watermark; (g1) {_chunk_items(g1):.0f} items, {g1.wcu_per_event:.2f}; "
        f"the same events without messages (g3) {_chunk_items(g3):.0f} items, "
        f"{g3.wcu_per_event:.2f}. {TARGET_FEW_GROUPS_WCU:.2f} WCU an event allows {allowed} "
        f"items a batch of {STREAM_BATCH} beside the watermark: the count buckets, names, "
        f"service, marker and guard leave room for {room} message group{'s' * (room != 1)}.",
        f"(j) At {STEADY_RATE} events a second, a 1 s batching window makes a stream batch of "
        f"{STEADY_RATE}. Tracker-style events (one name, no service, no message) make "
        f"{_chunk_items(j2):.0f} items a chunk: {j2.wcu_per_event:.2f} WCU an event on top of "
        f"the request's {j2.request_wcu_per_event:.2f}. make_event's names, service and message "
        f"groups make {_chunk_items(j1):.0f}: {j1.wcu_per_event:.2f}, "
        f"{j1.total_wcu_per_event:.2f} in all, "
        f"{_over_or_within(j1.total_wcu_per_event, TARGET_STEADY_WCU)} "
        f"{TARGET_STEADY_WCU:.2f}. {_steady_target_scope(j1, j2)}",
    )
    (pk, sk), writes = results.hottest()
    by_item = k.writes.writes_by_item()
    tied = sum(count == writes for count in by_item.values())
    busiest: dict[str, int] = {}
    for item, count in by_item.items():
        busiest[item_kind(item)] = max(busiest.get(item_kind(item), 0), count)
    _notes(
        f"(k) {k.events:,} events at {HOT_RATE:,}/s are one second of them: Lambda delivers "
        f"{HOT_RATE // STREAM_BATCH} batches of {STREAM_BATCH} a second per shard, so an item's "
        f"writes over them are its writes a second. The hottest items ({tied} of them, e.g. "
        f"{pk} / {sk}) were written {writes} times each; the most written item of each kind: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(busiest.items()))
        + f". At 2 WCU a write, a hottest item takes {2 * writes} WCU a second, of the 1,000 a "
        "partition allows.",
        f"Transactions cancelled (and tried again): "
        f"{sum(run.writes.cancelled for run in runs.values())}. Setup, not counted: the events "
        f"stored through ingest_batch; (i2)'s {MANY_NAMES:,} names stored and counted through "
        f"the stream in {results.fill_seconds:.0f} s. No notification is queued here (SQS, not "
        f"DynamoDB: section 5 queues them). Section 1b took {results.seconds:.0f} s, in a process "
        "of its own.",
    )


def _print_reads(small: dict[str, PageCost], large: dict[str, PageCost]) -> None:
    print(
        f"   {'page':<38} {f'{STORED_SMALL:,} stored':>15} {f'{STORED_LARGE:,} stored':>15} "
        f"{'ratio':>6}   items evaluated / Query requests"
    )
    targeted = {variant.label for variant in PAGE_VARIANTS if variant.target}
    for label, cost in small.items():
        note = "" if label.split(", page")[0] in targeted else "  (no target)"
        big = large.get(label)
        if big is None:
            print(
                f"   {label:<38} {cost.rcu:>11.2f} RCU {'(with --full)':>15} {'':>6}"
                f"   {cost.evaluated} / {cost.pages} -> ?{note}"
            )
            continue
        print(
            f"   {label:<38} {cost.rcu:>11.2f} RCU {big.rcu:>11.2f} RCU {big.rcu / cost.rcu:>6.2f}"
            f"   {cost.evaluated} / {cost.pages} -> {big.evaluated} / {big.pages}{note}"
        )
    auth = sorted({cost.authorizer_rcu for cost in (*small.values(), *large.values())})
    print(
        "   RCU: the query handler's (app lookup + Query pages); the authorizer adds "
        f"{' / '.join(f'{units:.2f}' for units in auth)} RCU a request"
    )


def _print_stats(stats: StatsResults) -> None:
    print(
        f"   since={_iso(stats.since)} until={_iso(stats.until)}, the same for both apps; the "
        f"events spread evenly over\n   those 24 hours by occurred_at: {len(NAMES)} names x "
        f"{len(LEVELS)} levels, {len(MESSAGE_SHAPES)} message shapes in {MESSAGE_GROUPS} groups"
    )
    print(
        f"   {'route':<42} {f'{STATS_SMALL:,} stored':>13} {f'{STATS_LARGE:,} stored':>15} "
        f"{'ratio':>6}   aggregate items / KB evaluated / Queries"
    )
    for route in STATS_ROUTES:
        small, large = stats.small[route.label], stats.large[route.label]
        print(
            f"   {route.label:<42} {small.rcu:>9.2f} RCU {large.rcu:>11.2f} RCU "
            f"{large.rcu / small.rcu:>6.2f}   {small.evaluated} / "
            f"{small.evaluated_bytes / 1024:.1f} / {small.queries} -> {large.evaluated} / "
            f"{large.evaluated_bytes / 1024:.1f} / {large.queries}"
        )
    costs = (*stats.small.values(), *stats.large.values())
    auth = " / ".join(f"{units:.2f}" for units in sorted({cost.authorizer_rcu for cost in costs}))
    watermark = " / ".join(f"{units:.2f}" for units in sorted({c.watermark_rcu for c in costs}))
    _notes(
        "RCU: the stats handler's: the app lookup, the app's watermark (a GetItem, "
        f"{watermark} RCU, for X-Eventlog-As-Of, on every answer) and the Queries of the "
        f"aggregates; the authorizer adds {auth} RCU a request. Items and KB: the aggregates the "
        "Queries evaluated. Statistics count whole hours (the range is widened to them), so they "
        "read hour and day buckets only, never minute ones; by-name reads the items of each name "
        "and day.",
        f"Setup, not counted: {STATS_LARGE:,} events stored through ingest_batch, then counted by "
        f"the aggregator through the events table's stream (batches of {FILL_STREAM_BATCH:,}), "
        f"in {stats.fill_seconds:.0f} s (in a process of its own).",
    )


def _print_imports(boto3_import: ImportCost, imports: list[ImportCost]) -> None:
    print(
        f"   {'module':<30} {'median ms':>9} {'x boto3':>8} {'CPU ms':>8} {'x boto3':>8}"
        "   wall clock of each run (ms)"
    )
    for cost in (boto3_import, *imports):
        runs = " ".join(f"{ms:.1f}" for ms in cost.runs)
        ratio = cost.median / boto3_import.median
        cpu_ratio = cost.cpu_median / boto3_import.cpu_median
        print(
            f"   {cost.label:<30} {cost.median:>9.2f} {ratio:>8.2f} {cost.cpu_median:>8.2f} "
            f"{cpu_ratio:>8.2f}   {runs}"
        )
    print("   (median ms: wall clock, perf_counter around the import; CPU ms: its process_time)")
    print("   imported beyond boto3, by package (self time, one run of -X importtime):")
    for cost in imports:
        print(f"   {cost.label:<30} {', '.join(f'{name} {ms:.0f} ms' for name, ms in cost.extra)}")


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


def _print_notifications(results: NotifyResults) -> None:
    registry = next(name for name, logical in results.tables.items() if logical == "RegistryTable")
    _notes(
        "(a) ingest with alert rules, then the aggregator over the events stored, one invocation "
        f"each time (the {RULE_SINGLES} single events' records in one, as a 1 s batching window "
        "gathers them): ingest only stores (it reads the app alone); the aggregator reads the app "
        "and its rules in one Query per app and invocation, counts, and queues one SQS message "
        f"per (event, matching rule) (msgs/event, not DynamoDB). {RULES_MATCHING} of the "
        f"{RULES_MANY} rules are on names sent."
    )
    print(f"   {'ingest requests':<40} {'events':>6} {'reqs':>4} {'WCU/event':>9} {'RCU/req':>7}")
    for rule_run in results.rules:
        for run in rule_run.runs:
            print(
                f"   {run.label:<40} {run.events:>6} {run.requests:>4} {run.wcu_per_event:>9.2f} "
                f"{run.handler.read_units / run.requests:>7.2f}   no target"
            )
    counts = " / ".join(str(rule_run.rules) for rule_run in results.rules)
    _print_rule_effect("ingest", [rule_run.runs for rule_run in results.rules], counts)
    print(
        f"   {'aggregator, after them':<40} {'events':>6} {'inv':>4} {'WCU/event':>9} "
        f"{'RCU/event':>9} {'Query RCU/inv':>13} {'items/KB':>9} {'extra/event':>11} "
        f"{'msgs/event':>10}"
    )
    without_rules = results.rules[0].aggregated
    for rule_run in results.rules:
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
    _print_rule_effect("aggregator", [rule_run.aggregated for rule_run in results.rules], counts)
    _notes(
        "Query RCU/inv: the read of the app and its rules (eventually consistent), once per app "
        "and invocation; items / KB: what it evaluated; extra/event: the aggregator's units (WCU "
        "+ RCU) per event beyond those of the same events in the app without rules. A rule with "
        "a condition counts the events it matches in the minute bucket the chunk writes anyway "
        "(r|<rule>)."
    )

    print(
        "\n   (b) notifier (functions/notifier/app.py): an SQS event of "
        f"{NOTIFY_MESSAGES} records, each an (event, rule);\n   rules with one webhook to "
        "127.0.0.1 and the default cooldown "
        "(300 s), a rule per record in (b1), (b2)"
    )
    print(f"   {'scenario':<52} {'msgs':>4} {'sent':>4} {'WCU/msg':>8} {'RCU/msg':>8}")
    for notified in results.notifier:
        write, read = notified.usage.write_units, notified.usage.read_units
        print(
            f"   {notified.label:<52} {notified.units:>4} {notified.sent:>4} "
            f"{write / notified.units:>8.2f} {read / notified.units:>8.2f}"
            f"   no target{notified.note}"
        )
    print("   per message, by table and operation:")
    for notified in results.notifier:
        for number, part in enumerate(_operations(notified.usage, notified.units)):
            print(f"   {notified.label[:4] if number == 0 else '':<4} {part}")

    print(
        "\n   (c) propagator (functions/propagator/app.py): one subscription to 127.0.0.1, "
        "PROPAGATION_DELAY_SECONDS=0;\n   a run is one round, its heartbeat (an event in the "
        "'default' app) included and shown apart"
    )
    print(
        f"   {'scenario':<46} {'events':>6} {'reqs':>4} {'WCU':>6} {'RCU':>6} "
        f"{'WCU/event':>9} {'RCU/event':>9}   heartbeat WCU / RCU"
    )
    for round_ in results.propagator:
        write, read = round_.usage.write_units, round_.usage.read_units
        per = (
            f"{write / round_.sent:>9.3f} {read / round_.sent:>9.3f}"
            if round_.sent
            else f"{'-':>9} " * 2
        )
        print(
            f"   {round_.label:<46} {round_.sent:>6} {round_.usage.calls.total():>4} {write:>6.2f} "
            f"{read:>6.2f} {per.rstrip():>19}   {round_.part.write_units:.2f} / "
            f"{round_.part.read_units:.2f}   no target"
        )
    print("   per run, by table and operation:")
    for round_ in results.propagator:
        for number, part in enumerate(_operations(round_.usage, 1)):
            print(f"   {round_.label[:4] if number == 0 else '':<4} {part}")
    print(
        "   reqs: DynamoDB requests. Not counted (setup): apps, rules, the subscription, the "
        f"events.\n   Section 5 took {results.seconds:.0f} s, in a process of its own."
    )


def aggregation_targets(results: AggregationResults | None) -> list[Target]:
    """Section 1b's targets (measured None when it could not be measured)."""
    runs = results.runs if results else None
    groups = f"{len(NAMES)} names x {len(LEVELS)} levels"
    return [
        Target(
            f"aggregator WCU/event, {groups}, a message per name (g2)",
            runs["g2"].wcu_per_event if runs else None,
            TARGET_FEW_GROUPS_WCU,
            key="g2",
        ),
        Target(
            "aggregator WCU per event, every event a new name (h)",
            runs["h"].wcu_per_event if runs else None,
            TARGET_NEW_NAMES_WCU,
            key="h",
        ),
        Target(
            f"aggregator WCU per event, {MANY_NAMES:,} vs {FEW_NAMES} names that day (i)",
            results.names_ratio if results else None,
            TARGET_NAMES_RATIO,
            "x",
            key="i2",
        ),
        Target(
            f"WCU per event, {STEADY_RATE}/s single tracker events, with aggregation (j2)",
            runs["j2"].total_wcu_per_event if runs else None,
            TARGET_STEADY_WCU,
            key="j2",
        ),
        Target(
            f"writes/s on the hottest aggregate item at {HOT_RATE:,} events/s (k)",
            results.hot_item_writes_per_second if results else None,
            TARGET_HOT_ITEM_WRITES,
            key="k",
        ),
    ]


def targets_of(results: Results) -> list[Target]:
    targets = []
    writes = results.writes
    for index, description, limit in (
        (0, "WCU per event, single events (a)", TARGET_SINGLE_WCU),
        (1, f"WCU per event, plain batches of {BATCH} (b)", TARGET_BATCH_WCU),
        (2, f"WCU per event, batches of {BATCH} with client event_ids (c)", TARGET_EVENT_ID_WCU),
    ):
        measured = writes[index].wcu_per_event if writes else None
        targets.append(Target(description, measured, limit, key=f"{'abc'[index]}"))
    targets += aggregation_targets(results.aggregation)
    for label in (variant.label for variant in PAGE_VARIANTS if variant.target):
        ratio = None
        if results.small and results.large:
            ratio = results.large[label].rcu / results.small[label].rcu
        description = f"page RCU, {STORED_LARGE:,} vs {STORED_SMALL:,} stored, {label}"
        targets.append(Target(description, ratio, TARGET_PAGE_RATIO, "x"))
    for label in (route.label for route in STATS_ROUTES):
        ratio = None
        if results.stats:
            ratio = results.stats.large[label].rcu / results.stats.small[label].rcu
        description = f"stats RCU, {STATS_LARGE:,} vs {STATS_SMALL:,} stored, {label}"
        targets.append(Target(description, ratio, TARGET_STATS_RATIO, "x"))
    if results.imports and results.boto3_import:
        for cost in results.imports:
            ratio = cost.median / results.boto3_import.median
            description = f"cold import {cost.label} vs boto3"
            targets.append(Target(description, ratio, TARGET_IMPORT_RATIO, "x"))
    else:
        targets.append(
            Target("cold import of the handlers vs boto3", None, TARGET_IMPORT_RATIO, "x")
        )
    return targets


_T = TypeVar("_T")


def _measured(result: _T | None) -> _T:
    """A section's result, shown only when the section has no error: `main` sets one or the
    other."""
    assert result is not None, "a section without an error has its result"
    return result


def report(results: Results, seconds: float) -> list[Target]:
    rule = "-" * 100
    print("Eventlog benchmark")
    print(rule)
    for fact in _machine():
        print(fact)
    print(rule)
    sections = (
        ("writes", "1. DynamoDB write request units per ingested event: the request path",
         "POST /apps/{app_id}/events ((f): POST /events): authorizer + ingest handler, "
         "tables in moto",
         lambda: _print_writes(_measured(results.writes), results.tables)),
        ("aggregation", "1b. Aggregation (the events table's stream): the aggregator's write "
                        "units per event",
         f"{AGGREGATOR}app.py, invoked by the local stack's stream poller (the template's "
         f"mapping,\n   BatchSize {STREAM_BATCH}), tables and stream in moto",
         lambda: _print_aggregation(_measured(results.aggregation))),
        ("reads", f"2. Read request units for one page of events (limit {PAGE_LIMIT})",
         "GET /apps/{app_id}/events: authorizer + query handler, tables in moto",
         lambda: _print_reads(_measured(results.small), _measured(results.large))),
        ("stats", "3. Read request units for one statistics request, "
                  f"{STATS_SMALL:,} vs {STATS_LARGE:,} events stored",
         "GET /apps/{app_id}/stats/<route>: authorizer + stats handler, tables in moto",
         lambda: _print_stats(_measured(results.stats))),
        ("imports", f"4. Cold import of each handler, {results.import_runs} fresh runs",
         "PYTHONPATH=layers/common/python:functions/<name>, tracing disabled (as outside Lambda)",
         lambda: _print_imports(_measured(results.boto3_import), _measured(results.imports))),
        ("notifications", "5. Notifications and propagation: DynamoDB request units",
         "ingest with alert rules and the aggregator, the notifier, the propagator: AWS in moto, "
         "HTTP to 127.0.0.1",
         lambda: _print_notifications(_measured(results.notifications))),
    )  # fmt: skip
    for key, title, subtitle, show in sections:
        print(f"\n{title}\n   {subtitle}")
        if key in results.errors:
            print(f"   NOT MEASURED: {results.errors[key]}")
        else:
            show()

    targets = targets_of(results)
    print("\nSummary")
    print(f"   {'target':<68} {'measured':>9} {'limit':>10}  result")
    for target in targets:
        measured = "-" if target.measured is None else f"{target.measured:.2f}{target.unit}"
        limit = f"<= {target.limit:.2f}{target.unit}"
        print(f"   {target.description:<68} {measured:>9} {limit:>10}  {target.verdict}")
    verdicts = Counter(target.verdict for target in targets)
    print(
        f"   {verdicts['PASS']} passed, {verdicts['FAIL']} failed, "
        f"{verdicts['ERROR']} not measured; {seconds:.0f} s"
    )
    print(
        "\nHow capacity is counted: every DynamoDB request the core's client"
        "\n(eventlog.storage.db.client(), which the handlers use, the aggregator included) sends"
        "\nis priced by tools/capacity.py"
        "\nwith DynamoDB's documented rules (the stream poller's own calls are Lambda's: not"
        "\ncounted): writes ceil(item size / 1 KB) per item (the larger of before and after; failed"
        "\nconditional writes included: a failed UpdateItem is priced on the item as it stands, at"
        "\nleast 1; x2 in transactions; plus index entries), reads ceil(size / 4 KB), x0.5 unless"
        "\nstrongly consistent. A Query page is priced on every item it evaluated before its"
        "\nfilter: the page is sent again without its filter to an unhooked client (same key range,"
        "\nstart key and Limit), and that count is checked against the page's ScannedCount."
    )
    return targets


def _describe(error: BaseException) -> str:
    traceback.print_exception(error, file=sys.stderr)
    return f"{type(error).__name__}: {error} (traceback on stderr)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--runs", type=int, default=IMPORT_RUNS, help="import timings per module")
    parser.add_argument(
        "--full", action="store_true", help="also the unbounded filter at 10,000 events (+1 min)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    sys.path[:0] = [str(COMMON), str(ROOT / "tools")]
    _isolate_aws()
    results = Results(import_runs=args.runs)

    spawn = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(1, mp_context=spawn) as apart,
        # a fresh process per section: the core's clients and caches live as long as it does
        ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as after,
    ):
        stats = apart.submit(measure_stats_apart)
        aggregation = after.submit(measure_aggregation_apart)
        with mocked_aws():
            try:
                stack = Stack()
                results.tables = (stack.events_table, stack.aggregates_table)
                results.writes, tenant = measure_writes(stack)
            except Exception as error:
                results.errors["writes"] = results.errors["reads"] = _describe(error)
            else:
                try:
                    results.small, results.large = measure_reads(stack, tenant, args.full)
                except Exception as error:
                    results.errors["reads"] = _describe(error)
        # Section 5 after section 1b, once sections 1 and 2 are done, beside section 3's setup.
        notifications = after.submit(measure_notifications_apart)
        try:
            results.aggregation = aggregation.result()
        except Exception as error:
            results.errors["aggregation"] = _describe(error)
        try:
            results.stats = stats.result()
        except Exception as error:
            results.errors["stats"] = _describe(error)
        try:
            results.notifications = notifications.result()
        except Exception as error:
            results.errors["notifications"] = _describe(error)
    try:
        results.boto3_import, results.imports = measure_imports(args.runs)
    except Exception as error:
        results.errors["imports"] = _describe(error)

    targets = report(results, time.monotonic() - started)
    if results.errors:
        return 2  # a broken run, not a measurement
    return 1 if args.check and any(target.verdict != "PASS" for target in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
