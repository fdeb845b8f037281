"""A scenario from an aggregate funnel: stage, count entering, over a stated period.

Counts alone give the arrival rate (count entering the first stage / period, exact Poisson
interval) and the routing (the share of a stage's deals that enter the next one, Wilson
interval; the rest are lost). They cannot give stage times: the scenario has no time in
stage (every stage is instant), and the evidence says so. A last row named like a won
stage (``Won``, ``Closed Won``, or ``--won NAME``) is the won end; otherwise deals that
enter the last stage are won.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salessim.calibrate.estimate import poisson_interval, wilson
from salessim.calibrate.readers import ExportError, parse_amounts, read_table, slug
from salessim.calibrate.visits import DEFAULT_ENDS
from salessim.calibrate.writer import check_scenario
from salessim.ends import LOST, WON
from salessim.output import write_json, write_text
from salessim.scenario.units import convert

#: Calendar periods in days (days and weeks are time units: scenario.units converts them).
_CALENDAR_DAYS = {"month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}
_PERIOD = re.compile(r"^\s*(\d+(?:\.\d*)?)?\s*(day|week|month|quarter|year)s?\s*$", re.I)


def period_days(text: str) -> float:
    """``"1 year"``, ``"6 months"``, ``"90 days"`` in days."""
    match = _PERIOD.match(text)
    if not match or float(match.group(1) or 1) <= 0:
        raise ExportError(f"--period: give a number and a unit (days, weeks, months, quarters, "
                          f"years), like '1 year'; got {text!r}")
    unit = match.group(2).lower()
    days = _CALENDAR_DAYS[unit] if unit in _CALENDAR_DAYS else convert(1.0, unit, "day")
    return float(match.group(1) or 1) * days


def _targets(frame, name: str) -> dict[int, float]:
    """The optional ``target`` column: a conversion in [0, 1] (or a percentage) per row."""
    if "target" not in frame.columns:
        return {}
    values = parse_amounts(frame["target"].astype(str).str.rstrip("%"), frame["row"], name,
                           "target")
    out = {}
    for i, (raw, value) in enumerate(zip(frame["target"], values, strict=True)):
        if value != value:  # empty
            continue
        value = value / 100 if str(raw).strip().endswith("%") else value
        if value > 1:
            raise ExportError(f"{name}:{i + 2}: target: a conversion is at most 1 (or 100%), "
                              f"got {raw!r}")
        out[i] = value
    return out


@dataclass
class FunnelResult:
    """The scenario calibrated from counts, and what it could not estimate."""

    yaml: str
    evidence: dict[str, Any]
    warnings: list[str]

    def summary(self) -> str:
        e = self.evidence
        return (f"{e['arrivals']['rate']:.3g} leads/day over {e['period_days']:.0f} days, "
                f"{len(e['routing'])} stages; stage times not estimable (assumed instant)")

    def write(self, out: str | Path) -> list[Path]:
        out = Path(out)
        write_json(out / "calibration.json", self.evidence)
        write_text(out / "scenario.yaml", self.yaml)
        return [out / "calibration.json", out / "scenario.yaml"]


def calibrate_funnel(path: str | Path, period: str, won: list[str] | tuple = ()) -> FunnelResult:
    """Arrival rate and routing from the counts entering each stage."""
    days = period_days(period)
    frame = read_table(path)
    name = str(path)
    count_col = next((c for c in ("count", "entering", "entered") if c in frame.columns), None)
    if "stage" not in frame.columns or count_col is None:
        missing = "stage" if "stage" not in frame.columns else "count"
        raise ExportError(f"{name}: missing column {missing!r} for a funnel (needs stage, count; "
                          f"found {', '.join(frame.columns)})")
    frame = frame.assign(row=range(2, len(frame) + 2))
    counts = parse_amounts(frame[count_col], frame["row"], name, count_col)
    if counts.isna().any() or (counts != counts.round()).any():
        i = int(((counts.isna()) | (counts != counts.round())).to_numpy().argmax())
        raise ExportError(f"{name}:{i + 2}: {count_col}: a count must be a whole number "
                          f"(got {frame[count_col].iloc[i]!r})")
    stages = [str(s).strip() for s in frame["stage"]]
    n = [int(c) for c in counts]
    for i in range(1, len(n)):
        if n[i] > n[i - 1]:
            raise ExportError(f"{name}:{i + 2}: {count_col}: more deals enter {stages[i]!r} "
                              f"({n[i]}) than the stage before ({n[i - 1]}); a funnel only "
                              "narrows")
    if len(n) < 2 or n[0] == 0:
        raise ExportError(f"{name}: a funnel needs at least two stages and deals entering "
                          "the first")
    won_last = stages[-1] in won or slug(stages[-1]) in DEFAULT_ENDS[WON.name]
    ids = [slug(s) for s in stages]
    body = ids[:-1] if won_last else ids
    low, high = poisson_interval(n[0], days)
    lines = [f"# Calibrated by salessim calibrate from the funnel {name} over {period} "
             f"({days:.1f} days).",
             "# Assumed: stage times cannot be estimated from counts; every stage is instant "
             "(give a stage history to estimate them).",
             f"name: \"Funnel from {Path(name).name}\"", "time_unit: day",
             f"horizon: {math.ceil(days)}", "replications: 20", "seed: 1", "sources:",
             "  funnel:",
             f"    rate: {n[0] / days:.6g}   # {n[0]} entering {stages[0]!r} in {days:.1f} days, "
             f"95% CI [{low:.4g}, {high:.4g}]",
             f"entry: {ids[0]}", "stages:"]
    targets = _targets(frame, name)
    routing: dict[str, dict[str, float | list[float]]] = {}
    for i, sid in enumerate(body):
        following = n[i + 1] if i + 1 < len(n) else None
        target = WON.name if (i + 1 == len(body) and (won_last or following is None)) else ids[i + 1]
        if following is None:  # the last row is a stage itself: those entering it are won
            lines += [f"  {sid}:", f"    next: {{\"{WON.name}\": 1.0}}   # assumed: deals "
                      "entering the last stage are won"]
            routing[sid] = {WON.name: 1.0}
            continue
        p = following / n[i]
        lo, hi = wilson(following, n[i])
        lines += [f"  {sid}:", "    next:",
                  f"      {target}: {p:.6f}   # {following} of {n[i]}, 95% Wilson CI "
                  f"[{lo:.3f}, {hi:.3f}]"]
        if following < n[i]:
            lines.append(f"      {LOST.name}: {1 - float(f'{p:.6f}'):.6f}   # the rest")
        if targets.get(i) is not None:
            lines.append(f"    target: {targets[i]:g}   # the funnel's target conversion")
        routing[sid] = {target: p, LOST.name: 1 - p, "ci": [lo, hi]}
    text = "\n".join(lines) + "\n"
    check_scenario(text)
    evidence = {"source_file": name, "period": period, "period_days": days,
                "arrivals": {"n": n[0], "rate": n[0] / days, "ci": [low, high]},
                "routing": routing,
                "not_estimated": {"stage_times": "counts carry no times: assumed instant"}}
    if targets:
        evidence["targets"] = {stages[i]: t for i, t in targets.items()}
    return FunnelResult(text, evidence, ["stage times not estimable from counts: every stage "
                                         "is instant in the written scenario"])
