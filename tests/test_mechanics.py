"""The handbook's sales mechanics against cases worked by hand or by formula.

Each mechanic runs in a small scenario built here, so its effect is isolated. Where the
outcome is exact (times, counts, money, the order a queue is served in), the test reads
the event log and checks it to floating-point precision. Where it is random (a routing
probability changed by a score or by waiting, a mean of random times, arrival counts),
the test builds a confidence interval and asserts both that it contains the value the
formula predicts and that it is narrow enough to mean something.

Level: every interval and every goodness-of-fit test is at 99.9%. The file makes about 25
such checks, so by Bonferroni a correct engine fails one of them with probability at most
about 2.5%. The seed is fixed so a run is reproducible; it was chosen once and never tuned.

Time 0 of a run is Monday 2026-01-05 at 00:00. Staff work around the clock unless a test
is about calendars. Per-lead attributes that the log does not show (deal value, score) are
re-drawn from the lead's own named stream (``lead:<source>``, ``score:<source>``): the
k-th lead of a source gets the k-th draw. Each test that does so also checks the re-draw
against something the engine reports (revenue, or the order its queue served).
"""

from __future__ import annotations

import copy
import itertools
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import optimize
from scipy import stats as sst

from salessim.engine import Replication, run, run_replication
from salessim.errors import ScenarioError
from salessim.model.aftersale import aging_bucket
from salessim.records import (
    CHURNED,
    CREATED,
    FINISHED,
    HANDOFF,
    INVOICED,
    LOG_EPOCH,
    LOST,
    NO_DECISION,
    PAID,
    QUEUED,
    RENEWED,
    STARTED,
    WON,
    WRITTEN_OFF,
)
from salessim.rng import RandomStreams
from salessim.scenario import Scenario, load_scenario
from salessim.scenario.dists import Dist
from salessim.scenario.mechanics import AGING_BUCKETS, Decay, Learning, ScoreOdds
from salessim.sketch import RELATIVE_ERROR
from salessim.stats import paired_difference, t_interval

LEVEL = 0.999
SEED = 2026
UNIT = "hour"
ENDS = (WON, LOST, NO_DECISION)
EXACT = 1e-9  # floating-point slack on exact comparisons of times and money


# --- building, running and reading -------------------------------------------------------------


def build(data: dict, unit: str = UNIT) -> Scenario:
    """A scenario from its distinctive parts, with the test's name, unit and seed."""
    doc = {"name": "mechanics check", "time_unit": unit, "seed": SEED, **data}
    return Scenario.model_validate(doc, context={"time_unit": unit})


def exponential(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


def logged(scenario: Scenario, replication: int = 0) -> tuple[Replication, pd.DataFrame]:
    """One replication with its event log as a frame."""
    rep = run_replication(scenario, replication, event_log=True)
    return rep, rep.log.to_frame()


def events(frame: pd.DataFrame, event: str, stage: str | None = None) -> pd.DataFrame:
    rows = frame[frame["event"] == event]
    return rows if stage is None else rows[rows["stage"] == stage]


def at(frame: pd.DataFrame, event: str, stage: str | None = None) -> pd.Series:
    """Time of an event per lead (the first one when a lead has several)."""
    return events(frame, event, stage).groupby("lead")["time"].first()


def cohort(frame: pd.DataFrame, warmup: float) -> pd.Index:
    """Leads created at or after the warm-up: the leads the counts and KPIs are about."""
    created = at(frame, CREATED)
    return created.index[created >= warmup]


def source_of(lead: str) -> str:
    return lead.rsplit("-", 1)[0]


def redraw(dist: Dist, stream: str, replication: int, leads: pd.Index) -> pd.Series:
    """Each lead's own attribute, drawn again from its source's stream (lead k gets draw k)."""
    n = max(int(lead.rsplit("-", 1)[1]) for lead in leads)
    draws = dist.draws(RandomStreams(SEED, replication).generator(stream))
    values = np.fromiter(itertools.islice(draws, n), float, n)
    return pd.Series({lead: values[int(lead.rsplit("-", 1)[1]) - 1] for lead in leads})


def binomial_agrees(what: str, successes: int, trials: int, p: float, max_half: float) -> None:
    """The exact (Clopper-Pearson) interval of a share contains ``p`` and is narrow."""
    ci = sst.binomtest(int(successes), int(trials)).proportion_ci(LEVEL, method="exact")
    share = successes / trials
    print(f"{what}: formula {p:.4f}, simulated {share:.4f} [{ci.low:.4f}, {ci.high:.4f}] "
          f"(n={trials})")
    assert (ci.high - ci.low) / 2 <= max_half, f"{what}: too imprecise to judge (n={trials})"
    assert ci.low <= p <= ci.high, (
        f"{what}: formula {p:.4f} outside the {LEVEL:.1%} interval [{ci.low:.4f}, {ci.high:.4f}]"
    )


def mean_agrees(what: str, values, theory: float, max_share: float) -> None:
    """The Student-t interval of a mean contains ``theory`` and is narrow."""
    est = t_interval(np.asarray(values, dtype=float), LEVEL)
    print(f"{what}: formula {theory:.4f}, simulated {est.mean:.4f} "
          f"[{est.ci_low:.4f}, {est.ci_high:.4f}] (n={est.n})")
    assert est.half_width <= max_share * abs(theory), f"{what}: too imprecise to judge"
    assert est.ci_low <= theory <= est.ci_high, (
        f"{what}: formula {theory:.4f} outside the {LEVEL:.1%} interval "
        f"[{est.ci_low:.4f}, {est.ci_high:.4f}]"
    )


def fits(what: str, observed, expected) -> None:
    """Counts that are independent Poisson with the expected means: chi-square at LEVEL."""
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    stat = float(((observed - expected) ** 2 / expected).sum())
    p_value = sst.chi2.sf(stat, df=observed.size)
    print(f"{what}: observed {observed.tolist()}, expected {np.round(expected, 1).tolist()}, "
          f"chi2 {stat:.2f}, p {p_value:.4f}")
    assert p_value > 1 - LEVEL, f"{what}: counts do not fit (chi2 {stat:.1f}, p {p_value:.2g})"


def odds_shift(p: float, m: float) -> float:
    """The share moving on when the odds of moving on are multiplied by m."""
    return m * p / (1 - p + m * p)


def moved_and_lost(reps, stage: str) -> tuple[int, int]:
    """Visits of cohort leads that left ``stage`` forward, and that left it otherwise."""
    moved = sum(r.tally.stages[stage].moved_on for r in reps)
    lost = sum(r.tally.stages[stage].lost for r in reps)
    return moved, lost


# --- 1. lead scores and queue priorities ------------------------------------------------------

WINDOW, DRAIN = 1500.0, 1000.0  # leads created in [0, WINDOW) are compared; all are served
VALUE = {"dist": "uniform", "low": 0, "high": 1000}
SCORE = {"dist": "uniform", "low": 0, "high": 1}


def one_server(queue: str) -> Scenario:
    # M/M/1 at rho = 0.8. The last DRAIN hours give every lead of the window time to be
    # served whatever the discipline (a busy period that long has probability ~exp(-11)).
    return build({
        "horizon": WINDOW + DRAIN,
        "roles": {"rep": {"headcount": 1}},
        "sources": {"web": {"rate": 0.8, "deal_value": VALUE, "score": SCORE}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "queue": queue, "work": exponential(1.0),
                            "next": {"won": 1}}},
    })


