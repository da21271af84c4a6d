"""Section 4: the cold start of each function, against the minimal Powertools stack and bare boto3.

A cold start is a new Python process that imports a handler and answers its first request: timed
inside the process (bench/first_request.py), from its first line to the handler's answer. So an
import deferred from import time to the first request gains nothing: it is inside the measure.
The whole process's wall time (the interpreter's start and exit included) is shown beside it.

Every function of the template is measured, and two handlers written for the comparison
(bench/baselines/, each copied alone into a folder of its own): the minimal Powertools stack,
which no API handler may exceed, and bare boto3, which the authorizer may exceed by 30% at most.
The first requests: API Gateway's events from events/ (authorizer, API handlers, the minimal
stack), a stream batch of the events table as Lambda delivers it (aggregator), an SQS message as
the aggregator queues it (notifier), a schedule's event (propagator). They are answered against
moto's server on 127.0.0.1, holding the template's resources and what the requests read (an app,
keys, events and their counts, alert rules, a subscription); webhooks and forwarded events go to
a receiver on 127.0.0.1. A process's figure is the median of its runs; the processes take turns,
in an order reversed every round, after a warm-up round that is dropped (disk and bytecode caches).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import boto3
from loopback_receiver import LoopbackReceiver

from bench.report import WIDTH, notes
from bench.section import Options, Section, Target
from bench.stack import (
    ADMIN,
    AGGREGATOR,
    AUTHORIZER,
    DELIVERY_PARAMETERS,
    EVENTS,
    INGEST,
    NOTIFIER,
    PROPAGATOR,
    QUERY,
    RECEIVER_SECRET,
    STATS,
    Stack,
    Tenant,
    on_moto_server,
    unqueued,
)
from bench.workload import make_event
from local_stack.resources import aws_environment
from local_stack.runtime import FUNCTION_TYPES, function_config, layer_paths
from local_stack.streams import StreamPoller
from local_stack.template import ACCOUNT_ID, REGION

DRIVER = Path(__file__).with_name("first_request.py")
BASELINES = Path(__file__).with_name("baselines")
MINIMAL = "minimal Powertools stack"
BARE_BOTO3 = "bare boto3"
SHORT_NAMES = {MINIMAL: "minimal", BARE_BOTO3: "boto3"}  # in the report's table
TARGET_API_RATIO = 1.0  # an API handler vs the minimal Powertools stack
TARGET_AUTHORIZER_RATIO = 1.3  # the authorizer vs bare boto3
API_FUNCTIONS = (INGEST, QUERY, STATS, ADMIN)
STORED = 50  # events of the app the API handlers read (query, stats)
FORWARDED = 10  # new events the propagator forwards in each of its runs
PROFILE_TOP = 6  # packages shown per process in the import profile


# ---------------------------------------------------------------- the processes measured


@dataclass
class Handler:
    """A handler whose cold start is measured: what its process runs, and its first requests."""

    label: str
    code_dir: Path
    entry: str  # "module.attribute", the template's Handler
    environment: dict[str, str]
    context: dict[str, Any]  # the Lambda context's values
    next_event: Callable[[], dict[str, Any]]  # the event of its next first request (setup)
    problem: Callable[[Any], str | None]  # what is wrong with its answer, if anything
    baseline: str | None = None  # the label of the process it is compared against
    target: float | None = None  # the most its median may be, as a multiple of the baseline's


def _sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def _with_path(event: dict[str, Any], resource: str, **parameters: str) -> dict[str, Any]:
    """The event on `resource` with these path parameters: path, pathParameters, context."""
    path = resource.format(**parameters)
    context = event["requestContext"]
    event.update(resource=resource, path=path, pathParameters=parameters or None)
    context.update(resourcePath=resource, path=f"/{context['stage']}{path}")
    if "methodArn" in event:
        arn = event["methodArn"].split("/")
        event["methodArn"] = "/".join([*arn[:2], event["httpMethod"]]) + path
    return event


def _with_query(event: dict[str, Any], query: str) -> dict[str, Any]:
    pairs = parse_qsl(query)
    event["queryStringParameters"] = dict(pairs) or None
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in pairs} or None
    return event


def _with_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    event["headers"][name] = value
    event["multiValueHeaders"][name] = [value]
    return event


def _api_problem(answer: Any) -> str | None:
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    return None if isinstance(status, int) and 200 <= status < 300 else f"answered {answer}"


def _policy_problem(answer: Any) -> str | None:
    effects = {statement["Effect"] for statement in answer["policyDocument"]["Statement"]}
    return None if effects == {"Allow"} else f"refused: {answer}"


def _batch_problem(answer: Any) -> str | None:
    return f"failed records: {answer}" if answer.get("batchItemFailures") else None


class FirstRequests:
    """The data the first requests read, made in moto's server through the core (setup, not
    measured), and each function's next first request."""

    def __init__(self, stack: Stack, receiver: LoopbackReceiver) -> None:
        from eventlog.delivery import subscriptions
        from eventlog.models.subscriptions import SubscriptionIn
        from eventlog.storage.registry import DEFAULT_APP_NAME

        self.stack, self.receiver = stack, receiver
        # What the reads read stays the same run after run (moto's Query takes longer as a
        # partition grows): the writes go to an app of their own.
        self.reader: Tenant = stack.tenant("bench-cold-start-read")
        self.writer: Tenant = stack.tenant("bench-cold-start-written")
        stack.store(self.reader.app_id, [make_event(i) for i in range(STORED)])
        with unqueued():
            stack.aggregate(STORED)
        stack.new_app(DEFAULT_APP_NAME)  # where the propagator writes its heartbeat
        self.forwarding_app = stack.new_app("bench-cold-start-forwarded")
        subscription = SubscriptionIn.model_validate(
            {"url": receiver.url, "secret": RECEIVER_SECRET, "batch_size": 100}
        )
        subscriptions.create_subscription(self.forwarding_app, subscription)
        self.baseline_table = str(stack.template.physical_ids["RegistryTable"])
        boto3.client("dynamodb").put_item(
            TableName=self.baseline_table,
            Item={"pk": {"S": f"BENCH#{self.reader.user_key}"}, "sk": {"S": "ITEM"}},
        )
        self.stream_batches: list[dict[str, Any]] = []
        self._stream = self._captured_stream()
        self._next_stream_batch()  # the events above: from now on, what each run's setup sends
        self.notified = 0  # runs of the notifier so far: an app of its own each
        self.webhooks_before = 0  # webhook requests the receiver had before the notifier's run

    def _captured_stream(self) -> StreamPoller:
        """The aggregator's stream mapping (its filter, its batches), delivering to a list."""

        def capture(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            self.stream_batches.append(event)
            return {"batchItemFailures": []}

        aggregator = dataclasses.replace(self.stack.stream.function, handler=capture)
        return StreamPoller(aggregator, self.stack.stream.mapping)

    # -------------------------------------------------------- API Gateway's events

    def authorizer(self) -> dict[str, Any]:
        event = _sample("authorizer_request")
        _with_path(event, "/apps/{app_id}/events", app_id=str(self.reader.app_id))
        return _with_header(event, "x-api-key", self.reader.user_key)

    def api(self, sample: str, tenant: Tenant, resource: str, query: str | None) -> dict[str, Any]:
        """The sample on the tenant's app (its authorizer's context too), with this query
        string rather than the sample's if one is given."""
        event = _sample(sample)
        app_id = str(tenant.app_id)
        _with_path(event, resource, app_id=app_id)
        authorizer = event["requestContext"]["authorizer"]
        if authorizer["app_id"]:  # a key of the app (an admin's has none)
            authorizer["app_id"] = app_id
        return event if query is None else _with_query(event, query)

    def minimal(self) -> dict[str, Any]:
        event = _with_path(_sample("ingest_single"), "/items/{item_id}", item_id="1")
        event["body"] = json.dumps({"name": "checkout", "level": "error"})
        return event

    # -------------------------------------------------------- the others' events

    def stream_batch(self) -> dict[str, Any]:
        """A batch of the events table's stream as the aggregator's mapping delivers it: the
        events of events/ingest_batch.json (those it holds that are valid), sent now."""
        sample = json.loads(_sample("ingest_batch")["body"])
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.stack.post_events(self.writer, [{**event, "occurred_at": now} for event in sample])
        return self._next_stream_batch()

    def _next_stream_batch(self) -> dict[str, Any]:
        with contextlib.redirect_stderr(io.StringIO()):  # the poller's line per batch
            self._stream.drain()
        (batch,) = self.stream_batches
        self.stream_batches.clear()
        return batch

    def notification(self) -> dict[str, Any]:
        """An SQS event of one message as the aggregator queues it: an ERROR event and a rule of
        a new app (a rule notifies once per cooldown), its webhook the bench's receiver."""
        from eventlog.delivery import alerts, notify_queue
        from eventlog.events import ingestion
        from eventlog.models.alerts import AlertRuleIn

        self.notified += 1
        self.webhooks_before = len(self.receiver.requests)
        app_id = self.stack.new_app(f"bench-cold-start-notified-{self.notified}")
        channel = {"type": "webhook", "url": self.receiver.url, "secret": RECEIVER_SECRET}
        rule = alerts.create_rule(app_id, AlertRuleIn.model_validate({"channels": [channel]}))
        stored = ingestion.ingest_one(app_id, {**make_event(0), "level": "error"}).event
        event = _sample("notifier_sqs")
        record = {**event["Records"][0], "messageId": str(uuid.uuid4())}
        record["body"] = notify_queue.message_body(app_id, rule.id, stored)
        return {"Records": [record]}

    def notifier_problem(self, answer: Any) -> str | None:
        delivered = len(self.receiver.requests) - self.webhooks_before
        return _batch_problem(answer) or (None if delivered == 1 else f"{delivered} webhooks")

    def schedule(self) -> dict[str, Any]:
        """The schedule's event, FORWARDED new events waiting for the subscription."""
        self.stack.store(self.forwarding_app, [make_event(i) for i in range(FORWARDED)])
        return _sample("propagator_schedule")

    def of_function(
        self, logical_id: str
    ) -> tuple[Callable[[], dict[str, Any]], Callable[[Any], str | None]]:
        """A function's next first request, and what is wrong with an answer to it."""
        api_requests = {  # (sample, tenant, resource, query)
            INGEST: ("ingest_single", self.writer, "/apps/{app_id}/events", None),
            QUERY: ("query_list", self.reader, "/apps/{app_id}/events", None),
            # The sample's range is a day of its own: the last 24 hours (the default) hold data.
            STATS: (
                "stats_timeseries",
                self.reader,
                "/apps/{app_id}/stats/timeseries",
                "interval=HOUR&level=ERROR",
            ),
            ADMIN: ("admin_get_app", self.reader, "/apps/{app_id}", None),
        }
        if logical_id in api_requests:
            sample, tenant, resource, query = api_requests[logical_id]
            return (lambda: self.api(sample, tenant, resource, query)), _api_problem
        others = {
            AUTHORIZER: (self.authorizer, _policy_problem),
            AGGREGATOR: (self.stream_batch, _batch_problem),
            NOTIFIER: (self.notification, self.notifier_problem),
            PROPAGATOR: (self.schedule, self.propagator_problem),
        }
        return others[logical_id]

    @staticmethod
    def propagator_problem(answer: Any) -> str | None:
        if answer.get("delivered_events") != FORWARDED or answer.get("failed"):
            return f"forwarded {answer}"
        return None


def _handlers(stack: Stack, url: str, requests: FirstRequests, scratch: Path) -> list[Handler]:
    """Every function of the template, then the two baselines: each process with the
    environment Lambda would give it (the template's variables, the layer on the path), and AWS
    in moto's server."""
    template = stack.template
    pythonpath = os.pathsep.join(str(path) for path in layer_paths(template))
    base = {name: os.environ[name] for name in ("PATH",) if name in os.environ}
    base.update(aws_environment(url), PYTHONPATH=pythonpath)
    handlers = []
    for logical_id, _ in template.of_type(*FUNCTION_TYPES):
        config = function_config(template, logical_id)
        next_event, problem = requests.of_function(logical_id)
        baseline = BARE_BOTO3 if logical_id == AUTHORIZER else MINIMAL
        target = TARGET_API_RATIO if logical_id in API_FUNCTIONS else None
        handlers.append(
            Handler(
                label=config.code_dir.name,
                code_dir=config.code_dir,
                entry=config.handler,
                environment={**base, **config.environment},
                context=_context(config.name, config.memory, config.timeout),
                next_event=next_event,
                problem=problem,
                baseline=baseline,
                target=TARGET_AUTHORIZER_RATIO if logical_id == AUTHORIZER else target,
            )
        )
    return handlers + _baselines(stack, base, requests, scratch)


def _baselines(
    stack: Stack, base: dict[str, str], requests: FirstRequests, scratch: Path
) -> list[Handler]:
    """The minimal Powertools stack, then bare boto3: each app.py alone in a folder, with the
    ingest function's settings (log level, metrics namespace) and a table to read."""
    settings = function_config(stack.template, INGEST)
    environment = {**base, **settings.environment, "BENCH_TABLE": requests.baseline_table}
    baselines = []
    for label, source, next_event, problem, compared_to in (
        (MINIMAL, "powertools_app.py", requests.minimal, _api_problem, BARE_BOTO3),
        (BARE_BOTO3, "boto3_app.py", requests.authorizer, _policy_problem, None),
    ):
        code_dir = scratch / source.removesuffix(".py")
        code_dir.mkdir()
        shutil.copyfile(BASELINES / source, code_dir / "app.py")
        baselines.append(
            Handler(
                label=label,
                code_dir=code_dir,
                entry="app.lambda_handler",
                environment={**environment, "POWERTOOLS_SERVICE_NAME": code_dir.name},
                context=_context(f"bench-{code_dir.name}", settings.memory, settings.timeout),
                next_event=next_event,
                problem=problem,
                baseline=compared_to,
            )
        )
    return baselines


def _context(name: str, memory: int, timeout: float) -> dict[str, Any]:
    """The Lambda context's values but the request's id (each run's own, see `_run`)."""
    return {
        "function_name": name,
        "invoked_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        "memory_limit_in_mb": memory,
        "timeout_seconds": timeout,
        "log_group_name": f"/aws/lambda/{name}",
    }


# ---------------------------------------------------------------- measuring


@dataclass
class ColdStart:
    """A process's cold starts, run by run, and its import profile: (package, ms) of the modules
    it imports that its baseline does not, the largest first."""

    label: str
    baseline: str | None
    target: float | None
    first_answer_ms: list[float] = field(default_factory=list)  # inside the process
    import_ms: list[float] = field(default_factory=list)  # of that, to the handler imported
    process_ms: list[float] = field(default_factory=list)  # the whole process, from outside
    profile: list[tuple[str, float]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.first_answer_ms)

    @property
    def request_ms(self) -> list[float]:
        """The first request of each run, the import aside."""
        runs = zip(self.first_answer_ms, self.import_ms, strict=True)
        return [answer - imported for answer, imported in runs]


@dataclass
class ColdStartResult:
    starts: dict[str, ColdStart]  # by label, in the table's order
    runs: int
    profiled: bool

    def ratio(self, start: ColdStart) -> float | None:
        if start.baseline is None:
            return None
        return start.median / self.starts[start.baseline].median


def _run(handler: Handler, scratch: Path, flags: tuple[str, ...] = ()) -> tuple[Any, str, float]:
    """One cold start of the handler: (what first_request.py wrote, its stderr, the process's
    wall time in ms)."""
    request, answer = scratch / "request.json", scratch / "answer.json"
    request_id = uuid.uuid4()
    request.write_text(
        json.dumps(
            {
                "code_dir": str(handler.code_dir),
                "handler": handler.entry,
                "event": handler.next_event(),
                "context": {
                    **handler.context,
                    "aws_request_id": str(request_id),
                    "log_stream_name": f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{request_id.hex}",
                },
            }
        )
    )
    answer.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.run(  # noqa: S603 - our interpreter, our driver, fixed arguments
        [sys.executable, *flags, str(DRIVER), str(request), str(answer)],
        env=handler.environment,
        cwd=scratch,
        stdout=subprocess.DEVNULL,  # the handler's log lines
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if process.returncode != 0 or not answer.exists():
        raise RuntimeError(f"bench: {handler.label}'s cold start failed:\n{process.stderr[-3000:]}")
    written = json.loads(answer.read_text())
    problem = handler.problem(written["answer"])
    if problem:
        raise RuntimeError(f"bench: {handler.label}'s first request {problem[:2000]}")
    return written, process.stderr, wall_ms


def _import_profile(handler: Handler, scratch: Path) -> dict[str, int]:
    """Self time (us) of each module `python -X importtime` reports for one cold start, the
    imports made while answering the first request included."""
    _, stderr, _ = _run(handler, scratch, ("-X", "importtime"))
    times = {}
    for line in stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _cumulative, name = line.removeprefix("import time:").split("|")
            times[name.strip()] = int(self_us)
    return times


def _package(module: str) -> str:
    """What a module's import time is shown under: the module, or its package three levels down
    (eventlog.models.events, aws_lambda_powertools.utilities.idempotency)."""
    return ".".join(module.split(".")[:3])


def _beyond(profile: dict[str, int], baseline: dict[str, int]) -> list[tuple[str, float]]:
    """The packages of the modules a process imports that its baseline does not, by self time
    (ms), largest first."""
    extra: defaultdict[str, float] = defaultdict(float)
    for module, self_us in profile.items():
        if module not in baseline:
            extra[_package(module)] += self_us / 1000
    return sorted(extra.items(), key=lambda item: item[1], reverse=True)


def measure(options: Options) -> ColdStartResult:
    runs = 1 if options.quick else options.runs
    warm_up = 0 if options.quick else 1  # a round that warms the caches, and is dropped
    receiver = LoopbackReceiver()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-cold-start-") as folder,
            on_moto_server(DELIVERY_PARAMETERS) as (stack, url),
        ):
            scratch = Path(folder)
            handlers = _handlers(stack, url, FirstRequests(stack, receiver), scratch)
            starts = {h.label: ColdStart(h.label, h.baseline, h.target) for h in handlers}
            for round_ in range(warm_up + runs):
                for handler in handlers if round_ % 2 == 0 else handlers[::-1]:
                    written, _, wall_ms = _run(handler, scratch)
                    if round_ >= warm_up:
                        start = starts[handler.label]
                        start.first_answer_ms.append(written["first_request_ms"])
                        start.import_ms.append(written["import_ms"])
                        start.process_ms.append(wall_ms)
            if not options.quick:
                profiles = {
                    handler.label: _import_profile(handler, scratch) for handler in handlers
                }
                for start in starts.values():
                    start.profile = _beyond(
                        profiles[start.label], profiles.get(start.baseline or "", {})
                    )
            return ColdStartResult(starts, runs, profiled=not options.quick)
    finally:
        receiver.close()


# ---------------------------------------------------------------- report


def show(result: ColdStartResult) -> None:
    print(
        f"   {'process':<24} {'first answer':>12} {'import':>7} {'request':>8} {'process':>8}   "
        f"{'ratio':>6}  {'vs':<8} target"
    )
    for start in result.starts.values():
        ratio = result.ratio(start)
        shown_ratio = "-" if ratio is None else f"{ratio:.2f}x"
        target = "-"
        if start.target is not None and ratio is not None:
            verdict = "PASS" if ratio <= start.target + 1e-9 else "FAIL"
            target = f"<= {start.target:.2f}x {verdict}"
        figures = (start.import_ms, start.request_ms, start.process_ms)
        import_ms, request_ms, process_ms = (statistics.median(runs) for runs in figures)
        vs = SHORT_NAMES.get(start.baseline or "", "")
        print(
            f"   {start.label:<24} {start.median:>9.0f} ms {import_ms:>7.0f} {request_ms:>8.0f} "
            f"{process_ms:>8.0f}   {shown_ratio:>6}  {vs:<8} {target}"
        )
    notes(
        f"Medians of {result.runs} run{'s' * (result.runs != 1)}, ms. first answer: inside the "
        "process, from its first line to the handler's answer to its first request; import: of "
        "that, to the handler imported; request: the rest, the first request itself; process: "
        "the whole process, from outside (the "
        "interpreter's start and exit included). ratio: of the first answers, to the baseline "
        f"named (minimal: the {MINIMAL}; boto3: {BARE_BOTO3}). The API handlers' target is the "
        f"minimal stack's time, the authorizer's {TARGET_AUTHORIZER_RATIO:g}x bare boto3's; the "
        "others are shown against the minimal stack, without a target."
    )
    print("   first answer, each run (ms, in the order measured):")
    for start in result.starts.values():
        print(f"   {start.label:<24} {' '.join(f'{ms:.0f}' for ms in start.first_answer_ms)}")
    if not result.profiled:
        print("   (no import profile in the quick round)")
        return
    print(
        "   imported beyond the baseline's modules, by package (self time, ms, one run of "
        "python -X importtime,\n   the imports of the first request included):"
    )
    for start in result.starts.values():
        total = sum(ms for _, ms in start.profile)
        shown = ", ".join(f"{package} {ms:.0f}" for package, ms in start.profile[:PROFILE_TOP])
        print(
            textwrap.fill(
                f"{start.label:<24} {total:.0f} ms: {shown}",
                width=WIDTH,
                initial_indent="   ",
                subsequent_indent=" " * 28,
            )
        )


def targets(result: ColdStartResult | None, options: Options) -> list[Target]:
    if result is None:
        return [
            Target(f"cold start, API handlers vs the {MINIMAL}", None, TARGET_API_RATIO, "x"),
            Target(f"cold start, authorizer vs {BARE_BOTO3}", None, TARGET_AUTHORIZER_RATIO, "x"),
        ]
    return [
        Target(f"cold start, {start.label} vs {start.baseline}", result.ratio(start), limit, "x")
        for start in result.starts.values()
        if (limit := start.target) is not None
    ]


SECTION = Section(
    key="coldstart",
    title="4. Cold starts: a new process imports the handler and answers its first request",
    subtitle="functions/<name>/app.py and the baselines of bench/baselines/, with the template's "
    "environment and layer; AWS in moto's server on 127.0.0.1",
    measure=measure,
    show=show,
    targets=targets,
)
