"""Subcommands of ``salessim`` that live beside the library modules they drive.

Each module has a ``register(subparsers)`` function that ``salessim.cli`` calls.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from salessim.errors import SalessimError, ScenarioError, UsageError
from salessim.output import staged_folder
from salessim.runrecord import RECORD_FILE, RunRecord, write_record

#: Exit status of a command given bad input (a scenario error, a bad option).
EXIT_BAD_INPUT = 2
#: Most replications a command runs (a scenario's ``replications`` has the same limit).
MAX_REPLICATIONS = 100_000


def warn_size(scenario, replications: int, event_log: bool = False) -> None:
    """Warn on stderr before a long run (or a large event log): its expected size."""
    from salessim.model.runsize import estimate

    warning = estimate(scenario, replications).warning(event_log)
    if warning is not None:
        print(f"salessim: {warning}", file=sys.stderr)


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
