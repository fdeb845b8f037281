"""What exits, time-outs and deal-dependent odds cost the engine.

Two paired comparisons, each timed ``--repeat`` times alternating its two sides, the best
CPU time of each side counting (other programs only ever slow a run down):

1. **No new keys, no slower.** The tandem line of ``bench_engine.py`` (five staffed
   stages, 10% lost after each of the first four; none of the new keys) run by this
   checkout's engine and by a baseline checkout's (``--baseline-src``, the ``src`` folder
   of the engine before the keys, e.g. ``git archive <commit> src | tar -x -C /tmp/base``).
   Each run is a fresh interpreter, so the two engines never share a process; only the
   replication itself is timed (not the imports).
2. **The new keys, within 1.3x.** The same line with a customer-side time after each
   stage's work, written twice for the same process: with ``delay`` (exponential, mean
   ``D``) and ``next`` (0.9 on, 0.1 lost), and with ``exits`` (on after an exponential
   time of mean D / 0.9, lost after one of mean D / 0.1: their minimum is exponential
   with mean D and the shares are 0.9 and 0.1) plus a ``timeout`` at 40 D that a deal
   reaches about once in e^40 (so the time-out is checked at every visit, as it costs, but
   does not change the process). Both sides run in this process.

Run ``python benchmarks/bench_exits.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tandem line of bench_engine.py

from bench_engine import ARRIVAL_RATE, LOSS, SEED, STAGES, tandem_scenario  # noqa: E402

#: Mean customer-side time after each stage's work, in hours.
DELAY = 2.0
#: What the exits form may cost against the next form (the issue's target).
TARGET = 1.3


def customer_scenario(leads: int, form: str, seed: int = SEED):
    """The tandem line with a customer-side time at every stage, in the ``next`` form
    (``delay`` + ``next``) or the ``exits`` form (``exits`` + ``timeout``)."""
    from salessim.scenario.schema import Scenario

    stages = {}
    for i, (sid, _, mean) in enumerate(STAGES):
        last = i == len(STAGES) - 1
        on = "won" if last else STAGES[i + 1][0]
        stage: dict = {"role": f"{sid}_staff", "work": {"dist": "exponential", "mean": mean}}
        if last:
            stage["next"] = {"won": 1.0}
        elif form == "next":
            stage["delay"] = {"dist": "exponential", "mean": DELAY}
            stage["next"] = {on: 1 - LOSS, "lost": LOSS}
        else:
            stage["exits"] = {on: {"time": {"dist": "exponential", "mean": DELAY / (1 - LOSS)}},
                              "lost": {"time": {"dist": "exponential", "mean": DELAY / LOSS}}}
            stage["timeout"] = {"after": 40 * DELAY, "to": "lost"}
        stages[sid] = stage
    data = {"name": f"benchmark tandem line ({form} form)", "time_unit": "hour",
            "horizon": leads / ARRIVAL_RATE, "seed": seed, "replications": 1,
            "roles": {f"{sid}_staff": {"headcount": staff} for sid, staff, _ in STAGES},
            "sources": {"inbound": {"rate": ARRIVAL_RATE}}, "entry": STAGES[0][0],
            "stages": stages}
    return Scenario.model_validate(data, context={"time_unit": "hour"})


def timed(scenario) -> dict[str, float]:
    """One KPI-only replication: CPU seconds, leads, won share of the closed leads."""
    from salessim import engine

    started = time.process_time()
    rep = engine.run_replication(scenario, 0)
    cpu = time.process_time() - started
    t = rep.tally
    return {"cpu": cpu, "leads": t.leads, "won": t.won / max(t.won + t.lost, 1),
            "time": t.closed_time / max(t.won + t.lost, 1)}


def child(leads: int) -> None:
    """Run the plain tandem line once in this interpreter and print its figures."""
    scenario = tandem_scenario(leads)
    print(json.dumps(timed(scenario)))


def run_child(leads: int, src: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, __file__, "--child", "--leads", str(leads)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def per_lead(runs: list[dict[str, float]]) -> float:
    """The best (lowest) CPU microseconds per lead of the runs."""
    return min(1e6 * r["cpu"] / r["leads"] for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-src", help="the src folder of the engine to compare "
                        "with (comparison 1 is skipped without it)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # its engine is the one on PYTHONPATH
        child(args.leads)
        return 0
    here = str(Path(__file__).resolve().parent.parent / "src")
    sys.path.insert(0, here)  # this checkout's engine, whatever is installed
    print(f"{args.leads:,} leads per run, best of {args.repeat} (CPU time, us per lead)")
    if args.baseline_src:
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
        for _ in range(args.repeat):
            runs["baseline"].append(run_child(args.leads, args.baseline_src))
            runs["this"].append(run_child(args.leads, here))
        base, this = per_lead(runs["baseline"]), per_lead(runs["this"])
        print(f"1. tandem line, no new keys: baseline {base:.2f}, this engine {this:.2f}, "
              f"ratio {this / base:.3f}  (every run: "
              + ", ".join(f"{1e6 * r['cpu'] / r['leads']:.1f}" for r in runs["this"]) + " vs "
              + ", ".join(f"{1e6 * r['cpu'] / r['leads']:.1f}" for r in runs["baseline"]) + ")")
    forms: dict[str, list[dict[str, float]]] = {"next": [], "exits": []}
    scenarios = {f: customer_scenario(args.leads, f) for f in forms}
    for _ in range(args.repeat):
        for form in forms:
            forms[form].append(timed(scenarios[form]))
    nxt, ex = per_lead(forms["next"]), per_lead(forms["exits"])
    verdict = "within" if ex / nxt <= TARGET else "ABOVE"
    print(f"2. with customer time: next + delay {nxt:.2f}, exits + timeout {ex:.2f}, "
          f"ratio {ex / nxt:.3f} ({verdict} the {TARGET}x target)")
    for form, runs_ in forms.items():  # the same process: the same won share and time
        r = runs_[0]
        print(f"   {form:5s} form: won share {r['won']:.4f}, mean time in process "
              f"{r['time']:.2f} h, {r['leads']:,} leads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
