"""One visit to a stage, in expectation: what a stage kind tells the flow analysis.

Flow analysis (:mod:`salessim.analyse`) walks a deal's visits as a Markov chain on
(stage, last role that worked on the deal); the last role decides hand-offs, exactly as
the engine counts them (staff work by another role than the previous work's first-named
role). For one visit, given the deal's value and that last role, a kind's ``flow`` returns
a :class:`Visit`: its expected duration without queues (or with the expected queue waits
a :class:`Context` supplies), its processing part (staff working time on the critical
path), its customer-side time, the pieces of staff work it asks for, its hand-offs, where
the last role ends up, and whether the kind's figures are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from salessim.model.kinds import numeric
from salessim.scenario.dists import Dist
from salessim.scenario.schema import Scenario

Last = str | None


@dataclass(frozen=True)
class Piece:
    """One piece of staff work: the roles it holds at once and its working time."""

    stage: str
    roles: tuple[str, ...]
    work: Dist


@dataclass
class Visit:
    """What one visit costs, in expectation (times in the scenario's unit).

    ``exact``: the kind's expectation is exact for this stage (a long simulation in steady
    state must agree with it); False where the kind leaves something out (a meeting with a
    capacity, whose deals may wait for later meetings).
    """

    kind: str
    duration: float = 0.0  # time in the stage, critical path
    processing: float = 0.0  # staff working time on the critical path
    delay: float = 0.0  # customer-side time, every delay of the visit
    delays: float = 0.0  # number of customer-side delays
    pieces: list[Piece] = field(default_factory=list)
    handoffs: dict[tuple[str, str], float] = field(default_factory=dict)
    handoff_time: float = 0.0
    last: dict[Last, float] = field(default_factory=dict)  # last role after the visit
    skipped: bool = False
    otherwise: str | None = None  # where a skipping deal goes (None: by next)
    exact: bool = True


class Context:
    """What a visit's time depends on beyond the stage: hand-off delays, queue waits and
    the staff calendars.

    Args:
        scenario: the scenario.
        waits: expected time queued per role (empty: no queues, the flow-analysis view).
    """

    def __init__(self, scenario: Scenario, waits: dict[str, float] | None = None) -> None:
        self.scenario = scenario
        self.waits = waits or {}
        self._timing: dict[tuple[str, str], tuple[float, float]] = {}  # (calendar, work) JSON
        self.visits: dict[tuple[str, Last, float | None], Visit] = {}  # (stage, last, value)

    def handoff_dist(self, a: str, b: str) -> Dist | None:
        spec = self.scenario.handoff
        if spec is None:
            return None
        return spec.pairs.get(f"{a}>{b}") or spec.delay

    def wait(self, roles: tuple[str, ...]) -> float:
        return max((self.waits.get(r, 0.0) for r in roles), default=0.0)

    def timing(self, roles: tuple[str, ...], work: Dist) -> tuple[float, float]:
        """(expected wait for staff to come on duty, clock time per unit of work).

        Around the clock (0, 1). Under a calendar, an approximation: the request comes at
        a uniformly random hour of the week; the wait runs to the next working instant and
        the work then stops outside working hours (holidays left out).
        """
        sc = self.scenario
        calendar = sc.shared_calendar_of(roles)
        if calendar is None:
            return 0.0, 1.0
        key = (calendar.model_dump_json(), work.model_dump_json())
        if key not in self._timing:
            from salessim.model.calendar import WorkCalendar

            cal = WorkCalendar(calendar.model_copy(update={"holidays": []}), sc.time_unit)
            week = 168.0 / sc.hours_per_unit
            grid = 168
            starts = [cal.next_working((j + 0.5) * week / grid) for j in range(grid)]
            pre = sum(s - (j + 0.5) * week / grid for j, s in enumerate(starts)) / grid
            works = numeric.masses(work, 32)
            clock = sum(w * (cal.finish(s, v) - s) for s in starts
                        for v, w in zip(works.values, works.weights, strict=True)) / grid
            self._timing[key] = (pre, clock / work.mean)
        return self._timing[key]


def _handoff(last: Last, primary: str, ctx: Context
             ) -> tuple[dict[tuple[str, str], float], numeric.Masses]:
    if last is None or last == primary:
        return {}, numeric.ZERO
    dist = ctx.handoff_dist(last, primary)
    return {(last, primary): 1.0}, numeric.masses(dist) if dist is not None else numeric.ZERO


def staff_piece(sid: str, roles: tuple[str, ...], work: Dist, last: Last, ctx: Context,
                visit: Visit, parts: list[numeric.Masses] | None = None) -> numeric.Masses:
    """Add one piece of staff work to ``visit``; returns its time to the end of the work.

    Serial work (``parts`` None) adds its mean time to the visit's duration; a branch of
    parallel work returns its time as point masses for the expected maximum.
    """
    handoffs, ho = _handoff(last, roles[0], ctx)
    for pair, n in handoffs.items():
        visit.handoffs[pair] = visit.handoffs.get(pair, 0.0) + n
    visit.handoff_time += ho.mean
    pre, stretch = ctx.timing(roles, work)
    visit.pieces.append(Piece(sid, roles, work))
    visit.processing += work.mean
    shift = ctx.wait(roles) + pre
    if parts is None:  # serial: means add
        visit.duration += ho.mean + shift + work.mean * stretch
        return numeric.ZERO
    return numeric.add(ho, numeric.masses(work).scaled(stretch)).shifted(shift)
