"""A warm start: the deals open at time 0 put back where they are.

Each deal of the scenario's ``pipeline`` becomes a deal of the run at time 0, in its stage:

- the rest of its stage's customer-side time is drawn given the time it has already spent
  there (``model/residual.py``); a stage's staff work is still to do unless the deal says
  ``work_done`` (a CRM does not record it), so open deals take their place in the staff
  queues at time 0, the oldest in its stage first;
- its owner in the CRM keeps it where the stage's staff (or the scenario's only role with
  owners) are assigned by owner: owners are matched to members in the order of their
  names; owners beyond the headcount leave their deals to be assigned by the role's rule;
- its draws (remaining time, first routing draw at every stage) come from its own stream,
  keyed by its id (``open:<deal id>``, see :mod:`salessim.rng`), so a redesign of the
  forecast is a paired comparison like any other.

Open deals are not in the KPIs' cohort of new leads (like leads created in a warm-up);
they load the staff, and :class:`PipelineOutcomes` records how each of them ends.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import numpy as np
import simpy

from salessim.ends import LOST, NO_DECISION, WON
from salessim.model.deal import Deal
from salessim.model.exitrace import OpenVisit
from salessim.model.residual import residual
from salessim.model.staff import Staff
from salessim.records import EventLog
from salessim.rng import RandomStreams, key64
from salessim.scenario.opendeals import OpenDeal, stage_clock
from salessim.scenario.schema import Scenario

#: ``PipelineOutcomes.end`` of a deal still open at the horizon.
STILL_OPEN = 0


class PipelineOutcomes:
    """How each open deal ended in one replication, and every deal won (for forecasts).

    Attributes:
        end: per open deal (pipeline order), the end code (``ends``), or STILL_OPEN.
        when: per open deal, the time it ended (NaN while open).
        wins: (time, value, from the pipeline) of every deal won in the run, when asked
            for (``watch_wins``); else None.
    """

    def __init__(self, n: int, watch_wins: bool) -> None:
        self.end = np.zeros(n, dtype=np.int8)
        self.when = np.full(n, np.nan)
        self.wins: list[tuple[float, float, bool]] | None = [] if watch_wins else None

    def kpis(self, values: np.ndarray) -> dict[str, float]:
        """The pipeline's KPIs: open deals won, their value, lost, still open."""
        won = self.end == WON.code
        return {
            "pipeline_deals": float(len(self.end)),
            "pipeline_won": float(won.sum()),
            "pipeline_bookings": float(values[won].sum()),
            "pipeline_lost": float(np.isin(self.end, (LOST.code, NO_DECISION.code)).sum()),
            "pipeline_open": float((self.end == STILL_OPEN).sum()),
        }


class WarmStart:
    """Start the scenario's open deals at time 0 and record how they end.

    Args:
        scenario: the validated scenario (its ``pipeline`` may be empty).
        env: the SimPy environment.
        staff: the staff service (owners are assigned through its owner pools).
        plans: the compiled stages, by id.
        routed: the routed stages in slot order (``Deal.luck``).
        streams: the replication's random streams.
        log: the event log, or None.
        walk: ``Journey.walk``.
        watch_wins: also record every deal won (time, value, open or new).
    """

    def __init__(self, scenario: Scenario, env: simpy.Environment, staff: Staff,
                 plans: dict[str, Any], routed: list[str], streams: RandomStreams,
                 log: EventLog | None, walk: Callable[..., Any], watch_wins: bool = False
                 ) -> None:
        deals = scenario.pipeline
        self.values = np.array([d.value for d in deals], dtype=float)
        self.outcomes = PipelineOutcomes(len(deals), watch_wins)
        self._env = env
        if not deals:
            return
        keys = np.array([key64(d.id) for d in deals], dtype=np.uint64)
        u = streams.keyed("open", keys, 1 + len(routed))
        left = _remaining(scenario, deals, u[:, 0])
        racing = _exit_uniforms(scenario, deals, streams, keys)
        owners = _owner_members(scenario, staff, deals)
        first_source = next(iter(scenario.sources))
        if log is not None:
            log.open_ids = [d.id for d in deals]
        source_code = {sid: k for k, sid in enumerate(scenario.sources)}
        # The oldest deal of a stage queues first; ties in pipeline order.
        for i in sorted(range(len(deals)), key=lambda i: -deals[i].age):
            od = deals[i]
            source = od.source or first_source
            deal = Deal(source, -(i + 1), od.value, -od.since_created, False)
            deal.luck = u[i, 1:].tolist()
            if od.score is not None:
                deal.score = od.score
            if owners[i]:
                deal.owners = dict(owners[i])
                for rid, member in owners[i].items():
                    staff.owner_pools[rid].open_deals[member] += 1
            plan = plans[od.stage]
            if log is not None:
                deal.lead = log.new_lead(source_code[source], -(i + 1), od.value, deal.score,
                                         False)
                log.add(deal.lead | log.code("created"), deal.created)
                log.add(deal.lead | plan.entered, -od.age)
            behaviour = plan.behaviour
            here: Any = left[i]
            if plan.race:  # its age counts against a time-out; exits draw their own rests
                here = OpenVisit(od.age, left[i], racing[i] if racing is not None else [])
            resume = _routed_at_once if behaviour is None else partial(
                behaviour.resume, here, od.work_done)
            env.process(walk(deal, plan, resume))

    def ended(self, deal: Deal, end: int) -> None:
        """Record a deal's end (called for every deal that ends)."""
        out = self.outcomes
        number = deal.number
        if number < 0:
            out.end[-number - 1] = end
            out.when[-number - 1] = self._env.now
        if end == WON.code and out.wins is not None:
            out.wins.append((self._env.now, deal.value, number < 0))


