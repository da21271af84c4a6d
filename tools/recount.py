"""Recount an app's aggregates for whole UTC days from its raw events (repair).

    make recount APP=3 SINCE=2026-02-10 UNTIL=2026-02-12 ENDPOINT=http://127.0.0.1:PORT
    make recount APP=3 SINCE=2026-02-10 UNTIL=2026-02-12 STACK=eventlog ARGS=--dry-run

UNTIL is excluded. With --endpoint-url (the "AWS (moto) endpoint" `make local` prints) the local
stack's tables are used; with --stack, the deployed stack's (AWS credentials needed), and its
RetentionDays and NameCardinalityLimit parameters. Prints what it changed, item by item (with
--dry-run, what it would change), then a summary. Run it on days that get no new events, or run
it twice: it races with the live aggregator (see eventlog/stats/recount.py).
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local_stack.resources import assign_physical_ids
from local_stack.runtime import global_environment
from local_stack.template import Template

if TYPE_CHECKING:  # the core is imported once the environment names its tables
    from eventlog.stats.recount import ItemChange, RecountPlan

# The local stack's tables are named by their logical ids.
LOCAL_TABLES = {
    "EVENTS_TABLE": "EventsTable",
    "AGGREGATES_TABLE": "AggregatesTable",
    "REGISTRY_TABLE": "RegistryTable",
}
STACK_OUTPUTS = {
    "EVENTS_TABLE": "EventsTableName",
    "AGGREGATES_TABLE": "AggregatesTableName",
    "REGISTRY_TABLE": "RegistryTableName",
}
STACK_PARAMETERS = {
    "RETENTION_DAYS": "RetentionDays",
    "NAME_CARDINALITY_LIMIT": "NameCardinalityLimit",
}
LOCAL_REGION = "us-east-1"
TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"
# Without a terminal, progress is shown only for ranges longer than this.
LONG_RANGE_DAYS = 7
MAX_LINES = 50
OVERFLOW_SHOWN = "<overflow>"
SAMPLE_SHOWN = 60  # characters of a message sample shown


def _day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day as YYYY-MM-DD: {value!r}") from None


def _app_id(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not an app id (a positive integer): {value!r}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--app", type=_app_id, required=True, help="the app's id")
    parser.add_argument("--since", type=_day, required=True, help="first UTC day, YYYY-MM-DD")
    parser.add_argument("--until", type=_day, required=True, help="day after the last, excluded")
    parser.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    parser.add_argument(
        "--force",
        action="store_true",
        help="recount even a range it refuses: older than the retention, or too long at once",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint-url", help="the local stack's moto endpoint (make local)")
    where.add_argument("--stack", help="a deployed CloudFormation stack's name")
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration)")
    return parser


def _use_local_stack(endpoint_url: str) -> None:
    """Send every boto3 call to the local stack's moto, with fake credentials: a developer's
    profile or service endpoints must not redirect anything."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            **LOCAL_TABLES,
        }
    )
    _name_unused_settings()


def _use_stack(stack_name: str, region: str | None) -> None:
    """The environment the template gives the functions, from the stack's outputs and
    parameters."""
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region  # for the core's clients too
    cloudformation = boto3.client("cloudformation", region_name=region)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    missing = [name for name in STACK_OUTPUTS.values() if name not in outputs]
    if missing:
        raise ValueError(f"stack {stack_name} has no output {', '.join(missing)}")
    os.environ.update({variable: outputs[name] for variable, name in STACK_OUTPUTS.items()})
    parameters = {
        item["ParameterKey"]: item["ParameterValue"] for item in stack.get("Parameters", [])
    }
    for variable, name in STACK_PARAMETERS.items():
        if name in parameters:
            os.environ[variable] = parameters[name]
    _name_unused_settings()


def _name_unused_settings() -> None:
    """The core's configuration asks for every setting the functions have; a recount reads only
    those set above, so the rest take the template's own values, never looked up."""
    template = Template.load(TEMPLATE_PATH)
    assign_physical_ids(template)
    for name, value in global_environment(template).items():
        os.environ.setdefault(name, value)


