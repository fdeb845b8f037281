"""Running an experiment: every (design, replication) run, on any executor, resumably."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from salessim.errors import OutputError, UsageError
from salessim.experiments.executors import Executor, SerialExecutor, WorkerLost
from salessim.experiments.runs import RunOutcome, died, run_batch, simulate
from salessim.experiments.spec import Experiment, Task
from salessim.experiments.store import ResultStore


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did.

    Attributes:
        total: runs in its scope (the experiment, or its shard).
        skipped: runs already stored (from an earlier sweep), not run again.
        ran: runs done now.
        failed: runs done now that raised (recorded with status ``error``).
        seconds: wall time.
        out: the results folder.
    """

    total: int
    skipped: int
    ran: int
    failed: int
    seconds: float
    out: Path


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` (1 <= i <= N) as (i, N).

    Raises:
        UsageError: not of that form.
    """
    head, sep, tail = text.partition("/")
    try:
        i, n = int(head), int(tail)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise UsageError(f"--shard is i/N with 1 <= i <= N (shard 1/4 .. 4/4), got {text!r}")
    return i, n


def shard_tasks(tasks: Sequence[Task], shard: tuple[int, int] | None) -> list[Task]:
    """Shard i of N: every N-th run, from the i-th. Shards 1..N partition the runs exactly.

    Runs are dealt round-robin rather than in blocks so that each shard gets a share of
    every design, and a slow design does not make one shard the straggler.
    """
    if shard is None:
        return list(tasks)
    i, n = shard
    return list(tasks[i - 1::n])


def auto_chunksize(runs: int, workers: int) -> int:
    """Runs per task sent to a worker: enough to hide the per-task overhead, small enough
    to keep every worker busy to the end and the progress bar moving."""
    return max(1, min(16, runs // (8 * max(1, workers))))


def sweep(
    experiment: Experiment,
    out: str | Path,
    executor: Executor | None = None,
    shard: tuple[int, int] | None = None,
    progress: Callable[[RunOutcome], None] | None = None,
    runner: Callable[[Task], dict[str, float]] = simulate,
    retry_errors: bool = False,
    chunksize: int | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    on_broken: Callable[[list[Path]], None] | None = None,
    run_timeout: float | None = None,
) -> SweepReport:
    """Run an experiment's runs that are not stored yet, storing each as it finishes.

    Args:
        experiment: the loaded experiment.
        out: results folder; created if needed, refused if it holds another experiment.
        executor: where runs happen; default serial in this process.
        shard: (i, N) to run only shard i of N (see :func:`shard_tasks`).
        progress: called with each finished run.
        runner: task -> KPI values; the simulation unless a test stands in for it.
        retry_errors: run again the runs stored with status ``error``.
        chunksize: runs per task sent to a worker; default :func:`auto_chunksize`.
        on_plan: called with (runs to do, runs already stored) before the first run.
        on_broken: called with the stored files that did not read back (removed, and run
            again by this sweep).
        run_timeout: seconds a run may take; a run still going then is stored as failed
            and the sweep goes on (in processes and serially; not on Dask's threads).

    Returns:
        What was run. Interrupting (Ctrl-C) loses no stored run; the next sweep resumes.
    """
    executor = executor or SerialExecutor()
    started = time.perf_counter()
    shard_text = f"{shard[0]}/{shard[1]}" if shard else None
    store = ResultStore.open(out, experiment, executor.name, shard_text)
    broken = store.verify()
    if broken and on_broken is not None:
        on_broken(broken)
    tasks = shard_tasks(experiment.tasks(), shard)
    done = store.completed(with_errors=not retry_errors)
    todo = [t for t in tasks if t.key not in done]
    if on_plan is not None:
        on_plan(len(todo), len(tasks) - len(todo))
    size = chunksize or auto_chunksize(len(todo), executor.workers)
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    fn = partial(run_batch, runner, experiment.kpis, timeout=run_timeout)
    counts = {"ran": 0, "failed": 0}

    def keep(outcomes: list[RunOutcome]) -> None:
        for outcome in outcomes:
            store.write(outcome)
            counts["ran"] += 1
            counts["failed"] += outcome.error is not None
            if progress is not None:
                progress(outcome)

    interrupted = True
    try:
        lost: list[Task] = []
        for i, result in executor.map_unordered(fn, batches):
            if not isinstance(result, WorkerLost):
                keep(result)
            elif len(batches[i]) == 1:
                keep([died(batches[i][0])])
            else:
                lost += batches[i]  # which run killed its worker? run them one by one
        singles = [[t] for t in lost]
        for i, result in executor.map_unordered(fn, singles):
            keep([died(singles[i][0])] if isinstance(result, WorkerLost) else result)
        interrupted = False
    finally:
        try:
            store.finish({"runs": len(tasks), "skipped": len(tasks) - len(todo), **counts,
                          "interrupted": interrupted, "redone_broken": len(broken)})
        except OutputError:
            if interrupted:  # the first error (a full disk, say) is the one to report
                pass
            else:
                raise
    return SweepReport(len(tasks), len(tasks) - len(todo), counts["ran"], counts["failed"],
                       time.perf_counter() - started, Path(out))
