"""What a sweep adds to each run: storing it, against the bare replication.

Runs the replications of ``experiments/se_headcount_by_delay.yaml`` (9 designs of the B2B
baseline, 10 replications each) bare (``experiments.runs.simulate``), then sweeps the same
experiment into a fresh results folder serially with a stand-in runner that returns those
KPIs at once, so the sweep's time is its own: planning, batching, building each run's
table and writing its Parquet file. Both are CPU and wall time per run, the median of
``--repeat`` rounds. Run it with another source tree first on ``PYTHONPATH`` to compare.

Run ``python benchmarks/bench_sweep.py --help``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from salessim.experiments.runs import simulate
from salessim.experiments.spec import load_experiment
from salessim.experiments.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]


def _lookup(kpis: dict):
    """A stand-in runner: the KPIs of a run simulated before."""
    return lambda task: kpis[task.key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--experiment", default=str(ROOT / "experiments/se_headcount_by_delay.yaml"))
    args = parser.parse_args(argv)
    experiment = load_experiment(args.experiment)
    tasks = experiment.tasks()
    bare_cpu, sweep_cpu, sweep_wall = [], [], []
    for _ in range(args.repeat):
        kpis = {}
        cpu = time.process_time()
        for task in tasks:
            kpis[task.key] = simulate(task)
        bare_cpu.append((time.process_time() - cpu) / len(tasks))
        with tempfile.TemporaryDirectory() as out:
            cpu, wall = time.process_time(), time.perf_counter()
            report = sweep(experiment, out, runner=_lookup(kpis))
            assert report.ran == len(tasks) and report.failed == 0
            sweep_cpu.append((time.process_time() - cpu) / len(tasks))
            sweep_wall.append((time.perf_counter() - wall) / len(tasks))
    bare, own, own_wall = (statistics.median(x) * 1e3 for x in (bare_cpu, sweep_cpu, sweep_wall))
    print(f"{len(tasks)} runs; bare replication {bare:.1f} ms CPU (rounds: "
          f"{', '.join(f'{x * 1e3:.1f}' for x in bare_cpu)})")
    print(f"sweep's own cost per run: {own:.2f} ms CPU ({own / bare:.1%} of a replication), "
          f"{own_wall:.2f} ms wall ({own_wall / bare:.1%}); rounds CPU "
          f"{', '.join(f'{x * 1e3:.2f}' for x in sweep_cpu)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
