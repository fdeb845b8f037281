"""From a Scenario's stages to the compiled plans the journey runs on.

Everything that can be decided before the clock starts is decided here: each stage's
kind of behaviour (``model/stages.py``), its staff plans, the iterators of buffered
random draws, the routing tables and the event-log codes. The journey only reads these.
"""

from __future__ import annotations

from typing import Any

import simpy

from salessim.ends import BY_NAME, is_forward
from salessim.model.journey import StagePlan
from salessim.model.meeting import Meeting
from salessim.model.staff import Staff
from salessim.model.stages import (
    ApprovalChain,
    Delay,
    DelayOnly,
    ParallelTasks,
    SkipRule,
    StaffedWork,
)
from salessim.records import EventLog, StageTally
from salessim.scenario.dists import blocks
from salessim.scenario.schema import Scenario, Stage


def build_stages(scenario: Scenario, env: simpy.Environment, staff: Staff,
                 tallies: dict[str, StageTally], log: EventLog | None
                 ) -> tuple[dict[str, StagePlan], list[str]]:
    """Compile every stage; returns the plans and the routed stages in slot order.

    A lead's first routing draw at stage k of the routed list is ``Deal.luck[k]``.
    """
    plans = {sid: StagePlan(sid, tallies[sid]) for sid in scenario.stages}
    routed: list[str] = []

    def target(name: str) -> Any:
        return BY_NAME[name].code if name in BY_NAME else plans[name]

    progress = scenario.progress
    for sid, stage in scenario.stages.items():
        plan = plans[sid]
        plan.behaviour = _behaviour(sid, stage, env, staff, tallies[sid], log)
        plan.visit = None if plan.behaviour is None else plan.behaviour.visit
        names = list(stage.next)
        plan.set_routing(
            [target(n) for n in names], [stage.next[n] for n in names],
            [is_forward(n, progress) for n in names],
            stage.decay, stage.score_odds)
        if len(names) > 1:
            plan.route = blocks(staff.streams.generator(f"route:{sid}").random)
            plan.slot = len(routed)
            plan.bit = 1 << plan.slot
            routed.append(sid)
        if stage.only_if is not None:
            otherwise = stage.only_if.otherwise
            plan.skip = SkipRule(stage.only_if.deal_value_above,
                                 None if otherwise is None else target(otherwise))
        if log is not None:
            plan.entered = log.code("entered", sid)
            plan.skipped = log.code("skipped", sid)
    return plans, routed


def _behaviour(sid: str, stage: Stage, env: simpy.Environment, staff: Staff,
               tally: StageTally, log: EventLog | None):
    """The stage's kind: an object with ``visit(deal)`` (None: nothing but routing)."""
    def delay(dist, stream: str, label: str = "") -> Delay | None:
        draws = staff.draws(dist, stream)
        return None if draws is None else Delay(draws, log, sid, label)

    own_delay = delay(stage.delay, f"delay:{sid}")
    if stage.work is not None:
        plan = staff.plan(stage.staff, stage.work, f"work:{sid}", stage.queue)
        staff.label(plan, sid)
        return StaffedWork(staff, plan, tally, staff.draws(stage.patience, f"patience:{sid}"),
                           own_delay)
    if stage.parallel is not None:
        tasks = []
        for tid, task in stage.parallel.items():
            plan = staff.plan(task.staff, task.work, f"work:{sid}.{tid}")
            staff.label(plan, sid)
            tasks.append((plan, delay(task.delay, f"delay:{sid}.{tid}", plan.label)))
        return ParallelTasks(staff, tasks, tally, own_delay)
    if stage.approvals is not None:
        levels = []
        for i, level in enumerate(stage.approvals):
            plan = staff.plan(level.staff, level.work, f"work:{sid}.{i}")
            plan.above = level.above
            staff.label(plan, sid)
            levels.append((plan, delay(level.delay, f"delay:{sid}.{i}", plan.label)))
        return ApprovalChain(staff, levels, tally, own_delay)
    if stage.meeting is not None:
        plan = staff.plan(stage.staff, None, f"work:{sid}")
        staff.label(plan, sid)
        return Meeting(staff, plan, stage.meeting, tally, own_delay)
    if own_delay is not None:
        return DelayOnly(env, log, tally, own_delay)
    return None
