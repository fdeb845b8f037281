"""Routing shares with open visits: the incidence at the longest follow-up, not the closed
share.

On a short history of tests/exitgen.py's process (40 days, 100 leads a day), about a
quarter of the offer visits are still open at the export date. Offer races a move on
(lognormal, mean 14 days) against a loss (exponential, mean 60 days) with a 30-day
time-out to lost, so the open visits are the ones more likely to end lost: among the
closed visits, validation's share was 0.787 to 0.797 on four seeds against a true 0.769,
each 95% Wilson interval above the truth. The Aalen-Johansen incidence at the last exit
age counts an open visit of age a in every risk set up to a; its interval (Wilson at the
effective sample size) holds the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

import exitgen
from salessim.calibrate.estimate import fit_routing, wilson
from salessim.calibrate.incidence import aalen_johansen, incidence_shares
from salessim.calibrate.pipeline import read_visits

pytestmark = pytest.mark.xdist_group("calibrate_exits")


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    truth = exitgen.Truth(rate=100.0)
    h = exitgen.generate(seed=301, days=40, future=1, truth=truth)
    path = h.write(tmp_path_factory.mktemp("routing") / "history.csv")
    return truth, read_visits(path, as_of=str(h.as_of))


def test_true_shares_inside_their_intervals_with_open_visits(short):
    truth, visits = short
    routing = fit_routing(visits)
    offer = routing["offer"]
    assert offer.open > 0.2 * (offer.open + offer.exits)  # the case that matters
    for stage, forward in (("application", "offer"), ("offer", "validation")):
        r = routing[stage]
        true = float(truth.cif(stage, forward, [1e4])[0])  # time-out included
        low, high = r.intervals[forward]
        assert low <= true <= high, (stage, r.shares[forward], low, high, true)
        low, high = r.intervals["lost"]
        assert low <= 1 - true <= high, (stage, r.shares["lost"], low, high, 1 - true)
        assert sum(r.shares.values()) == pytest.approx(1.0)
    # The closed share, the estimator this replaces, is above the truth's interval here.
    closed = offer.counts["validation"] / offer.exits
    assert wilson(offer.counts["validation"], offer.exits)[0] > truth.cif(
        "offer", "validation", [1e4])[0], closed


def test_without_open_visits_the_closed_share_and_wilson_exactly():
    rng = np.random.default_rng(5)
    t = rng.exponential(3.0, 400)
    code = rng.integers(0, 3, 400)
    found = incidence_shares(t, code, ["a", "b", "c"])
    assert found.unresolved == pytest.approx(0.0, abs=1e-12)
    for k, c in enumerate("abc"):
        n_k = int((code == k).sum())
        assert found.shares[c] == pytest.approx(n_k / 400, abs=1e-12)
        assert found.interval(c) == pytest.approx(wilson(n_k, 400), abs=1e-9)


def test_open_visits_past_the_last_exit_share_out_in_proportion():
    """Two exits by a, one by b, then two visits open beyond every exit: the curve stops
    at 3/5 done; the shares are its proportions, 2/3 and 1/3."""
    t = np.array([1.0, 2.0, 3.0, 9.0, 9.0])
    code = np.array([0, 1, 0, -1, -1])
    found = incidence_shares(t, code, ["a", "b"])
    inc = aalen_johansen(t, code, ["a", "b"])
    assert found.unresolved == pytest.approx(0.4)
    assert found.shares == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert found.se["a"] == pytest.approx(inc.se[0, -1] / 0.6)


def test_open_visit_shifts_the_share_towards_the_slow_exit():
    """Two fast exits at age 1, one visit open at 5, one slow exit at 10. By hand: at 1,
    2 of the 4 at risk leave fast (F_fast = 1/2, S = 1/2); at 10 the one at risk leaves
    slow (F_slow = 1/2 x 1). The closed visits would say 2/3 fast."""
    t = np.array([1.0, 1.0, 5.0, 10.0])
    code = np.array([0, 0, -1, 1])
    found = incidence_shares(t, code, ["fast", "slow"])
    assert found.shares == pytest.approx({"fast": 0.5, "slow": 0.5})
    assert found.unresolved == pytest.approx(0.0)
