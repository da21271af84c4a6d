"""Benchmark: DynamoDB request units per event, the read cost of a page and of statistics, cold
handler imports.

    make bench
    PYTHONPATH=layers/common/python:tools .venv/bin/python tools/bench.py [--check] [--runs N]

Exit status: 0 (a measurement, not a test) unless --check is given and a target is missed (1);
2 when a section could not be measured at all.

Requests go through the handlers as API Gateway sends them (REST proxy events built from the
samples in events/, the REQUEST authorizer invoked first, as ReauthorizeEvery: 0 does on AWS),
against the template's tables provisioned in moto in-process. Capacity is computed per request
from DynamoDB's documented rules by `capacity.CapacityMeter` (moto's own figures are not
reliable): see tools/capacity.py for the rules. Setup (apps, keys, filling tables) is not counted.
Every ingest request also updates the aggregates (eventlog.aggregation): its write units include
them, shown apart per table. The statistics (section 3) run in a process of their own, beside
sections 1 and 2, for the minutes their setup takes in moto.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

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
FILL_CHUNK = 1_000  # events per ingest_batch call when filling for statistics (setup)
IMPORT_RUNS = 5

# Targets: (key, description, limit). Measured values must be <= limit.
TARGET_SINGLE_WCU = 6.0
TARGET_BATCH_WCU = 2.0  # the plain batches (b); (c) with client event_ids is reported only
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
            for name in ("authorizer", "ingest", "query", "stats")
        }
        from eventlog import db

        self.meter = CapacityMeter(boto3.client("dynamodb"))  # a client of its own: not hooked
        self.meter.attach(db.client())  # the core's client, which every handler uses
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

    def tenant(self, name: str) -> Tenant:
        """An app with its ingest key and a user key (setup: created through the core)."""
        from eventlog import apps, keys
        from eventlog.models.admin import KeyIn
        from eventlog.principal import Role

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

    a = WriteRun("(a) single events, one per request", TARGET_SINGLE_WCU)
    for i in range(SINGLES):
        a.add(stack.post_events(single, make_event(i)), 1)

    b = WriteRun(f"(b) {BATCHES} batches of {BATCH}, 5 names x 3 levels", TARGET_BATCH_WCU)
    ingest_batches(stack, plain, b, 0, BATCHES, ids="")

    c = WriteRun(
        "(c) as (b), every event with a client event_id", note=" (2.00 before aggregation)"
    )
    ingest_batches(stack, with_ids, c, 0, BATCHES, ids="bench")

    d = WriteRun(f"(d) {RESENT} batches of (c) sent again: all duplicates")
    ingest_batches(stack, with_ids, d, 0, RESENT, ids="bench")

    e = WriteRun(f"(e) {LATE_HOURS} batches as (b), each an hour earlier (late)")
    ingest_late(stack, late, e)

    runs = [a, b, c, d, e]
    outcomes = ("accepted", "accepted", "accepted", "duplicate", "accepted")
    for run, outcome in zip(runs, outcomes, strict=True):
        if run.outcomes != Counter({outcome: run.events}):
            raise RuntimeError(f"bench: {run.label}: expected all {outcome}, got {run.outcomes}")
    return runs, plain


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
# (eventlog.fingerprint): the variable parts are an email and an address, a UUID and a number,
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
    """Store `total` events over the 24 hours through the core's `ingest_batch` (setup: not
    counted), in time order and FILL_CHUNK at a time.

    Larger batches than the API takes, only for speed: an aggregate update costs moto tens of ms,
    and every batch updates its minute, hour and day buckets and each message group it holds
    (here ~8 updates for 100 events, ~20 for 1,000). The aggregates come out the same however
    the events are batched (exact counts, the first message as sample, the latest time as
    last_seen), and the statistics read nothing else."""
    from eventlog import ingestion

    accepted = 0
    with stack.meter.paused(), mock.patch.object(ingestion, "MAX_BATCH", FILL_CHUNK):
        for start in range(0, total, FILL_CHUNK):
            end = min(start + FILL_CHUNK, total)
            body = [make_stats_event(i, total, since) for i in range(start, end)]
            accepted += ingestion.ingest_batch(tenant.app_id, body).accepted
    if accepted != total:
        raise RuntimeError(f"bench: filling {total} events for statistics: {accepted} accepted")


@dataclass
class StatsCost:
    rcu: float  # the stats handler's read units (app lookup + aggregates Queries)
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
    fill_seconds: float  # setup: storing the STATS_LARGE events


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
    with its own tables in moto: its setup, minutes of moto's CPU, runs beside sections 1 and 2
    (request units do not depend on timing; the import timings of section 4 wait for both)."""
    import moto

    with moto.mock_aws():
        return measure_stats(Stack())


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
        extra: Counter[str] = Counter()
        for module, self_us in _import_profile("app", envs[name]).items():
            if module not in boto3_modules:
                extra[module.split(".")[0]] += self_us / 1000
        cost.extra = extra.most_common(4)
        handlers.append(cost)
    return boto3_cost, handlers


