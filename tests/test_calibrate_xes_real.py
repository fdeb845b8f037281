"""Real public event logs: read, proposed and calibrated (smoke tests of the readers).

None is shipped: the public logs that look like a sales or service funnel (BPI Challenge
2012, Helpdesk, Sepsis Cases, the WABO receipt phase, BPI Challenge 2013) are published
on 4TU.ResearchData under its general terms of use, which allow downloading and analysing
them but grant no right to redistribute the files. A test reads a log when the file is in
``tests/data/real/`` or in the folder named by ``SALESSIM_REAL_XES``, and otherwise skips
saying which log, where to get it and why it is not here. What these logs taught the
readers (life-cycle values used as statuses, logs of work items only, bursts of steps
within seconds) is pinned below by tests on small hand-written logs that always run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salessim.calibrate.fromlog import read_events
from salessim.calibrate.lifecycle import pair
from salessim.calibrate.pipeline import calibrate_file
from salessim.calibrate.stagemap import load_stage_map, propose_stage_map

TERMS = ("4TU.ResearchData general terms of use: download and analysis allowed, no right "
         "to redistribute, so not shipped")


@dataclass(frozen=True)
class RealLog:
    """A public log, the file name it is looked for under, and what reading it gives."""

    title: str
    file: str
    events: int
    cases: int
    warnings: tuple[str, ...]   # the beginnings of warnings calibration must give


LOGS = (
    RealLog("BPI Challenge 2012 (van Dongen, doi:10.4121/uuid:3926db30-f712-4394-aebc-"
            "75976070e91f): consumer credit applications", "BPI_Challenge_2012.xes.gz",
            262_200, 13_087,
            ("extraction cut: no case starts after 2012-02-29",
             "unpaired life-cycle events: 1060 (1040 complete without start",
             "over-dispersed arrivals: source 'all'", "resources in several roles")),
    RealLog("Helpdesk (Verenich): tickets of an Italian software company", "Helpdesk.xes.gz",
            21_348, 4_580,
            ("extraction cut: no case starts after 2013-11-28",
             "jump in the Kaplan-Meier curve: stage 'resolve_ticket'")),
    RealLog("Sepsis Cases (Mannhardt, doi:10.4121/uuid:915d2bfb-7e84-49ad-a286-"
            "dc35f063a460): patients' pathways in a hospital", "SEPSIS.xes.gz", 15_214, 1_050,
            ("extraction cut: no case starts after 2015-02-26",
             "durations at the resolution: ")),
    RealLog("Receipt phase of an environmental permit application, WABO, CoSeLoG project "
            "(Buijs)", "env_permit.xes.gz", 8_577, 1_434,
            ("over-dispersed arrivals: source 'internet'",)),
    RealLog("BPI Challenge 2013, incidents (Steeman): Volvo IT incident handling",
            "bpi_challenge_2013_incidents.xes.gz", 65_533, 7_554,
            ("life cycle as status: 65533 events have a lifecycle:transition outside the "
             "XES standard",)),
)

FOLDERS = [Path(p) for p in (os.environ.get("SALESSIM_REAL_XES", ""),) if p] + [
    Path(__file__).resolve().parent / "data" / "real"]


def _find(log: RealLog) -> Path | None:
    return next((f / log.file for f in FOLDERS if (f / log.file).is_file()), None)


@pytest.mark.parametrize("log", LOGS, ids=[log.file.split(".")[0] for log in LOGS])
def test_a_real_log_reads_gives_a_proposal_and_calibrates_with_warnings(log, tmp_path):
    path = _find(log)
    if path is None:
        pytest.skip(f"{log.title}: {TERMS}; put {log.file} in tests/data/real/ or in the "
                    "folder SALESSIM_REAL_XES names to read it")
    events = read_events(path)
    assert (len(events), events["case"].nunique()) == (log.events, log.cases)
    smap, text = propose_stage_map(events, pair(events).frame)
    assert smap.stages and smap.ends
    proposal = tmp_path / "map.yaml"
    proposal.write_text(text, encoding="utf-8")
    assert load_stage_map(proposal, events).stages == smap.stages  # what it writes reads back
    # The unedited proposal calibrates, and the warnings say what a careful analyst would.
    result = calibrate_file(path, stages=proposal, run_backtest=False, report=False)
    assert result.evidence["event_log"]["events"] == log.events
    assert result.evidence["warnings"] == result.warnings
    for start in log.warnings:
        assert any(w.startswith(start) for w in result.warnings), start


STATUS_XES = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
<trace><string key="concept:name" value="i1"/>
 <event><string key="concept:name" value="Queued"/><string key="lifecycle:transition"
   value="Awaiting Assignment"/><date key="time:timestamp" value="2012-05-01T09:00:00+02:00"/>
 </event>
 <event><string key="concept:name" value="Accepted"/><string key="lifecycle:transition"
   value="In Progress"/><date key="time:timestamp" value="2012-05-01T10:00:00+02:00"/></event>
 <event><string key="concept:name" value="Accepted"/><string key="lifecycle:transition"
   value="unknown"/><date key="time:timestamp" value="2012-05-01T10:30:00+02:00"/></event>
 <event><string key="concept:name" value="Check"/><string key="lifecycle:transition"
   value="start"/><date key="time:timestamp" value="2012-05-01T11:00:00+02:00"/></event>
 <event><string key="concept:name" value="Check"/><string key="lifecycle:transition"
   value="complete"/><date key="time:timestamp" value="2012-05-01T11:20:00+02:00"/></event>
</trace>
</log>
"""


