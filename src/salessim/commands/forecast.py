"""``salessim forecast``: bookings to a date from today's open pipeline, and its back-test.

A thin shell over :mod:`salessim.forecast`: read the open deals at the as-of date, check
every option and every deal against the scenario (bad input stops here, before anything
is run or written), simulate the baseline and each redesign on the same random numbers,
print the summary and write forecast.csv, deals.csv, quota.csv, redesigns.csv,
report.html and run.json into ``--out``, whole or not at all.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salessim.commands import MAX_REPLICATIONS, add_set_option, writes_out
from salessim.errors import ScenarioError, UsageError

#: The periods forecast.csv can break the window into (``forecast.simulate.PERIODS``).
PERIODS = ("month", "week")
#: Replications when --replications is not given (``forecast.DEFAULT_REPLICATIONS``).
DEFAULT_REPLICATIONS = 500
#: Most bootstrap resamples: the capacity check's replications run on them too.
MAX_RESAMPLES = 100


@dataclass
class Run:
    """One scenario of the forecast, checked and ready to simulate."""

    label: str
    file: str
    scenario: Any
    snapshot: Any
    forecast: Any = None
    uncapped: Any = None


@dataclass
class Plan:
    """Everything the options ask for, read and checked before any work is done."""

    runs: list[Run]
    pipeline: str
    until: Any
    replications: int
    seed: int
    period: str
    quota: float | None
    booked: float
    warnings: list[str] = field(default_factory=list)
    history: str | None = None
    calibration: Any = None
    resamples: int = 0


def amount_option(text: str, option: str, positive: bool = False) -> float:
    """A sum of money from the command line: a finite number, 0 or more (or more than 0).

    Thousands separators (``1,500,000`` or ``1_500_000``) are allowed.
    """
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise UsageError(f"{option}: a sum of money is a number like 1500000, got {text!r}"
                         ) from None
    if not math.isfinite(value):
        raise UsageError(f"{option}: must be a finite number, got {text!r}")
    if value < 0 or (positive and value == 0):
        raise UsageError(f"{option}: must be {'more than' if positive else 'at least'} 0, "
                         f"got {text!r}")
    return value


def _check_options(args: argparse.Namespace) -> None:
    if args.period not in PERIODS:
        raise UsageError(f"--period: one of {', '.join(PERIODS)}, got {args.period!r}")
    if args.replications is not None and not 2 <= args.replications <= MAX_REPLICATIONS:
        raise UsageError(f"--replications must be from 2 to {MAX_REPLICATIONS:,} (P10 and P90 "
                         f"need several), got {args.replications}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be 0 or more, got {args.seed}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.resamples is not None and args.history is None and not args.parameter_uncertainty:
        raise UsageError("--resamples belongs to --history FILE (or --parameter-uncertainty "
                         "with --backtest)")
    if args.parameter_uncertainty and args.backtest is None:
        raise UsageError("--parameter-uncertainty belongs to --backtest HISTORY; a forecast "
                         "gets it from --history FILE, the export its scenario was "
                         "calibrated from")


def with_file(exc: ScenarioError, path: str, scenario: str | None = None) -> ScenarioError:
    """The open deals' problems located in the pipeline file they came from (and, for a
    redesign, the scenario file they do not fit)."""
    from salessim.errors import Problem

    def rule(text: str) -> str:
        return text if scenario is None else f"{text}, in {scenario}"

    return ScenarioError([Problem(p.field, rule(p.rule), p.value, path if p.field.startswith(
        "pipeline") else p.file, p.line) for p in exc.problems])


def calendar_warning(scenario, as_of) -> str | None:
    """A warning when staff work to a calendar and the as-of time is not a Monday 00:00:
    the calendar's week starts at simulated time 0, the as-of time."""
    calendars = [scenario.calendar, *(r.calendar for r in scenario.roles.values())]
    if all(c is None for c in calendars) or (as_of.day_of_week == 0 and as_of == as_of.normalize()):
        return None
    return (f"the staff calendar's week starts at the as-of time ({as_of:%A %Y-%m-%d %H:%M}) "
            "as if it were Monday 00:00; take the pipeline on a Monday at midnight (--as-of) "
            "to line the working days up")


