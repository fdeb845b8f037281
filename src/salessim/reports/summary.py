"""What a reader needs first: each redesign in plain words, a ranking on the targets, and
the warnings that bear on a verdict, each with what to do.

The terminal (``run``, ``compare``) and the HTML report print the same sentences from
here. Nothing here draws: matplotlib is not imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salessim import kpis as registry
from salessim import stats
from salessim.compare import UNSURE, Comparison, ScenarioRun
from salessim.diagnose import WARMUP_SERIES, WarmupEstimate, series_matrix

#: A role busier than this is flagged: waiting grows steeply as utilisation nears 1.
BUSY_ROLE = 0.85
#: Open leads rising by more than this share of their level over the last half of the
#: window, with an interval above zero, mean the run is not in steady state.
WIP_RISE = 0.10
#: Headline KPIs a redesign's sentence may name (with every KPI it has a target on).
SENTENCE_KPIS = ("won", "win_rate", "cycle_time_won_median", "revenue", "selling_cost",
                 "cost_per_win")
MAX_SENTENCE_KPIS = 4


@dataclass(frozen=True)
class Caveat:
    """A warning that bears on the verdict.

    Attributes:
        scenario: the scenario (label) it is about.
        what: what was found, with its numbers.
        todo: what to do about it.
    """

    scenario: str
    what: str
    todo: str

    def text(self) -> str:
        """One line: what was found, then what to do."""
        return f"{self.scenario}: {self.what}. {self.todo}"


# --- warnings ------------------------------------------------------------------------------


def warmup_caveat(run: ScenarioRun, estimate: WarmupEstimate) -> Caveat | None:
    """The warm-up used is shorter than MSER-5, checked against the noise, suggests."""
    used = float(run.scenario.warmup)
    if estimate.warmup <= used + 1e-9:
        return None
    unit = run.scenario.time_unit
    check = estimate.check
    # The check (stats.checked_truncation) says whether the transient is beyond noise.
    why = ("; with one replication this could not be checked against the noise"
           if check is not None and not check.checked else "")
    return Caveat(
        run.label,
        f"the warm-up used ({used:g} {unit}s) is shorter than the {estimate.warmup:.4g} "
        f"{unit}s MSER-5 suggests on the mean {WARMUP_SERIES[estimate.series]} (the shortest "
        "cut after which what is left of the start cannot be told from the steady state "
        f"across replications){why}, so the counted leads include some that met an emptier "
        "process than the steady state",
        f"Rerun with --warmup auto (or --warmup {estimate.warmup:.4g}).")


def wip_rise(run: ScenarioRun, level: float = 0.95) -> stats.Estimate:
    """Rise of open leads over the last half of the window, as a share of their mean level.

    Per replication: the least-squares slope of the open-leads series over the last half
    of the measurement window, times that half's length, over the mean level there; then a
    t interval across replications.
    """
    times, values = series_matrix(run.run_result, "wip")
    warmup, horizon = float(run.scenario.warmup), float(run.scenario.horizon)
    keep = times >= warmup + (horizon - warmup) / 2
    if keep.sum() < 3:
        return stats.t_interval([], level)
    t = times[keep]
    rises = []
    for row in values[:, keep]:
        level_ = float(np.mean(row))
        if level_ <= 0:
            continue
        slope = float(np.polyfit(t, row, 1)[0])
        rises.append(slope * (t[-1] - t[0]) / level_)
    return stats.t_interval(rises, level)


def wip_caveat(run: ScenarioRun, level: float = 0.95) -> Caveat | None:
    """Open leads still rising at the horizon: the run is not in steady state."""
    rise = wip_rise(run, level)
    if rise.n < 2 or math.isnan(rise.ci_low) or rise.ci_low <= 0 or rise.mean < WIP_RISE:
        return None
    return Caveat(
        run.label,
        f"open leads are still rising at the horizon ({registry.format_change(rise.mean)} over "
        "the last half of the window), so the process is not in steady state: demand exceeds "
        "what some stage can serve, or the horizon is too short",
        "Read the KPIs as this horizon's outcome, not as a long-run rate; check the busiest "
        "role and the funnel, or lengthen the horizon.")


def utilisation_caveats(run: ScenarioRun) -> list[Caveat]:
    """Roles above :data:`BUSY_ROLE` utilisation."""
    means = run.run_result.summary().set_index("kpi")["mean"]
    out = []
    for rid in run.scenario.roles:
        value = means.get(f"utilisation.{rid}", math.nan)
        if value > BUSY_ROLE:
            out.append(Caveat(
                run.label,
                f"{rid} is {registry.format_value('win_rate', value)} busy (above "
                f"{BUSY_ROLE:.0%}), where waiting grows steeply with small changes in demand "
                "or work time",
                f"Treat waiting and cycle times as fragile; try roles.{rid}.headcount one "
                "higher, or a sweep over the work times."))
    return out


def run_caveats(run: ScenarioRun, warmup: WarmupEstimate | None = None,
                level: float = 0.95) -> list[Caveat]:
    """The warnings of one scenario's run: warm-up, steady state, busy roles."""
    out = []
    if warmup is not None:
        out.append(warmup_caveat(run, warmup))
    out.append(wip_caveat(run, level))
    out += utilisation_caveats(run)
    return [c for c in out if c is not None]


