"""The report: the machine, each section's figures (or why it was not measured), the summary of
the targets, and the text helpers the sections share."""

from __future__ import annotations

import contextlib
import os
import platform
import textwrap
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from capacity import Usage

from bench.section import Options, Section, Target

WIDTH = 100


def notes(*paragraphs: str) -> None:
    """Paragraphs of explanation, wrapped to the report's width and indented."""
    for paragraph in paragraphs:
        print(textwrap.fill(paragraph, width=WIDTH, initial_indent="   ", subsequent_indent="   "))


def operations(usage: Usage, units: int) -> list[str]:
    """What each DynamoDB operation did per unit (event, message, run), e.g.
    'EventsTable.PutItem: 2.00 calls, 2.00 WCU', then the items stored by table."""
    parts = []
    for op in sorted(usage.calls):
        figures = [f"{usage.calls[op] / units:.2f} calls"]
        if usage.failed_conditions[op]:
            figures.append(f"{usage.failed_conditions[op] / units:.2f} failed conditions")
        if usage.op_write[op]:
            figures.append(f"{usage.op_write[op] / units:.2f} WCU")
        if usage.op_read[op]:
            figures.append(f"{usage.op_read[op] / units:.2f} RCU")
        parts.append(f"{op}: {', '.join(figures)}")
    for table, items in sorted(usage.stored_items.items()):
        size = usage.stored_bytes[table] / items
        parts.append(f"{table}: {items / units:.2f} items stored, {size:.0f} bytes each on average")
    return parts


def print_operations(runs: Sequence[tuple[str, Usage, int]]) -> None:
    """`operations` of each (label, usage, units), the label's first `width` characters first."""
    width = max(len(label.split(")")[0]) + 1 for label, _, _ in runs)
    for label, usage, units in runs:
        for number, part in enumerate(operations(usage, units)):
            print(f"   {label[:width] if number == 0 else '':<{width}} {part}")


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "?"

    return [
        f"date      {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"python    {platform.python_version()} ({platform.python_implementation()}) "
        f"on {platform.system()} {platform.release()} {platform.machine()}",
        f"cpus      {os.cpu_count()} x {cpu}",
        f"packages  boto3 {version('boto3')}, moto {version('moto')}, "
        f"aws-lambda-powertools {version('aws-lambda-powertools')}, pydantic {version('pydantic')}",
    ]


def _scan_target(sections: Sequence[Section], results: dict[str, Any]) -> Target:
    """No Scan, in all the sections that drive the service and were measured."""
    scans = [
        section.scans(results[section.key])
        for section in sections
        if section.scans is not None and section.key in results
    ]
    return Target("Scan requests sent by the core, all sections", sum(scans) if scans else None, 0)


CAPACITY_RULES = """\
How capacity is counted: every DynamoDB request the core's clients (eventlog.storage.db.client(),
which the handlers use, the aggregator included, and the Powertools idempotency layers') send is
priced by tools/capacity.py with DynamoDB's documented rules (the stream poller's own calls are
Lambda's: not counted): writes ceil(item size / 1 KB) per item (the larger of before and after;
failed conditional writes included: a failed UpdateItem is priced on the item as it stands, at
least 1; x2 in transactions; plus index entries), reads ceil(size / 4 KB), x0.5 unless strongly
consistent. A Query page is priced on every item it evaluated before its filter: the page is sent
again without its filter to an unhooked client (same key range, start key and Limit), and that
count is checked against the page's ScannedCount."""


def print_report(
    sections: Sequence[Section],
    results: dict[str, Any],
    errors: dict[str, str],
    options: Options,
    seconds: float,
) -> list[Target]:
    """Print every section, then the summary; returns the targets."""
    rule = "-" * WIDTH
    print(f"Eventlog benchmark{' (quick round: small sizes, one cold start each)' * options.quick}")
    print(rule)
    for fact in machine():
        print(fact)
    print(rule)
    targets: list[Target] = []
    for section in sections:
        print(f"\n{section.title}")
        notes(section.subtitle)
        if section.key in errors:
            print(f"   NOT MEASURED: {errors[section.key]}")
        else:
            section.show(results[section.key])
        targets += section.targets(results.get(section.key), options)
    if any(section.scans is not None for section in sections):
        targets.append(_scan_target(sections, results))

    print("\nSummary")
    print(f"   {'target':<68} {'measured':>9} {'limit':>10}  result")
    for target in targets:
        measured = "-" if target.measured is None else f"{target.measured:.2f}{target.unit}"
        limit = f"<= {target.limit:.2f}{target.unit}"
        print(f"   {target.description:<68} {measured:>9} {limit:>10}  {target.verdict}")
    verdicts = Counter(target.verdict for target in targets)
    print(
        f"   {verdicts['PASS']} passed, {verdicts['FAIL']} failed, "
        f"{verdicts['ERROR']} not measured; {seconds:.0f} s"
    )
    print(f"\n{CAPACITY_RULES}")
    return targets
