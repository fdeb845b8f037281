"""``salessim compare BASELINE REDESIGN...``: redesigns against a baseline, targets, report.

A thin shell over :func:`salessim.api.compare` and its
:class:`~salessim.api.ComparisonReport`: load, (estimate the warm-up), run on common random
numbers, print the table, write comparison.csv, each scenario's summary and the HTML report.
"""

from __future__ import annotations

import argparse

from salessim.commands import (
    add_diagnosis_options,
    add_kpis_option,
    add_parameter_options,
    check_diagnosis_options,
    check_kpi_patterns,
    precision_kpis,
    warmup_sets,
    warn_size,
    writes_out,
)
from salessim.errors import UsageError
from salessim.runrecord import write_record

# The library modules are imported by the functions that use them, so that building the
# parser (``salessim --help``) loads neither the statistics nor the tables and plots.


@writes_out("compare", "compare.json")
def cmd_compare(args: argparse.Namespace) -> int:
    """Run the comparison and write its outputs."""
    from salessim.api.comparing import compare, scenario_runs
    from salessim.compare import kpi_names
    from salessim.console import progress_bar

    precision = check_diagnosis_options(args, min_replications=2)
    if args.flow_replications < 0:
        raise UsageError(f"--flow-replications must be 0 or more, got {args.flow_replications}")
    sets = warmup_sets(args)
    base, redesigns = scenario_runs(args.baseline, args.redesigns, sets, args.target)
    runs = [base, *redesigns]
    known = list(dict.fromkeys(k for run in runs for k in kpi_names(run.scenario)))
    chosen = check_kpi_patterns(args.kpi, known)
    for name in args.precision_kpi:
        if name not in known:
            raise UsageError(f"{name!r} is not a KPI of these scenarios; KPIs: "
                             f"{', '.join(kpi_names(base.scenario))}")
    n = args.replications or base.scenario.replications
    follow_up = None
    if args.follow_up is not None:
        from salessim.scenario.units import parse_duration

        try:
            follow_up = parse_duration(args.follow_up, base.scenario.time_unit)
        except ValueError as exc:
            raise UsageError(f"--follow-up: {exc}") from None
        if follow_up <= 0:
            raise UsageError(f"--follow-up must be a positive duration, got {args.follow_up!r}")
    for run in runs:
        warn_size(run.scenario, n)
    with progress_bar(n * len(runs), "compare") as bar:
        report = compare(base, *redesigns, replications=n, seed=args.seed,
                         warmup="auto" if args.warmup == "auto" else None,
                         warmup_series=args.warmup_series,
                         precision=precision, precision_kpis=precision_kpis(args),
                         max_replications=args.max_replications,
                         flow_replications=args.flow_replications if args.out else 0,
                         workers=args.workers, progress=bar,
                         parameter_uncertainty=args.parameter_uncertainty,
                         resamples=args.resamples, hire_split=args.hire_split,
                         follow_up=follow_up)
    report.sets = [*sets, *report.sets]
    comparison = report.comparison
    print(f"{base.label} against {len(redesigns)} redesign(s): {comparison.replications} "
          f"replications each on seed {comparison.seed} (common random numbers), warm-up "
          f"{float(comparison.baseline.scenario.warmup):g}, {report.seconds:.1f} s")
    print(report.summary(chosen))
    if args.out is not None:
        written = report.write(args.out, chosen)
        _record(args, report)
        write_record(args.out, args.record, sorted(written), name="compare.json")
        print(f"\nwrote {args.final_out}/ (comparison.csv, one folder per scenario, report: "
              f"{args.final_out / next(w for w in written if w.endswith('.html'))})")
    return 0


def _record(args: argparse.Namespace, report) -> None:
    """Note the comparison in the command's record (compare.json)."""
    from salessim.scenario import resolved

    comparison = report.comparison
    record = args.record
    record.seed, record.replications = comparison.seed, comparison.replications
    for run in comparison.runs:
        record.scenario(run.label, run.path, run.hash)
    record.details.update({
        "baseline": args.baseline,
        "redesigns": args.redesigns,
        "sets": report.sets,
        "targets": {r.label: {k: t.text for k, t in r.targets.items()}
                    for r in comparison.redesigns},
        "scenario_hashes": {r.label: r.hash for r in comparison.runs},
        "warmup": float(comparison.baseline.scenario.warmup),
        "holm_adjusted": comparison.holm_adjusted,
        "resolved_scenarios": {r.label: resolved(r.scenario) for r in comparison.runs},
        "hire_split": {v.label: {"change": v.change, "follow_up": v.follow_up}
                       for v in report.hires},
        "parameter_uncertainty": None if report.parameters is None else {
            "history": report.parameters.resamples.history,
            "resamples": len(report.parameters.resamples.scenarios)},
    })


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``salessim compare`` to the command line."""
    p = subparsers.add_parser(
        "compare", help="compare redesigns with a baseline on common random numbers",
        description="Run a baseline and redesigns on the same random streams, compare every "
                    "KPI (paired differences, relative change, Holm-adjusted significance), "
                    "check targets, and write a report.")
    p.add_argument("baseline", metavar="BASELINE")
    p.add_argument("redesigns", nargs="+", metavar="REDESIGN")
    p.add_argument("--replications", "-n", type=int, help="default: the baseline's")
    p.add_argument("--seed", type=int, help="root seed for every scenario; default: the baseline's")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per core; 1 runs in this process); "
                        "results do not depend on it")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a key in every scenario, e.g. horizon=180 (repeatable)")
    p.add_argument("--target", action="append", metavar="KPI=SPEC", default=[],
                   help="a target for every redesign: win_rate=+5%%, cycle_time_won_median=-20%%, "
                        "'utilisation.se=<= 0.85' (repeatable)")
    add_kpis_option(p, "rows of the table and panels of the forest plot", "the headline "
                    "KPIs, the busiest role's utilisation and every KPI with a target")
    p.add_argument("--out", metavar="DIR",
                   help="write comparison.csv, <scenario>/summary.csv, report.html and figures")
    p.add_argument("--flow-replications", type=int, default=1, metavar="N",
                   help="replications whose event logs feed the flow figure (default 1)")
    p.add_argument("--follow-up", metavar="TIME",
                   help="for a redesign that changes the staff: how long both designs run on "
                        "past the window to tell incremental wins from pulled-forward ones, "
                        "e.g. '180 days' (default: the window's length; docs/hires.md)")
    p.add_argument("--hire-split", action=argparse.BooleanOptionalAction, default=True,
                   help="split a staffing redesign's change in wins into incremental and "
                        "pulled forward (extra runs with event logs; default on)")
    add_diagnosis_options(p)
    add_parameter_options(p)
    p.set_defaults(func=cmd_compare)
