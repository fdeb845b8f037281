"""Speed and memory of the salessim engine against a plain SimPy model of the same process.

The process is a tandem line with losses: leads arrive as a Poisson stream (1 per hour),
pass five stages in series staffed by 2, 3, 2, 2 and 1 people with exponential work of
mean 1.6, 2.4, 1.6, 1.6 and 0.8 hours, and after each of the first four stages 10% of
them are lost. Staff work around the clock. The same process is run twice in one
process: once as a salessim :class:`Scenario` through ``engine.run_replication`` (KPIs
only, no event log), once as the hand-written SimPy model a modeller would write with
Python's ``random`` module (one process per lead, ``with res.request() as req``). Each
side is timed ``--repeat`` times, alternating, and the best run counts, because noise
from other programs only ever makes a run slower.

Peak memory (maximum resident set size) is measured in a fresh interpreter per model,
so neither the other model nor the timing runs inflate it.

Run ``python benchmarks/bench_engine.py --help``; ``benchmarks/README.md`` explains how
to read the output.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import math
import os
import platform
import pstats
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import simpy

# salessim is imported only where it is used (and before any timing starts): its imports
# (pandas, scipy) take far more memory than a plain SimPy model ever does, and the plain
# model's peak-memory run must not pay for them.

#: (stage id, staff, mean work in hours), in the order a lead passes them.
STAGES = (
    ("qualify", 2, 1.6),
    ("discovery", 3, 2.4),
    ("demo", 2, 1.6),
    ("proposal", 2, 1.6),
    ("close", 1, 0.8),
)
ARRIVAL_RATE = 1.0  # leads per hour
LOSS = 0.1  # share of leads lost after each stage but the last
SEED = 2026
#: Peak memory a KPI-only salessim run of a million leads should stay under.
MEMORY_TARGET_MB = 150.0

#: The share of leads that pass every stage: they survive a loss draw at all but the last.
EXPECTED_COMPLETION = (1 - LOSS) ** (len(STAGES) - 1)


@dataclass
class Outcome:
    """One timed run of one model.

    Attributes:
        created: leads created during the run.
        won: leads that passed all five stages.
        closed: leads that left the process (won or lost) before the horizon.
        time_in_system: summed creation-to-exit time of the closed leads, in hours.
        seconds: wall time of the whole run (building the model included).
        cpu_seconds: CPU time of this process during the run; unlike wall time it hardly
            grows when other programs compete for the cores.
    """

    created: int
    won: int
    closed: int
    time_in_system: float
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        """Leads simulated per second of wall time."""
        return self.created / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Leads simulated per second of CPU time."""
        return self.created / self.cpu_seconds if self.cpu_seconds > 0 else math.nan

    @property
    def completion(self) -> float:
        """Share of closed leads that passed all five stages."""
        return self.won / self.closed if self.closed else math.nan

    @property
    def time_in_system_mean(self) -> float:
        """Mean hours from creation to exit over closed leads."""
        return self.time_in_system / self.closed if self.closed else math.nan


# --- the two models ---------------------------------------------------------------------


def tandem_scenario(leads: int, seed: int = SEED):
    """The tandem line as a salessim scenario whose horizon brings ``leads`` leads on average."""
    stages = {}
    for i, (sid, _, mean) in enumerate(STAGES):
        last = i == len(STAGES) - 1
        nxt = "won" if last else STAGES[i + 1][0]
        stages[sid] = {
            "role": f"{sid}_staff",
            "work": {"dist": "exponential", "mean": mean},
            "next": {"won": 1.0} if last else {nxt: 1 - LOSS, "lost": LOSS},
        }
    from salessim.scenario.schema import Scenario, process_problems

    data = {
        "name": "benchmark tandem line",
        "time_unit": "hour",
        "horizon": leads / ARRIVAL_RATE,
        "seed": seed,
        "replications": 1,
        "roles": {f"{sid}_staff": {"headcount": staff} for sid, staff, _ in STAGES},
        "sources": {"inbound": {"rate": ARRIVAL_RATE}},
        "entry": STAGES[0][0],
        "stages": stages,
    }
    scenario = Scenario.model_validate(data, context={"time_unit": "hour"})
    problems = process_problems(scenario)
    if problems:
        raise ValueError(f"the benchmark scenario is invalid: {problems}")
    return scenario


def _clocks() -> tuple[float, float]:
    """Wall time and this process's CPU time, in seconds."""
    return time.perf_counter(), time.process_time()


