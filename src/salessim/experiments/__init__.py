"""Experiments at scale: many designs, many replications, any executor, resumable results.

An experiment file names base scenarios, factors (dotted scenario keys and their levels or
ranges), a design, replications, a root seed and the KPIs to keep. :func:`sweep` runs every
(design, replication) on an executor (serial, a process pool, Dask) and stores each run as
its own Parquet file; :func:`load_results` and :func:`summarise_results` read them back.

Example::

    from salessim.experiments import load_experiment, sweep, ProcessPool
    experiment = load_experiment("experiments/se_headcount_by_delay.yaml")
    with ProcessPool() as pool:
        sweep(experiment, "results/se", pool)
"""

from salessim.experiments.designs import DesignPoint, Range
from salessim.experiments.executors import (
    DaskExecutor,
    Executor,
    ProcessPool,
    SerialExecutor,
    WorkerLost,
    make_executor,
)
from salessim.experiments.results import (
    failures,
    plot_kpi_by_factor,
    results_report,
    summarise_results,
)
from salessim.experiments.runs import RunOutcome, run_batch, simulate
from salessim.experiments.spec import Experiment, ExperimentSpec, Task, load_experiment
from salessim.experiments.store import ResultStore, file_manifest, load_results, read_manifest
from salessim.experiments.sweep import SweepReport, parse_shard, shard_tasks, sweep

__all__ = [
    "DaskExecutor", "DesignPoint", "Executor", "Experiment", "ExperimentSpec", "ProcessPool",
    "Range", "ResultStore", "RunOutcome", "SerialExecutor", "SweepReport", "Task", "WorkerLost",
    "failures", "file_manifest", "load_experiment", "load_results", "make_executor",
    "parse_shard", "plot_kpi_by_factor", "read_manifest", "results_report", "run_batch",
    "shard_tasks", "simulate", "summarise_results", "sweep",
]
