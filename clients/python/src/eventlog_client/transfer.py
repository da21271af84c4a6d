"""`eventlog import` and `eventlog export`.

Import reads NDJSON, CSV (a header row) or text logs, in batches of 100 lines:

- NDJSON and CSV lines become events here and go to `POST /apps/{app}/events`, each batch with
  an Idempotency-Key made of the run's id and the batch's place in the file, and a body that is
  the same on every attempt: a batch sent again (a retry, or a resumed import) is answered as
  the first time and stored once. An exported event's `id` becomes its `event_id`, so importing
  one export twice into an app stores its events once.
- Text lines go one by one to `POST /logs` (seed 002), which parses every format the service
  knows (syslog, access logs, Python logging, logfmt, `LEVEL message`), into the credential's
  app (with an admin key, through a token minted for the chosen app). That route has no
  deduplication: a resumed import may store again the lines of the batches in flight when it
  stopped (at most `parallel` batches).

After each batch (in file order) the state file beside the input records where the import is;
running the same command again resumes from there. Lines the service refused are written to
`<input>.rejected`, as they were.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from eventlog_client.client import Client
from eventlog_client.delivery import Backoff, Batch, Outcome, encode, post_batch
from eventlog_client.terminal import Progress
from eventlog_client.transport import Transport

BATCH_LINES = 100
FORMATS = ("ndjson", "csv", "text")
# Set by the service: an exported event's are dropped (its id becomes the event_id).
SERVER_FIELDS = frozenset({"id", "app_id", "received_at", "number", "sent_at"})
EVENT_FIELDS = frozenset(
    {
        "occurred_at",
        "level",
        "message",
        "name",
        "service",
        "count",
        "data",
        "stack",
        "tags",
        "event_id",
    }
)
ALIASES = {
    "timestamp": "occurred_at",
    "@timestamp": "occurred_at",
    "time": "occurred_at",
    "ts": "occurred_at",
    "msg": "message",
    "severity": "level",
    "levelname": "level",
}
LEVEL_ALIASES = {"WARN": "WARNING", "ERR": "ERROR", "FATAL": "CRITICAL", "TRACE": "DEBUG"}
TOKEN_SECONDS = 3600


class ImportProblem(Exception):
    """The import cannot start (an unreadable state file, a changed input...)."""


@dataclass
class Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, outcome: Outcome) -> None:
        self.accepted += outcome.accepted
        self.duplicates += outcome.duplicates
        self.rejected += outcome.rejected + outcome.failed


@dataclass
class State:
    """Where an import is: written after every batch, removed when it is done."""

    input: str
    app_id: int
    format: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    offset: int = 0  # bytes of the input done
    lines: int = 0  # lines of the input done
    header: list[str] | None = None  # a CSV file's columns
    counts: Counts = field(default_factory=Counts)

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(self)))
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> State:
        values = json.loads(path.read_text())
        values["counts"] = Counts(**values["counts"])
        return cls(**values)


@dataclass
class Line:
    number: int
    text: str
    event: dict[str, Any] | None = None  # None: refused before sending (not an event)


@dataclass
class Chunk:
    lines: list[Line]
    end_offset: int  # bytes of the input read
    end_line: int  # lines of the input read


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    with open(path, "rb") as file:
        first = file.readline().lstrip()
    return "ndjson" if first.startswith(b"{") else "text"


def to_event(values: dict[str, Any]) -> dict[str, Any]:
    """An event from a JSON object or a CSV row: the service's fields kept (its own set ones
    dropped: an exported event's id becomes its event_id), common aliases understood
    (timestamp, msg, severity...), anything else in `data`."""
    event: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == "" or name in SERVER_FIELDS:
            continue
        target = ALIASES.get(name, name)
        if target in EVENT_FIELDS and target not in event:
            event[target] = value
        else:
            data[name] = value
    if isinstance(event.get("level"), str):
        level = event["level"].strip().upper()
        event["level"] = LEVEL_ALIASES.get(level, level)
    if values.get("id") and "event_id" not in event:
        event["event_id"] = str(values["id"])
    if data:
        event["data"] = {**data, **(event["data"] if isinstance(event.get("data"), dict) else {})}
    return event


def _csv_values(row: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = dict(row)
    for name in ("data", "stack", "tags"):
        if (values.get(name) or "").startswith("{"):
            values[name] = json.loads(values[name])
    if (values.get("count") or "").isdigit():
        values["count"] = int(values["count"])
    return values


class Importer:
    """One import of `path` into `app_id` (see the module's doc)."""

    def __init__(
        self,
        client: Client,
        path: Path,
        *,
        format: str | None = None,
        state_path: Path | None = None,
        parallel: int = 4,
        progress: Progress | None = None,
        backoff: Backoff | None = None,
    ):
        self.client = client
        self.path = path
        self.format = format or detect_format(path)
        self.state_path = state_path or path.with_name(path.name + ".eventlog-state")
        self.rejected_path = path.with_name(path.name + ".rejected")
        self.parallel = max(1, parallel)
        self.progress = progress
        self.backoff = backoff or Backoff()

    def run(self) -> Counts:
        state = self._state()
        send = self._sender(state)
        with (
            open(self.path, "rb") as file,
            open(self.rejected_path, "a", encoding="utf-8") as rejects,
        ):
            file.seek(state.offset)
            in_flight: deque[tuple[Chunk, Future[list[Outcome]]]] = deque()
            with ThreadPoolExecutor(self.parallel) as pool:
                for chunk in self._chunks(file, state):
                    in_flight.append((chunk, pool.submit(send, chunk)))
                    if len(in_flight) >= self.parallel:
                        self._record(state, *in_flight.popleft(), rejects)
                while in_flight:
                    self._record(state, *in_flight.popleft(), rejects)
        self.state_path.unlink(missing_ok=True)
        if self.progress:
            self.progress.finish()
        return state.counts

    def _state(self) -> State:
        if self.state_path.exists():
            state = State.load(self.state_path)
            if state.input != str(self.path.resolve()) or state.app_id != self.client.app_id:
                raise ImportProblem(
                    f"{self.state_path} is the state of another import ({state.input} into app "
                    f"{state.app_id}): remove it, or pass --state"
                )
            if self.path.stat().st_size < state.offset:
                raise ImportProblem(
                    f"{self.path} is shorter than when it was imported: remove {self.state_path}"
                )
            self.format = state.format
            if self.progress:
                self.progress.resume_at(state.offset, state.lines)
            return state
        self.rejected_path.unlink(missing_ok=True)
        return State(input=str(self.path.resolve()), app_id=self.client.app_id, format=self.format)

    def _chunks(self, file: IO[bytes], state: State) -> Iterator[Chunk]:
        lines: list[Line] = []
        offset, number = state.offset, state.lines
        for raw in file:
            offset += len(raw)
            number += 1
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if self.format == "csv" and state.header is None:
                state.header = next(csv.reader([text]))
                continue
            if not text.strip():
                continue
            lines.append(self._parse(number, text, state))
            if len(lines) == BATCH_LINES:
                yield Chunk(lines, offset, number)
                lines = []
        if lines or offset != state.offset:
            yield Chunk(lines, offset, number)

    def _parse(self, number: int, text: str, state: State) -> Line:
        if self.format == "text":
            return Line(number, text, {"text": text})
        try:
            if self.format == "csv":
                row = next(csv.reader(io.StringIO(text)))
                values = _csv_values(dict(zip(state.header or [], row)))
            else:
                values = json.loads(text)
        except (ValueError, StopIteration):
            return Line(number, text)
        return Line(number, text, to_event(values) if isinstance(values, dict) else None)

    def _sender(self, state: State) -> Callable[[Chunk], list[Outcome]]:
        if self.format == "text":
            transport = self._log_transport()
            return lambda chunk: [self._post_log(transport, line) for line in chunk.lines]

        def send(chunk: Chunk) -> list[Outcome]:
            events = [encode(line.event) for line in chunk.lines if line.event is not None]
            if not events:
                return []
            key = f"import-{state.run_id}-{chunk.end_offset}"
            # The same body on every attempt (no sent_at: a file's times are not this clock).
            batch = Batch(events, idempotency_key=key, sent_at="never")
            return [
                post_batch(
                    self.client.transport,
                    self.client.app_id,
                    batch,
                    backoff=self.backoff,
                )
            ]

        return send

    def _log_transport(self) -> Transport:
        """/logs writes into the credential's app: with an admin key, a token of the app."""
        transport = self.client.transport
        reply = transport.exchange(
            "POST",
            "/tokens",
            body=json.dumps(
                {"role": "ingest", "app_id": self.client.app_id, "expires_in": TOKEN_SECONDS}
            ).encode(),
        )
        if reply.status != 201:  # not an admin: the key is the app's own
            return transport
        return Transport(transport.url, token=reply.body["token"], timeout=transport.timeout)

    def _post_log(self, transport: Transport, line: Line) -> Outcome:
        attempt = 0
        while True:
            try:
                reply = transport.exchange(
                    "POST",
                    "/logs",
                    body=line.text.encode(),
                    headers={"Content-Type": "text/plain"},
                    ingest=True,
                )
                if not reply.retryable:
                    if reply.status == 201:
                        return Outcome(accepted=1)
                    return Outcome(rejected=1, rejections=[(0, reply.body)])
            except OSError:
                reply = None
            time.sleep(self.backoff.delay(attempt, reply))
            attempt += 1

    def _record(
        self, state: State, chunk: Chunk, future: Future[list[Outcome]], rejects: IO[str]
    ) -> None:
        sent = [line for line in chunk.lines if line.event is not None]
        refused = [line for line in chunk.lines if line.event is None]
        for position, outcome in enumerate(future.result()):
            state.counts.add(outcome)
            # Text: one outcome per line; events: one per batch, rejections by index.
            lines = sent[position : position + 1] if self.format == "text" else sent
            refused += [lines[index] for index, _ in outcome.rejections if 0 <= index < len(lines)]
            if any(index < 0 for index, _ in outcome.rejections):
                refused += lines  # the whole batch was refused
        state.counts.rejected += sum(1 for line in chunk.lines if line.event is None)
        for line in sorted(refused, key=lambda line: line.number):
            rejects.write(line.text + "\n")
        rejects.flush()
        state.offset = chunk.end_offset
        state.lines = chunk.end_line
        state.save(self.state_path)
        if self.progress:
            self.progress.update(state.offset, state.lines)


def export(client: Client, out: IO[str], progress: Progress | None = None, **filters: Any) -> int:
    """Write the app's events (newest first, as listed) as NDJSON; returns how many."""
    written = 0
    for event in client.events(**filters):
        out.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
        written += 1
        if progress:
            progress.update(written, written)
    if progress:
        progress.finish()
    return written
