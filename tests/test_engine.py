"""The engine core: staff pools, stage kinds, ends, the bounded quantile sketch, the typed
event log, and the bugs the independent checks found (each with the case that showed it).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy
from scipy import stats as sst

from conftest import OFFICE, const, expo, scenario_of
from salessim import engine
from salessim.ends import BY_NAME, END_NAMES, ENDS
from salessim.model.journey import Walker
from salessim.model.pools import StaffPool
from salessim.records import CREATED, ENTERED, FINISHED, QUEUED, SKIPPED, STARTED, WENT_COLD
from salessim.scenario import TERMINALS
from salessim.sketch import EXACT_LIMIT, RELATIVE_ERROR, QuantileSketch
from salessim.stats import t_interval

# --- ends ------------------------------------------------------------------------------------


def test_ends_are_defined_once_and_the_scenario_uses_them():
    assert TERMINALS == END_NAMES == ("won", "lost", "no_decision")
    assert [e.forward for e in ENDS] == [True, False, False]
    assert len({e.code for e in ENDS}) == 3 and all(e.code < 0 for e in ENDS)
    assert BY_NAME["won"].label == "won"


# --- the quantile sketch ---------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.99, 1.0])
def test_few_values_give_the_exact_quantiles(q):
    """Up to EXACT_LIMIT values a replication's quantiles are its exact order statistics."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(2.0, 1.2, 5_000), np.zeros(50), np.full(9, 27.0)])
    sketch = QuantileSketch()
    for x in values:
        sketch.add(float(x))
    assert sketch.is_exact and sketch.count == values.size
    assert sketch.quantile(q) == pytest.approx(float(np.quantile(values, q)), rel=1e-15)
    assert sketch.mean == pytest.approx(values.mean(), rel=1e-12)
    ones = QuantileSketch()
    for x in (27.0, 27.0, 27.0):
        ones.add(x)
    assert ones.quantile(0.5) == ones.quantile(0.9) == 27.0  # not the bucket's 26.99...
    assert ones.points() == ([27.0], [3])


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9, 0.99])
def test_past_the_limit_quantiles_are_within_the_stated_error(q):
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(2.0, 1.2, EXACT_LIMIT + 4_000), np.zeros(500)])
    sketch = QuantileSketch()
    for x in values:
        sketch.add(float(x))
    assert not sketch.is_exact  # the histogram took over, values included
    exact = float(np.quantile(values, q))
    assert sketch.quantile(q) == pytest.approx(exact, rel=RELATIVE_ERROR)
    assert sketch.quantile(q) != exact  # a bucket's representative, not the value
    assert sketch.count == values.size
    assert sketch.mean == pytest.approx(values.mean(), rel=1e-12)


def test_sketch_memory_is_bounded_by_the_range_not_the_count():
    sketch = QuantileSketch()
    rng = np.random.default_rng(1)
    for x in rng.uniform(1.0, 10.0, 200_000):
        sketch.add(float(x))
    # One factor of 10 of range: ln 10 / ln gamma buckets at most, and no values kept.
    bound = math.log(10) / math.log((1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)) + 2
    assert sketch.exact is None and len(sketch.bins) <= bound
    assert sketch.count == 200_000


def _filled(values, limit: int = EXACT_LIMIT) -> QuantileSketch:
    sketch = QuantileSketch(limit=limit)
    for x in values:
        sketch.add(float(x))
    return sketch