def _since(started: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clocks()
    return wall - started[0], cpu - started[1]


def run_salessim(leads: int, seed: int = SEED) -> Outcome:
    """One KPI-only salessim replication of the tandem line."""
    from salessim import engine

    started = _clocks()
    rep = engine.run_replication(tandem_scenario(leads, seed), 0)
    took = _since(started)
    tally = rep.tally
    return Outcome(tally.leads, tally.won, tally.won + tally.lost, tally.closed_time, *took)


def run_plain(leads: int, seed: int = SEED) -> Outcome:
    """The tandem line as a modeller would write it by hand in SimPy."""
    started = _clocks()
    rng = random.Random(seed)
    env = simpy.Environment()
    staff = [simpy.Resource(env, capacity=n) for _, n, _ in STAGES]
    rates = [1 / mean for _, _, mean in STAGES]
    last = len(STAGES) - 1
    created = won = closed = 0
    time_in_system = 0.0

    def lead(born: float):
        nonlocal won, closed, time_in_system
        for i in range(len(STAGES)):
            with staff[i].request() as req:
                yield req
                yield env.timeout(rng.expovariate(rates[i]))
            if i < last and rng.random() < LOSS:
                break
        else:
            won += 1
        closed += 1
        time_in_system += env.now - born

    def arrivals():
        nonlocal created
        while True:
            yield env.timeout(rng.expovariate(ARRIVAL_RATE))
            created += 1
            env.process(lead(env.now))

    env.process(arrivals())
    env.run(until=leads / ARRIVAL_RATE)
    return Outcome(created, won, closed, time_in_system, *_since(started))


MODELS: dict[str, Callable[[int, int], Outcome]] = {"salessim": run_salessim, "plain": run_plain}
LABELS = {"salessim": "salessim", "plain": "plain SimPy"}
#: What each model imports before its first lead; loaded before timing or measuring it.
IMPORTS = {"salessim": ("salessim.engine",), "plain": ("simpy",)}


def load_imports(model: str) -> None:
    """Import what ``model`` needs, so that no timed run pays for an import."""
    for name in IMPORTS[model]:
        importlib.import_module(name)


# --- what theory says -------------------------------------------------------------------


def erlang_c_sojourn(arrival_rate: float, servers: int, mean_work: float) -> float:
    """Mean time in an M/M/c station (wait plus work), from the Erlang C formula."""
    load = arrival_rate * mean_work  # offered load in erlangs
    rho = load / servers
    if rho >= 1:
        return math.inf
    head = sum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / (math.factorial(servers) * (1 - rho))
    p_wait = tail / (head + tail)
    return mean_work + p_wait * mean_work / (servers * (1 - rho))


def expected_time_in_system() -> float:
    """Mean hours a lead spends in the line, as a Jackson network (product form).

    Losses thin the arrivals, so stage k sees Poisson arrivals at rate ``0.9**k`` and
    behaves as an M/M/c queue; a lead visits stage k with the same probability.
    """
    total, reach = 0.0, 1.0
    for _, servers, mean in STAGES:
        total += reach * erlang_c_sojourn(ARRIVAL_RATE * reach, servers, mean)
        reach *= 1 - LOSS
    return total


# --- timing -----------------------------------------------------------------------------


def time_models(leads: int, repeat: int) -> dict[str, list[Outcome]]:
    """Run each model ``repeat`` times, alternating, so slow spells hit both alike."""
    runs: dict[str, list[Outcome]] = {name: [] for name in MODELS}
    for name in MODELS:
        load_imports(name)
    for _ in range(repeat):
        for name, model in MODELS.items():
            gc.collect()  # the previous run's garbage is not this run's cost
            runs[name].append(model(leads, SEED))
    return runs


def best(outcomes: list[Outcome], cpu: bool = False) -> Outcome:
    """The fastest run: other programs on the machine can only slow a run down."""
    return min(outcomes, key=lambda o: o.cpu_seconds if cpu else o.seconds)


def print_speed(runs: dict[str, list[Outcome]]) -> None:
    print(f"{'model':<12} {'leads':>9} {'best s':>7} {'leads/s':>8} {'best CPU s':>10} "
          f"{'leads/CPU s':>11}   all runs, wall s")
    for name, outcomes in runs.items():
        wall, cpu = best(outcomes), best(outcomes, cpu=True)
        spread = ", ".join(f"{o.seconds:.2f}" for o in outcomes)
        print(f"{LABELS[name]:<12} {wall.created:>9,} {wall.seconds:>7.2f} "
              f"{wall.per_second:>8,.0f} {cpu.cpu_seconds:>10.2f} {cpu.per_cpu_second:>11,.0f}"
              f"   {spread}")
    ratio = best(runs["salessim"]).per_second / best(runs["plain"]).per_second
    cpu_ratio = (best(runs["salessim"], cpu=True).per_cpu_second
                 / best(runs["plain"], cpu=True).per_cpu_second)
    print(f"ratio salessim/plain, leads/s: {ratio:.2f} wall, {cpu_ratio:.2f} CPU  "
          f"(salessim takes {1 / ratio:.2f}x the wall time of plain SimPy)")
    worst_spread = max(max(o.seconds for o in v) / best(v).seconds for v in runs.values())
    signs = []
    if worst_spread > 1.15:
        signs.append(f"runs of one model differ by up to {100 * (worst_spread - 1):.0f}% "
                     "in wall time")
    if abs(ratio - cpu_ratio) > 0.05 * cpu_ratio:
        signs.append("the wall and CPU ratios disagree by more than 5%")
    if signs:
        print(f"note: {' and '.join(signs)}: the machine is busy, trust the CPU ratio")


def print_sanity(runs: dict[str, list[Outcome]]) -> None:
    print()
    print("same model? (first run of each; theory: Jackson network of M/M/c stations)")
    print(f"{'model':<12} {'closed':>9} {'all 5 stages':>13} {'time in system h':>17}")
    for name, outcomes in runs.items():
        o = outcomes[0]
        print(f"{LABELS[name]:<12} {o.closed:>9,} {o.completion:>13.4f} "
              f"{o.time_in_system_mean:>17.2f}")
    closed = runs["salessim"][0].closed
    se = math.sqrt(EXPECTED_COMPLETION * (1 - EXPECTED_COMPLETION) / max(closed, 1))
    print(f"{'theory':<12} {'':>9} {EXPECTED_COMPLETION:>13.4f} "
          f"{expected_time_in_system():>17.2f}   (share: binomial s.e. {se:.4f} at this size)")


# --- memory -----------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    Linux: ``VmHWM`` from ``/proc/self/status``, the high-water mark of this process image.
    ``getrusage().ru_maxrss`` is not used there because it survives ``fork`` and ``exec``:
    a child started by a 200 MB parent reports at least 200 MB whatever it does itself
    (and ``RUSAGE_CHILDREN`` has the same flaw, plus it is the maximum over all children).
    Elsewhere ``ru_maxrss`` is the fallback; the parent measures memory before it imports
    salessim, so the inherited part stays small.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # reported in kB
    except OSError:
        pass
    import resource  # Unix only; imported here so the speed part runs everywhere

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def memory_child(model: str, leads: int) -> None:
    """Run one model in this (fresh) interpreter and print its peak memory as JSON."""
    load_imports(model)
    at_start = peak_rss_mb()
    outcome = MODELS[model](leads, SEED)
    print(json.dumps({"created": outcome.created, "seconds": outcome.seconds,
                      "start_mb": at_start, "peak_mb": peak_rss_mb()}))


def measure_memory(model: str, leads: int) -> dict[str, float]:
    """Peak memory of one run of ``model`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-child", model, str(leads)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory run of {model} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_memory(leads: int, measured: dict[str, dict[str, float]]) -> None:
    print()
    print(f"peak memory, KPI-only run of {leads:,} leads in a fresh interpreter")
    print(f"{'model':<12} {'leads':>10} {'peak MB':>8} {'imports MB':>11} {'run adds MB':>12} "
          f"{'run s':>7}")
    for name, m in measured.items():
        print(f"{LABELS[name]:<12} {m['created']:>10,} {m['peak_mb']:>8.1f} "
              f"{m['start_mb']:>11.1f} {m['peak_mb'] - m['start_mb']:>12.1f} {m['seconds']:>7.1f}")
    peak = measured["salessim"]["peak_mb"]
    verdict = "met" if peak < MEMORY_TARGET_MB else "NOT met"
    print(f"salessim peak {peak:.0f} MB, target < {MEMORY_TARGET_MB:.0f} MB: {verdict} "
          "(imports MB: peak after importing the model's modules, before the first lead)")


# --- profile ----------------------------------------------------------------------------


def print_profile(leads: int, top: int = 20) -> None:
    """cProfile of one salessim run: where the time goes, own time first."""
    print()
    print(f"cProfile of salessim, {leads:,} leads (times are inflated by the profiler)")
    profiler = cProfile.Profile()
    profiler.runcall(run_salessim, leads, SEED)
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)


# --- command line -----------------------------------------------------------------------


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"Python {platform.python_version()}, SimPy {version('simpy')}, "
            f"salessim {version('salessim')}, {os.cpu_count()} cores, load average {load}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000,
                        help="leads per timed run (horizon = leads hours; default 100000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per model, alternating; the best counts (default 3)")
    parser.add_argument("--memory-leads", type=int, default=1_000_000,
                        help="leads in the peak-memory runs (default 1000000)")
    parser.add_argument("--skip-memory", action="store_true", help="do not measure peak memory")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of one salessim run of --leads leads")
    parser.add_argument("--memory-child", nargs=2, metavar=("MODEL", "LEADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return 0
    if args.leads < 1 or args.repeat < 1 or args.memory_leads < 1:
        parser.error("--leads, --repeat and --memory-leads must be at least 1")

    print(machine_line())
    print(f"tandem line: {len(STAGES)} stages, staff {[s for _, s, _ in STAGES]}, "
          f"{ARRIVAL_RATE:g} lead/hour, {args.leads:,} hours, best of {args.repeat}")
    print()
    # Memory first, while this process is small: where the peak can only be read from
    # getrusage, a child inherits its parent's peak (see peak_rss_mb).
    measure = not args.skip_memory and sys.platform != "win32"
    memory = {name: measure_memory(name, args.memory_leads) for name in MODELS} if measure else {}
    runs = time_models(args.leads, args.repeat)
    print_speed(runs)
    print_sanity(runs)
    if memory:
        print_memory(args.memory_leads, memory)
    elif not args.skip_memory:
        print("\npeak memory needs /proc or the Unix resource module: skipped")
    if args.profile:
        print_profile(args.leads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
