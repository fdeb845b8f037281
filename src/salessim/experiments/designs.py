"""Designs: which combinations of factor levels an experiment runs.

- ``full_factorial``: every combination of the listed levels, crossed with every base
  scenario;
- ``list``: designs written out by name;
- ``random``: ``samples`` independent draws, each factor uniform over its range (or its
  listed levels);
- ``lhs``: a Latin hypercube of ``samples`` points: each factor's range is cut into
  ``samples`` strata of equal probability and every stratum is used exactly once, so even
  a few designs cover every factor's whole range;
- ``sobol``: the first ``samples`` points (a power of two) of the unscrambled Sobol
  sequence, a fixed low-discrepancy set that fills the factors' joint range more evenly
  than random points;
- ``fractional_factorial``: a 2^(k-p) fraction of the two-level factorial, from generators
  such as ``D=ABC`` (factors lettered A, B, ... in the order written) or the standard
  generators for ``fraction: p`` (``designs_fractional.STANDARD_GENERATORS``);
- ``file``: the rows of a CSV design matrix (:func:`read_matrix`).

Sampled designs are crossed with every base scenario, so scenarios are compared at the same
points. Samples come from ``numpy.random.PCG64(seed)`` with a fixed order of draws: the
same file gives the same designs on every machine.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from salessim.experiments.designs_fractional import fraction_combos


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

    @property
    def generators(self) -> list[str] | None: ...

    @property
    def fraction(self) -> int | None: ...


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
        at: file and line that wrote the values when not the spec (a CSV design matrix).
    """

    id: str
    scenario: str
    values: dict[str, Any] = field(default_factory=dict)
    source: tuple[str, ...] = ("factors",)
    at: tuple[str, int] | None = None

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


def expand(spec: SpecLike, labels: list[str], matrix: Path | None = None) -> list[DesignPoint]:
    """The designs of an experiment, in their fixed order.

    Args:
        spec: the experiment as written.
        labels: labels of the base scenarios, in order.
        matrix: the CSV design matrix of a ``file`` design, resolved to a path.

    Raises:
        ValueError: the design cannot be built from the factors as given.
    """
    kind = spec.design.kind
    factors = spec.factors
    if kind == "file":
        if factors:
            raise ValueError("a file design takes its factors from the CSV's columns: "
                             "leave factors out (use fixed for values common to every design)")
        if matrix is None:
            raise ValueError("a file design needs file: the CSV design matrix")
        return _matrix_points(read_matrix(matrix), labels, matrix)
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
    elif kind == "fractional_factorial":
        combos = fraction_combos(factors, spec.design.generators, spec.design.fraction)
    else:
        if not factors:
            raise ValueError(f"a {kind} design samples factors: give at least one")
        n = spec.design.samples or 0
        _check_count(len(labels) * n)
        rng = np.random.Generator(np.random.PCG64(spec.design.seed))
        columns: dict[str, list[Any]] = {}
        sobol = _sobol(n, len(factors)) if kind == "sobol" else None
        for j, (key, levels) in enumerate(factors.items()):
            if sobol is not None:
                u = sobol[:, j]
            elif kind == "lhs":
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


def _sobol(n: int, d: int) -> np.ndarray:
    """The first n points of the unscrambled Sobol sequence in d dimensions (Joe and Kuo's
    direction numbers, as scipy.stats.qmc has them): fixed, so no seed. n must be a power of
    two, where each dimension's points fall one in each of n equal strata."""
    if n & (n - 1):
        raise ValueError(f"a sobol design needs samples a power of two (its points are balanced "
                         f"only then), got {n}")
    from scipy.stats import qmc  # only for this kind

    return np.asarray(qmc.Sobol(d, scramble=False).random(n))


def _parse_cell(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


Row = tuple[str | None, str | None, dict[str, Any], int]


def read_matrix(path: Path) -> list[Row]:
    """The rows of a CSV design matrix: (design id or None, scenario or None, values, line).

    The header names the factors (dotted scenario keys); optional columns ``design`` (the
    designs' names) and ``scenario`` (a base scenario's label). Cells are numbers where they
    read as numbers, text otherwise.

    Raises:
        ValueError: naming the file, line and column of an empty cell, a repeated design
            name, or a file with no rows.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the design matrix ({exc.strerror})") from None
    if len(lines) < 2:
        raise ValueError(f"{path}: a design matrix needs a header and at least one row")
    header = [h.strip() for h in lines[0]]
    rows, seen = [], set()
    for number, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ValueError(f"{path}:{number}: {len(cells)} cells, the header has {len(header)}")
        values: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if not cell.strip():
                raise ValueError(f"{path}:{number}: column {name!r} is empty")
            values[name] = _parse_cell(cell.strip())
        design = values.pop("design", None)
        scenario = values.pop("scenario", None)
        if design is not None:
            design = str(design)
            if not re.match(r"^[A-Za-z0-9_\-]+$", design) or design in seen:
                raise ValueError(f"{path}:{number}: design name {design!r} is repeated or not "
                                 "letters, digits, _ and -")
            seen.add(design)
        rows.append((design, None if scenario is None else str(scenario), values, number))
    return rows


def _matrix_points(rows: list[Row], labels: list[str], path: Path) -> list[DesignPoint]:
    """Named rows keep their name and scenario (default: the first); unnamed rows are
    crossed with every base scenario and numbered ``d000``..."""
    where = ("design", "file")
    if all(name is not None for name, *_ in rows):
        return [DesignPoint(str(name), scenario or labels[0], values, where, (str(path), line))
                for name, scenario, values, line in rows]
    if any(name is not None or scenario is not None for name, scenario, *_ in rows):
        raise ValueError("a design matrix names every design in its design column or none, "
                         "and a scenario column needs the design column")
    _check_count(len(labels) * len(rows))
    ids = _ids(len(labels) * len(rows))
    return [DesignPoint(ids[i], label, row[2], where, (str(path), row[3]))
            for i, (label, row) in enumerate(itertools.product(labels, rows))]
