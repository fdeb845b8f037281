"""Whole-command cost: CPU seconds and peak memory of ``salessim`` commands as a user runs them.

Each command runs in a fresh interpreter (``python -m salessim.cli ...``), so the figure
includes every import. The CPU time is that of the command and of every process it started:
pool workers are forked by a fork server, which outlives the command, so this process makes
itself their subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), waits for all of them, and reads
the sum from ``resource.getrusage(RUSAGE_CHILDREN)`` before and after. The peak resident set
size is the largest of any one of those processes. With ``--base-src DIR`` each command also runs against another source tree
(for instance ``git archive main src | tar -x -C /tmp/base``), the two alternating run by
run, so that both meet the same load; the paired ratio base/this of each round is printed
with the medians, and its spread is the machine's noise.

The commands:

- ``validate``: ``salessim validate scenarios/b2b_baseline.yaml``;
- ``run10k``: ``salessim run`` of the benchmark tandem line (``bench_engine.py``) with a
  horizon of 10,000 leads, one replication, no ``--out``;
- ``run-report``: ``salessim run scenarios/b2b_baseline.yaml -n 3 --out DIR --report``;
- ``compare1`` / ``compare2``: the demo (``make demo``) with ``--workers 1`` / ``2``,
  written to a temporary folder.

With ``--speedup`` the commands ``compare1`` and ``compare2`` run alternately in each round
and the paired ratio of their wall times (the speed-up of a second worker) is printed with a
control measured in the same round: the speed-up of two processes on a loop that shares
nothing (``bench_batch.py``'s), the most any program could reach at that moment.

Run ``python benchmarks/bench_commands.py --help``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DEMO = ["scenarios/b2b_baseline.yaml", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "scenarios/redesigns").glob("*.yaml"))]


def tandem_yaml(leads: int, folder: Path) -> Path:
    """The benchmark tandem line (bench_engine.py) as a scenario file of ``leads`` leads."""
    import yaml

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_engine import ARRIVAL_RATE, LOSS, SEED, STAGES

    stages = {}
    for i, (sid, _, mean) in enumerate(STAGES):
        last = i == len(STAGES) - 1
        stages[sid] = {"role": f"{sid}_staff", "work": {"dist": "exponential", "mean": mean},
                       "next": {"won": 1.0} if last else {STAGES[i + 1][0]: 1 - LOSS,
                                                          "lost": LOSS}}
    data = {"name": "benchmark tandem line", "time_unit": "hour",
            "horizon": leads / ARRIVAL_RATE, "seed": SEED, "replications": 1,
            "roles": {f"{sid}_staff": {"headcount": staff} for sid, staff, _ in STAGES},
            "sources": {"inbound": {"rate": ARRIVAL_RATE}}, "entry": STAGES[0][0],
            "stages": stages}
    path = folder / f"tandem_{leads}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def commands(folder: Path) -> dict[str, list[str]]:
    """The benchmarked commands, by name (arguments after ``salessim``)."""
    tandem = str(tandem_yaml(10_000, folder))
    return {
        "validate": ["validate", "scenarios/b2b_baseline.yaml"],
        "run10k": ["run", tandem, "--workers", "1"],
        "run-report": ["run", "scenarios/b2b_baseline.yaml", "-n", "3", "--workers", "1",
                       "--out", str(folder / "run"), "--report"],
        "compare1": ["compare", *DEMO, "--workers", "1", "--out", str(folder / "c1")],
        "compare2": ["compare", *DEMO, "--workers", "2", "--out", str(folder / "c2")],
    }


def measure(argv: list[str], src: Path) -> tuple[float, float, float]:
    """(CPU s, peak MB, wall s) of ``salessim ARGV`` with ``src`` first on the path.

    The CPU time is user + system time of the command and of every process it started.
    The wall time runs until the command itself ends.
    """
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
    before = _children()
    started = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen([sys.executable, "-m", "salessim.cli", *argv], cwd=ROOT,
                                env=env, stdout=null, stderr=null)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    peak = usage.ru_maxrss
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the fork server and the resource tracker
        try:
            pid, _, more = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
        else:
            peak = max(peak, more.ru_maxrss)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"salessim {' '.join(argv)} failed: run it to see why")
    after = _children()
    return after[0] - before[0], peak / 1024, wall


def _children() -> tuple[float, float]:
    """(CPU s, peak KB) of every child waited for so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime, r.ru_maxrss


def _become_subreaper() -> None:
    """Orphaned descendants (the fork server and its workers) become this process's."""
    import ctypes

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def speedup(table: dict[str, list[str]], repeat: int, src: Path) -> int:
    """Rounds of compare1, compare2 (order alternating) and the control: wall-time ratios."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_batch import control_speedup

    ratios, controls = [], []
    for r in range(repeat):
        control = control_speedup(2)
        walls = {}
        for name in (["compare1", "compare2"] if r % 2 == 0 else ["compare2", "compare1"]):
            cpu, _, walls[name] = measure(table[name], src)
            print(f"round {r + 1}: {name} wall {walls[name]:.2f} s, CPU {cpu:.2f} s", flush=True)
        control = (control + control_speedup(2)) / 2
        ratios.append(walls["compare1"] / walls["compare2"])
        controls.append(control)
        print(f"round {r + 1}: speed-up {ratios[-1]:.2f}, control {control:.2f}", flush=True)
    print(f"compare --workers 2 against --workers 1: median speed-up "
          f"{statistics.median(ratios):.2f} (rounds {', '.join(f'{x:.2f}' for x in ratios)}); "
          f"control median {statistics.median(controls):.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="commands to time (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--base-src", type=Path, help="another source tree to pair with")
    parser.add_argument("--speedup", action="store_true",
                        help="the wall-time speed-up of compare --workers 2, with a control")
    args = parser.parse_args(argv)
    _become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        table = commands(Path(tmp))
        if args.speedup:
            return speedup(table, args.repeat, args.base_src or SRC)
        names = args.names or list(table)
        trees = {"this": SRC} | ({"base": args.base_src.resolve()} if args.base_src else {})
        for name in names:
            runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in trees}
            for r in range(args.repeat):
                # Alternate which tree goes first, so neither always meets a warm cache.
                order = list(trees) if r % 2 == 0 else list(reversed(trees))
                for tree in order:
                    runs[tree].append(measure(table[name], trees[tree]))
            for tree, got in runs.items():
                cpu = [c for c, _, _ in got]
                print(f"{name:11s} {tree:5s} CPU s median {statistics.median(cpu):6.2f} "
                      f"(min {min(cpu):.2f}, max {max(cpu):.2f})  peak MB "
                      f"{statistics.median(m for _, m, _ in got):6.1f}  wall s median "
                      f"{statistics.median(w for _, _, w in got):6.2f}")
            if "base" in runs:
                ratios = [b[0] / t[0] for b, t in zip(runs["base"], runs["this"], strict=True)]
                print(f"{name:11s} base/this CPU: median {statistics.median(ratios):.2f} "
                      f"(paired ratios {', '.join(f'{x:.2f}' for x in ratios)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
