"""``salessim analyse``, ``diagram`` and ``trace``: the teaching commands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from salessim.commands import add_set_option
from salessim.errors import UsageError
from salessim.scenario import load_scenario

SECTIONS = {"stage": "Per stage", "end": "Ends", "process": "The process", "role": "Per role"}


def analysis_text(table) -> str:
    """The analysis table as text, one block per section."""
    from salessim.console import format_number, text_table

    blocks = []
    for section, title in SECTIONS.items():
        part = table[table.section == section]
        if part.empty:
            continue
        rows = [("item", "measure", "value", "unit", "method", "theory")]
        for r in part.itertuples(index=False):
            rows.append((r.item, r.measure, format_number(r.value), r.unit, r.method,
                         "exact" if r.exact else "approx."))
        blocks.append(f"{title}\n{text_table(rows)}")
    return "\n\n".join(blocks)


def cmd_analyse(args: argparse.Namespace) -> int:
    """Flow analysis and queueing formulas of a scenario, without simulating."""
    from salessim.analyse import analyse
    from salessim.records import write_frame

    hours = args.hours_per_day
    if hours is not None and not (math.isfinite(hours) and 0 < hours <= 24):
        raise UsageError(f"--hours-per-day must be a number in (0, 24], got {hours:g}")
    if args.out is not None and Path(args.out).suffix != ".csv":
        raise UsageError(f"--out writes CSV: give a file name ending in .csv, got {args.out!r}")
    scenario = load_scenario(args.scenario, args.set)
    analysis = analyse(scenario, hours)
    table = analysis.table()
    print(f"{scenario.name}: flow analysis (no simulation; 'approx.' marks figures the "
          "simulation need not match exactly)\n")
    print(analysis_text(table))
    if args.out is not None:
        write_frame(table, Path(args.out))
        print(f"\nwrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``analyse``, ``diagram`` and ``trace`` commands."""
    p = sub.add_parser("analyse", help="flow analysis and queueing formulas, no simulation")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--out", metavar="FILE.csv", help="also write the table as CSV")
    p.add_argument("--hours-per-day", type=float, metavar="H",
                   help="working hours per calendar day for cycle-time efficiency "
                        "(default: the calendar's weekly hours / 7; 24 without a calendar)")
    add_set_option(p)
    p.set_defaults(func=cmd_analyse)
