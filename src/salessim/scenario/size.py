"""How big a run is, from the scenario alone, and the limits a scenario must keep to.

A scenario whose numbers are each valid can still describe a run that would never end
or never fit in memory (a rate of 10^300 leads a day, a horizon of a billion years). The
limits below are refused by validation, naming the field and its value, so that
"validate says ok" means the run will end. Below them,
:func:`salessim.model.runsize.estimate` gives the size of a run (expected leads, stage
visits, events and the event log's memory, :class:`RunSize`; the events of a visit are
said by its stage's kind) so the command line can warn before a long run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from salessim.ends import WON
from salessim.errors import Problem
from salessim.scenario.schema import Scenario, Source

#: Most leads one replication may expect (all sources, over the horizon).
MAX_LEADS_PER_REPLICATION = 10**8
#: Most stage visits one replication may expect (loops make a lead visit stages again).
MAX_VISITS_PER_REPLICATION = 10**9
#: Longest horizon, in days (a thousand years): calendars and renewals step through it.
MAX_HORIZON_DAYS = 365_000
#: Most reporting periods (``horizon / periods``) in one replication.
MAX_PERIODS = 100_000
#: Largest headcount of a role whose members are tracked one by one: owner-assigned
#: roles, and roles that staff a prioritised queue (``queue`` other than fifo).
MAX_TRACKED_HEADCOUNT = 10_000
#: Shortest time between meetings and shortest renewal term, in hours (a minute): shorter
#: ones describe no sales process, and each step of them is simulated.
MIN_INTERVAL_HOURS = 1 / 60
#: Most meetings of a stage, or renewal terms of a contract, in one horizon: each is
#: simulated, and a term of 10^-7 days would step a billion times per won deal.
MAX_CYCLES = 1_000_000
#: A deal that comes back to a stage it passes by (``only_if``) this many times without
#: simulated time passing, times the stages' expected visits (see :func:`zero_time_turns`),
#: is in a loop that takes no time and would never end.
ZERO_TIME_TURNS = 10_000
#: Largest headcount of any role (a pool's staff are one counter, but a headcount is a
#: count every table stores as a 64-bit integer, and no sales team is larger).
MAX_HEADCOUNT = 1_000_000_000
#: Largest mean of any distribution of a scenario (time in its unit, or money): larger
#: ones describe no sales process, and their sums overflow the reports' tables to inf
#: (a work time of 1e308 did, with shares of 0%).
MAX_MEAN = 1e15
#: Bytes of memory a lead waiting for staff takes (its deal, its queue entry and the event
#: it waits on; measured: about 1.7 KB).
WAITING_LEAD_BYTES = 1_800
#: An overloaded role whose waiting leads would take more memory than this in one
#: replication is warned of as a run that may not fit in memory.
WARN_WAITING_BYTES = 4 * 1024**3
#: Bytes of memory one event of the event log takes: a packed code and a time (16 bytes),
#: and its share of the lead table (17.3 in all, measured by benchmarks/bench_scale.py).
EVENT_LOG_BYTES_PER_EVENT = 18
#: A run expected to record more events than this, over all replications, is warned of.
WARN_EVENTS = 50_000_000
#: An event log expected to take more memory than this is warned of.
WARN_EVENT_LOG_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class RunSize:
    """The expected size of one run of a scenario.

    Attributes:
        replications: replications in the run.
        leads: expected leads per replication.
        visits: expected stage visits per replication.
        events: expected events per replication (roughly: each lead is created and ends,
            each staffed visit queues, starts and finishes, each delay starts and ends).
    """

    replications: int
    leads: float
    visits: float
    events: float

    @property
    def total_events(self) -> float:
        return self.events * self.replications

    def event_log_bytes(self) -> float:
        """Memory of the event log of the whole run, at :data:`EVENT_LOG_BYTES_PER_EVENT`."""
        return self.total_events * EVENT_LOG_BYTES_PER_EVENT

    def warning(self, event_log: bool = False) -> str | None:
        """A warning when the run is long (or its event log large), else None."""
        big_log = event_log and self.event_log_bytes() > WARN_EVENT_LOG_BYTES
        if self.total_events <= WARN_EVENTS and not big_log:
            return None
        text = (f"a large run: about {self.leads:,.0f} leads and {self.events:,.0f} events per "
                f"replication, {self.total_events:,.0f} events in {self.replications} "
                "replications")
        if event_log:
            text += (f"; the event log needs about {self.event_log_bytes() / 1024**3:,.1f} GiB "
                     "of memory")
        return text


def expected_leads(scenario: Scenario) -> float:
    """Leads one replication expects: each source's mean rate times the horizon."""
    return sum(_mean_rate(src, float(scenario.horizon)) for src in scenario.sources.values()) \
        * float(scenario.horizon)


