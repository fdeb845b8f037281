"""The ``salessim`` command: a thin shell over the library.

Every command that fails on bad input prints one clear message (file, line, field, rule,
value) and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from salessim import __version__, engine
from salessim.console import kpi_table, progress_bar
from salessim.errors import SalessimError, UsageError
from salessim.output import versions, write_json
from salessim.records import write_frame
from salessim.rng import STREAM_SCHEME
from salessim.scenario import json_schema, load_scenario, resolved, scenario_hash

EXIT_BAD_INPUT = 2

#: Modules that add their own subcommands through a ``register(subparsers)`` function.
COMMAND_MODULES: tuple[str, ...] = ()


# --- commands --------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            scenario = load_scenario(path, args.set)
        except SalessimError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: ok ({scenario.name}: {len(scenario.stages)} stages, "
              f"{len(scenario.roles)} roles, {len(scenario.sources)} sources)")
    return EXIT_BAD_INPUT if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if args.event_log and args.out is None:
        raise UsageError("--event-log writes files: give --out DIR too")
    if args.replications is not None and args.replications < 1:
        raise UsageError(f"--replications must be at least 1, got {args.replications}")
    scenario = load_scenario(args.scenario, args.set)
    n = args.replications or scenario.replications
    seed = scenario.seed if args.seed is None else args.seed
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    with progress_bar(n, scenario.name) as bar:
        result = engine.run(scenario, n, seed, event_log=args.event_log,
                            progress=lambda _: bar.update())
    seconds = time.perf_counter() - clock
    summary = result.summary()
    print(f"{scenario.name}: {n} replications, seed {seed}, {seconds:.1f} s")
    print(kpi_table(summary))
    if args.out is not None:
        out = Path(args.out)
        write_frame(summary, out / "summary.csv")
        write_frame(result.frame(), out / "replications.csv")
        if args.event_log:
            log = result.event_log()
            write_frame(log, out / "event_log.csv")
            write_frame(log, out / "event_log.parquet")
        write_json(out / "run.json", {
            "scenario": str(args.scenario),
            "sets": args.set or [],
            "scenario_hash": scenario_hash(scenario),
            "seed": seed,
            "replications": n,
            "stream_scheme": STREAM_SCHEME,
            "versions": versions(),
            "started": started.isoformat(),
            "seconds": round(seconds, 3),
            "resolved_scenario": resolved(scenario),
        })
        print(f"wrote {out}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salessim", description="Simulate, compare and optimise sales processes.")
    parser.add_argument("--version", action="version", version=f"salessim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_set(p: argparse.ArgumentParser) -> None:
        p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                       help="override a scenario key, e.g. stages.close.delay.mean=2 (repeatable)")

    p = sub.add_parser("validate", help="check scenario files")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_set(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("run", help="run a scenario's replications and print its KPIs")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--replications", "-n", type=int, help="default: the scenario's")
    p.add_argument("--seed", type=int, help="root seed; default: the scenario's")
    add_set(p)
    p.add_argument("--out", metavar="DIR", help="write summary.csv, replications.csv, run.json")
    p.add_argument("--event-log", action="store_true",
                   help="also write event_log.csv and event_log.parquet (needs --out)")
    p.set_defaults(func=cmd_run)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``salessim`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SalessimError as exc:
        print(f"salessim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("salessim: interrupted; files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
