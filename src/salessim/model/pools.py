"""Staff pools on the SimPy kernel: who is free, who waits, who gets the next free member.

A :class:`StaffPool` is a role's members (or one member of a role that owns its deals)
with a waiting line. Taking a free member costs a counter decrement and no event; a deal
that finds nobody free waits on a :class:`Turn`, and a release hands the member straight
to the next deal in line, which goes on at once if that was the last role it waited for
(first come first served; else it goes on by an event, as a process would), or, in a
prioritised line, to the most important deal once the instant's earlier events are done
(ties first come first served). A pool with working hours is closed outside them: deals
that come then wait in line (their patience runs), and at opening time the free members
go to the first in line.

:class:`OwnerPool` assigns a member to a deal for the whole sale (least loaded or round
robin, optionally with a cap of open deals per member); each member is a pool of one.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

#: The value a waiting deal receives when its patience ran out first.
COLD = object()


class Turn(simpy.Event):
    """A waiting deal's turn for a member of a pool.

    A release in a first-come-first-served line gives the turn on the spot
    (:meth:`give`): the deal first in line goes on at once, inside the releasing deal's
    step, instead of when an event scheduled by the release comes out of SimPy's queue
    later in the same instant. The deal starts at the same time with the same draw; what
    changes is the order of things done at that instant: the deal that got the member
    logs its start before the releasing deal goes on to its next stage. One event per
    wait is saved. Only the last role a deal waits for is given so (see
    :class:`_LaterTurn`).
    """

    def give(self) -> None:
        """The member is the deal's: it goes on now."""
        self._ok = True
        self._value = None
        # SimPy marks a processed event by callbacks = None, which its own annotation
        # (a list) leaves out; its kernel ignores the same assignment.
        callbacks, self.callbacks = self.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(self)


class _LaterTurn(simpy.Event):
    """The turn of a deal that needs more roles after this one: given by an event.

    Resumed on the spot, such a deal would ask for its next role before the releasing
    deal goes on, and so jump ahead of the requests that deal makes at the same instant
    (its next stage's roles, its parallel tasks): a change of who is served first that
    moves the means of the waits. Given by an event, it asks when a SimPy process would.
    """

    give = simpy.Event.succeed


#: A deal waiting in a pool's line.
Waiter = Turn | _LaterTurn


class StaffPool:
    """The free members and the waiting line of one role (or of one owner).

    The common cases cost no call: :meth:`Staff.work <salessim.model.staff.Staff.work>`
    takes a member itself when ``free`` is non-zero and the ``line`` empty, and gives one
    back itself (``free += 1``) when the ``line`` is empty and the pool not ``closed``,
    which is what :meth:`request` and :meth:`release` would do then.

    Args:
        env: the SimPy environment.
        size: headcount.
        prioritised: serve the line by priority (lowest first) instead of by arrival.
    """

    __slots__ = ("env", "free", "size", "line", "prioritised", "closed", "held", "_seq",
                 "_gone", "_giving", "_passed")

    def __init__(self, env: simpy.Environment, size: int, prioritised: bool = False) -> None:
        self.env = env
        self.size = size
        self.free = size  # members free to take work now
        self.prioritised = prioritised
        # A deque of waiters (first come first served) or a heap of (priority, number,
        # waiter): which one is `prioritised`, read in the hot path instead of a type test.
        self.line: Any = [] if prioritised else deque()
        self.closed = False
        self.held = 0  # members free but off duty (the pool is closed)
        self._seq = itertools.count()
        self._gone: set[simpy.Event] = set()  # waiting deals that went cold
        self._giving = False  # a release is handing a member over (see release)
        self._passed = 0  # members let go again meanwhile, for that release to pass on

    def request(self, priority: float = 0.0, more: bool = False) -> Waiter | None:
        """A member for a deal: None when it has one at once, else an event to wait on.

        ``more``: the deal needs other roles after this one (see :class:`_LaterTurn`).

        In a prioritised line a deal that asks at the instant a member is released
        competes with the deals already waiting, by priority (as a SimPy
        ``PriorityResource`` does: a release hands over when its event is processed).
        """
        if not self.prioritised:
            if self.free:
                self.free -= 1
                return None
            waiter: Waiter = _LaterTurn(self.env) if more else Turn(self.env)
            self.line.append(waiter)
            return waiter
        turn = Turn(self.env)
        heapq.heappush(self.line, (priority, next(self._seq), turn))
        if self.free:
            self._hand_over()
            if turn.triggered:
                return None
        return turn

    def give_up(self, event: simpy.Event) -> None:
        """A deal in line went cold: it will be passed over."""
        self._gone.add(event)

    def _next_in_line(self) -> Waiter | None:
        line, gone = self.line, self._gone
        while line:
            event: Waiter = heapq.heappop(line)[2] if self.prioritised else line.popleft()
            if gone and event in gone:
                gone.discard(event)
                continue
            return event
        return None

    def _hand_over(self, _: simpy.Event | None = None) -> None:
        """Free members to the first deals in line."""
        while self.free and self.line and not self.closed:
            event = self._next_in_line()
            if event is None:
                return
            self.free -= 1
            event.succeed()

    def release(self) -> None:
        """A member is done: to the next deal in line, or free."""
        if self.closed:
            self.held += 1
            return
        if self.prioritised:
            # Handed over when this instant's earlier events are done, so a deal asking
            # now competes by priority (see :meth:`request`).
            self.free += 1
            if self.line:
                event = self.env.event()
                event.callbacks.append(self._hand_over)
                event.succeed()
            return
        if self._giving:
            # Let go by a deal this pool's hand-over under way resumed (one that cannot
            # start before its patience ends): that hand-over passes it on, so hand-overs
            # never nest and a long line cannot exhaust the stack.
            self._passed += 1
            return
        self._giving = True
        try:
            members = 1
            while members:  # first come first served, passing over those gone cold
                members -= 1
                waiter = self._next_in_line()
                if waiter is None:
                    self.free += 1
                    continue
                waiter.give()
                members += self._passed
                self._passed = 0
        finally:
            self._giving = False

    def close(self) -> None:
        """Off duty: free members are held until :meth:`open`."""
        if not self.closed:
            self.closed = True
            self.held += self.free
            self.free = 0

    def open(self) -> None:
        """On duty: held members go to the line in its order, the rest are free."""
        self.closed = False
        self.free += self.held
        self.held = 0
        self._hand_over()

    @property
    def waiting(self) -> int:
        """Deals in line (those gone cold excluded)."""
        return len(self.line) - len(self._gone)


