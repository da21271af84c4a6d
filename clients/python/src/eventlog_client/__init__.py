"""Eventlog's Python SDK: a background-batching `Client`, a logging `EventlogHandler`, and the
`eventlog` command line (`eventlog_client.cli`)."""

from eventlog_client.client import Client
from eventlog_client.delivery import Backoff
from eventlog_client.handler import EventlogHandler
from eventlog_client.transport import ApiError

__all__ = ["ApiError", "Backoff", "Client", "EventlogHandler"]
__version__ = "0.1.0"
