"""The sales process as SimPy processes: lead sources and the journey of a deal.

:class:`SalesModel` is built from a :class:`Scenario` and the random streams of one
replication. Each role is a SimPy resource with its headcount as capacity (or, for roles
that own their deals, one resource per member); each source is a process that creates
leads; each lead is a process that walks the stages.

The journey is the hot loop. It touches only compiled plans (``model/build.py``),
iterators of buffered draws and plain counters; it calls no numpy per event, and it
writes event records only when a log was asked for.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Generator, Iterator
from typing import Any

import simpy

from salessim.model import aftersale
from salessim.model.build import (
    LOST_END,
    NO_DECISION_END,
    WON_END,
    Builder,
    OwnerPool,
    StaffPlan,
    StagePlan,
)
from salessim.model.demand import arrival_gaps
from salessim.records import (
    CREATED,
    DELAY_FINISHED,
    DELAY_STARTED,
    FINISHED,
    HANDOFF,
    LOST,
    NO_DECISION,
    QUEUED,
    SKIPPED,
    STARTED,
    WENT_COLD,
    WON,
    EventLog,
    StageTally,
    Tally,
)
from salessim.rng import RandomStreams
from salessim.scenario.mechanics import clip01
from salessim.scenario.schema import Scenario

#: Open leads are sampled this many times over a run (for WIP-over-time plots, warm-up).
WIP_SAMPLES = 100
_END_EVENT = {WON_END: WON, LOST_END: LOST, NO_DECISION_END: NO_DECISION}


class Deal:
    """A lead on its way through the sale: what it is and what has happened to it."""

    __slots__ = (
        "number", "source", "value", "score", "needs", "created", "counted", "owners",
        "last_role", "last_contact", "first_contact", "handoffs", "started", "luck", "visited",
    )

    def __init__(self, source: str, number: int, value: float, created: float, counted: bool):
        self.number = number  # the n-th lead of its source
        self.source = source
        self.value = value
        self.score = 0.5
        self.needs = 0.0
        self.created = created
        self.counted = counted
        self.owners: dict[str, int] | None = None  # role -> member, for owner-assigned roles
        self.last_role: str | None = None
        self.last_contact: float | None = None  # end of the last staff work
        self.first_contact: float | None = None
        self.handoffs = 0
        self.started = 0.0  # start of the current staff work
        self.luck: list[float] = []  # first-visit routing draws, one per routed stage
        self.visited = 0  # bit set of routed stages already left once

    @property
    def lead(self) -> str:
        """The lead's name in the event log: ``<source>-<n>``."""
        return f"{self.source}-{self.number}"


