"""The scenario: frozen pydantic models of a sales process.

A scenario names its staff (``roles``), where leads come from (``sources``) and the
stages a deal passes through. Field-level rules live on the models; rules that look at
the whole process (unknown references, unreachable stages, loops with no way out) are in
:func:`process_problems`, so each can name the exact field that breaks it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from salessim.ends import END_NAMES, NOT_FORWARD
from salessim.errors import Problem, did_you_mean
from salessim.scenario import exits as exit_rules
from salessim.scenario.base import Frozen, Id
from salessim.scenario.dists import Dist
from salessim.scenario.exits import Exits, Implied, Timeout, ValueOdds, VisitOdds
from salessim.scenario.mechanics import (
    ApprovalLevel,
    Collection,
    Decay,
    Handoff,
    Learning,
    Meeting,
    NeedsWeights,
    Renewal,
    ScoreOdds,
    Staffed,
    Task,
)
from salessim.scenario.opendeals import OpenDeal, pipeline_problems
from salessim.scenario.parts import WEEKDAYS, Calendar, Role, Source, shared_calendar
from salessim.scenario.provenance import Provenance
from salessim.scenario.recycle import Recycle, nurture_stage, stage_json_schema
from salessim.scenario.units import UNIT_HOURS, Duration, TimeUnit, unit_context

__all__ = ["KIND_FIELDS", "PROBABILITY_TOLERANCE", "TERMINALS", "WEEKDAYS", "Calendar", "Id",
           "OnlyIf", "Role", "Scenario", "Source", "Stage", "process_problems",
           "shared_calendar"]

#: Where a deal can end (see :mod:`salessim.ends`). They may appear in ``next`` but are
#: never stage ids. ``no_decision``: the buyer does nothing (reported apart from lost).
TERMINALS = END_NAMES

#: Probabilities in ``next`` must sum to 1 within this tolerance (decimal input).
PROBABILITY_TOLERANCE = 1e-6

#: The ``Stage`` fields that give a stage its kind (at most one per stage); each is
#: claimed by one kind of ``salessim.model.kinds``, the kind of a stage with none is
#: delay only.
KIND_FIELDS = ("work", "parallel", "approvals", "meeting", "recycle")


class OnlyIf(Frozen):
    """A stage only some deals go through; the others skip it."""

    deal_value_above: float = Field(ge=0)
    otherwise: str | None = Field(
        default=None,
        description="where skipping deals go; by default they follow the stage's next",
    )


class Stage(Staffed):
    """One step of the sale: staff work (``role`` / ``roles``, ``work``), then customer-side
    time (``delay``), then routing (``next``); ``order: customer_first`` turns the first two
    round (a back-office stage: the customer's side, then the queue for staff and their
    work, then the decision)."""

    model_config = ConfigDict(**Frozen.model_config, json_schema_extra=stage_json_schema)

    description: str = ""
    patience: Dist | None = Field(
        default=None, description="a lead waiting longer than this for staff goes cold"
    )
    only_if: OnlyIf | None = None
    next: dict[str, float] = Field(min_length=1)
    target: float | None = Field(
        default=None, ge=0, le=1, description="the conversion this stage should reach (a goal)"
    )
    queue: Literal["fifo", "score", "deal_value", "needs"] = Field(
        default="fifo", description="order in which waiting leads get staff"
    )
    decay: Decay | None = None
    score_odds: ScoreOdds | None = None
    parallel: dict[Id, Task] | None = Field(default=None, min_length=2)
    approvals: list[ApprovalLevel] | None = Field(default=None, min_length=1)
    meeting: Meeting | None = None
    recycle: Recycle | None = Field(default=None, description="a nurture track (lead recycling)")
    order: Literal["work_first", "customer_first"] = Field(
        default="work_first",
        description="the stage's inner order: work_first (staff work, then the customer's "
        "side: a customer-facing stage) or customer_first (the customer's side, then the "
        "queue for staff and their work, then the decision: a back-office stage)",
    )
    progress: bool = Field(
        default=True,
        description="does reaching this stage count as progress (conversion) of the stage a "
        "deal leaves? false for a nurture track that holds a lead and sends it back later",
    )

    exits: Exits | None = Field(default=None, min_length=2, description="competing risks: "
                                "each way out with its own latent time (replaces next, delay)")
    timeout: Timeout | None = None
    value_odds: ValueOdds | None = None
    visit_odds: VisitOdds | None = Field(default=None, min_length=1)

    _nurture = model_validator(mode="before")(staticmethod(nurture_stage))

    @model_validator(mode="before")
    @classmethod
    def _exits_next(cls, data: Any, info: ValidationInfo) -> Any:
        return exit_rules.with_implied_next(data, info.context)

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> Any:
        data = handler(self)
        return exit_rules.drop_derived_next(data) if self.exits is not None else data

    @property
    def implied(self) -> Implied:
        """Routing shares and mean customer-side time for a deal of factor 1 on its first
        visit, time-out included (:func:`salessim.scenario.exits.implied`)."""
        return exit_rules.implied(self)

    @field_validator("next")
    @classmethod
    def _probabilities(cls, routes: dict[str, float]) -> dict[str, float]:
        for target, p in routes.items():
            if not 0 <= p <= 1:
                raise ValueError(f"probability of {target!r} must be in [0, 1], got {p}")
        total = math.fsum(routes.values())
        if abs(total - 1) > PROBABILITY_TOLERANCE:
            raise ValueError(f"probabilities must sum to 1, got {total:g} from {routes}")
        return routes

    @model_validator(mode="after")
    def _stage_rules(self) -> Stage:
        if self.patience is not None and self.work is None:
            raise ValueError("patience is how long a lead waits for staff: the stage needs work")
        kinds = [k for k in KIND_FIELDS if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(f"a stage has one kind of staff work, got {' and '.join(kinds)}")
        if (self.parallel is not None or self.approvals is not None) and self.staff:
            raise ValueError("parallel tasks and approval levels name their own roles: "
                             "drop the stage's role")
        if self.meeting is not None and self.meeting.length > 0 and not self.staff:
            raise ValueError("a meeting with a length holds staff: give the role(s) who attend")
        if self.order == "customer_first" and self.exits is None and (
                self.work is None or self.delay is None):
            raise ValueError("order: customer_first puts the customer's side (delay) before "
                             "the staff work (work): the stage needs both")
        if self.queue != "fifo" and self.work is None:
            raise ValueError(f"queue: {self.queue} orders a staff queue: the stage needs work")
        if self.decay is not None and self.work is None:
            raise ValueError("decay is measured when staff first work on the lead: "
                             "the stage needs work")
        if self.decay is not None or self.score_odds is not None:
            ends = [t for t in self.next if t in NOT_FORWARD]
            if not ends or len(ends) == len(self.next):
                raise ValueError("decay and score_odds change the odds of moving on against "
                                 "lost / no_decision: next needs both kinds of target")
        if self.patience is not None and not self.patience.mean > 0:
            raise ValueError(f"patience must be a positive duration, got mean {self.patience.mean}")
        exit_rules.check_stage(self)
        for name in kinds:  # a kind's own model may state rules on its whole stage
            check = getattr(getattr(self, name), "check_stage", None)
            if check is not None:
                check(self)
        return self


class Scenario(Frozen):
    """A whole sales process and how to run it."""

    name: str
    description: str = ""
    time_unit: TimeUnit = "day"
    horizon: Duration = Field(gt=0, description="simulated length of one replication")
    warmup: Duration = Field(default=0.0, ge=0, description="leads created before this are not counted")
    replications: int = Field(default=10, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)
    calendar: Calendar | None = None
    working_day: Duration | None = Field(default=None, gt=0, description="the clock counts "
                                         "working time only: a working day's length on it")
    roles: dict[Id, Role] = Field(default_factory=dict)
    sources: dict[Id, Source] = Field(min_length=1)
    entry: Id
    stages: dict[Id, Stage] = Field(min_length=1)
    targets: dict[str, str | float] = Field(
        default_factory=dict, description="goals a redesign should reach, checked by compare"
    )
    needs_weights: NeedsWeights = Field(default_factory=NeedsWeights)
    handoff: Handoff | None = None
    learning: Learning | None = None
    response_target: Duration | None = Field(
        default=None, gt=0, description="KPI: share of leads contacted within this time"
    )
    periods: Duration | None = Field(
        default=None, gt=0, description="length of a reporting period for per-period KPIs"
    )
    collection: Collection | None = None
    renewal: Renewal | None = None
    pipeline: list[OpenDeal] = Field(
        default_factory=list,
        description="deals open at time 0, in their stages (a warm start; see forecast)")
    # Written by `salessim calibrate`; read by run and compare (parameter uncertainty).
    provenance: Provenance | None = Field(
        default=None, description="the history a calibrated scenario came from")

    @field_validator("warmup")
    @classmethod
    def _window(cls, warmup: float, info: ValidationInfo) -> float:
        horizon = info.data.get("horizon")
        if horizon is not None and warmup >= horizon:
            raise ValueError(f"warmup ({warmup:g}) must be shorter than horizon ({horizon:g})")
        return warmup

    @property
    def hours_per_unit(self) -> float:
        return UNIT_HOURS[self.time_unit]

    @property
    def progress(self) -> dict[str, bool]:
        """Stage id -> does reaching it count as progress (for :func:`salessim.ends.is_forward`)."""
        return {sid: stage.progress for sid, stage in self.stages.items()}

    # However a scenario is built (a file, a dict in a notebook, keyword arguments), its
    # duration strings are read in its own time unit: "2 weeks" is 336 in an hour scenario.
    def __init__(self, /, **data: Any) -> None:
        self.__pydantic_validator__.validate_python(data, self_instance=self,
                                                    context=unit_context(data))

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict[str, Any] | None = None,
                       **options: Any) -> Scenario:
        if isinstance(obj, Mapping):
            # The validator calls __init__(**obj): a key that is not text (YAML's null, a
            # number) is an unknown key of the scenario, refused as pydantic refuses one.
            keys = [k for k in obj if not isinstance(k, str)]
            if keys:
                raise ValidationError.from_exception_data(cls.__name__, [
                    {"type": "extra_forbidden", "loc": (k,), "input": obj[k]} for k in keys])
        return super().model_validate(obj, context={**unit_context(obj), **(context or {})},
                                      **options)

    def calendar_of(self, role: str) -> Calendar | None:
        """The calendar ``role`` works under: its own, else the scenario's (None: all hours)."""
        return self.roles[role].calendar or self.calendar

    def shared_calendar_of(self, roles: Sequence[str]) -> Calendar | None:
        """The working hours ``roles`` share when they work together (:func:`shared_calendar`)."""
        return shared_calendar([self.calendar_of(r) for r in roles])