@pytest.mark.parametrize(("limit", "sizes"), [
    (EXACT_LIMIT, (2000, 2000)),  # exact + exact, still exact
    (3000, (2000, 2000)),  # exact + exact past the limit
    (3000, (3500, 500)),  # histogram + exact
    (3000, (500, 3500)),  # exact + histogram
    (3000, (3500, 3500)),  # histogram + histogram
    (0, (2000, 2000)),  # histogram from the first value
])
def test_sketch_merge_equals_one_sketch_of_everything(limit, sizes):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.exponential(3.0, sum(sizes) - 40), np.zeros(40)])
    rng.shuffle(values)
    a, b = _filled(values[:sizes[0]], limit), _filled(values[sizes[0]:], limit)
    both = _filled(values, limit)
    a.merge(b)
    assert a.is_exact == both.is_exact == (len(values) <= limit)
    assert a.count == both.count == len(values)
    assert a.total == pytest.approx(both.total, rel=1e-12)
    if a.is_exact:
        assert sorted(a.exact) == sorted(values)
        assert a.quantile(0.9) == pytest.approx(float(np.quantile(values, 0.9)), rel=1e-15)
    else:
        assert a.bins == both.bins and a.zeros == both.zeros == 40
    for q in (0.1, 0.5, 0.9):
        assert a.quantile(q) == pytest.approx(both.quantile(q), rel=1e-15)
    assert a.points() == both.points()


def test_a_classroom_case_of_constant_times_has_its_exact_median_and_p90():
    """Two staffed stages of constant work and a constant wait, staff ample: every won deal
    takes 2 + 25 = 27 hours, so the median and the P90 are 27 (the histogram said 26.977)."""
    scenario = scenario_of({
        "horizon": 400, "replications": 1,
        "roles": {"rep": {"headcount": 50, "cost_per_hour": 10}},
        "sources": {"web": {"rate": 2, "deal_value": 1000}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "work": const(0.5), "next": {"close": 1.0}},
                   "close": {"role": "rep", "work": const(1.5), "delay": const(25),
                             "next": {"won": 0.6, "lost": 0.4}}},
    })
    kpis = engine.run_replication(scenario, 0).kpis
    assert kpis["won"] > 100
    for kpi in ("cycle_time_won_median", "cycle_time_won_p90", "cycle_time_won_mean"):
        assert kpis[kpi] == pytest.approx(27, rel=1e-12), kpi
    assert kpis["response_time_p90"] == 0  # nobody waits for a first contact


def test_an_empty_sketch_is_nan_and_bad_arguments_are_refused():
    assert math.isnan(QuantileSketch().quantile(0.5)) and math.isnan(QuantileSketch().mean)
    assert QuantileSketch().points() == ([], [])
    with pytest.raises(ValueError, match="limit must be 0 or more, got -1"):
        QuantileSketch(limit=-1)
    with pytest.raises(ValueError, match="different accuracy"):
        QuantileSketch().merge(QuantileSketch(alpha=0.01))


# --- staff pools -----------------------------------------------------------------------------


def _served_order(prioritised: bool, priorities: list[float]) -> list[int]:
    env = simpy.Environment()
    pool = StaffPool(env, 1, prioritised)
    assert pool.request() is None  # the only member is busy
    order: list[int] = []

    def deal(i: int, priority: float):
        yield pool.request(priority)
        order.append(i)
        yield env.timeout(1)
        pool.release()

    for i, p in enumerate(priorities):
        env.process(deal(i, p))
    env.process(_release_after(env, pool, 0.5))
    env.run()
    return order


def _release_after(env, pool, t):
    yield env.timeout(t)
    pool.release()


# --- a deal's walk on the kernel -------------------------------------------------------------


def _trace(env, seen, name, delays):
    for d in delays:
        seen.append((env.now, name, "start" if d is None else d))
        if d is not None:
            yield env.timeout(d)
    seen.append((env.now, name, "end"))


def _starter(env, start, delays_by_name, gap):
    """A source: each step schedules the next arrival, then starts the lead (as Sources)."""
    for name, delays in delays_by_name:
        arrival = env.timeout(gap)
        start(name, delays)
        yield arrival


def _order_of_events(start_with_walker):
    env, seen = simpy.Environment(), []

    def start(name, delays):
        walk = _trace(env, seen, name, delays)
        if start_with_walker:
            Walker(walk)
        else:
            env.process(walk)

    leads = [("a", [None, 1.0, 0.0]), ("b", [None, 0.0, 1.0]), ("c", [None, 2.0]), ("d", [])]
    env.process(_starter(env, start, leads, 1.0))
    env.run()
    return seen


