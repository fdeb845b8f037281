"""Exits with their own times, time-outs, value and visit odds: the engine against theory.

Every stage here has no staff (or a constant piece of work), so the deals are independent
and each one is a Bernoulli trial of its exit: a share is checked inside its binomial
confidence interval, a mean time inside its Student-t interval, at the level Z below,
Bonferroni-adjusted over the checks of the whole file (about 60), so a correct engine
fails a check by chance about once in 10,000 runs of the file, whatever the seed.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from scipy import stats
from tests.conftest import const, expo, scenario_of

from salessim import engine
from salessim.ends import shifted_forward
from salessim.scenario.schema import Scenario

#: Two-sided normal quantile for a family-wise error of 1e-4 over 60 checks.
Z = float(stats.norm.isf(1e-4 / 60 / 2))


def _one_stage(stage: dict, rate: float = 40.0, horizon: float = 600.0, value=1000,
               **extra) -> Scenario:
    """Leads entering one stage whose exits are ends; no staff."""
    return scenario_of({"horizon": horizon, "warmup": 0.0, "replications": 1,
                        "sources": {"web": {"rate": rate, "deal_value": value}},
                        "entry": "offer", "stages": {"offer": stage}, **extra}, unit="day")


def _deals(scenario: Scenario, replication: int = 0):
    """Per closed lead: (end, time in the entry stage, deal value) and the replication."""
    rep = engine.run_replication(scenario, replication, event_log=True)
    entered: dict[str, float] = {}
    out: dict[str, tuple[str, float]] = {}
    for e in rep.log.records():
        if e.event == "entered" and e.stage == scenario.entry:
            entered.setdefault(e.lead, e.time)
        elif e.event in ("won", "lost", "no_decision"):
            out[e.lead] = (e.event, e.time - entered[e.lead])
    cases = rep.log.cases().set_index("lead")
    values = cases["deal_value"].to_dict()
    ends = np.array([v[0] for v in out.values()])
    times = np.array([v[1] for v in out.values()])
    vals = np.array([values[k] for k in out])
    return ends, times, vals, rep


def _share_ok(hits: int, n: int, p: float) -> None:
    half = Z * math.sqrt(p * (1 - p) / n)
    assert abs(hits / n - p) <= half, f"{hits}/{n} = {hits / n:.4f}, theory {p:.4f} +- {half:.4f}"


def _mean_ok(x: np.ndarray, mu: float) -> None:
    half = Z * x.std(ddof=1) / math.sqrt(len(x))
    assert abs(x.mean() - mu) <= half, f"mean {x.mean():.4f}, theory {mu:.4f} +- {half:.4f}"


def test_exponential_exits_leave_in_proportion_to_their_rates():
    means = {"won": 2.0, "lost": 6.0, "no_decision": 3.0}
    sc = _one_stage({"exits": {t: {"time": expo(m)} for t, m in means.items()}})
    ends, times, _, _ = _deals(sc)
    rates = {t: 1 / m for t, m in means.items()}
    total = sum(rates.values())
    n = len(ends)
    assert n > 15_000
    for target, rate in rates.items():
        _share_ok(int((ends == target).sum()), n, rate / total)
        # Competing exponentials: the time does not depend on which exit won.
        _mean_ok(times[ends == target], 1 / total)
    _mean_ok(times, 1 / total)
    median = math.log(2) / total  # the minimum is exponential with the summed rate
    _share_ok(int((times > median).sum()), n, 0.5)
    _share_ok(int((times > 3 * median).sum()), n, 0.125)


def test_time_out_takes_the_deals_whose_exits_all_come_later():
    won = {"dist": "lognormal", "mean": 10.0, "cv": 1.5}
    lost = {"dist": "weibull", "shape": 0.8, "scale": 40.0}
    after = 15.0
    sc = _one_stage({"exits": {"won": {"time": won}, "lost": {"time": lost}},
                     "timeout": {"after": after, "to": "no_decision"}})
    ends, times, _, rep = _deals(sc)
    sigma2 = math.log1p(1.5**2)
    s_won = stats.lognorm(math.sqrt(sigma2), scale=10.0 * math.exp(-sigma2 / 2)).sf(after)
    s_lost = math.exp(-(after / 40.0) ** 0.8)
    n = len(ends)
    timed = ends == "no_decision"
    _share_ok(int(timed.sum()), n, s_won * s_lost)
    assert rep.kpis["timed_out"] == rep.kpis["timed_out.offer"] == timed.sum()
    assert times.max() <= after + 1e-9  # the stage time is capped
    np.testing.assert_allclose(times[timed], after, rtol=0, atol=1e-9)
    assert (times[~timed] < after).all()
    # The implied shares (the race, integrated) agree with the simulation too.
    implied = sc.stages["offer"].implied
    for target in ("won", "lost", "no_decision"):
        _share_ok(int((ends == target).sum()), n, implied.routes[target])
    _mean_ok(times, implied.mean_time)


def test_time_out_in_the_next_form_caps_the_delay():
    sc = _one_stage({"delay": expo(5.0), "next": {"won": 0.4, "lost": 0.6},
                     "timeout": {"after": 8.0, "to": "no_decision"}})
    ends, times, _, _ = _deals(sc)
    n, late = len(ends), math.exp(-8.0 / 5.0)
    _share_ok(int((ends == "no_decision").sum()), n, late)
    _share_ok(int((ends == "won").sum()), n, 0.4 * (1 - late))
    _mean_ok(times, 5.0 * (1 - late))  # E[min(T, c)] = mean (1 - e^(-c / mean))
    assert sc.stages["offer"].implied.routes["no_decision"] == pytest.approx(late)


def test_staff_work_is_never_interrupted_by_the_time_out():
    sc = scenario_of({
        "horizon": 200, "warmup": 0.0, "replications": 1,
        "roles": {"clerk": {"headcount": 50}},
        "sources": {"web": {"rate": 5, "deal_value": 100}},
        "entry": "check",
        "stages": {"check": {"role": "clerk", "work": const(2.0),
                             "exits": {"won": {"time": expo(1.0)}, "lost": {"time": expo(1.0)}},
                             "timeout": {"after": 1.0, "to": "lost"}}}}, unit="day")
    ends, times, _, rep = _deals(sc)
    assert (ends == "lost").all()
    np.testing.assert_allclose(times, 2.0, atol=1e-9)  # leaves when the work ends
    assert rep.kpis["timed_out"] == len(ends)


def test_customer_first_races_before_the_work_and_a_time_out_skips_it():
    sc = scenario_of({
        "horizon": 300, "warmup": 0.0, "replications": 1,
        "roles": {"clerk": {"headcount": 200}},
        "sources": {"web": {"rate": 20, "deal_value": 100}},
        "entry": "check",
        "stages": {"check": {"role": "clerk", "work": const(0.5), "order": "customer_first",
                             "exits": {"won": {"time": expo(2.0)}, "lost": {"time": expo(4.0)}},
                             "timeout": {"after": 3.0, "to": "no_decision"}}}}, unit="day")
    ends, times, _, rep = _deals(sc)
    st = rep.tally.stages["check"]
    timed = ends == "no_decision"
    assert st.timed_out == timed.sum()
    # Timed-out deals got no work; every other closed deal got its work (some deals are
    # still open at the horizon, in their race or in work).
    assert (~timed).sum() <= st.served <= st.entered - st.timed_out
    np.testing.assert_allclose(times[timed], 3.0, atol=1e-9)
    total = 1 / 2 + 1 / 4
    n = len(ends)
    _share_ok(int(timed.sum()), n, math.exp(-3.0 * total))
    _share_ok(int((ends == "won").sum()), n, (0.5 / total) * (1 - math.exp(-3.0 * total)))
    # The others: the race's time (an exponential below 3), then half a day of work.
    race = times[~timed] - 0.5
    _mean_ok(race, 1 / total - 3.0 * math.exp(-3 * total) / (1 - math.exp(-3 * total)))


VALUES = {"dist": "empirical", "values": [1000, 4000, 16000]}


def test_value_odds_in_the_next_form_shift_the_odds_of_moving_on():
    sc = _one_stage({"delay": expo(1.0), "next": {"won": 0.3, "lost": 0.7},
                     "value_odds": {"reference": 4000, "per_doubling": 1.5}}, value=VALUES)
    ends, _, values, _ = _deals(sc)
    for v in (1000, 4000, 16000):
        band = values == v
        r = 1.5 ** math.log2(v / 4000)
        _share_ok(int((ends[band] == "won").sum()), int(band.sum()), shifted_forward(0.3, r))


def test_value_odds_in_the_exits_form_multiply_a_forward_hazard():
    sc = _one_stage({"exits": {"won": {"time": expo(3.0)}, "lost": {"time": expo(1.5)}},
                     "value_odds": {"reference": 4000, "per_doubling": 2.0}}, value=VALUES)
    ends, times, values, _ = _deals(sc)
    for v in (1000, 4000, 16000):
        band = values == v
        r = 2.0 ** math.log2(v / 4000)
        rate_won, rate_lost = r / 3.0, 1 / 1.5
        _share_ok(int((ends[band] == "won").sum()), int(band.sum()),
                  rate_won / (rate_won + rate_lost))
        _mean_ok(times[band], 1 / (rate_won + rate_lost))


def test_visit_odds_change_the_odds_on_later_visits_of_a_loop():
    sc = scenario_of({
        "horizon": 400, "warmup": 0.0, "replications": 1,
        "sources": {"web": {"rate": 30, "deal_value": 100}}, "entry": "call",
        "stages": {"call": {"delay": expo(0.5), "next": {"won": 0.3, "lost": 0.3, "later": 0.4},
                            "visit_odds": [1.0, 0.5]},
                   "later": {"delay": expo(1.0), "next": {"call": 1.0}, "progress": False}}},
        unit="day")
    rep = engine.run_replication(sc, 0, event_log=True)
    visit: dict[str, int] = defaultdict(int)
    outcomes: dict[int, list[str]] = {1: [], 2: []}
    current: dict[str, int] = {}
    for e in rep.log.records():
        if e.event == "entered" and e.stage == "call":
            visit[e.lead] += 1
            current[e.lead] = min(visit[e.lead], 2)
        elif e.lead in current and (e.event in ("won", "lost")
                                    or (e.event == "entered" and e.stage == "later")):
            outcomes[current.pop(e.lead)].append(e.event if e.event != "entered" else "later")
    for k, factor in ((1, 1.0), (2, 0.5)):
        got = np.array(outcomes[k])
        p_won = shifted_forward(0.3, factor)
        _share_ok(int((got == "won").sum()), len(got), p_won)
        _share_ok(int((got == "lost").sum()), len(got), (1 - p_won) * 3 / 7)


def test_same_seed_gives_the_same_log_and_another_replication_another():
    sc = _one_stage({"exits": {"won": {"time": expo(2.0)}, "lost": {"time": const(5.0)}},
                     "timeout": {"after": 4.0, "to": "no_decision"},
                     "value_odds": {"reference": 4000, "per_doubling": 1.2}},
                    rate=5.0, horizon=50.0, value=VALUES)
    first = engine.run_replication(sc, 3, event_log=True).log.records()
    assert engine.run_replication(sc, 3, event_log=True).log.records() == first
    assert engine.run_replication(sc, 4, event_log=True).log.records() != first


def test_a_time_out_counts_clock_time_nights_and_weekends_included():
    office = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]}
    sc = scenario_of({
        "horizon": 120, "warmup": 0.0, "replications": 1, "calendar": office,
        "roles": {"clerk": {"headcount": 30}},
        "sources": {"web": {"rate": 3, "deal_value": 100}}, "entry": "file",
        "stages": {"file": {"role": "clerk", "work": const("1 hour"),
                            "exits": {"won": {"time": const(100.0)},
                                      "lost": {"time": const(200.0)}},
                            "timeout": {"after": "30 days", "to": "lost"}}}}, unit="day")
    ends, times, _, rep = _deals(sc)
    assert len(ends) > 200 and (ends == "lost").all()
    # Every deal leaves 30 clock days after entering, whatever the weekday it came in on
    # (its hour of work, waiting for office hours included, ends long before).
    np.testing.assert_allclose(times, 30.0, atol=1e-9)
    assert rep.kpis["timed_out.file"] == len(ends)
