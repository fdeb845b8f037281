"""``salessim sweep``, ``salessim results`` and ``salessim optimise``: experiments at scale.

A thin shell over :mod:`salessim.experiments` and :mod:`salessim.optimise`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from salessim.commands import warn_sweep_size, writes_out
from salessim.console import progress_bar
from salessim.errors import OutputError, UsageError
from salessim.runrecord import write_record

#: Exit status when every run was stored but some raised (their errors are in the results).
EXIT_RUNS_FAILED = 1


class _Bar:
    """A progress bar (with ETA) whose total is known only once the work is planned."""

    def __init__(self, label: str, unit: str = "run") -> None:
        self.label, self.unit, self.bar = label, unit, None

    def plan(self, total: int, skipped: int = 0) -> None:
        self.close()
        label = f"{self.label} ({skipped} stored)" if skipped else self.label
        self.bar = progress_bar(total, label, self.unit)

    def stage(self, name: str, total: int | None) -> None:
        """Start a new bar for the next stage of the work."""
        self.close()
        self.bar = progress_bar(total, name, self.unit)

    def update(self, *_: Any) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per core; 1 runs serially in this process)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on Dask instead: 'local' starts a cluster on this machine, or give a "
                        "scheduler address such as tcp://host:8786 (needs salessim[dask])")


def _redoing(paths: list[Path]) -> None:
    print(f"salessim: {len(paths)} stored runs did not read back (a crash while writing?) "
          f"and are run again, e.g. {paths[0]}", file=sys.stderr)


@writes_out("sweep", staged=False)  # a results folder is written run by run, resumably
def cmd_sweep(args: argparse.Namespace) -> int:
    from salessim.experiments import load_experiment, make_executor, parse_shard, sweep

    shard = parse_shard(args.shard) if args.shard else None
    if args.chunksize is not None and args.chunksize < 1:
        raise UsageError(f"--chunksize must be at least 1, got {args.chunksize}")
    if args.run_timeout is not None and not args.run_timeout > 0:
        raise UsageError(f"--run-timeout must be a positive number of seconds, got "
                         f"{args.run_timeout}")
    experiment = load_experiment(args.experiment)
    out = Path(args.out) if args.out else Path("results") / experiment.name
    record = args.record
    record.seed, record.replications = experiment.seed, experiment.replications
    for design, digest in experiment.hashes.items():
        record.scenario(design, args.experiment, digest)
    warn_sweep_size(experiment.scenarios.values(), experiment.replications)
    bar = _Bar(experiment.name)
    try:
        with make_executor(args.workers, args.dask) as executor:
            try:
                report = sweep(experiment, out, executor, shard, progress=bar.update,
                               retry_errors=args.retry_errors, chunksize=args.chunksize,
                               on_plan=bar.plan, on_broken=_redoing,
                               run_timeout=args.run_timeout)
            finally:
                bar.close()
            name = executor.name
    except Exception as exc:
        if out.is_dir():
            _write_record(out, record, exc)
        raise
    _write_record(out, record)
    where = f"shard {args.shard}, " if shard else ""
    print(f"{experiment.name}: {where}{report.total} runs ({len(experiment.designs)} designs x "
          f"{experiment.replications} replications{' / shard' if shard else ''}), "
          f"{report.skipped} already stored, {report.ran} run now, {report.failed} failed, "
          f"{report.seconds:.1f} s on {name}")
    print(f"wrote {out}/  (salessim results {out})")
    if report.failed:
        print(f"salessim: {report.failed} runs raised; their errors are stored "
              f"(status 'error'): see salessim results {out}", file=sys.stderr)
        return EXIT_RUNS_FAILED
    return 0


def _write_record(out: Path, record, exc: BaseException | None = None) -> None:
    try:
        from salessim.experiments.store import MANIFEST, RECORD

        write_record(out, record, [MANIFEST], exc, RECORD)
    except OutputError:
        if exc is None:
            raise  # otherwise the first error is the one to report


def cmd_results(args: argparse.Namespace) -> int:
    from salessim.experiments import (
        load_results,
        plot_kpi_by_factor,
        results_report,
        summarise_results,
    )
    from salessim.experiments.results import factor_columns
    from salessim.records import write_frame  # heavy: only when this command runs

    if not 0 < args.level < 1:
        raise UsageError(f"--level must be strictly between 0 and 1, got {args.level}")
    analyses = args.contrasts or args.effects or args.metamodel
    if (args.reference or args.all_pairs) and not args.contrasts:
        option = "--reference" if args.reference else "--all-pairs"
        raise UsageError(f"{option} chooses what --contrasts compares: add --contrasts")
    if args.reference and args.all_pairs:
        raise UsageError("--all-pairs compares every pair: leave out --reference")
    if analyses and not args.kpi:
        raise UsageError("name the KPI to analyse with --kpi (repeatable)")
    if args.format == "text":
        print(results_report(args.dir, args.kpi or None, args.level))
    if analyses or args.format != "text":
        from salessim.experiments.analysis_tables import analysis_report

        kpis = args.kpi or list(dict.fromkeys(load_results(args.dir)["kpi"].dropna()))
        if args.format == "text":
            print()
        print(analysis_report(args.dir, kpis, args.level, args.format,
                              summary=args.format != "text", contrast=args.contrasts,
                              reference=args.reference, all_pairs=args.all_pairs,
                              effect=args.effects,
                              metamodel=args.metamodel))
    if args.csv or args.plot:
        frame = load_results(args.dir)
        summary = summarise_results(frame, args.level)
        if args.csv:
            write_frame(summary, Path(args.csv))
            print(f"wrote {args.csv}")
        if args.plot:
            factors = factor_columns(frame)
            if not factors and not args.x:
                raise UsageError("--plot draws a KPI against a factor, and these designs have none")
            x = args.x or factors[0]
            by = args.by or next((f for f in factors if f != x), None)
            png = Path(args.png) if args.png else Path(args.dir) / f"plot-{args.plot}-by-{x}.png"
            from salessim.experiments.analysis_tables import time_unit_of
            from salessim.experiments.store import read_manifest

            plot_kpi_by_factor(summary, args.plot, x, by, png, args.level,
                               time_unit_of(read_manifest(args.dir)))
            print(f"wrote {png}")
    return 0


@writes_out("optimise")
def cmd_optimise(args: argparse.Namespace) -> int:
    from salessim.api.studies import optimise
    from salessim.optimise import load_problem

    overrides = {k: getattr(args, k) for k in (
        "seed", "replications", "max_designs", "finalists", "indifference_zone", "confidence",
        "holdout") if getattr(args, k) is not None}
    problem = load_problem(args.spec, **overrides)
    bar = _Bar(problem.name)
    try:
        report = optimise(problem, workers=args.workers, dask=args.dask, progress=bar.update,
                          on_stage=lambda stage, n: bar.stage(f"{problem.name}: {stage}", n))
    finally:
        bar.close()
    print(report.summary())
    if args.out:
        args.record.seed = problem.seed
        files = report.write(args.out)
        _note_optimise_files(args.record, problem, Path(args.out), files)
        write_record(args.out, args.record, files)
        for name in [*files, "run.json"]:
            print(f"wrote {args.final_out / name}")
    return 0 if report.result.chosen is not None else EXIT_RUNS_FAILED


def _note_optimise_files(record, problem, out: Path, files: list[str]) -> None:
    """The run record of ``optimise`` names every scenario it stands on: the baseline
    (file and hash of the resolved scenario), the chosen design as written to best.yaml,
    and the spec file with the SHA-256 of its bytes."""
    import hashlib

    from salessim.scenario import load_scenario, scenario_hash

    record.scenario("baseline", problem.baseline_file, scenario_hash(problem.baseline))
    if "best.yaml" in files:
        best = out / "best.yaml"
        record.scenario("chosen", best.name, scenario_hash(load_scenario(best)))
    record.details["spec"] = {"file": str(problem.path),
                              "sha256": hashlib.sha256(problem.path.read_bytes()).hexdigest()}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep``, ``results`` and ``optimise`` to the ``salessim`` command."""
    p = subparsers.add_parser(
        "sweep", help="run every design and replication of an experiment file, resumably",
        description="Run every (design, replication) of an experiment and store each run as "
                    "a Parquet file. Rerunning into the same folder skips the stored runs.")
    p.add_argument("experiment", metavar="EXPERIMENT", help="an experiment file (YAML)")
    _add_executor_options(p)
    p.add_argument("--shard", metavar="i/N",
                   help="run only shard i of N (1 <= i <= N), e.g. one task of a job array")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/<name>)")
    p.add_argument("--retry-errors", action="store_true",
                   help="run again the runs stored with status 'error'")
    p.add_argument("--chunksize", type=int, metavar="N",
                   help="runs sent to a worker at a time (default: automatic)")
    p.add_argument("--run-timeout", type=float, metavar="SECONDS",
                   help="a run still going after this long is stored as failed and the sweep "
                        "goes on (not on Dask)")
    p.set_defaults(func=cmd_sweep)

    p = subparsers.add_parser(
        "results", help="summarise a sweep's results folder (means and CIs per design)")
    p.add_argument("dir", metavar="DIR", help="a results folder written by salessim sweep")
    p.add_argument("--kpi", action="append", metavar="KPI", help="show only this KPI (repeatable)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--csv", metavar="FILE", help="write the summary per design and KPI as CSV")
    p.add_argument("--plot", metavar="KPI", help="plot this KPI against a factor with CI bands")
    p.add_argument("--x", metavar="FACTOR", help="factor on the x axis (default: the first)")
    p.add_argument("--by", metavar="FACTOR", help="one line per level of this factor "
                   "(default: the second factor, if any)")
    p.add_argument("--png", metavar="FILE", help="where to write the plot "
                   "(default: DIR/plot-<KPI>-by-<FACTOR>.png)")
    p.add_argument("--contrasts", action="store_true",
                   help="each design against a reference, paired on replication (common "
                        "random numbers), p-values Holm-adjusted")
    p.add_argument("--reference", metavar="DESIGN",
                   help="the design --contrasts compares against (default: the first)")
    p.add_argument("--all-pairs", action="store_true",
                   help="--contrasts between every pair of designs, Holm-adjusted over all")
    p.add_argument("--effects", action="store_true",
                   help="main effects and two-way interactions of a two-level factorial, "
                        "with intervals across replications")
    p.add_argument("--metamodel", choices=("linear", "quadratic"),
                   help="fit a response surface of the KPI on the numeric factors")
    p.add_argument("--format", choices=("text", "markdown", "latex"), default="text",
                   help="tables as plain text (default), Markdown or LaTeX, with KPI units")
    p.set_defaults(func=cmd_results)

    p = subparsers.add_parser(
        "optimise", aliases=["optimize"],
        help="find the best design under a budget: search, Kim-Nelson selection, holdout",
        description="Search the decision variables of an optimisation spec (enumerating them "
                    "when feasible designs are few), select the best few with Kim-Nelson on "
                    "fresh common random numbers, and confirm them on a holdout seed against "
                    "the baseline with paired, Holm-adjusted confidence intervals.")
    p.add_argument("spec", metavar="SPEC", help="an optimisation spec file (YAML)")
    _add_executor_options(p)
    p.add_argument("--out", metavar="DIR",
                   help="write leaderboard.csv, best.yaml and search.png there")
    p.add_argument("--seed", type=int, help="root seed (default: the spec's)")
    p.add_argument("--replications", type=int, metavar="N",
                   help="replications per candidate in the search")
    p.add_argument("--max-designs", type=int, metavar="N",
                   help="most candidates the neighbourhood search evaluates")
    p.add_argument("--finalists", type=int, metavar="K", help="designs sent to selection")
    p.add_argument("--indifference-zone", metavar="DELTA",
                   help="smallest difference worth finding: a number, or a percentage of the "
                        "best search estimate such as 1%%")
    p.add_argument("--confidence", type=float, help="probability of correct selection")
    p.add_argument("--holdout", type=int, metavar="N", help="holdout replications")
    p.set_defaults(func=cmd_optimise)