def served_in_priority_order(frame: pd.DataFrame, priority: pd.Series) -> bool:
    """Whenever staff take a lead, it has the highest priority among those queued then
    (ties by time queued); ``priority`` is per lead, larger first."""
    waiting: dict[str, tuple[float, float]] = {}
    # In time order (the log is in the order events were decided: with a calendar, staff
    # taken at night are logged as starting at the next opening).
    ordered = frame.sort_values("time", kind="stable")
    for lead, event, time in ordered[["lead", "event", "time"]].itertuples(index=False):
        if event == QUEUED:
            waiting[lead] = (-priority[lead], time)
        elif event == STARTED:
            if min(waiting, key=waiting.__getitem__) != lead:
                return False
            del waiting[lead]
    return True


def per_lead_waits(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"queued": at(frame, QUEUED), "started": at(frame, STARTED),
                        "finished": at(frame, FINISHED)})
    out["wait"] = out["started"] - out["queued"]
    out["work"] = out["finished"] - out["started"]
    return out


def test_priority_by_deal_value_and_score_reorders_the_same_work():
    top, bottom = {"fifo": [], "deal_value": []}, {"fifo": [], "deal_value": []}
    by_score: dict[int, list[float]] = {q: [] for q in range(4)}
    source = one_server("fifo").sources["web"]
    for r in range(6):
        waits = {}
        for queue in ("fifo", "deal_value", "score"):
            rep, frame = logged(one_server(queue), r)
            leads = at(frame, CREATED)
            value = redraw(source.deal_value, "lead:web", r, leads.index)
            score = redraw(source.score, "score:web", r, leads.index)
            priority = {"fifo": -leads, "deal_value": value, "score": score}[queue]
            assert served_in_priority_order(frame, priority), f"{queue} order"
            waits[queue] = per_lead_waits(frame)
        assert rep.kpis["revenue"] == pytest.approx(value[at(frame, WON).index].sum(),
                                                    rel=1e-12), "re-drawn values"

        # Exact: the k-th service draws the k-th work time whatever the order, and one
        # server that never idles while leads wait starts its services at the same instants
        # in every discipline: the same work, in the same pieces, at the same times.
        def in_service_order(w: pd.DataFrame) -> pd.DataFrame:
            return w.sort_values("started")[["started", "work"]].to_numpy()

        for q in ("deal_value", "score"):
            np.testing.assert_allclose(in_service_order(waits[q]),
                                       in_service_order(waits["fifo"]), rtol=0, atol=EXACT)

        window = leads.index[leads < WINDOW]
        for q in waits:
            assert waits[q]["wait"].reindex(window).notna().all(), "premise: window served"
        # Each quartile's mean wait relative to the mean wait of all leads of the run: the
        # total is (nearly) the same in every discipline, so this keeps the effect of the
        # order and drops the run-to-run swing of the total, which at rho 0.8 is large.
        quartile = pd.qcut(value[window], 4, labels=False)
        for q in ("fifo", "deal_value"):
            w = waits[q]["wait"].reindex(window)
            top[q].append(w[quartile == 3].mean() / w.mean())
            bottom[q].append(w[quartile == 0].mean() / w.mean())
        score_quartile = pd.qcut(score[window], 4, labels=False)
        w = waits["score"]["wait"].reindex(window)
        for k in range(4):
            by_score[k].append(w[score_quartile == k].mean() / w.mean())

    # Random: the top value quartile waits less than under FIFO, the bottom one more
    # (paired over replications on the same streams).
    fall = paired_difference(top["fifo"], top["deal_value"], LEVEL)
    rise = paired_difference(bottom["fifo"], bottom["deal_value"], LEVEL)
    print(f"top quartile wait change {fall.mean:.3f} [{fall.ci_low:.3f}, {fall.ci_high:.3f}]; "
          f"bottom {rise.mean:.3f} [{rise.ci_low:.3f}, {rise.ci_high:.3f}]")
    assert fall.ci_high < 0 < rise.ci_low
    # Queue by score: the mean wait falls from each score quartile to the next.
    for k in range(3):
        step = paired_difference(by_score[k], by_score[k + 1], LEVEL)
        print(f"score quartile {k + 1} -> {k + 2}: wait change {step.mean:.3f} "
              f"[{step.ci_low:.3f}, {step.ci_high:.3f}]")
        assert step.ci_high < 0


def scored_funnel(source: dict, staffed: bool = True, horizon: float = 1000) -> Scenario:
    qualify: dict = {"score_odds": {"at_0": 0.5, "at_1": 4.0}, "next": {"won": 0.4, "lost": 0.6}}
    if staffed:
        qualify.update(role="sdr", work=0.1)
    return build({
        "horizon": horizon,
        "roles": {"sdr": {"headcount": 20}},
        "sources": {"web": {"rate": 10, **source}},
        "entry": "qualify",
        "stages": {"qualify": qualify},
    })


@pytest.mark.parametrize(
    ("source", "score"),
    [
        ({"score": 0.8}, 0.8),
        # A score below 0 or above 1 is clipped: every lead scores 1.
        ({"score": {"dist": "uniform", "low": 1.2, "high": 3.0}}, 1.0),
        # The weighted mean of the factors, each clipped to 0..1: (3 x 0 + 1 x 1) / 4. Without
        # the clip of the second factor the score would be 0.375 (p' 0.421, outside the CI).
        ({"score_factors": {"visits": {"weight": 3, "value": 0.0},
                            "size": {"weight": 1, "value": 1.5}}}, 0.25),
    ],
    ids=["constant", "clipped", "factors"],
)
def test_score_odds_change_conversion_by_the_odds_formula(source, score):
    scenario = scored_funnel(source)
    moved, lost = moved_and_lost([run_replication(scenario, 0)], "qualify")
    m = ScoreOdds(at_0=0.5, at_1=4.0).multiplier(score)
    assert m == pytest.approx(0.5 ** (1 - score) * 4.0**score, rel=1e-12)
    binomial_agrees(f"conversion at score {score}", moved, moved + lost, odds_shift(0.4, m), 0.02)


def test_score_odds_on_a_stage_without_staff():
    scenario = scored_funnel({"score": 0.8}, staffed=False, horizon=200)
    moved, lost = moved_and_lost([run_replication(scenario, 0)], "qualify")
    m = ScoreOdds(at_0=0.5, at_1=4.0).multiplier(0.8)
    binomial_agrees("conversion at score 0.8, no staff", moved, moved + lost, odds_shift(0.4, m),
                    0.05)


# --- 2. speed to lead: decay ------------------------------------------------------------------


def test_decay_multiplier_exact_values():
    half = Decay(half_life=2.0)
    assert [half.multiplier(w) for w in (0, 2, 4, 1)] == pytest.approx([1, 0.5, 0.25, 2**-0.5])
    power = Decay(power={"scale": 1.0, "exponent": 2.0})
    assert [power.multiplier(w) for w in (0, 1, 3)] == pytest.approx([1, 0.25, 1 / 16])
    table = Decay(table=[(1.0, 0.9), (3.0, 0.5)])
    # A row applies up to and including its waited time; past the last row, the last row.
    assert [table.multiplier(w) for w in (0, 1, 1.5, 3, 10)] == [0.9, 0.9, 0.5, 0.5, 0.5]


def decay_funnel(decay: dict, first: dict) -> Scenario:
    # Every lead waits exactly 3 hours between ``first`` (a customer-side delay, or work of
    # 1 hour then the delay) and the call; staff are ample so the call starts at once.
    return build({
        "horizon": 1000,
        "roles": {"rep": {"headcount": 60}},
        "sources": {"web": {"rate": 8}},
        "entry": "first",
        "stages": {
            "first": {**first, "delay": 3, "next": {"call": 1}},
            "call": {"role": "rep", "work": 0.1, "decay": decay, "next": {"won": 0.6, "lost": 0.4}},
        },
    })