def process_problems(scenario: Scenario) -> list[Problem]:
    """Rules on the process as a whole, each with the field that breaks it."""
    problems: list[Problem] = []
    stages = scenario.stages
    for sid in stages:
        if sid in TERMINALS:
            problems.append(Problem(f"stages.{sid}", "a stage id must not be a terminal state "
                                    f"({', '.join(TERMINALS)})", sid))
    if scenario.entry not in stages:
        problems.append(Problem("entry", f"must name a stage{did_you_mean(scenario.entry, stages)}"
                                f" ({', '.join(stages)})", scenario.entry))
    targets = set(stages) | set(TERMINALS)
    for field, role in _role_references(scenario):
        if role not in scenario.roles:
            problems.append(Problem(field, f"unknown role{did_you_mean(role, scenario.roles)} "
                                    f"(roles: {', '.join(scenario.roles)})", role))
    if problems:
        return problems
    problems += _staff_problems(scenario)
    for sid, stage in stages.items():
        needs_score = stage.queue == "score" or stage.score_odds is not None
        if needs_score and not all(src.scored for src in scenario.sources.values()):
            field = f"stages.{sid}.queue" if stage.queue == "score" else f"stages.{sid}.score_odds"
            unscored = [k for k, src in scenario.sources.items() if not src.scored]
            problems.append(Problem(field, "uses lead scores: every source needs score or "
                                    f"score_factors (missing: {', '.join(unscored)})",
                                    stage.queue if stage.queue == "score" else "score_odds"))
        for target, field in exit_rules.targets_of(stage).items():
            if target not in targets:
                problems.append(Problem(f"stages.{sid}.{field}", "unknown stage or "
                                        f"terminal state{did_you_mean(target, targets)}", target))
        otherwise = stage.only_if.otherwise if stage.only_if is not None else None
        if otherwise is not None and otherwise not in targets:
            problems.append(Problem(f"stages.{sid}.only_if.otherwise", "unknown stage or "
                                    f"terminal state{did_you_mean(otherwise, targets)}", otherwise))
    if problems:
        return problems

    edges = {sid: _successors(stage) for sid, stage in stages.items()}
    reachable = _closure([scenario.entry], edges)
    for sid in stages:
        if sid not in reachable:
            problems.append(Problem(f"stages.{sid}", f"unreachable from entry {scenario.entry!r}", sid))
    # A stage can end only if some path leads from it to a terminal state.
    reverse: dict[str, set[str]] = {sid: set() for sid in (*stages, *TERMINALS)}
    for sid, succ in edges.items():
        for target in succ:
            reverse[target].add(sid)
    can_end = _closure(list(TERMINALS), reverse)
    for sid in stages:
        if sid in reachable and sid not in can_end:
            problems.append(Problem(f"stages.{sid}.next",
                                    "a loop with no way out: no terminal state (won, lost, "
                                    "no_decision) can be "
                                    "reached from this stage", dict(stages[sid].next)))
    return (problems or pipeline_problems(scenario)
            or exit_rules.exit_pipeline_problems(scenario))