def _mean_rate(source: Source, horizon: float) -> float:
    rate = source.rate
    profile = source.profile
    if profile is None:
        return rate
    if profile.table is not None:  # time-weighted mean of the table over the horizon
        starts = [min(t, horizon) for t, _ in profile.table] + [horizon]
        rate = sum((b - a) * r for (a, b), (_, r) in
                   zip(zip(starts, starts[1:], strict=False), profile.table, strict=False)) / horizon
    # ``hourly`` is a shape of mean 1 and a day effect has mean 1: neither moves the mean.
    for multipliers in (profile.weekly, profile.monthly):
        if multipliers is not None:
            rate *= sum(multipliers) / len(multipliers)
    return rate


def expected_visits(scenario: Scenario) -> dict[str, float]:
    """Visits per lead of each stage, from the routing odds (skip rules ignored)."""
    ids = list(scenario.stages)
    at = {sid: i for i, sid in enumerate(ids)}
    p = np.zeros((len(ids), len(ids)))
    for sid, stage in scenario.stages.items():
        for target, prob in stage.implied.routes.items():  # a time-out's share included
            if target in at:
                p[at[sid], at[target]] += prob
    entry = np.zeros(len(ids))
    entry[at[scenario.entry]] = 1.0
    try:
        visits = np.linalg.solve(np.eye(len(ids)) - p.T, entry)
    except np.linalg.LinAlgError:  # a loop with no way out: refused elsewhere
        visits = np.full(len(ids), math.inf)
    return {sid: float(v) for sid, v in zip(ids, visits, strict=True)}


def won_per_lead(scenario: Scenario) -> float:
    """The share of leads won, from the routing odds (skip rules ignored)."""
    visits = expected_visits(scenario)
    return sum(visits[sid] * stage.next.get(WON.name, 0.0) for sid, stage in scenario.stages.items())


def recurring_steps(scenario: Scenario) -> tuple[float, float]:
    """Meetings and renewal decisions one replication expects: each meeting stage holds
    ``horizon / every`` of them; each won deal is up for renewal after each term, up to
    ``horizon / term`` times, and goes on with the renewal probability."""
    horizon = float(scenario.horizon)
    meetings = sum(horizon / float(stage.meeting.every) for stage in scenario.stages.values()
                   if stage.meeting is not None)
    renewals = 0.0
    if scenario.renewal is not None:
        terms = horizon / float(scenario.renewal.term)
        p = scenario.renewal.probability
        each = terms if p >= 1 else (1 - p ** min(terms, 1e6)) / (1 - p)
        renewals = expected_leads(scenario) * won_per_lead(scenario) * each
    return meetings, renewals


def zero_time_turns(scenario: Scenario) -> int:
    """How often a deal may pass stages by at one moment of simulated time before the run
    stops as a loop that takes no time: :data:`ZERO_TIME_TURNS`, or 50 times the stages'
    expected visits per lead when more (a deal that loops by the odds, through stages
    that take no time, is then still far from it: the chance is below e^-50)."""
    visits = sum(expected_visits(scenario).values())
    return int(max(ZERO_TIME_TURNS, min(50 * visits, 1e12)))