def _ready(run: Run, pipeline: str, until, replications: int, seed: int,
           redesign: bool = False) -> None:
    """Check that the open deals fit ``run``'s scenario (stages, sources, ages)."""
    from salessim.forecast import forecast_scenario

    try:
        forecast_scenario(run.scenario, run.snapshot, until, replications, seed)
    except ScenarioError as exc:
        raise with_file(exc, pipeline, run.file if redesign else None) from None


def plan_forecast(args: argparse.Namespace) -> Plan:
    """Read and check everything the options name; raises on bad input, writes nothing."""
    from salessim.compare import load_runs
    from salessim.forecast import parse_date, read_pipeline

    _check_options(args)
    for option, given in (("--pipeline FILE", args.pipeline), ("--until DATE", args.until),
                          ("SCENARIO", args.scenario)):
        if given is None:
            raise UsageError(f"forecast needs {option} (or --backtest HISTORY for a back-test)")
    for option in ("every", "horizon"):
        if getattr(args, option) is not None:
            raise UsageError(f"--{option} belongs to --backtest HISTORY")
    quota = None if args.quota is None else amount_option(args.quota, "--quota", positive=True)
    booked = 0.0 if args.booked is None else amount_option(args.booked, "--booked")
    if args.booked is not None and quota is None:
        raise UsageError("--booked counts towards --quota: give --quota too")
    until = parse_date(args.until, "--until")
    as_of = None if args.as_of is None else parse_date(args.as_of, "--as-of")
    if as_of is not None and until <= as_of:
        raise UsageError(f"--until {args.until} must be after --as-of {args.as_of}")
    base, others = load_runs(args.scenario, args.redesign, args.set)
    snapshot = read_pipeline(args.pipeline, base.scenario, as_of, stages=args.stages)
    if until <= snapshot.as_of:
        raise UsageError(f"--until {args.until} must be after the as-of date "
                         f"{snapshot.as_of} (the latest time in {args.pipeline})")
    runs = [Run(base.label, str(args.scenario), base.scenario, snapshot)]
    for other in others:
        same_unit = other.scenario.time_unit == base.scenario.time_unit
        snap = snapshot if same_unit else read_pipeline(args.pipeline, other.scenario, as_of,
                                                        stages=args.stages)
        runs.append(Run(other.label, str(other.path), other.scenario, snap))
    n = args.replications or DEFAULT_REPLICATIONS
    seed = base.scenario.seed if args.seed is None else args.seed
    for i, run in enumerate(runs):
        _ready(run, str(args.pipeline), until, n, seed, redesign=i > 0)
    warnings = list(snapshot.warnings)
    history, calibration, resamples = _history(args, runs, n)
    for run in runs:
        late = calendar_warning(run.scenario, snapshot.as_of)
        if late is not None and late not in warnings:
            warnings.append(late)
    return Plan(runs, str(args.pipeline), until, n, seed, args.period, quota, booked, warnings,
                history, calibration, resamples)


def _history(args: argparse.Namespace, runs: list[Run], replications: int):
    """With ``--history``: the history's calibration (it must give the scenario) and B."""
    from salessim.calibrate.pipeline import read_visits
    from salessim.forecast.bootstrap import DEFAULT_RESAMPLES, calibration_of, check_resamples

    if args.history is None:
        return None, None, 0
    if len(runs) > 1:
        raise UsageError("--history does not combine with --redesign: a redesign's "
                         "parameters are not estimated from the history")
    resamples = check_resamples(DEFAULT_RESAMPLES if args.resamples is None else
                                args.resamples, min(replications, MAX_RESAMPLES))
    visits = read_visits(args.history, stages=args.stages)
    calibration = calibration_of(visits, runs[0].scenario, str(args.history))
    return str(args.history), calibration, resamples


def cmd_forecast(args: argparse.Namespace) -> int:
    """Check the options and the open deals, then simulate and write."""
    if args.backtest is not None:
        from salessim.commands.forecast_backtest import cmd_backtest

        return cmd_backtest(args)
    args.plan = plan_forecast(args)
    return _forecast(args)


