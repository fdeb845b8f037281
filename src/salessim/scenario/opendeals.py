"""Deals open at the start of a run: the pipeline a warm start begins from.

A scenario's ``pipeline`` lists the deals open at time 0 (the as-of date of a forecast):
each in its stage, with the time it has already spent there (``age``), its value, source
and owner. The engine (``model/warmstart.py``) puts them back where they are instead of
starting from an empty process: the rest of their time in the stage is drawn given the
time already spent, they queue for staff at time 0, and their owners keep them.

These rules need no simulation and no scipy, so ``validate`` checks them with the rest of
the scenario; ``run`` then never fails on a pipeline that validated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from pydantic import Field, model_validator

from salessim.errors import Problem, did_you_mean
from salessim.scenario.base import Frozen
from salessim.scenario.dists import Constant, Dist, Empirical, Pert, Triangular, Uniform
from salessim.scenario.units import Duration

#: A pipeline may hold at most this many open deals (each is a process at time 0).
MAX_OPEN_DEALS = 200_000


class OpenDeal(Frozen):
    """A deal open at time 0."""

    id: str = Field(min_length=1, max_length=200, description="the deal's id in the CRM")
    stage: str = Field(description="the stage it is in")
    age: Duration = Field(ge=0, description="time it has spent in that stage so far")
    value: float = Field(default=0.0, ge=0, description="money it brings if won (amount)")
    source: str | None = Field(default=None, description="its lead source (default: the first)")
    owner: str | None = Field(default=None, description="its owner in the CRM")
    created: Duration | None = Field(
        default=None, ge=0, description="time since the lead was created (default: age)")
    score: float | None = Field(default=None, ge=0, le=1, description="lead score on 0..1")
    work_done: bool = Field(
        default=False, description="the staff work of its stage is done (only the customer's "
        "side is left)")

    @model_validator(mode="after")
    def _created_before_stage(self) -> OpenDeal:
        if self.created is not None and self.created < self.age:
            raise ValueError(f"created ({self.created:g}) must be at least age ({self.age:g}): "
                             "a deal enters a stage after it is created")
        return self

    @property
    def since_created(self) -> float:
        return self.age if self.created is None else self.created


def upper_bound(dist: Dist) -> float:
    """The longest time a distribution allows (infinity for unbounded families)."""
    if isinstance(dist, Constant):
        return float(dist.value)
    if isinstance(dist, Uniform | Triangular | Pert):
        return float(dist.high)
    if isinstance(dist, Empirical):
        positive = [v for v, w in zip(dist.values, dist.weights or [1.0] * len(dist.values),
                                      strict=True) if w > 0]
        return float(max(positive))
    return math.inf


class _Stage(Protocol):
    """What the pipeline rules read of a stage (the schema's ``Stage``, which imports
    this module)."""

    @property
    def delay(self) -> Dist | None: ...


class _Scenario(Protocol):
    """What the pipeline rules read of a scenario (the schema's ``Scenario``)."""

    @property
    def pipeline(self) -> Sequence[OpenDeal]: ...
    @property
    def stages(self) -> Mapping[str, _Stage]: ...
    @property
    def sources(self) -> Mapping[str, object]: ...
    @property
    def time_unit(self) -> str: ...


def stage_clock(stage: _Stage) -> Dist | None:
    """The distribution an open deal's age in ``stage`` is measured against: its delay."""
    return stage.delay


def pipeline_problems(scenario: _Scenario) -> list[Problem]:
    """Open deals in unknown stages or sources, repeated ids, ages no draw allows."""
    problems: list[Problem] = []
    deals = scenario.pipeline
    if len(deals) > MAX_OPEN_DEALS:
        return [Problem("pipeline", f"at most {MAX_OPEN_DEALS:,} open deals", len(deals))]
    seen: set[str] = set()
    for i, deal in enumerate(deals):
        where = f"pipeline.{i}"
        if deal.id in seen:
            problems.append(Problem(f"{where}.id", "deal ids must be unique", deal.id))
        seen.add(deal.id)
        stage = scenario.stages.get(deal.stage)
        if stage is None:
            problems.append(Problem(f"{where}.stage", f"deal {deal.id!r} is in a stage the "
                                    f"scenario does not have"
                                    f"{did_you_mean(deal.stage, scenario.stages)} "
                                    f"(stages: {', '.join(scenario.stages)})", deal.stage))
            continue
        if deal.source is not None and deal.source not in scenario.sources:
            problems.append(Problem(f"{where}.source", f"deal {deal.id!r} comes from a source "
                                    f"the scenario does not have"
                                    f"{did_you_mean(deal.source, scenario.sources)} "
                                    f"(sources: {', '.join(scenario.sources)})", deal.source))
        clock = stage_clock(stage)
        if clock is not None and deal.age >= upper_bound(clock):
            problems.append(Problem(f"{where}.age", f"deal {deal.id!r} has been in stage "
                                    f"{deal.stage!r} longer than any time the stage's delay "
                                    f"allows (at most {upper_bound(clock):g} "
                                    f"{scenario.time_unit}s)", deal.age))
    return problems
