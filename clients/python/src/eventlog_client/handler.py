"""EventlogHandler: Python logging into an Eventlog app, in one line of setup.

    logging.getLogger().addHandler(EventlogHandler(url=URL, key=KEY, app_id=2))

A record becomes an event: its level, its logger's name as `service` (as the service's own
parser of Python log lines does), its message, the exception with its stack, and the fields
given in `extra=` in `data`. The client's queue and batching apply: `emit` never blocks.
"""

from __future__ import annotations

import logging
import os
import traceback
from types import TracebackType
from typing import Any

from eventlog_client.client import Client
from eventlog_client.delivery import utc_timestamp

# Everything a LogRecord has of its own: the rest of its attributes came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
_LEVELS = ((logging.CRITICAL, "CRITICAL"), (logging.ERROR, "ERROR"), (logging.WARNING, "WARNING"))
# The client's own logger: its records are never sent (a failing send would log, and send...).
_OWN_LOGGER = "eventlog_client"
# The API's limits: a longer message or service would get the event rejected.
MAX_MESSAGE = 10_000
MAX_LABEL = 200


def level_name(levelno: int) -> str:
    """The API's level for a logging level; custom levels go to the named level below them."""
    for threshold, name in _LEVELS:
        if levelno >= threshold:
            return name
    return "INFO" if levelno >= logging.INFO else "DEBUG"


def stack_of(exc_info: tuple[type[BaseException], BaseException, TracebackType | None]) -> dict:
    kind, error, trace = exc_info
    frames = [
        {"file": frame.filename, "line": frame.lineno, "function": frame.name, "code": frame.line}
        for frame in traceback.extract_tb(trace)
    ]
    return {
        "type": kind.__name__,
        "value": str(error),
        "frames": frames,
        "text": "".join(traceback.format_exception(kind, error, trace)),
    }


class EventlogHandler(logging.Handler):
    """Sends log records through `client`, or a Client built from url, key (or token) and
    app_id (default: the environment's EVENTLOG_URL, EVENTLOG_KEY, EVENTLOG_APP_ID).
    `service` names the service instead of each record's logger name."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        url: str | None = None,
        key: str | None = None,
        app_id: int | None = None,
        level: int = logging.NOTSET,
        service: str | None = None,
        **client_options: Any,
    ):
        super().__init__(level)
        self._owns_client = client is None
        if client is None:
            client = Client(
                url or os.environ["EVENTLOG_URL"],
                key or os.environ.get("EVENTLOG_KEY"),
                app_id=app_id or int(os.environ["EVENTLOG_APP_ID"]),
                **client_options,
            )
        self.client = client
        self.service = service

    def to_event(self, record: logging.LogRecord) -> dict[str, Any]:
        event: dict[str, Any] = {
            "level": level_name(record.levelno),
            "message": record.getMessage()[:MAX_MESSAGE],
            "service": (self.service or record.name)[:MAX_LABEL],
            "occurred_at": utc_timestamp(record.created),
            "tags": {"logger": record.name, "module": record.module, "line": record.lineno},
        }
        extra = {
            name: value for name, value in vars(record).items() if name not in _RECORD_ATTRIBUTES
        }
        if extra:
            event["data"] = extra
        if record.exc_info and record.exc_info[0] is not None:
            event["stack"] = stack_of(record.exc_info)
        elif record.stack_info:
            event["stack"] = {"text": record.stack_info}
        return event

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == _OWN_LOGGER or record.name.startswith(_OWN_LOGGER + "."):
            return
        try:
            self.client.send_event(self.to_event(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.client.flush(timeout=5.0)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        super().close()