@writes_out("forecast")
def _forecast(args: argparse.Namespace) -> int:
    from salessim.console import progress_bar
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.forecast import run_forecast
    from salessim.forecast.gap import CAPACITY_REPLICATIONS, staffed, unlimited_staff
    from salessim.forecast.report import forecast_report
    from salessim.forecast.tables import deals_csv, quota_table, redesign_table, summary_text
    from salessim.records import write_frame
    from salessim.runrecord import write_record
    from salessim.scenario import scenario_hash

    plan: Plan = args.plan
    for line in plan.warnings:
        print(f"warning: {line}", file=sys.stderr)
    clock = time.perf_counter()
    base = plan.runs[0]
    # The capacity part of the weighted pipeline's gap: the baseline's first replications
    # again with unlimited staff, on the same random numbers (salessim.forecast.gap).
    check = (min(plan.replications, CAPACITY_REPLICATIONS)
             if staffed(base.scenario) and base.snapshot.deals else 0)
    total = plan.replications * len(plan.runs) + check
    with progress_bar(total, "forecast") as bar, make_executor(args.workers) as executor:
        def simulate(scenario, snapshot, n):
            return run_forecast(scenario, snapshot, plan.until, n, plan.seed, plan.period,
                                mapper=ordered_map(executor), progress=lambda _: bar.update())

        if plan.resamples:
            bootstrap = _bootstrap(plan, executor, bar)
            base.forecast = bootstrap(base.scenario, plan.replications, lambda s: s)
            if check:
                base.uncapped = bootstrap(unlimited_staff(base.scenario), check,
                                          unlimited_staff)
        else:
            for run in plan.runs:
                run.forecast = simulate(run.scenario, run.snapshot, plan.replications)
            if check:
                base.uncapped = simulate(unlimited_staff(base.scenario), base.snapshot, check)
    seconds = time.perf_counter() - clock
    base.forecast.warnings += [w for w in plan.warnings if w not in base.forecast.warnings]
    others = [(run.label, run.forecast) for run in plan.runs[1:]]
    paired = (redesign_table(base.forecast, others, plan.quota, plan.booked) if others
              else None)
    quota = (quota_table([(run.label, run.forecast) for run in plan.runs], plan.quota,
                         plan.booked) if plan.quota is not None else None)
    print(summary_text(base.forecast, seconds, paired, quota, base.uncapped))
    print(f"band: {base.forecast.band}")
    out = Path(args.out)
    written = []
    for run in plan.runs:
        folder = out if run is base else out / run.label
        prefix = "" if run is base else f"{run.label}/"
        write_frame(run.forecast.table(), folder / "forecast.csv")
        write_frame(deals_csv(run.forecast), folder / "deals.csv")
        written += [f"{prefix}forecast.csv", f"{prefix}deals.csv"]
    if quota is not None:
        write_frame(quota, out / "quota.csv")
        written.append("quota.csv")
    if paired is not None:
        write_frame(paired, out / "redesigns.csv")
        written.append("redesigns.csv")
    page = forecast_report(base.forecast, plan.quota, plan.booked, paired,
                           source=plan.pipeline, seed=plan.seed, uncapped=base.uncapped,
                           others=others)
    path = page.write(out)
    written += [path.name, *(f"{name}.png" for name in page.pngs)]
    record = args.record
    record.seed, record.replications = plan.seed, plan.replications
    for run in plan.runs:
        record.scenario(run.label, run.file, scenario_hash(run.forecast.scenario))
    record.details.update({
        "pipeline": plan.pipeline, "as_of": base.snapshot.as_of.isoformat(),
        "until": plan.until.isoformat(), "period": plan.period, "open_deals":
        len(base.snapshot.deals), "quota": plan.quota, "booked": plan.booked,
        "sets": list(args.set), "warnings": plan.warnings, "capacity_replications": check,
        "history": plan.history, "resamples": plan.resamples, "band": base.forecast.band})
    write_record(out, record, written)
    print(f"\nreport: {args.final_out / path.name}\nwrote {args.final_out}/")
    return 0


