"""Round trip: simulate a known process, export it, calibrate, recover the truth.

The truth (tests/data/calibration_truth.yaml) has two sources (one with a weekday shape),
loops back, skewed stage times and no staff, so the time in a stage is exactly its delay.
It is simulated, and exported at day 45, when about one visit in six is still open. Each
recovered parameter must hold the truth inside its own confidence interval, widened from
95% to 99.9% (the same estimate and standard error, the 99.9% normal quantile): about 25
checks, so a correct estimator fails any of them with probability at most about 2.5%
(Bonferroni). Each interval must also be narrow, so a check cannot pass by being vague.
The same checks fail when open visits are dropped or closed at the export date.
"""

from __future__ import annotations

import base64
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from salessim import engine
from salessim.calibrate.backtest import backtest
from salessim.calibrate.durations import fit_stage
from salessim.calibrate.estimate import calibrate
from salessim.calibrate.pipeline import read_visits
from salessim.cli import main
from salessim.records import LOG_EPOCH
from salessim.rng import RandomStreams
from salessim.scenario import load_scenario

TRUTH = Path(__file__).parent / "data" / "calibration_truth.yaml"
EXPORT_DAY = 45
AS_OF = pd.Timestamp(LOG_EPOCH) + pd.Timedelta(days=EXPORT_DAY)
WIDEN = st.norm.ppf(0.9995) / st.norm.ppf(0.975)
#: On one worker: the module's simulated fixtures are built once, not once per worker.
pytestmark = pytest.mark.xdist_group("calibrate_roundtrip")
CRM_NAMES = {"qualify": "Qualify", "demo": "Demo", "proposal": "Proposal",
             "won": "Closed Won", "lost": "Closed Lost"}
VALUES = {"inbound": (20000.0, 0.8), "partner": (50000.0, 0.5)}  # lognormal mean, cv
OWNERS = ["ana", "ben", "chloe", "dev", "eli"]


def within(truth: float, est: float, low: float, high: float, widen: float = WIDEN) -> bool:
    """Truth inside the interval widened about the estimate (each side on its own)."""
    if truth >= est:
        return truth <= est + widen * (high - est)
    return truth >= est - widen * (est - low)


@pytest.fixture(scope="module")
def truth():
    return load_scenario(TRUTH)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, truth):
    """The truth's event log cut at the export date, and a stage history made from it."""
    folder = tmp_path_factory.mktemp("roundtrip")
    log = engine.run(truth, replications=1, seed=11, event_log=True).event_log()
    log = log[log["time"] <= EXPORT_DAY]
    log_path = folder / "event_log.csv"
    log.to_csv(log_path, index=False)
    history_path = folder / "history.csv"
    stage_history(log).to_csv(history_path, index=False)
    return log_path, history_path


