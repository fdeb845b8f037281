"""The weekly review meeting: a stage whose deals are handled in batches.

Deals that reach the stage join a line; at each meeting time the first ``capacity`` of
them (all, by default) are taken up, the stage's roles attend for the meeting's length,
and those deals are done when it ends. A deal therefore waits, on average, about half the
time between meetings when meetings have room for everyone; with a capacity it may wait
for several meetings (a bulk-service queue).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from salessim.model.deal import Deal
from salessim.model.staff import Staff, StaffPlan
from salessim.model.stages import Delay, Visit, customer_delay, rest_of_delay
from salessim.records import StageTally
from salessim.scenario.mechanics import Meeting as MeetingSpec


class Meeting:
    """The behaviour of a meeting stage, and the process that holds its meetings."""

    def __init__(self, staff: Staff, plan: StaffPlan, spec: MeetingSpec, tally: StageTally,
                 delay: Delay | None) -> None:
        self.staff, self.plan, self.spec, self.tally, self.delay = staff, plan, spec, tally, delay
        self.env = staff.env
        self.line: deque[tuple[Deal, simpy.Event, float]] = deque()
        self.env.process(self._meetings())

    def visit(self, deal: Deal) -> Visit:
        yield from self._wait_for_meeting(deal)
        if self.delay is not None:
            yield from customer_delay(self.env, self.staff.log, deal, self.delay, self.tally)
        return True

    def resume(self, left: float | None, work_done: bool, deal: Deal) -> Visit:
        """An open deal at a warm start: to the next meeting unless it was discussed."""
        if not work_done:
            yield from self._wait_for_meeting(deal)
        yield from rest_of_delay(self.env, self.staff.log, deal, self.delay, left)
        return True

    def _wait_for_meeting(self, deal: Deal) -> Generator[simpy.Event, Any, None]:
        env, log = self.env, self.staff.log
        done = env.event()
        self.line.append((deal, done, env.now))
        if log is not None:
            log.add(deal.lead | self.plan.queued, env.now)
        yield done

    def _meetings(self) -> Generator[simpy.Event, Any, None]:
        env, spec, st, log, line = self.env, self.spec, self.tally, self.staff.log, self.line
        at = float(spec.first)
        while True:
            if at > env.now:
                yield env.timeout(at - env.now)
            taken = len(line) if spec.capacity is None else min(spec.capacity, len(line))
            if taken:
                batch = [line.popleft() for _ in range(taken)]
                deals = [deal for deal, _, _ in batch]
                start = yield from self.staff.meet(self.plan, float(spec.length), deals)
                if start >= self.staff.warmup:
                    st.meetings += 1
                    st.meeting_deals += taken
                for deal, _, queued in batch:
                    if deal.counted:
                        st.served += 1
                        st.wait += start - queued
                        st.work += spec.length
                        st.work_clock += spec.length
                    if log is not None:
                        log.add(deal.lead | self.plan.started, start)
                        log.add(deal.lead | self.plan.finished, env.now)
                    deal.last_contact = env.now
                for _, done, _ in batch:
                    done.succeed()
            # The next meeting on the schedule (one that ran long skips none it overlapped).
            at += spec.every
            while at < env.now:
                at += spec.every
