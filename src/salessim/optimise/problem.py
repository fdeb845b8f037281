"""An optimisation problem: the design space, its deterministic constraints, the objective.

Every decision variable is a finite, ordered list of levels (integers from low to high, a
grid over a continuous range, a choice's options; :mod:`salessim.optimise.space`), so a
design is a tuple of level indices and the search moves on an integer lattice. A design's scenario is the baseline
(or the chosen scenario file) with the design's values set like ``--set`` overrides.

Deterministic constraints (the budget, headcount caps) are functions of a design's
scenario alone, known before any run: :meth:`Problem.candidate` checks them, and the
procedure never simulates a design that breaks one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from salessim import stats
from salessim.errors import ScenarioError, UsageError
from salessim.experiments.documents import (
    design_scenario,
    kpi_problem,
    problem_at,
    read_spec,
    relative_file,
)
from salessim.kpis import MET, MISSED, verdict
from salessim.optimise.space import (
    BUILTIN_DERIVED,
    Candidate,
    Domain,
    Expression,
    domain_of,
    short_key,
    staff_budget,
)
from salessim.optimise.spec import SCENARIO_KEY, OptimisationSpec
from salessim.scenario.load import Document, read_document, validate_document
from salessim.scenario.schema import Scenario

# Where the search, the report and users import them from.
__all__ = ["BUILTIN_DERIVED", "ENUMERATION_CHECK_LIMIT", "Candidate", "Domain", "Expression",
           "Problem", "load_problem", "staff_budget"]

#: Largest design lattice whose feasible designs are counted by checking every one.
ENUMERATION_CHECK_LIMIT = 20_000


@dataclass
class Problem:
    """A loaded optimisation problem. Build it with :func:`load_problem`.

    Attributes:
        spec: the spec as written (with command-line overrides applied).
        path: the spec file.
        baseline: the baseline's validated scenario (the reference in the holdout).
        baseline_file: the baseline scenario file.
        domains: one per decision variable, in spec order.
        quantities: KPI or derived name -> expression over KPIs.
        seed: root seed; the search, selection and holdout seeds derive from it.
    """

    spec: OptimisationSpec
    path: Path
    baseline: Scenario
    baseline_file: Path
    domains: tuple[Domain, ...]
    quantities: dict[str, Expression]
    seed: int
    _docs: dict[str, Document] = field(default_factory=dict, repr=False)
    _origins: dict[str, tuple[str | None, int | None]] = field(default_factory=dict, repr=False)
    _files: dict[Any, Path] = field(default_factory=dict, repr=False)
    _cache: dict[tuple[int, ...], Candidate] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def lattice_size(self) -> int:
        return math.prod(len(d.levels) for d in self.domains)

    @property
    def stage_seeds(self) -> dict[str, int]:
        """Root seeds of the search, selection and holdout: fresh streams at every stage."""
        words = np.random.SeedSequence(self.seed).generate_state(3, dtype=np.uint32)
        return dict(zip(("search", "selection", "holdout"), (int(w) for w in words),
                        strict=True))

    def with_seed(self, seed: int) -> Problem:
        """The same problem with another root seed (designs already built are shared)."""
        other = Problem(self.spec, self.path, self.baseline, self.baseline_file, self.domains,
                        self.quantities, seed, self._docs, self._origins, self._files,
                        self._cache)
        return other

    # --- designs ---------------------------------------------------------------------------

    def candidate(self, index: tuple[int, ...]) -> Candidate:
        """The design at ``index``, with its deterministic constraints checked (cached)."""
        index = tuple(int(i) for i in index)
        if index in self._cache:
            return self._cache[index]
        values = {d.key: d.levels[i] for d, i in zip(self.domains, index, strict=True)}
        label = " ".join(f"{short_key(d.key)}={d.labels[i]}"
                         for d, i in zip(self.domains, index, strict=True))
        base_key = values.get(SCENARIO_KEY, None)
        doc = self._docs[str(base_key)] if SCENARIO_KEY in values else self._docs[""]
        sets = {k: v for k, v in values.items() if k != SCENARIO_KEY}
        scenario = design_scenario(doc, sets, self._origins, f"design {label}")
        budget, violations = self.deterministic_check(scenario)
        cand = Candidate(index, values, label, scenario if not violations else None,
                         budget, tuple(violations))
        self._cache[index] = cand
        return cand

    def scenario_file(self, candidate: Candidate) -> Path:
        """The scenario file a design changes (the baseline, or the chosen file)."""
        if SCENARIO_KEY in candidate.values:
            return self._files[str(candidate.values[SCENARIO_KEY])]
        return self.baseline_file

    def all_indices(self) -> list[tuple[int, ...]]:
        return [tuple(int(i) for i in ix)
                for ix in np.ndindex(*(len(d.levels) for d in self.domains))]

    def start_index(self) -> tuple[int, ...]:
        """The lattice point nearest the baseline's own values."""
        base = self._base_values()
        return tuple(d.nearest(base.get(d.key)) for d in self.domains)

    def _base_values(self) -> dict[str, Any]:
        data = self._docs[""].data
        out: dict[str, Any] = {}
        for d in self.domains:
            if d.key == SCENARIO_KEY:
                out[d.key] = next((v for v, p in self._files.items()
                                   if p.resolve() == self.baseline_file.resolve()), None)
                continue
            node: Any = data
            for part in d.key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            out[d.key] = node
        return out

    def baseline_values(self) -> dict[str, Any]:
        """The baseline's own value of every decision variable (None where it has none)."""
        return self._base_values()

    def neighbours(self, index: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Designs one step away: one ordered variable up or down, one choice changed, or one
        ordered variable up while another goes down (moves along a budget line)."""
        out: list[tuple[int, ...]] = []
        ordered = [i for i, d in enumerate(self.domains) if d.ordered]
        for i, d in enumerate(self.domains):
            if d.ordered:
                for step in (-1, 1):
                    j = index[i] + step
                    if 0 <= j < len(d.levels):
                        out.append((*index[:i], j, *index[i + 1:]))
            else:
                out += [(*index[:i], j, *index[i + 1:]) for j in range(len(d.levels))
                        if j != index[i]]
        for i in ordered:
            for k in ordered:
                if i != k and index[i] + 1 < len(self.domains[i].levels) and index[k] > 0:
                    moved = list(index)
                    moved[i] += 1
                    moved[k] -= 1
                    out.append(tuple(moved))
        return out

    # --- constraints -----------------------------------------------------------------------

    def deterministic_check(self, scenario: Scenario) -> tuple[float, list[str]]:
        """A scenario's staff budget and the deterministic constraints it breaks."""
        c = self.spec.constraints
        violations: list[str] = []
        budget = math.nan
        if c.budget is not None:
            budget = staff_budget(scenario, c.budget.over, c.budget.roles)
            if budget > c.budget.max:
                violations.append(f"budget {budget:,.0f} > {c.budget.max:,.0f}")
        for cap in c.caps:
            roles = cap.roles or list(scenario.roles)
            total = sum(scenario.roles[r].headcount for r in roles if r in scenario.roles)
            if total > cap.max:
                violations.append(f"headcount of {'+'.join(roles)} {total} > {cap.max}")
        return budget, violations

    def stochastic_verdicts(self, kpis: dict[str, np.ndarray]) -> dict[str, str]:
        """Each KPI bound as ``met``, ``violated`` or ``unclear`` at the constraint confidence.

        A bound is met when the one-sided confidence limit of the KPI's mean lies within it,
        violated when the opposite limit lies outside it, and unclear otherwise.
        """
        conf = self.spec.constraints.confidence
        out = {}
        for name, bound in self.spec.constraints.kpis.items():
            # A two-sided interval at 2c - 1 has one-sided limits at level c.
            est = stats.t_interval(self.quantity(name, kpis), 2 * conf - 1)
            # The rule of salessim.kpis.verdict per side; a missed side decides.
            sides = [verdict(est.ci_low, est.ci_high, op, b) for op, b in
                     (("<=", bound.max), (">=", bound.min)) if b is not None]
            if MISSED in sides:
                out[name] = "violated"
            elif all(v == MET for v in sides):
                out[name] = "met"
            else:
                out[name] = "unclear"
        return out

    def screen(self, kpis: dict[str, np.ndarray]) -> bool:
        """Whether the KPI bounds hold for the sample means (the search stage's quick check)."""
        for name, bound in self.spec.constraints.kpis.items():
            values = self.quantity(name, kpis)
            values = values[np.isfinite(values)]
            if not values.size:
                return False
            mean = float(values.mean())
            if bound.max is not None and mean > bound.max:
                return False
            if bound.min is not None and mean < bound.min:
                return False
        return True

    # --- objective -------------------------------------------------------------------------

    @property
    def needed_kpis(self) -> list[str]:
        """The KPIs runs must return: those of the objective and of the KPI constraints."""
        names = [self.spec.objective.kpi, *self.spec.constraints.kpis]
        return list(dict.fromkeys(k for n in names for k in self.quantities[n].kpis))

    def quantity(self, name: str, kpis: dict[str, np.ndarray]) -> np.ndarray:
        """A KPI or derived quantity per replication."""
        return self.quantities[name](kpis)

    def objective(self, kpis: dict[str, np.ndarray]) -> np.ndarray:
        """The objective per replication, in its own unit."""
        return self.quantity(self.spec.objective.kpi, kpis)

    def score(self, kpis: dict[str, np.ndarray]) -> np.ndarray:
        """The objective signed so that higher is better."""
        return self.spec.objective.sense * self.objective(kpis)


def load_problem(path: str | Path, **overrides: Any) -> Problem:
    """Read an optimisation spec and check it against its baseline scenario.

    Args:
        path: the spec file.
        **overrides: command-line values: ``seed``, ``replications`` (search),
            ``max_designs``, ``finalists``, ``indifference_zone``, ``confidence``,
            ``holdout`` (replications).

    Raises:
        ScenarioError: the spec breaks a rule (file, line, field, rule, value), or one of
            its variables' levels makes an invalid scenario.
    """
    path = Path(path)
    spec, doc = read_spec(path, OptimisationSpec)
    spec = _override(spec, overrides)
    baseline_file = relative_file(doc, ("baseline",), spec.baseline)
    if not baseline_file.is_file():
        raise ScenarioError([problem_at(doc, "baseline", "no such scenario file (paths are "
                                        "relative to the spec file)", spec.baseline)])
    docs = {"": read_document(baseline_file)}
    files: dict[Any, Path] = {}
    domains = tuple(domain_of(k, v) for k, v in spec.variables.items())
    for d in domains:
        if d.key != SCENARIO_KEY:
            continue
        for label, ref in zip(d.labels, d.levels, strict=True):
            where: tuple[str, ...] = ("variables", SCENARIO_KEY, "options", label)
            if not isinstance(ref, str):
                raise ScenarioError([problem_at(doc, where, "a scenario option is a file path",
                                                ref)])
            file = relative_file(doc, where, ref)
            if not file.is_file():
                raise ScenarioError([problem_at(doc, where, "no such scenario file", ref)])
            docs[ref] = read_document(file)
            files[ref] = file
    baseline = validate_document(docs[""])

    quantities: dict[str, Any] = {}
    derived = {**BUILTIN_DERIVED, **spec.derived}
    for name, text in derived.items():
        try:
            expr = Expression.parse(text)
        except ValueError as exc:
            raise ScenarioError([problem_at(doc, ("derived", name), str(exc), text)]) from None
        for kpi in expr.kpis:
            why = kpi_problem(kpi, baseline)
            if why and name in spec.derived:
                raise ScenarioError([problem_at(doc, ("derived", name), f"{kpi}: {why} (put "
                                                "spaces around + and -)", text)])
        quantities[name] = expr
    wanted: list[tuple[tuple[str, ...], str]] = [
        (("objective", "maximise" if spec.objective.sense > 0 else "minimise"), spec.objective.kpi)]
    wanted += [(("constraints", "kpis", k), k) for k in spec.constraints.kpis]
    for where, name in wanted:
        if name in quantities:
            continue
        why = kpi_problem(name, baseline, tuple(quantities))
        if why:
            raise ScenarioError([problem_at(doc, where, why + " (or define it under derived, "
                                            "with spaces around + and -)", name)])
        quantities[name] = Expression(name, ((1.0, name),))
    c = spec.constraints
    role_lists: list[tuple[tuple[str, ...], list[str] | None]] = [
        (("constraints", "headcount"), cap.roles) for cap in c.caps]
    if c.budget is not None:
        role_lists.append((("constraints", "budget", "roles"), c.budget.roles))
    for where, roles in role_lists:
        unknown = [r for r in roles or [] if r not in baseline.roles]
        if unknown:
            raise ScenarioError([problem_at(doc, where, f"unknown role (roles: "
                                            f"{', '.join(baseline.roles)})", unknown[0])])

    origins = {d.key: doc.locate(("variables", d.key)) for d in domains}
    seed = baseline.seed if spec.seed is None else spec.seed
    problem = Problem(spec, path, baseline, baseline_file, domains, quantities, seed,
                      docs, origins, files)
    # Every level set alone on the start design: a bad level is reported now, not mid-search.
    start = problem.start_index()
    for i, d in enumerate(domains):
        for j in range(len(d.levels)):
            problem.candidate((*start[:i], j, *start[i + 1:]))
    return problem


def _override(spec: OptimisationSpec, overrides: dict[str, Any]) -> OptimisationSpec:
    if not overrides:
        return spec
    data = spec.model_dump()
    places = {
        "seed": ("seed",), "replications": ("search", "replications"),
        "max_designs": ("search", "max_designs"), "finalists": ("selection", "finalists"),
        "indifference_zone": ("selection", "indifference_zone"),
        "confidence": ("selection", "confidence"), "holdout": ("holdout", "replications"),
    }
    for name, value in overrides.items():
        node = data
        *head, last = places[name]
        for key in head:
            node = node[key]
        if name == "indifference_zone" and isinstance(value, str) and "%" not in value:
            try:
                value = float(value)
            except ValueError:
                pass
        node[last] = value
    try:
        return OptimisationSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(str(x) for x in err["loc"])
        name = next((n for n, p in places.items() if loc[:len(p)] == p), "")
        rule = err["msg"].removeprefix("Value error, ")
        option = f"--{name.replace('_', '-')}" if name else "command-line options"
        raise UsageError(f"{option}: {rule} (got {err.get('input')!r})") from None
