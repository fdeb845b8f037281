"""Properties of the simulation that hold on every sample path, not only on average.

Conservation of leads, reproducibility from (scenario, seed, replication), monotonicity of
waiting in staff on a FIFO queue under common random numbers, isolation of random streams,
and robustness of the loader to mutated documents (a ScenarioError or a valid run, never a
crash).
"""

from __future__ import annotations

import copy
import math
import random
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from salessim import engine
from salessim.errors import ScenarioError
from salessim.records import CREATED, LOST, NO_DECISION, QUEUED, STARTED, WENT_COLD, WON
from salessim.scenario import Scenario, load_scenario

ENDS = (WON, LOST, NO_DECISION)
FEW = settings(deadline=None, max_examples=8,
               suppress_health_check=[HealthCheck.function_scoped_fixture])

FUNNEL = textwrap.dedent("""\
    name: two-stage funnel under load
    time_unit: day
    horizon: 40
    warmup: 8
    roles:
      sdr: {headcount: 1, cost_per_hour: 30}
      ae: {headcount: 2, cost_per_hour: 60}
    sources:
      web: {rate: 6, deal_value: {dist: lognormal, mean: 1000, cv: 0.8}}
      events: {rate: 1, cost_per_lead: 200, deal_value: {dist: gamma, mean: 5000, cv: 0.5}}
    entry: qualify
    stages:
      qualify:
        role: sdr
        work: {dist: exponential, mean: 0.15}
        patience: {dist: exponential, mean: 0.5}
        next: {close: 0.5, lost: 0.5}
      close:
        role: ae
        work: {dist: exponential, mean: 0.3}
        delay: {dist: exponential, mean: 5}
        next: {won: 0.6, lost: 0.3, qualify: 0.1}
    """)


def funnel(tmp: Path, sets: list[str] | None = None) -> Scenario:
    path = tmp / "funnel.yaml"
    if not path.exists():
        path.write_text(FUNNEL, encoding="utf-8")
    return load_scenario(path, sets)


def log_of(scenario: Scenario, seed: int = 1, replication: int = 0) -> pd.DataFrame:
    return engine.run_replication(scenario, replication, seed, event_log=True).log.to_frame()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


# --- every lead ends in exactly one state ----------------------------------------------------


@FEW
@given(seed=hst.integers(0, 2**32 - 1), calendar=hst.booleans(), sdr=hst.integers(1, 3))
def test_every_lead_ends_in_exactly_one_state(tmp, seed, calendar, sdr):
    sets = [f"roles.sdr.headcount={sdr}"]
    if calendar:
        sets.append("calendar={workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}")
    scenario = funnel(tmp, sets)
    rep = engine.run_replication(scenario, 0, seed, event_log=True)
    log = rep.log.to_frame()
    per_lead = log.groupby("lead")["event"]
    created = per_lead.apply(lambda e: int((e == CREATED).sum()))
    ended = per_lead.apply(lambda e: int(e.isin(ENDS).sum()))
    assert (created == 1).all()
    assert (ended <= 1).all()
    # The end, when there is one, is the lead's last event.
    last = log.groupby("lead")["event"].last()
    assert set(last[ended == 1]) <= set(ENDS)

    # The KPIs count the cohort: leads created at or after the warm-up.
    born = log[log["event"] == CREATED].set_index("lead")["time"]
    cohort = set(born[born >= scenario.warmup].index)
    cohort_log = log[log["lead"].isin(cohort)]
    count = {e: int((cohort_log["event"] == e).sum()) for e in (*ENDS, WENT_COLD)}
    k = rep.kpis
    assert k["leads"] == len(cohort) > 0
    assert k["won"] == count[WON]
    assert k["lost"] == count[LOST]
    assert k.get("no_decision", 0) == count[NO_DECISION]
    assert k["open"] == len(cohort) - count[WON] - count[LOST] - count[NO_DECISION]
    assert k["open"] >= 0
    assert k["went_cold"] == count[WENT_COLD] <= k["lost"]
    assert sum(rep.tally.leads_by_source.values()) == k["leads"]


# --- reproducibility -------------------------------------------------------------------------