def _routed_at_once(deal: Deal) -> Generator[simpy.Event, Any, bool]:
    """The visit of a stage with nothing to do but route: over at once."""
    return True
    yield  # a generator, like every visit


def _remaining(scenario: Scenario, deals: list[OpenDeal], u: np.ndarray) -> list[float | None]:
    """Per deal, the rest of its stage's delay given its age (None: the stage has none)."""
    left: list[float | None] = [None] * len(deals)
    by_stage: dict[str, list[int]] = {}
    for i, d in enumerate(deals):
        by_stage.setdefault(d.stage, []).append(i)
    for sid, idx in by_stage.items():
        clock = stage_clock(scenario.stages[sid])
        if clock is None:
            continue
        ages = np.array([deals[i].age for i in idx], dtype=float)
        times = np.maximum(residual(clock, ages, u[idx]), 0.0)
        for i, t in zip(idx, times.tolist(), strict=True):
            left[i] = t
    return left


def _exit_uniforms(scenario: Scenario, deals: list[OpenDeal], streams: RandomStreams,
                   keys: np.ndarray) -> list[list[float]] | None:
    """Per deal, one uniform per exit of its stage (``open-exit:<deal id>``, its own, so
    a deal keeps its draws when the pipeline changes); None when no deal is in a stage
    with ``exits`` (the other streams are then exactly as they were)."""
    widths = [len(scenario.stages[d.stage].exits or ()) for d in deals]
    if not any(widths):
        return None
    u = streams.keyed("open-exit", keys, max(widths))
    return [u[i, :w].tolist() for i, w in enumerate(widths)]


def owner_roles(scenario: Scenario, stage: str) -> list[str]:
    """The owner-assigned roles a deal's CRM owner stands for, in ``stage``.

    The stage's own owner roles; else the scenario's only owner role; else none.
    """
    owned = [r for r, role in scenario.roles.items() if role.assignment == "owner"]
    here = [r for r in scenario.stages[stage].staff if r in owned]
    if here:
        return here
    return owned if len(owned) == 1 else []


def owner_map(scenario: Scenario) -> dict[str, dict[str, int]]:
    """Per owner role, CRM owner name -> member (names in sorted order, up to headcount)."""
    names: dict[str, set[str]] = {}
    for d in scenario.pipeline:
        if d.owner is None:
            continue
        for rid in owner_roles(scenario, d.stage):
            names.setdefault(rid, set()).add(d.owner)
    return {rid: {name: m for m, name in enumerate(sorted(found))
                  if m < scenario.roles[rid].headcount}
            for rid, found in names.items()}


def _owner_members(scenario: Scenario, staff: Staff, deals: list[OpenDeal]
                   ) -> list[dict[str, int]]:
    members = owner_map(scenario)
    out: list[dict[str, int]] = []
    for d in deals:
        mine: dict[str, int] = {}
        if d.owner is not None:
            for rid in owner_roles(scenario, d.stage):
                m = members.get(rid, {}).get(d.owner)
                if m is not None and rid in staff.owner_pools:
                    mine[rid] = m
        out.append(mine)
    return out