@dataclass(frozen=True)
class Overload:
    """A role offered more work than its staff have hours for (over one replication).

    Attributes:
        role: the role.
        offered, capacity: hours of work offered, and staff hours available.
        waiting: leads expected to wait at the end of a replication (from the stages
            without patience, where waiting leads stay until served).
    """

    role: str
    offered: float
    capacity: float
    waiting: float

    def warning(self) -> str:
        memory = self.waiting * WAITING_LEAD_BYTES
        text = (f"role {self.role!r} is overloaded: {self.offered:,.0f} hours of work are "
                f"offered against {self.capacity:,.0f} hours of staff time per replication "
                f"({self.offered / self.capacity:.0%}); about {self.waiting:,.0f} leads wait at "
                f"its end (about {memory / 1024**2:,.0f} MB of memory per replication). An "
                "overloaded role is a finding: add staff or check the rates")
        if memory > WARN_WAITING_BYTES:
            text += (f"; above {WARN_WAITING_BYTES / 1024**3:g} GiB the run may not fit in "
                     "memory (--workers 1 runs one replication at a time)")
        return text


def overloads(scenario: Scenario) -> list[Overload]:
    """The roles offered more work than they can do, from the expected visits and the
    mean staff work of each stage (the calendar's share of the week counted).

    Routing whose odds change with waiting or scores (``decay``, ``score_odds``) makes the
    visits depend on the queues themselves: no overload is claimed for such a scenario.
    """
    if any(s.decay is not None or s.score_odds is not None for s in scenario.stages.values()):
        return []
    hours = scenario.hours_per_unit
    horizon_hours = float(scenario.horizon) * hours
    leads = expected_leads(scenario)
    visits = expected_visits(scenario)
    offered: dict[str, float] = {}
    piling: dict[str, float] = {}
    for sid, stage in scenario.stages.items():
        if stage.work is None or not stage.staff or not math.isfinite(visits[sid]):
            continue
        work = leads * visits[sid] * stage.work.mean * hours
        for role in stage.staff:
            offered[role] = offered.get(role, 0.0) + work
            if stage.patience is None:  # patient leads leave the queue; these stay
                piling[role] = piling.get(role, 0.0) + leads * visits[sid]
    found = []
    for role, work in offered.items():
        calendar = scenario.calendar_of(role)
        share = 1.0 if calendar is None else \
            len(calendar.workdays) * (calendar.hours[1] - calendar.hours[0]) / (7 * 24)
        capacity = scenario.roles[role].headcount * horizon_hours * share
        if work > capacity > 0:
            found.append(Overload(role, work, capacity,
                                  piling.get(role, 0.0) * (1 - capacity / work)))
    return found


def _interval_problems(scenario: Scenario) -> list[Problem]:
    """Meeting intervals and renewal terms below a minute, or too many in the horizon."""
    hours = scenario.hours_per_unit
    horizon = float(scenario.horizon)
    given = [(f"stages.{sid}.meeting.every", float(stage.meeting.every))
             for sid, stage in scenario.stages.items() if stage.meeting is not None]
    if scenario.renewal is not None:
        given.append(("renewal.term", float(scenario.renewal.term)))
    problems = []
    for field, value in given:
        if value * hours < MIN_INTERVAL_HOURS:
            problems.append(Problem(field, "must be at least a minute "
                                    f"({MIN_INTERVAL_HOURS / hours:.3g} {scenario.time_unit}s)",
                                    value))
        elif horizon / value > MAX_CYCLES:
            problems.append(Problem(field, f"gives {horizon / value:.3g} steps in the horizon, "
                                    f"above the limit of {MAX_CYCLES:,}: at least "
                                    f"{horizon / MAX_CYCLES:.3g} {scenario.time_unit}s", value))
    return problems


