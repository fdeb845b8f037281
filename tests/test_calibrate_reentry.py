"""Calibration finds deals that were lost and came back (re-entries), instead of dropping
their later rows: the time between is a visit to a nurture track, and the calibrated
scenario has a ``recycle`` stage.

A known process with a nurture track is simulated and exported as a CRM would show it: a
lead sent to the track is "Closed Lost" at that moment, and a lead that comes back has
later rows. Both shapes of a stage history are read: an explicit row in the lost stage,
and a visit whose next stage is the lost stage. The counts must match the log exactly.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import expo, scenario_of
from salessim import engine
from salessim.calibrate.estimate import calibrate
from salessim.calibrate.pipeline import read_visits
from salessim.calibrate.visits import NURTURE
from salessim.calibrate.writer import check_scenario, scenario_data, scenario_yaml

CRM = {"qualify": "Qualify", "demo": "Demo", "won": "Closed Won", "lost": "Closed Lost",
       "nurture": "Closed Lost"}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    truth = scenario_of({
        "horizon": 150, "sources": {"web": {"rate": 4.0, "deal_value": 1000}},
        "entry": "qualify",
        "stages": {
            "qualify": {"delay": expo(2.0), "next": {"demo": 0.5, "nurture": 0.3, "lost": 0.2}},
            "demo": {"delay": expo(3.0), "next": {"won": 0.6, "lost": 0.4}},
            "nurture": {"delay": expo(10.0), "recycle": {"back": {"qualify": 0.5}}},
        },
    }, unit="day")
    return engine.run(truth, replications=1, seed=3, event_log=True).event_log()


def history(log: pd.DataFrame, end_rows: bool) -> pd.DataFrame:
    """The CRM's stage history: a visit per stage entry; the track shows as Closed Lost."""
    rows = []
    for lead, events in log.groupby("lead", sort=False):
        steps = events[events["event"].isin(["delay_started", "won", "lost"])]
        steps = [e for e in steps.to_dict("records")
                 if not (e["event"] == "lost" and rows and rows[-1]["deal_id"] == f"D{lead}"
                         and rows[-1]["stage"] == CRM["nurture"])]
        for i, e in enumerate(steps):
            if e["event"] != "delay_started":
                break
            stage = e["stage"]
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            when = e["time:timestamp"].isoformat()
            if stage == "nurture" and not end_rows:
                continue  # only the visit before it says Closed Lost
            if stage == "nurture":
                rows.append({"deal_id": f"D{lead}", "stage": CRM["nurture"], "entered_at": when,
                             "exited_at": "", "next_stage": ""})
                continue
            target = None if nxt is None else (nxt["stage"] if nxt["event"] == "delay_started"
                                               else nxt["event"])
            shown = "" if target is None or (target == "nurture" and end_rows) else CRM[target]
            rows.append({"deal_id": f"D{lead}", "stage": CRM[stage], "entered_at": when,
                         "exited_at": "" if nxt is None else nxt["time:timestamp"].isoformat(),
                         "next_stage": shown})
    return pd.DataFrame(rows)


def came_back(log: pd.DataFrame) -> tuple[int, int, int]:
    """(deals that came back, nurture visits they came back from, qualify -> those visits)."""
    deals = visits = from_qualify = 0
    for _, events in log.groupby("lead", sort=False):
        stages = list(events.loc[events["event"] == "delay_started", "stage"])
        back = [i for i, s in enumerate(stages) if s == "nurture" and i + 1 < len(stages)]
        deals += bool(back)
        visits += len(back)
        from_qualify += sum(stages[i - 1] == "qualify" for i in back)
    return deals, visits, from_qualify


@pytest.mark.parametrize("end_rows", [True, False], ids=["lost_rows", "next_stage_lost"])
def test_re_entries_become_nurture_visits(log, end_rows, tmp_path):
    path = tmp_path / "history.csv"
    history(log, end_rows).to_csv(path, index=False)
    v = read_visits(path)
    deals, visits, from_qualify = came_back(log)
    assert deals > 50
    assert any(f"re-entries: {deals} deals" in w for w in v.warnings)
    assert not any(w.startswith("rows after the end") for w in v.warnings)
    nurture = v.visits[v.visits["stage"] == NURTURE]
    assert len(nurture) == visits
    assert (nurture["next_stage"] == "Qualify").all()
    cal = calibrate(v)
    assert cal.routing["qualify"].counts[NURTURE] == from_qualify
    text = scenario_yaml(cal, scenario_data(cal, "recycled"), str(path))
    written = check_scenario(text)
    track = written.stages[NURTURE]
    assert track.recycle is not None and set(track.recycle.back) == {"qualify"}
    assert written.progress[NURTURE] is False


def test_rows_after_a_win_are_still_after_sale_rows(tmp_path):
    rows = [("D1", "Qualify", "2026-01-01", "2026-01-02", "Closed Won"),
            ("D1", "Closed Won", "2026-01-02", "", ""),
            ("D1", "Qualify", "2026-02-01", "", ""),
            ("D2", "Qualify", "2026-01-01", "2026-01-03", "Closed Lost"),
            ("D3", "Qualify", "2026-01-05", "2026-01-06", "Closed Lost")]
    path = tmp_path / "h.csv"
    pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at", "exited_at",
                                "next_stage"]).to_csv(path, index=False)
    v = read_visits(path)
    assert any(w.startswith("rows after the end: 1 deals") for w in v.warnings)
    assert not any("re-entries" in w for w in v.warnings)
    assert NURTURE not in set(v.visits["stage"])
