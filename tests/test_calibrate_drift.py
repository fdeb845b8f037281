"""Drift in routing and in time in stage: found, dated, sized, and a window proposed.

Known truth: one history of examples/crm/truth.yaml over 240 days, changed in the export
at day 120 (tests/drift_histories.py): negotiation's win share halved, or demo's time
doubled. The same history unchanged must raise no drift (the scan's family-wise level is
:data:`ALPHA`).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.drift_histories import halve_wins, slow_stage, stable

from salessim import cli
from salessim.calibrate.drift import ALPHA, SPLITS, find_drift, logrank
from salessim.calibrate.estimate import calibrate
from salessim.calibrate.visits import DAY


@pytest.fixture(scope="module")
def base():
    return stable(240, 1)


def _step(visits, stage):
    """One candidate split's width in time: 5% of the stage's visits, in days of entries."""
    v = visits.visits[visits.visits["stage"] == stage]
    return (v["entered_at"].max() - v["entered_at"].min()) / DAY * (SPLITS[1] - SPLITS[0])


def test_a_stable_history_has_no_drift(base):
    assert find_drift(base) == []


def test_halving_the_win_share_is_found_with_its_date_and_size(base):
    at = base.start + 120 * DAY
    found = find_drift(halve_wins(base, at, 1))
    assert [(d.stage, d.kind) for d in found] == [("negotiation", "routing")]
    d = found[0]
    assert d.p < ALPHA
    assert abs((d.date - at) / DAY) <= 2 * _step(base, "negotiation")
    # The won share before is truth's 0.6 and after 0.3: within 0.12, a 99% binomial band
    # on about 160 and 200 exits (+/- 0.10 and 0.09) and a little for the split's offset.
    before, after = d.shares["won"]
    assert abs(before - 0.6) < 0.12 and abs(after - 0.3) < 0.12
    assert f"won {before:.2f} -> {after:.2f}" in d.size
    assert d.warning().endswith(f"--since {d.date:%Y-%m-%d}")


def test_doubling_a_stage_time_is_found_with_its_date_and_size(base):
    at = base.start + 120 * DAY
    found = find_drift(slow_stage(base, "demo", at))
    assert ("demo", "time") in [(d.stage, d.kind) for d in found]
    d = next(d for d in found if d.kind == "time")
    assert abs((d.date - at) / DAY) <= 2 * _step(base, "demo")
    # About half the exit rate (the time doubled); not exactly half: a gamma time scaled by 2
    # has no proportional hazards, and the split mixes a few visits of the other side.
    assert 0.25 < d.ratio < 0.7
    assert f"exit rate after / before {d.ratio:.2f}" in d.size


def test_logrank_by_hand():
    import numpy as np

    # Two exits in group 1 (times 1, 3), one in group 2 (time 2), one censored (4).
    p, ratio = logrank(np.array([1.0, 3.0]), np.array([True, True]),
                       np.array([2.0, 4.0]), np.array([True, False]))
    # At 1: n1=2, n=4, d=1: E1 = 0.5, V = 0.25. At 2: n1=1, n=3: E1 = 1/3, V = 2/9.
    # At 3: n1=1, n=2: E1 = 0.5, V = 0.25. O1 = 2, E1 = 4/3, V = 13/18.
    from scipy import stats as st

    assert p == pytest.approx(st.chi2.sf((2 - 4 / 3) ** 2 / (13 / 18), 1))
    assert ratio == pytest.approx((1 / (3 - 4 / 3)) / (2 / (4 / 3)))


def test_calibration_reports_drift_and_since_keeps_the_window(base, tmp_path):
    at = base.start + 120 * DAY
    changed = halve_wins(base, at, 1)
    cal = calibrate(changed)
    assert any(w.startswith("drift: routing of 'negotiation' changed about") for w in
               cal.warnings)
    after = changed.since(cal.drift[0].date)
    assert after.start == cal.drift[0].date
    assert (after.deals["created_at"] >= after.start).all()
    assert not [d for d in find_drift(after) if d.stage == "negotiation"]


@pytest.mark.slow  # long: handed out first
def test_the_command_takes_since(capsys, tmp_path):
    from tests.test_calibrate_headcount import SAMPLE

    code = cli.main(["calibrate", str(SAMPLE), "--out", str(tmp_path / "o"), "--since",
                     "2026-03-01", "--no-backtest"])
    assert code == 0, capsys.readouterr().err
    ev = json.loads((tmp_path / "o" / "calibration.json").read_text())
    assert ev["period"]["start"].startswith("2026-03-01")
    full = pd.read_csv(SAMPLE)
    assert ev["deals"] == full.loc[pd.to_datetime(full["created_at"]) >= "2026-03-01",
                                   "deal_id"].nunique()
    assert isinstance(ev["drift"], list)
    code = cli.main(["calibrate", str(SAMPLE), "--out", str(tmp_path / "p"), "--since",
                     "1999-01-01", "--no-backtest"])
    assert code == 2
    assert "--since 1999-01-01 00:00: must lie in the export's period" in (
        capsys.readouterr().err)