def _bootstrap(plan: Plan, executor, bar):
    """The resamples of ``--history`` calibrated (once), and a function forecasting from
    them: ``(scenario, replications, change)`` with ``change`` applied to every resample's
    scenario as to the original (unlimited staff for the capacity check)."""
    from salessim.experiments.executors import ordered_map
    from salessim.forecast.bootstrap import bootstrap_scenarios, run_bootstrap_forecast

    base, cal = plan.runs[0], plan.calibration.calibration
    families = {sid: t.chosen for sid, t in cal.times.items()}
    scenarios, notes = bootstrap_scenarios(cal.visits, base.scenario, plan.resamples,
                                           plan.seed, plan.history, cal.touch, families,
                                           ordered_map(executor))
    plan.warnings += [n for n in notes if n not in plan.warnings]

    def forecast(scenario, replications, change):
        return run_bootstrap_forecast(scenario, [change(s) for s in scenarios], base.snapshot,
                                      plan.until, replications, plan.seed, plan.period,
                                      mapper=ordered_map(executor),
                                      progress=lambda _: bar.update())

    return forecast


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``forecast`` command."""
    p = sub.add_parser(
        "forecast", help="forecast bookings to a date from the open pipeline",
        description="Start the scenario from the deals open at the as-of date, let the leads "
                    "still to come arrive, and simulate the bookings to --until: P10, P50, "
                    "P90, the chance to reach a quota, each deal's odds, and the weighted "
                    "pipeline beside it. With --backtest: score such forecasts against a "
                    "history.")
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="the scenario (not needed with --backtest)")
    p.add_argument("--pipeline", metavar="FILE",
                   help="the open deals: a plain open-deals CSV or Parquet (deal_id, stage, "
                        "entered_stage_at, ...) or any export salessim calibrate reads")
    p.add_argument("--stages", metavar="MAP.yaml",
                   help="an event log's stage map, for --pipeline, --history and --backtest")
    p.add_argument("--until", metavar="DATE", help="end of the forecast window")
    p.add_argument("--as-of", metavar="DATE",
                   help="the date the pipeline is taken at (default: the file's latest time)")
    p.add_argument("--quota", metavar="X", help="the number to reach: its chance is reported")
    p.add_argument("--booked", metavar="X",
                   help="already booked in the period, counted towards --quota")
    p.add_argument("--redesign", action="append", default=[], metavar="FILE",
                   help="a redesign file (extends: the scenario), forecast on the same random "
                        "numbers (repeatable)")
    p.add_argument("--replications", "-n", type=int, metavar="N",
                   help=f"replications, each a possible course of the window (default "
                        f"{DEFAULT_REPLICATIONS})")
    p.add_argument("--seed", type=int, help="root seed; default: the scenario's")
    p.add_argument("--period", default="month", metavar="month|week",
                   help="break the window into months (default) or ISO weeks")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per core; 1 runs in this process); "
                        "results do not depend on it")
    add_set_option(p)
    p.add_argument("--backtest", metavar="HISTORY",
                   help="back-test: forecast from as-of dates through this history and score "
                        "the forecasts against what happened")
    p.add_argument("--history", metavar="FILE",
                   help="the export SCENARIO was calibrated from: the band then holds the "
                        "uncertainty of the calibrated parameters too (a bootstrap of its "
                        "deals, each resample calibrated the same way)")
    p.add_argument("--parameter-uncertainty", action="store_true",
                   help="with --backtest: put the calibrated parameters' uncertainty into "
                        "each forecast's band (a bootstrap at each as-of date)")
    p.add_argument("--resamples", type=int, metavar="B",
                   help="bootstrap resamples with --history or --parameter-uncertainty "
                        "(default 20; each gets replications / B of the replications)")
    p.add_argument("--every", metavar="TIME", help="with --backtest: time between as-of dates")
    p.add_argument("--horizon", metavar="TIME", help="with --backtest: length of each forecast")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="write forecast.csv, deals.csv, quota.csv, redesigns.csv, report.html "
                        "and run.json (backtest.csv and backtest.png with --backtest)")
    p.set_defaults(func=cmd_forecast)
