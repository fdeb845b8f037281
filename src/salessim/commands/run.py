"""``salessim run``: one scenario's replications, its KPIs and its diagnosis."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from salessim.commands import add_set_option, warn_size, writes_out
from salessim.commands.compare import (
    add_diagnosis_options,
    add_kpis_option,
    check_diagnosis_options,
    check_kpi_patterns,
    pilot_warmup,
    precision_kpis,
    precision_run,
    warmup_sets,
)
from salessim.errors import UsageError
from salessim.logfiles import FORMATS


@writes_out("run")
def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario's replications; print its KPIs, funnel and bottlenecks."""
    # Imported here so that building the parser stays light (see salessim.cli).
    from salessim import diagnose, engine
    from salessim.compare import ScenarioRun
    from salessim.console import default_kpis, kpi_table, progress_bar, select_kpis
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.logfiles import write_cases, write_event_log
    from salessim.records import write_frame
    from salessim.reports import run_report
    from salessim.reports.summary import caveat_lines, run_caveats
    from salessim.reports.tables import (
        diagnosis_text,
        frame_text,
        precision_display,
        with_labels,
    )
    from salessim.runrecord import write_record
    from salessim.scenario import load_scenario, resolved, scenario_hash

    if (args.event_log or args.report) and args.out is None:
        raise UsageError("--event-log and --report write files: give --out DIR too")
    precision = check_diagnosis_options(args)
    sets = warmup_sets(args)
    scenario = load_scenario(args.scenario, sets)
    if args.pipeline is not None:
        scenario = start_from_pipeline(scenario, args)
    elif args.as_of is not None or args.stages is not None:
        what = ("--as-of picks the date of" if args.as_of is not None else
                "--stages groups into stages the event log of")
        raise UsageError(f"{what} --pipeline FILE: give --pipeline too")
    known = engine.kpi_names(scenario)
    patterns = check_kpi_patterns(args.kpi, known)
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
                progress=tick, event_log=bool(args.event_log))
            n = len(result.replications)
        elif result is None and n == 1:
            # One replication: progress over its simulated time instead of a count.
            with progress_bar(100, f"{scenario.name} (simulated time)", unit="%") as one:
                done = [0]

                def simulated(share: float) -> None:
                    one.update(round(share * 100) - done[0])
                    done[0] = round(share * 100)

                result = engine.run(scenario, 1, seed, event_log=bool(args.event_log),
                                    progress=tick, clock=simulated)
        elif result is None:
            with make_executor(args.workers) as executor:
                result = engine.run(scenario, n, seed, event_log=bool(args.event_log),
                                    progress=tick, mapper=ordered_map(executor))
    seconds = time.perf_counter() - clock
    summary = result.summary()
    print(f"{scenario.name}: {n} replications, seed {seed}, {seconds:.1f} s")
    means = dict(zip(summary["kpi"], summary["mean"], strict=True))
    # A run from open deals shows how they ended beside the headline KPIs.
    started = [k for k in means if k.startswith("pipeline_") and k != "pipeline_velocity"]
    shown = (select_kpis(list(means), patterns)[0] if patterns
             else default_kpis(means, also=started))
    print(kpi_table(summary, time_unit=scenario.time_unit, kpis=shown))
    if estimate is not None:
        print(f"\nwarm-up {estimate.warmup:g} {scenario.time_unit}s (MSER-5 on the mean over "
              f"replications of {diagnose.WARMUP_SERIES[estimate.series]})")
    if report is not None:
        print(f"\n{report.summary()}\n{frame_text(precision_display(report))}")
    fun = diagnose.funnel(result)
    neck = diagnose.bottlenecks(result)
    print()
    print(diagnosis_text(fun, neck))
    if args.analytic:  # the flow analysis beside the run (salessim.commands.teaching)
        from salessim.commands.teaching import versus_text
        print(f"\n{versus_text(result)}")
    run = ScenarioRun(Path(args.scenario).stem, scenario, str(args.scenario), result=result)
    # From open deals the run starts in a working state: no warm-up to judge.
    caveats = run_caveats(run, estimate or (None if args.pipeline is not None
                                            else diagnose.estimate_warmup(result)))
    if caveats:
        print("\nWarnings\n" + "\n".join(f"- {line}" for line in caveat_lines(caveats)))
    if args.out is not None:
        out = Path(args.out)
        write_frame(with_labels(summary, scenario.time_unit), out / "summary.csv")
        write_frame(result.frame(), out / "replications.csv")
        write_frame(fun, out / "funnel.csv")
        written = ["summary.csv", "replications.csv", "funnel.csv"]
        if args.event_log:
            logs = [r.log for r in result.replications if r.log is not None]
            for kind in args.event_log:
                write_event_log(logs, out / f"event_log.{kind}")
            write_cases(logs, out / "cases.csv")
            written += [*(f"event_log.{kind}" for kind in args.event_log), "cases.csv"]
        if args.report:
            flow_reps = min(2, n)
            log = (result.event_log() if args.event_log
                   else diagnose.flow_logs(scenario, flow_reps, seed))
            log = log[log["replication"] < flow_reps]
            flows = diagnose.transitions(log, float(scenario.warmup))
            notes = [] if estimate is None else [
                f"warm-up {estimate.warmup:g} estimated by MSER-5"]
            page = run_report(run, flows, estimate, report, sets=sets, notes=notes,
                              caveats=caveats)
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
            "pipeline": args.pipeline,
        })
        # What this run wrote: an older run's files in the same folder are left as
        # they were, and are not this run's.
        write_record(out, record, written)
        print(f"wrote {args.final_out}/")
    return 0


