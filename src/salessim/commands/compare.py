"""``salessim compare BASELINE REDESIGN...``: redesigns against a baseline, targets, report.

A thin shell over :mod:`salessim.compare`, :mod:`salessim.diagnose` and
:mod:`salessim.reports`: load, (estimate the warm-up), run on common random numbers,
print the table, write comparison.csv, each scenario's summary and the HTML report.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from salessim import kpis as registry
from salessim.commands import MAX_REPLICATIONS, warn_size, writes_out
from salessim.errors import UsageError

# The library modules are imported by the functions that use them, so that building the
# parser (``salessim --help``) loads neither the statistics nor the tables and plots.


def add_diagnosis_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``compare``: warm-up, precision and its cap."""
    p.add_argument("--warmup", metavar="TIME|auto",
                   help="warm-up for every scenario: a time ('30', '30 days') or 'auto' for "
                        "MSER-5 on the (baseline's) mean open leads; default: the file's")
    p.add_argument("--warmup-series", choices=list(registry.WARMUP_SERIES), default="wip",
                   help="series MSER-5 looks at with --warmup auto (default: wip, open leads)")
    p.add_argument("--precision", metavar="SHARE",
                   help="add replications until the CI half-width of the --precision-kpi KPIs "
                        "is within this share of their mean, e.g. 5%% (of the baseline in a "
                        "comparison)")
    p.add_argument("--precision-kpi", action="append", default=[], metavar="KPI",
                   help="KPI the precision applies to (repeatable; default: "
                        f"{', '.join(registry.PRECISION_KPIS)})")
    p.add_argument("--max-replications", type=int, default=100, metavar="N",
                   help="cap on replications with --precision (default 100)")


def add_kpis_option(p: argparse.ArgumentParser, what: str, default: str) -> None:
    """The ``--kpis`` option: KPI names or globs, comma-separated or repeated."""
    p.add_argument("--kpis", "--kpi", dest="kpi", action="append", default=[],
                   metavar="NAMES",
                   help=f"KPIs to show ({what}): names or globs, comma-separated or repeated, "
                        f"e.g. 'won,win_rate,utilisation.*' (default: {default})")


