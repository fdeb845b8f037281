"""A warm start from open deals: residual life, queue order, owners, common random numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from tests.conftest import const, expo, scenario_of

from salessim import cli, engine
from salessim.ends import WON
from salessim.errors import ScenarioError
from salessim.model.residual import residual
from salessim.scenario import load_scenario
from salessim.scenario.schema import Scenario

#: Sources need a rate: this one brings no lead within any horizon used here.
NO_LEADS = {"web": {"rate": 1e-12, "deal_value": 1000}}


def _open(n: int, stage: str, age: float, **extra) -> list[dict]:
    return [{"id": f"D-{i}", "stage": stage, "age": age, "value": 100.0, **extra}
            for i in range(n)]


def _one_delay(delay: dict, pipeline: list[dict], horizon: float = 1e6) -> Scenario:
    """An infinite-server stage (customer time only) that every open deal leaves won."""
    return scenario_of({"horizon": horizon, "replications": 1, "sources": NO_LEADS,
                        "entry": "wait", "stages": {"wait": {"delay": delay,
                                                              "next": {"won": 1.0}}},
                        "pipeline": pipeline}, unit="day")


def _exit_times(scenario: Scenario, replication: int = 0) -> np.ndarray:
    rep = engine.run_replication(scenario, replication)
    assert rep.pipeline is not None and (rep.pipeline.end == WON.code).all()
    return rep.pipeline.when


# --- the residual-life formula, family by family -------------------------------------------

FAMILIES = [
    ({"dist": "exponential", "mean": 4.0}, stats.expon(scale=4.0)),
    ({"dist": "lognormal", "mean": 10.0, "cv": 0.8},
     stats.lognorm(math.sqrt(math.log1p(0.64)),
                   scale=10.0 / math.sqrt(1.64))),
    ({"dist": "gamma", "mean": 8.0, "cv": 0.5}, stats.gamma(4.0, scale=2.0)),
    ({"dist": "weibull", "shape": 1.7, "scale": 6.0}, stats.weibull_min(1.7, scale=6.0)),
    ({"dist": "normal", "mean": 5.0, "sd": 3.0},
     stats.truncnorm(-5.0 / 3.0, np.inf, loc=5.0, scale=3.0)),
    ({"dist": "uniform", "low": 2.0, "high": 12.0}, stats.uniform(2.0, 10.0)),
    ({"dist": "triangular", "low": 1.0, "mode": 3.0, "high": 11.0},
     stats.triang(0.2, loc=1.0, scale=10.0)),
    ({"dist": "pert", "low": 1.0, "mode": 3.0, "high": 11.0},
     stats.beta(1 + 4 * 0.2, 1 + 4 * 0.8, loc=1.0, scale=10.0)),
]


@pytest.mark.parametrize("spec,frozen", FAMILIES, ids=[f[0]["dist"] for f in FAMILIES])
def test_residual_inverts_the_conditional_survival(spec, frozen):
    """S(a + r) = u S(a): the remaining time r is the inverse of the survival given age a."""
    dist = scenario_of({"horizon": 1, "sources": NO_LEADS, "entry": "s",
                        "stages": {"s": {"delay": spec, "next": {"won": 1.0}}}}).stages["s"].delay
    rng = np.random.default_rng(5)
    ages = np.concatenate([[0.0], rng.uniform(0, frozen.ppf(0.95), 200)])
    u = rng.uniform(1e-9, 1, len(ages))
    r = residual(dist, ages, u)
    assert (r >= 0).all()
    np.testing.assert_allclose(frozen.sf(ages + r), u * frozen.sf(ages), rtol=1e-7, atol=1e-12)


def test_residual_far_in_the_tail_is_finite():
    """A deal open for 100 times the typical stage time still gets a finite remaining time."""
    for spec in ({"dist": "lognormal", "mean": 5, "cv": 0.5},
                 {"dist": "gamma", "mean": 5, "cv": 0.5},
                 {"dist": "weibull", "shape": 3, "scale": 5},
                 {"dist": "normal", "mean": 5, "sd": 1},
                 {"dist": "exponential", "mean": 5}):
        dist = _one_delay(spec, []).stages["wait"].delay
        r = residual(dist, np.array([500.0, 5000.0]), np.array([0.5, 0.5]))
        assert np.isfinite(r).all() and (r > 0).all()


def test_empirical_residual_keeps_only_longer_values():
    dist = _one_delay({"dist": "empirical", "values": [1, 2, 5, 9], "weights": [1, 1, 1, 1]},
                      []).stages["wait"].delay
    u = np.linspace(0.01, 0.99, 99)
    r = residual(dist, np.full(99, 3.0), u)
    assert set(np.round(r + 3.0, 9)) == {5.0, 9.0}
    assert abs((r + 3.0 == 5.0).mean() - 0.5) < 0.02


# --- the engine empties an infinite-server stage as the formula says -----------------------

N = 3000


def _ks(times: np.ndarray, frozen, age: float) -> float:
    def cdf(t):
        return 1 - frozen.sf(age + t) / frozen.sf(age)
    return stats.kstest(times, cdf).pvalue


def test_exponential_remaining_time_does_not_depend_on_age():
    frozen = stats.expon(scale=4.0)
    young = _exit_times(_one_delay(expo(4.0), _open(N, "wait", 0.5)))
    old = _exit_times(_one_delay(expo(4.0), _open(N, "wait", 20.0)))
    for times in (young, old):
        assert _ks(times, frozen, 0.0) > 1e-3  # the unconditional exponential
    # Means agree within their 99.9% CI (each mean has sd 4 / sqrt(N)).
    assert abs(young.mean() - old.mean()) < 3.29 * 4.0 * math.sqrt(2 / N)


def test_lognormal_remaining_time_grows_with_age():
    spec = {"dist": "lognormal", "mean": 10.0, "cv": 1.0}
    s2 = math.log1p(1.0)
    lognorm = stats.lognorm(math.sqrt(s2), scale=10.0 / math.sqrt(2.0))
    young_age, old_age = 1.0, 30.0
    young = _exit_times(_one_delay(spec, _open(N, "wait", young_age)))
    old = _exit_times(_one_delay(spec, _open(N, "wait", old_age)))
    assert _ks(young, lognorm, young_age) > 1e-3
    assert _ks(old, lognorm, old_age) > 1e-3
    # The share still open after 10 days, against S(a + 10) / S(a), within a 99.9% CI.
    for times, age in ((young, young_age), (old, old_age)):
        p = lognorm.sf(age + 10) / lognorm.sf(age)
        share = (times > 10).mean()
        assert abs(share - p) < 3.29 * math.sqrt(p * (1 - p) / N)
    assert old.mean() > 1.5 * young.mean()


def test_deals_open_at_the_horizon_are_counted_open():
    scenario = _one_delay(const(10.0), _open(5, "wait", 4.0), horizon=5.0)
    rep = engine.run_replication(scenario, 0)
    assert rep.kpis["pipeline_open"] == 5 and rep.kpis["pipeline_won"] == 0
    longer = _one_delay(const(10.0), _open(5, "wait", 4.0), horizon=7.0)
    rep = engine.run_replication(longer, 0)
    assert rep.kpis["pipeline_won"] == 5 and rep.kpis["pipeline_bookings"] == 500
    np.testing.assert_allclose(rep.pipeline.when, 6.0)  # the constant 10 less the age 4


# --- queues at time 0 ----------------------------------------------------------------------

def test_a_queue_started_with_waiting_deals_serves_the_oldest_first():
    ages = [2.0, 5.0, 1.0, 4.0, 3.0]
    pipeline = [{"id": f"D-{i}", "stage": "call", "age": a, "value": 10.0}
                for i, a in enumerate(ages)]
    scenario = scenario_of({
        "horizon": 100, "replications": 1, "roles": {"rep": {"headcount": 1}},
        "sources": NO_LEADS, "entry": "call",
        "stages": {"call": {"role": "rep", "work": const(1.0), "next": {"won": 1.0}}},
        "pipeline": pipeline})
    when = _exit_times(scenario)
    rank = np.argsort(-np.array(ages), kind="stable")
    np.testing.assert_allclose(when[rank], [1, 2, 3, 4, 5])


def test_work_done_deals_skip_the_staff_and_keep_the_rest_of_the_delay():
    pipeline = [{"id": "D-0", "stage": "call", "age": 1.0, "work_done": True},
                {"id": "D-1", "stage": "call", "age": 1.0}]
    scenario = scenario_of({
        "horizon": 100, "replications": 1, "roles": {"rep": {"headcount": 1}},
        "sources": NO_LEADS, "entry": "call",
        "stages": {"call": {"role": "rep", "work": const(2.0), "delay": const(3.0),
                            "next": {"won": 1.0}}},
        "pipeline": pipeline})
    np.testing.assert_allclose(_exit_times(scenario), [2.0, 4.0])  # 3 - 1; 2 + (3 - 1)


def test_open_deals_keep_their_owners():
    pipeline = [{"id": f"D-{i}", "stage": "call", "age": 0.0, "owner": "ben"}
                for i in range(3)] + [{"id": "D-9", "stage": "call", "age": 0.0,
                                       "owner": "ana"}]
    scenario = scenario_of({
        "horizon": 10, "replications": 1,
        "roles": {"ae": {"headcount": 2, "assignment": "owner"}},
        "sources": NO_LEADS, "entry": "call",
        "stages": {"call": {"role": "ae", "work": const(1.0), "next": {"won": 1.0}}},
        "pipeline": pipeline})
    rep = engine.run_replication(scenario, 0)
    # ana is member 1 and ben member 2 (owners in name order): ben's three deals queue.
    assert rep.kpis["utilisation.ae.1"] == pytest.approx(0.1)
    assert rep.kpis["utilisation.ae.2"] == pytest.approx(0.3)
    np.testing.assert_allclose(np.sort(rep.pipeline.when), [1, 1, 2, 3])


# --- common random numbers -----------------------------------------------------------------

def _two_stage(next_delay: dict, pipeline: list[dict]) -> Scenario:
    return scenario_of({
        "horizon": 400, "replications": 1,
        "sources": {"web": {"rate": 0.05, "deal_value": 10}}, "entry": "a",
        "stages": {"a": {"delay": {"dist": "lognormal", "mean": 8, "cv": 1},
                         "next": {"b": 0.6, "lost": 0.4}},
                   "b": {"delay": next_delay, "next": {"won": 0.5, "lost": 0.5}}},
        "pipeline": pipeline}, unit="day")


def _left_a(scenario: Scenario) -> dict[int, tuple[float, str]]:
    log = engine.run_replication(scenario, 3, event_log=True).log.to_frame()
    opened = log[log["lead"].str.startswith("D-")]
    out = {}
    for lead, rows in opened.groupby("lead"):
        rows = rows.reset_index(drop=True)
        after = rows[(rows["event"].isin(["entered", "lost"])) & (rows["time"] >= 0)].iloc[0]
        out[lead] = (after["time"], after["event"] + str(after["stage"]))
    return out


def test_open_deals_keep_their_draws_when_another_stage_changes():
    pipeline = _open(40, "a", 3.0)
    base = _left_a(_two_stage(expo(5.0), pipeline))
    changed = _left_a(_two_stage({"dist": "gamma", "mean": 2.0, "cv": 0.3}, pipeline))
    assert base == changed
    assert {v[1] for v in base.values()} == {"enteredb", "lostnan"}


def test_a_deal_keeps_its_draws_when_other_deals_change():
    full = _exit_times(_one_delay(expo(4.0), _open(50, "wait", 1.0)))
    fewer = _exit_times(_one_delay(expo(4.0), _open(50, "wait", 1.0)[10:30]))
    np.testing.assert_array_equal(full[10:30], fewer)


def test_warm_start_is_reproducible_across_executors():
    from concurrent.futures import ProcessPoolExecutor

    scenario = _two_stage(expo(5.0), _open(30, "a", 2.0)).model_copy(update={"replications": 4})
    serial = engine.run(scenario)
    with ProcessPoolExecutor(2) as pool:
        pooled = engine.run(scenario, mapper=pool.map)
    assert serial.frame().equals(pooled.frame())


# --- bad input -----------------------------------------------------------------------------

BASE = """\
name: t
time_unit: day
horizon: 30
roles: {ae: {headcount: 1}}
sources: {web: {rate: 1}}
entry: talk
stages:
  talk: {role: ae, work: 0.1, delay: {dist: uniform, low: 1, high: 10}, next: {won: 1.0}}
