"""calibrate warns when the staff work of --touch leaves its own back-test inconsistent
with the history (the report must not read "Warnings: none")."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pytest
from tests.forecast_histories import history, truth

from salessim.calibrate.backtest import Backtest, Line, touch_warnings
from salessim.calibrate.pipeline import calibrate_visits


def _backtest(lines, emd=1.0, limit=2.0) -> Backtest:
    return Backtest(lines, 20, None, emd, limit, np.array([]), np.array([]))


def test_the_warning_names_the_touch_and_what_failed():
    ok = Line("won", 141.0, 139.7, 112.9, 166.5)
    slow = Line("cycle_time_won_p90", 40.4, 48.75, 40.54, 56.96)
    assert touch_warnings(_backtest([ok]), {"proposal": 2.0}) == []
    assert touch_warnings(_backtest([ok, slow]), {}) == []  # no --touch: not its doing
    (text,) = touch_warnings(_backtest([ok, slow], emd=4.334, limit=3.926),
                             {"proposal": 2.0, "negotiation": 1.0})
    assert text.startswith("--touch (proposal 2 days, negotiation 1 day) leaves the "
                           "back-test inconsistent with the history: cycle_time_won_p90 "
                           "40.4 in the data against 48.75 simulated (95% prediction "
                           "interval 40.54 to 56.96); the cycle time of won deals 4.334 "
                           "days from the data's")
    assert "--headcount owner=N" in text and "won 141" not in text
    # The distance alone is enough.
    assert touch_warnings(_backtest([ok], emd=3.0, limit=2.0), {"demo": 0.5})


def test_calibrate_warns_when_its_touch_fails_its_own_backtest():
    visits = history(truth(), 123.0, seed=11)
    # Three days of work per proposal (about half a proposal a day) for one owner: 1.5
    # days of work a day, a queue that grows without end: proposals pile up.
    slowed = calibrate_visits(visits, "<history>", {"proposal": 3.0}, replications=4,
                              headcount={"owner": 1})
    failed = slowed.backtest.inconsistent
    assert "open.proposal" in failed
    warned = [w for w in slowed.warnings if w.startswith("--touch (proposal 3 days)")]
    assert len(warned) == 1 and f"{failed[0]} " in warned[0]
    assert not math.isnan(slowed.backtest.emd)
    # The report says so too (it read "Warnings: none"), and its tables read as a client
    # reads numbers: no exponent, no True/False.
    page = slowed.html
    assert html.escape(warned[0]) in page and "<p>none</p>" not in page
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert cells and not [c for c in cells if re.search(r"\de[+-]\d|True|False", c)]
    assert "<td>no</td>" in page  # the back-test's inconsistent lines


@pytest.mark.parametrize("days", [1.0])
def test_the_unit_is_singular_for_one_day(days):
    (text,) = touch_warnings(_backtest([], emd=3.0, limit=2.0), {"negotiation": days})
    assert text.startswith("--touch (negotiation 1 day) ")


def test_report_cells_read_as_numbers_not_exponents():
    from salessim.calibrate.report import _cell

    assert [_cell(v) for v in (42070.4, 0.00003401, float("nan"), np.float64(3125256.0))] == [
        "42,070", "0.00003401", "", "3,125,256"]
    assert [_cell(v) for v in (True, np.bool_(False), 1234, np.int64(7), "web")] == [
        "yes", "no", "1,234", "7", "web"]
