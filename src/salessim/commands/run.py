"""``salessim run``: one scenario's replications, its KPIs and its diagnosis."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from salessim import diagnose, engine
from salessim.commands import add_set_option, warn_size, writes_out
from salessim.commands.compare import (
    add_diagnosis_options,
    check_diagnosis_options,
    pilot_warmup,
    precision_kpis,
    precision_run,
    warmup_sets,
)
from salessim.compare import ScenarioRun
from salessim.console import kpi_table, progress_bar
from salessim.errors import UsageError
from salessim.experiments.executors import make_executor, ordered_map
from salessim.records import write_frame
from salessim.reports import run_report
from salessim.reports.tables import diagnosis_text, frame_text, precision_display
from salessim.runrecord import write_record
from salessim.scenario import load_scenario, resolved, scenario_hash


@writes_out("run")
def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario's replications; print its KPIs, funnel and bottlenecks."""
    if (args.event_log or args.report) and args.out is None:
        raise UsageError("--event-log and --report write files: give --out DIR too")
    precision = check_diagnosis_options(args)
    sets = warmup_sets(args)
    scenario = load_scenario(args.scenario, sets)
    n = args.replications or scenario.replications
    seed = scenario.seed if args.seed is None else args.seed
    warn_size(scenario, n, args.event_log)
    clock = time.perf_counter()
    estimate, result, report = None, None, None
    with progress_bar(n, scenario.name) as bar:
        tick = lambda _: bar.update()  # noqa: E731 - a one-line callback
        if args.warmup == "auto":
            estimate, pilot = pilot_warmup(scenario, n, seed, args.warmup_series, tick)
            bar.total += n
            if estimate.warmup != float(scenario.warmup):
                sets = [*sets, f"warmup={estimate.warmup:g}"]
                scenario = load_scenario(args.scenario, sets)
            elif len(pilot.replications) == n and not (precision or args.event_log):
                result = pilot
        if result is None and precision:
            result, report = precision_run(
                scenario, precision, precision_kpis(args), n, args.max_replications, seed,
                progress=tick, event_log=args.event_log)
            n = len(result.replications)
        elif result is None:
            with make_executor(args.workers) as executor:
                result = engine.run(scenario, n, seed, event_log=args.event_log, progress=tick,
                                    mapper=ordered_map(executor))
    seconds = time.perf_counter() - clock
    summary = result.summary()
    print(f"{scenario.name}: {n} replications, seed {seed}, {seconds:.1f} s")
    print(kpi_table(summary))
    if estimate is not None:
        print(f"\nwarm-up {estimate.warmup:g} {scenario.time_unit}s (MSER-5 on the mean over "
              f"replications of {diagnose.WARMUP_SERIES[estimate.series]})")
    if report is not None:
        print(f"\n{report.summary()}\n{frame_text(precision_display(report))}")
    fun = diagnose.funnel(result)
    neck = diagnose.bottlenecks(result)
    print()
    print(diagnosis_text(fun, neck))
    if args.out is not None:
        out = Path(args.out)
        write_frame(summary, out / "summary.csv")
        write_frame(result.frame(), out / "replications.csv")
        write_frame(fun, out / "funnel.csv")
        written = ["summary.csv", "replications.csv", "funnel.csv"]
        if args.event_log:
            log = result.event_log()
            write_frame(log, out / "event_log.csv")
            write_frame(log, out / "event_log.parquet")
            written += ["event_log.csv", "event_log.parquet"]
        if args.report:
            run = ScenarioRun(Path(args.scenario).stem, scenario, str(args.scenario),
                              result=result)
            flow_reps = min(2, n)
            log = (result.event_log() if args.event_log
                   else diagnose.flow_logs(scenario, flow_reps, seed))
            log = log[log["replication"] < flow_reps]
            flows = diagnose.transitions(log, float(scenario.warmup))
            notes = [] if estimate is None else [
                f"warm-up {estimate.warmup:g} estimated by MSER-5"]
            page = run_report(run, flows, estimate, report, sets=sets, notes=notes)
            path = page.write(out)
            written += [path.name, *(f"{name}.png" for name in page.pngs)]
            print(f"\nreport: {args.final_out / path.name}")
        record = args.record
        record.seed, record.replications = seed, n
        record.scenario(Path(args.scenario).stem, args.scenario, scenario_hash(scenario))
        record.details.update({
            "scenario": str(args.scenario),
            "sets": sets,
            "scenario_hash": scenario_hash(scenario),
            "warmup": float(scenario.warmup),
            "warmup_estimate": None if estimate is None else {
                "series": estimate.series, "warmup": estimate.warmup},
            "precision": None if report is None else {
                "rel_precision": report.rel_precision, "capped": report.capped,
                "kpis": list(report.kpis["kpi"])},
            "resolved_scenario": resolved(scenario),
        })
        # What this run wrote: an older run's files in the same folder are left as
        # they were, and are not this run's.
        write_record(out, record, written)
        print(f"wrote {args.final_out}/")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    p = sub.add_parser("run", help="run a scenario's replications, print its KPIs and diagnosis")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--replications", "-n", type=int, help="default: the scenario's")
    p.add_argument("--seed", type=int, help="root seed; default: the scenario's")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per core; 1 runs in this process); "
                        "results do not depend on it")
    add_set_option(p)
    p.add_argument("--out", metavar="DIR",
                   help="write summary.csv, replications.csv, funnel.csv, run.json")
    p.add_argument("--event-log", action="store_true",
                   help="also write event_log.csv and event_log.parquet (needs --out)")
    p.add_argument("--report", action="store_true",
                   help="also write report.html and its figures as PNG files (needs --out)")
    add_diagnosis_options(p)
    p.set_defaults(func=cmd_run)
