"""An approval chain: sign-offs one after another, each for deals above its level."""

from __future__ import annotations

from typing import Any

from salessim.ends import WON
from salessim.model.kinds.base import Build, Draw, StageKind
from salessim.model.kinds.flow import Context, Last, Visit, staff_piece
from salessim.model.kinds.words import money
from salessim.model.stages import ApprovalChain
from salessim.scenario.mechanics import ApprovalLevel
from salessim.scenario.schema import Stage


def _levels(stage: Stage) -> list[ApprovalLevel]:
    """The stage's approval levels (this kind is the one of stages that have them)."""
    if stage.approvals is None:
        raise TypeError("an approval-chain stage without approvals")
    return stage.approvals


class ApprovalChainKind(StageKind):
    """``approvals``: the levels whose ``above`` the deal's value exceeds, in order."""

    name = "approval chain"
    field = "approvals"
    behaviour = ApprovalChain
    value_dependent = True

    def build(self, b: Build) -> Any:
        staff, sid = b.staff, b.sid
        levels = []
        for i, level in enumerate(_levels(b.stage)):
            plan = staff.plan(level.staff, level.work, f"work:{sid}.{i}")
            plan.above = level.above
            staff.label(plan, sid)
            levels.append((plan, b.delay(level.delay, f"delay:{sid}.{i}", plan.label)))
        return ApprovalChain(staff, levels, b.tally, b.own_delay)

    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        visit = Visit(self.name)
        for level in _levels(stage):
            if not value > level.above:
                continue
            if level.work is not None:
                staff_piece(sid, level.staff, level.work, last, ctx, visit)
                last = level.staff[0]
            if level.delay is not None:
                visit.duration += level.delay.mean
                visit.delay += level.delay.mean
                visit.delays += 1
        visit.last = {last: 1.0}
        return visit

    def value_cuts(self, stage: Stage) -> list[tuple[float, str]]:
        return [(level.above, "+".join(level.staff)) for level in _levels(stage)]

    def box(self, stage: Stage, unit: str) -> list[str]:
        return [f"approve > {money(level.above)}: {'+'.join(level.staff) or '-'}"
                for level in _levels(stage)]

    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        last: str | None = None
        for i, level in enumerate(_levels(stage)):
            g = draw.node(f"In_{sid}" if i == 0 else f"Level_{sid}_{i}", "exclusiveGateway",
                          f"value > {money(level.above)}?")
            if last is not None:
                draw.flow(last, g)
            t = draw.node(f"Task_{sid}_{i}", "userTask",
                          f"{sid}: approval {i + 1} ({'+'.join(level.staff)})")
            draw.flow(g, t, f"> {money(level.above)}")
            done = draw.node(f"Done_{sid}_{i}", "exclusiveGateway", "")
            draw.flow(g, done, "otherwise")
            draw.flow(t, done)
            last = done
        assert last is not None, "a chain has a level (the schema says so)"
        return last

    def events_per_visit(self, stage: Stage) -> float:
        return 3.0

    def staffed(self, stage: Stage) -> bool:
        return True

    def example(self, before: str) -> dict[str, Any]:
        return {"approvals": [
                    {"role": "rep", "work": {"dist": "exponential", "mean": 0.5}},
                    {"role": "manager", "above": 5000, "work": {"dist": "exponential",
                                                                "mean": 1.0}}],
                "next": {WON.name: 0.8, before: 0.2}}
