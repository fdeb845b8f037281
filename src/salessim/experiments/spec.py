"""Experiment files: which scenarios, which factors, which design, how many replications.

An experiment file (YAML, in ``experiments/``)::

    name: se_headcount_by_delay
    scenarios: ../scenarios/b2b_baseline.yaml      # or a list, or a map label -> file
    factors:
      roles.se.headcount: [1, 2, 3]                 # levels of a dotted scenario key
      stages.close.delay.mean: [1, 3, 6]
    design: {kind: full_factorial}                  # or list, random, lhs
    replications: 10
    seed: 2026
    kpis: [win_rate, cycle_time_won_median, revenue]

:func:`load_experiment` reads it, expands the design, and validates the scenario of every
design before anything runs, so a bad level is reported (file, line, field, rule, value)
before the first replication.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from salessim.errors import ScenarioError
from salessim.experiments.designs import DesignPoint, Range, expand
from salessim.experiments.documents import (
    KEY_PATTERN,
    design_scenario,
    kpi_problem,
    problem_at,
    read_spec,
    relative_file,
)
from salessim.scenario.base import Frozen, Id
from salessim.scenario.load import (
    Document,
    located_problems,
    read_document,
    resolved,
    scenario_hash,
    validate_document,
)
from salessim.scenario.schema import Scenario

#: Columns of the result table that a factor may not be named after.
RESERVED_COLUMNS = (
    "experiment", "design", "scenario", "scenario_hash", "replication", "kpi", "value",
    "status", "error",
)




def _check_key(key: str) -> str:
    if not re.match(KEY_PATTERN, key):
        raise ValueError(f"{key!r} is not a dotted scenario key such as roles.se.headcount")
    if key in RESERVED_COLUMNS:
        raise ValueError(f"{key!r} names a column of the result table; it cannot be a factor")
    return key


#: The largest whole number a level may be: the result table stores whole levels as
#: 64-bit integers.
MAX_INT_LEVEL = 2**63 - 1


def _check_whole(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_LEVEL:
        raise ValueError(f"a whole-number level must lie within +-{MAX_INT_LEVEL:,} (a 64-bit "
                         f"integer, as the result table stores it), got {value}")


def _check_levels(levels: Any) -> list[Any] | Range:
    if isinstance(levels, list):
        if not levels:
            raise ValueError("a factor needs at least one level")
        for level in levels:
            _check_whole(level)
        return levels
    if isinstance(levels, dict):
        rng = Range.from_mapping(levels)
        if rng.integer:
            for bound in (rng.low, rng.high):
                _check_whole(int(bound))
        return rng
    raise ValueError("give a list of levels or a range {low: .., high: .., integer: true|false}")


FactorKey = Annotated[str, AfterValidator(_check_key)]
Levels = Annotated[Any, AfterValidator(_check_levels)]


class DesignSpec(Frozen):
    """How the factors' levels are combined into designs.

    Attributes:
        kind: ``full_factorial`` (every combination of the levels), ``list`` (named designs
            written out), ``random`` (independent uniform samples), ``lhs`` (Latin hypercube
            samples: each factor's range cut into ``samples`` equal strata, each used once),
            ``sobol`` (the first ``samples`` points of the unscrambled Sobol sequence),
            ``fractional_factorial`` (a 2^(k-p) fraction) or ``file`` (a CSV design matrix).
        samples: number of designs drawn (random, lhs, sobol).
        seed: seed of the sampling (random, lhs); the designs are the same on every machine.
        designs: for ``list``: design name -> {dotted key: value, scenario: label}.
        generators: for ``fractional_factorial``: ``["D=ABC", ...]``, factors lettered A, B,
            ... in the order written.
        fraction: for ``fractional_factorial``: p, to use the standard generators.
        file: for ``file``: the CSV design matrix, relative to the experiment file.
    """

    kind: Literal["full_factorial", "list", "random", "lhs", "sobol", "fractional_factorial",
                  "file"] = "full_factorial"
    samples: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    designs: dict[Id, dict[str, Any]] | None = Field(default=None, min_length=1)
    generators: list[str] | None = Field(default=None, min_length=1)
    fraction: int | None = Field(default=None, ge=1)
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _file_kind(cls, data: Any) -> Any:
        # design: {file: matrix.csv} reads as kind: file.
        if isinstance(data, dict) and "file" in data and "kind" not in data:
            return {**data, "kind": "file"}
        return data

    @model_validator(mode="after")
    def _kind(self) -> DesignSpec:
        fractional = self.kind == "fractional_factorial"
        if fractional and (self.generators is None) == (self.fraction is None):
            raise ValueError("a fractional_factorial design needs generators: [D=ABC, ...] or "
                             "fraction: p (standard generators), one of the two")
        if not fractional and (self.generators is not None or self.fraction is not None):
            raise ValueError(f"generators and fraction are for fractional_factorial designs, "
                             f"not {self.kind}")
        if (self.kind == "file") != (self.file is not None):
            raise ValueError("a file design needs file: a CSV design matrix" if self.file is None
                             else f"file is for file designs, not {self.kind}")
        if self.kind == "sobol" and "seed" in self.model_fields_set:
            raise ValueError("a sobol design is the fixed (unscrambled) Sobol sequence: it "
                             "takes no seed")
        if self.kind in ("random", "lhs", "sobol") and self.samples is None:
            raise ValueError(f"a {self.kind} design needs samples: the number of designs to draw")
        if self.kind not in ("random", "lhs", "sobol") and self.samples is not None:
            raise ValueError(f"samples is for random, lhs and sobol designs, not {self.kind}")
        if self.kind == "list" and self.designs is None:
            raise ValueError("a list design needs designs: name -> {key: value}")
        if self.kind != "list" and self.designs is not None:
            raise ValueError(f"designs is for kind: list, not {self.kind}")
        return self


class ExperimentSpec(Frozen):
    """An experiment file as written (see the module docstring)."""

    name: Id
    description: str = ""
    scenarios: str | list[str] | dict[Id, str]
    factors: dict[FactorKey, Levels] = Field(default_factory=dict)
    fixed: dict[FactorKey, Any] = Field(
        default_factory=dict, description="dotted key -> value set in every design"
    )
    design: DesignSpec = Field(default_factory=DesignSpec)
    replications: int | None = Field(default=None, ge=1, le=100_000,
                                     description="default: the scenario's")
    seed: int | None = Field(default=None, ge=0, description="root seed; default: the scenario's")
    kpis: list[str] | None = Field(default=None, min_length=1, description="default: all")

    @field_validator("scenarios")
    @classmethod
    def _some(cls, value: Any) -> Any:
        if not value:
            raise ValueError("name at least one scenario file")
        return value

    def scenario_files(self) -> dict[str, str]:
        """Label -> file as written (a label is the file's stem unless given)."""
        if isinstance(self.scenarios, dict):
            return dict(self.scenarios)
        files = [self.scenarios] if isinstance(self.scenarios, str) else list(self.scenarios)
        labels = [re.sub(r"[^A-Za-z0-9_\-]", "_", Path(f).stem) for f in files]
        if len(set(labels)) != len(labels):
            labels = [f"{label}_{i}" for i, label in enumerate(labels)]
        return dict(zip(labels, files, strict=True))




@dataclass(frozen=True)
class Task:
    """One run of a sweep: a design's replication. Picklable, so any executor can ship it."""

    experiment: str
    design: str
    scenario: Scenario
    replication: int
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.design, self.replication)


@dataclass(frozen=True)
class Experiment:
    """A loaded experiment: its designs, each with a validated scenario.

    Attributes:
        spec: the file as written.
        path: where it was read from.
        designs: the designs in their fixed order.
        scenarios: design id -> its validated scenario.
        hashes: design id -> SHA-256 of its resolved scenario.
        bases: scenario label -> the resolved base scenario (plain data).
        replications: replications per design.
        seed: root seed of every design (common random numbers across designs).
        kpis: KPIs kept, or None for all.
        factors: factor names (the design columns of the result table), in order.
        hash: what the results depend on (designs, their scenario hashes, seed, KPIs); an
            old results folder is reused only by an experiment with the same hash.
    """

    spec: ExperimentSpec
    path: Path
    designs: tuple[DesignPoint, ...]
    scenarios: dict[str, Scenario]
    hashes: dict[str, str]
    bases: dict[str, dict[str, Any]]
    replications: int
    seed: int
    kpis: tuple[str, ...] | None
    factors: tuple[str, ...]
    hash: str

    @property
    def name(self) -> str:
        return self.spec.name

    def tasks(self) -> list[Task]:
        """Every (design, replication) run, designs in order, replications within."""
        return [
            Task(self.name, d.id, self.scenarios[d.id], r, self.seed)
            for d in self.designs for r in range(self.replications)
        ]

    def design_table(self) -> list[dict[str, Any]]:
        """One row per design: id, scenario label, factor values, scenario hash."""
        return [{"design": d.id, "scenario": d.scenario, **d.values,
                 "scenario_hash": self.hashes[d.id]} for d in self.designs]


def load_experiment(path: str | Path) -> Experiment:
    """Read an experiment file, expand its design and validate every design's scenario.

    Raises:
        ScenarioError: the file or one of its designs breaks a rule; the message names
            file, line, field, rule and value.
    """
    path = Path(path)
    spec, doc = read_spec(path, ExperimentSpec)
    return _build(spec, doc, path)


def experiment_from_mapping(data: dict[str, Any], base: str | Path = ".") -> Experiment:
    """An experiment from its keys as a Python mapping (as an experiment file would write
    them); scenario and design-matrix files are relative to ``base``.

    Raises:
        ScenarioError: a key breaks a rule (named by its field; there is no file line).
    """
    path = Path(base) / f"<{data.get('name', 'experiment')}>"
    doc = Document(dict(data), {}, [str(path)])
    try:
        spec = ExperimentSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError(located_problems(doc, exc, ExperimentSpec)) from None
    return _build(spec, doc, path)


def _build(spec: ExperimentSpec, doc: Document, path: Path) -> Experiment:
    files = spec.scenario_files()
    keys: list[tuple[str, ...]]
    if isinstance(spec.scenarios, dict):
        keys = [("scenarios", label) for label in files]
    elif isinstance(spec.scenarios, list):
        keys = [("scenarios", str(i)) for i in range(len(files))]
    else:
        keys = [("scenarios",)]
    base_docs: dict[str, Document] = {}
    for key, (label, ref) in zip(keys, files.items(), strict=True):
        file = relative_file(doc, key, ref)
        if not file.is_file():
            raise ScenarioError([problem_at(doc, key, "no such scenario file (paths are "
                                            "relative to the experiment file)", ref)])
        base_docs[label] = read_document(file)

    matrix = None
    if spec.design.file is not None:
        matrix = relative_file(doc, ("design", "file"), spec.design.file)
    try:
        designs = expand(spec, list(files), matrix)
    except ValueError as exc:
        raise ScenarioError([problem_at(doc, "design", str(exc),
                                        spec.design.file or spec.design.kind)]) from None
    for d in designs:
        for factor in d.values:
            try:
                _check_key(factor)
            except ValueError as exc:
                raise ScenarioError([problem_at(doc, d.origin(factor), str(exc), factor)]) from None
        if d.scenario not in files:
            raise ScenarioError([problem_at(doc, ("design", "designs", d.id, "scenario"),
                                            f"unknown scenario label ({', '.join(files)})",
                                            d.scenario)])

    scenarios: dict[str, Scenario] = {}
    for d in designs:
        values = {**spec.fixed, **d.values}
        origins = {k: doc.locate(("fixed", k)) for k in spec.fixed}
        origins.update({k: d.at or doc.locate(d.origin(k)) for k in d.values})
        scenarios[d.id] = design_scenario(base_docs[d.scenario], values, origins,
                                          f"design {d.id}")
    first = scenarios[designs[0].id]
    for i, name in enumerate(spec.kpis or []):
        why = kpi_problem(name, first)
        if why:
            raise ScenarioError([problem_at(doc, ("kpis", str(i)), why, name)])

    bases = {label: resolved(validate_document(base_docs[label])) for label in files}
    hashes = {d.id: scenario_hash(scenarios[d.id]) for d in designs}
    replications = spec.replications or first.replications
    seed = first.seed if spec.seed is None else spec.seed
    factors = tuple(dict.fromkeys(k for d in designs for k in d.values))
    kpis = tuple(spec.kpis) if spec.kpis else None
    identity = {
        "name": spec.name,
        "seed": seed,
        "kpis": kpis,
        "designs": [[d.id, d.scenario, d.values, hashes[d.id]] for d in designs],
    }
    digest = hashlib.sha256(
        json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return Experiment(spec, path, tuple(designs), scenarios, hashes, bases, replications, seed,
                      kpis, factors, digest)