def _dist_problems(node: object, path: str) -> list[Problem]:
    """Distributions (anywhere in the scenario) whose mean is above :data:`MAX_MEAN`."""
    from pydantic import BaseModel

    from salessim.scenario.dists import _Spec

    if isinstance(node, _Spec):
        mean = node.mean
        return [] if abs(mean) <= MAX_MEAN else [Problem(
            path, f"a mean of at most {MAX_MEAN:g}: no time or amount of a sales process is "
            "larger, and sums of larger ones overflow", mean)]
    items: list[tuple[str, object]] = []
    if isinstance(node, BaseModel):
        items = [(name, getattr(node, name)) for name in type(node).model_fields]
    elif isinstance(node, dict):
        items = [(str(k), v) for k, v in node.items()]
    elif isinstance(node, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(node)]
    found: list[Problem] = []
    for name, child in items:
        if isinstance(child, (BaseModel, dict, list, tuple)):
            found += _dist_problems(child, f"{path}.{name}" if path else name)
    return found


def _skip_loops(scenario: Scenario) -> list[Problem]:
    """Stages whose ``only_if.otherwise`` chain comes back to itself: a deal that passes
    them all by goes round for ever, at one moment of simulated time."""
    problems: list[Problem] = []
    reported: set[str] = set()
    for sid in scenario.stages:
        if sid in reported:
            continue
        seen, at = [sid], sid
        while True:
            only_if = scenario.stages[at].only_if
            then = only_if.otherwise if only_if is not None else None
            if then is None or then not in scenario.stages:
                break
            at = then
            if at == sid:
                loop = " -> ".join([*seen, sid])
                problems.append(Problem(f"stages.{sid}.only_if.otherwise", "a deal that passes "
                                        f"these stages by comes back for ever ({loop}), without "
                                        "time passing: send it to a stage it enters", at))
                reported.update(seen)
                break
            if at in seen:
                break  # a loop further on: reported at its own stages
            seen.append(at)
    return problems


def size_problems(scenario: Scenario) -> list[Problem]:
    """The limits of this module a scenario breaks, each at the field that breaks it."""
    problems: list[Problem] = []
    days = float(scenario.horizon) * scenario.hours_per_unit / 24
    if days > MAX_HORIZON_DAYS:
        problems.append(Problem("horizon", f"longer than the limit of {MAX_HORIZON_DAYS:,} days",
                                scenario.horizon))
        return problems  # the other estimates scale with it
    if scenario.periods is not None and scenario.horizon / scenario.periods > MAX_PERIODS:
        problems.append(Problem("periods", f"gives more than {MAX_PERIODS:,} reporting periods "
                                "in the horizon", scenario.periods))
    leads = expected_leads(scenario)
    if leads > MAX_LEADS_PER_REPLICATION:
        sid = max(scenario.sources, key=lambda k: scenario.sources[k].rate)
        problems.append(Problem(f"sources.{sid}.rate", f"one replication would expect "
                                f"{leads:.3g} leads, above the limit of "
                                f"{MAX_LEADS_PER_REPLICATION:,}", scenario.sources[sid].rate))
    intervals = _interval_problems(scenario)
    problems += intervals + _skip_loops(scenario) + _dist_problems(scenario, "")
    if leads <= MAX_LEADS_PER_REPLICATION and not intervals:
        visits = leads * sum(expected_visits(scenario).values()) + sum(recurring_steps(scenario))
        if not visits <= MAX_VISITS_PER_REPLICATION:
            problems.append(Problem("stages", f"one replication would expect {visits:.3g} stage "
                                    f"visits (loops, meetings and renewals), above the limit of "
                                    f"{MAX_VISITS_PER_REPLICATION:,}", None))
    tracked = {r for stage in scenario.stages.values() if stage.queue != "fifo"
               for r in stage.staff}
    tracked |= {rid for rid, role in scenario.roles.items() if role.assignment == "owner"}
    for rid, role in scenario.roles.items():
        if role.headcount > MAX_HEADCOUNT:
            problems.append(Problem(f"roles.{rid}.headcount", f"at most {MAX_HEADCOUNT:,} "
                                    "members", role.headcount))
        elif rid in tracked and scenario.roles[rid].headcount > MAX_TRACKED_HEADCOUNT:
            problems.append(Problem(f"roles.{rid}.headcount", f"a role with owners or a "
                                    f"prioritised queue may have at most "
                                    f"{MAX_TRACKED_HEADCOUNT:,} members",
                                    scenario.roles[rid].headcount))
    return problems
