"""Hires: a role's new members join at their date, slower while they learn.

A hire is a change of capacity at a moment: one process per role sleeps until each hire's
time and adds its members to the role's pool then, so the work of a deal costs nothing
more for it. While new members ramp up, the work they do takes longer
(:class:`~salessim.scenario.hires.Ramp`): in a role that owns its deals, the work of the
deal's own member; in a pool, whose members are not told apart (any free one takes the
next task), every task takes the factor that gives the pool the capacity it has with its
new members slower: the members' harmonic mean, ``members / sum(1 / factor)``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from salessim.model.calendar import WorkCalendar, shifts
from salessim.model.pools import OwnerPool
from salessim.scenario.hires import Hire, Ramp, hire_times
from salessim.scenario.schema import Scenario


class Hired:
    """The members a role has hired so far, and how far on their ramps are.

    Args:
        headcount: the role's members at time 0.
    """

    __slots__ = ("headcount", "ramping", "joined", "members")

    def __init__(self, headcount: int, ramping: bool) -> None:
        self.headcount = headcount
        self.ramping = ramping  # some hire has a ramp
        self.joined: list[tuple[float, Ramp]] = []  # (time joined, ramp) of ramping hires
        self.members: dict[int, tuple[float, Ramp]] = {}  # owner member -> its ramp

    def pool_factor(self, now: float) -> float:
        """A pool's work factor: its members' harmonic mean (1 without ramping hires)."""
        ramping = [ramp.factor(now - t) for t, ramp in self.joined]
        size = self.headcount + len(ramping)
        return size / (self.headcount + sum(1 / f for f in ramping))

    def member_factor(self, member: int, now: float) -> float:
        """The work factor of one member of a role that owns its deals."""
        joined = self.members.get(member)
        return 1.0 if joined is None else joined[1].factor(now - joined[0])


def planned_members(scenario: Scenario, rid: str) -> int:
    """The role's members once every hire has joined."""
    role = scenario.roles[rid]
    return role.headcount + sum(h.count for h in role.hires)


def start_rosters(env: simpy.Environment, scenario: Scenario, pools: dict[str, Any]
                  ) -> dict[str, Hired]:
    """Start the processes that change who is on duty: each role's shifts by its calendar,
    and one hiring process per role with hires; returns each such role's record.

    Args:
        env: the SimPy environment.
        scenario: the scenario.
        pools: per role its StaffPool or OwnerPool.
    """
    calendars = {}
    for rid in scenario.roles:
        calendar = scenario.calendar_of(rid)
        if calendar is not None:
            pool = pools[rid]
            # The list of an owner role's members: those who join later are in it too.
            members = pool.members if isinstance(pool, OwnerPool) else [pool]
            calendars[rid] = WorkCalendar(calendar, scenario.time_unit)
            env.process(shifts(env, members, calendars[rid]))
    hired = {}
    for rid, role in scenario.roles.items():
        if role.hires:
            hired[rid] = Hired(role.headcount, any(h.ramp is not None for h in role.hires))
            # A new member who joins off duty waits for the next opening, as the others do.
            env.process(_hiring(env, hire_times(role.hires, scenario.time_unit), pools[rid],
                                hired[rid], calendars.get(rid)))
    return hired


def _hiring(env: simpy.Environment, hires: list[tuple[float, Hire]], pool: Any, hired: Hired,
            calendar: WorkCalendar | None) -> Generator[simpy.Event, Any, None]:
    for at, hire in hires:
        if at > env.now:
            yield env.timeout(at - env.now)
        for _ in range(hire.count):
            off = calendar is not None and calendar.next_working(env.now) > env.now
            if isinstance(pool, OwnerPool):
                member = pool.join(off)
                if hire.ramp is not None:
                    hired.members[member] = (at, hire.ramp)
            else:
                if hire.ramp is not None:
                    hired.joined.append((at, hire.ramp))
                pool.size += 1
                if pool.closed:
                    pool.held += 1
                else:
                    pool.release()  # to the first deal in line, or free


def ramped_roles(hired: dict[str, Hired], pools: dict[str, Any], roles: tuple[str, ...]
                 ) -> tuple[tuple[Any, Hired], ...]:
    """The (pool, hires) of those of ``roles`` that hire people who ramp up."""
    return tuple((pools[r], hired[r]) for r in roles if r in hired and hired[r].ramping)


def ramp_factor(ramps: tuple[tuple[Any, Hired], ...], members: dict[OwnerPool, int] | None,
                now: float) -> float:
    """How many times as long a piece of work takes for the ramps of its roles' new
    members: the slowest role's factor (work by several roles takes them all)."""
    factor = 0.0
    for pool, hired in ramps:
        if members is not None and pool in members:
            factor = max(factor, hired.member_factor(members[pool], now))
        else:
            factor = max(factor, hired.pool_factor(now))
    return factor
