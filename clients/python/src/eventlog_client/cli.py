"""The `eventlog` command: `eventlog login URL`, then apps, keys, send, rules, subscriptions,
import, export, tail and stats. `eventlog COMMAND --help` says more about each."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from eventlog_client import config
from eventlog_client.client import Client
from eventlog_client.delivery import Batch, encode, post_batch
from eventlog_client.terminal import Progress, bar_chart, coloured_level, colours_on, table
from eventlog_client.transfer import FORMATS, Importer, ImportProblem, export
from eventlog_client.transport import ApiError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The admin API's collections under an app: `eventlog rules ...`, `eventlog subscriptions ...`.
COLLECTIONS = {"rules": "alert-rules", "subscriptions": "subscriptions"}
LIST_COLUMNS = {
    "apps": ["id", "name", "created_at"],
    "keys": ["id", "role", "app_id", "label", "created_at", "revoked_at"],
    "alert-rules": ["id", "description", "enabled", "min_level", "event_name", "service"],
    "subscriptions": ["id", "description", "enabled", "url", "format"],
}


class UsageProblem(Exception):
    """A command that cannot run as given (exit status 2)."""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ApiError, ImportProblem, UsageProblem, OSError, ValueError) as error:
        print(f"eventlog: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageProblem) else 1
    except KeyboardInterrupt:
        print("eventlog: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------- the command line


def _connection_options(command: argparse.ArgumentParser, defaults: bool) -> None:
    """The options every command takes, before or after its name (`eventlog --app 2 tail`,
    `eventlog tail --app 2`): only the root parser sets their defaults."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    command.add_argument(
        "--profile", default=default("default"), help="a profile of `eventlog login`"
    )
    command.add_argument("--url", default=default(None), help="the service's URL (or EVENTLOG_URL)")
    command.add_argument("--key", default=default(None), help="a key (or EVENTLOG_KEY)")
    command.add_argument(
        "--app",
        type=int,
        dest="app_id",
        default=default(None),
        help="the app's id (or EVENTLOG_APP_ID)",
    )
    command.add_argument(
        "--json", action="store_true", default=default(False), help="print the API's JSON answers"
    )


def _command(commands: Any, name: str, **options: Any) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, **options)
    _connection_options(command, defaults=False)
    return command


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="eventlog", description=__doc__)
    _connection_options(root, defaults=True)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = _command(commands, "login", help="save a profile: the URL, a key and an app")
    login.add_argument("login_url", metavar="URL")
    login.set_defaults(run=cmd_login)

    _apps_commands(commands)
    _keys_commands(commands)
    for command, collection in COLLECTIONS.items():
        _collection_commands(commands, command, collection)

    send = _command(commands, "send", help="send one event (and wait for its answer)")
    send.add_argument("message")
    send.add_argument("--level", default="INFO", type=str.upper, choices=LEVELS)
    send.add_argument("--name")
    send.add_argument("--service")
    send.add_argument("--data", type=json.loads, help="a JSON object")
    send.set_defaults(run=cmd_send)

    importing = _command(commands, "import", help="import NDJSON, CSV or text logs")
    importing.add_argument("file", type=Path)
    importing.add_argument("--format", choices=FORMATS, help="default: from the name and content")
    importing.add_argument("--state", type=Path, help="default: FILE.eventlog-state")
    importing.add_argument("--parallel", type=int, default=4, help="batches in flight")
    importing.set_defaults(run=cmd_import)

    exporting = _command(commands, "export", help="the app's events as NDJSON")
    _filters(exporting)
    exporting.add_argument("-o", "--output", type=Path, help="default: standard output")
    exporting.set_defaults(run=cmd_export)

    tail = _command(commands, "tail", help="the latest events; -f: and new ones as they come")
    _filters(tail, times=False)
    tail.add_argument("-n", "--lines", type=int, default=20)
    tail.add_argument("-f", "--follow", action="store_true")
    tail.add_argument("--every", type=float, default=1.0, help="seconds between polls")
    tail.set_defaults(run=cmd_tail)

    stats = _command(commands, "stats", help="events by level and over time, as bar charts")
    _filters(stats, names=False)
    stats.add_argument(
        "--interval", default="HOUR", type=str.upper, choices=("MINUTE", "HOUR", "DAY")
    )
    stats.set_defaults(run=cmd_stats)
    return root


def _filters(command: argparse.ArgumentParser, times: bool = True, names: bool = True) -> None:
    command.add_argument("--level", type=str.upper, choices=LEVELS)
    if names:
        command.add_argument("--name")
        command.add_argument("--service")
    if times:
        command.add_argument("--since", help="ISO 8601 (default: the API's)")
        command.add_argument("--until", help="ISO 8601")


