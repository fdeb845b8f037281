"""The parts of a scenario beside its stages: staff calendars, roles and lead sources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from salessim.scenario.base import Frozen, Id
from salessim.scenario.dists import Constant, Dist
from salessim.scenario.hires import Hire
from salessim.scenario.mechanics import ArrivalProfile, Needs, ScoreFactor

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")




Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _workweek() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class Calendar(Frozen):
    """Staff working time. Time 0 of a run is a Monday at 00:00."""

    workdays: list[Weekday] = Field(default_factory=_workweek, min_length=1)
    hours: tuple[float, float] = (9.0, 17.0)
    holidays: list[date] = Field(
        default_factory=list, description="dates with no work; time 0 is Monday 2026-01-05"
    )

    @field_validator("workdays")
    @classmethod
    def _unique(cls, days: list[str]) -> list[str]:
        if len(set(days)) != len(days):
            raise ValueError(f"workdays must not repeat a day, got {days}")
        return days

    @field_validator("hours")
    @classmethod
    def _day(cls, hours: tuple[float, float]) -> tuple[float, float]:
        start, end = hours
        if not 0 <= start < end <= 24:
            raise ValueError(f"hours must be [start, end] with 0 <= start < end <= 24, got {list(hours)}")
        return hours

    @property
    def hours_per_week(self) -> float:
        return len(self.workdays) * (self.hours[1] - self.hours[0])


def shared_calendar(calendars: Sequence[Calendar | None]) -> Calendar | None:
    """When all of several staff calendars are working: the days and hours they share.

    ``None`` (around the clock) shares everything. Raises ValueError when they never overlap.
    """
    given = [c for c in calendars if c is not None]
    if len(given) <= 1:
        return given[0] if given else None
    days = [d for d in WEEKDAYS if all(d in c.workdays for c in given)]
    start = max(c.hours[0] for c in given)
    end = min(c.hours[1] for c in given)
    if not days or start >= end:
        raise ValueError("these roles' calendars have no working time in common")
    holidays = sorted({d for c in given for d in c.holidays})
    return Calendar(workdays=days, hours=(start, end), holidays=holidays)




class Role(Frozen):
    """A pool of staff who do the same kind of work."""

    headcount: int = Field(ge=1)
    cost_per_hour: float = Field(default=0.0, ge=0)
    description: str = ""
    assignment: Literal["pool", "owner"] = Field(
        default="pool",
        description="pool: any free member takes the next task; owner: a deal keeps one member",
    )
    owner_choice: Literal["least_loaded", "round_robin"] = "least_loaded"
    max_open_deals: int | None = Field(default=None, ge=1, description="cap per owner")
    calendar: Calendar | None = Field(default=None, description="overrides the scenario's")
    hires: list[Hire] = Field(default_factory=list,
                              description="people who join during the run (see hires.py)")

    @model_validator(mode="after")
    def _owner(self) -> Role:
        if self.max_open_deals is not None and self.assignment != "owner":
            raise ValueError("max_open_deals caps deals per owner: needs assignment: owner")
        return self


class Source(Frozen):
    """A channel leads arrive from, as a Poisson process."""

    rate: float = Field(gt=0, description="leads per time unit")
    cost_per_lead: float = Field(default=0.0, ge=0)
    deal_value: Dist = Field(
        default_factory=lambda: Constant(value=0.0), description="money a won deal brings"
    )
    description: str = ""
    score: Dist | None = Field(default=None, description="lead score on 0..1 (clipped)")
    score_factors: dict[Id, ScoreFactor] | None = Field(
        default=None, min_length=1,
        description="score as the weighted mean of factors on 0..1 (behaviour, firmographics)",
    )
    needs: Needs | None = None
    profile: ArrivalProfile | None = None

    @model_validator(mode="after")
    def _one_score(self) -> Source:
        if self.score is not None and self.score_factors is not None:
            raise ValueError("give either score or score_factors, not both")
        if self.score_factors is not None and sum(f.weight for f in self.score_factors.values()) <= 0:
            raise ValueError("score_factors weights must have a positive sum")
        return self

    @property
    def scored(self) -> bool:
        return self.score is not None or self.score_factors is not None

    @field_validator("deal_value", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        # Money, not time: a unit such as "3 days" would be converted silently.
        items = value.items() if isinstance(value, dict) else [("value", value)]
        for key, item in items:
            if isinstance(item, str) and key != "dist":
                raise ValueError(f"deal_value is an amount of money: give a number, not {item!r}")
        return value
