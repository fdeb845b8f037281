"""pm4py reads the Parquet and XES event logs of ``salessim run`` and finds the process.

The directly-follows graph of the completed activities must be exactly the scenario's
routes (a loop back included) and nothing else: an edge between two leads, or between
two replications, would show up as an extra edge such as ``won -> created``. pm4py is not
a dependency of salessim (it is large and AGPL-licensed): install it to run this check.
"""

from __future__ import annotations

import pandas as pd
import pytest

from salessim.cli import main

pm4py = pytest.importorskip(
    "pm4py", reason="pm4py is not installed: the process-mining check of the event logs "
                    "is skipped (pip install pm4py to run it)")

SCENARIO = """\
name: mining
horizon: 120
replications: 3
roles: {sdr: {headcount: 1}, ae: {headcount: 2}}
sources: {web: {rate: 0.6, deal_value: {dist: lognormal, mean: 500, cv: 0.5}, score: 0.7}}
entry: qualify
stages:
  qualify:
    role: sdr
    work: {dist: exponential, mean: 0.5}
    next: {pitch: 0.6, lost: 0.4}
  pitch:
    role: ae
    work: {dist: exponential, mean: 1}
    delay: {dist: exponential, mean: 3}
    next: {won: 0.5, qualify: 0.2, lost: 0.3}
"""

#: The scenario's routes as activities: a lead is created, enters its entry stage, and
#: follows ``next``; ``pitch -> qualify`` is the loop back.
ROUTES = {
    ("created", "qualify"), ("qualify", "pitch"), ("qualify", "lost"),
    ("pitch", "won"), ("pitch", "qualify"), ("pitch", "lost"),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mining")
    (folder / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    assert main(["run", str(folder / "s.yaml"), "--workers", "1", "--out", str(folder / "out"),
                 "--event-log", "csv,parquet,xes"]) == 0
    return folder / "out"


def completed(log: pd.DataFrame) -> pd.DataFrame:
    """The events that complete an activity (a stage's work done, a lead's creation and end)."""
    return log[log["lifecycle:transition"] == "complete"]


def directly_follows(log: pd.DataFrame) -> set[tuple[str, str]]:
    dfg, _, _ = pm4py.discover_dfg(completed(log), case_id_key="case:concept:name",
                                   activity_key="concept:name", timestamp_key="time:timestamp")
    return set(dfg)


def test_parquet_log_gives_exactly_the_scenarios_routes(out):
    log = pd.read_parquet(out / "event_log.parquet")
    assert log["replication"].nunique() == 3
    assert directly_follows(log) == ROUTES
    # One trace per lead and replication: replications never share a case.
    cases = log.groupby("case:concept:name")["replication"].nunique()
    assert (cases == 1).all()
    assert len(cases) == len(log[["replication", "lead"]].drop_duplicates())


def test_xes_log_gives_the_same_graph_and_traces(out):
    log = pm4py.read_xes(str(out / "event_log.xes"))
    parquet = pd.read_parquet(out / "event_log.parquet")
    assert log["case:concept:name"].nunique() == parquet["case:concept:name"].nunique()
    assert len(log) == len(parquet)
    assert directly_follows(log) == ROUTES
    # Start activities are creations only; ends are the terminal states (or a stage, for a
    # lead still open at the horizon).
    starts = pm4py.get_start_activities(completed(log), activity_key="concept:name",
                                        case_id_key="case:concept:name",
                                        timestamp_key="time:timestamp")
    assert set(starts) == {"created"}


def test_xes_trace_attributes_are_numbers_pm4py_reads(out):
    """Each lead's deal value and score read back by pm4py as numbers (a numpy repr such as
    ``np.float64(512.3)`` in the file made pm4py drop the attribute)."""
    log = pm4py.read_xes(str(out / "event_log.xes"))
    values = log.groupby("case:concept:name")["case:deal_value"].first()
    scores = log.groupby("case:concept:name")["case:score"].first()
    assert pd.api.types.is_float_dtype(values) and pd.api.types.is_float_dtype(scores)
    assert (values > 0).all() and values.nunique() == len(values)  # a lognormal: all differ
    assert (scores == 0.7).all()
