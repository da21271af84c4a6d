"""The local stack over HTTP (integration and contract tests): a session on its URL whose reads
wait, as a client would, until the statistics count what was written."""

import functools
import threading
import time
from datetime import datetime
from typing import Any

import boto3
import botocore.config
import requests

from local_stack import LocalStackProcess

# (integration and contract tests)
# The stream's records go to the aggregator as soon as they are read: no batching window, so a
# test waits for its statistics about a poll (a tenth of a second), not a second.
TEST_STACK_PARAMETERS = {"AggregatorBatchingWindowSeconds": "0"}


class EventRecords:
    """The events table's stream from where it stopped last time: the records of events (what
    the aggregator's FilterCriteria lets through), as GetRecords returns them."""

    def __init__(self, stream_arn: str, **client_options: Any):
        # moto does not know botocore's account-based streams endpoint.
        config = botocore.config.Config(account_id_endpoint_mode="disabled")
        self._streams = boto3.client("dynamodbstreams", config=config, **client_options)
        shard = self._streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=shard["Shards"][0]["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            reply = self._streams.get_records(ShardIterator=self._iterator)
            self._iterator = reply["NextShardIterator"]
            if not reply["Records"]:
                return records
            records += [
                record
                for record in reply["Records"]
                if record["dynamodb"]["Keys"]["sk"]["S"].startswith("E#")
            ]


class Watermarks:
    """Waits, as a client would, until each app's statistics count what was written to it.

    It reads the events table's stream on the stack's moto (from where it stopped last time):
    each event record says which app changed and when (an event's received_at, a deletion's
    time), which is what the aggregator's watermark (`X-Eventlog-As-Of`) reaches once it has
    counted the change. `settle()` waits for every app changed since the last call.
    """

    DEADLINE_SECONDS = 90  # a bound on a slow machine, not a wait: it returns once caught up

    def __init__(self, endpoint_url: str):
        options = {
            "endpoint_url": endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self._aggregates = boto3.client("dynamodb", **options)
        table = self._aggregates.describe_table(TableName="EventsTable")["Table"]
        self._records = EventRecords(table["LatestStreamArn"], **options)
        self._lock = threading.Lock()

    def _changes(self) -> dict[int, float]:
        """The newest change of each app since the last call (epoch seconds)."""
        newest: dict[int, float] = {}
        for record in self._records.read():
            change = record["dynamodb"]
            app_id = int(change["Keys"]["pk"]["S"].removeprefix("APP#"))
            image = change.get("NewImage") if record["eventName"] == "INSERT" else None
            at = (
                datetime.fromisoformat(image["received_at"]["S"].replace("Z", "+00:00"))
                if image
                else change["ApproximateCreationDateTime"]
            ).timestamp()
            newest[app_id] = max(at, newest.get(app_id, 0.0))
        return newest

    def _as_of(self, app_id: int) -> float:
        item = self._aggregates.get_item(
            TableName="AggregatesTable",
            Key={"pk": {"S": f"APP#{app_id}#AS_OF"}, "sk": {"S": "AS_OF"}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["as_of_ms"]["N"]) / 1000 if item else 0.0

    def settle(self) -> None:
        with self._lock:
            waiting = self._changes()
            deadline = time.monotonic() + self.DEADLINE_SECONDS
            while waiting:
                waiting = {
                    app_id: at
                    for app_id, at in waiting.items()
                    if self._as_of(app_id) + 0.0005 < at  # as_of is kept in whole milliseconds
                }
                if waiting and time.monotonic() > deadline:
                    raise AssertionError(f"statistics did not catch up with apps {waiting}")
                if waiting:
                    time.sleep(0.05)


@functools.cache
def _watermarks(endpoint_url: str) -> Watermarks:
    return Watermarks(endpoint_url)


def settle(stack: LocalStackProcess) -> None:
    """Wait until the stack's statistics count every change made so far (see Watermarks)."""
    _watermarks(stack.endpoint_url).settle()


class StackSession(requests.Session):
    """A requests session for the stack: absolute URLs, or paths on the stack's URL
    (`http.get("/health")`); a 30 s timeout unless told otherwise. Credentials go per call:
    `http.get("/apps", headers=http.admin)`, `headers=http.ingest` (the default app's key)."""

    def __init__(self, stack: LocalStackProcess):
        super().__init__()
        self.stack = stack
        self.base_url = stack.url
        self.admin = {"x-api-key": stack.admin_key}
        self.ingest = {"X-INGEST-KEY": stack.ingest_key}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        if method in ("GET", b"GET"):
            settle(self.stack)  # reads see what was written, as once X-Eventlog-As-Of caught up
        return super().request(method, url, *args, **kwargs)