pipeline:
"""


@pytest.mark.parametrize("deal,needle", [
    ("{id: D1, stage: tlak, age: 1}", "does not have (did you mean 'talk'?)"),
    ("{id: D1, stage: talk, age: 12}", "longer than any time the stage's delay allows"),
    ("{id: D1, stage: talk, age: .nan}", "pipeline.0.age"),
    ("{id: D1, stage: talk, age: 1, source: wbe}", "did you mean 'web'"),
    ("{id: D1, stage: talk, age: 3, created: 2}", "created (2) must be at least age (3)"),
])
def test_bad_open_deals_are_named(tmp_path, deal, needle):
    path = tmp_path / "s.yaml"
    path.write_text(BASE + f"  - {deal}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert needle in str(err.value)
    assert f"{path}:10" in str(err.value) or f"{path}:" in str(err.value)


def test_repeated_deal_ids_are_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "  - {id: D1, stage: talk, age: 1}\n  - {id: D1, stage: talk, age: 2}\n")
    with pytest.raises(ScenarioError, match="deal ids must be unique"):
        load_scenario(path)


def test_validate_refuses_a_bad_pipeline_with_exit_2(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "  - {id: D7, stage: talk, age: 40}\n")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "D7" in err and "Traceback" not in err


def test_the_event_log_names_open_deals_by_their_ids():
    scenario = _two_stage(expo(5.0), _open(3, "a", 2.0))
    log = engine.run_replication(scenario, 0, event_log=True).log
    frame = log.to_frame()
    opened = frame[frame["time"] < 0]
    assert set(opened["lead"]) == {"D-0", "D-1", "D-2"}
    assert set(opened["event"]) == {"created", "entered"}
    assert (opened.loc[opened["event"] == "entered", "time"] == -2.0).all()
    cases = log.cases()
    assert {"0/D-0", "0/D-1", "0/D-2"} <= set(cases["case:concept:name"])


def _shipped_scenarios() -> list[str]:
    from pathlib import Path

    root = Path(__file__).parents[1]
    files = [*root.glob("scenarios/*.yaml"), *root.glob("scenarios/*/*.yaml"),
             *root.glob("cases/*/*.yaml")]
    return sorted(str(p.relative_to(root)) for p in files if p.name != "case.yaml")


@pytest.mark.parametrize("path", _shipped_scenarios())
def test_every_shipped_scenario_runs_from_an_open_pipeline(path):
    """Open deals in every stage, of every age the stage allows, with owners, work done or
    not: the run completes, and every open deal ends won, lost or still open."""
    from pathlib import Path

    from salessim.scenario.opendeals import upper_bound
    from salessim.scenario.schema import process_problems

    scenario = load_scenario(Path(__file__).parents[1] / path)
    rng = np.random.default_rng(stable_seed(path))
    deals = []
    for i in range(25):
        sid = str(rng.choice(list(scenario.stages)))
        delay = scenario.stages[sid].delay
        bound = upper_bound(delay) if delay is not None else math.inf
        typical = delay.mean if delay is not None else 1.0
        age = float(rng.exponential(3 * typical))  # now and then far in a tail
        if age >= bound:
            age = bound * float(rng.uniform(0, 1))
        deal = {"id": f"X{i}", "stage": sid, "age": age, "value": float(rng.uniform(0, 1e5)),
                "work_done": bool(rng.random() < 0.3)}
        if i % 4:
            deal["owner"] = ("ana", "ben", "chloe")[i % 3]
        deals.append(deal)
    data = scenario.model_dump(by_alias=True)
    data.update(pipeline=deals, replications=1, horizon=scenario.horizon / 4, warmup=0.0)
    ready = Scenario.model_validate(data, context={"time_unit": scenario.time_unit})
    assert process_problems(ready) == []
    rep = engine.run_replication(ready, 0, event_log=True)
    k = rep.kpis
    assert k["pipeline_won"] + k["pipeline_lost"] + k["pipeline_open"] == 25
    assert (np.isnan(rep.pipeline.when) == (rep.pipeline.end == 0)).all()
    assert set(rep.log.cases()["lead"]) >= {f"X{i}" for i in range(25)}


def stable_seed(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
