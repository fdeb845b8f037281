"""From a Scenario to the compiled plans the SimPy processes run on.

Everything that can be decided before the clock starts is decided here: which SimPy
resource serves each role (a pool, or one resource per member for owned deals), the
order roles are acquired in, each stage's calendar, the iterators of buffered random
draws, routing tables. The processes in ``model/process.py`` only read these plans.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from typing import Any

import simpy

from salessim.model.calendar import AroundTheClock, WorkCalendar, shared_calendar, working_calendar
from salessim.records import StageTally
from salessim.rng import RandomStreams
from salessim.scenario.dists import Dist, blocks
from salessim.scenario.schema import Role, Scenario

WON_END, LOST_END, NO_DECISION_END = -1, -2, -3
TERMINAL_CODES = {"won": WON_END, "lost": LOST_END, "no_decision": NO_DECISION_END}


#: Rank of a deal in a prioritised queue, per queue policy (SimPy serves the lowest first).
_PRIORITY = {
    "fifo": None,
    "score": lambda deal: -deal.score,
    "deal_value": lambda deal: -deal.value,
    "needs": lambda deal: -deal.needs,
}


class OwnerPool:
    """The members of a role that owns its deals, one SimPy resource each.

    A deal gets a member when it first needs the role: the one with the fewest open
    deals (ties to the lowest number), or the next in turn (round robin). With a cap on
    open deals per member, a deal waits until some member is under the cap.
    """

    def __init__(self, env: simpy.Environment, rid: str, role: Role, priority: bool) -> None:
        kind = simpy.PriorityResource if priority else simpy.Resource
        self.env = env
        self.rid = rid
        self.members = [kind(env, capacity=1) for _ in range(role.headcount)]
        self.open = [0] * role.headcount
        self.busy = [0.0] * role.headcount
        self.cap = role.max_open_deals
        self.round_robin = role.owner_choice == "round_robin"
        self._turn = itertools.cycle(range(role.headcount))
        self._waiting: deque[simpy.Event] = deque()

    def _choose(self) -> int | None:
        free = [m for m in range(len(self.members)) if self.cap is None or self.open[m] < self.cap]
        if not free:
            return None
        if self.round_robin:
            for m in self._turn:
                if m in free:
                    return m
        return min(free, key=lambda m: (self.open[m], m))

    def assign(self) -> simpy.Event:
        """An event whose value is the member the deal is assigned to."""
        event = self.env.event()
        member = self._choose()
        if member is None:
            self._waiting.append(event)
        else:
            self.open[member] += 1
            event.succeed(member)
        return event

    def withdraw(self, event: simpy.Event) -> None:
        """A deal waiting for an owner went cold."""
        self._waiting.remove(event)

    def release(self, member: int) -> None:
        """The deal owned by ``member`` has ended."""
        self.open[member] -= 1
        while self._waiting:
            chosen = self._choose()
            if chosen is None:
                return
            self.open[chosen] += 1
            self._waiting.popleft().succeed(chosen)


class StaffPlan:
    """A piece of staff work: who does it, how long it takes, where it is queued."""

    __slots__ = (
        "roles", "primary", "label", "pools", "owners", "policy", "work", "delay", "cal",
        "learning", "cost_rate", "above", "clock", "simple", "wait_open", "priority", "fast",
    )

    def __init__(self) -> None:
        self.roles: tuple[str, ...] = ()
        self.primary: str | None = None  # the role named first: hand-offs are between these
        self.label = ""
        self.pools: tuple[Any, ...] = ()  # per role: a Resource, or an OwnerPool
        self.owners: bool = False  # some role is owner-assigned
        self.policy = "fifo"
        self.work: Iterator[float] | None = None
        self.delay: Iterator[float] | None = None
        self.cal: WorkCalendar | AroundTheClock = AroundTheClock()
        self.clock = True  # staff work around the clock (no calendar arithmetic needed)
        self.simple = False  # one pooled role served first come, first served
        self.wait_open = False  # roles keep different hours: queue only when all work
        self.priority = None  # deal -> its rank in a prioritised queue (lower goes first)
        self.fast = False  # simple, around the clock, no transition period
        self.learning = None  # a Learning, when this work is in a transition period
        self.cost_rate = 0.0  # money per time unit while this work is done
        self.above = 0.0  # approval levels: deals above this need it


class StagePlan:
    """A stage compiled for the journey loop."""

    __slots__ = (
        "id", "tally", "staff", "patience", "parallel", "approvals", "delay", "route", "cum",
        "targets", "threshold", "otherwise", "decay", "score_odds", "probs", "forward",
        "p_forward", "slot", "bit",
    )

    def __init__(self, sid: str, tally: StageTally) -> None:
        self.id = sid
        self.tally = tally
        self.staff: StaffPlan | None = None
        self.patience: Iterator[float] | None = None
        self.parallel: list[StaffPlan] | None = None
        self.approvals: list[StaffPlan] | None = None
        self.delay: Iterator[float] | None = None
        self.route: Iterator[float] | None = None
        self.cum: list[float] = []
        self.targets: list[Any] = []  # StagePlan, or a terminal code
        self.threshold: float | None = None
        self.otherwise: Any = None  # StagePlan, terminal code, or None (follow next)
        self.decay = None
        self.score_odds = None
        self.probs: list[float] = []  # of each target
        self.forward: list[bool] = []  # does the target move the deal on (a stage, won)?
        self.p_forward = 1.0
        # A lead's first routing draw at this stage is its own (Deal.luck[slot]); later
        # visits (loops) draw from the stage's stream. ``bit`` marks the first visit.
        self.slot = -1
        self.bit = 0


class Builder:
    """Compiles a scenario's stages and staff for one replication."""

    def __init__(self, scenario: Scenario, env: simpy.Environment, streams: RandomStreams):
        self.scenario = scenario
        self.env = env
        self.streams = streams
        prioritised = {
            r for stage in scenario.stages.values() if stage.queue != "fifo" for r in stage.staff
        }
        self.resources: dict[str, Any] = {}
        for rid, role in scenario.roles.items():
            if role.assignment == "owner":
                self.resources[rid] = OwnerPool(env, rid, role, rid in prioritised)
            else:
                kind = simpy.PriorityResource if rid in prioritised else simpy.Resource
                self.resources[rid] = kind(env, capacity=role.headcount)
        self._order = list(scenario.roles)
        self._prioritised = prioritised
        self.routed: list[str] = []  # stages with a routing draw, in slot order

    def luck(self, source: str) -> list[Iterator[float]]:
        """Per routed stage, the stream of first-visit routing draws of a source's leads.

        Each lead takes one draw from each when it is created, so its luck at a stage does
        not depend on the order events happen in: a redesign that changes who waits
        where leaves every lead's first routing at every stage as it was.
        """
        return [self.uniforms(f"route:{sid}:{source}") for sid in self.routed]

    def closed_off_hours(self) -> list[tuple[list[Any], WorkCalendar]]:
        """Prioritised roles with working hours: their resources and calendar.

        Outside working hours their free staff are held, so that waiting leads are served
        by priority at opening time rather than by who asked first.
        """
        sc = self.scenario
        out = []
        for rid in sorted(self._prioritised, key=self._order.index):
            calendar = sc.roles[rid].calendar or sc.calendar
            if calendar is None:
                continue
            pool = self.resources[rid]
            members = pool.members if isinstance(pool, OwnerPool) else [pool]
            out.append((members, WorkCalendar(calendar, sc.time_unit)))
        return out

    def draws(self, dist: Dist | None, stream: str) -> Iterator[float] | None:
        return None if dist is None else dist.draws(self.streams.generator(stream))

    def uniforms(self, stream: str) -> Iterator[float]:
        return blocks(self.streams.generator(stream).random)

    def staff(self, roles: tuple[str, ...], work: Dist | None, stream: str,
              policy: str = "fifo") -> StaffPlan:
        sc = self.scenario
        plan = StaffPlan()
        # Acquire roles in one global order (the scenario's role order): no deadlock.
        plan.roles = tuple(sorted(roles, key=self._order.index))
        plan.primary = roles[0] if roles else None
        plan.label = "+".join(roles)
        plan.pools = tuple(self.resources[r] for r in plan.roles)
        plan.owners = any(isinstance(p, OwnerPool) for p in plan.pools)
        plan.policy = policy
        plan.simple = len(plan.pools) == 1 and not plan.owners and policy == "fifo"
        plan.priority = _PRIORITY[policy]
        plan.work = self.draws(work, stream)
        own = [sc.roles[r].calendar or sc.calendar for r in roles]
        calendar = shared_calendar(own)
        plan.cal = working_calendar(calendar, sc.time_unit)
        plan.clock = calendar is None
        plan.wait_open = any(c != calendar for c in own)
        learning = sc.learning
        if learning is not None and (learning.roles is None or set(roles) & set(learning.roles)):
            plan.learning = learning
        plan.fast = plan.simple and plan.clock and plan.learning is None and not plan.wait_open
        plan.cost_rate = sum(sc.roles[r].cost_per_hour for r in roles) * sc.hours_per_unit
        return plan

    def stages(self, tallies: dict[str, StageTally]) -> dict[str, StagePlan]:
        sc = self.scenario
        plans = {sid: StagePlan(sid, tallies[sid]) for sid in sc.stages}

        def target(name: str) -> Any:
            return TERMINAL_CODES[name] if name in TERMINAL_CODES else plans[name]

        for sid, stage in sc.stages.items():
            plan = plans[sid]
            if stage.work is not None:
                plan.staff = self.staff(stage.staff, stage.work, f"work:{sid}", stage.queue)
            plan.patience = self.draws(stage.patience, f"patience:{sid}")
            if stage.parallel is not None:
                plan.parallel = []
                for tid, task in stage.parallel.items():
                    branch = self.staff(task.staff, task.work, f"work:{sid}.{tid}")
                    branch.delay = self.draws(task.delay, f"delay:{sid}.{tid}")
                    plan.parallel.append(branch)
            if stage.approvals is not None:
                plan.approvals = []
                for i, level in enumerate(stage.approvals):
                    step = self.staff(level.staff, level.work, f"work:{sid}.{i}")
                    step.delay = self.draws(level.delay, f"delay:{sid}.{i}")
                    step.above = level.above
                    plan.approvals.append(step)
            plan.delay = self.draws(stage.delay, f"delay:{sid}")
            names = list(stage.next)
            plan.targets = [target(n) for n in names]
            probs = [stage.next[n] for n in names]
            plan.cum = list(itertools.accumulate(probs))[:-1]
            plan.probs = probs
            plan.forward = [n not in ("lost", "no_decision") for n in names]
            plan.p_forward = sum(p for p, on in zip(probs, plan.forward, strict=True) if on)
            plan.decay = stage.decay
            plan.score_odds = stage.score_odds
            if len(names) > 1:
                plan.route = self.uniforms(f"route:{sid}")
                plan.slot = len(self.routed)
                plan.bit = 1 << plan.slot
                self.routed.append(sid)
            if stage.only_if is not None:
                plan.threshold = stage.only_if.deal_value_above
                if stage.only_if.otherwise is not None:
                    plan.otherwise = target(stage.only_if.otherwise)
        return plans
