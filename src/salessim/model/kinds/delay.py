"""Delay only: a stage without staff work, where the customer thinks, signs or pays.

The kind of a stage that sets none of the kind fields. A stage may still name a role (an
owner) without work; with no ``delay`` either, the stage does nothing but route.
"""

from __future__ import annotations

from typing import Any

from salessim.ends import NO_DECISION, WON
from salessim.model.kinds.base import Build, Draw, StageKind
from salessim.model.kinds.flow import Context, Last, Visit
from salessim.model.stages import DelayOnly
from salessim.scenario.schema import Stage


class DelayOnlyKind(StageKind):
    """No staff time: only the stage's own customer-side delay, if any."""

    name = "delay only"
    field = None
    behaviour = DelayOnly

    def build(self, b: Build) -> Any:
        if b.own_delay is None:
            return None
        return DelayOnly(b.env, b.log, b.tally, b.own_delay)

    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        return Visit(self.name, last={last: 1.0})

    def box(self, stage: Stage, unit: str) -> list[str]:
        return []

    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        roles = "+".join(stage.staff)
        return draw.node(f"In_{sid}", "task", f"{sid} ({roles})" if roles else f"{sid} (customer)")

    def events_per_visit(self, stage: Stage) -> float:
        return 1.0  # entered

    def staffed(self, stage: Stage) -> bool:
        return bool(stage.staff)  # an owning role: its owners' caps can hold deals back

    def example(self, before: str) -> dict[str, Any]:
        return {"delay": {"dist": "exponential", "mean": 3.0},
                "next": {WON.name: 0.6, NO_DECISION.name: 0.4}}
