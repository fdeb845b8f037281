"""Hires: people who join a role during a run, slower while they learn the work.

A role's ``hires`` is a list of ``{count, from, ramp, cost_per_hour}``: ``count`` people
join at ``from`` (a date, time 0 being Monday 5 January 2026 as for holidays, or a time
from the start of the run such as ``"60 days"``). While they learn, the work of a new
member takes ``ramp.start`` times as long on the day they join, falling linearly to
``ramp.end`` (default 1, full speed) ``ramp.over`` later: the curve of the transition
period (``learning``), started at the hire. They are paid ``cost_per_hour`` (default the
role's) for their working hours from the hire on.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, WithJsonSchema, field_validator

from salessim.clock import LOG_EPOCH
from salessim.scenario.base import Frozen
from salessim.scenario.mechanics import transition
from salessim.scenario.units import DURATION_PATTERN, UNIT_HOURS, Duration, parse_duration


class Ramp(Frozen):
    """A new member's work takes ``start`` times as long when they join, falling linearly
    to ``end`` times at ``over`` after it (the transition period's curve)."""

    start: float = Field(gt=0)
    end: float = Field(default=1.0, gt=0)
    over: Duration = Field(gt=0)

    def factor(self, t: float) -> float:
        """The curve of :class:`~salessim.scenario.mechanics.Learning`, ``t`` after the hire."""
        return transition(self.start, self.end, self.over, t)


class Hire(Frozen):
    """``count`` people join the role at ``from`` (a date or a time from the start)."""

    count: int = Field(default=1, ge=1)
    from_: Annotated[float | date, WithJsonSchema({"anyOf": [
        {"type": "number", "minimum": 0}, {"type": "string", "format": "date"},
        {"type": "string", "pattern": DURATION_PATTERN}]})] = Field(
        alias="from", union_mode="left_to_right",
        description="a date (2026-03-01) or a time from the start ('60 days')")
    ramp: Ramp | None = None
    cost_per_hour: float | None = Field(default=None, ge=0,
                                        description="default: the role's cost_per_hour")

    @field_validator("from_", mode="before")
    @classmethod
    def _when(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, datetime):
            raise ValueError(f"a hire date is a day (2026-03-01), not a time, got {value}")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
            try:
                value = parse_duration(value, (info.context or {}).get("time_unit", "day"))
            except ValueError:
                raise ValueError("from is a date like 2026-03-01 or a time from the start "
                                 f"like '60 days', got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"from is a date like 2026-03-01 or a time from the start like "
                             f"'60 days', got {value!r}")
        if value < 0:
            raise ValueError(f"from must be 0 or later, got {value}")
        return float(value)

    def at(self, time_unit: str) -> float:
        """When the hire joins, in ``time_unit`` after time 0 (a date counts from Monday
        5 January 2026, time 0 of every run)."""
        if isinstance(self.from_, date):
            days = (self.from_ - LOG_EPOCH.date()).days
            return days * 24.0 / UNIT_HOURS[time_unit]
        return self.from_


def hire_times(hires: list[Hire], time_unit: str) -> list[tuple[float, Hire]]:
    """Each hire with the time it joins, in order of time."""
    return sorted(((h.at(time_unit), h) for h in hires), key=lambda pair: pair[0])


def rebased(roles: dict[str, Any], start: date) -> dict[str, Any]:
    """Roles as plain data (``model_dump(by_alias=True)``) with every hire date made a time
    after ``start`` (time 0 of a run that starts then, as a forecast's as-of date), in days;
    a hire dated before ``start`` joins at 0 (its ramp starts then)."""
    out = {}
    for rid, role in roles.items():
        hires = role.get("hires") or []
        if any(isinstance(h.get("from"), date) for h in hires):
            role = {**role, "hires": [
                {**h, "from": f"{max((h['from'] - start).days, 0)} days"}
                if isinstance(h.get("from"), date) else h for h in hires]}
        out[rid] = role
    return out