def _staff_problems(scenario: Scenario) -> list[Problem]:
    """Staff that could never do their work: no common hours, owned work after the sale."""
    problems: list[Problem] = []
    for field, item in _staffed_items(scenario):
        if len(item.staff) > 1:
            try:
                scenario.shared_calendar_of(item.staff)
            except ValueError as exc:
                problems.append(Problem(f"{field}.roles", str(exc), list(item.staff)))
    for sid, stage in scenario.stages.items():
        if stage.meeting is not None:
            for role in stage.staff:
                if scenario.roles[role].assignment == "owner":
                    problems.append(Problem(f"stages.{sid}.role", "a meeting is attended by "
                                            "members of a pool: this role has assignment: "
                                            "owner", role))
    after_sale = (("collection.role", scenario.collection.role if scenario.collection else None),
                  ("renewal.role", scenario.renewal.role if scenario.renewal else None))
    for field, pool_role in after_sale:
        if pool_role is not None and scenario.roles[pool_role].assignment == "owner":
            problems.append(Problem(field, "work after the sale is done by a pool: this role "
                                    "has assignment: owner", pool_role))
    return problems


def _staffed_items(scenario: Scenario) -> list[tuple[str, Staffed]]:
    items: list[tuple[str, Staffed]] = []
    for sid, stage in scenario.stages.items():
        items.append((f"stages.{sid}", stage))
        items += [(f"stages.{sid}.parallel.{tid}", t) for tid, t in (stage.parallel or {}).items()]
        items += [(f"stages.{sid}.approvals.{i}", a) for i, a in enumerate(stage.approvals or [])]
    return items


