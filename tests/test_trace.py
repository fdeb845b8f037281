"""The lead trace: sentences with reasons for every wait, on a calendar or a working clock
(the animation is in test_animation.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from salessim.cli import main
from salessim.engine import run
from salessim.scenario import Scenario
from salessim.teaching.animation import timelines
from salessim.teaching.trace import duration, trace, when

ROOT = Path(__file__).resolve().parents[1]


def office_scenario() -> Scenario:
    data = {"name": "office hours", "time_unit": "hour", "horizon": 400, "seed": 2,
            "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]},
            "roles": {"sdr": {"headcount": 1}, "ae": {"headcount": 1}},
            "handoff": {"delay": 2.0},
            "sources": {"web": {"rate": 0.2}}, "entry": "qualify",
            "stages": {"qualify": {"role": "sdr", "work": 0.5, "next": {"pitch": 1.0}},
                       "pitch": {"role": "ae", "work": 1.0, "delay": 30.0,
                                 "next": {"won": 0.5, "qualify": 0.5}}}}
    return Scenario.model_validate(data, context={"time_unit": "hour"})


def hand_log(lead: str = "web-1", resource=("sdr", "", "ae")) -> pd.DataFrame:
    """A lead created Monday 00:00: an SDR at 09:00 after another deal, a hand-off, the AE."""
    sdr, none, ae = resource
    rows = [
        (0, lead, "created", "", 0.0, none),
        (0, lead, "queued", "qualify", 0.0, sdr),
        (0, lead, "started", "qualify", 9.5, sdr),   # 9 h off duty, 30 min behind a deal
        (0, lead, "finished", "qualify", 10.0, sdr),
        (0, lead, "handoff", "", 10.0, "sdr>ae"),
        (0, lead, "queued", "pitch", 12.0, ae),
        (0, lead, "started", "pitch", 12.0, ae),
        (0, lead, "finished", "pitch", 13.0, ae),
        (0, lead, "delay_started", "pitch", 13.0, none),
        (0, lead, "delay_finished", "pitch", 43.0, none),
        (0, lead, "won", "", 43.0, none),
    ]
    return pd.DataFrame(rows, columns=["replication", "lead", "event", "stage", "time",
                                       "resource"])


def test_durations_and_calendar_times():
    assert duration(25 / 60) == "25 min"
    assert duration(2 + 10 / 60) == "2 h 10 min"
    assert duration(4 * 24 + 3) == "4 days 3 h"
    assert duration(24) == "1 day"
    assert when(0.0, "hour") == "day 1, Mon 5 Jan 2026 00:00"
    assert when(1.5, "day") == "day 2, Tue 6 Jan 2026 12:00"


def test_each_wait_says_why():
    lines = trace(office_scenario(), hand_log(), 1)
    assert lines[0] == "web-1: created by source web at day 1, Mon 5 Jan 2026 00:00."
    assert "qualify: waited 9 h 30 min for sdr (9 h of it with staff off duty, 30 min in the " \
           "queue behind other deals)." in lines[1]
    assert lines[3] == "  hand-off sdr to ae: 2 h passing the deal on."
    assert lines[4] == "  pitch: ae started at once, day 1, Mon 5 Jan 2026 12:00."
    assert "the customer took 1 day 6 h (customer-side delay)" in lines[6]
    assert lines[-1] == "  won at day 2, Tue 6 Jan 2026 19:00, 1 day 19 h after creation."


def test_a_working_clock_reads_as_working_days():
    """A scenario whose clock counts working hours (working_day: 8) is told in working days,
    never as calendar dates: hour 44 is hour 4 of the sixth working day."""
    from salessim.clock import working_clock, working_span

    assert working_clock(44.0, 8.0, 1.0) == "working day 6, hour 4:00"
    assert working_clock(7.9999999, 8.0, 1.0) == "working day 2, hour 0:00"
    assert working_clock(1.5, 1.0, 24.0) == "working day 2, hour 12:00"
    assert working_span(44.0, 8.0, 1.0) == "5.5 working days"
    assert working_span(8.0 - 1e-12, 8.0, 1.0) == "1.0 working day"
    assert working_span(2 + 1 / 6, 8.0, 1.0) == "2 h 10 min"
    sc = office_scenario().model_copy(update={"calendar": None, "working_day": 8.0})
    lines = trace(sc, hand_log(), 1)
    assert lines[0] == "web-1: created by source web at working day 1, hour 0:00."
    assert "qualify: waited 1.2 working days for sdr" in lines[1]
    assert lines[-1] == "  won at working day 6, hour 3:00, 5.4 working days after creation."
    assert not any("Jan 2026" in line for line in lines)


def test_trace_is_robust_to_log_variations():
    """Resources as None or NaN, lead ids with the replication, an extra `entered` event."""
    base = trace(office_scenario(), hand_log(), 1)
    for missing in (None, math.nan):
        log = hand_log("r0-web-1", ("sdr", missing, "ae"))
        extra = log.iloc[[1]].assign(event="entered")
        log = pd.concat([log.iloc[:1], extra, log.iloc[1:]], ignore_index=True)
        lines = trace(office_scenario(), log, 1)
        assert [s.replace("r0-web-1", "web-1") for s in lines] == base


def test_trace_of_a_run_tells_every_lead_to_its_end():
    sc = office_scenario()
    log = run(sc, replications=1, event_log=True).event_log()
    lines = trace(sc, log, 6)
    stories = "\n".join(lines).split("\n\n")
    assert len(stories) == 6
    for story in stories:
        assert story.splitlines()[-1].startswith(("  won at", "  lost at", "  still open"))
    assert any("went back to qualify" in s for s in stories) or all(
        "won at" in s for s in stories)
    with pytest.raises(KeyError, match="no lead 'web-999'"):
        trace(sc, log, ["web-999"])


def test_trace_command(capsys, tmp_path):
    assert main(["trace", "scenarios/tutorial.yaml", "--leads", "2", "--set", "horizon=60"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("inbound-1: created by source inbound")
    assert main(["trace", "scenarios/tutorial.yaml", "--lead", "nobody-1"]) == 2
    assert main(["trace", "scenarios/tutorial.yaml", "--leads", "0"]) == 2
    assert main(["trace", "scenarios/tutorial.yaml", "--animate", str(tmp_path / "a.html"),
                 "--window", "50:10"]) == 2
    assert "--window" in capsys.readouterr().err
    assert not (tmp_path / "a.html").exists()


def test_timelines_keep_leads_alive_in_the_window():
    sc = office_scenario()
    log = run(sc, replications=1, event_log=True).event_log()
    lines = timelines(log, 100.0, 200.0)
    assert lines and all(steps[0][0] <= 200.0 for steps in lines)
    assert all(steps == sorted(steps, key=lambda s: s[0]) for steps in lines)
