"""How the engine scales: with the number of stages, with the number of leads, with a log.

Three measurements, each printed as a table (nothing is asserted; see README.md here):

- **stages**: stage visits per CPU second of a tandem line of 5, 20 and 50 stages, in
  salessim and as the plain SimPy model of ``bench_engine.py`` (same process, runs
  alternating A B A B, best of ``--repeat``);
- **memory**: peak resident memory of KPI-only runs of 100,000 and 3,000,000 leads, each in
  a fresh interpreter, so the difference is what the run itself holds as it grows;
- **event log**: bytes per event of a logged run (the log's own arrays), and the peak
  memory added by writing it as CSV and Parquet;
- **b2b**: leads per CPU second of ``scenarios/b2b_baseline.yaml`` (one replication).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simpy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import peak_rss_mb  # noqa: E402  (the benchmark folder is not a package)

STAFF, WORK, LOSS = 2, 1.2, 0.02  # per stage: 2 people, mean 1.2 hours (rho 0.6), 2% lost


def line_scenario(stages: int, leads: int):
    """A tandem line of ``stages`` stages as a salessim scenario (1 lead per hour)."""
    from salessim.scenario.schema import Scenario

    ids = [f"s{i}" for i in range(stages)]
    spec = {}
    for i, sid in enumerate(ids):
        last = i == stages - 1
        spec[sid] = {"role": f"r{i}", "work": {"dist": "exponential", "mean": WORK},
                     "next": {"won": 1.0} if last else {ids[i + 1]: 1 - LOSS, "lost": LOSS}}
    return Scenario.model_validate({
        "name": "scale", "time_unit": "hour", "horizon": leads, "seed": 1, "replications": 1,
        "roles": {f"r{i}": {"headcount": STAFF} for i in range(stages)},
        "sources": {"web": {"rate": 1.0}}, "entry": "s0", "stages": spec,
    }, context={"time_unit": "hour"})


def salessim_visits(stages: int, leads: int) -> tuple[int, float]:
    from salessim import engine

    scenario = line_scenario(stages, leads)
    start = time.process_time()
    rep = engine.run_replication(scenario, 0)
    took = time.process_time() - start
    return int(sum(st.entered for st in rep.tally.stages.values())), took


def plain_visits(stages: int, leads: int) -> tuple[int, float]:
    start = time.process_time()
    rng = random.Random(1)
    env = simpy.Environment()
    staff = [simpy.Resource(env, capacity=STAFF) for _ in range(stages)]
    visits = 0

    def lead():
        nonlocal visits
        for i in range(stages):
            visits += 1
            with staff[i].request() as req:
                yield req
                yield env.timeout(rng.expovariate(1 / WORK))
            if i < stages - 1 and rng.random() < LOSS:
                return

    def arrivals():
        while True:
            yield env.timeout(rng.expovariate(1.0))
            env.process(lead())

    env.process(arrivals())
    env.run(until=leads)
    return visits, time.process_time() - start


def stage_table(leads: int, repeat: int) -> None:
    from salessim import engine  # noqa: F401  (imported before any timing)

    print(f"stage visits per CPU second, tandem line, {leads:,} leads, best of {repeat}")
    print(f"{'stages':>6} {'salessim':>12} {'plain SimPy':>12} {'ratio':>6}")
    for stages in (5, 20, 50):
        best = {"salessim": 0.0, "plain": 0.0}
        for _ in range(repeat):
            for name, model in (("salessim", salessim_visits), ("plain", plain_visits)):
                gc.collect()
                visits, cpu = model(stages, leads)
                best[name] = max(best[name], visits / cpu)
        print(f"{stages:>6} {best['salessim']:>12,.0f} {best['plain']:>12,.0f} "
              f"{best['salessim'] / best['plain']:>6.2f}")


def memory_child(leads: int) -> None:
    from salessim import engine

    scenario = line_scenario(5, leads)
    at_start = peak_rss_mb()
    engine.run_replication(scenario, 0)
    print(json.dumps({"start_mb": at_start, "peak_mb": peak_rss_mb()}))


def log_child(leads: int) -> None:
    from salessim import engine
    from salessim.logfiles import write_event_log

    scenario = line_scenario(5, leads)
    log = engine.run_replication(scenario, 0, event_log=True).log
    held = (log.codes.buffer_info()[1] * log.codes.itemsize
            + log.times.buffer_info()[1] * log.times.itemsize)
    per_lead = sum(a.buffer_info()[1] * a.itemsize for a in (
        log.lead_source, log.lead_number, log.lead_value, log.lead_score, log.lead_counted,
        log.lead_end))
    import pandas  # noqa: F401  (the writers' imports are not the export's cost)
    import pyarrow.parquet  # noqa: F401

    before = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        write_event_log([log], Path(tmp) / "log.csv")
        write_event_log([log], Path(tmp) / "log.parquet")
    print(json.dumps({"events": len(log), "event_bytes": held, "lead_bytes": per_lead,
                      "before_mb": before, "after_mb": peak_rss_mb()}))


def child(*args: str) -> dict:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *args],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def b2b(repeat: int) -> None:
    from salessim import engine
    from salessim.scenario import load_scenario

    scenario = load_scenario(HERE.parent / "scenarios" / "b2b_baseline.yaml")
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        rep = engine.run_replication(scenario, 0)
        best = max(best, rep.tally.leads / (time.process_time() - start))
    print(f"\nb2b_baseline.yaml, one replication: {best:,.0f} leads per CPU second "
          f"(best of {repeat})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000, help="leads per stage-table run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", type=int, default=100_000, help="leads, small memory run")
    parser.add_argument("--large", type=int, default=3_000_000, help="leads, large memory run")
    parser.add_argument("--log-leads", type=int, default=200_000, help="leads, logged run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, leads = args.child
        (memory_child if kind == "memory" else log_child)(int(leads))
        return 0
    small, large = child("memory", str(args.small)), child("memory", str(args.large))
    stage_table(args.leads, args.repeat)
    print("\npeak memory of KPI-only runs (fresh interpreters, 5-stage line)")
    for leads, m in ((args.small, small), (args.large, large)):
        print(f"{leads:>10,} leads: peak {m['peak_mb']:.1f} MB, run adds "
              f"{m['peak_mb'] - m['start_mb']:.1f} MB")
    print(f"difference: {large['peak_mb'] - small['peak_mb']:.1f} MB for "
          f"{args.large - args.small:,} more leads")
    log = child("log", str(args.log_leads))
    print(f"\nevent log of {args.log_leads:,} leads: {log['events']:,} events, "
          f"{log['event_bytes'] / log['events']:.1f} bytes an event in its arrays, "
          f"{(log['event_bytes'] + log['lead_bytes']) / log['events']:.1f} with the lead table; "
          f"writing CSV and Parquet (pandas and pyarrow already imported) raised the peak by {log['after_mb'] - log['before_mb']:.1f} MB")
    b2b(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