def comparison_caveats(comparison: Comparison, warmup: WarmupEstimate | None = None) -> list[
        Caveat]:
    """The warnings of a comparison: the baseline's warm-up, each scenario's steady state
    and busy roles, and each target whose interval is too wide to settle it."""
    out = run_caveats(comparison.baseline, warmup, comparison.level)
    for run in comparison.redesigns:
        out += run_caveats(run, None, comparison.level)
    for r in comparison.verdicts().itertuples(index=False):
        if r.verdict != UNSURE:
            continue
        settle = r.replications_to_settle
        todo = ("No number of replications settles it: the estimate sits on the bound."
                if math.isinf(settle) else
                f"About {int(settle)} replications would likely settle it: rerun with "
                f"-n {int(settle)} (or --precision)." if not math.isnan(settle) else
                "More replications would narrow the interval.")
        out.append(Caveat(
            r.scenario,
            f"the interval of {registry.label(r.kpi).lower()} straddles the target {r.target} "
            f"(verdict unsure after {comparison.replications} replications)", todo))
    return out


# --- plain words ---------------------------------------------------------------------------


def _row(comparison: Comparison, label: str, kpi: str) -> pd.Series | None:
    t = comparison.table
    sel = t[(t["scenario"] == label) & (t["kpi"] == kpi)]
    return None if sel.empty else sel.iloc[0]


def _target_row(comparison: Comparison, label: str, kpi: str) -> pd.Series:
    """The row of a target's KPI: a target's KPI is always among those compared."""
    row = _row(comparison, label, kpi)
    if row is None:
        raise KeyError(f"{label}: no comparison of {kpi}, the KPI of one of its targets")
    return row


def change_words(row: pd.Series) -> str:
    """``deals won +1.4% [+0.4%, +2.3%]``."""
    name = registry.label(row["kpi"])
    name = name[0].lower() + name[1:]
    ci = (f" [{registry.format_change(row['rel_ci_low'])}, "
          f"{registry.format_change(row['rel_ci_high'])}]"
          if not math.isnan(row["rel_ci_low"]) else "")
    return f"{name} {registry.format_change(row['rel_change'])}{ci}"


def redesign_sentence(comparison: Comparison, run: ScenarioRun) -> str:
    """One redesign in plain words: its headline changes and its target verdicts."""
    names = list(run.targets)
    for kpi in SENTENCE_KPIS:
        row = _row(comparison, run.label, kpi)
        if row is not None and row["significant"] and kpi not in names:
            names.append(kpi)
    names = names[:MAX_SENTENCE_KPIS]
    parts = []
    for kpi in names:
        row = _row(comparison, run.label, kpi)
        if row is not None and not math.isnan(row["rel_change"]):
            parts.append(change_words(row))
    text = f"{run.label} ({run.scenario.name}): "
    text += ", ".join(parts) if parts else "no headline KPI changed significantly"
    verdicts = [f"{kpi} {t.text} {row['verdict']}" for kpi, t in run.targets.items()
                if (row := _row(comparison, run.label, kpi)) is not None]
    if verdicts:
        text += "; targets: " + ", ".join(verdicts)
    return text + "."


def _progress(comparison: Comparison, run: ScenarioRun, kpi: str) -> float:
    """How far past its bound a target's estimate is, signed so that beyond is positive."""
    t = run.targets[kpi]
    row = _target_row(comparison, run.label, kpi)
    value = row["rel_change"] if t.relative else row["mean"]
    gap = value - t.value if t.op == ">=" else t.value - value
    return gap if t.relative else gap / abs(t.value) if t.value else gap


def ranking(comparison: Comparison) -> pd.DataFrame:
    """The redesigns ranked on their targets' verdicts alone: most met, then fewest
    missed, then fewest unsure (so one that met all its targets comes before one that met
    as many and left another unsure); ties keep the order given. ``mean margin`` (how far
    past the bounds on average: relative changes, a bound on a mean as a share of the
    bound) is shown, never ranked on: it averages unlike targets."""
    rows = []
    for run in comparison.redesigns:
        if not run.targets:
            continue
        verdicts = [_target_row(comparison, run.label, k)["verdict"] for k in run.targets]
        progress = [_progress(comparison, run, k) for k in run.targets]
        finite = [p for p in progress if not math.isnan(p)]
        rows.append({
            "redesign": run.label, "met": verdicts.count("met"),
            "unsure": verdicts.count("unsure"), "missed": verdicts.count("missed"),
            "mean margin": float(np.mean(finite)) if finite else math.nan,
        })
    frame = pd.DataFrame(rows, columns=["redesign", "met", "unsure", "missed", "mean margin"])
    frame = frame.sort_values(["met", "missed", "unsure"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def ranking_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The ranking as display strings."""
    out = frame.copy()
    out["mean margin"] = [registry.format_change(v) for v in frame["mean margin"]]
    return out.astype(str)


def caveat_lines(caveats: Sequence[Caveat]) -> list[str]:
    """Each warning as one line."""
    return [c.text() for c in caveats]
