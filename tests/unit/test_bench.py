"""The bench's short round (`python -m bench --quick`), run by `make test`.

Each section runs at its small sizes in a process of its own, as `make bench` runs it, and must
produce its figures and report them; the structural targets must hold: the request path's write
units per event, the aggregator's budgets per event, a page and a statistic that cost the same
however many events are stored, no aggregate item that grows with the names of a day or gets hot,
no Scan. Request units are counted, not timed, so they are asserted; no timing is: the cold starts
only have to give a figure for every handler.
"""

from typing import Any

import pytest
from bench import __main__ as cli
from bench import coldstart, run
from bench.section import Options, Section, Target

QUICK = Options(quick=True)


def measured(key: str) -> tuple[Any, dict[str, Target]]:
    """The section's result in the quick round, its report printed, and its targets by key."""
    section = run.BY_KEY[key]
    result = run.measure_apart(key, QUICK)
    section.show(result)
    targets = section.targets(result, QUICK)
    assert targets or key == "notifications", f"{key} has no target"
    assert all(target.measured is not None for target in targets), targets
    if section.scans is not None:
        assert section.scans(result) == 0, f"{key}: the core sent a Scan"
    return result, {target.key or target.description: target for target in targets}


def passed(target: Target) -> bool:
    return target.verdict == "PASS"


def test_the_request_path_writes_an_event_once_and_its_event_id_once() -> None:
    result, targets = measured("writes")

    assert targets["a"].measured == 1.0 and targets["b"].measured == 1.0
    assert targets["c"].measured == 2.0
    assert all(passed(target) for target in targets.values())
    assert {run.outcomes.most_common(1)[0][0] for run in result.runs} == {"accepted", "duplicate"}


def test_aggregates_grow_with_neither_the_names_of_a_day_nor_the_rate() -> None:
    result, targets = measured("aggregation")

    assert passed(targets["i2"]), targets["i2"]  # the same units with many names as with few
    assert passed(targets["k"]), targets["k"]  # no hot aggregate item
    for budget in ("g2", "h", "j2"):  # units per event: few names, every name new, steady singles
        assert passed(targets[budget]), targets[budget]
    assert all(run.wcu_per_event > 0 for run in result.runs.values())
    assert sum(run.writes.cancelled for run in result.runs.values()) == 0


def test_a_page_costs_the_same_however_many_events_are_stored() -> None:
    result, targets = measured("reads")

    assert all(passed(target) for target in targets.values()), targets
    assert result.small and set(result.large) <= set(result.small)


def test_a_statistic_costs_the_same_however_many_events_it_counts() -> None:
    result, targets = measured("stats")

    assert all(passed(target) for target in targets.values()), targets
    assert set(result.small) == set(result.large)


def test_ingest_only_stores_whatever_the_alert_rules() -> None:
    result, _ = measured("notifications")

    assert [rules.rules for rules in result.rules] == [0, 1, 25]
    assert {run.wcu_per_event for rules in result.rules for run in rules.runs} == {1.0}
    assert [notified.sent for notified in result.notifier] == [2, 2, 0, 0]
    assert [round_.sent for round_ in result.propagator] == [200, 0]


def test_every_handler_and_baseline_has_a_cold_start() -> None:
    result, targets = measured("coldstart")

    labels = {"authorizer", "admin", "ingest", "query", "stats", "aggregator", "notifier"}
    labels |= {"propagator", coldstart.MINIMAL, coldstart.BARE_BOTO3}
    assert set(result.starts) == labels
    for start in result.starts.values():
        assert len(start.first_answer_ms) == 1 and start.median > 0, start
        assert 0 < start.import_ms[0] <= start.first_answer_ms[0] < start.process_ms[0], start
    assert len(targets) == 5  # the four API handlers and the authorizer; no ratio asserted


# ---------------------------------------------------------------- the exit status


def _section(measured: float | None) -> Section:
    return Section(
        key="made-up",
        title="a made-up section",
        subtitle="for the exit status",
        measure=lambda options: measured,
        show=print,
        targets=lambda result, options: [Target("made up", result, 1.0)],
    )


@pytest.mark.parametrize(
    ("measured", "check", "status"),
    [(0.5, True, 0), (2.0, False, 0), (2.0, True, 1), (None, False, 2), (None, True, 2)],
)
def test_exit_status(
    monkeypatch: pytest.MonkeyPatch, measured: float | None, check: bool, status: int
) -> None:
    """0 for a measurement; 1 with --check when a target is missed; 2 when a section could not
    be measured."""
    section = _section(measured)
    outcome = ({"made-up": measured}, {}) if measured is not None else ({}, {"made-up": "broke"})
    monkeypatch.setattr(run, "SECTIONS", (section,))
    monkeypatch.setattr(run, "measure_all", lambda options: outcome)

    assert cli.main(["--quick", *(["--check"] if check else [])]) == status