def test_a_walker_runs_a_walk_in_the_order_a_simpy_process_would():
    """Ties at equal times included: the walk's first steps run at once, where a process
    would run them first thing after its start event."""
    assert _order_of_events(True) == _order_of_events(False)


def test_a_walker_goes_on_at_once_past_events_already_processed_and_gets_failures():
    env = simpy.Environment()
    done = env.event().succeed("done")
    env.run()  # processed: its callbacks are gone
    failing = env.event()
    got = []

    def walk():
        got.append((yield done))
        try:
            yield failing
        except KeyError as e:
            got.append(e.args[0])
        got.append(env.now)

    Walker(walk())
    assert got == ["done"]
    failing.fail(KeyError("no such role"))
    env.run()
    assert got == ["done", "no such role", 0]


def test_an_error_in_a_walk_leaves_the_run_at_once():
    env = simpy.Environment()

    def walk():
        yield env.timeout(1)
        raise RuntimeError("bad routing")

    Walker(walk())
    with pytest.raises(RuntimeError, match="bad routing"):
        env.run(until=5)
    assert env.now == 1


def test_pool_serves_first_come_first_served_or_by_priority_with_ties_in_order():
    assert _served_order(False, [3, 1, 2, 1]) == [0, 1, 2, 3]
    assert _served_order(True, [3, 1, 2, 1]) == [1, 3, 2, 0]


def test_in_a_prioritised_line_a_deal_asking_at_the_release_instant_competes():
    """A member released now goes to the most important deal asking by the end of the
    instant, the releasing deal included (as with SimPy's PriorityResource)."""
    env = simpy.Environment()
    pool = StaffPool(env, 1, prioritised=True)
    assert pool.request(0.0) is None
    waiting = pool.request(0.0)  # rank 0: first come
    pool.release()
    urgent = pool.request(-1.0)  # asks at the same instant, more important
    assert urgent is None and not waiting.triggered
    pool.release()
    later = pool.request(5.0)  # less important than the one waiting
    env.run()
    assert waiting.triggered and not later.triggered


def test_a_release_gives_the_member_to_the_first_in_line_at_once():
    """The waiting deal goes on inside the release (no event in between): its next step
    has run before ``release`` returns, at the same time."""
    env = simpy.Environment()
    pool, other = StaffPool(env, 1), StaffPool(env, 1)
    assert pool.request() is None and other.request() is None
    steps = []

    def waiting_deal():
        yield pool.request()
        steps.append(("got the member", env.now))
        yield other.request()  # the role its work needs next: busy, so it queues
        steps.append(("got the other role", env.now))

    Walker(waiting_deal())
    assert steps == [] and env.peek() == math.inf
    pool.release()
    assert steps == [("got the member", 0)] and pool.free == 0
    assert other.waiting == 1  # it asked for the other role before release() returned
    other.release()  # the deal first in line, not a later asker, gets it
    assert steps[-1] == ("got the other role", 0) and other.free == 0
    assert env.peek() == math.inf  # no event was scheduled for either hand-over


def test_at_a_hand_over_the_finish_is_logged_before_the_next_start():
    """One rep, leads faster than the work: most starts are at another lead's finish, and
    the log has that finish first."""
    data = {
        "horizon": 40, "roles": {"rep": {"headcount": 1}},
        "sources": {"web": {"rate": 2.0}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "work": const(1.0), "next": {"won": 1.0}}},
    }
    frame = engine.run_replication(scenario_of(data), 0, event_log=True).log.plain_frame()
    finished = {t: i for i, t in frame.loc[frame["event"] == FINISHED, "time"].items()}
    starts = frame[frame["event"] == STARTED]
    handed = [(finished[t], i) for i, t in starts["time"].items() if t in finished]
    assert len(handed) >= 30  # the rep is never idle after the first lead
    assert all(f < s for f, s in handed)
    # Every lead's own records keep their order in time.
    for _, rows in frame.groupby("lead", sort=False):
        assert rows["time"].is_monotonic_increasing


