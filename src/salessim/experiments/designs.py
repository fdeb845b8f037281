"""Designs: which combinations of factor levels an experiment runs.

- ``full_factorial``: every combination of the listed levels, crossed with every base
  scenario;
- ``list``: designs written out by name;
- ``random``: ``samples`` independent draws, each factor uniform over its range (or its
  listed levels);
- ``lhs``: a Latin hypercube of ``samples`` points: each factor's range is cut into
  ``samples`` strata of equal probability and every stratum is used exactly once, so even
  a few designs cover every factor's whole range.

Sampled designs are crossed with every base scenario, so scenarios are compared at the same
points. Samples come from ``numpy.random.PCG64(seed)`` with a fixed order of draws: the
same file gives the same designs on every machine.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class DesignLike(Protocol):
    """What :func:`expand` reads of ``design:`` (``spec.DesignSpec``; spec imports this module)."""

    @property
    def kind(self) -> str: ...

    @property
    def samples(self) -> int | None: ...

    @property
    def seed(self) -> int: ...

    @property
    def designs(self) -> Mapping[str, Mapping[str, Any]] | None: ...


class SpecLike(Protocol):
    """What :func:`expand` reads of an experiment (``spec.ExperimentSpec``)."""

    @property
    def design(self) -> DesignLike: ...

    @property
    def factors(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Range:
    """A factor's range for sampled designs: uniform on [low, high], integers if asked."""

    low: float
    high: float
    integer: bool = False

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any]) -> Range:
        """Validate ``{low: .., high: .., integer: ..}`` (raises ValueError)."""
        unknown = set(mapping) - {"low", "high", "integer"}
        if unknown:
            raise ValueError(f"unknown range key(s) {sorted(unknown)}; "
                             "a range is {low: .., high: .., integer: true|false}")
        if "low" not in mapping or "high" not in mapping:
            raise ValueError("a range needs low and high")
        low, high, integer = mapping["low"], mapping["high"], mapping.get("integer", False)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not math.isfinite(low) or not math.isfinite(high):
            raise ValueError(f"low and high must be numbers, got {low!r}, {high!r}")
        if low > high:
            raise ValueError(f"low ({low}) must not exceed high ({high})")
        if not isinstance(integer, bool):
            raise ValueError(f"integer must be true or false, got {integer!r}")
        if integer and (low != int(low) or high != int(high)):
            raise ValueError(f"an integer range needs whole bounds, "
                             f"got {low}, {high}")
        return cls(float(low), float(high), integer)

    def at(self, u: float) -> int | float:
        """The value at quantile ``u`` in [0, 1) of the uniform distribution on the range."""
        if self.integer:
            n = int(self.high - self.low) + 1
            return int(self.low) + min(int(u * n), n - 1)
        return float(self.low + u * (self.high - self.low))


@dataclass(frozen=True)
class DesignPoint:
    """One design: an id, its base scenario's label, and its factor values.

    Attributes:
        id: stable name (``d000`` .. for generated designs, the given name for a list).
        scenario: label of the base scenario.
        values: dotted scenario key -> value.
        source: where the values were written in the spec (for error messages).
    """

    id: str
    scenario: str
    values: dict[str, Any] = field(default_factory=dict)
    source: tuple[str, ...] = ("factors",)

    def origin(self, key: str) -> tuple[str, ...]:
        """The spec path that wrote ``key``'s value."""
        return (*self.source, key)


def _levels_at(levels: list[Any] | Range, u: float) -> Any:
    if isinstance(levels, Range):
        return levels.at(u)
    return levels[min(int(u * len(levels)), len(levels) - 1)]


#: Most designs an experiment may have (each is a validated scenario held in memory).
MAX_DESIGNS = 100_000


def _check_count(n: int) -> None:
    if n > MAX_DESIGNS:
        raise ValueError(f"{n:,} designs, above the limit of {MAX_DESIGNS:,}: split the "
                         "experiment, or sample it with kind: random or lhs")


def _ids(n: int, prefix: str = "d") -> list[str]:
    width = max(3, len(str(n - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def expand(spec: SpecLike, labels: list[str]) -> list[DesignPoint]:
    """The designs of an experiment, in their fixed order.

    Args:
        spec: the experiment as written.
        labels: labels of the base scenarios, in order.

    Raises:
        ValueError: the design cannot be built from the factors as given.
    """
    kind = spec.design.kind
    factors = spec.factors
    if kind == "list":
        if factors:
            raise ValueError("a list design does not use factors: write each design's values "
                             "under design.designs")
        points = []
        for name, values in (spec.design.designs or {}).items():
            values = dict(values)
            label = values.pop("scenario", labels[0])
            points.append(DesignPoint(name, label, values, ("design", "designs", name)))
        return points

    if kind == "full_factorial":
        ranged = [k for k, v in factors.items() if isinstance(v, Range)]
        if ranged:
            raise ValueError(f"a full factorial needs lists of levels; {ranged[0]!r} is a range "
                             "(sample it with kind: random or lhs, or list its levels)")
        _check_count(len(labels) * math.prod(len(v) for v in factors.values()))
        combos = [dict(zip(factors, combo, strict=True))
                  for combo in itertools.product(*factors.values())]
    else:
        if not factors:
            raise ValueError(f"a {kind} design samples factors: give at least one")
        n = spec.design.samples or 0
        _check_count(len(labels) * n)
        rng = np.random.Generator(np.random.PCG64(spec.design.seed))
        columns: dict[str, list[Any]] = {}
        for key, levels in factors.items():
            if kind == "lhs":
                # One draw per stratum, strata in random order: every stratum used once.
                u = (rng.permutation(n) + rng.random(n)) / n
            else:
                u = rng.random(n)
            columns[key] = [_levels_at(levels, float(x)) for x in u]
        combos = [{k: columns[k][i] for k in factors} for i in range(n)]

    ids = _ids(len(labels) * len(combos))
    points = [
        DesignPoint(ids[i], label, values)
        for i, (label, values) in enumerate(itertools.product(labels, combos))
    ]
    return points
