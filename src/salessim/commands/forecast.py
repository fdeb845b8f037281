"""``salessim forecast``: bookings to a date from today's open pipeline, and its back-test.

A thin shell over :mod:`salessim.api.forecasting`: read the open deals at the as-of date,
check every option and every deal against the scenario (bad input stops here, before
anything is run or written), simulate the baseline and each redesign on the same random
numbers, print the summary and write forecast.csv, deals.csv, quota.csv, redesigns.csv,
report.html and run.json into ``--out``, whole or not at all. With ``--backtest HISTORY``:
forecasts from as-of dates through a history, scored against what then happened.
"""

from __future__ import annotations

import argparse
import math
import sys

from salessim.commands import MAX_REPLICATIONS, add_set_option, writes_out
from salessim.errors import UsageError
from salessim.runrecord import write_record

#: The periods forecast.csv can break the window into (``forecast.simulate.PERIODS``).
PERIODS = ("month", "week")
#: Replications when --replications is not given (``forecast.DEFAULT_REPLICATIONS``).
DEFAULT_REPLICATIONS = 500


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
    if args.parameter_uncertainty is not None and args.backtest is None:
        raise UsageError(f"--{'' if args.parameter_uncertainty else 'no-'}parameter-uncertainty "
                         "belongs to --backtest HISTORY; a forecast gets it from --history "
                         "FILE, the export its scenario was calibrated from (leave --history "
                         "out for a band without it)")
    bootstrap = args.history is not None or (args.backtest is not None
                                             and args.parameter_uncertainty is not False)
    if args.resamples is not None and not bootstrap:
        raise UsageError("--resamples belongs to --history FILE, or to --backtest HISTORY "
                         "without --no-parameter-uncertainty")


def plan_forecast(args: argparse.Namespace):
    """Read and check everything the options name; raises on bad input, writes nothing."""
    from salessim.api.forecasting import plan

    _check_options(args)
    for option, given in (("--pipeline FILE", args.pipeline), ("--until DATE", args.until),
                          ("SCENARIO", args.scenario)):
        if given is None:
            raise UsageError(f"forecast needs {option} (or --backtest HISTORY for a back-test)")
    for option in ("every", "horizon"):
        if getattr(args, option) is not None:
            raise UsageError(f"--{option} belongs to --backtest HISTORY")
    if args.quarters:
        raise UsageError("--quarters belongs to --backtest HISTORY")
    quota = None if args.quota is None else amount_option(args.quota, "--quota", positive=True)
    booked = 0.0 if args.booked is None else amount_option(args.booked, "--booked")
    if args.booked is not None and quota is None:
        raise UsageError("--booked counts towards --quota: give --quota too")
    from salessim.calibrate.readers import ExportError
    from salessim.forecast.deals import forecast_advice

    try:
        return plan(args.scenario, args.pipeline, args.until, as_of=args.as_of,
                    redesigns=args.redesign,
                    sets=args.set, replications=args.replications, seed=args.seed,
                    period=args.period, quota=quota, booked=booked, history=args.history,
                    resamples=args.resamples, **_ends(args))
    except ExportError as exc:  # --history's reader advises calibrate's --map
        raise forecast_advice(exc) from None


def _ends(args: argparse.Namespace) -> dict:
    """The stage map and end names a history or pipeline export is read with."""
    return dict(stages=args.stages, won=args.won, lost=args.lost,
                no_decision=args.no_decision)


def cmd_forecast(args: argparse.Namespace) -> int:
    """Check the options and the open deals, then simulate and write."""
    if args.backtest is not None:
        args.spans = _check_backtest(args)
        return _backtest(args)
    args.plan = plan_forecast(args)
    return _forecast(args)


@writes_out("forecast")
def _forecast(args: argparse.Namespace) -> int:
    from salessim.api.forecasting import simulate
    from salessim.console import progress_bar
    from salessim.scenario import scenario_hash

    plan = args.plan
    for line in plan.warnings:
        print(f"warning: {line}", file=sys.stderr)
    with progress_bar(plan.total_replications(), "forecast") as bar:
        report = simulate(plan, args.workers, bar)
    print(report.summary())
    written = report.write(args.out)
    record = args.record
    record.seed, record.replications = plan.seed, plan.replications
    for run in plan.runs:
        record.scenario(run.label, run.file, scenario_hash(run.forecast.scenario))
    record.details.update({**report.record(), "sets": list(args.set)})
    write_record(args.out, record, written)
    page = next(w for w in written if w.endswith(".html"))
    print(f"\nreport: {args.final_out / page}\nwrote {args.final_out}/")
    return 0