def test_pool_hands_members_over_and_passes_by_deals_gone_cold():
    env = simpy.Environment()
    pool = StaffPool(env, 2)
    assert pool.request() is None and pool.request() is None
    first, second = pool.request(), pool.request()
    pool.give_up(first)
    assert pool.waiting == 1
    pool.release()  # goes to the second in line, not the one gone cold
    assert second.triggered and not first.triggered and pool.free == 0
    pool.release()
    assert pool.free == 1


def test_a_closed_pool_holds_its_free_members_until_opening():
    env = simpy.Environment()
    pool = StaffPool(env, 2)
    pool.close()
    waiting = pool.request()
    assert waiting is not None
    pool.open()
    assert waiting.triggered and pool.free == 1


# --- bugs found by the independent checks ----------------------------------------------------


def _overnight(queue: str = "fifo", horizon: float = 4000):
    data = {
        "horizon": horizon, "calendar": OFFICE,
        "roles": {"sdr": {"headcount": 1}},
        "sources": {"web": {"rate": 0.05, "score": {"dist": "uniform", "low": 0, "high": 1}}},
        "entry": "qualify",
        "stages": {"qualify": {"role": "sdr", "work": const(10 / 60), "patience": const(1.0),
                               "queue": queue, "next": {"won": 1.0}}},
    }
    return scenario_of(data)


@pytest.mark.parametrize("queue", ["fifo", "score"])
def test_patience_runs_while_staff_are_off_duty_whatever_the_queue(queue):
    """The repro: leads arriving at night got an off-duty member at once and never went cold."""
    rep = engine.run_replication(_overnight(queue), 0, event_log=True)
    frame = rep.log.plain_frame()
    queued = frame[frame["event"] == QUEUED].set_index("lead")["time"]
    started = frame[frame["event"] == STARTED].set_index("lead")["time"]
    cold = frame[frame["event"] == WENT_COLD].set_index("lead")["time"]
    waited = started - queued.reindex(started.index)
    assert len(started) > 50 and len(cold) > 50
    assert (waited <= 1.0 + 1e-9).all()  # nobody is served after their patience ran out
    assert ((cold - queued.reindex(cold.index)) - 1.0).abs().max() < 1e-9


def test_the_first_night_is_off_duty_too():
    """From time 0 (Monday 00:00) to the first opening, staff are off duty."""
    for queue in ("fifo", "score"):
        frame = engine.run_replication(_overnight(queue, 200), 0, event_log=True).log.plain_frame()
        started = frame.loc[frame["event"] == STARTED, "time"]
        assert started.min() >= 9.0 - 1e-9


def test_first_opening_serves_the_night_queue_by_priority():
    data = {
        "horizon": 9.5, "calendar": OFFICE,
        "roles": {"sdr": {"headcount": 1}},
        "sources": {"web": {"rate": 2.0, "score": {"dist": "uniform", "low": 0, "high": 1}}},
        "entry": "qualify",
        "stages": {"qualify": {"role": "sdr", "work": const(0.25), "queue": "score",
                               "next": {"won": 1.0}}},
    }
    rep = engine.run_replication(scenario_of(data), 0, event_log=True)
    log = rep.log
    scores = log.cases().set_index("lead")["score"]
    frame = log.plain_frame()
    first = frame[frame["event"] == STARTED].sort_values("time").iloc[0]
    night = frame[(frame["event"] == CREATED) & (frame["time"] < 9.0)]["lead"]
    assert first["time"] == pytest.approx(9.0)
    assert scores[first["lead"]] == scores[night].max()


# --- stage kinds -----------------------------------------------------------------------------


