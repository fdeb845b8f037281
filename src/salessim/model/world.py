"""One replication's SimPy world: staff, stages, sources and after-sale, wired together.

:class:`SalesModel` only assembles the parts, each of which does one job: ``staff``
(roles, queues, calendars, hand-offs, busy time and cost), ``build`` (a behaviour per
stage kind), ``journey`` (a deal walking its stages), ``sources`` (lead arrivals) and
``aftersale`` (collection and renewal).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from salessim.model.aftersale import AfterSale
from salessim.model.build import build_stages
from salessim.model.deal import Deal
from salessim.model.journey import WON_END, Journey
from salessim.model.sources import Sources
from salessim.model.staff import Staff
from salessim.model.warmstart import WarmStart
from salessim.records import EventLog, StageTally, Tally
from salessim.rng import RandomStreams
from salessim.scenario.schema import Scenario
from salessim.scenario.size import zero_time_turns

#: Open leads are sampled this many times over a run (for WIP-over-time plots, warm-up).
WIP_SAMPLES = 100
#: Names the event log uses for work after the sale, beside the scenario's stages.
AFTER_SALE_STAGES = ("collection", "renewal")


def new_log(scenario: Scenario, replication: int) -> EventLog:
    """An empty event log for a replication of ``scenario``."""
    stages = (*scenario.stages, *(s for s in AFTER_SALE_STAGES if s not in scenario.stages))
    return EventLog(replication, scenario.time_unit, stages, tuple(scenario.sources))


def new_tally(scenario: Scenario) -> Tally:
    """Empty running totals for ``scenario``."""
    sources = scenario.sources
    return Tally(
        stages={sid: StageTally() for sid in scenario.stages},
        busy=dict.fromkeys(scenario.roles, 0.0),
        leads_by_source=dict.fromkeys(sources, 0),
        won_by_source=dict.fromkeys(sources, 0),
        work_cost_by_source=dict.fromkeys(sources, 0.0),
        revenue_by_source=dict.fromkeys(sources, 0.0),
        lead_cost_by_source=dict.fromkeys(sources, 0.0),
    )


class SalesModel:
    """One replication's SimPy world for a scenario.

    Args:
        scenario: the validated scenario.
        streams: the replication's random streams.
        log: an event log to fill (see :func:`new_log`), or None to keep totals only.
        clock: called with the share of the horizon simulated (0.01, 0.02, ... 1.0), to
            show the progress of a long replication; None for no calls.
        watch_wins: record every deal won, with its time and value (``pipeline.wins``).
    """

    def __init__(self, scenario: Scenario, streams: RandomStreams, log: EventLog | None = None,
                 clock: Callable[[float], None] | None = None, watch_wins: bool = False):
        self.scenario = scenario
        self.env = env = simpy.Environment()
        self.log = log
        self.horizon = float(scenario.horizon)
        self.tally = tally = new_tally(scenario)
        self.staff = Staff(scenario, env, streams, tally, log)
        plans, routed = build_stages(scenario, env, self.staff, tally.stages, log)
        self.after_sale = (AfterSale(scenario, self.staff, tally)
                           if scenario.collection or scenario.renewal else None)
        watched = bool(scenario.pipeline) or watch_wins
        self.journey = Journey(env, tally, log, plans[scenario.entry], float(scenario.warmup),
                               self.horizon, scenario.periods,
                               self._ended if self.staff.owner_pools or self.after_sale
                               or watched else None)
        if any(stage.only_if is not None for stage in scenario.stages.values()):
            self.journey.spins = zero_time_turns(scenario)
        # Open deals start before any new lead, so they are first in the staff queues.
        self.warm = WarmStart(scenario, env, self.staff, plans, routed, streams, log,
                              self.journey.walk, watch_wins)
        self._watched = watched
        self.sources = Sources(scenario, env, streams, tally, log, routed, self.journey.start)
        if scenario.warmup > 0:
            env.process(self.journey.mark_warmup())
        env.process(self.journey.sample_wip(WIP_SAMPLES))
        self.clock = clock
        if clock is not None:
            env.process(self._tell(clock))

    def _tell(self, clock: Callable[[float], None]) -> Generator[simpy.Event, Any, None]:
        """Call ``clock`` with the share of the horizon simulated, each 1% of it."""
        step = self.horizon / 100
        for k in range(1, 100):
            yield self.env.timeout(step)
            clock(k / 100)

    def _ended(self, deal: Deal, end: int) -> None:
        """Owners let go of the deal; its end is recorded if watched; a won deal goes on to
        collection and renewal."""
        if deal.owners:
            self.staff.release_owners(deal)
        if self._watched:
            self.warm.ended(deal, end)
        if end == WON_END and self.after_sale is not None:
            self.after_sale.start(deal)

    def finish(self) -> Tally:
        """Close the running totals at the horizon (call after the run)."""
        self.journey.finish()
        self.staff.add_busy()
        self.tally.member_busy = self.staff.member_busy()
        if self.after_sale is not None:
            self.after_sale.finish()
        return self.tally

    def run(self) -> Tally:
        """Simulate to the horizon and return the running totals."""
        self.env.run(until=self.horizon)
        if self.clock is not None:
            self.clock(1.0)
        return self.finish()
