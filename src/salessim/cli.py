"""The ``salessim`` command: a thin shell over the library.

Every command that fails on bad input prints one clear message (file, line, field, rule,
value) and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from salessim.commands import EXIT_BAD_INPUT, add_set_option
from salessim.errors import SalessimError, clip_lines

#: Modules that add their own subcommands through a ``register(subparsers)`` function.
COMMAND_MODULES: tuple[str, ...] = (
    "salessim.commands.run", "salessim.commands.compare", "salessim.commands.experiments",
    "salessim.commands.calibrate", "salessim.commands.forecast",
    "salessim.commands.teaching", "salessim.commands.studio",
)


# --- commands --------------------------------------------------------------------------


# Each command imports what it needs when it runs: building the parser (``--help``) stays
# light, and a command that only reads scenarios never loads the statistics or plotting.


def cmd_validate(args: argparse.Namespace) -> int:
    from salessim.scenario import load_scenario

    failed = 0
    for path in args.files:
        if Path(path).name == "case.yaml":  # a casebook case: its file and its scenarios
            from salessim.teaching.casebook import validate_case

            try:
                case, scenarios = validate_case(Path(path).parent)
            except SalessimError as exc:
                print(clip_lines(str(exc)), file=sys.stderr)
                failed += 1
            else:
                print(f"{path}: ok (case {case.title!r}: {len(scenarios)} scenarios, "
                      f"{len(case.expected())} expected verdicts)")
            continue
        try:
            scenario = load_scenario(path, args.set)
            # Targets are read as compare reads them, so a bad one fails here, not there.
            from salessim.targets import kpi_names, parse_target_options, scenario_targets

            targets = scenario_targets(scenario, path)
            targets.update(parse_target_options(args.target, kpi_names(scenario)))
        except SalessimError as exc:
            print(clip_lines(str(exc)), file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: ok ({scenario.name}: {len(scenario.stages)} stages, "
              f"{len(scenario.roles)} roles, {len(scenario.sources)} sources"
              + (f", {len(targets)} target{'s' if len(targets) > 1 else ''}" if targets else "")
              + ")")
    return EXIT_BAD_INPUT if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from salessim.api.schemas import file_schema

    kind = "redesign" if args.partial else args.kind
    print(json.dumps(file_schema(kind), indent=2))
    return 0


class _Version(argparse.Action):
    """``--version``: the version is looked up only when asked for."""

    def __call__(self, parser, namespace, values, option_string=None):
        import salessim

        print(f"salessim {salessim.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salessim", description="Simulate, compare and optimise sales processes.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check scenario files (and their targets)")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_set_option(p)
    p.add_argument("--target", action="append", default=[], metavar="KPI=SPEC",
                   help="also check a target as compare would read it, e.g. win_rate=+5%%")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files (or of "
                                      "another file kind with --kind)")
    p.add_argument("--partial", action="store_true",
                   help="the schema of a redesign file (one with extends:): every key "
                        "optional, null deletes a key; the same as --kind redesign")
    p.add_argument("--kind", default="scenario",
                   choices=["scenario", "redesign", "experiment", "optimise", "case"],
                   help="which file kind: scenario (default), redesign, experiment (sweep "
                        "specs), optimise (optimisation specs) or case (casebook case.yaml)")
    p.set_defaults(func=cmd_schema)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


class _Signals:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt once, so every ``finally`` cleans up (the
    pool's workers are killed, temporary folders removed); a second signal ends the
    process at once."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:
            os._exit(128 + signum)  # asked twice: no more cleaning up
            return
        self.received = signum
        raise KeyboardInterrupt

    @property
    def status(self) -> int:
        """Exit status after an interrupt: 128 + the signal's number (130 for Ctrl-C)."""
        return 128 + (self.received or signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``salessim`` command."""
    args = build_parser().parse_args(argv)
    with _Signals() as signals:
        try:
            return args.func(args)
        except SalessimError as exc:
            print(f"salessim: {clip_lines(str(exc))}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except MemoryError:
            print("salessim: out of memory: the run needs more memory than this machine "
                  "gives it (fewer replications at once: --workers 1; or an overloaded role "
                  "whose waiting leads pile up: see the warnings above)", file=sys.stderr)
            return EXIT_BAD_INPUT
        except BrokenPipeError:  # output piped into head and the like
            sys.stderr.close()
            return 0
        except KeyboardInterrupt:
            signals.received = signals.received or signal.SIGINT  # a second one exits now
            print("salessim: interrupted; --out is as it was before this command",
                  file=sys.stderr)
            return signals.status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