def test_every_visit_is_entered_and_delay_only_stages_show_in_the_log():
    data = {
        "horizon": 100, "roles": {"rep": {"headcount": 2}},
        "sources": {"web": {"rate": 1.0, "deal_value": {"dist": "uniform", "low": 0,
                                                         "high": 100}}},
        "entry": "think",
        "stages": {
            "think": {"delay": expo(1.0), "next": {"review": 1.0}},
            "review": {"role": "rep", "work": expo(0.3), "only_if": {"deal_value_above": 50},
                       "next": {"won": 0.5, "think": 0.2, "lost": 0.3}},
        },
    }
    rep = engine.run_replication(scenario_of(data), 0, event_log=True)
    frame = rep.log.plain_frame()
    for sid in ("think", "review"):
        entered = int(((frame["event"] == ENTERED) & (frame["stage"] == sid)).sum())
        assert rep.kpis[f"visits.{sid}"] == entered > 0
    skipped = frame[frame["event"] == SKIPPED]
    assert len(skipped) == rep.tally.stages["review"].skipped > 0
    values = rep.log.cases().set_index("lead")["deal_value"]
    assert (values[skipped["lead"]] <= 50).all()
    # A deal that skips a stage never enters it.
    enter_review = frame[(frame["event"] == ENTERED) & (frame["stage"] == "review")]["lead"]
    assert (values[enter_review] > 50).all()


def test_equivalent_models_by_different_stage_kinds_give_identical_logs():
    """A one-level approval chain above 0 is a staffed stage for deals of positive value."""
    def model(stage: dict):
        return scenario_of({
            "horizon": 300, "roles": {"legal": {"headcount": 1}},
            "sources": {"web": {"rate": 0.8, "deal_value": {"dist": "uniform", "low": 1,
                                                             "high": 10}}},
            "entry": "sign", "stages": {"sign": {**stage, "next": {"won": 0.7, "lost": 0.3}}},
        })
    staffed = model({"role": "legal", "work": const(1.0), "delay": const(2.0)})
    chain = model({"approvals": [{"role": "legal", "work": const(1.0)}], "delay": const(2.0)})
    a = engine.run_replication(staffed, 0, event_log=True).log.plain_frame()
    b = engine.run_replication(chain, 0, event_log=True).log.plain_frame()
    pd.testing.assert_frame_equal(a, b)
    assert (a["event"] == STARTED).sum() > 100


def test_a_nurture_stage_with_progress_false_is_no_conversion():
    data = {
        "horizon": 2000, "roles": {"sdr": {"headcount": 3}},
        "sources": {"web": {"rate": 1.0}},
        "entry": "qualify",
        "stages": {
            "qualify": {"role": "sdr", "work": expo(0.5),
                        "next": {"won": 0.3, "nurture": 0.3, "lost": 0.4}},
            "nurture": {"delay": expo(20), "progress": False, "next": {"qualify": 1.0}},
        },
    }
    rep = engine.run_replication(scenario_of(data), 0, event_log=True)
    frame = rep.log.plain_frame()
    st = rep.tally.stages["qualify"]
    wins = int((frame["event"] == "won").sum())
    assert st.moved_on == wins  # only won moved the deal on; nurture re-entries did not
    assert rep.kpis["conversion.qualify"] == pytest.approx(wins / (st.moved_on + st.lost))
    ci = sst.binomtest(st.moved_on, st.moved_on + st.lost).proportion_ci(0.999)
    assert ci.low < 0.3 < ci.high  # not 0.6, the share of forward plus nurture
    assert rep.kpis["visits.nurture"] > 0


# --- the weekly review meeting ---------------------------------------------------------------


def _meeting(capacity: int | None, rate: float, horizon: float = 20_000):
    meeting = {"every": 168, "first": 34, "length": 1.0}
    if capacity is not None:
        meeting["capacity"] = capacity
    return scenario_of({
        "horizon": horizon, "warmup": 2000, "roles": {"manager": {"headcount": 1}},
        "sources": {"web": {"rate": rate}},
        "entry": "review",
        "stages": {"review": {"role": "manager", "meeting": meeting, "next": {"won": 1.0}}},
    })


