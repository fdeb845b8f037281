"""The regular meeting: deals handled in batches (a weekly deal review)."""

from __future__ import annotations

from typing import Any

from salessim.ends import LOST, WON
from salessim.model.kinds.base import Build, Draw, StageKind
from salessim.model.kinds.flow import Context, Last, Visit
from salessim.model.kinds.words import duration
from salessim.model.meeting import Meeting
from salessim.records import StageTally
from salessim.scenario.mechanics import Meeting as MeetingSpec
from salessim.scenario.schema import Stage


def _meeting(stage: Stage) -> MeetingSpec:
    """The stage's meeting (this kind is the one of stages that have one)."""
    if stage.meeting is None:
        raise TypeError("a meeting stage without a meeting")
    return stage.meeting


class MeetingKind(StageKind):
    """``meeting``: wait for the next meeting, then its length."""

    name = "meeting"
    field = "meeting"
    behaviour = Meeting

    def build(self, b: Build) -> Any:
        plan = b.staff.plan(b.stage.staff, None, f"work:{b.sid}")
        b.staff.label(plan, b.sid)
        return Meeting(b.staff, plan, _meeting(b.stage), b.tally, b.own_delay)

    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        """Half the interval, on average, for arrivals at random times when every meeting
        has room, then the meeting's length. A meeting's staff time is per meeting, not per
        deal, so it adds no piece of work. With a capacity, deals may wait for later
        meetings: the half interval is a floor, and the visit is not exact."""
        meeting = _meeting(stage)
        visit = Visit(self.name, last={last: 1.0}, exact=meeting.capacity is None)
        visit.duration = meeting.every / 2 + meeting.length
        visit.processing = meeting.length
        return visit

    def fixed_load(self, stage: Stage, role: str) -> float:
        # One member of each attending role for its length, per meeting held (every one,
        # when deals arrive often enough).
        m = _meeting(stage)
        return m.length / m.every if role in stage.staff else 0.0

    def kpis(self, sid: str, stage: Stage, st: StageTally) -> dict[str, float]:
        return {f"meetings.{sid}": st.meetings,
                f"meeting_size_mean.{sid}": st.meeting_deals / st.meetings
                if st.meetings else float("nan")}

    def box(self, stage: Stage, unit: str) -> list[str]:
        m = _meeting(stage)
        room = "" if m.capacity is None else f", up to {m.capacity}"
        return [f"meeting every {duration(m.every, unit)}{room}"]

    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        roles = "+".join(stage.staff)
        return draw.node(f"In_{sid}", "task", f"{sid} ({roles})" if roles else f"{sid} (customer)")

    def events_per_visit(self, stage: Stage) -> float:
        return 1.0

    def staffed(self, stage: Stage) -> bool:
        return bool(stage.staff)

    def example(self, before: str) -> dict[str, Any]:
        return {"role": "manager", "meeting": {"every": 24.0, "first": 9.0, "length": 1.0},
                "next": {WON.name: 0.5, LOST.name: 0.5}}