@pytest.mark.parametrize(
    ("decay", "first", "waited"),
    [
        ({"half_life": 2}, {}, 3.0),
        ({"power": {"scale": 1, "exponent": 1.5}}, {}, 3.0),
        ({"table": [[1, 0.9], [2, 0.5], [5, 0.2]]}, {}, 3.0),
        # Work of 1 hour, then 3 hours: waited 3 since the last contact, 4 since arrival.
        ({"since": "last_contact", "table": [[3.5, 0.8], [100, 0.1]]},
         {"role": "rep", "work": 1}, 3.0),
        ({"since": "arrival", "table": [[3.5, 0.8], [100, 0.1]]},
         {"role": "rep", "work": 1}, 4.0),
    ],
    ids=["half_life", "power", "table", "since_last_contact", "since_arrival"],
)
def test_decay_changes_conversion_by_the_odds_formula(decay, first, waited):
    scenario = decay_funnel(decay, first)
    rep, frame = logged(scenario)
    since = at(frame, CREATED) if decay.get("since", "arrival") == "arrival" else \
        at(frame, FINISHED, "first")
    call = at(frame, STARTED, "call")
    np.testing.assert_allclose((call - since.reindex(call.index)).to_numpy(), waited,
                               rtol=0, atol=EXACT)  # the premise: a known wait
    m = scenario.stages["call"].decay.multiplier(waited)
    moved, lost = moved_and_lost([rep], "call")
    binomial_agrees(f"conversion after waiting {waited} ({decay})", moved, moved + lost,
                    odds_shift(0.6, m), 0.03)


def test_response_time_kpis_equal_the_log():
    scenario = build({
        "horizon": 336, "warmup": 24, "response_target": "2 hours",
        "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]},
        "roles": {"sdr": {"headcount": 1}},
        "sources": {"web": {"rate": 0.5}},
        "entry": "qualify",
        "stages": {
            # Patience: some leads go cold before anyone calls; they are never contacted.
            "qualify": {"role": "sdr", "work": exponential(0.4), "patience": exponential(12),
                        "next": {"won": 0.5, "lost": 0.5}},
        },
    })
    rep, frame = logged(scenario)
    leads = cohort(frame, scenario.warmup)
    first = at(frame, STARTED).reindex(leads).dropna()
    response = (first - at(frame, CREATED).reindex(first.index)).to_numpy()
    assert 0 < len(first) < len(leads), "premise: some cohort leads are never contacted"
    k = rep.kpis
    assert k["response_time_mean"] == pytest.approx(response.mean(), rel=1e-12)
    # Quantiles come from a bounded sketch, within its stated relative error.
    assert k["response_time_p90"] == pytest.approx(np.quantile(response, 0.9),
                                                   rel=RELATIVE_ERROR)
    assert k["contacted_within_share"] == pytest.approx((response <= 2).sum() / len(leads),
                                                        rel=1e-12)


# --- 3. ownership ------------------------------------------------------------------------------


def replay_owners(frame: pd.DataFrame, role: str, headcount: int, choice: str) -> pd.Series:
    """The member each deal is given, replaying the owner rule on the log in event order.

    A deal is assigned when it first queues for the role (least open deals, ties to the
    lowest member; or in turn) and gives its member back when it ends.
    """
    open_deals = [0] * headcount
    turn = itertools.cycle(range(headcount))
    owner: dict[str, int] = {}
    for lead, event, resource in frame[["lead", "event", "resource"]].itertuples(index=False):
        if event == QUEUED and role in resource.split("+") and lead not in owner:
            if choice == "round_robin":
                member = next(turn)
            else:
                member = min(range(headcount), key=lambda m: (open_deals[m], m))
            owner[lead] = member
            open_deals[member] += 1
        elif event in ENDS and lead in owner:
            open_deals[owner[lead]] -= 1
    return pd.Series(owner)