def bulk_queue_wait(rate: float, every: float, capacity: int) -> float:
    """Mean wait for a meeting every ``every`` hours that takes up to ``capacity`` deals.

    Q_k, the deals waiting just before meeting k, is a Markov chain:
    Q_{k+1} = max(Q_k - capacity, 0) + A_k with A_k ~ Poisson(rate x every). Between two
    meetings the line holds max(Q - capacity, 0) left over plus arrivals, on average
    rate x every / 2 of them over the interval; Little's law turns that into the wait.
    """
    m = rate * every
    n = int(m * 4 + 10 * capacity + 200)
    arrivals = sst.poisson.pmf(np.arange(n), m)
    p = np.zeros(n)
    p[0] = 1.0
    for _ in range(5000):
        left = np.maximum(np.arange(n) - capacity, 0)
        carried = np.bincount(left, weights=p, minlength=n)[:n]
        new = np.convolve(carried, arrivals)[:n]
        new /= new.sum()
        if np.abs(new - p).max() < 1e-14:
            break
        p = new
    leftover = float(np.maximum(np.arange(n) - capacity, 0) @ p)
    return (leftover + m / 2) / rate


@pytest.mark.slow
@pytest.mark.parametrize("capacity, rate", [(None, 0.05), (10, 0.045)])
def test_meeting_wait_matches_the_batch_formula(capacity, rate):
    scenario = _meeting(capacity, rate)
    theory = 168 / 2 if capacity is None else bulk_queue_wait(rate, 168, capacity)
    waits = [engine.run_replication(scenario, r).kpis["wait_mean.review"] for r in range(20)]
    ci = t_interval(np.array(waits), 0.999)
    print(f"meeting capacity {capacity}: theory {theory:.2f}, simulated {ci}")
    assert ci.ci_low <= theory <= ci.ci_high
    assert ci.ci_high - ci.ci_low < 0.1 * theory


def test_meetings_take_deals_at_their_times_and_at_most_their_capacity():
    scenario = _meeting(3, 0.05, horizon=3000)
    rep = engine.run_replication(scenario, 0, event_log=True)
    frame = rep.log.plain_frame()
    starts = frame[frame["event"] == STARTED]["time"]
    k = (starts - 34) / 168
    assert np.allclose(k, np.round(k))  # every deal is taken up at a meeting time
    assert starts.value_counts().max() <= 3
    finished = frame[frame["event"] == FINISHED]["time"]
    assert np.allclose(np.sort(finished.to_numpy()), np.sort(starts.to_numpy()) + 1.0)
    kpis = rep.kpis
    assert kpis["meetings.review"] == rep.tally.stages["review"].meetings > 0
    assert 0 < kpis["meeting_size_mean.review"] <= 3
    # The manager attends for an hour per meeting held in the window.
    window = scenario.horizon - scenario.warmup
    held = starts[starts >= scenario.warmup].nunique()
    assert kpis["utilisation.manager"] * window == pytest.approx(held * 1.0)


# --- KPIs against hand-computed cases --------------------------------------------------------


