"""The service as the bench drives it: the local stack's own pieces (template, resources, runtime,
gateway, stream poller) over moto, and a capacity meter on the core's DynamoDB clients.

Requests go through the local stack's gateway in-process (no HTTP): routes from the template,
the REQUEST authorizer invoked first (ReauthorizeEvery: 0, as on AWS), the API key checked, the
proxy event API Gateway sends. Each function's handler is wrapped so that what its invocation
consumed is known apart from the others' (authorizer, handler). The aggregator is invoked by
the local stack's stream poller, synchronously (`aggregate`). Setup (apps, keys, filling
tables) goes through the core's public functions, with the meter paused.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import boto3
from capacity import CapacityMeter, Usage

from local_stack.apis import RouteTable, load_apis, load_routes
from local_stack.authorizer import AccessControl
from local_stack.drivers import load_drivers
from local_stack.events import HttpRequest
from local_stack.gateway import Gateway
from local_stack.resources import MotoEndpoint, assign_physical_ids, aws_environment, provision
from local_stack.runtime import LambdaFunction, load_function
from local_stack.streams import DrainSummary, StreamPoller
from local_stack.template import Template

# The core (eventlog) is imported where it is used, and as little as possible: a change of the
# core then breaks the one section that uses it, which the report says, not the whole bench.

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

# The template's functions (logical ids).
AUTHORIZER = "AuthorizerFunction"
INGEST = "IngestFunction"
QUERY = "QueryFunction"
STATS = "StatsFunction"
ADMIN = "AdminFunction"
AGGREGATOR = "AggregatorFunction"
NOTIFIER = "NotifierFunction"
PROPAGATOR = "PropagatorFunction"

# Stream records per invocation when traffic fills a batch: the template's AggregatorBatchSize.
STREAM_BATCH = int(Template.load(TEMPLATE).parameters["AggregatorBatchSize"])
FILL_STREAM_BATCH = 1_000  # setup only (not measured): the largest batch the template allows
# Webhooks and subscriptions to the bench's receiver on loopback (the only address it contacts),
# and events forwarded as soon as they are stored.
DELIVERY_PARAMETERS = {"AllowedTargetNetworks": "127.0.0.0/8", "PropagationDelaySeconds": "0"}
RECEIVER_SECRET = "whsec_bench_0123456789abcdef"  # noqa: S105 - signs what goes to the receiver


def isolate_aws() -> None:
    """Fake credentials, one region, nothing from the developer's AWS config."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    fake = aws_environment(endpoint_url="")
    del fake["AWS_ENDPOINT_URL"]  # moto in-process, unless on_moto_server says where
    os.environ.update(fake)


@contextlib.contextmanager
def in_process_moto(parameters: dict[str, str] | None = None) -> Iterator[Stack]:
    """A Stack in moto in-process, its TransactWriteItems patched as the local stack does:
    moto's own copies every table a transaction names, whole, which would make each of the
    aggregator's chunk transactions slower as the aggregates grow (local_stack.moto_patches)."""
    import moto  # a heavy import, and its hooks must come before any client is made

    from local_stack import moto_patches

    moto_patches.apply()
    with moto.mock_aws():
        yield Stack(parameters)


@contextlib.contextmanager
def on_moto_server(parameters: dict[str, str] | None = None) -> Iterator[tuple[Stack, str]]:
    """A Stack in moto's server on 127.0.0.1 (other processes can reach it), and its URL."""
    endpoint = MotoEndpoint()
    url = endpoint.start()
    os.environ.update(aws_environment(url))
    try:
        yield Stack(parameters), url
    finally:
        endpoint.stop()


def core_dynamodb_clients() -> list[Any]:
    """Every client the core sends DynamoDB requests with: its own (`db.client()`) and those of
    the Powertools idempotency layers (Idempotency-Key on ingest; the notifier's records)."""
    from eventlog.storage import db, idempotency

    layers = (idempotency._persistence(), idempotency.notifier_persistence())
    clients = [db.client(), *(layer.client for layer in layers)]
    return list({id(client): client for client in clients}.values())  # each hooked once


@dataclass
class Reply:
    status: int
    body: Any
    handler: Usage  # what the route's function consumed
    authorizer: Usage


@dataclass
class Tenant:
    app_id: int
    ingest_key: str
    user_key: str


class _Functions(dict[str, LambdaFunction]):
    """The template's functions by logical id, each imported on first use (a section needs a
    few of them; the gateway asks for those its routes reach)."""

    def __init__(self, load: Callable[[str], LambdaFunction]):
        super().__init__()
        self._load = load

    def __missing__(self, logical_id: str) -> LambdaFunction:
        function = self[logical_id] = self._load(logical_id)
        return function


