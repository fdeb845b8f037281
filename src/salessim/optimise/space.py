"""The design space of an optimisation: decision variables' levels, designs, expressions.

Every decision variable is a finite, ordered list of levels (:class:`Domain`); a design
(:class:`Candidate`) is a tuple of level indices with its scenario and its deterministic
constraint verdicts; an objective or derived quantity is a linear :class:`Expression` over
KPIs; :func:`staff_budget` is the budget constraint's staff cost.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from salessim.metrics import staff_cost_of
from salessim.optimise.spec import ChoiceVariable, ContinuousVariable, IntegerVariable
from salessim.scenario.schema import Scenario
from salessim.scenario.units import convert

#: Derived quantities every problem knows, unless its spec redefines them.
BUILTIN_DERIVED = {"profit": "revenue - selling_cost"}

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
#: A term: ``number * KPI``, ``KPI`` or ``number``.
_TERM = re.compile(rf"^(?:{_NUMBER}\s*\*\s*)?([A-Za-z_][A-Za-z0-9_.\-]*)$|^{_NUMBER}$")


@dataclass(frozen=True)
class Domain:
    """The levels of one decision variable, in order, with labels for tables."""

    key: str
    levels: tuple[Any, ...]
    labels: tuple[str, ...]
    ordered: bool  # integer and continuous levels have neighbours; choice options do not

    def nearest(self, value: Any) -> int:
        """The index of the level closest to ``value`` (a choice: equal, else the first)."""
        if not self.ordered:
            return next((i for i, v in enumerate(self.levels) if v == value), 0)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return 0
        return int(np.argmin([abs(float(v) - float(value)) for v in self.levels]))


@dataclass(frozen=True)
class Candidate:
    """One design: variable values, its scenario, and its deterministic constraint verdicts.

    Attributes:
        index: level index of every variable (the design's place on the lattice).
        values: variable key -> value.
        label: a readable name (``sdr=4 ae=6 se=2``).
        scenario: the validated scenario (None for an infeasible design: never run).
        budget: its staff cost over the budget's period (nan without a budget).
        violations: deterministic constraints it breaks, in words (empty: feasible).
    """

    index: tuple[int, ...]
    values: dict[str, Any]
    label: str
    scenario: Scenario | None
    budget: float = math.nan
    violations: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class Expression:
    """A linear combination of KPIs: ``revenue - selling_cost``, ``2 * won + 10``."""

    text: str
    terms: tuple[tuple[float, str | None], ...]  # (coefficient, KPI or None for a constant)

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse ``term (+|- term)*`` where a term is a KPI, a number, or ``number * KPI``.

        Operators between terms need spaces around them, since ids may contain ``-``
        (``conversion.follow-up``); a leading sign needs none.

        Raises:
            ValueError: the text is not of that form.
        """
        body = text.strip()
        if not body.startswith(("+", "-")):
            body = "+ " + body
        parts = re.split(r"(?:^|\s+)([+-])\s*", body)
        terms: list[tuple[float, str | None]] = []
        for sign, term in zip(parts[1::2], parts[2::2], strict=True):
            match = _TERM.match(term.strip())
            if not term.strip() or match is None:
                raise ValueError(f"cannot read {term!r} in {text!r}: write KPIs and numbers "
                                 "joined by + and -, such as revenue - selling_cost")
            s = 1.0 if sign == "+" else -1.0
            if match.group(3) is not None:
                terms.append((s * float(match.group(3)), None))
            else:
                coef = float(match.group(1)) if match.group(1) else 1.0
                terms.append((s * coef, match.group(2)))
        return cls(text, tuple(terms))

    @property
    def kpis(self) -> list[str]:
        return [name for _, name in self.terms if name is not None]

    def __call__(self, kpis: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(kpis.values()))) if kpis else 0
        out = np.zeros(n)
        for coef, name in self.terms:
            out = out + coef * (kpis[name] if name is not None else 1.0)
        return out


def short_key(key: str) -> str:
    """``roles.sdr.headcount`` -> ``sdr``: the part of a key that tells designs apart."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "roles" and parts[2] == "headcount":
        return parts[1]
    return key


def staff_budget(
    scenario: Scenario, over: str = "horizon", roles: list[str] | None = None
) -> float:
    """Sum over roles of headcount x cost_per_hour x paid hours over a period.

    Args:
        scenario: the design's scenario.
        over: ``horizon`` (0 to horizon), ``window`` (warmup to horizon) or ``year`` (365 days).
        roles: the roles counted (default all).
    """
    start, end = {
        "horizon": (0.0, scenario.horizon),
        "window": (scenario.warmup, scenario.horizon),
        "year": (0.0, convert(365.0, "day", scenario.time_unit)),
    }[over]
    return staff_cost_of(scenario, start, end, roles)


def domain_of(key: str, var: Any) -> Domain:
    if isinstance(var, IntegerVariable):
        levels: tuple[float, ...] = tuple(range(var.low, var.high + 1))
        return Domain(key, levels, tuple(str(v) for v in levels), True)
    if isinstance(var, ContinuousVariable):
        step = var.step or ((var.high - var.low) / 10 or 1.0)
        n = int(math.floor((var.high - var.low) / step + 1e-9)) + 1
        levels = tuple(round(var.low + i * step, 12) for i in range(n))
        return Domain(key, levels, tuple(f"{v:g}" for v in levels), True)
    assert isinstance(var, ChoiceVariable)
    if isinstance(var.options, dict):
        return Domain(key, tuple(var.options.values()), tuple(var.options), False)
    return Domain(key, tuple(var.options), tuple(str(v) for v in var.options), False)