class OwnerPool:
    """The members of a role that owns its deals, a :class:`StaffPool` of one each.

    A deal gets a member when it first needs the role: the one with the fewest open
    deals (ties to the lowest number), or the next in turn (round robin). With a cap on
    open deals per member, a deal waits until some member is under the cap.
    """

    def __init__(self, env: simpy.Environment, rid: str, headcount: int, prioritised: bool,
                 cap: int | None, round_robin: bool) -> None:
        self.env = env
        self.rid = rid
        self.members = [StaffPool(env, 1, prioritised) for _ in range(headcount)]
        self.open_deals = [0] * headcount
        self.busy = [0.0] * headcount
        self.cap = cap
        self.round_robin = round_robin
        self._turn = itertools.cycle(range(headcount))
        self._waiting: deque[simpy.Event] = deque()
        self._gone: set[simpy.Event] = set()

    def _choose(self) -> int | None:
        cap, open_deals = self.cap, self.open_deals
        if self.round_robin:
            if cap is not None and min(open_deals) >= cap:
                return None
            for m in self._turn:
                if cap is None or open_deals[m] < cap:
                    return m
        best = min(range(len(open_deals)), key=lambda m: (open_deals[m], m))
        return None if cap is not None and open_deals[best] >= cap else best

    def assign(self) -> int | simpy.Event:
        """The member the deal is assigned to, or an event whose value it will be."""
        member = self._choose()
        if member is not None:
            self.open_deals[member] += 1
            return member
        event = self.env.event()
        self._waiting.append(event)
        return event

    def give_up(self, event: simpy.Event) -> None:
        """A deal waiting for an owner went cold."""
        self._gone.add(event)

    def join(self, off_duty: bool) -> int:
        """A new member (a hire) joins the role; returns its number. One who joins off
        duty waits for the next opening, as the others do; deals waiting for an owner
        under the cap go to the new member."""
        member = StaffPool(self.env, 1, self.members[0].prioritised)
        if off_duty:
            member.close()
        self.members.append(member)
        self.busy.append(0.0)
        number = len(self.members) - 1
        self._turn = itertools.cycle(range(len(self.members)))
        self.open_deals.append(1)  # one open deal that ends at once: hands out the waiting
        self.release(number)
        return number

    def release(self, member: int) -> None:
        """The deal owned by ``member`` has ended."""
        self.open_deals[member] -= 1
        while self._waiting:
            event = self._waiting[0]
            if event in self._gone:
                self._gone.discard(event)
                self._waiting.popleft()
                continue
            chosen = self._choose()
            if chosen is None:
                return
            self.open_deals[chosen] += 1
            self._waiting.popleft().succeed(chosen)


def cold_at_deadline(pool: StaffPool | OwnerPool, event: simpy.Event
                     ) -> Callable[[simpy.Event], None]:
    """A callback for a deal's deadline: if it is still waiting, it goes cold."""
    def expire(_: simpy.Event) -> None:
        if not event.triggered:
            pool.give_up(event)
            event.succeed(COLD)
    return expire
