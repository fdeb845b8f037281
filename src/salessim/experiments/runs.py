"""What a worker does: run a batch of replications and report each one's KPIs or error.

These are top-level functions of plain picklable data, so any executor (a loop, a process
pool, Dask workers on other machines) can run them; a run's values depend only on its
scenario, seed and replication, never on where or in which order it ran.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from salessim import engine
from salessim.experiments.spec import Task

OK, ERROR = "ok", "error"

#: Why a run failed when the process running it died (it cannot say so itself).
WORKER_DIED = ("WorkerDied: the process running this replication died "
               "(killed, out of memory or crashed)")


@dataclass(frozen=True)
class RunOutcome:
    """The result of one run: KPI values, or the error that stopped it."""

    design: str
    replication: int
    kpis: dict[str, float] | None
    error: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return OK if self.error is None else ERROR

    @property
    def key(self) -> tuple[str, int]:
        return (self.design, self.replication)


def simulate(task: Task) -> dict[str, float]:
    """The KPIs of one replication of the task's scenario."""
    return engine.run_replication(task.scenario, task.replication, task.seed).kpis


class RunTimeout(Exception):
    """A run took longer than its time limit."""


def _time_limit(seconds: float | None):
    """Raise RunTimeout in this thread after ``seconds``; a no-op where signals cannot."""
    usable = (hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if seconds is None or not usable:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def limit():
        def expire(signum, frame):
            raise RunTimeout(f"the run took longer than its time limit of {seconds:g} s")

        old = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return limit()


def run_batch(
    runner: Callable[[Task], dict[str, float]],
    kpis: Sequence[str] | None,
    tasks: Sequence[Task],
    timeout: float | None = None,
) -> list[RunOutcome]:
    """Run tasks one after the other; an exception is recorded and the batch goes on.

    Args:
        runner: task -> KPI values (:func:`simulate`, or a stand-in in tests).
        kpis: the KPIs to keep, in order (None keeps all); a missing one is NaN.
        tasks: the runs of the batch.
        timeout: seconds each run may take; a longer one fails with :class:`RunTimeout`
            (in a process's main thread; threads, as on Dask, have no time limit).
    """
    out = []
    for task in tasks:
        started = time.perf_counter()
        try:
            with _time_limit(timeout):
                values = runner(task)
        except Exception as exc:  # recorded in the results; the sweep goes on
            message = f"{type(exc).__name__}: {exc}".strip()
            out.append(RunOutcome(task.design, task.replication, None, message,
                                  time.perf_counter() - started))
            continue
        if kpis is not None:
            values = {k: float(values.get(k, math.nan)) for k in kpis}
        out.append(RunOutcome(task.design, task.replication, values, None,
                              time.perf_counter() - started))
    return out


def died(task: Task) -> RunOutcome:
    """The outcome of a task whose worker process died while running it."""
    return RunOutcome(task.design, task.replication, None, WORKER_DIED)
