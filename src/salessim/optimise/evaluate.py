"""The budgeted evaluator: the only way the optimiser gets simulation output.

An evaluator is called with feasible candidates, replication numbers and a root seed, and
returns, per candidate, each needed KPI as an array aligned with the replications. The
simulation evaluator runs them on any executor of :mod:`salessim.experiments` and keeps
every run it did, so asking twice for the same (design, seed, replication) never simulates
twice. Tests substitute a cheap function of the design's values with a known optimum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

import numpy as np

from salessim.errors import SalessimError
from salessim.experiments.executors import Executor, SerialExecutor, WorkerLost
from salessim.experiments.runs import RunOutcome, run_batch, simulate
from salessim.experiments.spec import Task
from salessim.experiments.sweep import auto_chunksize
from salessim.optimise.problem import Candidate, Problem


class Evaluator(Protocol):
    """candidates x replications x seed -> per candidate, KPI name -> values by replication."""

    def __call__(self, candidates: Sequence[Candidate], replications: Sequence[int],
                 seed: int) -> list[dict[str, np.ndarray]]:
        ...


class SimulationEvaluator:
    """Simulates candidates on an executor, with a cache of every run.

    Args:
        problem: the problem (its ``needed_kpis`` are kept from each run).
        executor: where runs happen; default serial.
        progress: called after each run.

    Attributes:
        runs: simulations done so far.
        designs: labels of the designs simulated, in the order first simulated.
    """

    def __init__(self, problem: Problem, executor: Executor | None = None,
                 progress: Callable[[RunOutcome], None] | None = None) -> None:
        self.problem = problem
        self.executor = executor or SerialExecutor()
        self.progress = progress
        self.runs = 0
        self.designs: list[str] = []
        self._cache: dict[tuple[str, int, int], dict[str, float]] = {}

    def __call__(self, candidates: Sequence[Candidate], replications: Sequence[int],
                 seed: int) -> list[dict[str, np.ndarray]]:
        tasks = []
        for cand in candidates:
            if cand.scenario is None:  # infeasible designs carry no scenario to run
                raise ValueError(f"design {cand.label} breaks a constraint; it is never run")
            if cand.label not in self.designs:
                self.designs.append(cand.label)
            tasks += [Task(self.problem.name, cand.label, cand.scenario, r, seed)
                      for r in replications if (cand.label, seed, r) not in self._cache]
        size = auto_chunksize(len(tasks), self.executor.workers)
        batches = [tasks[i:i + size] for i in range(0, len(tasks), size)]
        fn = partial(run_batch, simulate, self.problem.needed_kpis)
        for i, result in self.executor.map_unordered(fn, batches):
            if isinstance(result, WorkerLost):
                task = batches[i][0]
                raise SalessimError(f"design {task.design}: a worker died running it: "
                                    f"{result.message}")
            for outcome in result:
                if outcome.error is not None:
                    raise SalessimError(f"design {outcome.design}, replication "
                                        f"{outcome.replication} (seed {seed}) failed: "
                                        f"{outcome.error}")
                self._cache[(outcome.design, seed, outcome.replication)] = outcome.kpis or {}
                self.runs += 1
                if self.progress is not None:
                    self.progress(outcome)
        out = []
        for cand in candidates:
            rows = [self._cache[(cand.label, seed, r)] for r in replications]
            out.append({k: np.array([row[k] for row in rows], dtype=float)
                        for k in self.problem.needed_kpis})
        return out