def start_from_pipeline(scenario, args: argparse.Namespace):
    """The scenario started from the deals open in ``--pipeline`` at ``--as-of``: its own
    horizon from that date, no warm-up (the run starts in a working state)."""
    import pandas as pd

    from salessim.calibrate.readers import ExportError
    from salessim.commands.forecast import calendar_warning, with_file
    from salessim.errors import ScenarioError
    from salessim.forecast import forecast_scenario, parse_date, read_pipeline
    from salessim.scenario.units import convert

    if args.warmup is not None:
        raise UsageError("--pipeline starts the run from the open deals, with no warm-up: "
                         "leave out --warmup")
    try:
        as_of = None if args.as_of is None else parse_date(args.as_of, "--as-of")
        snapshot = read_pipeline(args.pipeline, scenario, as_of, stages=args.stages)
    except ExportError as exc:  # bad input: refused before the run, nothing written
        raise UsageError(str(exc)) from None
    late = calendar_warning(scenario, snapshot.as_of)
    for line in [*snapshot.warnings, *([late] if late else [])]:
        print(f"warning: {line}", file=sys.stderr)
    days = convert(float(scenario.horizon), scenario.time_unit, "day")
    until = snapshot.as_of + pd.Timedelta(days=days)
    try:
        started = forecast_scenario(scenario, snapshot, until)
    except ScenarioError as exc:
        raise with_file(exc, str(args.pipeline)) from None
    # The horizon and periods exactly as the scenario gives them (no round trip via dates).
    return started.model_copy(update={"horizon": scenario.horizon, "periods": scenario.periods})


def log_formats(text: str) -> list[str]:
    """``csv,parquet`` -> ["csv", "parquet"]: event-log formats, each known."""
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in FORMATS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"event-log formats are {', '.join(FORMATS)} (comma-separated), got {text!r}")
    return kinds


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
    add_kpis_option(p, "rows of the KPI table", "the headline KPIs and the busiest role's "
                    "utilisation")
    p.add_argument("--out", metavar="DIR",
                   help="write summary.csv, replications.csv, funnel.csv, run.json")
    p.add_argument("--event-log", nargs="?", const="csv,parquet", type=log_formats,
                   metavar="FORMATS",
                   help="also write the event log (needs --out): event_log.csv and "
                        "event_log.parquet by default, or the formats named (csv, parquet, "
                        "xes, comma-separated), and cases.csv with each lead's attributes")
    p.add_argument("--report", action="store_true",
                   help="also write report.html and its figures as PNG files (needs --out)")
    p.add_argument("--stages", metavar="MAP.yaml",
                   help="with --pipeline: an event log's stage map")
    p.add_argument("--pipeline", metavar="FILE",
                   help="start from the deals open in this file (a plain open-deals table or "
                        "any export calibrate reads) instead of empty, with no warm-up; adds "
                        "the pipeline_* KPIs")
    p.add_argument("--as-of", metavar="DATE",
                   help="with --pipeline: the date the open deals are taken at (default: the "
                        "file's latest time)")
    p.add_argument("--analytic", action="store_true",
                   help="also show the flow-analysis figures beside the simulated ones")
    add_diagnosis_options(p)
    p.set_defaults(func=cmd_run)
