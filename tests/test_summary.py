"""The plain-words summary, the ranking and the warnings that bear on a verdict."""

from __future__ import annotations

import io

import pytest

from salessim import engine
from salessim.compare import ScenarioRun, compare, parse_target
from salessim.console import LineProgress
from salessim.diagnose import estimate_warmup
from salessim.reports import summary
from salessim.reports.tables import comparison_text
from salessim.scenario import Scenario


def one_stage(rate: float, headcount: int = 1, warmup: float = 5, horizon: float = 100,
              work: float = 0.5, name: str = "queue") -> Scenario:
    """One staffed stage, M/M/c-like: utilisation about rate x work / headcount."""
    return Scenario.model_validate({
        "name": name, "time_unit": "day", "horizon": horizon, "warmup": warmup,
        "replications": 5, "seed": 8,
        "roles": {"rep": {"headcount": headcount, "cost_per_hour": 10}},
        "sources": {"web": {"rate": rate, "deal_value": 1000}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "work": {"dist": "exponential", "mean": work},
                            "next": {"won": 0.5, "lost": 0.5}}},
    }, context={"time_unit": "day"})


def ran(scenario: Scenario, label: str = "s", **targets) -> ScenarioRun:
    run = ScenarioRun(label, scenario, targets={
        k: parse_target(k, v) for k, v in targets.items()})
    run.result = engine.run(scenario, scenario.replications)
    return run


def test_an_overloaded_role_and_rising_wip_are_flagged():
    # Offered load 4 per day x 0.5 day = 2 servers' worth for 1: the queue grows by about
    # 2 leads a day, far beyond the noise of a 100-day run.
    run = ran(one_stage(rate=4))
    rise = summary.wip_rise(run)
    assert rise.ci_low > summary.WIP_RISE
    found = summary.run_caveats(run)
    texts = " | ".join(c.text() for c in found)
    assert "not in steady state" in texts
    assert "rep is" in texts and "busy (above 85%)" in texts and "roles.rep.headcount" in texts


def test_a_stable_lightly_loaded_queue_gets_no_warning():
    # Load 0.5 x 0.5 / 2 servers = 12.5%: no queue build-up, no busy role.
    run = ran(one_stage(rate=0.5, headcount=2))
    assert summary.run_caveats(run, estimate_warmup(run.result)) == []
    rise = summary.wip_rise(run)
    assert rise.ci_low <= 0 <= rise.ci_high  # no drift


def test_a_warm_up_shorter_than_mser5_is_flagged():
    run = ran(one_stage(rate=1.6, headcount=1, warmup=0))  # load 80%: a slow start
    estimate = estimate_warmup(run.result)
    caveat = summary.warmup_caveat(run, estimate)
    if estimate.warmup > 0:
        assert caveat is not None and f"--warmup {estimate.warmup:.4g}" in caveat.todo
    longer = ScenarioRun("s", run.scenario.model_copy(update={"warmup": estimate.warmup + 1}))
    assert summary.warmup_caveat(longer, estimate) is None


@pytest.fixture(scope="module")
def comparison():
    base = ScenarioRun("base", one_stage(rate=1.0, headcount=1, name="base"))
    faster = ScenarioRun("faster", one_stage(rate=1.0, headcount=1, work=0.25, name="faster"),
                         targets={"wait_mean.call": parse_target("wait_mean.call", "-50%"),
                                  "won": parse_target("won", "+5%")})
    staffed = ScenarioRun("staffed", one_stage(rate=1.0, headcount=2, name="staffed"),
                          targets={"wait_mean.call": parse_target("wait_mean.call", "-90%")})
    return compare(base, [faster, staffed])


def test_unsure_targets_are_warnings_with_the_replications_to_settle(comparison):
    unsure = comparison.verdicts().query("verdict == 'unsure'")
    caveats = [c for c in summary.comparison_caveats(comparison) if "straddles" in c.what]
    assert len(caveats) == len(unsure)
    for c, r in zip(caveats, unsure.itertuples(index=False), strict=True):
        assert c.scenario == r.scenario and f"-n {int(r.replications_to_settle)}" in c.todo


def test_ranking_orders_by_met_then_missed_then_unsure(comparison):
    rank = summary.ranking(comparison)
    assert list(rank["rank"]) == [1, 2]
    keys = [(-m, x, u) for m, x, u in zip(rank["met"], rank["missed"], rank["unsure"],
                                         strict=True)]
    assert keys == sorted(keys)
    verdicts = comparison.verdicts()
    for r in rank.itertuples(index=False):
        mine = verdicts[verdicts["scenario"] == r.redesign]["verdict"]
        assert (r.met, r.unsure, r.missed) == (
            (mine == "met").sum(), (mine == "unsure").sum(), (mine == "missed").sum())


def test_the_sentence_names_the_targets_with_their_numbers(comparison):
    run = comparison.redesigns[0]
    text = summary.redesign_sentence(comparison, run)
    row = comparison.table.query("scenario == 'faster' and kpi == 'wait_mean.call'").iloc[0]
    assert text.startswith("faster (faster): mean wait for staff at call ")
    assert f"{100 * row['rel_change']:+.1f}%" in text
    assert f"wait_mean.call -50% {row['verdict']}" in text


def test_terminal_ends_with_warnings_and_one_line_per_redesign(comparison):
    caveats = [summary.Caveat("staffed", "something was found", "Do this about it.")]
    text = comparison_text(comparison, ["won", "wait_mean.call"], caveats, more=7)
    assert "- staffed: something was found. Do this about it." in text
    last = text.strip().splitlines()[-2:]
    assert [line.split(" ")[0] for line in last] == ["faster", "staffed"]
    assert "7 more KPIs in comparison.csv" in text
    assert text.index("Warnings") > text.index("Ranking on the targets")
    assert "e-0" not in text and "nan" not in text


def test_progress_in_a_log_is_one_line_every_few_seconds(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 6.0, 7.0, 13.0, 14.0])
    monkeypatch.setattr("salessim.console.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    with LineProgress(5, "run", every=5.0, stream=out) as bar:
        for _ in range(5):
            bar.update()
    lines = out.getvalue().splitlines()
    # Lines at 6 s and 13 s (each at least 5 s after the last), and a closing one.
    assert lines == ["run: 3/5 reps (60%), 6 s", "run: 5/5 reps (100%), 13 s",
                     "run: 5/5 reps (100%), 14 s, done"]


def test_short_work_prints_no_progress():
    out = io.StringIO()
    with LineProgress(3, "run", every=60.0, stream=out) as bar:
        bar.update(3)
    assert out.getvalue() == ""