def _apps_commands(commands: Any) -> None:
    apps = _command(commands, "apps", help="create and list apps (admin)")
    actions = apps.add_subparsers(dest="action", required=True)
    create = _command(actions, "create", help="a new app: prints its ingest key, shown once")
    create.add_argument("name")
    create.set_defaults(
        run=lambda args: _show(args, _api(args).call("POST", f"/apps/{args.name}").body)
    )
    _command(actions, "list").set_defaults(run=lambda args: _list(args, "/apps", "apps"))


def _keys_commands(commands: Any) -> None:
    keys = _command(commands, "keys", help="create, list and revoke keys (admin)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = _command(actions, "create", help="a new key, shown once")
    create.add_argument("--role", required=True, choices=("admin", "user", "ingest"))
    create.add_argument("--for-app", type=int, dest="key_app", help="the key's app (user, ingest)")
    create.add_argument("--label")
    create.set_defaults(run=cmd_key_create)
    listing = _command(actions, "list")
    listing.add_argument("--for-app", type=int, dest="key_app")
    listing.set_defaults(run=lambda args: _list(args, "/keys", "keys", app_id=args.key_app))
    revoke = _command(actions, "revoke")
    revoke.add_argument("key_id")
    revoke.set_defaults(
        run=lambda args: _show(args, _api(args).call("DELETE", f"/keys/{args.key_id}").body)
    )


def _collection_commands(commands: Any, command: str, collection: str) -> None:
    """list, get, create, update and delete of an app's alert rules or subscriptions; bodies
    as JSON text or @file, as the API documents them (docs/alerts.md, docs/subscriptions.md)."""
    group = _command(commands, command, help=f"the app's {collection} (admin)")
    actions = group.add_subparsers(dest="action", required=True)
    path = f"/apps/{{app}}/{collection}"
    _command(actions, "list").set_defaults(
        run=lambda args: _list(args, path.format(app=_app(args)), collection)
    )
    for action, method in (("get", "GET"), ("delete", "DELETE")):
        one = _command(actions, action)
        one.add_argument("id")
        one.set_defaults(run=_item_call(method, path, with_body=False))
    create = _command(actions, "create")
    create.add_argument("body", type=_json_argument, help="JSON, or @file")
    create.set_defaults(
        run=lambda args: _show(
            args, _api(args).call("POST", path.format(app=_app(args)), json_body=args.body).body
        )
    )
    update = _command(actions, "update")
    update.add_argument("id")
    update.add_argument("body", type=_json_argument, help="JSON (the fields to change), or @file")
    update.set_defaults(run=_item_call("PATCH", path, with_body=True))


def _item_call(method: str, path: str, with_body: bool) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        body = args.body if with_body else None
        return _show(
            args,
            _api(args)
            .call(method, f"{path.format(app=_app(args))}/{args.id}", json_body=body)
            .body,
        )

    return run


def _json_argument(text: str) -> Any:
    return json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)


# ---------------------------------------------------------------------- plumbing


def _profile(args: argparse.Namespace) -> dict[str, Any]:
    profile = config.resolve(args.profile, args.url, args.key, args.app_id)
    if not profile.get("url"):
        raise UsageProblem("no service URL: run `eventlog login URL`, or pass --url")
    return profile


def _app(args: argparse.Namespace) -> int:
    app_id = _profile(args).get("app_id")
    if app_id is None:
        raise UsageProblem("which app? pass --app ID (or save one with `eventlog login --app`)")
    return int(app_id)


def _client(args: argparse.Namespace, need_app: bool = True) -> Client:
    profile = _profile(args)
    app_id = _app(args) if need_app else int(profile.get("app_id") or 0)
    return Client(profile["url"], profile.get("key"), app_id=app_id)


def _api(args: argparse.Namespace) -> Any:
    return _client(args, need_app=False).transport


def _show(args: argparse.Namespace, body: Any) -> int:
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 0


def _list(args: argparse.Namespace, path: str, kind: str, **params: Any) -> int:
    items = list(_client(args, need_app=False).pages(path, limit=100, **params))
    if args.json:
        return _show(args, items)
    print(table(items, LIST_COLUMNS[kind]) if items else f"no {kind}")
    return 0


# ---------------------------------------------------------------------- commands


