"""Optimisation specs: decision variables, one objective, constraints, and the method's options.

An optimisation spec (YAML)::

    name: staffing_budget
    baseline: ../scenarios/b2b_baseline.yaml
    variables:                                    # dotted scenario keys
      roles.sdr.headcount: {type: integer, low: 2, high: 6}
      stages.close.delay: {type: choice, options: {paper: {dist: lognormal, mean: 6, cv: 0.8},
                                                   esign: {dist: lognormal, mean: 1, cv: 0.8}}}
      sources.inbound.rate: {type: continuous, low: 6, high: 10, step: 1}
      scenario: {type: choice, options: {current: ../scenarios/b2b_baseline.yaml,
                                         esign: ../scenarios/redesigns/electronic_contracts.yaml}}
    objective: {maximise: profit}                 # or {minimise: cycle_time_won_median}
    derived: {profit: revenue - selling_cost}     # built in; add your own
    constraints:
      budget: {max: 1500000, over: horizon}      # sum of headcount x cost_per_hour x paid hours
      headcount: {max: 14, roles: [sdr, ae, se]}
      kpis: {cycle_time_won_p90: {max: 60}}       # checked with confidence on the holdout
    search: {replications: 5, max_designs: 100, enumerate_up_to: 300}
    selection: {finalists: 5, indifference_zone: 1%, confidence: 0.95, first_stage: 10}
    holdout: {replications: 20}
    seed: 2026

A choice variable named ``scenario`` picks the scenario file that the other variables
change (for example a redesign that ``extends:`` the baseline).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from salessim.experiments.documents import KEY_PATTERN
from salessim.scenario.base import Frozen, Id

#: The variable key that chooses the scenario file.
SCENARIO_KEY = "scenario"




class IntegerVariable(Frozen):
    """Whole numbers from low to high (a headcount, a cap)."""

    type: Literal["integer"]
    low: int
    high: int

    @model_validator(mode="after")
    def _order(self) -> IntegerVariable:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class ChoiceVariable(Frozen):
    """One of named options: values written as in a scenario, or scenario files."""

    type: Literal["choice"]
    options: list[Any] | dict[str, Any] = Field(min_length=1)


class ContinuousVariable(Frozen):
    """A number from low to high, searched on a grid of ``step`` (default: 10 steps)."""

    type: Literal["continuous"]
    low: float
    high: float
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _order(self) -> ContinuousVariable:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.step is not None and (self.high - self.low) / self.step > 10_000:
            raise ValueError(f"step {self.step} makes more than 10,000 grid points")
        return self


Variable = Annotated[IntegerVariable | ChoiceVariable | ContinuousVariable,
                     Field(discriminator="type")]


class Objective(Frozen):
    """The KPI (or derived quantity) to maximise or minimise: give exactly one."""

    maximise: str | None = None
    minimise: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Objective:
        if (self.maximise is None) == (self.minimise is None):
            raise ValueError("give exactly one of maximise: KPI or minimise: KPI")
        return self

    @property
    def kpi(self) -> str:
        name = self.maximise if self.maximise is not None else self.minimise
        assert name is not None
        return name

    @property
    def sense(self) -> int:
        """+1 to maximise, -1 to minimise: a score is sense x value, higher is better."""
        return 1 if self.maximise is not None else -1


class Budget(Frozen):
    """Staff cost known before any run: sum over roles of headcount x cost_per_hour x paid
    hours, where paid hours are the role's working hours (its calendar, else the scenario's;
    every hour without one) over ``over``: the horizon, the measurement window
    (horizon - warmup, as the staff_cost KPI) or a 365-day year."""

    max: float = Field(gt=0)
    over: Literal["horizon", "window", "year"] = "horizon"
    roles: list[Id] | None = Field(default=None, min_length=1, description="default: all roles")


class HeadcountCap(Frozen):
    """Total headcount of some roles (default all) must not exceed ``max``."""

    max: int = Field(ge=0)
    roles: list[Id] | None = Field(default=None, min_length=1)


class Bound(Frozen):
    """A bound on a KPI's mean: min, max or both."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Constraints(Frozen):
    """Deterministic constraints (budget, headcount caps: never simulated when broken) and
    stochastic ones (bounds on KPI means, checked with ``confidence``)."""

    budget: Budget | None = None
    headcount: HeadcountCap | list[HeadcountCap] | None = None
    kpis: dict[str, Bound] = Field(default_factory=dict)
    confidence: float = Field(default=0.95, ge=0.5, lt=1, description="one-sided, so >= 0.5")

    @property
    def caps(self) -> list[HeadcountCap]:
        if self.headcount is None:
            return []
        return self.headcount if isinstance(self.headcount, list) else [self.headcount]


