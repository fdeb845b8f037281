"""The sales process as SimPy processes: lead sources and the journey of a deal.

:class:`SalesModel` is built from a :class:`Scenario` and the random streams of one
replication. Each role is a ``simpy.Resource`` with its headcount as capacity; each
source is a process that creates leads; each lead is a process that walks the stages.

The journey is the hot loop. It touches only precompiled plans (:class:`StagePlan`),
iterators of buffered draws and plain counters; it builds no dicts and calls no numpy
per event, and it writes event records only when a log was asked for.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator, Iterator
from typing import Any

import simpy

from salessim.model.calendar import AroundTheClock, working_calendar
from salessim.records import (
    CREATED,
    FINISHED,
    LOST,
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
from salessim.scenario.dists import blocks
from salessim.scenario.schema import Scenario

WON_END, LOST_END = -1, -2
#: Open leads are sampled this many times over a run (for WIP-over-time plots, warm-up).
WIP_SAMPLES = 100
_TERMINAL = {"won": WON_END, "lost": LOST_END}


class StagePlan:
    """A stage compiled for the journey loop."""

    __slots__ = (
        "id", "resources", "roles", "label", "work", "delay", "patience", "route", "cum",
        "targets", "threshold", "otherwise", "tally",
    )

    def __init__(self, sid: str, tally: StageTally) -> None:
        self.id = sid
        self.tally = tally
        self.resources: tuple[simpy.Resource, ...] = ()
        self.roles: tuple[str, ...] = ()
        self.label = ""
        self.work: Iterator[float] | None = None
        self.delay: Iterator[float] | None = None
        self.patience: Iterator[float] | None = None
        self.route: Iterator[float] | None = None
        self.cum: list[float] = []
        self.targets: list[Any] = []  # StagePlan, or WON_END / LOST_END
        self.threshold: float | None = None
        self.otherwise: Any = None  # StagePlan, WON_END, LOST_END, or None (follow next)


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
        self.log = log
        self.warmup = float(scenario.warmup)
        self.horizon = float(scenario.horizon)
        self.calendar = working_calendar(scenario.calendar, scenario.time_unit)
        self.resources = {
            rid: simpy.Resource(self.env, capacity=role.headcount)
            for rid, role in scenario.roles.items()
        }
        self.tally = Tally(
            stages={sid: StageTally() for sid in scenario.stages},
            busy=dict.fromkeys(scenario.roles, 0.0),
            leads_by_source=dict.fromkeys(scenario.sources, 0),
            won_by_source=dict.fromkeys(scenario.sources, 0),
        )
        self.plans = self._compile(streams)
        self.entry = self.plans[scenario.entry]
        self._open = 0
        self._last = 0.0
        self._area_at_warmup = 0.0
        for sid, source in scenario.sources.items():
            arrivals = streams.generator(f"arrivals:{sid}")
            self.env.process(self._source(
                sid,
                blocks(lambda n, g=arrivals, mean=1 / source.rate: g.exponential(mean, n)),
                source.deal_value.draws(streams.generator(f"lead:{sid}")),
                source.cost_per_lead,
            ))
        if self.warmup > 0:
            self.env.process(self._mark_warmup())
        self.env.process(self._sample_wip())

    def _compile(self, streams: RandomStreams) -> dict[str, StagePlan]:
        sc = self.scenario
        plans = {sid: StagePlan(sid, self.tally.stages[sid]) for sid in sc.stages}

        def target(name: str) -> Any:
            return _TERMINAL[name] if name in _TERMINAL else plans[name]

        for sid, stage in sc.stages.items():
            plan = plans[sid]
            # Acquire roles in one global order (the scenario's role order): no deadlock.
            order = list(sc.roles)
            plan.roles = tuple(sorted(stage.staff, key=order.index))
            plan.label = "+".join(plan.roles)
            if stage.work is not None:  # a role without work owns the stage, holds no staff
                plan.resources = tuple(self.resources[r] for r in plan.roles)
                plan.work = stage.work.draws(streams.generator(f"work:{sid}"))
            if stage.delay is not None:
                plan.delay = stage.delay.draws(streams.generator(f"delay:{sid}"))
            if stage.patience is not None:
                plan.patience = stage.patience.draws(streams.generator(f"patience:{sid}"))
            names = list(stage.next)
            plan.targets = [target(n) for n in names]
            probs = [stage.next[n] for n in names]
            plan.cum = [sum(probs[: i + 1]) for i in range(len(probs) - 1)]
            if len(names) > 1:
                gen = streams.generator(f"route:{sid}")
                plan.route = blocks(gen.random)
            if stage.only_if is not None:
                plan.threshold = stage.only_if.deal_value_above
                if stage.only_if.otherwise is not None:
                    plan.otherwise = target(stage.only_if.otherwise)
        return plans

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

    def finish(self) -> Tally:
        """Close the running totals at the horizon (call after the run)."""
        self._wip(0)
        self.tally.wip_area -= self._area_at_warmup
        return self.tally

    def run(self) -> Tally:
        """Simulate to the horizon and return the running totals."""
        self.env.run(until=self.horizon)
        return self.finish()

    # --- processes ---------------------------------------------------------------------

    def _source(self, sid, gaps, values, cost_per_lead):
        env, tally, warmup = self.env, self.tally, self.warmup
        k = 0
        while True:
            yield env.timeout(next(gaps))
            k += 1
            value = next(values)
            counted = env.now >= warmup
            if counted:
                tally.leads += 1
                tally.leads_by_source[sid] += 1
                tally.lead_cost += cost_per_lead
            env.process(self._journey(sid, f"{sid}-{k}", value, counted))

    def _journey(self, sid: str, lead: str, value: float, counted: bool):
        env, log, cal = self.env, self.log, self.calendar
        clock = isinstance(cal, AroundTheClock)
        warmup, horizon, busy = self.warmup, self.horizon, self.tally.busy
        created = env.now
        self._wip(1)
        if log is not None:
            log.rows.append((lead, CREATED, "", created, ""))
        stage = self.entry
        while True:
            st = stage.tally
            if stage.threshold is not None and value <= stage.threshold:
                if counted:
                    st.skipped += 1
                if log is not None:
                    log.rows.append((lead, SKIPPED, stage.id, env.now, ""))
                if stage.otherwise is not None:
                    nxt = stage.otherwise
                    if nxt.__class__ is int:
                        return self._end(lead, sid, nxt, created, value, counted, "")
                    stage = nxt
                    continue
                nxt = self._route(stage)
                if nxt.__class__ is int:
                    return self._end(lead, sid, nxt, created, value, counted, "")
                stage = nxt
                continue
            if counted:
                st.entered += 1
            if stage.resources:
                queued = env.now
                if log is not None:
                    log.rows.append((lead, QUEUED, stage.id, queued, stage.label))
                held = []
                if stage.patience is None:
                    for res in stage.resources:
                        req = res.request()
                        yield req
                        held.append((res, req))
                else:
                    deadline = queued + next(stage.patience)
                    for res in stage.resources:
                        req = res.request()
                        yield req | env.timeout(max(deadline - env.now, 0.0))
                        if not req.triggered:
                            req.cancel()
                            for r, q in held:
                                r.release(q)
                            held = None
                            break
                        held.append((res, req))
                    if held is None:
                        if counted:
                            st.went_cold += 1
                            st.lost += 1
                        if log is not None:
                            log.rows.append((lead, WENT_COLD, stage.id, env.now, stage.label))
                        return self._end(lead, sid, LOST_END, created, value, counted, stage.id,
                                         cold=True)
                now = env.now
                work = next(stage.work)
                if clock:
                    start, end = now, now + work
                else:
                    start = cal.next_working(now)
                    end = cal.finish(start, work)
                lo = start if start > warmup else warmup
                hi = end if end < horizon else horizon
                if hi > lo:
                    spent = hi - lo if clock else cal.working_time(lo, hi)
                    for role in stage.roles:
                        busy[role] += spent
                if log is not None:
                    log.rows.append((lead, STARTED, stage.id, start, stage.label))
                yield env.timeout(end - now)
                for res, req in held:
                    res.release(req)
                if counted:
                    st.served += 1
                    st.wait += start - queued
                    st.work += work
                    st.work_clock += end - start
                if log is not None:
                    log.rows.append((lead, FINISHED, stage.id, end, stage.label))
            if stage.delay is not None:
                d = next(stage.delay)
                yield env.timeout(d)
                if counted:
                    st.delayed += 1
                    st.delay += d
            nxt = self._route(stage)
            if counted:
                if nxt == LOST_END:
                    st.lost += 1
                else:
                    st.moved_on += 1
            if nxt.__class__ is int:
                return self._end(lead, sid, nxt, created, value, counted, stage.id)
            stage = nxt

    @staticmethod
    def _route(stage: StagePlan) -> Any:
        if stage.route is None:
            return stage.targets[0]
        return stage.targets[bisect.bisect_right(stage.cum, next(stage.route))]

    def _end(self, lead, sid, end, created, value, counted, at, cold=False) -> None:
        now = self.env.now
        self._wip(-1)
        if self.log is not None:
            self.log.rows.append((lead, WON if end == WON_END else LOST, "", now, ""))
        if not counted:
            return
        tally = self.tally
        tally.closed_time += now - created
        if end == WON_END:
            tally.won += 1
            tally.won_by_source[sid] += 1
            tally.revenue += value
            tally.won_times.append(now - created)
        else:
            tally.lost += 1
            if cold:
                tally.went_cold += 1

