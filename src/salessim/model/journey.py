"""The journey of a deal: enter a stage, let its behaviour run, route, until an end.

This is the hot loop. It touches only compiled plans (``model/build.py``), iterators of
buffered draws and plain counters; it calls no numpy per event, and it writes event
records only when a log was asked for.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import simpy

from salessim.ends import LOST, NO_DECISION, WON, shifted_forward
from salessim.model.deal import Deal
from salessim.records import EventLog, StageTally, Tally

if TYPE_CHECKING:
    from salessim.model.stages import SkipRule
    from salessim.scenario.mechanics import Decay, ScoreOdds

WON_END, LOST_END, NO_DECISION_END = WON.code, LOST.code, NO_DECISION.code


class StagePlan:
    """A stage compiled for the journey loop."""

    __slots__ = (
        "id", "tally", "behaviour", "visit", "skip", "route", "cum", "targets", "decay", "score_odds",
        "probs", "forward", "p_forward", "split", "slot", "bit", "entered", "skipped", "returns",
        "race",
    )

    def __init__(self, sid: str, tally: StageTally) -> None:
        self.id = sid
        self.tally = tally
        self.behaviour: Any = None  # the stage kind's object (model/stages.py), or None
        self.visit: Callable[[Deal], Generator[simpy.Event, Any, bool]] | None = None
        self.skip: SkipRule | None = None  # for stages only some deals go through
        # Uniforms for routing on later visits (None: one way out).
        self.route: Iterator[float] | None = None
        self.cum: list[float] = []
        self.targets: list[Any] = []  # StagePlan, or an end code
        self.decay: Decay | None = None
        self.score_odds: ScoreOdds | None = None
        self.probs: list[float] = []  # of each target
        # Does leaving for the target count as the stage's conversion? (a stage that makes
        # progress, or won; not lost, no decision, or a stage with progress: false)
        self.forward: list[bool] = []
        self.p_forward = 1.0
        # Two ways out and no odds factor: the routing draw below this goes to the first.
        self.split: float | None = None
        # A lead's first routing draw at this stage is its own (Deal.luck[slot]); later
        # visits (loops) draw from the stage's stream. ``bit`` marks the first visit.
        self.slot = -1
        self.bit = 0
        self.entered = self.skipped = 0  # packed event-log codes
        # Its kind sends deals back into the funnel (a nurture track): a deal that has left
        # it (``bit`` in ``Deal.visited``) and is won is a recycled win.
        self.returns = False
        # The stage routes its deals itself (exits, a time-out, value or visit odds:
        # model/exitrace.py): the target's index is in Deal.exit after the visit.
        self.race = False

    def set_routing(self, targets: list[Any], probs: list[float], forward: list[bool],
                    decay: Any, score_odds: Any) -> None:
        """Where the stage leads, with which probabilities, and what changes the odds."""
        self.targets, self.probs, self.forward = targets, probs, forward
        self.cum = list(itertools.accumulate(probs))[:-1]
        self.p_forward = sum(p for p, on in zip(probs, forward, strict=True) if on)
        self.decay, self.score_odds = decay, score_odds
        two_ways = len(targets) == 2 and decay is None and score_odds is None
        self.split = self.cum[0] if two_ways else None


class Walker:
    """Drives a deal's walk on the SimPy kernel, as a ``simpy.Process`` would, but lighter.

    The walk starts at once, inside the caller's step (a source calls it last in its step,
    after scheduling its next arrival, so no event runs in between and the order of events
    is what a process started by ``env.process`` would give). Each event the walk yields
    resumes it through :meth:`resume`. Nothing waits for a deal's walk to end, so its end
    is no event; an exception in the walk leaves ``env.run`` at once. Saved per lead: the
    start event and the end event, two of about nine.
    """

    __slots__ = ("send", "throw")

    def __init__(self, walk: Generator[simpy.Event, Any, None]) -> None:
        self.send, self.throw = walk.send, walk.throw
        self.resume(_START)

    def resume(self, event: Any) -> None:
        """The event the walk waited for has happened: go on until its next wait."""
        try:
            if event._ok:
                event = self.send(event._value)
            else:  # a failed task (a parallel task that raised): the walk gets the error
                event._defused = True
                event = self.throw(event._value)
        except StopIteration:
            return
        callbacks = event.callbacks
        if callbacks is None:  # it has already happened (and been processed): go on now
            self.resume(event)
        else:
            callbacks.append(self.resume)


class _Started:
    """What a walk is sent first: an event that has happened, with no value."""

    _ok = True
    _value = None


_START = _Started()


class Journey:
    """Walks deals through the compiled stages and closes them at an end.

    Args:
        env: the SimPy environment.
        tally: the running totals.
        log: the event log, or None.
        entry: the first stage.
        warmup, horizon: the measurement window.
        periods: length of a reporting period, or None.
        on_end: called with (deal, end code) when a deal ends (owners, after-sale), or
            None when nothing follows an end.
    """

    def __init__(self, env: simpy.Environment, tally: Tally, log: EventLog | None,
                 entry: StagePlan, warmup: float, horizon: float, periods: float | None,
                 on_end: Callable[[Deal, int], None] | None) -> None:
        self.env, self.tally, self.log, self.entry = env, tally, log, entry
        self.warmup, self.horizon, self.periods, self.on_end = warmup, horizon, periods, on_end
        self.open = 0  # leads in the process now
        # Passing stages by at one moment this often is a loop that takes no time (set
        # from the scenario by the model: scenario.size.zero_time_turns).
        self.spins = 10_000
        self.returned = _returning_bits(entry)
        if self.returned:  # count recycled wins; without such stages, _end stays as lean
            # Deliberately shadows the method, for this object only.
            self._end = self._end_counting_returns  # type: ignore[method-assign]
        self._last = 0.0
        self._area_at_warmup = 0.0
        if log is not None:
            self._created = log.code("created")
            self._end_codes = {e.code: log.code(e.name) for e in (WON, LOST, NO_DECISION)}

    def start(self, deal: Deal) -> None:
        """A new lead enters the process, now: its walk runs until its first wait."""
        Walker(self.walk(deal))

    # --- work in process --------------------------------------------------------------------

    def _wip(self, delta: int) -> None:
        now = self.env.now
        self.tally.wip_area += self.open * (now - self._last)
        self._last = now
        self.open += delta

    def mark_warmup(self) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.warmup)
        self._wip(0)
        self._area_at_warmup = self.tally.wip_area

    def sample_wip(self, samples: int) -> Generator[simpy.Event, Any, None]:
        """Open leads at times 0, h/N, 2h/N, ... (h the horizon, N = ``samples``)."""
        step = self.horizon / samples
        series = self.tally.wip_series
        for k in range(samples):
            if k:
                yield self.env.timeout(step)
            series.append(self.open)

    def finish(self) -> None:
        """Close the WIP integral at the horizon."""
        self._wip(0)
        self.tally.wip_area -= self._area_at_warmup

    # --- the walk ---------------------------------------------------------------------------

    def walk(self, deal: Deal, stage: StagePlan | None = None,
             resume: Callable[[Deal], Generator[simpy.Event, Any, bool]] | None = None
             ) -> Generator[simpy.Event, Any, None]:
        """A new lead from the entry; or, with ``stage`` and ``resume``, a deal already in
        ``stage`` (a warm start) that finishes its visit by ``resume`` and goes on from there.
        """
        env, log, tally = self.env, self.log, self.tally
        counted = deal.counted
        now = env.now  # the WIP integral, inline: one lead more from now on
        tally.wip_area += self.open * (now - self._last)
        self._last = now
        self.open += 1
        if counted:
            tally.open_created += deal.created
        if stage is None:
            stage = self.entry
            if log is not None:
                log.add(deal.lead | self._created, deal.created)
        visit: Any = resume
        skips, since = 0, -1.0  # passing stages by takes no time: a loop of it never ends
        while True:
            st = stage.tally
            if resume is None:
                skip = stage.skip
                if skip is not None and skip.passes_by(deal):
                    skips += 1
                    if skips >= self.spins:
                        skips, since = 0, self._no_time_loop(deal, stage, since)
                    if counted:
                        st.skipped += 1
                    if log is not None:
                        log.add(deal.lead | stage.skipped, env.now)
                    nxt = skip.otherwise if skip.otherwise is not None else _route(deal, stage)
                    if nxt.__class__ is int:
                        return self._end(deal, nxt)
                    stage = nxt
                    continue
                if counted:
                    st.entered += 1
                if log is not None:
                    log.add(deal.lead | stage.entered, env.now)
                visit = stage.visit
            else:  # the stage it is in at the start: entered (and logged) before time 0
                resume = None
            contact = deal.last_contact  # before this stage's work: decay may count from it
            if visit is not None and not (yield from visit(deal)):
                if counted:
                    st.went_cold += 1
                    st.lost += 1
                return self._end(deal, LOST_END, cold=True)
            route = stage.route
            if route is None:
                i = deal.exit if stage.race else 0
            else:
                if deal.visited & stage.bit:  # _routing_draw, inline: once per visit
                    u = next(route)
                else:
                    deal.visited |= stage.bit
                    u = deal.luck[stage.slot]
                split = stage.split
                if split is not None:  # two ways: one comparison does what bisect does
                    i = 0 if u < split else 1
                elif stage.decay is None and stage.score_odds is None:
                    i = bisect_right(stage.cum, u)
                else:
                    i = _route_with_odds(stage, u, _odds(deal, stage, contact))
            nxt = stage.targets[i]
            if counted:
                if stage.forward[i]:
                    st.moved_on += 1
                else:
                    st.lost += 1
            if nxt.__class__ is int:
                return self._end(deal, nxt)
            stage = nxt

    def _no_time_loop(self, deal: Deal, stage: StagePlan, since: float) -> float:
        """The time now; an error when it is still ``since``: the deal has passed stages by
        ``spins`` times without time passing, and would go round for ever."""
        if self.env.now != since:
            return self.env.now
        from salessim.errors import Problem, ScenarioError

        raise ScenarioError([Problem(
            f"stages.{stage.id}.only_if", f"a deal worth {deal.value:,.2f} passes this stage "
            f"by and comes back to it without simulated time passing ({self.spins:,} "
            f"times at time {since:g}): a loop that would never end; send "
            "skipped deals (otherwise, or next) where time passes", deal.value)])

    def _end_counting_returns(self, deal: Deal, end: int, cold: bool = False) -> None:
        """:meth:`_end`, and a won deal that came back from a nurture track is a recycled win."""
        if end == WON_END and deal.counted and deal.visited & self.returned:
            self.tally.won_recycled += 1
        Journey._end(self, deal, end, cold)

    def _end(self, deal: Deal, end: int, cold: bool = False) -> None:
        now = self.env.now
        tally = self.tally
        tally.wip_area += self.open * (now - self._last)
        self._last = now
        self.open -= 1
        log = self.log
        if log is not None:
            log.add(deal.lead | self._end_codes[end], now)
            log.set_end(deal.lead, end)
        if self.on_end is not None:
            self.on_end(deal, end)
        if self.periods is not None and end == WON_END:
            k = int(now // self.periods)
            tally.period_won[k] = tally.period_won.get(k, 0) + 1
            tally.period_cycle[k] = tally.period_cycle.get(k, 0.0) + now - deal.created
        if not deal.counted:
            return
        tally.open_created -= deal.created
        tally.closed_time += now - deal.created
        if end == WON_END:
            tally.won += 1
            tally.won_by_source[deal.source] += 1
            tally.revenue += deal.value
            tally.revenue_by_source[deal.source] += deal.value
            tally.cycle_won.add(now - deal.created)
            tally.won_handoffs += deal.handoffs
        elif end == NO_DECISION_END:
            tally.no_decision += 1
        else:
            tally.lost += 1
            if cold:
                tally.went_cold += 1


def _returning_bits(entry: StagePlan) -> int:
    """The routing bits of the stages (reachable from ``entry``) that send deals back."""
    bits, seen, todo = 0, set(), [entry]
    while todo:
        plan = todo.pop()
        if plan.id in seen:
            continue
        seen.add(plan.id)
        if plan.returns:
            bits |= plan.bit
        todo += [t for t in plan.targets if t.__class__ is StagePlan]
        if plan.skip is not None and plan.skip.otherwise.__class__ is StagePlan:
            todo.append(plan.skip.otherwise)
    return bits


def _routing_draw(deal: Deal, stage: StagePlan) -> float:
    """The uniform that routes a deal out of a stage: its own on the first visit."""
    route = stage.route  # None only at a stage with one way out, which draws nothing
    if route is not None and deal.visited & stage.bit:
        return next(route)
    deal.visited |= stage.bit
    return deal.luck[stage.slot]


def _route(deal: Deal, stage: StagePlan) -> Any:
    """Where a deal that skipped the stage goes: by ``next``, with the deal's luck."""
    if stage.route is None:
        return stage.targets[0]
    return stage.targets[bisect_right(stage.cum, _routing_draw(deal, stage))]


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


def _route_with_odds(stage: StagePlan, u: float, odds: float) -> int:
    """The target (its index) with the odds of moving on multiplied by ``odds``.

    Moving on is going to a stage that makes progress or to won; the rest is lost, no
    decision or a stage with ``progress: false``. Each side keeps the shares of its
    targets; only the split between the sides changes:
    p' = odds * p / (1 - p + odds * p), p the probability of moving on
    (:func:`salessim.ends.shifted_forward`, which the flow analysis uses too).
    """
    probs = stage.probs
    p_on = stage.p_forward
    p_on_new = shifted_forward(p_on, odds)
    if p_on_new == p_on:
        return bisect_right(stage.cum, u)
    scale_on, scale_off = p_on_new / p_on, (1.0 - p_on_new) / (1.0 - p_on)
    acc = 0.0
    for i, p in enumerate(probs):
        acc += p * (scale_on if stage.forward[i] else scale_off)
        if u < acc:
            return i
    return len(probs) - 1
