"""Running replications of a scenario. No I/O: results are returned, never written.

``run_replication`` is a pure, top-level, picklable function of (scenario, replication,
seed), so any executor (a loop, a process pool, Dask) can map it and get bit-identical
results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from salessim import metrics
from salessim.model.warmstart import PipelineOutcomes
from salessim.model.world import WIP_SAMPLES as WIP_SAMPLES  # a run's result: read it here
from salessim.model.world import SalesModel, new_log
from salessim.records import EventLog, Tally, concat_logs
from salessim.rng import RandomStreams
from salessim.scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

# pandas and scipy are imported where results are tabulated, not at import: a worker
# process that only simulates then stays small.


@dataclass
class Replication:
    """The outcome of one replication."""

    replication: int
    kpis: dict[str, float]
    tally: Tally
    log: EventLog | None = None
    seconds: float = 0.0
    #: How the open deals of a warm start ended, and the deals won (``watch_wins``).
    pipeline: PipelineOutcomes | None = None


def run_replication(
    scenario: Scenario, replication: int, seed: int | None = None, event_log: bool = False,
    clock: Callable[[float], None] | None = None, watch_wins: bool = False,
) -> Replication:
    """Simulate one replication of ``scenario``.

    Args:
        scenario: the validated scenario.
        replication: 0-based replication number; with the seed it fixes every random stream.
        seed: root seed; defaults to the scenario's.
        event_log: keep one record per event (memory grows with the run) or only totals.
        clock: called with the share of the horizon simulated, each 1% of it.
        watch_wins: record every deal won with its time and value (for forecasts).
    """
    started = time.perf_counter()
    root = scenario.seed if seed is None else seed
    log = new_log(scenario, replication) if event_log else None
    model = SalesModel(scenario, RandomStreams(root, replication), log, clock, watch_wins)
    tally = model.run()
    outcomes = model.warm.outcomes if scenario.pipeline or watch_wins else None
    return Replication(
        replication, metrics.kpis(tally, scenario, model.warm), tally, log,
        time.perf_counter() - started, outcomes,
    )


def kpi_names(scenario: Scenario) -> list[str]:
    """The names of the KPIs a run of ``scenario`` reports, in their reporting order.

    They come from :func:`salessim.metrics.kpis` on the closed, empty running totals of a
    model that was built but not run, so they never drift from what a run reports.
    """
    import numpy as np

    model = SalesModel(scenario, RandomStreams(scenario.seed, 0))
    with np.errstate(all="ignore"):
        return list(metrics.kpis(model.finish(), scenario, model.warm))


@dataclass
class RunResult:
    """The replications of one scenario and their summary."""

    scenario: Scenario
    seed: int
    replications: list[Replication] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Tidy table: one row per replication and KPI (columns replication, kpi, value)."""
        import pandas as pd

        rows = [
            (r.replication, name, value) for r in self.replications for name, value in r.kpis.items()
        ]
        return pd.DataFrame(rows, columns=["replication", "kpi", "value"])

    def wide(self) -> pd.DataFrame:
        """One row per replication, one column per KPI."""
        import pandas as pd

        return pd.DataFrame([r.kpis for r in self.replications],
                            index=pd.Index([r.replication for r in self.replications],
                                           name="replication"))

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Mean and Student-t confidence interval per KPI."""
        from salessim import stats

        return stats.summarise(self.frame(), level)

    def event_log(self) -> pd.DataFrame:
        """The event logs of all replications (run with ``event_log=True``)."""
        return concat_logs([r.log for r in self.replications if r.log is not None])


#: What a worker gets for one replication: scenario, replication, seed, event log, watch wins.
ReplicationArgs = tuple[Scenario, int, int, bool, bool]
#: A ``map``-like function that runs replications (the builtin, a pool's, a Dask client's).
Mapper = Callable[[Callable[[ReplicationArgs], Replication], Iterable[ReplicationArgs]],
                  Iterable[Replication]]


def _one(args: ReplicationArgs) -> Replication:
    scenario, replication, seed, event_log, watch_wins = args
    return run_replication(scenario, replication, seed, event_log, watch_wins=watch_wins)


def run(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    event_log: bool | int = False,
    mapper: Mapper = map,
    progress: Callable[[Replication], None] | None = None,
    into: RunResult | None = None,
    clock: Callable[[float], None] | None = None,
    watch_wins: bool = False,
) -> RunResult:
    """Run replications of a scenario: 0..n-1, or, ``into`` a result, the next ones up to n.

    Args:
        scenario: the validated scenario.
        replications: how many in all; defaults to the scenario's ``replications``.
        seed: root seed; defaults to the scenario's ``seed``.
        event_log: keep the event log of every replication (True), or of the first k (k).
        mapper: a ``map``-like function (the built-in map, or an executor's).
        progress: called with each finished replication, in order.
        into: a result to extend (same scenario and seed) instead of a new one.
        clock: called with the share of each replication's horizon simulated; the
            replications then run in this process, one after the other (for a single long
            replication, whose progress would otherwise not show).
        watch_wins: record every deal won with its time and value (``Replication.pipeline``).
    """
    n = scenario.replications if replications is None else replications
    root = scenario.seed if seed is None else seed
    result = RunResult(scenario, root) if into is None else into
    logged = n if event_log is True else int(event_log)
    first = len(result.replications)
    args = [(scenario, r, root, r < logged, watch_wins) for r in range(first, n)]
    reps = (run_replication(*a[:4], clock=clock, watch_wins=watch_wins) for a in args) \
        if clock is not None else mapper(_one, args)
    for rep in reps:
        result.replications.append(rep)
        if progress is not None:
            progress(rep)
    return result
