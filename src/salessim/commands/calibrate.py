"""``salessim calibrate``: a CRM export or event log to a scenario, its evidence, a back-test."""

from __future__ import annotations

import argparse
import sys

from salessim.calibrate import FORMATS
from salessim.errors import UsageError


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Calibrate, back-test, print the verdicts and write the outputs."""
    from salessim.calibrate.funnel import calibrate_funnel
    from salessim.calibrate.pipeline import calibrate_file

    if args.propose_stages is not None:
        from salessim.calibrate.pipeline import propose_stages

        if args.export is None:
            raise UsageError("--propose-stages FILE needs the event log to propose from")
        smap = propose_stages(args.export, args.propose_stages, args.timezone)
        print(f"wrote {args.propose_stages}: {len(smap.stages)} stages, "
              f"{len(smap.ends)} ends; check it, then calibrate with --stages "
              f"{args.propose_stages}")
        return 0
    if args.out is None:
        raise UsageError("--out DIR is needed: the folder to write the outputs to")
    if (args.export is None) == (args.funnel is None):
        raise UsageError("give an export file or --funnel FILE (one of them)")
    if args.funnel is not None:
        if args.period is None:
            raise UsageError("--funnel needs --period, the time the counts cover (e.g. '1 year')")
        result = calibrate_funnel(args.funnel, args.period, won=args.won)
        for line in result.warnings:
            print(f"warning: {line}", file=sys.stderr)
        written = result.write(args.out)
        print(f"{args.funnel}: {result.summary()}")
        print(f"wrote {', '.join(str(p) for p in written)}")
        return 0
    if args.replications < 2:
        raise UsageError(f"--replications must be at least 2, got {args.replications}")
    result = calibrate_file(
        args.export, args.format, args.map, args.won, args.lost, args.no_decision, args.as_of,
        args.opportunities, args.touch, args.stages, args.timezone, holdout=args.holdout, replications=args.replications,
        seed=args.seed, run_backtest=not args.no_backtest, name=args.name)
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    cal = result.calibration
    print(f"{args.export}: {len(cal.visits.deals)} deals, {len(cal.visits.visits)} stage visits, "
          f"{cal.visits.days:.0f} days; entry {cal.entry!r}")
    for sid, a in cal.arrivals.items():
        print(f"  source {sid}: {a.rate:.3g} leads/day [{a.low:.3g}, {a.high:.3g}]"
              + (" with a weekly profile" if a.weekly else ""))
    for sid, t in cal.times.items():
        print(f"  stage {sid}: {t.chosen.family}, mean {t.mean:.3g} days "
              f"[{t.mean_low:.3g}, {t.mean_high:.3g}], {t.censored} open visits")
    bt = result.backtest
    if bt is not None:
        frame = bt.frame()
        print(f"back-test ({bt.replications} replications"
              + ("" if bt.since is None else f", hold-out from {bt.since:%Y-%m-%d}") + "):")
        for row in frame.itertuples():
            verdict = "consistent" if row.consistent else "NOT consistent"
            print(f"  {row.kpi:<32} data {row.data:>10.4g}   simulated {row.sim_mean:>10.4g} "
                  f"[{row.sim_low:.4g}, {row.sim_high:.4g}]  {verdict}")
    written = result.write(args.out)
    print(f"wrote {len(written)} files to {args.out}")
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
    p.add_argument("--touch", action="append", default=[], metavar="STAGE=DURATION",
                   help="staff work per visit of a stage, taken out of its delay")
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
    p.add_argument("--funnel", metavar="FILE", help="aggregate funnel CSV (stage, count)")
    p.add_argument("--period", help="time the funnel counts cover, e.g. '1 year'")
    p.set_defaults(func=cmd_calibrate)