class Stack:
    """The template's resources in the current moto, its functions, the gateway, a meter."""

    def __init__(self, parameters: dict[str, str] | None = None):
        self.template: Template = Template.load(TEMPLATE, parameters)
        assign_physical_ids(self.template)
        provisioned = provision(self.template)
        self.used: dict[str, Usage] = {}  # logical id -> what its last invocation consumed
        self.functions = _Functions(self._metered_function)
        # The authorizer first: every request needs it, and loading a function applies the
        # environment the core reads (table names...) before anything calls the core.
        self.functions[AUTHORIZER]
        apis = load_apis(self.template, provisioned.usage_plans)
        self.gateway: Gateway = Gateway(
            RouteTable(load_routes(self.template, apis)),
            apis,
            self.functions,
            AccessControl(self.functions),
        )
        self.meter: CapacityMeter = CapacityMeter(boto3.client("dynamodb"))  # not hooked itself
        self.operations: Counter[str] = Counter()  # every DynamoDB operation the core sent
        for client in core_dynamodb_clients():
            self.meter.attach(client)
            client.meta.events.register("before-call.dynamodb", self._count_operation)
        self.events_table = str(self.template.physical_ids["EventsTable"])
        self.aggregates_table = str(self.template.physical_ids["AggregatesTable"])

    def _metered_function(self, logical_id: str) -> LambdaFunction:
        function = load_function(self.template, logical_id)
        handler = function.handler

        def metered(event: dict[str, Any], context: Any) -> Any:
            with self.meter.measure() as used:
                result = handler(event, context)
            self.used[logical_id] = used
            return result

        function.handler = metered
        return function

    def _count_operation(self, model: Any, **_: Any) -> None:
        self.operations[model.name] += 1

    @property
    def scans(self) -> int:
        """Scan requests sent by the core: a Scan on a request path is a defect (DESIGN.md)."""
        return self.operations["Scan"]

    # -------------------------------------------------------- requests through the gateway

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        query: dict[str, str] | None = None,
        body: Any = None,
    ) -> Reply:
        """One request as a client sends it; an answer of 300 or more is an error of the run."""
        all_headers = {"Accept": "application/json", "Host": "bench.local", **headers}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        self.used.clear()
        response = self.gateway.handle(
            HttpRequest(
                method=method,
                path=path,
                query=urlencode(query or {}),
                headers=list(all_headers.items()),
                body=b"" if body is None else json.dumps(body).encode(),
            )
        )
        reply_body = json.loads(response.body) if response.body else None
        if response.status >= 300:
            raise RuntimeError(f"bench: {method} {path} answered {response.status}: {reply_body}")
        authorizer = self.used.pop(AUTHORIZER)
        (handler,) = self.used.values()
        return Reply(response.status, reply_body, handler, authorizer)

    def post_events(self, tenant: Tenant, body: Any) -> Reply:
        headers = {"X-INGEST-KEY": tenant.ingest_key}
        return self.request("POST", f"/apps/{tenant.app_id}/events", headers, body=body)

    def post_seed_000_event(self, tenant: Tenant, body: Any) -> Reply:
        return self.request("POST", "/events", {"X-INGEST-KEY": tenant.ingest_key}, body=body)

    def list_events(self, tenant: Tenant, query: dict[str, str]) -> Reply:
        headers = {"x-api-key": tenant.user_key}
        return self.request("GET", f"/apps/{tenant.app_id}/events", headers, query)

    def get_stats(self, tenant: Tenant, route: str, query: dict[str, str]) -> Reply:
        headers = {"x-api-key": tenant.user_key}
        return self.request("GET", f"/apps/{tenant.app_id}/stats/{route}", headers, query)

    # -------------------------------------------------------- the events table's stream

    @cached_property
    def stream(self) -> StreamPoller:
        """The AggregatorFunction's event source mapping on the events table's stream, as the
        local stack builds it (BatchSize, FilterCriteria, retries from the template)."""
        drivers = load_drivers(self.template, {AGGREGATOR: self.functions[AGGREGATOR]}).drivers
        (poller,) = [driver for driver in drivers if isinstance(driver, StreamPoller)]
        return poller

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

    # -------------------------------------------------------- setup through the core

    def new_app(self, name: str) -> int:
        """A new app's id (setup: not counted)."""
        from eventlog.access import apps

        with self.meter.paused():
            return int(apps.create_app(name).id)

    def tenant(self, name: str) -> Tenant:
        """An app with its ingest key and a user key (setup: not counted)."""
        from eventlog.access import apps, keys
        from eventlog.access.principal import Role
        from eventlog.models.admin import KeyIn

        with self.meter.paused():
            created = apps.create_app(name)
            user = keys.create_key(KeyIn(role=Role.USER, app_id=created.id, label="bench"))
        return Tenant(app_id=created.id, ingest_key=created.ingest_key, user_key=user.key)

    def store(self, app_id: int, events: list[dict[str, Any]]) -> None:
        """Store events through the core's `ingest_batch`, in order, so the stream holds them as
        listed (setup: not counted; the request path is section 1)."""
        from eventlog.events import ingestion
        from eventlog.models.base import MAX_BATCH

        accepted = 0
        with self.meter.paused():
            for start in range(0, len(events), MAX_BATCH):
                chunk = events[start : start + MAX_BATCH]
                accepted += ingestion.ingest_batch(app_id, chunk).accepted
        if accepted != len(events):
            raise RuntimeError(f"bench: storing {len(events)} events: {accepted} accepted")


@contextlib.contextmanager
def unqueued() -> Iterator[None]:
    """The aggregator counts without queueing notifications (setup fills, and section 1b):
    moto's SendMessage counts every message of its queue, so the thousands of messages the
    ERROR events would queue (by the default rule every app has) would take it minutes, growing
    with the square. Queueing consumes no DynamoDB capacity (section 5 queues, and counts)."""
    from eventlog.delivery import notify_queue

    with mock.patch.object(notify_queue, "enqueue_matches", return_value=0):
        yield
