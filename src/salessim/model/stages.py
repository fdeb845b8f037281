"""Stage kinds: what a deal does inside a stage, one small behaviour each.

Every behaviour has one ``visit(deal)`` generator that runs from the moment the deal has
entered the stage to the moment it is ready to be routed, and returns True, or False when
the lead went cold waiting for staff. The journey (``model/journey.py``) enters the
stage, runs the behaviour and routes; the builder (``model/build.py``) picks the kind from
the scenario. A new kind is one class here, one schema model and one line in the builder
(``docs/extending.md`` walks through the weekly review meeting).

Customer-side time (a stage's ``delay``) belongs to every kind; :func:`customer_delay`
does it for all of them.

A deal open at the start of a run (a warm start, ``model/warmstart.py``) is already in its
stage: ``resume(left, work_done, deal)`` finishes the visit, with ``left`` the rest of the
stage's customer-side time (drawn given the time already spent; None for a stage without
one) and the staff work skipped when ``work_done``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from functools import partial
from typing import Any

import simpy

from salessim.model.deal import Deal
from salessim.model.staff import Staff, StaffPlan
from salessim.records import EventLog, StageTally

Visit = Generator[simpy.Event, Any, bool]


class Delay:
    """Customer-side time at a stage (or of one task of it): no staff busy."""

    __slots__ = ("draws", "started", "finished")

    def __init__(self, draws: Iterator[float], log: EventLog | None, stage: str,
                 label: str = "") -> None:
        self.draws = draws
        self.started = log.code("delay_started", stage, label) if log is not None else 0
        self.finished = log.code("delay_finished", stage, label) if log is not None else 0


def customer_delay(env: simpy.Environment, log: EventLog | None, deal: Deal, delay: Delay,
                   st: StageTally) -> Generator[simpy.Event, Any, None]:
    """Wait out the customer's side of a stage."""
    d = next(delay.draws)
    if log is not None:
        log.add(deal.lead | delay.started, env.now)
    yield env.timeout(d)
    if log is not None:
        log.add(deal.lead | delay.finished, env.now)
    if deal.counted:
        st.delayed += 1
        st.delay += d


def rest_of_delay(env: simpy.Environment, log: EventLog | None, deal: Deal, delay: Delay | None,
                  left: float | None) -> Generator[simpy.Event, Any, None]:
    """The rest of a started customer-side delay (an open deal at a warm start).

    Logged as a delay from now: what came before time 0 is the deal's age in the stage.
    """
    if delay is None or left is None:
        return
    if log is not None:
        log.add(deal.lead | delay.started, env.now)
    yield env.timeout(left)
    if log is not None:
        log.add(deal.lead | delay.finished, env.now)


class DelayOnly:
    """A stage without staff: the customer thinks, signs or pays."""

    def __init__(self, env: simpy.Environment, log: EventLog | None, tally: StageTally,
                 delay: Delay) -> None:
        self.env, self.log, self.tally, self.delay = env, log, tally, delay

    def visit(self, deal: Deal) -> Visit:
        yield from customer_delay(self.env, self.log, deal, self.delay, self.tally)
        return True

    def resume(self, left: float | None, work_done: bool, deal: Deal) -> Visit:
        yield from rest_of_delay(self.env, self.log, deal, self.delay, left)
        return True