class Search(Frozen):
    """How candidates are generated.

    ``auto`` enumerates every feasible design when there are at most ``enumerate_up_to``
    of them, and otherwise runs an integer neighbourhood search that evaluates at most
    ``max_designs`` designs. Every candidate gets ``replications`` runs on the same random
    numbers (common random numbers).
    """

    method: Literal["auto", "enumerate", "neighbourhood"] = "auto"
    replications: int = Field(default=5, ge=2)
    max_designs: int = Field(default=100, ge=1)
    enumerate_up_to: int = Field(default=300, ge=1)


class Selection(Frozen):
    """Kim-Nelson ranking and selection among the best few, on fresh random numbers.

    ``indifference_zone`` is the smallest difference in the objective worth telling apart:
    a number in the objective's unit, or a percentage of the best search estimate ("1%").
    """

    finalists: int = Field(default=5, ge=1)
    indifference_zone: float | str = "1%"
    confidence: float = Field(default=0.95, gt=0, lt=1)
    first_stage: int = Field(default=10, ge=2)
    max_replications: int = Field(default=200, ge=2)

    @field_validator("indifference_zone")
    @classmethod
    def _zone(cls, value: float | str) -> float | str:
        if isinstance(value, str):
            percent = re.fullmatch(r"\s*(\d+(\.\d+)?)\s*%\s*", value)
            if percent is None or float(percent.group(1)) <= 0:
                raise ValueError(f"give a positive number or a percentage such as 1%, "
                                 f"got {value!r}")
        elif not value > 0:
            raise ValueError(f"must be positive, got {value}")
        return value

    @model_validator(mode="after")
    def _stages(self) -> Selection:
        if self.max_replications < self.first_stage:
            raise ValueError(f"max_replications ({self.max_replications}) must be at least "
                             f"first_stage ({self.first_stage})")
        return self


class Holdout(Frozen):
    """The final check: finalists and baseline on another root seed, paired."""

    replications: int = Field(default=20, ge=2)


class OptimisationSpec(Frozen):
    """An optimisation spec as written (see the module docstring)."""

    name: Id
    description: str = ""
    baseline: str
    variables: dict[str, Variable] = Field(min_length=1)
    objective: Objective
    derived: dict[Id, str] = Field(default_factory=dict)
    constraints: Constraints = Field(default_factory=Constraints)
    search: Search = Field(default_factory=Search)
    selection: Selection = Field(default_factory=Selection)
    holdout: Holdout = Field(default_factory=Holdout)
    seed: int | None = Field(default=None, ge=0, description="root seed; default: the baseline's")

    @field_validator("variables")
    @classmethod
    def _keys(cls, variables: dict[str, Any]) -> dict[str, Any]:
        for key, var in variables.items():
            if not re.match(KEY_PATTERN, key):
                raise ValueError(f"{key!r} is not a dotted scenario key such as roles.se.headcount")
            if key == SCENARIO_KEY and not isinstance(var, ChoiceVariable):
                raise ValueError("the scenario variable chooses among files: type: choice")
        return variables
