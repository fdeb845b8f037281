"""The studio's first estimate, through the library call its worker makes.

The studio's worker process imports what its jobs need before it says it is ready
(``salessim.studio.worker.serve``), then answers a Run request with
``salessim.studio.worker.run_job``, which sends the KPI table with its first intervals
after the second replication. This benchmark times, in a fresh interpreter each round:

- **ready**: the worker's imports (what a user waits for once, after starting the studio);
- **cold**: the first Run request of ``scenarios/b2b_baseline.yaml`` (20 replications)
  until its first estimate, in the fresh worker (first calls load what the imports left);
- **warm**: a second request (another seed) in the same worker until its first estimate.

CPU and wall seconds of each; the median of ``--repeat`` rounds (fresh interpreters,
alternating with ``--base-src`` when given). The run is stopped at the first estimate.

Run ``python benchmarks/bench_first_estimate.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, shutil, sys, time
from pathlib import Path

clock = lambda: (time.perf_counter(), time.process_time())
t0 = clock()
import salessim.api.comparing, salessim.api.runs, salessim.engine  # what serve() loads
from salessim.studio.worker import run_job
t1 = clock()

class First(Exception):
    pass

def first_estimate(seed):
    def send(message):
        if message.get("estimates"):
            raise First
    start = clock()
    try:
        run_job({"root": sys.argv[1], "path": "b2b_baseline.yaml", "replications": 20,
                 "seed": seed, "key": str(seed)}, send, {})
    except First:
        end = clock()
        return end[0] - start[0], end[1] - start[1]
    raise SystemExit("no estimate was sent")

cold = first_estimate(1)
warm = first_estimate(2)
print(json.dumps({"ready": [t1[0] - t0[0], t1[1] - t0[1]], "cold": cold, "warm": warm}))
"""


def once(src: Path, folder: str) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", CHILD, folder], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--base-src", type=Path, help="another source tree to alternate with")
    args = parser.parse_args(argv)
    trees = {"this": ROOT / "src"} | ({"base": args.base_src.resolve()} if args.base_src else {})
    runs: dict[str, list[dict[str, list[float]]]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "b2b_baseline.yaml").write_text(
            (ROOT / "scenarios/b2b_baseline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        for r in range(args.repeat):
            for tree in (list(trees) if r % 2 == 0 else list(reversed(trees))):
                runs[tree].append(once(trees[tree], folder))
    for tree, got in runs.items():
        for what in ("ready", "cold", "warm"):
            wall = [g[what][0] for g in got]
            cpu = [g[what][1] for g in got]
            print(f"{tree:5s} {what:6s} wall s median {statistics.median(wall):.2f} "
                  f"(min {min(wall):.2f}, max {max(wall):.2f}); CPU s median "
                  f"{statistics.median(cpu):.2f} (min {min(cpu):.2f}, max {max(cpu):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
