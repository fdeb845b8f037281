"""``salessim analyse``, ``diagram`` and ``trace``: the teaching commands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from salessim.commands import add_set_option
from salessim.errors import UsageError


def cmd_analyse(args: argparse.Namespace) -> int:
    """Flow analysis and queueing formulas of a scenario, without simulating."""
    from salessim.api.analysis import analyse
    from salessim.records import write_frame

    hours = args.hours_per_day
    if hours is not None and not (math.isfinite(hours) and 0 < hours <= 24):
        raise UsageError(f"--hours-per-day must be a number in (0, 24], got {hours:g}")
    if args.out is not None and Path(args.out).suffix != ".csv":
        raise UsageError(f"--out writes CSV: give a file name ending in .csv, got {args.out!r}")
    report = analyse(args.scenario, hours, args.set)
    print(report.summary())
    if args.out is not None:
        write_frame(report.to_frame(), Path(args.out))
        print(f"\nwrote {args.out}")
    return 0


FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".bpmn": "bpmn",
           ".xml": "bpmn"}


def run_notes(scenario, replications: int) -> dict[str, list[str]]:
    """A short run's figures as extra lines per stage (conversion, wait, the utilisation of
    its staff) and in the start box."""
    from salessim import engine
    from salessim.model.kinds.words import duration

    summary = engine.run(scenario, replications=replications).summary().set_index("kpi")["mean"]
    unit = scenario.time_unit
    notes: dict[str, list[str]] = {}
    for sid, stage in scenario.stages.items():
        lines = []
        if math.isfinite(summary[f"conversion.{sid}"]):
            lines += [f"conversion {summary[f'conversion.{sid}']:.0%}",
                      f"wait {duration(summary[f'wait_mean.{sid}'], unit)}"]
        busy = [f"{r} {summary[f'utilisation.{r}']:.0%}" for r in stage.staff
                if math.isfinite(summary.get(f"utilisation.{r}", math.nan))]
        if busy:
            lines.append("busy: " + ", ".join(busy))
        notes[sid] = lines
    notes["start"] = [f"simulated, {replications} rep" + ("s" if replications != 1 else "")]
    return notes


def cmd_diagram(args: argparse.Namespace) -> int:
    """Draw the process: SVG, PNG, Graphviz DOT or BPMN 2.0."""
    from salessim.output import write_text
    from salessim.scenario import load_scenario
    from salessim.teaching import bpmn, diagram

    fmt = args.format
    if fmt is None:
        fmt = FORMATS.get(Path(args.out).suffix.lower(), "svg") if args.out else "svg"
    if fmt == "png" and args.out is None:
        raise UsageError("--format png writes a file: give --out FILE.png")
    if args.annotate is not None and args.annotate < 1:
        raise UsageError(f"--annotate takes a number of replications >= 1, got {args.annotate}")
    if args.annotate is not None and fmt == "bpmn":
        raise UsageError("--annotate adds a run's figures to svg, png and dot pictures, not bpmn")
    scenario = load_scenario(args.scenario, args.set)
    notes = None if args.annotate is None else run_notes(scenario, args.annotate)
    if fmt == "png":
        diagram.png(scenario, Path(args.out), notes)
    else:
        text = {"svg": lambda: diagram.svg(scenario, notes),
                "dot": lambda: diagram.dot(scenario, notes),
                "bpmn": lambda: bpmn.bpmn_xml(scenario)}[fmt]()
        if args.out is None:
            print(text, end="")
            return 0
        write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """Tell the story of the first leads of a run, or of chosen ones."""
    from salessim import engine
    from salessim.scenario import load_scenario
    from salessim.teaching.trace import trace

    if args.leads < 1:
        raise UsageError(f"--leads must be at least 1, got {args.leads}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    scenario = load_scenario(args.scenario, args.set)
    log = engine.run(scenario, replications=1, seed=args.seed, event_log=True).event_log()
    try:
        lines = trace(scenario, log, args.lead or args.leads)
    except KeyError as exc:
        raise UsageError(f"--lead: {exc.args[0]}") from None
    print("\n".join(lines))
    if args.animate is not None:
        from salessim.output import write_text
        from salessim.teaching.animation import animation_html

        start, end = _window(args.window, scenario)
        write_text(args.animate, animation_html(scenario, log, start, end))
        print(f"\nwrote {args.animate}")
    return 0


def _window(text: str | None, scenario) -> tuple[float, float]:
    if text is None:
        return float(scenario.warmup), float(scenario.horizon)
    try:
        a, b = (float(x) for x in text.split(":"))
    except ValueError:
        raise UsageError(f"--window is START:END in {scenario.time_unit}s, got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and 0 <= a < b <= scenario.horizon):
        raise UsageError(f"--window must satisfy 0 <= START < END <= horizon "
                         f"({scenario.horizon:g}), got {text!r}")
    return a, b


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

    p = sub.add_parser("diagram", help="draw the process (svg, png, dot, bpmn)")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--out", metavar="FILE", help="file to write (format from its suffix); "
                   "default: print to the terminal")
    p.add_argument("--format", choices=["svg", "png", "dot", "bpmn"])
    p.add_argument("--annotate", type=int, metavar="N",
                   help="run N replications and show conversion, wait and the staff's "
                        "utilisation in the boxes")
    add_set_option(p)
    p.set_defaults(func=cmd_diagram)

    p = sub.add_parser("trace", help="the story of the first leads, in plain sentences")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--leads", type=int, default=5, metavar="N", help="first N leads (default 5)")
    p.add_argument("--lead", action="append", metavar="ID", help="a chosen lead, e.g. web-3 "
                   "(repeatable; replaces --leads)")
    p.add_argument("--seed", type=int, help="root seed; default: the scenario's")
    p.add_argument("--animate", metavar="FILE.html",
                   help="also write the classroom animation of the run (one HTML page)")
    p.add_argument("--window", metavar="START:END",
                   help="time window of the animation (default: warm-up to horizon)")
    add_set_option(p)
    p.set_defaults(func=cmd_trace)