def _check_backtest(args: argparse.Namespace) -> dict[str, float]:
    """``forecast --backtest HISTORY``: the options checked; returns --every and --horizon
    in days."""
    from salessim.scenario.units import parse_duration
    from salessim.scenario.yamlread import file_problem

    _check_options(args)
    for option, given in (("--pipeline", args.pipeline), ("--until", args.until),
                          ("--as-of", args.as_of), ("--quota", args.quota),
                          ("--booked", args.booked), ("--redesign", args.redesign or None),
                          ("--history", args.history), ("--set", args.set or None)):
        if given is not None:
            raise UsageError(f"{option} does not apply to --backtest, which forecasts from "
                             "each as-of date of the history")
    problem = file_problem(args.backtest)
    if problem is not None:
        raise UsageError(f"--backtest {args.backtest}: {problem}")
    spans = {}
    for option in ("every", "horizon"):
        text = getattr(args, option)
        if text is None:
            raise UsageError(f"--backtest needs --{option}, e.g. --{option} '30 days'")
        try:
            spans[option] = parse_duration(text, "day")
        except ValueError as exc:
            raise UsageError(f"--{option}: {exc}") from None
        if not math.isfinite(spans[option]) or spans[option] <= 0:
            raise UsageError(f"--{option} must be a positive time, got {text!r}")
    if args.scenario is not None:
        print(f"note: {args.scenario} is not used: --backtest calibrates a scenario from the "
              "history at each as-of date", file=sys.stderr)
    return spans


@writes_out("forecast")
def _backtest(args: argparse.Namespace) -> int:
    from salessim.api.backtesting import backtest
    from salessim.console import progress_bar

    every, horizon = args.spans["every"], args.spans["horizon"]
    n = args.replications or DEFAULT_REPLICATIONS
    seed = 1 if args.seed is None else args.seed
    from salessim.calibrate.readers import ExportError
    from salessim.forecast.deals import forecast_advice

    with progress_bar(None, "back-test") as bar:
        try:
            report = backtest(args.backtest, every, horizon, n, seed,
                              parameter_uncertainty=args.parameter_uncertainty is not False,
                              resamples=args.resamples, workers=args.workers, progress=bar,
                              quarters=args.quarters, **_ends(args))
        except ExportError as exc:  # the history's reader advises calibrate's --map
            raise forecast_advice(exc) from None
    scores = report.scores()
    print(f"back-test of {args.backtest}: forecasts every {every:g} days for {horizon:g} days, "
          f"{n} replications each; band: {scores['band']}")
    print(report.summary())
    written = report.write(args.out)
    args.record.seed, args.record.replications = seed, n
    args.record.details.update({"backtest": str(args.backtest), "every_days": every,
                                "horizon_days": horizon, "summary": scores})
    write_record(args.out, args.record, written)
    print(f"wrote {args.final_out}/")
    return 0


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
    p.add_argument("--won", action="append", default=[], metavar="NAME",
                   help="a won stage of the export read by --pipeline, --history or "
                        "--backtest, as calibrate takes it (repeatable; default recognises "
                        "Closed Won, won, ...)")
    p.add_argument("--lost", action="append", default=[], metavar="NAME",
                   help="a lost stage, likewise (repeatable)")
    p.add_argument("--no-decision", action="append", default=[], metavar="NAME",
                   help="a no-decision stage, likewise (repeatable)")
    p.add_argument("--until", metavar="DATE",
                   help="end of the forecast window: a date includes that whole day "
                        "(2026-09-30 ends at midnight after 30 September); a time, "
                        "2026-09-30T12:00, ends there")
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
    p.add_argument("--parameter-uncertainty", action=argparse.BooleanOptionalAction,
                   default=None,
                   help="with --backtest: put the calibrated parameters' uncertainty into "
                        "each forecast's band (a bootstrap at each as-of date): the default; "
                        "--no-parameter-uncertainty leaves it out")
    p.add_argument("--resamples", type=int, metavar="B",
                   help="bootstrap resamples with --history or --backtest (default 20; each "
                        "gets replications / B of the replications)")
    p.add_argument("--quarters", action="store_true",
                   help="with --backtest: also the week-of-quarter view (quarters.csv): as of "
                        "each week of each whole calendar quarter, the forecast of the "
                        "quarter's bookings and its error")
    p.add_argument("--every", metavar="TIME", help="with --backtest: time between as-of dates")
    p.add_argument("--horizon", metavar="TIME", help="with --backtest: length of each forecast")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="write forecast.csv, deals.csv, quota.csv, redesigns.csv, report.html "
                        "and run.json (backtest.csv and backtest.png with --backtest)")
    p.set_defaults(func=cmd_forecast)
