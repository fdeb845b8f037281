"""The flow view's transitions, counted whole columns at a time, are the counts of following
each lead event by event (the definition in :func:`salessim.diagnose.transitions`).

The reference below is the plain loop over the rows; the column version must give the same
frame, to the order of its rows, on the logs of every shipped scenario and on the corner
cases a log can hold (events before a lead's creation, a ``lost`` after ``went cold``, a
stage routing back to itself, leads of the warm-up, an empty log).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from salessim import engine
from salessim.diagnose import END_NODES, NEW, OPEN, WENT_COLD_NODE, log_rows, transitions
from salessim.records import CREATED, ENTERED, WENT_COLD
from salessim.scenario import evolve, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "scenarios").rglob("*.yaml"))


def reference(log: pd.DataFrame, warmup: float = 0.0) -> pd.DataFrame:
    """Each lead followed row by row: the definition the column version implements."""
    counts: dict[tuple[str, str], int] = {}
    n_reps = log["replication"].nunique() if len(log) else 0
    current: dict[tuple[int, str], str] = {}
    for rep, lead, event, stage, time in log[
            ["replication", "lead", "event", "stage", "time"]].itertuples(index=False):
        key = (rep, lead)
        if event == CREATED:
            if time >= warmup:
                current[key] = NEW
            continue
        here = current.get(key)
        if here is None:
            continue
        if event == ENTERED:
            if stage == here:
                continue
            nxt = stage
        elif event == WENT_COLD:
            nxt = WENT_COLD_NODE
        elif event in END_NODES:
            nxt = END_NODES[event]
        else:
            continue
        counts[(here, nxt)] = counts.get((here, nxt), 0) + 1
        if event == ENTERED:
            current[key] = nxt
        else:
            del current[key]
    for here in current.values():
        counts[(here, OPEN)] = counts.get((here, OPEN), 0) + 1
    rows = [(s, t, c / n_reps) for (s, t), c in counts.items()] if n_reps else []
    frame = pd.DataFrame(rows, columns=["source", "target", "count"])
    return frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == ["source", "target", "count"]
    assert got["source"].tolist() == want["source"].tolist()
    assert got["target"].tolist() == want["target"].tolist()
    assert got["count"].tolist() == want["count"].tolist()


@pytest.mark.parametrize("path", SHIPPED)
def test_the_columns_count_what_the_loop_counts_on_every_shipped_scenario(path):
    scenario = load_scenario(ROOT / path)
    # A short run keeps this cheap; a warm-up stays, so that leads of it are left out.
    warmup = min(float(scenario.warmup), 10.0)
    scenario = evolve(scenario, warmup=warmup, horizon=min(float(scenario.horizon), warmup + 40))
    log = log_rows([engine.run_replication(scenario, r, event_log=True) for r in (0, 1)])
    got = transitions(log, float(scenario.warmup))
    _same(got, reference(log, float(scenario.warmup)))
    assert got.attrs["replications"] == 2


def _rows(*events: tuple[int, str, str, str | None, float]) -> pd.DataFrame:
    return pd.DataFrame(events, columns=["replication", "lead", "event", "stage", "time"])


def test_corner_cases_of_a_log():
    log = _rows(
        (0, "a-1", ENTERED, "qualify", 0.0),      # before its creation: not followed yet
        (0, "a-1", CREATED, None, 1.0),
        (0, "a-2", CREATED, None, 0.5),           # a lead of the warm-up
        (0, "a-1", ENTERED, "qualify", 1.0),
        (0, "a-2", ENTERED, "qualify", 1.0),
        (0, "a-1", ENTERED, "qualify", 2.0),      # routed back to itself: no move
        (0, "a-1", ENTERED, "close", 3.0),
        (0, "a-1", WENT_COLD, "close", 4.0),
        (0, "a-1", "lost", "close", 4.0),         # after went cold: not counted
        (1, "a-1", CREATED, None, 2.0),           # the same name in another replication
        (1, "a-1", ENTERED, "qualify", 2.0),
        (1, "a-3", CREATED, None, 2.5),
        (1, "a-3", ENTERED, "close", 3.0),
        (1, "a-3", "won", "close", 3.5),
    )
    got = transitions(log, warmup=1.0)
    _same(got, reference(log, 1.0))
    moves = zip(got["source"], got["target"], strict=True)
    assert dict(zip(moves, got["count"], strict=True)) == {
        (NEW, "qualify"): 1.0, ("qualify", "close"): 0.5, ("close", WENT_COLD_NODE): 0.5,
        (NEW, "close"): 0.5, ("close", "won"): 0.5, ("qualify", OPEN): 0.5}


def test_an_empty_log_has_no_moves():
    got = transitions(_rows(), 0.0)
    assert got.empty and list(got.columns) == ["source", "target", "count"]
    assert got.attrs["replications"] == 0