# ---------------------------------------------------------------- report


@dataclass
class Target:
    description: str
    measured: float | None  # None: could not be measured
    limit: float
    unit: str = ""

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
        f"   raw events: {events_table} (events, client event_id claims); aggregates: "
        f"{aggregates_table}. The <= {TARGET_BATCH_WCU:.2f} target\n"
        "   applies to the plain batches (b); a client event_id adds its claim, 1 WCU an event."
    )
    print("   per event, by table and operation (ingest handler):")
    for run in writes:
        for number, part in enumerate(_operations(run.handler, run.events)):
            print(f"   {run.label[:3] if number == 0 else '':<3} {part}")


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
    auth = sorted({cost.authorizer_rcu for cost in costs})
    print(
        "   RCU: the stats handler's (app lookup + Queries of the aggregates); the authorizer adds "
        f"{' / '.join(f'{units:.2f}' for units in auth)} RCU\n   a request. Items and KB: the "
        "aggregates the Queries evaluated. Statistics count whole hours (the range\n   is widened "
        "to them), so they read hour and day buckets only, never minute ones.\n"
        f"   Setup, not counted: {STATS_LARGE:,} events stored through ingest_batch in "
        f"{stats.fill_seconds:.0f} s (in a process of its own)."
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


def targets_of(results: Results) -> list[Target]:
    targets = []
    writes = results.writes
    single = writes[0].wcu_per_event if writes else None
    targets.append(Target("WCU per event, single events (a)", single, TARGET_SINGLE_WCU))
    plain = writes[1].wcu_per_event if writes else None
    targets.append(Target(f"WCU per event, plain batches of {BATCH} (b)", plain, TARGET_BATCH_WCU))
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


def report(results: Results, seconds: float) -> list[Target]:
    rule = "-" * 100
    print("Eventlog benchmark")
    print(rule)
    for fact in _machine():
        print(fact)
    print(rule)
    sections = (
        ("writes", "1. DynamoDB write request units per ingested event, aggregates included",
         "POST /apps/{app_id}/events: authorizer + ingest handler, tables in moto",
         lambda: _print_writes(results.writes, results.tables)),
        ("reads", f"2. Read request units for one page of events (limit {PAGE_LIMIT})",
         "GET /apps/{app_id}/events: authorizer + query handler, tables in moto",
         lambda: _print_reads(results.small, results.large)),
        ("stats", "3. Read request units for one statistics request, "
                  f"{STATS_SMALL:,} vs {STATS_LARGE:,} events stored",
         "GET /apps/{app_id}/stats/<route>: authorizer + stats handler, tables in moto",
         lambda: _print_stats(results.stats)),
        ("imports", f"4. Cold import of each handler, {results.import_runs} fresh runs",
         "PYTHONPATH=layers/common/python:functions/<name>, tracing disabled (as outside Lambda)",
         lambda: _print_imports(results.boto3_import, results.imports)),
    )  # fmt: skip
    for key, title, subtitle, show in sections:
        print(f"\n{title}\n   {subtitle}")
        if key in results.errors:
            print(f"   NOT MEASURED: {results.errors[key]}")
        else:
            show()

    targets = targets_of(results)
    print("\nSummary")
    print(f"   {'target':<68} {'measured':>9} {'limit':>9}  result")
    for target in targets:
        measured = "-" if target.measured is None else f"{target.measured:.2f}{target.unit}"
        limit = f"<= {target.limit:.2f}{target.unit}"
        print(f"   {target.description:<68} {measured:>9} {limit:>9}  {target.verdict}")
    verdicts = Counter(target.verdict for target in targets)
    print(
        f"   {verdicts['PASS']} passed, {verdicts['FAIL']} failed, "
        f"{verdicts['ERROR']} not measured; {seconds:.0f} s"
    )
    print(
        "\nHow capacity is counted: every DynamoDB request the core's client (eventlog.db.client(),"
        "\nwhich the handlers use) sends is priced by tools/capacity.py with DynamoDB's documented"
        "\nrules: writes ceil(item size / 1 KB) per item (the larger of before and after; failed"
        "\nconditional writes included: a failed UpdateItem is priced on the item as it stands, at"
        "\nleast 1; x2 in transactions; plus index entries), reads"
        "\nceil(size / 4 KB), x0.5 unless strongly consistent. A Query page is priced on every item"
        "\nit evaluated before its filter: the page is sent again without its filter to an unhooked"
        "\nclient (same key range, start key and Limit), and that count is checked against the"
        "\npage's ScannedCount."
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

    import moto

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as apart:
        stats = apart.submit(measure_stats_apart)
        with moto.mock_aws():
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
        try:
            results.stats = stats.result()
        except Exception as error:
            results.errors["stats"] = _describe(error)
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
