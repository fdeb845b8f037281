"""Instructions per lead of both models of ``bench_engine.py``, counted by callgrind.

CPU time on a shared machine wanders by 10-30% between runs; the number of machine
instructions a run executes does not depend on what else the machine does. This script
runs each model under ``valgrind --tool=callgrind`` in one interpreter: a short warm-up
run, then runs of ``--small`` and ``--large`` hours. A profile dump is taken at a marker
call (``os.getppid``) before and after each run, so the imports, the warm-up and the
interpreter's start and exit are left out, and the difference between the two runs
divided by the difference in leads is the cost of one more lead. Hash seeds and the
BLAS thread pool (whose idle threads add noise) are fixed.

Fewer instructions is not the same as less CPU time (Python bytecode dispatch costs more
per instruction than C code does), so this is a steady guide while changing the engine;
``bench_engine.py`` is the measurement.

``--bytecodes`` counts Python bytecodes per lead instead (with ``sys.settrace``, no
valgrind), the measure CPU time follows most closely here, per function with ``--top``.

Run ``python benchmarks/bench_instructions.py`` (needs valgrind; about two minutes).
"""

from __future__ import annotations

import argparse
import gc
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter


def child(model: str, small: int, large: int) -> None:
    """Inside valgrind: warm up, then the two marked runs; print the leads they created."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_engine

    bench_engine.load_imports(model)
    run = bench_engine.MODELS[model]
    run(300)  # the interpreter specialises the hot code before anything is counted
    created = []
    for leads in (small, large):
        gc.collect()
        os.getppid()  # marker: callgrind dumps its counts on entering this function
        created.append(run(leads).created)
        os.getppid()
    print(*created)


def _total(path: str) -> int:
    with open(path, encoding="ascii", errors="replace") as dump:
        for line in dump:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {path}")


def per_lead(model: str, small: int, large: int) -> float:
    """Instructions per lead of ``model``: (large run - small run) / (difference in leads)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-before=os_getppid",
             f"--callgrind-out-file={out}", sys.executable, os.path.abspath(__file__),
             "--child", model, str(small), str(large)],
            capture_output=True, text=True, env=env, check=True)
        dumps = sorted(glob.glob(out + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
        # Dumps: 1 start to first marker, 2 the small run, 3 between, 4 the large run, 5 exit.
        totals = [_total(f) for f in dumps]
        leads_small, leads_large = (int(x) for x in done.stdout.split())
        return (totals[3] - totals[1]) / (leads_large - leads_small)


def bytecodes(model: str, small: int, large: int) -> tuple[float, Counter]:
    """Bytecodes per lead of ``model`` in all, and per function, from two traced runs."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_engine

    bench_engine.load_imports(model)
    run = bench_engine.MODELS[model]
    counts: Counter = Counter()

    def trace(frame, event, arg):
        frame.f_trace_opcodes, frame.f_trace_lines = True, False
        code = frame.f_code
        where = f"{os.path.basename(code.co_filename)}:{code.co_name}"

        def opcode(frame, event, arg):
            if event == "opcode":
                counts[where] += 1
            return opcode
        return opcode

    per_run = []
    for leads in (small, large):
        counts.clear()
        sys.settrace(trace)
        try:
            created = run(leads).created
        finally:
            sys.settrace(None)
        per_run.append((created, Counter(counts)))
    (n_small, c_small), (n_large, c_large) = per_run
    c_large.subtract(c_small)
    by_function = Counter({k: v / (n_large - n_small) for k, v in c_large.items()})
    return sum(by_function.values()), by_function


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1000, help="hours of the short run")
    parser.add_argument("--large", type=int, default=4000, help="hours of the long run")
    parser.add_argument("--bytecodes", action="store_true",
                        help="count Python bytecodes per lead instead (no valgrind needed)")
    parser.add_argument("--top", type=int, default=0,
                        help="with --bytecodes: also list the N costliest functions")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    if not 0 < args.small < args.large:
        parser.error("--small must be at least 1 and below --large")
    if args.bytecodes:
        for model in ("salessim", "plain"):
            total, by_function = bytecodes(model, args.small, args.large)
            print(f"{model:<9} {total:8,.0f} bytecodes per lead")
            for where, count in by_function.most_common(args.top):
                print(f"    {count:8.1f}  {where}")
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 2
    counts = {model: per_lead(model, args.small, args.large) for model in ("salessim", "plain")}
    for model, count in counts.items():
        print(f"{model:<9} {count / 1000:8.1f} k instructions per lead")
    print(f"ratio plain/salessim: {counts['plain'] / counts['salessim']:.2f} "
          "(above 1: salessim runs fewer instructions per lead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
