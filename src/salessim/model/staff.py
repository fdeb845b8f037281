"""Staff: acquiring roles and owners, patience, calendars, hand-offs, and the accounting
of busy time and cost. The one place that knows staff.

A piece of staff work is compiled once into a :class:`StaffPlan` (who does it, how long
it takes, in which order it is queued); :meth:`Staff.work` then does it for a deal:
hand-off from the deal's last role, queue, get every role (owners first), work by the
calendar (and new members' ramps: ``model/hires.py``), account busy time and cost inside
the window, release. Getting a free member is a counter decrement: no event.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, overload

import simpy

from salessim.model.calendar import WorkCalendar, shared_calendar
from salessim.model.deal import Deal
from salessim.model.hires import planned_members, ramp_factor, ramped_roles, start_rosters
from salessim.model.pools import COLD, OwnerPool, StaffPool, cold_at_deadline
from salessim.records import EventLog, StageTally, Tally
from salessim.rng import RandomStreams
from salessim.scenario.dists import Dist
from salessim.scenario.mechanics import Learning
from salessim.scenario.schema import Scenario

#: Hand-off delays by (from role, to role); the key None holds the default's.
HandoffDraws = dict[tuple[str | None, ...] | None, Iterator[float]]

#: The durations of a plan without staff work: none (drawing one is a bug, StopIteration).
NO_WORK: Iterator[float] = iter(())

#: Rank of a deal in a prioritised queue, per queue policy (the lowest goes first).
PRIORITY: dict[str, Callable[[Deal], float] | None] = {
    "fifo": None,
    "score": lambda deal: -deal.score,
    "deal_value": lambda deal: -deal.value,
    "needs": lambda deal: -deal.needs,
}


class StaffPlan:
    """A piece of staff work: who does it, how long it takes, where it is queued."""

    __slots__ = (
        "roles", "primary", "label", "pools", "owned", "work", "has_work", "delay", "cal", "opening",
        "learning", "ramps", "cost_rate", "above", "priority", "queued", "started", "finished",
        "cold", "busy",
    )

    def __init__(self) -> None:
        self.roles: tuple[str, ...] = ()
        self.primary: str | None = None  # the role named first: hand-offs are between these
        self.label = ""
        self.pools: tuple[Any, ...] = ()  # per role: a StaffPool, or an OwnerPool
        self.owned: tuple[OwnerPool, ...] = ()  # the owner-assigned roles among them
        # Durations; a plan without work (a meeting, a customer-only task) is never worked.
        self.work: Iterator[float] = NO_WORK
        self.has_work = False
        self.delay: Iterator[float] | None = None
        self.cal: WorkCalendar | None = None  # hours all the roles work (None: always)
        # Roles keep different hours: queue only when all of them work (None: they agree).
        self.opening: WorkCalendar | None = None
        self.learning: Learning | None = None  # when this work is in a transition period
        self.ramps: tuple[Any, ...] = ()  # its roles' new members who ramp up (model/hires.py)
        self.cost_rate = 0.0  # money per time unit while this work is done
        self.above = 0.0  # approval levels: deals above this need it
        self.priority: Callable[[Deal], float] | None = None  # deal -> rank (lowest first)
        # Packed event-log codes of this work at its stage (set when a log is kept).
        self.queued = self.started = self.finished = self.cold = 0
        # Working time of each of its roles in the window, added to the roles' totals at
        # the end of the run (one float per piece of work instead of one per role).
        self.busy = 0.0


class Staff:
    """Every role's pools, and the service that does staff work for deals.

    Args:
        scenario: the validated scenario.
        env: the SimPy environment.
        streams: the replication's random streams.
        tally: the running totals (busy time, costs, response times, hand-offs).
        log: the event log, or None.
    """

    def __init__(self, scenario: Scenario, env: simpy.Environment, streams: RandomStreams,
                 tally: Tally, log: EventLog | None) -> None:
        self.scenario = scenario
        self.env = env
        self.streams = streams
        self.tally = tally
        self.log = log
        self.warmup = float(scenario.warmup)
        self.horizon = float(scenario.horizon)
        self.response_target = scenario.response_target
        self.plans: list[StaffPlan] = []
        self.work_cost = tally.work_cost_by_source
        prioritised = {r for stage in scenario.stages.values() if stage.queue != "fifo"
                       for r in stage.staff}
        self.pools: dict[str, Any] = {}
        for rid, role in scenario.roles.items():
            if role.assignment == "owner":
                self.pools[rid] = OwnerPool(env, rid, role.headcount, rid in prioritised,
                                            role.max_open_deals,
                                            role.owner_choice == "round_robin")
            else:
                self.pools[rid] = StaffPool(env, role.headcount, rid in prioritised)
        self.owner_pools = {r: p for r, p in self.pools.items() if isinstance(p, OwnerPool)}
        self._order = list(scenario.roles)
        self._handoff = self._handoff_draws()
        self.hired = start_rosters(env, scenario, self.pools)  # shifts and hires

    # --- compiling --------------------------------------------------------------------------

    def plan(self, roles: tuple[str, ...], work: Dist | None, stream: str,
             policy: str = "fifo") -> StaffPlan:
        """Compile a piece of work by ``roles`` whose duration is drawn from ``stream``."""
        sc = self.scenario
        plan = StaffPlan()
        self.plans.append(plan)
        plan.roles = tuple(sorted(roles, key=self._order.index))  # one order: no deadlock
        plan.primary = roles[0] if roles else None
        plan.label = "+".join(roles)
        plan.pools = tuple(self.pools[r] for r in plan.roles)
        plan.owned = tuple(p for p in plan.pools if isinstance(p, OwnerPool))
        plan.priority = PRIORITY[policy]
        if work is not None:
            plan.work, plan.has_work = self.draws(work, stream), True
        own = [sc.calendar_of(r) for r in roles]
        calendar = shared_calendar(own)
        if calendar is not None:
            plan.cal = WorkCalendar(calendar, sc.time_unit)
            if any(c != calendar for c in own):
                plan.opening = plan.cal
        learning = sc.learning
        if learning is not None and (learning.roles is None or set(roles) & set(learning.roles)):
            plan.learning = learning
        plan.ramps = ramped_roles(self.hired, self.pools, plan.roles)
        plan.cost_rate = sum(sc.roles[r].cost_per_hour for r in roles) * sc.hours_per_unit
        return plan

    def label(self, plan: StaffPlan, stage: str) -> None:
        """Give the plan its event-log codes at ``stage`` (when a log is kept)."""
        log = self.log
        if log is not None:
            plan.queued = log.code("queued", stage, plan.label)
            plan.started = log.code("started", stage, plan.label)
            plan.finished = log.code("finished", stage, plan.label)
            plan.cold = log.code("went_cold", stage, plan.label)

    @overload
    def draws(self, dist: Dist, stream: str) -> Iterator[float]: ...
    @overload
    def draws(self, dist: Dist | None, stream: str) -> Iterator[float] | None: ...
    def draws(self, dist: Dist | None, stream: str) -> Iterator[float] | None:
        """Endless draws of ``dist`` from the named stream (None for no distribution)."""
        return None if dist is None else dist.draws(self.streams.generator(stream))

    def _handoff_draws(self) -> HandoffDraws | None:
        """Hand-off delays by (from role, to role); the key None holds the default's."""
        spec = self.scenario.handoff
        if spec is None:
            return None
        draws: HandoffDraws = {
            tuple(key.split(">")): self.draws(d, f"handoff:{key}") for key, d in spec.pairs.items()
        }
        if spec.delay is not None:
            draws[None] = self.draws(spec.delay, "handoff")
        return draws

    # --- doing the work ---------------------------------------------------------------------

    def work(self, plan: StaffPlan, st: StageTally | None, patience: Iterator[float] | None,
             deal: Deal, selling: bool = True) -> Generator[simpy.Event, Any, bool]:
        """Queue for the plan's roles, work, release. Returns False if the lead went cold.

        The deal comes last, so a stage binds the rest once (``partial(work, plan, st,
        patience)``) and the journey calls it with the deal alone.

        ``selling`` is False for work after the sale (collection, renewal): it is neither a
        hand-off nor a first contact, and its cost is no acquisition cost.
        """
        env, log = self.env, self.log
        if selling:
            last = deal.last_role
            if last is not None and last != plan.primary:
                handoff = self._handoff
                if handoff is None:  # a hand-off that costs no time: count it only
                    deal.handoffs += 1
                else:
                    yield from self._hand_off(handoff, deal, plan.primary)
        queued = env.now
        if log is not None:
            log.add(deal.lead | plan.queued, queued)
        deadline = None if patience is None else queued + next(patience)
        if plan.opening is not None:
            # Ask for staff only when all the roles work, so no one is held idle waiting
            # for a colleague who is off.
            opening = plan.opening.next_working(queued)
            if opening > queued:
                if deadline is not None and deadline < opening:
                    yield env.timeout(deadline - queued)
                    return self._went_cold(deal, plan, ())
                yield env.timeout(opening - queued)
        if plan.owned:
            members = yield from self._owners(deal, plan, deadline)
            if members is None:
                return False
            pools: Sequence[StaffPool] = [p.members[members[p]] if p.__class__ is OwnerPool else p
                                          for p in plan.pools]
        else:
            members, pools = None, plan.pools
        for pool in pools:
            if pool.free and not pool.line:  # a free member: taken at once, no event
                pool.free -= 1
                continue
            event = pool.request(0.0 if plan.priority is None else plan.priority(deal),
                                 pool is not pools[-1])
            if event is None:
                continue
            if deadline is None:
                yield event
            else:
                env.timeout(max(deadline - env.now, 0.0)).callbacks.append(
                    cold_at_deadline(pool, event))
                if (yield event) is COLD:
                    return self._went_cold(deal, plan, pools[:pools.index(pool)])
        now = env.now
        work = next(plan.work)
        if plan.learning is not None:
            work *= plan.learning.factor(now)
        if plan.ramps:
            work *= ramp_factor(plan.ramps, members, now)
        cal = plan.cal
        if cal is None:
            start, end = now, now + work
        else:
            start = cal.next_working(now)
            if deadline is not None and start > deadline:
                # Nobody would start before its patience ends: let the staff go now.
                for pool in pools:
                    pool.release()
                yield env.timeout(max(deadline - now, 0.0))
                return self._went_cold(deal, plan, ())
            end = cal.finish(start, work)
        deal.started = start
        if selling and deal.first_contact is None:
            deal.first_contact = start
            if deal.counted:
                response = start - deal.created
                self.tally.response.add(response)
                if self.response_target is not None and response <= self.response_target:
                    self.tally.contacted_within += 1
        # Busy time and staff cost inside the window: the work itself in the common case.
        spent = work if self.warmup <= start and end <= self.horizon else \
            self._in_window(plan, start, end)
        if spent:
            plan.busy += spent
            if members is not None:
                for owners, member in members.items():
                    owners.busy[member] += spent
            # Acquisition cost: the selling work on the source's leads. Work that costs
            # nothing adds nothing (the totals start at 0.0, so skipping is exact).
            if selling and plan.cost_rate:
                self.work_cost[deal.source] += spent * plan.cost_rate
        if st is not None and deal.counted:
            st.served += 1
            st.wait += start - queued
            st.work += work
            st.work_clock += end - start
        if log is not None:
            log.add(deal.lead | plan.started, start)
        yield env.timeout(end - now)
        if log is not None:  # before the release: the next deal may start at once
            log.add(deal.lead | plan.finished, end)
        for pool in pools:
            # Nobody waiting and on duty: the member is simply free again (the common
            # case, counted here as taking one is above); else the pool hands over.
            if pool.line or pool.closed:
                pool.release()
            else:
                pool.free += 1
        if selling:
            deal.last_contact = end
            deal.last_role = plan.primary
        return True

    def meet(self, plan: StaffPlan, length: float, deals: list[Deal]
             ) -> Generator[simpy.Event, Any, float]:
        """Hold one member of each of the plan's roles for a meeting about ``deals``.

        Waits for the members if they are busy or off duty; returns the start. The staff
        cost of the meeting is shared equally by the deals' sources.
        """
        env = self.env
        for pool in plan.pools:
            event = pool.request(more=pool is not plan.pools[-1])
            if event is not None:
                yield event
        start = env.now
        # Working time, as for other work: a meeting that runs past closing time is not
        # busy time of the hours the roles are off (utilisation would pass 1).
        spent = self._in_window(plan, start, start + length)
        if spent and plan.pools:
            busy = self.tally.busy
            for role in plan.roles:
                busy[role] += spent
            share = spent * plan.cost_rate / len(deals)
            for deal in deals:
                self.tally.work_cost_by_source[deal.source] += share
        if length > 0:
            yield env.timeout(length)
        for pool in plan.pools:
            pool.release()
        return start

    def _in_window(self, plan: StaffPlan, start: float, end: float) -> float:
        """Working time of work from ``start`` to ``end`` inside the measurement window."""
        lo = start if start > self.warmup else self.warmup
        hi = end if end < self.horizon else self.horizon
        if hi <= lo:
            return 0.0
        return hi - lo if plan.cal is None else plan.cal.working_time(lo, hi)

    def _owners(self, deal: Deal, plan: StaffPlan, deadline: float | None
                ) -> Generator[simpy.Event, Any, dict[OwnerPool, int] | None]:
        """The deal's member of each owner-assigned role of the plan; None if it went cold.

        Owners are assigned before any staff is requested, so a deal waiting for a capped
        owner never holds other staff meanwhile.
        """
        env = self.env
        if deal.owners is None:
            deal.owners = {}
        members: dict[OwnerPool, int] = {}
        for pool in plan.owned:
            member = deal.owners.get(pool.rid)
            if member is None:
                member = deal.owners[pool.rid] = pool.assign()
                if not isinstance(member, int):
                    # Pending: another task of this deal that needs the role waits for the
                    # same owner instead of asking for a second one.
                    if deadline is not None:
                        env.timeout(max(deadline - env.now, 0.0)).callbacks.append(
                            cold_at_deadline(pool, member))
            if not isinstance(member, int):
                member = yield member
                if member is COLD:
                    deal.owners.pop(pool.rid, None)
                    self._went_cold(deal, plan, ())
                    return None
                deal.owners[pool.rid] = member
            members[pool] = member
        return members

    def _went_cold(self, deal: Deal, plan: StaffPlan, held: Sequence[StaffPool]) -> bool:
        if self.log is not None:
            self.log.add(deal.lead | plan.cold, self.env.now)
        for pool in held:
            pool.release()
        return False

    def _hand_off(self, draws: HandoffDraws, deal: Deal, to_role: str | None
                  ) -> Generator[simpy.Event, Any, None]:
        deal.handoffs += 1
        source = draws.get((deal.last_role, to_role)) or draws.get(None)
        if source is None:
            return
        d = next(source)
        if self.log is not None:
            self.log.add(deal.lead | self.log.code("handoff", None, f"{deal.last_role}>{to_role}"),
                         self.env.now)
        yield self.env.timeout(d)
        if deal.counted:
            self.tally.handoff_time += d

    def release_owners(self, deal: Deal) -> None:
        """The deal has ended: its owners have one open deal fewer."""
        for rid, member in (deal.owners or {}).items():
            if isinstance(member, int):
                self.owner_pools[rid].release(member)
            else:  # still waiting for an owner
                self.owner_pools[rid].give_up(member)

    def add_busy(self) -> None:
        """Add each plan's working time to its roles' totals (call once, at the end)."""
        busy = self.tally.busy
        for plan in self.plans:
            if plan.busy:
                for role in plan.roles:
                    busy[role] += plan.busy

    def member_busy(self) -> dict[str, list[float]]:
        """Busy time in the window of each member of each owner-assigned role (0 for
        those hired after the run)."""
        return {rid: [*p.busy, *[0.0] * (planned_members(self.scenario, rid) - len(p.busy))]
                for rid, p in self.owner_pools.items()}