def cmd_login(args: argparse.Namespace) -> int:
    key = args.key or getpass.getpass("key (admin, user or ingest): ").strip() or None
    client = Client(args.login_url, key, app_id=args.app_id or 0)
    client.transport.call("GET", "/health")
    if key:  # 401: not a key of this service; 403: a key, not an admin's (fine)
        reply = client.transport.exchange("GET", "/apps", params={"limit": 1})
        if reply.status == 401:
            raise ApiError(reply.status, reply.body)
    profile = {"url": args.login_url.rstrip("/"), "key": key, "app_id": args.app_id}
    path = config.save_profile(args.profile, profile)
    print(f"logged in to {profile['url']} as profile {args.profile!r} ({path})")
    return 0


def cmd_key_create(args: argparse.Namespace) -> int:
    body = {"role": args.role, "app_id": args.key_app, "label": args.label}
    body = {name: value for name, value in body.items() if value is not None}
    return _show(args, _api(args).call("POST", "/keys", json_body=body).body)


def cmd_send(args: argparse.Namespace) -> int:
    client = _client(args)
    event = {
        "message": args.message,
        "level": args.level,
        "name": args.name,
        "service": args.service,
        "data": args.data,
    }
    event["event_id"] = uuid.uuid4().hex  # a retry of this send stores it once
    batch = Batch([encode({name: value for name, value in event.items() if value is not None})])
    outcome = post_batch(client.transport, client.app_id, batch)
    if outcome.rejected:
        print(f"eventlog: rejected: {outcome.rejections[0][1]}", file=sys.stderr)
        return 1
    print("duplicate" if outcome.duplicates else "accepted")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    client = _client(args)
    size = args.file.stat().st_size
    progress = Progress(f"import {args.file.name}", total=size, unit="lines")
    importer = Importer(
        client,
        args.file,
        format=args.format,
        state_path=args.state,
        parallel=args.parallel,
        progress=progress,
    )
    if importer.state_path.exists():
        print(f"resuming from {importer.state_path}", file=sys.stderr)
    counts = importer.run()
    print(f"accepted {counts.accepted}, duplicates {counts.duplicates}, rejected {counts.rejected}")
    if counts.rejected:
        print(f"rejected lines: {importer.rejected_path}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    client = _client(args)
    filters = {name: getattr(args, name) for name in ("level", "name", "service", "since", "until")}
    filters = {name: value for name, value in filters.items() if value is not None}
    progress = Progress("export", unit="events")
    if args.output is None:
        written = export(client, sys.stdout, progress, **filters)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            written = export(client, out, progress, **filters)
    print(f"exported {written} events", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    client = _client(args)
    filters = {
        name: value
        for name, value in (("level", args.level), ("name", args.name), ("service", args.service))
        if value
    }
    colour = colours_on(sys.stdout)
    latest = list(_newest(client, args.lines, filters))
    for event in reversed(latest):
        print(_tail_line(event, colour), flush=True)
    seen = {event["id"] for event in latest}
    since = latest[0]["received_at"] if latest else None
    while args.follow:
        time.sleep(args.every)
        fresh = []
        for event in client.events(since=since, **filters):  # newest first, page by cursor
            if event["id"] in seen:
                break
            fresh.append(event)
        for event in reversed(fresh):
            print(_tail_line(event, colour), flush=True)
            seen.add(event["id"])
        since = fresh[0]["received_at"] if fresh else since
    return 0


def _newest(client: Client, count: int, filters: dict[str, Any]) -> list[dict[str, Any]]:
    newest: list[dict[str, Any]] = []
    for event in client.events(page_size=min(50, max(1, count)), **filters):
        if len(newest) >= count:
            break
        newest.append(event)
    return newest


def _tail_line(event: dict[str, Any], colour: bool) -> str:
    where = event.get("service") or event.get("name") or ""
    text = event.get("message") or event.get("name") or ""
    where = f"{where}: " if where else ""
    return f"{event['occurred_at']} {coloured_level(event['level'], colour)} {where}{text}"


def cmd_stats(args: argparse.Namespace) -> int:
    client = _client(args)
    period = {"since": args.since, "until": args.until}
    by_level = client.stats("by-level", **period)
    series = client.stats("timeseries", interval=args.interval, level=args.level, **period)
    if args.json:
        return _show(args, {"by_level": by_level, "timeseries": series})
    print(f"Events by level, {by_level['since']} .. {by_level['until']}")
    print(bar_chart([(item["level"], item["count"]) for item in by_level["items"]]) or "(none)")
    print(f"\nEvents per {args.interval.lower()}{' at ' + args.level if args.level else ''}")
    print(bar_chart([(bucket["bucket_start"], bucket["count"]) for bucket in series["series"]]))
    return 0
