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
    else:
        visits = leads * sum(expected_visits(scenario).values())
        if not visits <= MAX_VISITS_PER_REPLICATION:
            problems.append(Problem("stages", f"one replication would expect {visits:.3g} stage "
                                    f"visits (loops), above the limit of "
                                    f"{MAX_VISITS_PER_REPLICATION:,}", None))
    tracked = {r for stage in scenario.stages.values() if stage.queue != "fifo"
               for r in stage.staff}
    tracked |= {rid for rid, role in scenario.roles.items() if role.assignment == "owner"}
    for rid in scenario.roles:
        if rid in tracked and scenario.roles[rid].headcount > MAX_TRACKED_HEADCOUNT:
            problems.append(Problem(f"roles.{rid}.headcount", f"a role with owners or a "
                                    f"prioritised queue may have at most "
                                    f"{MAX_TRACKED_HEADCOUNT:,} members",
                                    scenario.roles[rid].headcount))
    return problems