def test_same_seed_same_event_log_other_seed_another(tmp):
    scenario = funnel(tmp)
    a, b = log_of(scenario, seed=11), log_of(scenario, seed=11)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(log_of(scenario, seed=12))
    assert not a.equals(log_of(scenario, seed=11, replication=1))


def test_a_scenario_run_twice_gives_exactly_equal_kpis(tmp):
    scenario = funnel(tmp)
    first, second = engine.run(scenario, 3, seed=5), engine.run(scenario, 3, seed=5)
    pd.testing.assert_frame_equal(first.wide(), second.wide(), check_exact=True)
    pd.testing.assert_frame_equal(first.summary(), second.summary(), check_exact=True)
    assert not first.wide().equals(engine.run(scenario, 3, seed=6).wide())


# --- more staff on a FIFO queue never makes anyone wait longer -------------------------------

QUEUE = textwrap.dedent("""\
    name: one FIFO queue
    time_unit: hour
    horizon: 300
    warmup: 20
    roles: {clerk: {headcount: 1}}
    sources: {walk_in: {rate: 1.6}}
    entry: serve
    stages:
      serve:
        role: clerk
        work: {dist: lognormal, mean: 1.1, cv: 1.2}
        next: {won: 1}
    """)


def waits(scenario: Scenario, seed: int) -> tuple[pd.Series, pd.Series]:
    """Per lead: time from queueing to start of work, and the same censored at the horizon.

    The censored wait of a lead still queued at the horizon is horizon - queued time: with it
    every lead of the cohort has a wait, so the mean is over the same leads in both designs.
    """
    log = log_of(scenario, seed)
    queued = log[log["event"] == QUEUED].set_index("lead")["time"]
    started = log[log["event"] == STARTED].set_index("lead")["time"]
    cohort = queued[queued >= scenario.warmup]
    wait = (started.reindex(cohort.index) - cohort).dropna()
    censored = started.reindex(cohort.index).fillna(scenario.horizon) - cohort
    return wait, censored


@FEW
@given(seed=hst.integers(0, 2**32 - 1), staff=hst.integers(1, 3))
def test_more_staff_never_raises_waiting_on_a_fifo_queue(tmp, seed, staff):
    """Kiefer-Wolfowitz: with the same arrivals and the same work per lead (common random
    numbers; work is drawn in order of service start, which FIFO keeps as arrival order),
    every lead's wait is no longer with one more clerk. So is the mean over the cohort.

    The KPI ``wait_mean`` averages over the visits served by the horizon, a set that grows
    with staff; it is not monotone on every sample path, so the waits come from the log.
    """
    path = tmp / "queue.yaml"
    path.write_text(QUEUE, encoding="utf-8")
    few = load_scenario(path, [f"roles.clerk.headcount={staff}"])
    more = load_scenario(path, [f"roles.clerk.headcount={staff + 1}"])
    wait_few, censored_few = waits(few, seed)
    wait_more, censored_more = waits(more, seed)
    assert list(censored_few.index) == list(censored_more.index)  # same leads
    assert set(wait_few.index) <= set(wait_more.index)  # whoever got a clerk still does
    tol = 1e-9 * few.horizon
    assert (wait_more.reindex(wait_few.index) <= wait_few + tol).all()
    assert (censored_more <= censored_few + tol).all()
    assert censored_more.mean() <= censored_few.mean() + tol


# --- common random numbers: a change touches only its own streams ----------------------------


def created_leads(scenario: Scenario, monkeypatch=None, seed: int = 3) -> list[tuple]:
    """(lead, creation time, deal value) of every lead, in order of creation."""
    log = engine.run_replication(scenario, 0, seed, event_log=True).log
    cases = log.cases().set_index("lead")["deal_value"]
    frame = log.plain_frame()
    created = frame[frame["event"] == CREATED][["lead", "time"]]
    return [(lead, t, cases[lead]) for lead, t in created.itertuples(index=False, name=None)]


def test_changing_a_stage_leaves_arrivals_and_deal_values_unchanged(tmp, monkeypatch):
    base = funnel(tmp)
    slower = funnel(tmp, ["stages.close.work={dist: gamma, mean: 0.6, cv: 2}",
                          "stages.qualify.next={close: 0.7, lost: 0.3}"])
    a, b = created_leads(base, monkeypatch), created_leads(slower, monkeypatch)
    assert a == b
    # The change did reach the process.
    assert not log_of(base, 3).equals(log_of(slower, 3))


