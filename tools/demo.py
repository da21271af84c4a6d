"""`make demo`: a demo app with a realistic day of events, on the local stack or any deployed one.

    make demo                                   # the stack `make local` runs (.eventlog-local/)
    make demo URL=https://…/Prod ADMIN=<key>    # any stack, with an admin key

It creates an app and a user key, loads a day of events (several services, levels and names, the
errors with stack traces, busier in the day than at night) in batches of 100 with a progress bar,
makes a few calls of the seed profiles, adds an alert rule whose webhook is `make receiver`'s,
and prints where to look. It talks to the API only (standard library HTTP), as any client would.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api_client import ApiFailure, Client

LOCAL_STACK_FILE = Path(".eventlog-local/stack.json")  # written by `make local`
BATCH = 100  # the ingest route's largest batch
RECEIVER = "http://127.0.0.1:9000/hook"  # `make receiver`'s
RECEIVER_SECRET = "demo_receiver_secret"  # noqa: S105 - a demo's, printed for make receiver

# service -> (event names, share of the traffic)
SERVICES = {
    "api": (["http.request", "login", "logout"], 0.45),
    "checkout": (["checkout.started", "checkout.completed", "payment.declined"], 0.2),
    "search": (["search.query", "search.empty"], 0.2),
    "worker": (["job.done", "job.retry", "job.failed"], 0.15),
}
LEVELS = (("DEBUG", 0.1), ("INFO", 0.68), ("WARNING", 0.14), ("ERROR", 0.07), ("CRITICAL", 0.01))
ERRORS = (
    ("TimeoutError", "upstream payments-gateway timed out after {ms} ms"),
    ("KeyError", "'customer_id' missing in order {order}"),
    ("ConnectionResetError", "connection reset by 10.0.{a}.{b}:5432"),
)


class DemoError(ApiFailure):
    """What stops the demo, said plainly."""


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def day_of_events(count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """`count` events over the 24 hours before `now`, busier at 14:00 UTC than at 02:00."""
    events = []
    for _ in range(count):
        while True:  # the busy hours twice as likely as the quiet ones
            moment = now - timedelta(seconds=rng.uniform(0, 86_400))
            hour = moment.hour + moment.minute / 60
            if rng.random() < 0.5 + 0.5 * math.sin((hour - 8) / 24 * 2 * math.pi):
                break
        service = rng.choices(list(SERVICES), [share for _, share in SERVICES.values()])[0]
        level = pick(rng, LEVELS)
        event: dict[str, Any] = {
            "occurred_at": moment.isoformat(timespec="milliseconds"),
            "level": level,
            "service": service,
            "name": rng.choice(SERVICES[service][0]),
            "message": f"{service}: request {rng.randint(1, 99_999)} handled in "
            f"{rng.randint(2, 900)} ms",
            "tags": {"env": "demo", "region": rng.choice(["eu-west-1", "us-east-1"])},
        }
        if level in ("ERROR", "CRITICAL"):
            kind, text = rng.choice(ERRORS)
            message = text.format(
                ms=rng.randint(3000, 9000), order=rng.randint(1000, 9999),
                a=rng.randint(0, 255), b=rng.randint(1, 254),
            )  # fmt: skip
            event["message"] = f"{kind}: {message}"
            event["stack"] = {
                "type": kind,
                "frames": [
                    {"file": f"{service}/handlers.py", "line": rng.randint(20, 400),
                     "function": "handle"},
                    {"file": f"{service}/clients.py", "line": rng.randint(20, 400),
                     "function": "call_upstream"},
                ],
            }  # fmt: skip
        events.append(event)
    return sorted(events, key=lambda event: event["occurred_at"])


def progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // total
    rate = done / max(time.monotonic() - started, 1e-6)
    eta = (total - done) / rate if rate else 0
    sys.stderr.write(
        f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} events, "
        f"{rate:,.0f}/s, {eta:.0f}s left "
    )
    sys.stderr.flush()


def load(api: Client, app_id: int, ingest_key: str, events: list[dict[str, Any]]) -> int:
    """Send the events in batches; returns how many were accepted."""
    accepted, started = 0, time.monotonic()
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        reply = api.call(
            "POST", f"/apps/{app_id}/events", batch, credential={"X-INGEST-KEY": ingest_key}
        )
        if reply.status not in (200, 201, 207):
            raise DemoError(f"a batch answered {reply.status}: {reply.text}")
        accepted += reply.body["accepted"] if isinstance(reply.body, dict) else len(batch)
        progress(start + len(batch), len(events), started)
    sys.stderr.write("\n")
    return accepted


def seed_calls(api: Client, user_key: str, app_id: int) -> None:
    """A few calls as the five seed systems' clients make them (their routes use the key's app)."""
    as_user = {"x-api-key": user_key}
    api.expect(
        201, "POST", "/events",
        {"event_type": "ERROR", "service_name": "AuthService", "additional_data": "Timeout"},
        credential=as_user,
    )  # fmt: skip
    api.expect(201, "POST", "/api/v1/events/signup", credential=as_user)
    api.expect(
        201, "POST", "/logs",
        {"timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "level": "WARNING",
         "service": "auth", "message": "password reset requested", "data": {"user": "u-42"}},
        credential=as_user,
    )  # fmt: skip
    token = api.expect(201, "POST", "/tokens", {"role": "ingest", "app_id": app_id})["token"]
    api.expect(
        200, "POST", "/api/event",
        [{"event_type": "user.signup", "event_payload": "demo"}],
        credential={"Authorization": f"Bearer {token}"},
    )  # fmt: skip


def add_alert_rule(api: Client, app_id: int, receiver: str) -> str | None:
    """A rule sending payment errors to the receiver; None when the stack refuses its address
    (a deployed stack accepts public targets only)."""
    reply = api.call(
        "POST", f"/apps/{app_id}/alert-rules",
        {"description": "demo: payment errors to make receiver", "min_level": "ERROR",
         "event_name": "payment.*", "cooldown_seconds": 60,
         "channels": [{"type": "webhook", "url": receiver, "secret": RECEIVER_SECRET}]},
    )  # fmt: skip
    if reply.status != 201:
        print(f"  (no alert rule: {(reply.body or {}).get('message') or reply.text})")
        return None
    return str(reply.body["id"])


def stack_from_file(path: Path) -> tuple[str, str]:
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise DemoError(
            f"no local stack ({path} is missing): run `make local` in another terminal, or give "
            "URL=… ADMIN=… for a deployed stack"
        ) from None
    return info["url"], info["admin_key"]


def run(api: Client, name: str, count: int, receiver: str, seed: int) -> dict[str, Any]:
    app = api.expect(201, "POST", f"/apps/{name}")
    app_id, ingest_key = app["id"], app["ingest_key"]
    user_key = api.expect(
        201, "POST", "/keys", {"role": "user", "app_id": app_id, "label": "demo"}
    )["key"]
    print(f"App {name!r} (id {app_id}) created; loading {count:,} events of the last 24 hours:")
    accepted = load(
        api,
        app_id,
        ingest_key,
        day_of_events(count, datetime.now(UTC), random.Random(seed)),  # noqa: S311
    )
    seed_calls(api, user_key, app_id)
    rule = add_alert_rule(api, app_id, receiver)
    # One more payment error now, for the rule to send (`make receiver` prints it).
    api.expect(
        201, "POST", f"/apps/{app_id}/events",
        {"level": "ERROR", "name": "payment.declined", "service": "checkout",
         "message": "card declined: insufficient funds"},
        credential={"X-INGEST-KEY": ingest_key},
    )  # fmt: skip
    return {"app_id": app_id, "ingest_key": ingest_key, "user_key": user_key,
            "accepted": accepted, "rule": rule}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help="the API's URL (default: the running make local's)")
    parser.add_argument("--admin-key", help="an admin key (default: make local's)")
    parser.add_argument("--events", type=int, default=5_000, help="how many (default 5,000)")
    parser.add_argument("--name", help="the app's name (default: demo-<time>)")
    parser.add_argument("--receiver", default=RECEIVER, help=f"the webhook (default {RECEIVER})")
    parser.add_argument(
        "--seed", type=int, default=7, help="of the random day (same seed, same day)"
    )
    args = parser.parse_args(argv)
    try:
        url, admin_key = (
            (args.url, args.admin_key) if args.url else stack_from_file(LOCAL_STACK_FILE)
        )
        if not admin_key:
            raise DemoError("an admin key is needed with a URL: make demo URL=… ADMIN=…")
        api = Client(url.rstrip("/"), admin_key)
        name = args.name or f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        made = run(api, name, args.events, args.receiver, args.seed)
    except ApiFailure as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    app_id = made["app_id"]
    print(
        f"\n{made['accepted']:,} events stored in app {app_id}, and a few seed-profile calls. "
        "Statistics follow within seconds.\n"
        f"  export URL={api.base_url} APP={app_id} INGEST={made['ingest_key']} "
        f"USER_KEY={made['user_key']}\n"
        f'  curl -s "$URL/apps/$APP/stats/by-level" -H "x-api-key: $USER_KEY"\n'
        f'  curl -s "$URL/apps/$APP/stats/top-messages?level=ERROR" -H "x-api-key: $USER_KEY"\n'
        f'  curl -s "$URL/apps/$APP/stats/timeseries?interval=HOUR" -H "x-api-key: $USER_KEY"\n'
        f'  curl -s "$URL/apps/$APP/events?level=ERROR&limit=5" -H "x-api-key: $USER_KEY"\n'
        f"  the API in a browser: {api.base_url}/docs"
    )
    if made["rule"]:
        print(
            f"  alert rule {made['rule']}: payment errors go to {args.receiver}; watch them with "
            f"`make receiver SECRET={RECEIVER_SECRET}`"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
