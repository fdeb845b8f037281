"""``salessim run``: one scenario's replications, its KPIs and its diagnosis.

A thin shell over :func:`salessim.api.run` and its :class:`~salessim.api.RunReport`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from salessim.commands import (
    add_diagnosis_options,
    add_kpis_option,
    add_parameter_options,
    add_set_option,
    check_diagnosis_options,
    check_kpi_patterns,
    precision_kpis,
    warmup_sets,
    warn_size,
    writes_out,
)
from salessim.errors import UsageError
from salessim.logfiles import FORMATS
from salessim.runrecord import write_record


@writes_out("run")
def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario's replications; print its KPIs, funnel and bottlenecks."""
    # Imported here so that building the parser stays light (see salessim.cli).
    from salessim.api.runs import run
    from salessim.console import progress_bar
    from salessim.engine import kpi_names
    from salessim.scenario import load_scenario

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
    patterns = check_kpi_patterns(args.kpi, kpi_names(scenario))
    n = args.replications or scenario.replications
    warn_size(scenario, n, args.event_log)
    with progress_bar(n, scenario.name) as bar, _simulated_time(n, scenario.name) as clock:
        report = run(scenario, n, args.seed, warmup="auto" if args.warmup == "auto" else None,
                     warmup_series=args.warmup_series, precision=precision,
                     precision_kpis=precision_kpis(args),
                     max_replications=args.max_replications, event_log=bool(args.event_log),
                     workers=args.workers, progress=bar, clock=clock,
                     label=Path(args.scenario).stem,
                     parameter_uncertainty=args.parameter_uncertainty,
                     resamples=args.resamples, given_path=args.scenario)
    report.path, report.sets = str(args.scenario), [*sets, *report.sets]
    report.warm_start = args.pipeline is not None
    print(f"{scenario.name}: {report.replications} replications, seed {report.seed}, "
          f"{report.seconds:.1f} s")
    print(report.summary(patterns))
    if args.analytic:  # the flow analysis beside the run
        print(f"\n{report.versus_analysis()}")
    warnings = report.warnings_text()
    if warnings:
        print(f"\n{warnings}")
    if args.out is not None:
        if args.pipeline is not None:  # the event log's time 0 is the as-of date
            for rep in report.result.replications:
                if rep.log is not None:
                    rep.log.epoch = args.started_at
        written = report.write(args.out, args.event_log or (), args.report, args.log_columns)
        if args.report:
            print(f"\nreport: {args.final_out / next(w for w in written if w.endswith('.html'))}")
        _record(args, report)
        # What this run wrote: an older run's files in the same folder are left as they were.
        write_record(args.out, args.record, written)
        print(f"wrote {args.final_out}/")
    return 0


@contextlib.contextmanager
def _simulated_time(n: int, name: str):
    """With one replication, progress over its simulated time instead of a count."""
    from salessim.console import progress_bar

    if n != 1:
        yield None
        return
    with progress_bar(100, f"{name} (simulated time)", unit="%") as one:
        done = [0]

        def simulated(share: float) -> None:
            one.update(round(share * 100) - done[0])
            done[0] = round(share * 100)

        yield simulated


def _record(args: argparse.Namespace, report) -> None:
    """Note the run in the command's run record."""
    from salessim.scenario import resolved, scenario_hash

    scenario, estimate, precision = report.scenario, report.warmup_estimate, report.precision
    record = args.record
    record.seed, record.replications = report.seed, report.replications
    record.scenario(report.label, args.scenario, scenario_hash(scenario))
    record.details.update({
        "scenario": str(args.scenario),
        "sets": report.sets,
        "scenario_hash": scenario_hash(scenario),
        "warmup": float(scenario.warmup),
        "warmup_estimate": None if estimate is None else {
            "series": estimate.series, "warmup": estimate.warmup},
        "precision": None if precision is None else {
            "rel_precision": precision.rel_precision, "capped": precision.capped,
            "kpis": list(precision.kpis["kpi"])},
        "resolved_scenario": resolved(scenario),
        "pipeline": args.pipeline,
        "parameter_uncertainty": None if report.parameters is None else {
            "history": report.parameters.resamples.history,
            "resamples": len(report.parameters.resamples.scenarios)},
    })


def start_from_pipeline(scenario, args: argparse.Namespace):
    """The scenario started from the deals open in ``--pipeline`` at ``--as-of``: its own
    horizon from that date, no warm-up (the run starts in a working state)."""
    import pandas as pd

    from salessim.api.forecasting import with_file
    from salessim.calibrate.readers import ExportError
    from salessim.errors import ScenarioError
    from salessim.forecast import forecast_scenario, parse_date, read_pipeline
    from salessim.forecast.simulate import calendar_warning
    from salessim.scenario import evolve
    from salessim.scenario.units import convert

    if args.warmup is not None:
        raise UsageError("--pipeline starts the run from the open deals, with no warm-up: "
                         "leave out --warmup")
    try:
        as_of = None if args.as_of is None else parse_date(args.as_of, "--as-of")
        snapshot = read_pipeline(args.pipeline, scenario, as_of, stages=args.stages)
    except ExportError as exc:  # bad input: refused before the run, nothing written
        raise UsageError(str(exc)) from None
    args.started_at = snapshot.as_of.to_pydatetime()
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
    return evolve(started, horizon=scenario.horizon, periods=scenario.periods)


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
    p.add_argument("--log-columns", choices=("full", "lean"), default="full",
                   help="columns of event_log.csv: full (default: replication, lead, event, "
                        "stage, time, resource and the process-mining columns) or lean (the "
                        "first six only, times to 12 digits: under half the size)")
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
    add_parameter_options(p)
    p.set_defaults(func=cmd_run)
