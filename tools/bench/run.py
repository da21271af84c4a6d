"""Running the sections, each in a process of its own (spawned: its own moto, environment and
imported handlers): those in moto two at a time, the longest first; the cold starts alone at the
end, as their timings need a machine doing nothing else."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from bench import aggregation, coldstart, notifications, reads, stats, writes
from bench.section import Options, Section
from bench.stack import isolate_aws

SECTIONS: tuple[Section, ...] = tuple(
    module.SECTION for module in (writes, aggregation, reads, stats, coldstart, notifications)
)  # in the report's order
BY_KEY = {section.key: section for section in SECTIONS}
IN_MOTO = ("stats", "aggregation", "notifications", "reads", "writes")  # the longest first
TIMED = ("coldstart",)
_SPAWN = multiprocessing.get_context("spawn")


def measure_here(key: str, options: Options) -> Any:
    """A section's measure in this process: fake AWS credentials, nothing of the developer's;
    the handlers' log lines and metrics (stdout, which their loggers keep from their import)
    not in the report."""
    isolate_aws()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        return BY_KEY[key].measure(options)


def measure_apart(key: str, options: Options) -> Any:
    """A section's result, measured in a process of its own."""
    with ProcessPoolExecutor(1, mp_context=_SPAWN) as pool:
        return pool.submit(measure_here, key, options).result()


def measure_all(options: Options) -> tuple[dict[str, Any], dict[str, str]]:
    """Every section's result, or why it could not be measured: (results, errors) by key."""
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    # A fresh process per section: the core's clients and caches live as long as it does.
    with ProcessPoolExecutor(2, mp_context=_SPAWN, max_tasks_per_child=1) as pool:
        futures = {key: pool.submit(measure_here, key, options) for key in IN_MOTO}
        for key, future in futures.items():
            _collect(key, future, results, errors)
    for key in TIMED:
        with ProcessPoolExecutor(1, mp_context=_SPAWN) as alone:
            _collect(key, alone.submit(measure_here, key, options), results, errors)
    return results, errors


def _collect(
    key: str, future: Future[Any], results: dict[str, Any], errors: dict[str, str]
) -> None:
    try:
        results[key] = future.result()
    except Exception as error:
        traceback.print_exception(error, file=sys.stderr)
        errors[key] = f"{type(error).__name__}: {error} (traceback on stderr)"
