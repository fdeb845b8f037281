"""One visit to a stage, in expectation: one small function per kind of stage.

Flow analysis walks a deal's visits as a Markov chain on (stage, last role that worked on
the deal); the last role decides hand-offs, exactly as the engine counts them (staff work
by another role than the previous work's first-named role). For one visit, given the
deal's value and that last role, a kind's function returns a :class:`Visit`: its expected
duration without queues (or with the expected queue waits a :class:`Context` supplies),
its processing part (staff working time on the critical path), its customer-side time,
the pieces of staff work it asks for, its hand-offs and where the last role ends up.

Kinds: staffed work, parallel tasks (an AND-split and join: the expected maximum of the
branches), approval chain (the levels the deal's value reaches, in order), the regular
meeting (half its interval plus its length), delay only, and the skip rule (``only_if``), which is checked first. A new kind of stage adds one
function and one row of :data:`STAGE_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from salessim.scenario.dists import Dist
from salessim.scenario.schema import Scenario, Stage
from salessim.teaching import numeric

Last = str | None


@dataclass(frozen=True)
class Piece:
    """One piece of staff work: the roles it holds at once and its working time."""

    stage: str
    roles: tuple[str, ...]
    work: Dist


@dataclass
class Visit:
    """What one visit costs, in expectation (times in the scenario's unit)."""

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
        self._timing: dict[tuple, tuple[float, float]] = {}
        self.visits: dict[tuple, Visit] = {}

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


def _handoff(last: Last, primary: str, ctx: Context) -> tuple[dict, numeric.Masses]:
    if last is None or last == primary:
        return {}, numeric.ZERO
    dist = ctx.handoff_dist(last, primary)
    return {(last, primary): 1.0}, numeric.masses(dist) if dist is not None else numeric.ZERO


def _staff(sid: str, roles: tuple[str, ...], work: Dist, last: Last, ctx: Context, visit: Visit,
           parts: list[numeric.Masses] | None = None) -> numeric.Masses:
    """Add one piece of staff work to ``visit``; returns its time to the end of the work."""
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


def skip_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit | None:
    """The skip rule: a deal at or below ``only_if.deal_value_above`` skips the stage."""
    if stage.only_if is None or value > stage.only_if.deal_value_above:
        return None
    return Visit("skip rule", last={last: 1.0}, skipped=True, otherwise=stage.only_if.otherwise)


def work_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """Staffed work: the stage's roles held together for its work."""
    visit = Visit("staffed work")
    _staff(sid, stage.staff, stage.work, last, ctx, visit)
    visit.last = {stage.staff[0]: 1.0}
    return visit


def approval_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """An approval chain: each level whose threshold the deal's value is above, in order."""
    visit = Visit("approval chain")
    for level in stage.approvals:
        if not value > level.above:
            continue
        if level.work is not None:
            _staff(sid, level.staff, level.work, last, ctx, visit)
            last = level.staff[0]
        if level.delay is not None:
            visit.duration += level.delay.mean
            visit.delay += level.delay.mean
            visit.delays += 1
    visit.last = {last: 1.0}
    return visit


def parallel_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """Parallel tasks: every branch starts together, the deal moves on when all are done.

    The visit lasts the expected maximum of the branches (hand-off + wait + work +
    delay each); the last role is the one whose work finishes last.
    """
    visit = Visit("parallel tasks")
    branches, work_ends, workers = [], [], []
    work_only = []
    for task in stage.parallel.values():
        end = numeric.ZERO
        if task.work is not None:
            end = _staff(sid, task.staff, task.work, last, ctx, visit, parts=[])
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


def meeting_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """A regular meeting: wait for the next one (half the interval, on average, for
    arrivals at random times when every meeting has room), then the meeting's length.

    A meeting's staff time is per meeting, not per deal, so it adds no piece of work;
    with a capacity, deals may wait for later meetings and the half interval is a floor.
    """
    meeting = stage.meeting
    visit = Visit("meeting", last={last: 1.0})
    visit.duration = meeting.every / 2 + meeting.length
    visit.processing = meeting.length
    return visit


def delay_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """No staff time (a stage may name an owning role without work): only its delay."""
    return Visit("delay only", last={last: 1.0})


#: (kind, does a stage have it, its visit function), tried in order after the skip rule.
STAGE_KINDS: list[tuple[str, Callable[[Stage], bool], Callable[..., Visit]]] = [
    ("approval chain", lambda s: s.approvals is not None, approval_visit),
    ("parallel tasks", lambda s: s.parallel is not None, parallel_visit),
    ("staffed work", lambda s: s.work is not None, work_visit),
    ("meeting", lambda s: s.meeting is not None, meeting_visit),
    ("delay only", lambda s: True, delay_visit),
]


def stage_kind(stage: Stage) -> str:
    return next(name for name, has, _ in STAGE_KINDS if has(stage))


def visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """One visit to ``stage`` by a deal of ``value`` whose last staff work was ``last``."""
    skipped = skip_visit(stage, sid, value, last, ctx)
    if skipped is not None:
        return skipped
    # Only approvals depend on the value beyond the skip rule: others are shared by classes.
    key = (sid, last, value if stage.approvals is not None else None)
    if key not in ctx.visits:
        ctx.visits[key] = _visit(stage, sid, value, last, ctx)
    return ctx.visits[key]


def _visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    out = next(fn for _, has, fn in STAGE_KINDS if has(stage))(stage, sid, value, last, ctx)
    if stage.delay is not None:  # the stage's own customer-side time, after its staff work
        out.duration += stage.delay.mean
        out.delay += stage.delay.mean
        out.delays += 1
    return out
