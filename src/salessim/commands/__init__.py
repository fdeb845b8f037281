"""Subcommands of ``salessim`` that live beside the library modules they drive.

Each module has a ``register(subparsers)`` function that ``salessim.cli`` calls.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from salessim import kpis as registry
from salessim.errors import SalessimError, ScenarioError, UsageError
from salessim.output import out_problem, staged_folder
from salessim.runrecord import RECORD_FILE, RunRecord, write_record

#: Exit status of a command given bad input (a scenario error, a bad option).
EXIT_BAD_INPUT = 2
#: Most replications a command runs (a scenario's ``replications`` has the same limit).
MAX_REPLICATIONS = 100_000


def warn_size(scenario, replications: int, event_log: bool = False) -> None:
    """Warn on stderr before a long run (or a large event log): its expected size."""
    from salessim.model.runsize import estimate
    from salessim.scenario.size import overloads

    warning = estimate(scenario, replications).warning(event_log)
    if warning is not None:
        print(f"salessim: {warning}", file=sys.stderr)
    for over in overloads(scenario):
        print(f"salessim: {over.warning()}", file=sys.stderr)


def warn_sweep_size(scenarios, replications: int) -> None:
    """Warn on stderr before a sweep whose designs together are a long run."""
    from salessim.model.runsize import estimate
    from salessim.scenario.size import WARN_EVENTS

    events = sum(estimate(s, replications).total_events for s in scenarios)
    if events > WARN_EVENTS:
        print(f"salessim: a large sweep: about {events:,.0f} events in all", file=sys.stderr)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The ``--set KEY=VALUE`` option that overrides scenario keys."""
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="override a scenario key, e.g. stages.close.delay.mean=2 "
                             "(repeatable)")


def writes_out(command: str, record_file: str = RECORD_FILE, staged: bool = True):
    """Decorate a command that may write into ``--out``: whole or not at all, with a record.

    The command gets ``args.record`` (a :class:`~salessim.runrecord.RunRecord` to note its
    seed, scenarios and details in) and, with ``staged``, ``args.out`` pointing at a
    temporary folder beside the real one (:func:`salessim.output.staged_folder`), which is
    moved into place only when the command returns; ``args.final_out`` is the real folder
    (for messages). Ctrl-C, a signal, a full disk or any error leave ``--out`` as it was.
    A command that fails after it started (not on bad input, not interrupted) writes its
    record, with the exception, into the real ``--out``. A new command (``calibrate``)
    uses it as ``@writes_out("calibrate")`` on its ``cmd_*`` function, and writes its
    record with ``write_record(args.out, args.record, files)``.
    """

    def wrap(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(cmd)
        def run(args: argparse.Namespace) -> int:
            args.record = RunRecord(command)
            final = getattr(args, "out", None)
            if final is not None and (problem := out_problem(final)) is not None:
                raise UsageError(problem)  # bad input: refused before any record is written
            args.final_out = None if final is None else Path(final)
            try:
                if final is None or not staged:
                    return cmd(args)
                with staged_folder(final, last=[record_file]) as stage:
                    args.out = str(stage)
                    code = cmd(args)
                args.out = final
                return code
            except (ScenarioError, UsageError, KeyboardInterrupt, SystemExit):
                raise  # refused before any work, or interrupted: nothing is written
            except Exception as exc:
                if final is not None and staged:  # an unstaged command records its own
                    try:
                        write_record(final, args.record, [], exc, record_file)
                    except SalessimError:
                        pass  # the disk is full, say: the first error is the one to report
                raise

        return run

    return wrap


# --- options shared by run and compare ------------------------------------------------


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


def add_parameter_options(p: argparse.ArgumentParser) -> None:
    """``--no-parameter-uncertainty`` and ``--resamples`` (run, compare)."""
    p.add_argument("--no-parameter-uncertainty", dest="parameter_uncertainty",
                   action="store_false",
                   help="a calibrated scenario's intervals cover the simulation only; by "
                        "default they also get the parameters' uncertainty, by a bootstrap "
                        "of the history its provenance names, when that file is found")
    p.add_argument("--resamples", type=int, metavar="B",
                   help="bootstrap resamples of the history (default 20, at most half the "
                        "replications)")


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


def warmup_sets(args: argparse.Namespace) -> list[str]:
    """The ``--set`` overrides with a fixed ``--warmup`` added (``auto`` is decided later)."""
    sets = list(args.set)
    if args.warmup is not None and args.warmup != "auto":
        sets.append(f"warmup={args.warmup}")
    return sets


def precision_kpis(args: argparse.Namespace) -> tuple[str, ...]:
    """The KPIs ``--precision`` applies to."""
    return tuple(args.precision_kpi) or registry.PRECISION_KPIS