def test_throughput_cost_per_win_and_pipeline_velocity_by_hand():
    scenario = scenario_of({
        "horizon": 500, "warmup": 100,
        "roles": {"ae": {"headcount": 2, "cost_per_hour": 50}},
        "sources": {"web": {"rate": 0.3, "cost_per_lead": 20, "deal_value": 1000}},
        "entry": "pitch",
        "stages": {"pitch": {"role": "ae", "work": const(2.0), "delay": const(10.0),
                             "next": {"won": 0.4, "lost": 0.6}}},
    })
    rep = engine.run_replication(scenario, 0, event_log=True)
    k = rep.kpis
    cases = rep.log.cases()
    cohort = cases[cases["counted"]]
    won = int((cohort["end"] == "won").sum())
    lost = int((cohort["end"] == "lost").sum())
    window = 400
    assert k["throughput"] == won / window
    staff_cost = 2 * 50 * window  # two AEs paid around the clock over the window
    selling = staff_cost + 20 * len(cohort)
    assert k["staff_cost"] == staff_cost and k["selling_cost"] == selling
    assert k["cost_per_win"] == pytest.approx(selling / won)
    # Every deal takes 2 + 10 hours plus its wait; won deals are worth 1000 each.
    assert k["cycle_time_won_mean"] >= 12.0
    velocity = k["wip_mean"] * (won / (won + lost)) * 1000 / k["cycle_time_won_mean"]
    assert k["pipeline_velocity"] == pytest.approx(velocity, rel=1e-12)


# --- the typed event log ---------------------------------------------------------------------


def test_event_log_is_typed_columns_and_names_come_back_exactly():
    data = {
        "horizon": 400, "roles": {"ae": {"headcount": 1}, "se": {"headcount": 1}},
        "sources": {"web": {"rate": 0.3}, "events": {"rate": 0.1}},
        "entry": "demo",
        "stages": {"demo": {"roles": ["ae", "se"], "work": expo(1.0), "next": {"won": 1.0}}},
    }
    log = engine.run_replication(scenario_of(data), 1, event_log=True).log
    assert log.codes.itemsize + log.times.itemsize == 16  # bytes an event, before names
    frame = log.to_frame()
    assert set(frame["resource"].dropna()) == {"ae+se"}
    assert frame["stage"].isna().sum() == (frame["event"].isin([CREATED, "won"])).sum()
    assert frame["case:concept:name"].str.startswith("1/").all()
    records = log.records()
    assert [r.event for r in records] == list(frame["event"])
    assert set(log.cases()["source"]) == {"web", "events"}


def test_parallel_tasks_of_one_owner_role_share_the_deals_one_owner():
    """Two tasks of a deal that both wait for a capped owner get the same one.

    Each used to ask for an owner of its own: the deal then held two owners' caps and
    gave one back, until every owner was full and the process stopped.
    """
    scenario = scenario_of({
        "horizon": 2000,
        "roles": {"am": {"headcount": 2, "assignment": "owner", "max_open_deals": 1}},
        "sources": {"web": {"rate": 0.4}},
        "entry": "build",
        "stages": {"build": {"parallel": {"deck": {"role": "am", "work": expo(1.0)},
                                          "quote": {"role": "am", "work": expo(1.0)}},
                             "next": {"won": 1.0}}},
    })
    rep = engine.run_replication(scenario, 0, event_log=True)
    frame = rep.log.plain_frame()
    started = frame[frame["event"] == STARTED].groupby("lead").size()
    won = frame.loc[frame["event"] == "won", "lead"]
    assert len(won) > 500
    assert (started[won] == 2).all()
    # With a cap of one deal per owner, at most two deals are being worked at the horizon.
    assert len(started.index.difference(won)) <= 2


def test_one_long_replication_reports_its_progress_over_simulated_time(tiny):
    seen: list[float] = []
    scenario = tiny()
    with_clock = engine.run(scenario, 1, clock=seen.append)
    assert seen == [k / 100 for k in range(1, 101)]
    # Watching the clock changes nothing in the run.
    assert with_clock.replications[0].kpis == engine.run(scenario, 1).replications[0].kpis


def test_closing_and_opening_a_pool_moves_its_members_as_one_count():
    """Whatever the headcount (10**9 here): no member is handled one at a time."""
    env = simpy.Environment()
    pool = StaffPool(env, 10**9)
    pool.close()
    assert (pool.free, pool.held) == (0, 10**9)
    waiting = pool.request()
    pool.open()
    assert waiting.triggered and pool.free == 10**9 - 1 and pool.held == 0