class StaffedWork:
    """Staff work by one role or several at once, then optional customer-side time; with
    ``customer_first``, the customer-side time first and then the staff work (a back-office
    stage that waits for the customer's papers, then queues for staff, then decides)."""

    def __init__(self, staff: Staff, plan: StaffPlan, tally: StageTally,
                 patience: Iterator[float] | None, delay: Delay | None,
                 customer_first: bool = False) -> None:
        self.staff, self.plan, self.tally, self.patience, self.delay = (
            staff, plan, tally, patience, delay)
        self.customer_first = customer_first and delay is not None
        if delay is not None:
            self._then = delay  # the customer-side time, for the visits that wait it out
        # The visit deliberately shadows the method, for this object only.
        if self.customer_first:
            self.visit = self._after_delay  # type: ignore[method-assign]
        elif delay is None:
            # The staff work is the whole visit: the journey runs it with no frame of ours.
            self.visit = partial(staff.work, plan, tally, patience)  # type: ignore[method-assign]

    def visit(self, deal: Deal) -> Visit:
        return self._then_delay(deal)

    def _then_delay(self, deal: Deal) -> Visit:
        if not (yield from self.staff.work(self.plan, self.tally, self.patience, deal)):
            return False
        yield from customer_delay(self.staff.env, self.staff.log, deal, self._then, self.tally)
        return True

    def _after_delay(self, deal: Deal) -> Visit:
        yield from customer_delay(self.staff.env, self.staff.log, deal, self._then, self.tally)
        return (yield from self.staff.work(self.plan, self.tally, self.patience, deal))

    def resume(self, left: float | None, work_done: bool, deal: Deal) -> Visit:
        if self.customer_first:
            # The work comes last: done, the deal only waits to be routed; not done, it
            # waits out the rest of the customer's side (given its age) and then the work.
            if work_done:
                return True
            yield from rest_of_delay(self.staff.env, self.staff.log, deal, self.delay, left)
            return (yield from self.staff.work(self.plan, self.tally, self.patience, deal))
        if not work_done and not (
                yield from self.staff.work(self.plan, self.tally, self.patience, deal)):
            return False
        yield from rest_of_delay(self.staff.env, self.staff.log, deal, self.delay, left)
        return True


def task(staff: Staff, deal: Deal, plan: StaffPlan, delay: Delay | None,
         st: StageTally) -> Generator[simpy.Event, Any, None]:
    """Staff work and then its own customer-side delay (a parallel task, an approval)."""
    if plan.has_work:
        yield from staff.work(plan, st, None, deal)
    if delay is not None:
        yield from customer_delay(staff.env, staff.log, deal, delay, st)


class ParallelTasks:
    """Tasks done at the same time (an AND split and join), then optional customer time.

    Each task is staff work by its own roles and then its own delay; the stage is done when
    the last task is.
    """

    def __init__(self, staff: Staff, tasks: list[tuple[StaffPlan, Delay | None]],
                 tally: StageTally, delay: Delay | None) -> None:
        self.staff, self.tasks, self.tally, self.delay = staff, tasks, tally, delay

    def visit(self, deal: Deal) -> Visit:
        env, staff, st = self.staff.env, self.staff, self.tally
        yield env.all_of([env.process(task(staff, deal, plan, delay, st))
                          for plan, delay in self.tasks])
        if self.delay is not None:
            yield from customer_delay(env, staff.log, deal, self.delay, st)
        return True

    def resume(self, left: float | None, work_done: bool, deal: Deal) -> Visit:
        env, staff, st = self.staff.env, self.staff, self.tally
        if not work_done:
            yield env.all_of([env.process(task(staff, deal, plan, delay, st))
                              for plan, delay in self.tasks])
        yield from rest_of_delay(env, staff.log, deal, self.delay, left)
        return True


class ApprovalChain:
    """Sign-offs one after another, each only for deals above its level's amount."""

    def __init__(self, staff: Staff, levels: list[tuple[StaffPlan, Delay | None]],
                 tally: StageTally, delay: Delay | None) -> None:
        self.staff, self.levels, self.tally, self.delay = staff, levels, tally, delay

    def visit(self, deal: Deal) -> Visit:
        staff, st = self.staff, self.tally
        for plan, delay in self.levels:
            if deal.value > plan.above:
                yield from task(staff, deal, plan, delay, st)
        if self.delay is not None:
            yield from customer_delay(staff.env, staff.log, deal, self.delay, st)
        return True

    def resume(self, left: float | None, work_done: bool, deal: Deal) -> Visit:
        staff, st = self.staff, self.tally
        if not work_done:
            for plan, delay in self.levels:
                if deal.value > plan.above:
                    yield from task(staff, deal, plan, delay, st)
        yield from rest_of_delay(staff.env, staff.log, deal, self.delay, left)
        return True


class SkipRule:
    """``only_if``: deals at or below a value pass the stage by, without entering it.

    The journey asks :meth:`passes_by` before the deal enters; a deal that passes by is
    counted and logged as skipping the stage and goes to ``otherwise`` (or by ``next``).
    """

    __slots__ = ("threshold", "otherwise")

    def __init__(self, threshold: float, otherwise: Any) -> None:
        self.threshold = threshold
        self.otherwise = otherwise  # a stage plan, an end code, or None (follow next)

    def passes_by(self, deal: Deal) -> bool:
        return deal.value <= self.threshold
