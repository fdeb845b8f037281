"""Lead recycling: the nurture track as a stage kind (see :mod:`salessim.scenario.recycle`).

A deal in the track waits out the stage's delay (drawn from the stage's own stream,
``delay:<stage>``; its way back from ``route:<stage>:<source>`` and ``route:<stage>``, so
adding a track shifts no other stage's draws), then is routed by the track's odds: back
into the funnel or to its end. A deal can only be won after coming back, so a won deal that
has left a track (its routing bit, ``returns_deals``) is a recycled win (``won_recycled``),
the others are first-pass wins (``won_first_pass``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from salessim.ends import NO_DECISION, WON
from salessim.model.deal import Deal
from salessim.model.kinds.base import Build, Draw, StageKind
from salessim.model.kinds.flow import Context, Last, Visit
from salessim.model.stages import Delay, customer_delay, rest_of_delay
from salessim.model.stages import Visit as VisitGen
from salessim.records import StageTally, Tally
from salessim.scenario.recycle import Recycle
from salessim.scenario.schema import Stage


def _track(stage: Stage) -> Recycle:
    """The stage's ``recycle`` (set on every stage of this kind)."""
    if stage.recycle is None:
        raise TypeError("a nurture-track stage without recycle")
    return stage.recycle


class Nurture:
    """The behaviour of a nurture track: wait out the time away (no staff)."""

    def __init__(self, env: Any, log: Any, tally: StageTally, delay: Delay) -> None:
        self.env, self.log, self.tally, self.delay = env, log, tally, delay

    def visit(self, deal: Deal) -> VisitGen:
        yield from customer_delay(self.env, self.log, deal, self.delay, self.tally)
        return True

    def resume(self, left: float | None, work_done: bool, deal: Deal) -> VisitGen:
        yield from rest_of_delay(self.env, self.log, deal, self.delay, left)
        return True


class RecycleKind(StageKind):
    """``recycle``: a nurture track whose leads re-enter the funnel after a delay."""

    name = "nurture track"
    field = "recycle"
    behaviour = Nurture
    returns_deals = True

    def build(self, b: Build) -> Any:
        return Nurture(b.env, b.log, b.tally, b.own_delay)

    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        # The time away is the stage's delay, added for every kind; the odds are its next.
        return Visit(self.name, last={last: 1.0})

    def process_kpis(self, tally: Tally) -> dict[str, float]:
        return {"won_first_pass": tally.won - tally.won_recycled,
                "won_recycled": tally.won_recycled,
                "recycled_win_share": tally.won_recycled / tally.won if tally.won else math.nan}

    def analysis_rows(self, analysis: Any, exact: bool) -> list[tuple[Any, ...]]:
        """The share of wins that came back from a track: per chain, where a deal first
        enters a track times its chance to be won from there, over the chance to be won."""
        tracks = {sid for sid, s in analysis.scenario.stages.items() if self.applies(s)}
        after = won = 0.0
        for chain in analysis.chains:
            after += chain.share * float(np.dot(chain.first_hits(tracks), chain.ends[:, 0]))
            won += chain.share * chain.p_end[0]
        return [
            ("end", WON.name, "share of wins recycled", after / won if won else math.nan, "share",
             "flow rule", exact, "recycled_win_share"),
            ("end", "won first pass", "share of leads", won - after, "share", "flow rule",
             exact, ""),
        ]

    def box(self, stage: Stage, unit: str) -> list[str]:
        return [f"nurture track, rest {_track(stage).rest.replace('_', ' ')}"]

    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        return draw.node(f"In_{sid}", "task", f"{sid} (nurture)")

    def events_per_visit(self, stage: Stage) -> float:
        return 1.0

    def staffed(self, stage: Stage) -> bool:
        return False

    def example(self, before: str) -> dict[str, Any]:
        return {"delay": {"dist": "exponential", "mean": 20.0},
                "recycle": {"back": {before: 0.4}, "rest": NO_DECISION.name}}