class ProgressBar:
    """`reading events [#######.............]  35%  12,345 events` on one line of a stream,
    redrawn in place (carriage return) at most every `interval` seconds."""

    WIDTH = 30

    def __init__(self, stream: TextIO, interval: float = 0.2):
        self.stream = stream
        self.interval = interval
        self._drawn_at: float | None = None

    def update(self, events_read: int, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1 and self._drawn_at is not None and now - self._drawn_at < self.interval:
            return
        filled = round(fraction * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\rreading events [{bar}] {fraction:4.0%}  {events_read:,} events")
        self.stream.flush()
        self._drawn_at = now

    def finish(self) -> None:
        if self._drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn_at = None


def _shown(attribute: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        text = value.replace("\x1f", OVERFLOW_SHOWN)  # eventlog.storage.aggregates.OVERFLOW
        return repr(text if len(text) <= SAMPLE_SHOWN else text[:SAMPLE_SHOWN] + "…")
    if attribute.startswith("t|"):  # a last-seen time, in epoch milliseconds
        return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="milliseconds")
    return f"{value:,}"


def _item_lines(item: "ItemChange") -> list[str]:
    sort_key = item.key["sk"].replace("\x1f", OVERFLOW_SHOWN)
    state = " (deleted)" if item.delete else "" if item.existed else " (new)"
    lines = [f"{item.key['pk']} {sort_key}{state}"]
    for change in item.changes:
        old, new = _shown(change.attribute, change.old), _shown(change.attribute, change.new)
        lines.append(f"    {change.attribute}: {old} → {new}")
    return lines


def report(plan: "RecountPlan", dry_run: bool, out: TextIO) -> None:
    """The changed items, as many as fit in MAX_LINES lines (the first one always), then a
    summary line."""
    shown_lines = hidden_items = hidden_changes = 0
    for item in plan.items:
        lines = _item_lines(item)
        if hidden_items or (shown_lines and shown_lines + len(lines) > MAX_LINES):
            hidden_items += 1
            hidden_changes += len(item.changes)
            continue
        print("\n".join(lines), file=out)
        shown_lines += len(lines)
    if hidden_items:
        print(f"… and {hidden_changes:,} more changes on {hidden_items:,} more items", file=out)
    days = (plan.until - plan.since).days
    created = sum(1 for item in plan.items if not item.existed)
    deleted = sum(1 for item in plan.items if item.delete)
    verb = "would change" if dry_run else "changed"
    unreadable = f", {plan.events_unreadable:,} unreadable" if plan.events_unreadable else ""
    print(
        f"app {plan.app_id}, {plan.since:%Y-%m-%d} to {plan.until:%Y-%m-%d} ({days} days): "
        f"{plan.events_read:,} raw events read{unreadable}, {plan.events_counted:,} in range; "
        f"{verb} {len(plan.items):,} of {plan.items_compared:,} items ({created:,} new, "
        f"{deleted:,} deleted), {plan.attributes_changed:,} attributes"
        + (" (dry run: nothing written)" if dry_run else ""),
        file=out,
    )


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.since >= args.until:
        parser.error(f"--since {args.since} must be before --until {args.until}")
    if args.endpoint_url and args.region:
        parser.error("--region goes with --stack (the local stack is in us-east-1)")
    if args.endpoint_url:
        _use_local_stack(args.endpoint_url)
    else:
        try:
            _use_stack(args.stack, args.region)
        except (BotoCoreError, ClientError, ValueError) as error:
            parser.error(f"cannot read stack {args.stack!r}: {error}")

    # Imported only now: eventlog.base.config reads the environment set above.
    from eventlog.base.errors import EventlogError
    from eventlog.stats import recount

    long_range = (args.until - args.since).days > LONG_RANGE_DAYS
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() or long_range else None
    try:
        plan = recount.plan_recount(
            args.app,
            args.since,
            args.until,
            force=args.force,
            progress=bar.update if bar else None,
        )
    except recount.RecountRefusedError as error:
        parser.error(f"{error.message} with --force")
    except EventlogError as error:
        parser.error(error.message)
    finally:
        if bar:
            bar.finish()
    if not args.dry_run:
        recount.apply_recount(plan)
    report(plan, args.dry_run, sys.stdout)


if __name__ == "__main__":
    main()
