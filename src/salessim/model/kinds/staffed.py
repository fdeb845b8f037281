"""Staffed work: the stage's roles held together for its work, then its customer time."""

from __future__ import annotations

from typing import Any

from salessim.ends import LOST, WON
from salessim.model.kinds.base import Build, Draw, StageKind
from salessim.model.kinds.flow import Context, Last, Visit, staff_piece
from salessim.model.kinds.words import duration
from salessim.model.stages import StaffedWork
from salessim.scenario.dists import Dist
from salessim.scenario.schema import Stage


def _work(stage: Stage) -> Dist:
    """The stage's staff work (this kind is the one of stages that have it)."""
    if stage.work is None:
        raise TypeError("a staffed-work stage without work")
    return stage.work


class StaffedWorkKind(StageKind):
    """``work`` (with ``role`` or ``roles``): one piece of staff work per visit."""

    name = "staffed work"
    field = "work"
    behaviour = StaffedWork

    def build(self, b: Build) -> Any:
        stage, staff = b.stage, b.staff
        plan = staff.plan(stage.staff, stage.work, f"work:{b.sid}", stage.queue)
        staff.label(plan, b.sid)
        return StaffedWork(staff, plan, b.tally, staff.draws(stage.patience, f"patience:{b.sid}"),
                           b.own_delay, customer_first=stage.order == "customer_first")

    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        visit = Visit(self.name)
        staff_piece(sid, stage.staff, _work(stage), last, ctx, visit)
        visit.last = {stage.staff[0]: 1.0}
        return visit

    def box(self, stage: Stage, unit: str) -> list[str]:
        return [f"work {duration(_work(stage).mean, unit)}"]

    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        return draw.node(f"In_{sid}", "userTask", f"{sid} ({'+'.join(stage.staff)})")

    def events_per_visit(self, stage: Stage) -> float:
        return 3.0  # queued, started, finished

    def staffed(self, stage: Stage) -> bool:
        return True

    def example(self, before: str) -> dict[str, Any]:
        return {"role": "rep", "work": {"dist": "exponential", "mean": 1.0},
                "delay": {"dist": "exponential", "mean": 2.0},
                "next": {WON.name: 0.5, before: 0.1, LOST.name: 0.4}}
