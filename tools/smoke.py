"""Checks a running stage end to end, as a client would: `make smoke URL=... ADMIN=...`.

    python tools/smoke.py [--url URL] [--admin KEY] [--wait SECONDS]   (default: $URL, $ADMIN)

Creates an app, ingests a batch with its ingest key, reads it back (list and get), waits for
the statistics to count it (they follow the events table's stream), then cleans up: deletes the
events, waits for the statistics to drop them, revokes the app's keys and checks that its
ingest key is refused. The API deletes no apps: an empty `smoke-...` app without keys stays.
Prints one line a step; exits 1 at the first failure, saying what was expected. Standard library
only, so it runs anywhere python3 does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api_client import ApiFailure, Client

EVENT_NAME = "smoke.check"
# What the batch holds, per level: the statistics must come to the same counts.
BATCH_LEVELS = {"ERROR": 2, "INFO": 1}
POLL_SECONDS = 1.0


class SmokeFailure(ApiFailure):
    """A step did not get the answer it expects."""


@dataclass
class Smoke:
    client: Client
    wait_seconds: float
    app: dict[str, Any] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)

    def step(self, title: str, action: Callable[[], str]) -> None:
        started = time.monotonic()
        detail = action()
        print(f"ok   {title}: {detail} ({time.monotonic() - started:.1f} s)")

    def run(self) -> None:
        self.step("health", self.health)
        self.step("create app", self.create_app)
        try:
            self.step("ingest", self.ingest)
            self.step("read back", self.read_back)
            self.step("statistics", lambda: self.wait_for_counts(BATCH_LEVELS))
        except ApiFailure:
            # Still try to leave nothing behind, but report the first failure, not this one.
            with contextlib.suppress(ApiFailure):
                self.step("clean up", self.clean_up)
            raise
        self.step("clean up", self.clean_up)

    def health(self) -> str:
        body = self.client.expect(200, "GET", "/health", credential={})
        return f"status {body['status']}"

    def create_app(self) -> str:
        name = f"smoke-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        self.app = self.client.expect(201, "POST", f"/apps/{name}")
        return f"app {self.app['id']} ({name})"

    def ingest(self) -> str:
        batch = [
            {"level": level, "name": EVENT_NAME, "service": "smoke", "message": f"smoke {level}"}
            for level, count in BATCH_LEVELS.items()
            for _ in range(count)
        ]
        result = self.client.expect(
            201, "POST", self._app_path("/events"), body=batch, credential=self._ingest_key()
        )
        if result["accepted"] != len(batch):
            raise SmokeFailure(f"ingest: {result['accepted']} of {len(batch)} accepted: {result}")
        self.event_ids = [item["id"] for item in result["items"]]
        return f"{len(batch)} events stored"

    def read_back(self) -> str:
        listed = self.client.expect(200, "GET", self._app_path("/events?limit=50"))
        listed_ids = sorted(item["id"] for item in listed["items"])
        if listed_ids != sorted(self.event_ids):
            raise SmokeFailure(f"list: ids {listed_ids}, expected {sorted(self.event_ids)}")
        first = self.client.expect(200, "GET", self._app_path(f"/events/{self.event_ids[0]}"))
        if first["name"] != EVENT_NAME:
            raise SmokeFailure(f"get: {first}, expected the event named {EVENT_NAME}")
        return f"{len(listed_ids)} listed, one fetched"

    def wait_for_counts(self, expected: dict[str, int]) -> str:
        """Poll by-level (the last 24 hours) until it counts what the app holds."""
        deadline = time.monotonic() + self.wait_seconds
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            body = self.client.expect(200, "GET", self._app_path("/stats/by-level"))
            counts = {item["level"]: item["count"] for item in body["items"] if item["count"]}
            if counts == expected:
                return f"by level {counts or 'nothing'}"
            time.sleep(POLL_SECONDS)
        raise SmokeFailure(
            f"statistics: by level {counts} after {self.wait_seconds:.0f} s, expected {expected}"
            " (is the aggregator reading the events stream? see the dashboard's iterator age)"
        )

    def clean_up(self) -> str:
        if not self.app:
            return "nothing made"
        name = urllib.parse.quote(EVENT_NAME)
        deleted = self.client.expect(200, "DELETE", self._app_path(f"/events?name={name}"))
        self.wait_for_counts({})
        keys = self.client.expect(200, "GET", f"/keys?app_id={self.app['id']}&limit=100")
        live = [key["id"] for key in keys["items"] if not key.get("revoked_at")]
        for key_id in live:
            self.client.expect(200, "DELETE", f"/keys/{key_id}")
        refused = self.client.call(
            "POST", self._app_path("/events"), body={"message": "x"}, credential=self._ingest_key()
        )
        if refused.status not in (401, 403):
            raise SmokeFailure(f"a revoked ingest key got {refused.status}, expected 401 or 403")
        return f"{deleted['deleted']} events deleted, counts back to 0, keys revoked: {len(live)}"

    def _ingest_key(self) -> dict[str, str]:
        return {"X-INGEST-KEY": self.app["ingest_key"]}

    def _app_path(self, rest: str) -> str:
        return f"/apps/{self.app['id']}{rest}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("URL"), help="the API's URL ($URL)")
    parser.add_argument("--admin", default=os.environ.get("ADMIN"), help="an admin key ($ADMIN)")
    parser.add_argument(
        "--wait", type=float, default=120, help="seconds statistics may take (default 120)"
    )
    args = parser.parse_args(argv)
    if not args.url or not args.admin:
        parser.error("the API's URL and an admin key are needed: --url/--admin or $URL/$ADMIN")
    try:
        Smoke(Client(args.url, args.admin), args.wait).run()
    except ApiFailure as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    print(f"smoke test passed: {args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
