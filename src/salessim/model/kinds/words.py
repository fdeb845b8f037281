"""Amounts and durations as a reader of a diagram wants them."""

from __future__ import annotations

from salessim.scenario.units import UNIT_HOURS


def money(x: float) -> str:
    """An amount with thousands separators, no decimals."""
    return f"{x:,.0f}"


def duration(x: float, unit: str) -> str:
    """A duration in the unit a reader would use: minutes, hours, or the scenario's."""
    hours = x * UNIT_HOURS[unit]
    if hours < 1:
        return f"{hours * 60:.3g} min"
    if hours < 24 or unit == "hour":
        return f"{hours:.3g} h"
    return f"{x:.3g} {unit}s"
