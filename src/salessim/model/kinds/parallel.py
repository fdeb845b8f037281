"""Parallel tasks: an AND split and join inside a stage, each task its own staff and delay."""

from __future__ import annotations

from typing import Any

from salessim.ends import LOST, WON
from salessim.model.kinds import numeric
from salessim.model.kinds.base import Build, Draw, StageKind
from salessim.model.kinds.flow import Context, Last, Visit, staff_piece
from salessim.model.stages import ParallelTasks
from salessim.scenario.mechanics import Task
from salessim.scenario.schema import Stage


def _tasks(stage: Stage) -> dict[str, Task]:
    """The stage's parallel tasks (this kind is the one of stages that have them)."""
    if stage.parallel is None:
        raise TypeError("a parallel-tasks stage without tasks")
    return stage.parallel


class ParallelTasksKind(StageKind):
    """``parallel``: every task starts together; the deal moves on when all are done.

    Queueing formulas are not exact for its staff: a task's request comes together with
    its siblings', not as a Poisson stream of its own.
    """

    name = "parallel tasks"
    field = "parallel"
    behaviour = ParallelTasks
    queue_exact = False

    def build(self, b: Build) -> Any:
        staff, sid = b.staff, b.sid
        tasks = []
        for tid, task in _tasks(b.stage).items():
            plan = staff.plan(task.staff, task.work, f"work:{sid}.{tid}")
            staff.label(plan, sid)
            tasks.append((plan, b.delay(task.delay, f"delay:{sid}.{tid}", plan.label)))
        return ParallelTasks(staff, tasks, b.tally, b.own_delay)

    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        """The expected maximum of the branches (hand-off + wait + work + delay each); the
        last role is the one whose work finishes last."""
        visit = Visit(self.name)
        branches, work_ends, workers, work_only = [], [], [], []
        for task in _tasks(stage).values():
            end = numeric.ZERO
            if task.work is not None:
                end = staff_piece(sid, task.staff, task.work, last, ctx, visit, parts=[])
                work_ends.append(end)
                workers.append(task.staff[0])
                work_only.append(numeric.masses(task.work))
            if task.delay is not None:
                visit.delay += task.delay.mean
                visit.delays += 1
                end = numeric.add(end, numeric.masses(task.delay))
            branches.append(end)
        visit.processing = numeric.expected_max(work_only)
        visit.duration = numeric.expected_max(branches)
        if not workers:
            visit.last = {last: 1.0}
        else:
            visit.last = {}
            for role, share in zip(workers, numeric.last_shares(work_ends), strict=True):
                visit.last[role] = visit.last.get(role, 0.0) + share
        return visit

    def box(self, stage: Stage, unit: str) -> list[str]:
        return [f"|| {tid}: {'+'.join(task.staff) or 'customer'}"
                for tid, task in _tasks(stage).items()]

    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        draw.node(f"In_{sid}", "parallelGateway", f"{sid}: split")
        last = draw.node(f"Join_{sid}", "parallelGateway", f"{sid}: join")
        for tid, task in _tasks(stage).items():
            kind = "userTask" if task.work is not None else "task"
            t = draw.node(f"Task_{sid}_{tid}", kind, f"{sid}: {tid} ({'+'.join(task.staff)})")
            draw.flow(f"In_{sid}", t)
            draw.flow(t, last)
        return last

    def events_per_visit(self, stage: Stage) -> float:
        return 3.0

    def staffed(self, stage: Stage) -> bool:
        return True

    def example(self, before: str) -> dict[str, Any]:
        return {"parallel": {
                    "legal": {"role": "manager", "work": {"dist": "exponential", "mean": 0.5}},
                    "pricing": {"role": "rep", "work": {"dist": "exponential", "mean": 1.0},
                                "delay": {"dist": "exponential", "mean": 2.0}}},
                "next": {WON.name: 0.7, LOST.name: 0.3}}
