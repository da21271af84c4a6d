"""`python -m bench`: measure every section, print the report (see the package's docstring).

Exit status: 0 (a measurement, not a test) unless --check is given and a target is missed (1);
2 when a section could not be measured at all.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import run
from bench.report import print_report
from bench.section import Options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="DynamoDB request units per event and per read, cold starts of the handlers",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--runs", type=int, default=Options.runs, help="cold starts per process (their median)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one cold start each (make test's round)"
    )
    parser.add_argument(
        "--full", action="store_true", help="also the page that reads every stored event"
    )
    args = parser.parse_args(argv)
    options = Options(quick=args.quick, runs=args.runs, full=args.full)
    started = time.monotonic()
    results, errors = run.measure_all(options)
    targets = print_report(run.SECTIONS, results, errors, options, time.monotonic() - started)
    if errors:
        return 2  # a broken run, not a measurement
    return 1 if args.check and any(target.verdict != "PASS" for target in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