class SalesModel:
    """One replication's SimPy world for a scenario.

    Args:
        scenario: the validated scenario.
        streams: the replication's random streams.
        log: an event log to fill, or None to keep running totals only.
    """

    def __init__(self, scenario: Scenario, streams: RandomStreams, log: EventLog | None = None):
        self.scenario = scenario
        self.env = simpy.Environment()
        self.streams = streams
        self.log = log
        self.warmup = float(scenario.warmup)
        self.horizon = float(scenario.horizon)
        self.tally = Tally(
            stages={sid: StageTally() for sid in scenario.stages},
            busy=dict.fromkeys(scenario.roles, 0.0),
            leads_by_source=dict.fromkeys(scenario.sources, 0),
            won_by_source=dict.fromkeys(scenario.sources, 0),
        )
        self.tally.work_cost_by_source = dict.fromkeys(scenario.sources, 0.0)
        self._work_cost = self.tally.work_cost_by_source
        self._busy = self.tally.busy
        self.tally.revenue_by_source = dict.fromkeys(scenario.sources, 0.0)
        self.tally.lead_cost_by_source = dict.fromkeys(scenario.sources, 0.0)
        builder = Builder(scenario, self.env, streams)
        self.builder = builder
        self.resources = builder.resources
        self.owner_pools = {r: p for r, p in self.resources.items() if isinstance(p, OwnerPool)}
        self.plans = builder.stages(self.tally.stages)
        self.entry = self.plans[scenario.entry]
        self._handoff = self._handoff_draws(scenario)
        self.uses_needs = any(s.queue == "needs" for s in scenario.stages.values())
        self._period = scenario.periods
        self._open = 0
        self._last = 0.0
        self._area_at_warmup = 0.0
        self.after_sale = aftersale.AfterSale(self) if (scenario.collection or scenario.renewal) \
            else None
        for resources, calendar in builder.closed_off_hours():
            self.env.process(self._closed_off_hours(resources, calendar))
        for sid in scenario.sources:
            self.env.process(self._source(sid))
        if self.warmup > 0:
            self.env.process(self._mark_warmup())
        self.env.process(self._sample_wip())

    def _handoff_draws(self, scenario: Scenario) -> dict[Any, Iterator[float]] | None:
        """Hand-off delays by (from role, to role); the key None holds the default's."""
        spec = scenario.handoff
        if spec is None:
            return None
        draws: dict[Any, Iterator[float]] = {
            tuple(key.split(">")): self.builder.draws(d, f"handoff:{key}")
            for key, d in spec.pairs.items()
        }
        if spec.delay is not None:
            draws[None] = self.builder.draws(spec.delay, "handoff")
        return draws

    # --- bookkeeping -------------------------------------------------------------------

    def _wip(self, delta: int) -> None:
        now = self.env.now
        self.tally.wip_area += self._open * (now - self._last)
        self._last = now
        self._open += delta

    def _mark_warmup(self) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.warmup)
        self._wip(0)
        self._area_at_warmup = self.tally.wip_area

    def _sample_wip(self) -> Generator[simpy.Event, Any, None]:
        """Open leads at times 0, h/N, 2h/N, ... (h the horizon, N = WIP_SAMPLES)."""
        step = self.horizon / WIP_SAMPLES
        series = self.tally.wip_series
        for k in range(WIP_SAMPLES):
            if k:
                yield self.env.timeout(step)
            series.append(self._open)

    def _closed_off_hours(self, resources, calendar) -> Generator[simpy.Event, Any, None]:
        """Hold a prioritised role's free staff outside working hours.

        Leads that come at night then queue in priority order, and at opening time the
        staff go to the most important of them instead of to whoever asked first. The
        closing requests go ahead of every lead, so staff who finish at closing time are
        held too; staff whose work runs on overnight keep it (it resumes the next working
        day by the calendar) and are not waited for.
        """
        env = self.env
        closed = -float("inf")  # ahead of every lead's priority
        while True:
            _, closing = calendar.next_shift(env.now)
            yield env.timeout(max(closing - env.now, 0.0))
            requests = [(res, res.request(priority=closed))
                        for res in resources for _ in range(res.capacity)]
            opening, _ = calendar.next_shift(env.now)
            yield env.timeout(max(opening - env.now, 0.0))
            for res, req in requests:
                if req.triggered:
                    res.release(req)
                else:
                    req.cancel()

    def finish(self) -> Tally:
        """Close the running totals at the horizon (call after the run)."""
        self._wip(0)
        self.tally.wip_area -= self._area_at_warmup
        for rid, pool in self.owner_pools.items():
            self.tally.member_busy[rid] = list(pool.busy)
        if self.after_sale is not None:
            self.after_sale.finish()
        return self.tally

    def run(self) -> Tally:
        """Simulate to the horizon and return the running totals."""
        self.env.run(until=self.horizon)
        return self.finish()

    # --- lead sources --------------------------------------------------------------------

    def _source(self, sid: str) -> Generator[simpy.Event, Any, None]:
        sc, streams, env, tally, warmup = self.scenario, self.streams, self.env, self.tally, \
            self.warmup
        source = sc.sources[sid]
        gaps = arrival_gaps(source, sc.time_unit, streams, sid)
        values = source.deal_value.draws(streams.generator(f"lead:{sid}"))
        scores = self._score_draws(sid)
        needs = self._needs_draws(sid) if self.uses_needs else None
        cost = source.cost_per_lead
        luck = self.builder.luck(sid)
        k = 0
        for gap in gaps:
            yield env.timeout(gap)
            k += 1
            counted = env.now >= warmup
            deal = Deal(sid, k, next(values), env.now, counted)
            deal.luck = [next(draws) for draws in luck]
            if scores is not None:
                deal.score = next(scores)
            if needs is not None:
                deal.needs = next(needs)
            if counted:
                tally.leads += 1
                tally.leads_by_source[sid] += 1
                tally.lead_cost += cost
                tally.lead_cost_by_source[sid] += cost
            env.process(self._journey(deal))

    def _score_draws(self, sid: str) -> Iterator[float] | None:
        source = self.scenario.sources[sid]
        if source.score is not None:
            return map(clip01, self.builder.draws(source.score, f"score:{sid}"))
        if source.score_factors is None:
            return None
        factors = source.score_factors
        total = sum(f.weight for f in factors.values())
        weights = [f.weight / total for f in factors.values()]
        draws = [self.builder.draws(f.value, f"score:{sid}:{name}") for name, f in factors.items()]
        return (clip01(sum(w * clip01(x) for w, x in zip(weights, xs, strict=True)))
                for xs in zip(*draws, strict=False))

    def _needs_draws(self, sid: str) -> Iterator[float]:
        needs = self.scenario.sources[sid].needs
        if needs is None:
            from salessim.scenario.mechanics import Needs

            needs = Needs()
        w = self.scenario.needs_weights
        parts = [self.builder.draws(getattr(needs, k), f"needs:{sid}:{k}")
                 for k in ("impact", "difficulty", "urgency")]
        return (w.impact * a + w.difficulty * b + w.urgency * c for a, b, c in zip(*parts,
                                                                                   strict=False))

    # --- the journey of a deal -------------------------------------------------------------

    def _journey(self, deal: Deal) -> Generator[simpy.Event, Any, None]:
        env, log = self.env, self.log
        counted = deal.counted
        self._wip(1)
        if log is not None:
            log.rows.append((deal.lead, CREATED, "", deal.created, ""))
        stage = self.entry
        while True:
            st = stage.tally
            if stage.threshold is not None and deal.value <= stage.threshold:
                if counted:
                    st.skipped += 1
                if log is not None:
                    log.rows.append((deal.lead, SKIPPED, stage.id, env.now, ""))
                nxt = stage.otherwise if stage.otherwise is not None else \
                    self._route(deal, stage)
                if nxt.__class__ is int:
                    return self._end(deal, nxt)
                stage = nxt
                continue
            if counted:
                st.entered += 1
            contact = deal.last_contact  # before this stage's work: decay may count from it
            staff = stage.staff
            if staff is not None:
                served = yield from self._work(deal, staff, st, stage.id, stage.patience)
                if not served:
                    if counted:
                        st.went_cold += 1
                        st.lost += 1
                    return self._end(deal, LOST_END, cold=True)
            elif stage.parallel is not None:
                yield env.all_of([env.process(self._branch(deal, branch, st, stage.id))
                                  for branch in stage.parallel])
            elif stage.approvals is not None:
                for level in stage.approvals:
                    if deal.value > level.above:
                        yield from self._branch(deal, level, st, stage.id)
            if stage.delay is not None:
                d = next(stage.delay)
                if log is not None:
                    log.rows.append((deal.lead, DELAY_STARTED, stage.id, env.now, ""))
                yield env.timeout(d)
                if log is not None:
                    log.rows.append((deal.lead, DELAY_FINISHED, stage.id, env.now, ""))
                if counted:
                    st.delayed += 1
                    st.delay += d
            if stage.route is None:
                nxt = stage.targets[0]
            else:
                u = _routing_draw(deal, stage)
                if stage.decay is None and stage.score_odds is None:
                    cum = stage.cum
                    if len(cum) == 1:  # two ways: one comparison does what bisect does
                        nxt = stage.targets[0 if u < cum[0] else 1]
                    else:
                        nxt = stage.targets[bisect_right(cum, u)]
                else:
                    nxt = _route_with_odds(stage, u, self._odds(deal, stage, contact))
            if counted:
                if nxt.__class__ is int and nxt != WON_END:
                    st.lost += 1
                else:
                    st.moved_on += 1
            if nxt.__class__ is int:
                return self._end(deal, nxt)
            stage = nxt

    def _branch(self, deal: Deal, plan: StaffPlan, st: StageTally, stage_id: str):
        """Staff work and then its own customer-side delay (a parallel task, an approval)."""
        if plan.work is not None:
            yield from self._work(deal, plan, st, stage_id, None)
        if plan.delay is not None:
            d = next(plan.delay)
            log = self.log
            if log is not None:
                log.rows.append((deal.lead, DELAY_STARTED, stage_id, self.env.now, plan.label))
            yield self.env.timeout(d)
            if log is not None:
                log.rows.append((deal.lead, DELAY_FINISHED, stage_id, self.env.now, plan.label))
            if deal.counted:
                st.delayed += 1
                st.delay += d

    def _work(self, deal: Deal, plan: StaffPlan, st: StageTally | None, stage_id: str,
              patience: Iterator[float] | None, selling: bool = True):
        """Queue for the plan's roles, work, release. Returns False if the lead went cold.

        ``selling`` is False for work after the sale (collection, renewal): it is neither a
        hand-off nor a first contact.
        """
        env, log = self.env, self.log
        primary = plan.primary
        if selling and deal.last_role is not None and deal.last_role != primary:
            if self._handoff is None:  # a hand-off that costs no time: count it only
                deal.handoffs += 1
            else:
                yield from self._hand_off(deal, primary)
        queued = env.now
        if log is not None:
            log.rows.append((deal.lead, QUEUED, stage_id, queued, plan.label))
        work = 0.0
        if plan.fast and patience is None:
            # The common case, kept lean: one pooled role, first come first served, around
            # the clock, no transition period.
            held = members = None
            res = plan.pools[0]
            req = res.request()
            if not req.triggered:  # granted at once when staff is free: no need to wait
                yield req
            start = env.now
            work = next(plan.work)
            end = start + work
        else:
            if plan.wait_open:
                # Roles with different hours: ask for staff only when all of them work, so
                # no one is held idle waiting for a colleague who is off.
                opening = plan.cal.next_working(queued)
                if opening > queued:
                    yield env.timeout(opening - queued)
            if plan.simple and patience is None:
                held = members = None
                res = plan.pools[0]
                req = res.request()
                if not req.triggered:
                    yield req
            else:
                acquired = yield from self._acquire(deal, plan, stage_id, queued, patience)
                if acquired is None:
                    return False
                held, members = acquired
            start, end, work = self._timing(plan, env.now)
        deal.started = start
        if deal.first_contact is None and selling:
            deal.first_contact = start
            if deal.counted:
                self.tally.response_times.append(start - deal.created)
        lo = start if start > self.warmup else self.warmup
        hi = end if end < self.horizon else self.horizon
        if hi > lo:
            # Inside the window the time spent is the work itself (the common case).
            spent = work if (lo == start and hi == end) else \
                hi - lo if plan.clock else plan.cal.working_time(lo, hi)
            busy = self._busy
            for role in plan.roles:
                busy[role] += spent
            if members is not None:
                for pool, member in members:
                    pool.busy[member] += spent
            if selling:  # acquisition cost: the selling work on the source's leads
                self._work_cost[deal.source] += spent * plan.cost_rate
        if st is not None and deal.counted:
            st.served += 1
            st.wait += start - queued
            st.work += work
            st.work_clock += end - start
        if log is not None:
            log.rows.append((deal.lead, STARTED, stage_id, start, plan.label))
        yield env.timeout(end - env.now)
        if held is None:
            res.release(req)
        else:
            self._release_all(held)
        if selling:
            deal.last_contact = end
            deal.last_role = primary
        if log is not None:
            log.rows.append((deal.lead, FINISHED, stage_id, end, plan.label))
        return True

    @staticmethod
    def _timing(plan: StaffPlan, now: float) -> tuple[float, float, float]:
        """Start, end and working time of work that gets its staff at ``now``.

        The work is a draw, stretched in a transition period; under a calendar it starts
        at the next working instant and stops outside working hours.
        """
        work = next(plan.work)
        if plan.learning is not None:
            work *= plan.learning.factor(now)
        if plan.clock:
            return now, now + work, work
        start = plan.cal.next_working(now)
        return start, plan.cal.finish(start, work), work

    def _acquire(self, deal: Deal, plan: StaffPlan, stage_id: str, queued: float,
                 patience: Iterator[float] | None):
        """Get every role of the plan, in the global order; None if the lead went cold first.

        Owners are assigned first, before any staff is requested, so a deal waiting for a
        capped owner never holds other staff meanwhile. Returns the (resource, request)
        pairs held and the (pool, member) pairs of owned roles (None when no role of the
        plan is owner-assigned).
        """
        env = self.env
        deadline = None if patience is None else queued + next(patience)
        members: list[tuple[OwnerPool, int]] | None = None
        if plan.owners:
            members = []
            if deal.owners is None:
                deal.owners = {}
            for pool in plan.pools:
                if pool.__class__ is not OwnerPool:
                    continue
                member = deal.owners.get(pool.rid)
                if member is None:
                    assigned = pool.assign()
                    if deadline is None:
                        member = yield assigned
                    else:
                        yield assigned | env.timeout(max(deadline - env.now, 0.0))
                        if not assigned.triggered:
                            pool.withdraw(assigned)
                            self._log_cold(deal, plan, stage_id)
                            return None
                        member = assigned.value
                    deal.owners[pool.rid] = member
                members.append((pool, member))
        owned = dict(members or ())
        priority = plan.priority(deal) if plan.priority is not None else None
        held: list[tuple[Any, Any]] = []
        for pool in plan.pools:
            res = pool.members[owned[pool]] if pool in owned else pool
            req = res.request() if priority is None else res.request(priority=priority)
            if deadline is None:
                if not req.triggered:
                    yield req
            else:
                yield req | env.timeout(max(deadline - env.now, 0.0))
                if not req.triggered:
                    req.cancel()
                    self._release_all(held)
                    self._log_cold(deal, plan, stage_id)
                    return None
            held.append((res, req))
        return held, members

    @staticmethod
    def _release_all(held: list[tuple[Any, Any]]) -> None:
        for res, req in held:
            res.release(req)

    def _log_cold(self, deal: Deal, plan: StaffPlan, stage_id: str) -> None:
        if self.log is not None:
            self.log.rows.append((deal.lead, WENT_COLD, stage_id, self.env.now, plan.label))

    def _hand_off(self, deal: Deal, to_role: str):
        deal.handoffs += 1
        draws = self._handoff
        source = draws.get((deal.last_role, to_role)) or draws.get(None)
        if source is None:
            return
        d = next(source)
        if self.log is not None:
            self.log.rows.append(
                (deal.lead, HANDOFF, "", self.env.now, f"{deal.last_role}>{to_role}"))
        yield self.env.timeout(d)
        if deal.counted:
            self.tally.handoff_time += d

    @staticmethod
    def _route(deal: Deal, stage: StagePlan) -> Any:
        """Where a deal that skipped the stage goes: by ``next``, with the deal's luck."""
        if stage.route is None:
            return stage.targets[0]
        return stage.targets[bisect_right(stage.cum, _routing_draw(deal, stage))]

    @staticmethod
    def _odds(deal: Deal, stage: StagePlan, contact: float | None) -> float:
        """The factor on the odds of moving on: speed-to-lead decay and lead score."""
        odds = 1.0
        decay = stage.decay
        if decay is not None:
            since = contact if decay.since == "last_contact" and contact is not None \
                else deal.created
            odds = decay.multiplier(deal.started - since)
        if stage.score_odds is not None:
            odds *= stage.score_odds.multiplier(deal.score)
        return odds

    def _end(self, deal: Deal, end: int, cold: bool = False) -> None:
        now = self.env.now
        self._wip(-1)
        if self.log is not None:
            self.log.rows.append((deal.lead, _END_EVENT[end], "", now, ""))
        if deal.owners:
            for rid, member in deal.owners.items():
                self.owner_pools[rid].release(member)
        if self._period is not None and end == WON_END:
            k = int(now // self._period)
            self.tally.period_won[k] = self.tally.period_won.get(k, 0) + 1
            self.tally.period_cycle[k] = self.tally.period_cycle.get(k, 0.0) + now - deal.created
        if end == WON_END and self.after_sale is not None:
            self.after_sale.start(deal)
        if not deal.counted:
            return
        tally = self.tally
        tally.closed_time += now - deal.created
        if end == WON_END:
            tally.won += 1
            tally.won_by_source[deal.source] += 1
            tally.revenue += deal.value
            tally.revenue_by_source[deal.source] += deal.value
            tally.won_times.append(now - deal.created)
            tally.won_handoffs += deal.handoffs
        elif end == NO_DECISION_END:
            tally.no_decision += 1
        else:
            tally.lost += 1
            if cold:
                tally.went_cold += 1


def _routing_draw(deal: Deal, stage: StagePlan) -> float:
    """The uniform that routes a deal out of a stage: its own on the first visit."""
    if deal.visited & stage.bit:
        return next(stage.route)
    deal.visited |= stage.bit
    return deal.luck[stage.slot]


def _route_with_odds(stage: StagePlan, u: float, odds: float) -> Any:
    """Route with the odds of moving on (versus lost) multiplied by ``odds``.

    Moving on is going to a stage or to won; the rest is lost or no decision. Each side
    keeps the shares of its targets; only the split between the sides changes:
    p' = odds * p / (1 - p + odds * p), p the probability of moving on.
    """
    probs = stage.probs
    p_on = stage.p_forward
    if odds == 1.0 or p_on <= 0.0 or p_on >= 1.0:
        return stage.targets[bisect_right(stage.cum, u)]
    p_on_new = odds * p_on / (1.0 - p_on + odds * p_on)
    scale_on, scale_off = p_on_new / p_on, (1.0 - p_on_new) / (1.0 - p_on)
    acc = 0.0
    for i, p in enumerate(probs):
        acc += p * (scale_on if stage.forward[i] else scale_off)
        if u < acc:
            return stage.targets[i]
    return stage.targets[-1]
