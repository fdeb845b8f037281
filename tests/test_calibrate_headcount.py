"""No owners in the export plus staff work (--touch): a headcount given or estimated, said.

It used to be 1 whatever the work, silently (won median 84 -> 205 days at 95% utilisation).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from tests.forecast_histories import history, truth

from salessim import cli
from salessim.calibrate.estimate import calibrate
from salessim.calibrate.headcount import WAIT_SHARE, estimate_headcount
from salessim.calibrate.readers import ExportError
from salessim.calibrate.writer import evidence, scenario_data, scenario_yaml
from salessim.teaching.queueing import erlang_c

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "crm" / "stage_history.csv"


@pytest.fixture(scope="module")
def visits():
    return history(truth(), 120, 3)


def test_the_headcount_is_the_smallest_with_almost_no_queue(visits):
    touch = {"discovery": 2.0, "demo": 1.0}
    v = visits.visits
    rate = {s: (v["stage"].map(visits.target) == s).sum() / visits.days for s in touch}
    load = sum(rate[s] * w for s, w in touch.items())
    work = load / sum(rate.values())
    got = estimate_headcount(visits, touch)
    assert got.source == "estimated" and got.load == pytest.approx(load)
    c = got.value
    assert c > load > 1  # one person could not even do the work
    assert erlang_c(c, load) * work / (c - load) <= WAIT_SHARE * work
    assert c - 1 <= load or erlang_c(c - 1, load) * work / (c - 1 - load) > WAIT_SHARE * work

    cal = calibrate(visits, touch)
    assert cal.headcount == c and cal.staffing.source == "estimated"
    assert any(w.startswith(f"headcount not in the data: {c}, estimated") for w in cal.warnings)
    data = scenario_data(cal, "t")
    assert data["roles"]["owner"]["headcount"] == c
    assert "# estimated: no owners in the data; offered load" in scenario_yaml(cal, data, "h")
    staff = evidence(cal, data, "h")["staff"]
    assert staff["headcount_source"] == "estimated"
    assert math.isclose(staff["offered_load"], load)


def test_a_given_headcount_is_used_and_named(visits):
    cal = calibrate(visits, {"demo": 1.0}, headcount={"owner": 7})
    assert cal.headcount == 7 and cal.staffing.source == "given"
    data = scenario_data(cal, "t")
    assert "# given: --headcount owner=7" in scenario_yaml(cal, data, "h")
    with pytest.raises(ExportError, match="--headcount ae: no such role"):
        calibrate(visits, {"demo": 1.0}, headcount={"ae": 2})


def test_no_owners_and_no_staff_work_is_no_role(visits):
    cal = calibrate(visits)
    assert cal.staffing is None and cal.headcount is None  # no owners, no work: no role


@pytest.mark.slow  # long: handed out first
def test_the_command_says_which_headcount_it_used(capsys, tmp_path):
    frame = pd.read_csv(SAMPLE).drop(columns=["owner"])
    frame.to_csv(tmp_path / "h.csv", index=False)
    out = tmp_path / "out"
    code = cli.main(["calibrate", str(tmp_path / "h.csv"), "--out", str(out), "--touch",
                     "Demo=1 day", "--no-backtest"])
    assert code == 0
    text = capsys.readouterr().out
    assert "staff owner: headcount" in text and "(estimated:" in text
    assert json.loads((out / "calibration.json").read_text())["staff"][
        "headcount_source"] == "estimated"
    code = cli.main(["calibrate", str(tmp_path / "h.csv"), "--out", str(tmp_path / "o2"),
                     "--touch", "Demo=1 day", "--headcount", "owner=4", "--no-backtest"])
    assert code == 0
    assert "staff owner: headcount 4 (given: --headcount owner=4)" in capsys.readouterr().out
    code = cli.main(["calibrate", str(tmp_path / "h.csv"), "--out", str(tmp_path / "o3"),
                     "--headcount", "owner=none", "--no-backtest"])
    assert code == 2
    assert "--headcount owner=none: N must be a whole number" in capsys.readouterr().err