def _staffed_refs(prefix: str, item: Staffed) -> list[tuple[str, str]]:
    if item.roles is not None:
        return [(f"{prefix}.roles.{i}", r) for i, r in enumerate(item.roles)]
    return [(f"{prefix}.role", item.role)] if item.role is not None else []


def _role_references(scenario: Scenario) -> list[tuple[str, str]]:
    """Every place a scenario names a role, as (field path, role id)."""
    refs: list[tuple[str, str]] = []
    for field, item in _staffed_items(scenario):
        refs += _staffed_refs(field, item)
    if scenario.handoff is not None:
        for key in scenario.handoff.pairs:
            refs += [(f"handoff.pairs.{key}", r) for r in key.split(">")]
    if scenario.learning is not None and scenario.learning.roles:
        refs += [(f"learning.roles.{i}", r) for i, r in enumerate(scenario.learning.roles)]
    if scenario.collection is not None:
        refs.append(("collection.role", scenario.collection.role))
    if scenario.renewal is not None and scenario.renewal.role is not None:
        refs.append(("renewal.role", scenario.renewal.role))
    return refs


def _successors(stage: Stage) -> set[str]:
    succ = {target for target, p in stage.next.items() if p > 0}
    succ |= set(stage.exits or ()) | ({stage.timeout.to} if stage.timeout else set())
    if stage.only_if and stage.only_if.otherwise:
        succ.add(stage.only_if.otherwise)
    return succ


def _closure(start: list[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