def stage_history(log: pd.DataFrame) -> pd.DataFrame:
    """A CRM-style stage history written straight from the log's events (not the reader).

    Every stage here is a pure delay: a visit starts at ``delay_started``; it ends when the
    next visit starts or the deal is won or lost. Amounts and owners are drawn per deal.
    """
    streams = RandomStreams(2026, 0)
    rows = []
    for lead, events in log.groupby("lead", sort=False):
        source = lead.rsplit("-", 1)[0]
        mean, cv = VALUES[source]
        s2 = math.log1p(cv * cv)
        amount = streams.generator(f"amount:{lead}").lognormal(math.log(mean) - s2 / 2,
                                                                math.sqrt(s2))
        owner = OWNERS[int(streams.generator(f"owner:{lead}").integers(len(OWNERS)))]
        created = events.loc[events["event"] == "created", "time:timestamp"].iloc[0]
        steps = events[events["event"].isin(["delay_started", "won", "lost"])]
        steps = steps.to_dict("records")
        for i, e in enumerate(steps):
            if e["event"] != "delay_started":
                break
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            nxt_name = None if nxt is None else CRM_NAMES[nxt["stage"] if pd.notna(nxt["stage"]) else nxt["event"]]
            rows.append({"deal_id": f"D{lead}", "stage": CRM_NAMES[e["stage"]],
                         "entered_at": e["time:timestamp"].isoformat(),
                         "exited_at": "" if nxt is None else nxt["time:timestamp"].isoformat(),
                         "next_stage": nxt_name or "", "source": source.title(),
                         "amount": f"{amount:.2f}", "owner": owner,
                         "created_at": created.isoformat()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def visits(exports):
    return read_visits(exports[0], as_of=str(AS_OF))


@pytest.fixture(scope="module")
def cal(visits):
    return calibrate(visits)


def test_the_export_has_many_open_visits(visits):
    share = visits.visits["exited_at"].isna().mean()
    assert 0.1 < share < 0.5
    assert visits.as_of == AS_OF


def test_arrival_rates(cal, truth):
    for sid, source in truth.sources.items():
        a = cal.arrivals[sid]
        assert within(source.rate, a.rate, a.low, a.high), (sid, a)
        assert (a.high - a.low) / 2 < 0.12 * source.rate


def test_weekday_shape_found_where_there_is_one(cal, truth):
    assert cal.arrivals["inbound"].weekly is None
    partner = cal.arrivals["partner"]
    assert partner.weekly_test.rejects and partner.weekly is not None
    for day, (true, est, (low, high)) in enumerate(zip(
            truth.sources["partner"].profile.weekly, partner.weekly, partner.weekly_ci,
            strict=True)):
        assert within(true, est, low, high), (day, true, est, low, high)


def test_routing_shares(cal, truth):
    for sid, stage in truth.stages.items():
        r = cal.routing[sid]
        assert set(r.shares) == set(stage.next)
        for target, p in stage.next.items():
            low, high = r.intervals[target]
            assert within(p, r.shares[target], low, high), (sid, target, r.shares[target])
            assert (high - low) / 2 < 0.08


def true_dist(stage):
    d = stage.delay
    if d.dist == "exponential":
        return st.expon(scale=d.mean)
    if d.dist == "lognormal":
        s2 = math.log1p(d.cv**2)
        return st.lognorm(math.sqrt(s2), scale=d.mean * math.exp(-s2 / 2))
    return st.gamma(1 / d.cv**2, scale=d.mean * d.cv**2)


def test_stage_time_means_and_medians(cal, truth):
    for sid, stage in truth.stages.items():
        t = cal.times[sid]
        dist = true_dist(stage)
        assert t.censored > 50
        assert within(dist.mean(), t.mean, t.mean_low, t.mean_high), (sid, t.mean)
        assert within(dist.median(), t.median, t.median_low, t.median_high), (sid, t.median)
        assert (t.mean_high - t.mean_low) / 2 < 0.15 * dist.mean()


def _refit(visits, sid, mode):
    v = visits.visits
    mask = (v["stage"] == sid).to_numpy()
    durations = visits.durations().to_numpy()[mask]
    is_open = v["exited_at"].isna().to_numpy()[mask]
    if mode == "drop":
        return fit_stage(sid, durations[~is_open], np.zeros((~is_open).sum(), bool))
    return fit_stage(sid, durations, np.zeros(len(durations), bool))  # export date as exit


@pytest.mark.parametrize("mode", ["drop", "close at export"])
def test_ignoring_open_visits_fails_the_same_check(visits, truth, mode):
    failed = []
    for sid in ("demo", "proposal"):
        t = _refit(visits, sid, mode)
        if not within(true_dist(truth.stages[sid]).mean(), t.mean, t.mean_low, t.mean_high):
            failed.append(sid)
    assert failed == ["demo", "proposal"]


def test_stage_history_gives_the_same_estimates(exports, cal):
    hist = read_visits(exports[1], as_of=str(AS_OF))
    other = calibrate(hist)
    assert other.entry == cal.entry == "qualify"
    assert set(hist.ends) == {"Closed Won", "Closed Lost"}
    for sid, a in cal.arrivals.items():
        assert other.arrivals[sid].n == a.n
    for sid, r in cal.routing.items():
        assert other.routing[sid].counts == r.counts
    for sid, t in cal.times.items():
        assert other.times[sid].exits == t.exits and other.times[sid].censored == t.censored
        assert other.times[sid].mean == pytest.approx(t.mean, rel=1e-5)
    for sid, (mean, _) in VALUES.items():
        v = other.values[sid]
        assert v.spec["dist"] == "lognormal"
        assert within(mean, v.mean, v.low, v.high), (sid, v)
    assert other.headcount == len(OWNERS)


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_command_writes_a_scenario_that_runs_and_a_report(exports, tmp_path, capsys, truth):
    out = tmp_path / "cal"
    code = main(["calibrate", str(exports[1]), "--as-of", str(AS_OF), "--out", str(out),
                 "--replications", "8"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    scenario = load_scenario(out / "scenario.yaml")
    assert set(scenario.stages) == set(truth.stages)
    assert scenario.sources["partner"].profile.weekly is not None
    assert engine.run(scenario, replications=2, seed=3).summary()["mean"].notna().any()
    text = (out / "scenario.yaml").read_text()
    assert "runner-up" in text and "95% CI" in text and "Wilson" in text
    evidence = json.loads((out / "calibration.json").read_text())
    assert evidence["stage_times"]["proposal"]["censored"] > 50
    assert len(evidence["backtest"]["lines"]) > 10
    parser = _Images()
    parser.feed((out / "report.html").read_text())
    assert len(parser.sources) == 6  # with the exits' incidence figure
    for src in parser.sources:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("arrivals", "routing", "stage_times", "deal_values", "backtest", "exits"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    frame = pd.read_csv(out / "backtest.csv")
    # ~18 lines at 95% each: more than 5 misses has probability below 0.1% for a right model.
    assert (~frame["consistent"]).sum() <= 5, frame
    assert "consistent" in printed
    # One delay and shares per stage in the truth: no stage's exits form wins, no time-out.
    assert {s["form"] for s in evidence["exits"].values()} == {"next"}
    assert all(s["timeout"] is None for s in evidence["exits"].values())


def test_backtest_rejects_a_wrong_scenario(visits, truth):
    wrong = truth.model_copy(update={"stages": {
        **truth.stages, "proposal": truth.stages["proposal"].model_copy(
            update={"delay": truth.stages["proposal"].delay.model_copy(update={"mean_": 5.0})})}})
    bt = backtest(visits, wrong, replications=6, seed=5)
    assert {"open.proposal", "cycle_time_won_p50"} <= set(bt.inconsistent)
    right = backtest(visits, truth, replications=6, seed=5)
    assert "open.proposal" not in right.inconsistent


def test_holdout_calibrates_on_the_first_part(exports, tmp_path, capsys):
    out = tmp_path / "hold"
    code = main(["calibrate", str(exports[0]), "--as-of", str(AS_OF), "--holdout", "0.25",
                 "--replications", "5", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    evidence = json.loads((out / "calibration.json").read_text())
    cut = pd.Timestamp(evidence["backtest"]["since"])
    assert cut == pd.Timestamp(LOG_EPOCH) + pd.Timedelta(days=0.75 * EXPORT_DAY)
    assert pd.Timestamp(evidence["period"]["as_of"]) == cut
    assert all(not k.endswith("month_1") for k in
               (line["kpi"] for line in evidence["backtest"]["lines"]))