def check_kpi_patterns(options: list[str], known: list[str]) -> list[str]:
    """The ``--kpis`` patterns, each of which must match a KPI."""
    from salessim.console import select_kpis, split_patterns

    patterns = split_patterns(options)
    unmatched = select_kpis(known, patterns)[1]
    if unmatched:
        import difflib

        close = difflib.get_close_matches(unmatched[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"--kpis: {unmatched[0]!r} matches no KPI of these scenarios{hint}; "
                         f"KPIs: {', '.join(known)}")
    return patterns


def check_diagnosis_options(args: argparse.Namespace, min_replications: int = 1) -> float | None:
    """Validate the shared options; returns the precision as a share (or None)."""
    if args.precision is not None:
        min_replications = max(min_replications, 2)
    if args.replications is not None and args.replications < min_replications:
        raise UsageError(f"--replications must be at least {min_replications}"
                         f"{' for confidence intervals' if min_replications > 1 else ''}, got "
                         f"{args.replications}")
    if getattr(args, "seed", None) is not None and args.seed < 0:
        raise UsageError(f"--seed must be 0 or more, got {args.seed}")
    for option, value in (("--replications", args.replications),
                          ("--max-replications", args.max_replications)):
        if value is not None and value > MAX_REPLICATIONS:
            raise UsageError(f"{option} may be at most {MAX_REPLICATIONS:,}, got {value:,}")
    if args.max_replications < 2:
        raise UsageError(f"--max-replications must be at least 2, got {args.max_replications}")
    if args.precision is None:
        if args.precision_kpi:
            raise UsageError("--precision-kpi needs --precision")
        return None
    from salessim import diagnose

    return diagnose.parse_precision(args.precision)


def precision_run(*args, **kwargs):
    """``diagnose.run_to_precision``; its complaints about options are usage errors."""
    from salessim import diagnose

    return diagnose.run_to_precision(*args, **kwargs)


def warmup_sets(args: argparse.Namespace) -> list[str]:
    """The ``--set`` overrides with a fixed ``--warmup`` added (``auto`` is decided later)."""
    sets = list(args.set)
    if args.warmup is not None and args.warmup != "auto":
        sets.append(f"warmup={args.warmup}")
    return sets


def pilot_warmup(scenario, n: int, seed: int, series: str, progress):
    """Run a pilot of the scenario and estimate its warm-up by MSER-5 on ``series``.

    The open-leads series counts every lead, so it does not depend on the warm-up the pilot
    ran with; the log-based series need event logs, kept for at most 10 replications.

    Returns:
        The :class:`salessim.diagnose.WarmupEstimate` and the pilot's run result.
    """
    from salessim import diagnose, engine

    logs = series != "wip"
    pilot = engine.run(scenario, min(n, 10) if logs else n, seed, event_log=logs,
                       progress=progress)
    return diagnose.estimate_warmup(pilot, series), pilot


def precision_kpis(args: argparse.Namespace) -> tuple[str, ...]:
    """The KPIs ``--precision`` applies to."""
    return tuple(args.precision_kpi) or registry.PRECISION_KPIS


@writes_out("compare", "compare.json")
def cmd_compare(args: argparse.Namespace) -> int:
    """Run the comparison and write its outputs."""
    from salessim import compare as comparing
    from salessim import diagnose
    from salessim.console import progress_bar
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.records import write_frame
    from salessim.reports import comparison_report
    from salessim.reports.summary import comparison_caveats
    from salessim.reports.tables import comparison_text, with_labels
    from salessim.runrecord import write_record
    from salessim.scenario import resolved

    precision = check_diagnosis_options(args, min_replications=2)
    if args.flow_replications < 0:
        raise UsageError(f"--flow-replications must be 0 or more, got {args.flow_replications}")
    sets = warmup_sets(args)
    base, redesigns = comparing.load_runs(args.baseline, args.redesigns, sets, args.target)
    known = list(dict.fromkeys(
        k for run in [base, *redesigns] for k in comparing.kpi_names(run.scenario)))
    chosen = check_kpi_patterns(args.kpi, known)
    for name in args.precision_kpi:
        if name not in known:
            raise UsageError(f"{name!r} is not a KPI of these scenarios; KPIs: "
                             f"{', '.join(comparing.kpi_names(base.scenario))}")
    n = args.replications or base.scenario.replications
    seed = base.scenario.seed if args.seed is None else args.seed
    for run in [base, *redesigns]:
        warn_size(run.scenario, n)
    notes: list[str] = []
    clock = time.perf_counter()
    with progress_bar(n * (1 + len(redesigns)), "compare") as bar, \
            make_executor(args.workers) as executor:
        tick = lambda _: bar.update()  # noqa: E731 - a one-line callback
        estimate = None
        if args.warmup == "auto":
            estimate, pilot = pilot_warmup(base.scenario, n, seed, args.warmup_series, tick)
            bar.total += len(pilot.replications)
            if estimate.warmup != float(base.scenario.warmup):
                sets = [*sets, f"warmup={estimate.warmup:g}"]
                base, redesigns = comparing.load_runs(args.baseline, args.redesigns, sets,
                                                      args.target)
            elif len(pilot.replications) == n and not precision:
                base.result = pilot
            notes.append(f"warm-up {estimate.warmup:g} estimated by MSER-5 on the baseline's "
                         f"{diagnose.WARMUP_SERIES[args.warmup_series]}, used by every scenario")
        if precision:
            base.result, report = precision_run(
                base.scenario, precision, precision_kpis(args), n, args.max_replications, seed,
                progress=tick)
            bar.total += (len(base.result.replications) - n) * (1 + len(redesigns))
            n = len(base.result.replications)
            notes.append(report.summary() + " (on the baseline; every scenario ran as many)")
        logged = min(args.flow_replications, n) if args.out is not None else 0
        comparison = comparing.compare(base, redesigns, n, seed, progress=tick, logged=logged,
                                       mapper=ordered_map(executor))
    flows = []
    for run in comparison.runs if logged else ():
        reps = run.result.replications[:logged]
        if any(r.log is None for r in reps):  # a baseline run without logs (warm-up pilot)
            rows = diagnose.flow_logs(run.scenario, logged, seed)
        else:
            rows = diagnose.log_rows(reps)
        flows.append((run, diagnose.transitions(rows, float(run.scenario.warmup))))
    seconds = time.perf_counter() - clock
    kpis = comparing.headline_kpis(comparison, chosen)
    caveats = comparison_caveats(comparison, estimate)
    print(f"{base.label} against {len(redesigns)} redesign(s): {n} replications each on seed "
          f"{seed} (common random numbers), warm-up {float(base.scenario.warmup):g}, "
          f"{seconds:.1f} s")
    for note in notes:
        print(note)
    print()
    print(comparison_text(comparison, kpis, caveats, more=len(known) - len(kpis)))
    if args.out is not None:
        out = Path(args.out)
        unit = base.scenario.time_unit
        write_frame(with_labels(comparison.table, unit), out / "comparison.csv")
        for run in comparison.runs:
            write_frame(with_labels(run.result.summary(comparison.level), unit),
                        out / run.label / "summary.csv")
            write_frame(run.result.frame(), out / run.label / "replications.csv")
        report = comparison_report(comparison, flows, estimate, kpis, sets, notes, caveats)
        path = report.write(out)
        record = args.record
        record.seed, record.replications = seed, n
        for run in comparison.runs:
            record.scenario(run.label, run.path, run.hash)
        record.details.update({
            "baseline": args.baseline,
            "redesigns": args.redesigns,
            "sets": sets,
            "targets": {r.label: {k: t.text for k, t in r.targets.items()} for r in redesigns},
            "scenario_hashes": {r.label: r.hash for r in comparison.runs},
            "warmup": float(base.scenario.warmup),
            "holm_adjusted": comparison.holm_adjusted,
            "resolved_scenarios": {r.label: resolved(r.scenario) for r in comparison.runs},
        })
        written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        write_record(out, record, written, name="compare.json")
        print(f"\nwrote {args.final_out}/ (comparison.csv, one folder per scenario, report: "
              f"{args.final_out / path.name})")
    return 0


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
    add_diagnosis_options(p)
    p.set_defaults(func=cmd_compare)
