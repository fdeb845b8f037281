"""Bytes and CPU microseconds per event of each event-log file format.

Runs ``scenarios/b2b_baseline.yaml`` (one replication, with its event log) and writes the
log as CSV with the full columns, CSV with the lean columns (``columns="lean"``), Parquet
and XES, ``--repeat`` times each in turn; prints the file's bytes per event and the median
CPU time per event of writing it (the log is already in memory; pandas and pyarrow are
imported before the clock starts).

Run ``python benchmarks/bench_logfiles.py --help``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd  # noqa: F401 - imported before any timing
import pyarrow.parquet  # noqa: F401

from salessim import engine
from salessim.logfiles import write_event_log
from salessim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"csv (full)": ("csv", "full"), "csv (lean)": ("csv", "lean"),
         "parquet": ("parquet", "full"), "xes": ("xes", "full")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    scenario = load_scenario(ROOT / "scenarios/b2b_baseline.yaml")
    log = engine.run_replication(scenario, 0, event_log=True).log
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            for name, (suffix, columns) in KINDS.items():
                path = Path(out) / f"log.{suffix}"
                started = time.process_time()
                write_event_log([log], path, columns=columns)
                times[name].append(time.process_time() - started)
                sizes[name] = path.stat().st_size
    print(f"{len(log):,} events (b2b baseline, one replication)")
    for name in KINDS:
        us = [t / len(log) * 1e6 for t in times[name]]
        print(f"{name:11s} {sizes[name] / len(log):6.1f} bytes/event  "
              f"{statistics.median(us):5.2f} us/event CPU (min {min(us):.2f}, max {max(us):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
