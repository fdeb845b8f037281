"""Time units and durations written with their own unit (``"30 minutes"``, ``"3 days"``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationInfo, WithJsonSchema

TimeUnit = Literal["minute", "hour", "day", "week"]

#: Length of each unit in hours.
UNIT_HOURS: dict[str, float] = {"minute": 1 / 60, "hour": 1.0, "day": 24.0, "week": 168.0}

_ALIASES = {
    "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "w": "week", "wk": "week", "week": "week", "weeks": "week",
}
#: A decimal number as the loader reads it (sign, fraction and exponent optional).
NUMBER_PATTERN = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*({NUMBER_PATTERN})\s*([A-Za-z]+)\s*$")


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


#: What :func:`parse_duration` reads, as a JSON Schema pattern (ECMA 262: no flags, so each
#: unit is spelled in any case letter by letter).
DURATION_PATTERN = (rf"^\s*{NUMBER_PATTERN}\s*(?:"
                    + "|".join(_any_case(a) for a in sorted(_ALIASES, key=len, reverse=True))
                    + r")\s*$")


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Express ``value`` given in ``from_unit`` in ``to_unit``."""
    return value * UNIT_HOURS[from_unit] / UNIT_HOURS[to_unit]


def parse_duration(text: str, time_unit: str) -> float:
    """Parse ``"30 minutes"`` into a number of ``time_unit``.

    Raises:
        ValueError: the text is not a number followed by a known unit.
    """
    match = _PATTERN.match(text)
    if not match or match.group(2).lower() not in _ALIASES:
        raise ValueError(
            f"a duration is a number, or a number with a unit "
            f"(minutes, hours, days, weeks), like '30 minutes'; got {text!r}"
        )
    return convert(float(match.group(1)), _ALIASES[match.group(2).lower()], time_unit)


def _duration(value: object, info: ValidationInfo) -> object:
    if isinstance(value, str):
        return parse_duration(value, (info.context or {}).get("time_unit", "day"))
    return value


#: A number in the scenario's time unit, or a string with its own unit.
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "a number in the scenario's time_unit, or a string like '30 minutes'",
        }
    ),
]


def unit_context(data: Any) -> dict[str, str]:
    """The validation context that reads duration strings in ``data``'s own ``time_unit``
    (a mapping or a model; an unknown unit falls back to days and is refused by the field)."""
    unit = (data.get("time_unit", "day") if isinstance(data, Mapping)
            else getattr(data, "time_unit", "day"))
    return {"time_unit": unit if unit in UNIT_HOURS else "day"}
