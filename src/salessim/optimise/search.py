"""Generating candidates: enumerate the feasible designs, or search the lattice around them.

Every candidate gets the same few replications on the same root seed (common random
numbers), so the search compares designs on the same leads and the same luck. Only
designs that meet every deterministic constraint are ever evaluated.

The neighbourhood search is a best-improvement local search on the integer lattice with
random restarts: from the current design it evaluates every feasible neighbour not yet
seen (one variable a step up or down, a choice changed, or one variable up while another
goes down, which moves along a budget line), moves to the best if it beats the current
design, and otherwise restarts from a random unseen feasible design, until
``max_designs`` designs have been evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from salessim import stats
from salessim.errors import UsageError
from salessim.optimise.evaluate import Evaluator
from salessim.optimise.problem import ENUMERATION_CHECK_LIMIT, Candidate, Problem

#: Random draws tried when looking for an unseen feasible design to restart from.
RESTART_TRIES = 500


@dataclass
class Evaluation:
    """A candidate's search-stage evaluation.

    Attributes:
        order: 1 for the first design evaluated, 2 for the next, ...
        candidate: the design.
        kpis: the needed KPIs per replication.
        objective: mean and confidence interval of the objective (its own unit).
        score: mean of the signed objective (higher is better).
        passes: whether the KPI bounds hold for the sample means.
    """

    order: int
    candidate: Candidate
    kpis: dict[str, np.ndarray]
    objective: stats.Estimate
    score: float
    passes: bool

    @property
    def rank_key(self) -> tuple[bool, float]:
        return (self.passes, self.score if not math.isnan(self.score) else -math.inf)


@dataclass
class SearchResult:
    """The search stage: how candidates were found and their evaluations, in order."""

    method: str
    evaluations: list[Evaluation]
    lattice: int
    feasible: int | None  # known when every lattice point was checked
    infeasible: int | None
    seed: int
    replications: int

    def ranked(self) -> list[Evaluation]:
        """Best first: designs meeting the KPI bounds before the others, then by score."""
        return sorted(self.evaluations, key=lambda e: e.rank_key, reverse=True)


def finite_mean(values: np.ndarray) -> float:
    """The mean of the finite values (nan when there are none, without a warning)."""
    ok = values[np.isfinite(values)]
    return float(ok.mean()) if ok.size else math.nan


class _Evaluating:
    """Evaluates batches of feasible designs on the search seed, in order."""

    def __init__(self, problem: Problem, evaluate: Evaluator, seed: int) -> None:
        self.problem, self.evaluate, self.seed = problem, evaluate, seed
        self.replications = range(problem.spec.search.replications)
        self.done: dict[tuple[int, ...], Evaluation] = {}

    def __call__(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        todo: list[Candidate] = []
        for c in candidates:
            if c.index not in self.done and all(c.index != t.index for t in todo):
                todo.append(c)
        for c in todo:
            if not c.feasible:  # never simulate a design that breaks a deterministic constraint
                raise RuntimeError(f"design {c.label} is infeasible and must not be evaluated")
        if not todo:
            return []
        results = self.evaluate(todo, list(self.replications), self.seed)
        out = []
        for cand, kpis in zip(todo, results, strict=True):
            objective = stats.t_interval(self.problem.objective(kpis))
            score = finite_mean(self.problem.score(kpis))
            ev = Evaluation(len(self.done) + 1, cand, kpis, objective, score,
                            self.problem.screen(kpis))
            self.done[cand.index] = ev
            out.append(ev)
        return out


def search(
    problem: Problem,
    evaluate: Evaluator,
    seed: int,
    on_stage: Callable[[str, int | None], None] | None = None,
) -> SearchResult:
    """Find candidates: enumerate the feasible designs when few, else neighbourhood search.

    Raises:
        UsageError: no feasible design, or enumeration asked of a lattice too large to list.
    """
    spec = problem.spec.search
    lattice = problem.lattice_size
    feasible: list[Candidate] | None = None
    if lattice <= ENUMERATION_CHECK_LIMIT:
        feasible = [c for c in map(problem.candidate, problem.all_indices()) if c.feasible]
        if not feasible:
            raise UsageError(f"{problem.name}: none of the {lattice} designs meets the budget "
                             "and headcount constraints")
    elif spec.method == "enumerate":
        raise UsageError(f"{problem.name}: {lattice:,} designs are too many to enumerate "
                         f"(at most {ENUMERATION_CHECK_LIMIT:,}); use method: neighbourhood")
    method = spec.method
    if method == "auto":
        method = ("enumerate" if feasible is not None and len(feasible) <= spec.enumerate_up_to
                  else "neighbourhood")
    run = _Evaluating(problem, evaluate, seed)
    n_feasible = len(feasible) if feasible is not None else None
    n_infeasible = lattice - n_feasible if n_feasible is not None else None
    if method == "enumerate":
        assert feasible is not None
        if on_stage:
            on_stage("search (enumeration)", len(feasible) * spec.replications)
        run(feasible)
    else:
        if on_stage:
            on_stage("search (neighbourhood)", None)
        _neighbourhood(problem, run, seed)
    return SearchResult(method, list(run.done.values()), lattice, n_feasible, n_infeasible,
                        seed, spec.replications)


def _neighbourhood(problem: Problem, run: _Evaluating, seed: int) -> None:
    budget = problem.spec.search.max_designs
    rng = np.random.Generator(np.random.PCG64(seed))

    def feasible_unseen(indices: Sequence[tuple[int, ...]]) -> list[Candidate]:
        out = []
        for ix in indices:
            if ix in run.done:
                continue
            cand = problem.candidate(ix)
            if cand.feasible:
                out.append(cand)
        return out

    def random_start() -> Candidate | None:
        sizes = [len(d.levels) for d in problem.domains]
        for _ in range(RESTART_TRIES):
            ix = tuple(int(rng.integers(n)) for n in sizes)
            found = feasible_unseen([ix])
            if found:
                return found[0]
        return None

    start = feasible_unseen([problem.start_index()])
    current = start[0] if start else random_start()
    if current is None:
        raise UsageError(f"{problem.name}: found no design that meets the budget and headcount "
                         "constraints")
    run([current])
    while len(run.done) < budget:
        here = run.done[current.index]
        nbrs = feasible_unseen(problem.neighbours(current.index))
        run(nbrs[: budget - len(run.done)])
        seen = [run.done[ix] for ix in problem.neighbours(current.index) if ix in run.done]
        best = max(seen, key=lambda e: e.rank_key, default=None)
        if best is not None and best.rank_key > here.rank_key:
            current = best.candidate
            continue
        restart = random_start()  # a local optimum: look elsewhere
        if restart is None:
            break
        run([restart])
        current = restart