def test_life_cycle_values_used_as_statuses_become_named_steps(tmp_path):
    path = tmp_path / "status.xes"
    path.write_text(STATUS_XES, encoding="utf-8")
    events = read_events(path)
    assert events["activity"].astype(str).tolist() == [
        "Queued (awaiting assignment)", "Accepted (in progress)", "Accepted", "Check", "Check"]
    assert events["lifecycle"].astype(str).tolist() == [
        "complete", "complete", "complete", "start", "complete"]  # 'unknown': a step too
    assert events.attrs["warnings"] == [
        "life cycle as status: 2 events have a lifecycle:transition outside the XES standard "
        "('awaiting assignment' 1, 'in progress' 1); each is read as an instantaneous step "
        "named 'activity (transition)'. Map those names in the stage map"]
    found = pair(events)
    assert found.unpaired == {}  # no 'unknown transition' counted as unpaired
    assert found.frame["status"].tolist().count("milestone") == 3


def _work_only(cases: int) -> pd.DataFrame:
    """Cases of two work items each (A, then B a day later), started and completed, ending
    in a burst of three steps within a second (as traced software does)."""
    rows = []
    for c in range(cases):
        t = pd.Timestamp("2025-01-06 09:00") + pd.Timedelta(hours=c)
        for act, at in (("A", t), ("B", t + pd.Timedelta(days=1))):
            rows += [(f"c{c}", act, at, "start"), (f"c{c}", act, at + pd.Timedelta(hours=1),
                                                   "complete")]
        end = t + pd.Timedelta(days=2)
        rows += [(f"c{c}", step, end + pd.Timedelta(milliseconds=i), "start")
                 for i, step in enumerate(("x", "y", "z"))]
        rows += [(f"c{c}", step, end + pd.Timedelta(milliseconds=i + 1), "complete")
                 for i, step in enumerate(("x", "y", "z"))]
    frame = pd.DataFrame(rows, columns=["case", "activity", "time", "lifecycle"])
    return frame.assign(resource=None, row=range(1, len(frame) + 1))


def test_a_log_of_work_items_only_proposes_stages_from_their_starts():
    events = _work_only(30)
    smap, _ = propose_stage_map(events, pair(events).frame)
    opened = {a for starts in smap.stages.values() for a in starts}
    assert {"A", "B"} <= opened
    # Of the burst, only the step that is the very last one of cases ends them.
    assert list(smap.ends) == ["z"]


def test_one_time_out_gives_one_jump_warning_at_both_bin_widths():
    """A time-out at 15.3 days (as Helpdesk's tickets close) is found by the narrow bins
    and by the day-wide ones, whose centres differ (15.x and 15.5): one warning, not two."""
    from salessim.calibrate.checks import jump_warnings

    rng = np.random.default_rng(3)
    exits = rng.uniform(0.5, 40, 2000).tolist() + [15.3] * 500
    warnings = jump_warnings("resolve", np.array(exits),
                             np.zeros(len(exits), bool), 1 / 86400)
    assert len(warnings) == 1
    age = float(warnings[0].split("at an age of ")[1].split(" ")[0])
    assert 15 <= age <= 16
