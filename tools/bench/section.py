"""What every section of the bench provides, and the options a run is made with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Options:
    quick: bool = False  # small sizes, one cold start each: the round `make test` runs
    runs: int = 7  # cold starts of each process (their median is the figure)
    full: bool = False  # also the page that reads every stored event at the larger size


@dataclass
class Target:
    description: str
    measured: float | None  # None: could not be measured
    limit: float
    unit: str = ""
    key: str = ""  # the scenario it is measured on, where a section shows it

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "ERROR"
        return "PASS" if self.measured <= self.limit + 1e-9 else "FAIL"


def growth_targets(
    what: str, labels: list[str], result: Any, small: int, large: int, limit: float
) -> list[Target]:
    """One target per label: the units a request cost with `large` items stored over what it
    cost with `small` (`result.large[label].rcu`, `result.small[label].rcu`; None: unmeasured)."""
    return [
        Target(
            f"{what} RCU, {large:,} vs {small:,} stored, {label}",
            result.large[label].rcu / result.small[label].rcu if result else None,
            limit,
            "x",
        )
        for label in labels
    ]


@dataclass(frozen=True)
class Section:
    """`measure` runs in a process of its own (its own moto, environment and imported handlers)
    and returns a picklable result; `show` prints it; `targets` reads it, or says what could not
    be measured when the result is None; `scans`, for the sections that drive the service in
    moto, reads how many Scan requests the core sent meanwhile (a Scan is a defect)."""

    key: str
    title: str
    subtitle: str
    measure: Callable[[Options], Any]
    show: Callable[[Any], None]
    targets: Callable[[Any, Options], list[Target]]
    scans: Callable[[Any], int] | None = None
