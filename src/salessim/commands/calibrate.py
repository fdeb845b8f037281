"""``salessim calibrate``: a CRM export or event log to a scenario, its evidence, a back-test.

A thin shell over :func:`salessim.api.calibrate`. Like every command that writes results,
it writes ``--out`` whole or not at all, with its run record (run.json) beside the files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salessim.calibrate import FORMATS
from salessim.commands import writes_out
from salessim.errors import UsageError
from salessim.runrecord import write_record


@writes_out("calibrate")
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Calibrate, back-test, print the verdicts and write the outputs."""
    from salessim.api.studies import calibrate, check_backtest_options
    from salessim.calibrate.readers import ExportError
    from salessim.scenario import resolved, scenario_hash

    if args.propose_stages is not None:
        return _propose(args)
    if args.out is None:
        raise UsageError("--out DIR is needed: the folder to write the outputs to")
    if (args.export is None) == (args.funnel is None):
        raise UsageError("give an export file or --funnel FILE (one of them)")
    if args.funnel is not None:
        return _funnel(args)
    check_backtest_options(args.replications, args.seed, prefix="--")
    try:  # the export's faults are bad input: refused, nothing written
        report = calibrate(args.export, fmt=args.format, mapping=args.map, won=args.won,
                           lost=args.lost, no_decision=args.no_decision, as_of=args.as_of,
                           opportunities=args.opportunities, touch=args.touch,
                           holdout=args.holdout, replications=args.replications,
                           seed=args.seed, backtest=not args.no_backtest, name=args.name,
                           stages=args.stages, timezone=args.timezone,
                           headcount=args.headcount, since=args.since,
                           object_type=args.object_type)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(report.summary())
    written = report.write(args.out)
    record = args.record
    record.seed, record.replications = args.seed, args.replications
    record.scenario("scenario", "scenario.yaml", scenario_hash(report.scenario))
    record.details.update({"export": str(args.export), "format": args.format,
                           "as_of": args.as_of, "since": args.since, "holdout": args.holdout,
                           "backtest": not args.no_backtest, "warnings": report.warnings,
                           "resolved_scenario": resolved(report.scenario)})
    write_record(args.out, record, written)
    print(f"wrote {len(written)} files to {args.final_out}")
    return 0


def _propose(args: argparse.Namespace) -> int:
    """``--propose-stages FILE``: a first stage map of an event log, to edit."""
    from salessim.calibrate.pipeline import propose_stages
    from salessim.calibrate.readers import ExportError

    if args.export is None:
        raise UsageError("--propose-stages FILE needs the event log to propose from")
    try:
        smap = propose_stages(args.export, args.propose_stages, args.timezone,
                              args.object_type)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {args.propose_stages}: {len(smap.stages)} stages, {len(smap.ends)} ends; "
          f"check it, then calibrate with --stages {args.propose_stages}")
    return 0


def _funnel(args: argparse.Namespace) -> int:
    """``--funnel FILE``: arrival rate and routing from the counts entering each stage."""
    from salessim.calibrate.funnel import calibrate_funnel
    from salessim.calibrate.readers import ExportError

    if args.period is None:
        raise UsageError("--funnel needs --period, the time the counts cover (e.g. '1 year')")
    try:
        result = calibrate_funnel(args.funnel, args.period, won=args.won)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    written = [Path(p).name for p in result.write(args.out)]
    args.record.details.update({"funnel": str(args.funnel), "period": args.period})
    write_record(args.out, args.record, written)
    print(f"{args.funnel}: {result.summary()}")
    print(f"wrote {', '.join(str(args.final_out / name) for name in written)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``calibrate`` to the ``salessim`` command."""
    p = sub.add_parser(
        "calibrate", help="turn a CRM export or event log into a scenario, with a back-test",
        description="Estimate arrivals, routing, censored stage times and deal values from a "
                    "CRM export; write scenario.yaml, calibration.json and report.html.")
    p.add_argument("export", nargs="?", help="stage history, Salesforce OpportunityHistory, "
                   "HubSpot deals export or event log (CSV or Parquet; XES, gzipped or not)")
    p.add_argument("--out", metavar="DIR", help="output folder (needed unless --propose-stages)")
    p.add_argument("--format", choices=FORMATS, help="force a format (default: by columns)")
    p.add_argument("--map", action="append", default=[], metavar="COL=FIELD",
                   help="rename a column, e.g. --map Deal=deal_id (repeatable)")
    p.add_argument("--won", action="append", default=[], metavar="NAME",
                   help="a won stage (repeatable; default recognises Closed Won, won, ...)")
    p.add_argument("--lost", action="append", default=[], metavar="NAME")
    p.add_argument("--no-decision", action="append", default=[], metavar="NAME")
    p.add_argument("--opportunities", metavar="FILE",
                   help="Salesforce Opportunity export to join (LeadSource, OwnerId, IsWon)")
    p.add_argument("--as-of", metavar="DATE", help="export date (default: latest timestamp)")
    p.add_argument("--since", metavar="DATE", help="calibrate on the deals created from DATE "
                   "on (a window after a change that calibration reports as drift)")
    p.add_argument("--touch", action="append", default=[], metavar="STAGE=DURATION",
                   help="staff work per visit of a stage, taken out of its delay")
    p.add_argument("--headcount", action="append", default=[], metavar="ROLE=N",
                   help="a role's headcount: owner=N where the export names no owners "
                        "(without it, estimated from the offered work of --touch), or a "
                        "role found in an event log (replaces the log's headcount)")
    p.add_argument("--holdout", type=float, metavar="SHARE",
                   help="calibrate on the first 1 - SHARE of the period, score the rest")
    p.add_argument("--replications", type=int, default=20, help="back-test replications")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-backtest", action="store_true")
    p.add_argument("--name", help="scenario name")
    p.add_argument("--stages", metavar="MAP.yaml",
                   help="event log: the stage map (activities to stages, ends, value, source)")
    p.add_argument("--propose-stages", metavar="MAP.yaml",
                   help="event log: write a first stage map to edit, and stop")
    p.add_argument("--timezone", metavar="ZONE", help="event log: express times in this zone "
                   "(default: each timestamp's own local time)")
    p.add_argument("--object-type", metavar="TYPE", help="OCEL 2.0 log: the object type to "
                   "flatten it on, each object a case (default: the type with the most events "
                   "among those whose objects have two or more)")
    p.add_argument("--funnel", metavar="FILE", help="aggregate funnel CSV (stage, count)")
    p.add_argument("--period", help="time the funnel counts cover, e.g. '1 year'")
    p.set_defaults(func=cmd_calibrate)