def work_spans(frame: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Each piece of staff work: lead, stage, start and end (cut at the horizon)."""
    starts = events(frame, STARTED).reset_index(drop=True)
    ends = events(frame, FINISHED).reset_index(drop=True)
    spans = starts[["lead", "stage", "resource", "time"]].rename(columns={"time": "start"})
    # A lead's pieces of work finish in the order they start (one at a time per lead here).
    spans["n"] = spans.groupby("lead").cumcount()
    ends = ends.assign(n=ends.groupby("lead").cumcount())[["lead", "n", "time"]]
    spans = spans.merge(ends, on=["lead", "n"], how="left").rename(columns={"time": "end"})
    spans["done"] = spans["end"].notna()
    spans["end"] = spans["end"].fillna(horizon).clip(upper=horizon)
    return spans


def owned_deals(assignment: str = "owner", choice: str = "least_loaded",
                cap: int | None = None) -> Scenario:
    role: dict = {"headcount": 2, "assignment": assignment}
    if assignment == "owner":
        role["owner_choice"] = choice
    if cap is not None:
        role["max_open_deals"] = cap
    # Each deal needs the role twice, with customer time between.
    return build({
        "horizon": 1500,
        "roles": {"am": role},
        "sources": {"web": {"rate": 0.3}},
        "entry": "meet",
        "stages": {
            "meet": {"role": "am", "work": exponential(1), "delay": exponential(2),
                     "next": {"close": 1}},
            "close": {"role": "am", "work": exponential(1), "next": {"won": 0.5, "lost": 0.5}},
        },
    })


def overlaps(spans: pd.DataFrame, owner: pd.Series) -> int:
    """Pieces of work that start before the previous one of the same member ended."""
    spans = spans.assign(member=owner.reindex(spans["lead"]).to_numpy()).sort_values("start")
    clash = 0
    for _, member in spans.groupby("member"):
        clash += int((member["start"].to_numpy()[1:] < member["end"].to_numpy()[:-1] - EXACT).sum())
    return clash


@pytest.mark.parametrize("choice", ["least_loaded", "round_robin"])
def test_owner_does_every_task_of_its_deals(choice):
    scenario = owned_deals(choice=choice)
    rep, frame = logged(scenario)
    owner = replay_owners(frame, "am", 2, choice)
    spans = work_spans(frame, scenario.horizon)
    # One member, one piece of work at a time: an owner's deals never overlap...
    assert overlaps(spans, owner) == 0
    # ...and each member's utilisation is exactly the work of the deals it owns.
    busy = (spans["end"] - spans["start"]).groupby(owner.reindex(spans["lead"]).to_numpy()).sum()
    k = rep.kpis
    for m in range(2):
        assert k[f"utilisation.am.{m + 1}"] * scenario.horizon == pytest.approx(busy[m], rel=1e-9)
    assert k["utilisation.am.1"] + k["utilisation.am.2"] == pytest.approx(
        2 * k["utilisation.am"], rel=1e-12)
    # The same replay on a pooled role finds clashes: the check above can fail.
    _, pooled = logged(owned_deals("pool"))
    assert overlaps(work_spans(pooled, scenario.horizon), replay_owners(pooled, "am", 2, choice))


def e2_m1_wait(lam: float, mu: float) -> float:
    """Mean time queued in an E2/M/1 queue whose arrivals are every second event of a
    Poisson process of rate ``lam``: Wq = sigma / (mu (1 - sigma)), with sigma the root in
    (0, 1) of sigma = A*(mu (1 - sigma)) and A*(s) = (lam / (lam + s))^2."""
    sigma = optimize.brentq(lambda s: s - (lam / (lam + mu * (1 - s))) ** 2, 0.0, 1 - 1e-9)
    return sigma / (mu * (1 - sigma))


def test_owned_deals_wait_longer_than_a_pool_of_the_same_size():
    # One stage, two members, Poisson leads at 1 an hour, exponential work of mean 1 hour.
    # Pooled, any free member takes the next lead: an M/M/2 queue at rho 0.5, whose wait is
    # C(2, 1) / (2 mu - lam) = (1/3) / 1 = 1/3 (Erlang C). Owned round robin, member 1 gets
    # leads 1, 3, 5, ... and member 2 the others, each an E2/M/1 queue at rho 0.5 whose wait
    # is (3 - sqrt 5) / (sqrt 5 - 1) = 0.618: a lead waits for its owner while the other
    # member may be idle. Least-loaded owners sit between (they are still two queues).
    def design(role: dict) -> Scenario:
        return build({
            "horizon": 4120, "warmup": 120,  # ten relaxation times of each M/M/1 queue
            "roles": {"rep": {"headcount": 2, **role}},
            "sources": {"web": {"rate": 1.0}},
            "entry": "call",
            "stages": {"call": {"role": "rep", "work": exponential(1), "next": {"won": 1}}},
        })

    assert e2_m1_wait(1.0, 1.0) == pytest.approx((3 - 5**0.5) / (5**0.5 - 1), rel=1e-9)
    waits = {}
    for name, role in [("pool", {}),
                       ("round_robin", {"assignment": "owner", "owner_choice": "round_robin"}),
                       ("least_loaded", {"assignment": "owner"})]:
        waits[name] = run(design(role), replications=16).wide()["wait_mean.call"].to_numpy()
    mean_agrees("pooled M/M/2 wait", waits["pool"], 1 / 3, 0.2)
    mean_agrees("round-robin owners E2/M/1 wait", waits["round_robin"], e2_m1_wait(1, 1), 0.2)
    for name in ("round_robin", "least_loaded"):
        diff = paired_difference(waits["pool"], waits[name], LEVEL)
        assert diff.ci_low > 0, f"{name} owners should wait longer than a pool: {diff}"


def concurrent_started_deals(frame: pd.DataFrame, role: str) -> int:
    """Most deals at once between their first work by ``role`` and their end."""
    began: set[str] = set()
    now = most = 0
    for lead, event, resource in frame[["lead", "event", "resource"]].itertuples(index=False):
        if event == STARTED and role in resource.split("+") and lead not in began:
            began.add(lead)
            now += 1
            most = max(most, now)
        elif event in ENDS and lead in began:
            now -= 1
    return most


@pytest.mark.parametrize("choice", ["least_loaded", "round_robin"])
def test_max_open_deals_caps_deals_per_owner(choice):
    # Two members, at most one open deal each: never more than two deals between their first
    # work by the role and their end, although leads arrive faster than that drains.
    rep, frame = logged(owned_deals(choice=choice, cap=1))
    assert concurrent_started_deals(frame, "am") == 2  # the cap, and it binds
    # Each deal holds its owner for its whole life (two pieces of work and the delay).
    ends = frame[frame["event"].isin(ENDS)]
    life = (ends.set_index("lead")["time"] - at(frame, STARTED, "meet")).dropna()
    assert life.sum() <= 2 * 1500 + EXACT
    _, uncapped = logged(owned_deals(choice=choice))
    assert concurrent_started_deals(uncapped, "am") > 2, "without the cap deals pile up"


# --- 4. hand-offs ------------------------------------------------------------------------------


def relay(handoff: dict | None) -> Scenario:
    data = {
        "horizon": 500, "warmup": 20,
        "roles": {r: {"headcount": 40} for r in ("sdr", "ae", "se")},
        "sources": {"web": {"rate": 1}},
        "entry": "s1",
        "stages": {
            "s1": {"role": "sdr", "work": 0.5, "next": {"s2": 1}},
            "s2": {"role": "ae", "work": 0.5, "next": {"s3": 1}},
            "s3": {"role": "ae", "work": 0.5, "next": {"s4": 1}},
            "s4": {"role": "se", "work": 0.5, "next": {"won": 1}},
        },
    }
    if handoff is not None:
        data["handoff"] = handoff
    return build(data)


def test_handoffs_are_counted_and_timed():
    # sdr -> ae -> ae -> se: two changes of role per deal. The pair sdr>ae takes 2 hours,
    # any other pair 0.25 hours; staff are ample, so a won deal takes 4 x 0.5 + 2 + 0.25.
    scenario = relay({"delay": 0.25, "pairs": {"sdr>ae": 2}})
    rep, frame = logged(scenario)
    k = rep.kpis
    assert k["handoffs_mean"] == 2.0
    handoffs = events(frame, HANDOFF)
    per_lead = handoffs.groupby("lead")["resource"].agg(tuple)
    won = at(frame, WON).index
    assert (per_lead.reindex(won) == ("sdr>ae", "ae>se")).all()
    # The delay is the time from the hand-off to queueing at the next role's stage; a
    # hand-off still under way at the horizon has no such queueing and is not counted.
    queued = events(frame, QUEUED)[["lead", "stage", "time"]].rename(columns={"time": "next"})
    delays = handoffs.assign(stage=handoffs["resource"].map({"sdr>ae": "s2", "ae>se": "s4"}))
    delays = delays.merge(queued, on=["lead", "stage"])
    np.testing.assert_allclose(delays["next"] - delays["time"],
                               delays["resource"].map({"sdr>ae": 2.0, "ae>se": 0.25}),
                               rtol=0, atol=EXACT)
    counted = delays[delays["lead"].isin(cohort(frame, scenario.warmup))]
    assert k["handoff_time"] == pytest.approx((counted["next"] - counted["time"]).sum(),
                                              rel=1e-12)
    cycle = at(frame, WON) - at(frame, CREATED).reindex(won)
    np.testing.assert_allclose(cycle, 4.25, rtol=0, atol=EXACT)

    # Without hand-off delays they are still counted, but take no time and log nothing.
    rep, frame = logged(relay(None))
    assert rep.kpis["handoffs_mean"] == 2.0
    assert rep.kpis["handoff_time"] == 0.0
    assert events(frame, HANDOFF).empty


# --- 5. no decision ----------------------------------------------------------------------------


def test_no_decision_is_a_terminal_reported_apart():
    scenario = build({
        "horizon": 2000, "warmup": 50,
        "roles": {"rep": {"headcount": 30}},
        "sources": {"web": {"rate": 2}},
        "entry": "pitch",
        "stages": {
            "pitch": {"role": "rep", "work": 0.5,
                      "next": {"close": 0.5, "no_decision": 0.2, "lost": 0.3}},
            # A long customer-side delay leaves some deals open at the horizon.
            "close": {"role": "rep", "work": 0.5, "delay": exponential(40),
                      "next": {"won": 0.6, "no_decision": 0.25, "lost": 0.15}},
        },
    })
    rep, frame = logged(scenario)
    k = rep.kpis
    leads = cohort(frame, scenario.warmup)
    ends = frame[frame["event"].isin(ENDS) & frame["lead"].isin(leads)]
    count = ends["event"].value_counts()
    assert (k["won"], k["lost"], k["no_decision"]) == (count[WON], count[LOST], count[NO_DECISION])
    assert k["open"] > 0
    assert k["leads"] == len(leads) == k["won"] + k["lost"] + k["no_decision"] + k["open"]
    assert k["win_rate"] == pytest.approx(k["won"] / (k["won"] + k["lost"] + k["no_decision"]))
    # Conversion of pitch: no decision is not moving forward.
    reached_close = at(frame, QUEUED, "close").index.intersection(leads)
    left_at_pitch = ends["lead"][~ends["lead"].isin(reached_close)]
    assert k["conversion.pitch"] == pytest.approx(
        len(reached_close) / (len(reached_close) + len(left_at_pitch)), rel=1e-12)
    no_decision_at_pitch = ends[(ends["event"] == NO_DECISION)
                                & ~ends["lead"].isin(reached_close)].shape[0]
    binomial_agrees("no decision after pitch", no_decision_at_pitch,
                    len(reached_close) + len(left_at_pitch), 0.2, 0.03)


# --- 6. approval chains ------------------------------------------------------------------------


def test_approval_chain_takes_exactly_the_levels_below_the_value():
    scenario = build({
        "horizon": 1500,
        "roles": {r: {"headcount": 20} for r in ("manager", "director", "vp")},
        "sources": {"web": {"rate": 1, "deal_value": VALUE}},
        "entry": "approval",
        "stages": {"approval": {
            "approvals": [
                {"role": "manager", "work": 0.5},  # above 0: every deal
                {"role": "director", "above": 400, "work": 0.5, "delay": 1},
                {"role": "vp", "above": 800, "work": 0.5},
            ],
            "next": {"won": 1},
        }},
    })
    rep, frame = logged(scenario)
    won = at(frame, WON).index
    value = redraw(scenario.sources["web"].deal_value, "lead:web", 0, won)
    assert rep.kpis["revenue"] == pytest.approx(value.sum(), rel=1e-12), "re-drawn values"
    started = events(frame, STARTED, "approval")
    chain = started.sort_values("time", kind="stable").groupby("lead")["resource"].agg(tuple)
    expected = value.map(lambda v: tuple(
        role for role, above in (("manager", 0), ("director", 400), ("vp", 800)) if v > above))
    pd.testing.assert_series_equal(chain.reindex(won), expected.reindex(won), check_names=False)
    assert {len(c) for c in expected} == {1, 2, 3}, "premise: every path is taken"
    # Levels run one after another: 0.5 each, plus the director's day-one delay of 1.
    cycle = at(frame, WON) - at(frame, CREATED).reindex(won)
    np.testing.assert_allclose(cycle, 0.5 * expected.map(len) + 1.0 * (value > 400),
                               rtol=0, atol=EXACT)


# --- 7. parallel work -------------------------------------------------------------------------


def test_parallel_exponential_tasks_take_the_expected_maximum():
    # Two tasks with ample staff: the stage lasts max(X1, X2), X_i exponential with rates
    # 1/2 and 1/3: E[max] = 2 + 3 - 1 / (1/2 + 1/3) = 3.8 (sequential work would take 5).
    scenario = build({
        "horizon": 6000,
        "roles": {"legal": {"headcount": 60}, "security": {"headcount": 60}},
        "sources": {"web": {"rate": 1}},
        "entry": "contract",
        "stages": {"contract": {
            "parallel": {"review": {"role": "legal", "work": exponential(2)},
                         "questionnaire": {"role": "security", "work": exponential(3)}},
            "next": {"won": 1},
        }},
    })
    _, frame = logged(scenario)
    assert (events(frame, STARTED)["time"].to_numpy()
            == events(frame, QUEUED)["time"].to_numpy()).all(), "premise: nobody waits"
    won = at(frame, WON)
    stage_time = won - at(frame, QUEUED, "contract").reindex(won.index)
    theory = 2 + 3 - 1 / (1 / 2 + 1 / 3)
    mean_agrees("E[max] of parallel tasks", stage_time, theory, 0.05)


def test_parallel_constant_tasks_take_exactly_the_longest():
    scenario = build({
        "horizon": 300,
        "roles": {r: {"headcount": 20} for r in ("legal", "security", "ae")},
        "sources": {"web": {"rate": 1}},
        "entry": "contract",
        "stages": {
            "contract": {
                "parallel": {"review": {"role": "legal", "work": 2, "delay": 1},      # 3
                             "questionnaire": {"role": "security", "work": 1, "delay": 4}},  # 5
                "next": {"close": 1},
            },
            "close": {"role": "ae", "work": 0.5, "next": {"won": 1}},
        },
    })
    _, frame = logged(scenario)
    close = at(frame, QUEUED, "close")
    assert len(close) > 200
    np.testing.assert_allclose(close - at(frame, QUEUED, "contract").reindex(close.index), 5.0,
                               rtol=0, atol=EXACT)


# --- 8. order to cash ------------------------------------------------------------------------

O2C_HORIZON, O2C_WARMUP, AMOUNT = 400.0, 50.0, 1000.0


def collecting(collection: dict) -> Scenario:
    # Every lead is won at once (a stage with no staff), worth 1000; days; finance ample.
    return build({
        "horizon": O2C_HORIZON, "warmup": O2C_WARMUP,
        "roles": {"finance": {"headcount": 5}},
        "sources": {"web": {"rate": 1, "deal_value": AMOUNT}},
        "entry": "sign",
        "stages": {"sign": {"next": {"won": 1}}},
        "collection": {"role": "finance", "terms": 30, **collection},
    }, unit="day")


def receivables_from_log(frame: pd.DataFrame, terms: float) -> dict[str, float]:
    """Unpaid, not written-off invoices at the horizon, by days past due."""
    invoiced = at(frame, INVOICED)
    closed = frame[frame["event"].isin([PAID, WRITTEN_OFF])]["lead"]
    open_due = invoiced[~invoiced.index.isin(closed)] + terms
    buckets = dict.fromkeys(AGING_BUCKETS, 0.0)
    for due in open_due:
        buckets[aging_bucket(O2C_HORIZON - due)] += AMOUNT
    return buckets


def check_money(rep: Replication, frame: pd.DataFrame, terms: float) -> dict[str, float]:
    """Invoiced, cash, bad debt, revenue, receivables and DSO against the log."""
    k = rep.kpis

    def in_window(event: str) -> int:
        return int((events(frame, event)["time"] >= O2C_WARMUP).sum())

    assert k["invoiced"] == AMOUNT * in_window(INVOICED)
    assert k["cash_collected"] == AMOUNT * in_window(PAID)
    assert k["bad_debt"] == AMOUNT * in_window(WRITTEN_OFF)
    # Revenue is booked when a deal is won (the cohort); cash when the customer pays.
    won = at(frame, WON).reindex(cohort(frame, O2C_WARMUP)).dropna()
    assert k["revenue"] == AMOUNT * len(won)
    buckets = receivables_from_log(frame, terms)
    for bucket, amount in buckets.items():
        assert k[f"receivables.{bucket}"] == pytest.approx(amount, abs=EXACT)
    assert k["receivables"] == pytest.approx(sum(buckets.values()), abs=EXACT)
    days = O2C_HORIZON - O2C_WARMUP
    assert k["dso"] == pytest.approx(k["receivables"] / (k["invoiced"] / days), rel=1e-12)
    return buckets


def test_collection_constant_case_is_exact():
    # Delivery 2 days, terms 30, paid 5 days late: invoiced at won + 2, paid at won + 37.
    # A reminder 5 days before the due date and dunning 3 days after it are done; the
    # dunning step at 10 days is never needed (the invoice is paid by then).
    scenario = collecting({
        "delivery": 2, "lateness": 5,
        "reminders": [{"before": 5, "work": "1 hour"}],
        "dunning": [{"after": 3, "work": "2 hours"}, {"after": 10, "work": "3 hours"}],
    })
    rep, frame = logged(scenario)
    created, invoiced, paid = at(frame, CREATED), at(frame, INVOICED), at(frame, PAID)
    np.testing.assert_allclose(invoiced - created.reindex(invoiced.index), 2, rtol=0, atol=EXACT)
    np.testing.assert_allclose(paid - invoiced.reindex(paid.index), 35, rtol=0, atol=EXACT)
    spans = work_spans(frame[frame["stage"] == "collection"], O2C_HORIZON)
    offsets = (spans["start"] - invoiced.reindex(spans["lead"]).to_numpy()).round(9)
    assert set(offsets) == {25.0, 33.0}  # due - 5 and due + 3; none at due + 10
    assert (spans.groupby("lead").size().reindex(paid.index) == 2).all()
    done = spans[spans["done"]]
    np.testing.assert_allclose(done["end"] - done["start"],
                               offsets[spans["done"]].map({25.0: 1 / 24, 33.0: 2 / 24}),
                               rtol=0, atol=EXACT)
    # Finance is busy only for those steps: utilisation x headcount x window is their work.
    busy = (spans["end"].clip(lower=O2C_WARMUP) - spans["start"].clip(lower=O2C_WARMUP)).sum()
    assert rep.kpis["utilisation.finance"] * 5 * (O2C_HORIZON - O2C_WARMUP) == pytest.approx(
        busy, rel=1e-9)
    buckets = check_money(rep, frame, 30)
    assert rep.kpis["revenue"] != rep.kpis["cash_collected"] > 0
    assert buckets["current"] > 0 and buckets["days_1_30"] > 0
    assert buckets["days_31_60"] == buckets["days_61_90"] == buckets["over_90"] == 0


def test_bad_debt_writes_off_every_invoice_still_unpaid_at_the_age():
    rates = {"current": 0.01, "days_1_30": 0.03, "days_31_60": 0.1, "days_61_90": 0.25,
             "over_90": 0.5}
    scenario = collecting({
        "lateness": {"dist": "empirical", "values": [20, 100]},
        "bad_debt": {"after": 60, "probability": 1.0},
        "dunning": [{"after": 90, "work": "1 hour"}],  # after the write-off: never done
        "provision_rates": rates,
    })
    rep, frame = logged(scenario)
    due = at(frame, INVOICED) + 30
    paid, written_off = at(frame, PAID), at(frame, WRITTEN_OFF)
    assert len(paid) > 50 and len(written_off) > 50
    assert not paid.index.intersection(written_off.index).size
    np.testing.assert_allclose(paid - due.reindex(paid.index), 20, rtol=0, atol=EXACT)
    np.testing.assert_allclose(written_off - due.reindex(written_off.index), 60, rtol=0,
                               atol=EXACT)
    assert events(frame, STARTED, "collection").empty
    assert rep.kpis["utilisation.finance"] == 0
    buckets = check_money(rep, frame, 30)
    assert rep.kpis["bad_debt_provision"] == pytest.approx(
        sum(buckets[b] * rates[b] for b in AGING_BUCKETS), rel=1e-12)


def test_receivables_fill_every_aging_bucket():
    # Paid 100 days late: at the horizon, open invoices are from 30 days before their due
    # date to 100 days past it, so every bucket holds some.
    rep, frame = logged(collecting({"lateness": 100}))
    buckets = check_money(rep, frame, 30)
    assert all(amount > 0 for amount in buckets.values()), buckets


# --- 9. renewals, CLV and CAC ------------------------------------------------------------------


def test_renewals_nrr_and_clv():
    # Won at once; one renewal decision 100 days later (the horizon of 190 days leaves no
    # room for a second). Renew with probability 0.7; a renewal adds 500 with probability 0.4.
    values = {"small": 1000.0, "large": 3000.0}
    scenario = build({
        "horizon": 190, "replications": 30,
        "sources": {"small": {"rate": 6, "deal_value": values["small"], "cost_per_lead": 10},
                    "large": {"rate": 4, "deal_value": values["large"], "cost_per_lead": 20}},
        "entry": "sign",
        "stages": {"sign": {"next": {"won": 0.5, "lost": 0.5}}},
        "renewal": {"term": 100, "probability": 0.7,
                    "upsell": {"probability": 0.4, "value": 500}, "discount_rate": 0.1},
    }, unit="day")
    decisions = renewals = upsells = 0
    nrr = []
    discount = 1.1 ** -(100 / 365.25)
    for r in range(scenario.replications):
        rep, frame = logged(scenario, r)
        k = rep.kpis
        won = at(frame, WON)
        decided = frame[frame["event"].isin([RENEWED, CHURNED])].set_index("lead")
        assert decided.index.is_unique, "premise: one renewal decision per deal"
        np.testing.assert_allclose(decided["time"] - won.reindex(decided.index), 100,
                                   rtol=0, atol=EXACT)
        base = decided.index.map(lambda lead: values[source_of(lead)]).to_numpy()
        renewed = (decided["event"] == RENEWED).to_numpy()
        upsold = (k["renewal_revenue"] - base[renewed].sum()) / 500
        assert upsold == pytest.approx(round(upsold), abs=1e-6) and 0 <= upsold <= renewed.sum()
        assert k["renewal_rate"] == pytest.approx(renewed.mean(), rel=1e-12)
        assert k["net_revenue_retention"] == pytest.approx(k["renewal_revenue"] / base.sum(),
                                                           rel=1e-12)
        for sid, value in values.items():
            # Every won deal of a source is worth its constant value: that is the mean.
            assert k[f"clv.{sid}"] == pytest.approx(
                value / (1 - k["net_revenue_retention"] * discount), rel=1e-12)
            # No staff: acquisition cost is the lead cost over the deals won.
            leads = at(frame, CREATED).index.map(source_of) == sid
            wins = won.index.map(source_of) == sid
            assert k[f"cac.{sid}"] == pytest.approx(
                scenario.sources[sid].cost_per_lead * leads.sum() / wins.sum(), rel=1e-12)
            assert k[f"ltv_to_cac.{sid}"] == pytest.approx(k[f"clv.{sid}"] / k[f"cac.{sid}"])
        decisions += len(decided)
        renewals += int(renewed.sum())
        upsells += round(upsold)
        nrr.append(k["net_revenue_retention"])
    binomial_agrees("renewal rate", renewals, decisions, 0.7, 0.02)
    binomial_agrees("upsell share of renewals", upsells, renewals, 0.4, 0.03)
    # E[NRR] = p (E[V] + q U) / E[V]; deals up for renewal are worth 1000 or 3000 in the
    # ratio of the sources' rates (6 : 4): E[V] = 1800.
    mean_value = (6 * 1000 + 4 * 3000) / 10
    # 30 replications: the across-replication sd of NRR is about 0.03, so the 99.9%
    # half-width is about 0.02, within 3% of the formula's 0.78.
    mean_agrees("net revenue retention", nrr, 0.7 * (mean_value + 0.4 * 500) / mean_value, 0.03)


def test_cac_attributes_staff_cost_by_the_work_on_each_source():
    scenario = build({
        "horizon": 500,
        "roles": {"rep": {"headcount": 2, "cost_per_hour": 40}},
        "sources": {"a": {"rate": 0.5, "cost_per_lead": 10, "deal_value": 100},
                    "b": {"rate": 0.3, "cost_per_lead": 50, "deal_value": 200}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "work": 0.5, "next": {"won": 0.4, "lost": 0.6}}},
    })
    rep, frame = logged(scenario)
    k = rep.kpis
    staff_cost = 2 * 40 * 500
    assert k["staff_cost"] == staff_cost
    spans = work_spans(frame, scenario.horizon)
    work = (spans["end"] - spans["start"]).groupby(spans["lead"].map(source_of)).sum()
    created = at(frame, CREATED).index.map(source_of)
    won = at(frame, WON).index.map(source_of)
    for sid in ("a", "b"):
        cost = scenario.sources[sid].cost_per_lead * (created == sid).sum()
        expected = (cost + staff_cost * work[sid] / work.sum()) / (won == sid).sum()
        assert k[f"cac.{sid}"] == pytest.approx(expected, rel=1e-9)


# --- 10. time-varying demand -----------------------------------------------------------------


def arrivals_only(source: dict, horizon: float, unit: str = UNIT) -> Scenario:
    return build({"horizon": horizon, "sources": {"web": source}, "entry": "sign",
                  "stages": {"sign": {"next": {"won": 1}}}}, unit=unit)


def arrival_times(scenario: Scenario, replications: int) -> np.ndarray:
    return np.concatenate([at(logged(scenario, r)[1], CREATED).to_numpy()
                           for r in range(replications)])


def test_weekly_profile_shapes_arrivals_by_weekday():
    weekly = [1, 2, 0.5, 0, 1.5, 1, 3]
    weeks, reps, rate = 20, 3, 2.0
    times = arrival_times(arrivals_only({"rate": rate, "profile": {"weekly": weekly}},
                                        168.0 * weeks), reps)
    day = (times // 24).astype(int) % 7
    observed = np.bincount(day, minlength=7)
    assert observed[3] == 0, "a weekday with multiplier 0 gets no leads"
    expected = np.array([rate * 24 * weeks * reps * w for w in weekly])
    keep = expected > 0
    fits("leads per weekday", observed[keep], expected[keep])


def test_monthly_profile_follows_calendar_months():
    monthly = [1, 1, 2, 1, 1, 1, 0.5, 1, 1, 1, 1, 3]
    reps, rate, horizon = 2, 3.0, 365
    times = arrival_times(arrivals_only({"rate": rate, "profile": {"monthly": monthly}},
                                        horizon, unit="day"), reps)
    start = LOG_EPOCH.date()
    months = np.array([(start + timedelta(days=float(t))).month for t in times])
    observed = np.bincount(months, minlength=13)[1:]
    # Days of each calendar month inside [2026-01-05, 2027-01-05): January has 27 + 4.
    days = np.zeros(12)
    for n in range(horizon):
        days[(start + timedelta(days=n)).month - 1] += 1
    assert days[0] == 31 and days.sum() == horizon
    fits("leads per calendar month", observed, rate * reps * days * np.array(monthly))


def test_table_of_rates_gives_the_expected_counts_per_period():
    table = [[0, 2.0], [100, 0.5], [250, 4.0]]
    reps = 4
    times = arrival_times(arrivals_only({"rate": 1, "profile": {"table": table}}, 400), reps)
    observed = np.histogram(times, bins=[0, 100, 250, 400])[0]
    fits("leads per table period", observed, reps * np.array([2.0 * 100, 0.5 * 150, 4.0 * 150]))


# --- 11. role calendars and holidays ---------------------------------------------------------

HOLIDAYS = [date(2026, 1, 7), date(2026, 1, 19)]  # a Wednesday and a Monday


def day_and_hour(times: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    t = times.to_numpy()
    day = np.floor(t / 24 + EXACT).astype(int)
    return day, t - 24 * day


def within(times: pd.Series, days: set[int], hours: tuple[float, float]) -> bool:
    """All times fall on the given weekdays (0 = Monday) between the hours, both ends in."""
    day, hour = day_and_hour(times)
    # A piece of work that ends at closing time ends at exactly ``hours[1]``.
    on_day = np.isin(day % 7, list(days))
    return bool((on_day & (hour >= hours[0] - 1e-6) & (hour <= hours[1] + 1e-6)).all())


def test_role_calendars_and_holidays():
    scenario = build({
        "horizon": 4 * 168,
        "roles": {
            "ops": {"headcount": 2},  # no calendar anywhere: around the clock
            "sdr": {"headcount": 2, "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"],
                                                 "hours": [9, 17], "holidays": HOLIDAYS}},
            "ts": {"headcount": 2, "calendar": {"workdays": ["mon", "tue", "wed", "thu"],
                                                "hours": [12, 20]}},
        },
        "sources": {"web": {"rate": 0.1}},
        "entry": "intake",
        "stages": {
            "intake": {"role": "ops", "work": exponential(0.5), "next": {"call": 1}},
            "call": {"role": "sdr", "work": exponential(0.5), "next": {"demo": 1}},
            "demo": {"roles": ["sdr", "ts"], "work": exponential(1), "next": {"won": 1}},
        },
    })
    _, frame = logged(scenario)
    holidays = {(h - LOG_EPOCH.date()).days for h in HOLIDAYS}
    work = frame[frame["event"].isin([STARTED, FINISHED])]
    ops, call, demo = (work[work["stage"] == s]["time"] for s in ("intake", "call", "demo"))
    assert not within(ops, {0, 1, 2, 3, 4}, (9, 17)), "premise: the 24/7 role works off-hours"
    assert within(call, {0, 1, 2, 3, 4}, (9, 17))
    # Both roles at once: Monday to Thursday, 12:00 to 17:00.
    assert within(demo, {0, 1, 2, 3}, (12, 17))
    for times in (call, demo):
        day, hour = day_and_hour(times)
        # Work may end at 17:00 the evening before a holiday, never on it.
        assert not np.isin(day, list(holidays)).any()
    call_days = set(day_and_hour(call)[0])
    assert {1, 3, 15} <= call_days, "premise: the days around the holidays are worked"


def idle_in_hours(a: float, b: float, spans: list[tuple[float, float]], days: set[int],
                  hours: tuple[float, float]) -> float:
    """Working time of a one-member role between clock times a and b not covered by its
    work ``spans`` (which do not overlap: one member works on one thing at a time)."""
    idle = 0.0
    for d in range(int(a // 24), int(b // 24) + 1):
        if d % 7 not in days:
            continue
        lo, hi = max(a, 24 * d + hours[0]), min(b, 24 * d + hours[1])
        if hi > lo:
            idle += (hi - lo) - sum(max(0.0, min(hi, e) - max(lo, s)) for s, e in spans)
    return idle


def test_staff_are_not_held_idle_in_their_hours_while_leads_wait():
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    scenario = build({
        "horizon": 8 * 168,
        "roles": {"sdr": {"headcount": 1, "calendar": {"workdays": weekdays, "hours": [9, 17]}},
                  "ts": {"headcount": 1, "calendar": {"workdays": weekdays[:4], "hours": [9, 17]}}},
        "sources": {"web": {"rate": 0.2}},
        "entry": "call",
        "stages": {"call": {"role": "sdr", "work": 0.25, "next": {"demo": 1}},
                   "demo": {"roles": ["sdr", "ts"], "work": 0.25, "next": {"won": 1}}},
    })
    _, frame = logged(scenario)
    # The situation arises: a demo asks for the SDR on a Friday, within the SDR's hours.
    friday_demos = at(frame, QUEUED, "demo")
    friday_demos = friday_demos[((friday_demos // 24) % 7 == 4) & (friday_demos % 24 < 16)]
    assert len(friday_demos) >= 3
    spans = work_spans(frame, scenario.horizon)
    busy = list(zip(spans["start"], spans["end"], strict=True))  # every span holds the SDR
    queued, started = at(frame, QUEUED, "call"), at(frame, STARTED, "call")
    waited = started[started > queued.reindex(started.index) + EXACT].index
    idle = [idle_in_hours(queued[lead], started[lead], busy, {0, 1, 2, 3, 4}, (9, 17))
            for lead in waited]
    # One SDR: while a call waits in the SDR's hours, the SDR must be working.
    assert max(idle, default=0.0) <= 1e-6, f"the SDR sat idle {max(idle):.2f} hours"


def test_priority_queue_is_honoured_at_opening_time():
    scenario = build({
        "horizon": 4 * 168, "calendar": {"hours": [9, 17]},
        "roles": {"rep": {"headcount": 1}},
        "sources": {"web": {"rate": 0.3, "deal_value": VALUE}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "queue": "deal_value", "work": 0.5,
                            "next": {"won": 1}}},
    })
    rep, frame = logged(scenario)
    value = redraw(scenario.sources["web"].deal_value, "lead:web", 0, at(frame, CREATED).index)
    assert rep.kpis["revenue"] == pytest.approx(value[at(frame, WON).index].sum(), rel=1e-12)
    assert served_in_priority_order(frame, value)


# --- 12. learning curve and per-period KPIs --------------------------------------------------


def test_learning_curve_scales_each_work_by_its_start_factor():
    scenario = build({
        "horizon": 300, "warmup": 20, "periods": 50,
        "learning": {"start": 2.0, "end": 1.0, "over": 100, "roles": ["rep"]},
        "roles": {"rep": {"headcount": 30}, "other": {"headcount": 30}},
        "sources": {"web": {"rate": 1}},
        "entry": "new_way",
        "stages": {
            "new_way": {"role": "rep", "work": 1, "next": {"old_way": 1}},
            "old_way": {"role": "other", "work": 1, "next": {"won": 0.5, "lost": 0.5}},
        },
    })
    rep, frame = logged(scenario)
    factor = Learning(start=2.0, end=1.0, over=100).factor
    assert [factor(t) for t in (0, 50, 100, 200)] == [2.0, 1.5, 1.0, 1.0]
    spans = work_spans(frame, scenario.horizon)
    spans = spans[spans["done"]]
    spans["took"] = spans["end"] - spans["start"]
    new, old = spans[spans["stage"] == "new_way"], spans[spans["stage"] == "old_way"]
    np.testing.assert_allclose(new["took"], [factor(t) for t in new["start"]], rtol=0, atol=EXACT)
    np.testing.assert_allclose(old["took"], 1.0, rtol=0, atol=EXACT)  # not in learning.roles
    # work_mean counts a piece of work when it starts: its length is 1 x factor(start).
    begun = events(frame, STARTED, "new_way")
    begun = begun[begun["lead"].isin(cohort(frame, scenario.warmup))]
    assert rep.kpis["work_mean.new_way"] == pytest.approx(
        np.mean([factor(t) for t in begun["time"]]), rel=1e-12)

    # Per-period KPIs: deals won in each period of 50 hours (all leads, warm-up included).
    won = at(frame, WON)
    cycle = won - at(frame, CREATED).reindex(won.index)
    period = (won // 50).astype(int)
    k = rep.kpis
    assert sum(k[f"won_by_period.{p}"] for p in range(1, 7)) == len(won)
    assert "won_by_period.7" not in k
    for p in range(1, 7):
        assert k[f"won_by_period.{p}"] == (period == p - 1).sum()
        assert k[f"cycle_time_won_mean_by_period.{p}"] == pytest.approx(
            cycle[period == p - 1].mean(), rel=1e-12)
    # The dip: early deals take the longer work, later ones do not.
    assert k["cycle_time_won_mean_by_period.1"] > k["cycle_time_won_mean_by_period.6"]


# --- validation of the new keys ---------------------------------------------------------------

VALID = {
    "name": "validation base", "time_unit": "hour", "horizon": 100,
    "roles": {"sdr": {"headcount": 1}, "ae": {"headcount": 1}},
    "sources": {"web": {"rate": 1}},
    "entry": "qualify",
    "stages": {"qualify": {"role": "sdr", "work": 1, "next": {"won": 0.5, "lost": 0.5}}},
}


def _both_scores(d):
    d["sources"]["web"].update(score=0.5, score_factors={"visits": {"weight": 1, "value": 0.5}})


def _queue_score(d):
    d["stages"]["qualify"]["queue"] = "score"


def _decay_without_work(d):
    d["stages"]["qualify"] = {"decay": {"half_life": 2}, "next": {"won": 1}}


def _parallel_with_role(d):
    d["stages"]["qualify"] = {"role": "sdr", "next": {"won": 1}, "parallel": {
        "a": {"role": "sdr", "work": 1}, "b": {"role": "ae", "work": 1}}}


def _two_kinds(d):
    d["stages"]["qualify"]["approvals"] = [{"role": "ae", "work": 1}]


def _cap_without_owner(d):
    d["roles"]["ae"]["max_open_deals"] = 3


def _unknown_handoff_role(d):
    d["handoff"] = {"pairs": {"sdr>cs": 1}}


def _bad_bucket(d):
    d["collection"] = {"role": "ae", "terms": 30, "provision_rates": {"days_91_120": 0.5}}


def _short_week(d):
    d["sources"]["web"]["profile"] = {"weekly": [1, 1, 1, 1, 1, 1]}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        (_both_scores, "sources.web", r"give either score or score_factors, not both"),
        (_queue_score, "stages.qualify.queue",
         r"uses lead scores: every source needs score or score_factors \(missing: web\)"),
        (_decay_without_work, "stages.qualify", r"decay is measured when staff first work"),
        (_parallel_with_role, "stages.qualify",
         r"parallel tasks and approval levels name their own roles"),
        (_two_kinds, "stages.qualify", r"a stage has one kind of staff work, got work and approvals"),
        (_cap_without_owner, "roles.ae", r"max_open_deals caps deals per owner"),
        (_unknown_handoff_role, "handoff.pairs.sdr>cs", r"unknown role"),
        (_bad_bucket, "collection.provision_rates.days_91_120", r"current.*over_90"),
        (_short_week, "sources.web.profile.weekly", r"at least 7"),
    ],
    ids=["score_and_factors", "queue_score_unscored", "decay_without_work",
         "parallel_with_role", "two_kinds_of_work", "cap_without_owner", "handoff_unknown_role",
         "bad_provision_bucket", "short_weekly_profile"],
)
def test_validation_of_the_mechanics(tmp_path, change, field, rule):
    data = copy.deepcopy(VALID)
    change(data)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError, match=rule) as info:
        load_scenario(path)
    fields = [p.field for p in info.value.problems]
    assert field in fields, f"expected a problem at {field!r}, got {fields}: {info.value}"
    assert all(p.file == str(path) for p in info.value.problems), info.value


def test_the_base_of_the_validation_cases_is_valid(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(VALID, sort_keys=False), encoding="utf-8")
    assert load_scenario(path).stages["qualify"].queue == "fifo"


# --- corner cases found while proving the mechanics --------------------------------------------


def test_a_rate_table_ending_in_zero_stops_arrivals():
    scenario = build({
        "horizon": 40,
        "sources": {"web": {"rate": 1, "profile": {"table": [[0, 2], [10, 0]]}}},
        "entry": "sign", "stages": {"sign": {"next": {"won": 1}}},
    })
    created = at(logged(scenario)[1], CREATED)
    assert len(created) > 0 and created.max() < 10


def test_work_after_the_sale_is_not_a_first_contact():
    scenario = build({
        "horizon": 200,
        "roles": {"finance": {"headcount": 1}},
        "sources": {"web": {"rate": 1, "deal_value": 100}},
        "entry": "sign", "stages": {"sign": {"next": {"won": 1}}},
        "collection": {"role": "finance", "terms": 30,
                       "reminders": [{"before": 5, "work": 0.01}]},
    }, unit="day")
    rep = run_replication(scenario, 0)
    assert rep.kpis["invoiced"] > 0
    assert np.isnan(rep.kpis["response_time_mean"])


def test_patience_runs_while_a_deal_waits_for_an_owner():
    def scenario(patience: bool) -> Scenario:
        qualify = {"role": "rep", "work": 0.1, "delay": 20, "next": {"won": 1}}
        if patience:
            qualify["patience"] = 1.0
        return build({
            "horizon": 200,
            "roles": {"rep": {"headcount": 1, "assignment": "owner", "max_open_deals": 1}},
            "sources": {"web": {"rate": 0.5}},
            "entry": "qualify", "stages": {"qualify": qualify},
        })

    # One owner who keeps each deal open for 20 hours: with patience, deals that cannot
    # get an owner within an hour go cold; without it, none does.
    assert run_replication(scenario(True), 0).kpis["went_cold"] > 0
    assert run_replication(scenario(False), 0).kpis["went_cold"] == 0


def test_decay_needs_a_lost_or_no_decision_target():
    with pytest.raises(ValueError, match="next needs both kinds of target"):
        build({
            "horizon": 10, "roles": {"rep": {"headcount": 1}}, "sources": {"web": {"rate": 1}},
            "entry": "call",
            "stages": {"call": {"role": "rep", "work": 1, "decay": {"half_life": 1},
                                "next": {"won": 1}}},
        })
