"""A stage with exits, a time-out or odds that depend on the deal (``scenario/exits.py``).

Such a stage decides its own route, so the journey reads it from the deal (``Deal.exit``,
the index of the stage plan's target) instead of drawing one; every other stage routes
exactly as before, and its plan never comes here. Its kind's behaviour (the staff work,
built without a customer-side time) runs inside it:

- ``work_first``: the staff work, then the customer's side: with ``exits`` each exit's
  latent time is drawn from its own stream (``exit:<stage>:<target>``, forward exits'
  times divided by the deal's factor) and the first decides the route and the time; with
  ``next`` the time is the ``delay``'s and the route is drawn as usual, with the factor on
  the odds of moving on;
- ``customer_first``: the customer's side first (its race decides the route), then the
  staff work;
- a time-out ``after`` a clock time from entering: a deal whose customer side would end
  later leaves by ``to`` at the deadline; staff work (and its queue) is never interrupted,
  so a deal still waiting for or in work at the deadline leaves by ``to`` when the work
  ends, unless its customer side had already ended (its exit came first).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Generator, Iterator
from typing import Any, NamedTuple

import simpy

from salessim.ends import shifted_forward
from salessim.model.deal import Deal
from salessim.model.residual import residual
from salessim.model.stages import Delay
from salessim.records import EventLog, StageTally
from salessim.scenario.dists import Dist
from salessim.scenario.mechanics import Decay, ScoreOdds
from salessim.scenario.survival import survival

Visit = Generator[simpy.Event, Any, bool]


class OpenVisit(NamedTuple):
    """What a warm start knows of an open deal's visit to a race stage.

    Attributes:
        age: time already spent in the stage at time 0.
        delay_left: the rest of the ``delay`` given the age (``next`` form; None: none).
        uniforms: the deal's own uniforms, one per exit (``exits`` form).
    """

    age: float
    delay_left: float | None
    uniforms: list[float]


class Routing:
    """The ``next`` form's draw: the deal's luck on its first visit, the stage's stream on
    later ones, and the odds of moving on moved by decay, lead score and the factor."""

    def __init__(self, probs: list[float], forward: list[bool], route: Iterator[float] | None,
                 slot: int, bit: int, decay: Decay | None, score_odds: ScoreOdds | None) -> None:
        self.probs, self.forward, self.route = probs, forward, route
        self.cum = [math.fsum(probs[:k + 1]) for k in range(len(probs) - 1)]
        self.p_forward = math.fsum(p for p, on in zip(probs, forward, strict=True) if on)
        self.slot, self.bit, self.decay, self.score_odds = slot, bit, decay, score_odds

    def pick(self, deal: Deal, factor: float, contact: float | None) -> int:
        """The index of the target the deal leaves for."""
        if self.route is None:
            return 0
        if deal.visited & self.bit:
            u = next(self.route)
        else:
            deal.visited |= self.bit
            u = deal.luck[self.slot]
        odds = factor
        if self.decay is not None:
            since = contact if self.decay.since == "last_contact" and contact is not None \
                else deal.created
            odds *= self.decay.multiplier(deal.started - since)
        if self.score_odds is not None:
            odds *= self.score_odds.multiplier(deal.score)
        p_on = self.p_forward
        p_new = shifted_forward(p_on, odds)
        if p_new == p_on:
            return bisect_right(self.cum, u)
        on, off = p_new / p_on, (1.0 - p_new) / (1.0 - p_on)
        acc = 0.0
        for i, p in enumerate(self.probs):
            acc += p * (on if self.forward[i] else off)
            if u < acc:
                return i
        return len(self.probs) - 1


class ExitRace:
    """The behaviour of a race stage (see the module's docstring).

    Args:
        env: the SimPy environment.
        log: the event log, or None.
        tally: the stage's running totals.
        sid: the stage id.
        inner: the kind's behaviour, built without a customer-side time (None: no work).
        side: the customer-side time's event-log codes and, in the ``next`` form, the
            ``delay``'s draws (None: the stage has no delay).
        exits: ``exits`` form: per exit (index in the plan's targets), its time and draws.
        routing: ``next`` form: the routing draw.
        forward: per target, does leaving for it count as moving on.
        after: the time-out (None: none); ``to``: the index of its target.
        value_odds, visit_odds: the stage's factors (None: none).
        customer_first: the customer's side before the staff work.
    """

    def __init__(self, env: simpy.Environment, log: EventLog | None, tally: StageTally,
                 sid: str, inner: Any, side: Delay | None, exits: list[tuple[int, Dist, Iterator[float]]] | None,
                 routing: Routing | None, forward: list[bool], after: float | None, to: int,
                 value_odds: Any, visit_odds: list[float] | None, customer_first: bool) -> None:
        self.env, self.log, self.tally, self.sid, self.inner, self.side = (
            env, log, tally, sid, inner, side)
        self.exits, self.routing, self.forward = exits, routing, forward
        self.after, self.to = after, to
        self.value_odds, self.visit_odds = value_odds, visit_odds
        self.customer_first = customer_first
        if exits is not None and not customer_first:
            # The common form, in one frame: work, then the race. Deliberately shadows
            # the method, for this object only.
            self._inner = None if inner is None else inner.visit
            self._racers = [(i, draws, forward[i]) for i, _, draws in exits]
            self._factored = value_odds is not None or visit_odds is not None
            self.visit = self._work_then_race  # type: ignore[method-assign]

    # --- a visit -----------------------------------------------------------------------

    def visit(self, deal: Deal) -> Visit:
        factor = self._factor(deal)
        deadline = None if self.after is None else self.env.now + self.after
        if self.exits is not None:
            draws = [next(d) for _, _, d in self.exits]
            return self._run(deal, factor, deadline, lambda: self._first(draws, factor))
        return self._run(deal, factor, deadline, self._delay)

    def _work_then_race(self, deal: Deal) -> Visit:
        """A ``work_first`` visit with exits: :meth:`_run`'s path, drawing the exits'
        times once the work is done (a deal timed out by then draws none)."""
        env = self.env
        after = self.after
        deadline = 0.0 if after is None else env.now + after
        factor = self._factor(deal) if self._factored else 1.0  # this visit counted now
        inner = self._inner
        if inner is not None and not (yield from inner(deal)):
            return False
        now = env.now
        if after is not None and now >= deadline:
            return self._timed_out(deal)
        best, when = -1, math.inf
        for i, draws, forward in self._racers:
            t = next(draws)
            if forward and factor != 1.0:
                t /= factor
            if t < when:
                best, when = i, t
        if after is not None and now + when > deadline:
            best, when = -1, deadline - now
        log, st = self.log, self.tally
        if log is not None:
            side = self.side
            assert side is not None
            log.add(deal.lead | side.started, now)
            yield env.timeout(when)
            log.add(deal.lead | side.finished, env.now)
        else:
            yield env.timeout(when)
        if deal.counted:
            st.delayed += 1
            st.delay += when
        if best < 0:
            return self._timed_out(deal)
        deal.exit = best
        return True

    def resume(self, left: OpenVisit, work_done: bool, deal: Deal) -> Visit:
        """An open deal of age ``left.age`` at time 0 (a warm start); its age counts
        against the time-out."""
        factor = self._factor(deal)
        deadline = None if self.after is None else self.env.now + self.after - left.age
        if self.exits is not None:
            times = self._residuals(left, factor)
            return self._run(deal, factor, deadline, lambda: self._first(times, factor, 1.0),
                             skip_work=work_done, done_side=work_done and self.customer_first)
        return self._run(deal, factor, deadline, lambda: (None, left.delay_left or 0.0),
                         skip_work=work_done, done_side=work_done and self.customer_first)

    def _run(self, deal: Deal, factor: float, deadline: float | None, side: Any,
             skip_work: bool = False, done_side: bool = False) -> Visit:
        env, inner = self.env, self.inner
        contact = deal.last_contact
        if self.customer_first:
            i, d = side()
            if not done_side:
                if deadline is not None and env.now + d > deadline:
                    yield from self._wait(deal, max(deadline - env.now, 0.0))
                    return self._timed_out(deal)
                yield from self._wait(deal, d)
            if inner is not None and not skip_work and not (yield from inner.visit(deal)):
                return False
            deal.exit = self._route(deal, i, factor, contact)
            return True
        if inner is not None and not skip_work and not (yield from inner.visit(deal)):
            return False
        if deadline is not None and env.now >= deadline:
            return self._timed_out(deal)
        i, d = side()
        if deadline is not None and env.now + d > deadline:
            yield from self._wait(deal, deadline - env.now)
            return self._timed_out(deal)
        yield from self._wait(deal, d)
        deal.exit = self._route(deal, i, factor, contact)
        return True

    # --- its parts ---------------------------------------------------------------------

    def _factor(self, deal: Deal) -> float:
        """The deal's factor: value odds times visit odds (this visit counted)."""
        factor = 1.0
        if self.value_odds is not None:
            factor = self.value_odds.factor(deal.value)
        if self.visit_odds is not None:
            visits: dict[str, int] | None = getattr(deal, "visits", None)
            if visits is None:
                visits = deal.visits = {}
            k = visits[self.sid] = visits.get(self.sid, 0) + 1
            factor *= self.visit_odds[min(k, len(self.visit_odds)) - 1]
        return factor

    def _first(self, times: list[float], factor: float, scale: float | None = None
               ) -> tuple[int, float]:
        """The first exit and its time (forward exits' times divided by the factor, unless
        ``scale`` says they already are)."""
        best, when = 0, math.inf
        exits = self.exits
        assert exits is not None
        for (i, _, _), t in zip(exits, times, strict=True):
            if scale is None and factor != 1.0 and self.forward[i]:
                t /= factor
            if t < when:
                best, when = i, t
        return best, when

    def _route(self, deal: Deal, i: int | None, factor: float, contact: float | None) -> int:
        """The exit that came first, or (``next`` form) the routing draw's target."""
        if i is not None:
            return i
        assert self.routing is not None
        return self.routing.pick(deal, factor, contact)

    def _delay(self) -> tuple[int | None, float]:
        return None, (0.0 if self.side is None else next(self.side.draws))

    def _residuals(self, left: OpenVisit, factor: float) -> list[float]:
        """Each exit's remaining time given the deal's age: T_k / r_k - a given T_k / r_k > a,
        that is (T_k - a r_k given T_k > a r_k) / r_k (``model/residual.py``)."""
        assert self.exits is not None
        out = []
        for (i, dist, _), u in zip(self.exits, left.uniforms, strict=True):
            r = factor if self.forward[i] else 1.0
            if survival(dist, [left.age * r])[0] <= 0.0:
                out.append(math.inf)  # an exit whose time has passed for good
            else:
                out.append(max(float(residual(dist, [left.age * r], [u])[0]), 0.0) / r)
        return out

    def _wait(self, deal: Deal, d: float) -> Generator[simpy.Event, Any, None]:
        """The customer's side, logged and counted as a stage's delay is."""
        log, side = self.log, self.side
        if side is None:  # a next-form stage without delay: no customer side
            return
        if log is not None:
            log.add(deal.lead | side.started, self.env.now)
        yield self.env.timeout(d)
        if log is not None:
            log.add(deal.lead | side.finished, self.env.now)
        if deal.counted:
            self.tally.delayed += 1
            self.tally.delay += d

    def _timed_out(self, deal: Deal) -> bool:
        deal.exit = self.to
        if deal.counted:
            self.tally.timed_out += 1
        return True