def test_changing_a_source_leaves_the_other_source_untouched(tmp, monkeypatch):
    base = funnel(tmp)
    changed = funnel(tmp, ["sources.web.rate=9", "sources.web.deal_value.cv=0.2"])
    a, b = created_leads(base, monkeypatch), created_leads(changed, monkeypatch)

    def of(leads, source):
        return [x for x in leads if x[0].startswith(source + "-")]

    assert of(a, "events") == of(b, "events") != []
    assert of(a, "web") != of(b, "web")


def test_adding_a_stage_leaves_the_other_stages_draws_alone(tmp):
    """A stage that only some deals skip into changes nothing upstream of it."""
    base = funnel(tmp, ["stages.close.next={won: 0.6, lost: 0.4}"])
    review = funnel(tmp, ["stages.close.next={review: 0.6, lost: 0.4}",
                          "stages.review={delay: 1, next: {won: 1}}"])

    def qualify_events(scenario):
        log = log_of(scenario, 4)
        return log[log["stage"] == "qualify"].reset_index(drop=True)

    pd.testing.assert_frame_equal(qualify_events(base), qualify_events(review), check_exact=True)


# --- fuzz: mutated documents give a ScenarioError or a valid run -----------------------------


def _paths(node, prefix=()):
    """Every (path, value) in a document."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else ()
    for key, value in items:
        yield (*prefix, key), value
        yield from _paths(value, (*prefix, key))


def _get_parent(doc, path):
    node = doc
    for key in path[:-1]:
        node = node[key]
    return node


def mutate(doc: dict, kind: str, pick: int, rnd: random.Random) -> dict:
    doc = copy.deepcopy(doc)
    paths = list(_paths(doc))
    path, value = paths[pick % len(paths)]
    parent = _get_parent(doc, path)
    key = path[-1]
    if kind == "drop":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif kind == "number":
        numbers = [(p, v) for p, v in paths if isinstance(v, int | float)
                   and not isinstance(v, bool)]
        path, value = numbers[pick % len(numbers)]
        _get_parent(doc, path)[path[-1]] = rnd.choice([-value, 0, -1, "many", "3 fortnights",
                                                       float("nan")])
    elif kind == "rename_reference":
        stages = list(doc.get("stages", {}))
        refs = [(sid, target) for sid in stages for target in
                (doc["stages"][sid] or {}).get("next", {}) if isinstance(doc["stages"][sid], dict)]
        if refs:
            sid, target = refs[pick % len(refs)]
            nxt = doc["stages"][sid]["next"]
            nxt[rnd.choice([target + "x", "won", "lost", stages[0]])] = nxt.pop(target)
        elif "entry" in doc:
            doc["entry"] = "nowhere"
    elif kind == "unknown_key":
        maps = [doc, *(v for _, v in paths if isinstance(v, dict))]
        maps[pick % len(maps)][rnd.choice(["colour", "mean_", "wrk", "nxt"])] = 1
    elif kind == "shuffle_probabilities":
        nexts = [v for p, v in paths if p[-1] == "next" and isinstance(v, dict)]
        if nexts:
            nxt = nexts[pick % len(nexts)]
            keys, probs = list(nxt), list(nxt.values())
            rnd.shuffle(probs)
            if rnd.random() < 0.5 and probs:
                probs[0] = round(probs[0] + 0.1, 3)
            nxt.clear()
            nxt.update(zip(keys, probs, strict=True))
    elif kind == "mechanics":
        # Switch on a mechanic somewhere: another time unit, owned deals with a cap, a
        # role's own calendar, a prioritised queue, patience.
        roles = [r for r, v in doc.get("roles", {}).items() if isinstance(v, dict)]
        stages = [s for s, v in doc.get("stages", {}).items() if isinstance(v, dict)]
        choice = pick % 5
        if choice == 0:
            doc["time_unit"] = rnd.choice(["minute", "hour", "week"])
        elif choice == 1 and roles:
            doc["roles"][rnd.choice(roles)].update(
                {"assignment": "owner", "max_open_deals": rnd.choice([1, 3])})
        elif choice == 2 and roles:
            doc["roles"][rnd.choice(roles)]["calendar"] = {
                "workdays": [rnd.choice(["mon", "sat"])], "hours": [rnd.choice([0, 9, 20]), 24]}
        elif choice == 3 and stages:
            doc["stages"][rnd.choice(stages)]["queue"] = rnd.choice(["score", "deal_value",
                                                                     "needs"])
        elif choice == 4 and stages:
            doc["stages"][rnd.choice(stages)]["patience"] = rnd.choice([0.5, "2 hours"])
    return doc


EXAMPLES = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


@settings(deadline=None, max_examples=60,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=hst.sampled_from(["funnel", *[p.name for p in EXAMPLES]]),
    kind=hst.sampled_from(["drop", "number", "rename_reference", "unknown_key",
                           "shuffle_probabilities", "mechanics"]),
    pick=hst.integers(0, 10**6),
    seed=hst.integers(0, 10**6),
)
def test_mutated_documents_fail_cleanly_or_run(tmp, document, kind, pick, seed):
    text = FUNNEL if document == "funnel" else (EXAMPLES[0].parent / document).read_text()
    doc = mutate(yaml.safe_load(text), kind, pick, random.Random(seed))
    path = tmp / "mutant.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    try:
        # A short horizon keeps the run small; it is applied last, as a user's --set would be.
        scenario = load_scenario(path)
        short = load_scenario(path, [f"horizon={min(scenario.horizon, 30)}",
                                     f"warmup={min(scenario.warmup, 5)}"])
    except ScenarioError as exc:
        assert str(exc) and all(p.rule for p in exc.problems)
        return
    kpis = engine.run_replication(short, 0, seed).kpis
    assert kpis["leads"] >= 0
    assert all(isinstance(v, float) and not math.isinf(v) for v in kpis.values())


def test_a_lead_has_the_same_luck_at_a_stage_whatever_the_staffing(tmp_path):
    """Common random numbers per lead: the first routing at each stage is the lead's own.

    With one SDR or three, leads reach ``close`` at other times and in another order, but
    a lead that leaves ``close`` for the first time goes the same way in both (won, lost or
    back to qualify), and a lead that leaves ``qualify`` for the first time likewise.
    """
    def first_exits(sets: list[str]) -> pd.Series:
        scenario = funnel(tmp_path, ["stages.qualify.patience=null", *sets])
        log = engine.run_replication(scenario, 0, event_log=True).log.to_frame()
        log = log[log["event"].isin([QUEUED, *ENDS])].sort_values(["lead", "time"], kind="stable")
        # Where each lead went after its first visit to each stage: the next row's stage
        # (a queue) or end event.
        nxt = log.groupby("lead")["concept:name"].shift(-1)
        visits = log[log["event"] == QUEUED].assign(went=nxt)
        first = visits.groupby(["lead", "stage"], sort=True).first()["went"]
        return first.dropna()

    one, three = first_exits([]), first_exits(["roles.sdr.headcount=3"])
    both = one.index.intersection(three.index)
    assert len(both) > 100
    assert (one[both] == three[both]).all()


# --- Little's law on the sample path ---------------------------------------------------------


@FEW
@given(seed=hst.integers(0, 2**32 - 1), calendar=hst.booleans())
def test_littles_law_holds_exactly_on_every_sample_path_without_warmup(tmp, seed, calendar):
    """With no warm-up, WIP area = sum over leads of time in process up to the horizon."""
    sets = ["warmup=0"]
    if calendar:
        sets.append("calendar={workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}")
    scenario = funnel(tmp, sets)
    k = engine.run_replication(scenario, 0, seed).kpis
    window = scenario.horizon - scenario.warmup
    assert k["open"] > 0, "premise: some leads are still open at the horizon"
    assert k["wip_mean"] * window == pytest.approx(k["leads"] * k["time_in_process_all_mean"],
                                                   rel=1e-9)
    # The all-leads total is the closed leads' total plus the open leads' time so far.
    closed = k["won"] + k["lost"] + k["no_decision"]
    assert k["leads"] * k["time_in_process_all_mean"] >= closed * k["time_in_process_mean"]
