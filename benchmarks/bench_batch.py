"""Replications per second of the B2B baseline: serially, in a process pool, on Dask.

Runs ``--replications`` replications of ``scenarios/b2b_baseline.yaml`` (KPIs only) three
ways with the executors of :mod:`salessim.experiments`, one replication per task:

- serially in this process;
- in a local process pool of ``--workers`` processes (default 2);
- on a Dask LocalCluster of ``--workers`` single-threaded worker processes bound to
  127.0.0.1 (needs the ``salessim[dask]`` extra; skipped with a note without it).

Pools and clusters are started and warmed up (one replication per worker, untimed)
before the clock starts, so the figures are steady-state throughput; start-up times are
printed apart. Each way is timed ``--repeat`` times and the best run counts, since noise
from other programs only ever makes a run slower. The KPI values of the three ways are
checked to be identical, replication by replication.

The cores are often shared with other programs, so the benchmark also measures a control:
the speed-up of ``--workers`` processes on a trivially parallel pure-Python loop, taken
just before and just after. It is the most any executor could reach at that moment; compare against it,
not only against the number of cores.

Run ``python benchmarks/bench_batch.py --help``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from functools import partial
from pathlib import Path

from salessim.experiments import ProcessPool, SerialExecutor
from salessim.experiments.executors import DaskExecutor, default_workers
from salessim.experiments.runs import run_batch, simulate
from salessim.experiments.spec import Task
from salessim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def tasks(n: int, start: int = 0) -> list[list[Task]]:
    scenario = load_scenario(ROOT / "scenarios/b2b_baseline.yaml")
    return [[Task("bench", "baseline", scenario, r, scenario.seed)]
            for r in range(start, start + n)]


def timed(executor, batches, repeat: int) -> tuple[float, dict[int, dict[str, float]]]:
    """Best wall time of running the batches, and the KPIs by replication."""
    fn = partial(run_batch, simulate, None)
    best, kpis = float("inf"), {}
    for _ in range(repeat):
        started = time.perf_counter()
        results = {}
        for _, outcomes in executor.map_unordered(fn, batches):
            for o in outcomes:
                results[o.replication] = o.kpis
        best = min(best, time.perf_counter() - started)
        kpis = results
    return best, kpis


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def control_speedup(workers: int, n: int = 4_000_000) -> float:
    """Speed-up of ``workers`` processes on a loop with nothing shared: the ceiling now."""
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    for _ in range(workers):
        _burn(n)
    serial = time.perf_counter() - started
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_burn, [10] * workers))
        started = time.perf_counter()
        list(pool.map(_burn, [n] * workers))
        parallel = time.perf_counter() - started
    return serial / parallel


def same(a: dict[int, dict[str, float]], b: dict[int, dict[str, float]]) -> bool:
    """Equal KPI values, bit for bit (NaN equal to NaN: a ratio with nothing to divide)."""
    return a.keys() == b.keys() and all(
        a[r].keys() == b[r].keys()
        and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in
                zip(a[r].values(), b[r].values(), strict=True))
        for r in a
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask measurement")
    args = parser.parse_args()
    n, w = args.replications, args.workers
    batches = tasks(n)
    warm = tasks(w, start=n)  # other replications, so the timed ones are not cached anywhere

    print(f"B2B baseline, {n} replications, {w} workers; {platform.python_version()}, "
          f"{default_workers()} usable cores ({os.cpu_count()} in the machine)")
    before = control_speedup(w)
    rows = []
    seconds, reference = timed(SerialExecutor(), batches, args.repeat)
    rows.append(("serial", 0.0, seconds))

    started = time.perf_counter()
    with ProcessPool(w) as pool:
        timed(pool, warm, 1)
        startup = time.perf_counter() - started
        seconds, kpis = timed(pool, batches, args.repeat)
    assert same(kpis, reference), "process pool results differ from serial ones"
    rows.append((f"process pool ({w})", startup, seconds))

    if not args.no_dask:
        try:
            started = time.perf_counter()
            with DaskExecutor("local", w) as dask:
                timed(dask, warm, 1)
                startup = time.perf_counter() - started
                seconds, kpis = timed(dask, batches, args.repeat)
            assert same(kpis, reference), "Dask results differ from serial ones"
            rows.append((f"dask LocalCluster ({w})", startup, seconds))
        except Exception as exc:  # the extra is missing, or no local cluster could start
            print(f"dask: skipped ({exc})")

    base = rows[0][2]
    print(f"{'executor':<24} {'start-up s':>10} {'seconds':>8} {'reps/s':>8} {'speed-up':>9}")
    for name, startup, seconds in rows:
        print(f"{name:<24} {startup:>10.2f} {seconds:>8.2f} {n / seconds:>8.2f} "
              f"{base / seconds:>8.2f}x")
    print("KPI values identical across executors: yes")
    print(f"control: {w} processes on a trivially parallel loop ran {before:.2f}x (before) and "
          f"{control_speedup(w):.2f}x (after) faster than one: the ceiling for any executor")


if __name__ == "__main__":
    main()
