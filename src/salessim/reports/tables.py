"""Tables of a comparison and a diagnosis, as display frames (strings) and terminal text."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from salessim import kpis as registry
from salessim.compare import UNSURE, Comparison
from salessim.console import format_number, text_table
from salessim.diagnose import Bottlenecks, PrecisionReport


def with_labels(frame: pd.DataFrame, time_unit: str | None = None) -> pd.DataFrame:
    """A frame with a ``kpi`` column, plus each KPI's ``label`` and ``unit`` from the
    registry as its last columns (for summary.csv and comparison.csv)."""
    out = frame.copy()
    out["label"] = [registry.label(k) for k in out["kpi"]]
    out["unit"] = [registry.unit_text(k, time_unit) for k in out["kpi"]]
    return out


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:+.1f}%"


def _share(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{100 * value + 0.0:.1f}%" if abs(value) >= 0.0005 else "0.0%"


def ci_text(lo: float, hi: float, fmt=format_number) -> str:
    """An interval as ``[low, high]``, n/a when undefined."""
    if math.isnan(lo) or math.isnan(hi):
        return "n/a"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _settle(value: float) -> str:
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "never (estimate on the bound)"
    return f"{int(value)}"


def p_text(value: float) -> str:
    """A p-value: three significant digits, ``<0.001`` below that."""
    if value is None or math.isnan(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def comparison_frame(comparison: Comparison, kpis: Sequence[str]) -> pd.DataFrame:
    """The comparison of the chosen KPIs as display strings, one row per redesign and KPI,
    with labels and every number in its KPI's unit."""
    table = comparison.table
    unit = comparison.baseline.scenario.time_unit
    rows = []
    for run in comparison.redesigns:
        for kpi in kpis:
            sel = table[(table["scenario"] == run.label) & (table["kpi"] == kpi)]
            if sel.empty:
                continue
            r = sel.iloc[0]

            def diff(v, kpi=kpi):
                return registry.format_difference(kpi, v, unit)

            rows.append({
                "redesign": run.label,
                "KPI": registry.label(kpi),
                "name": kpi,
                "baseline": registry.format_value(kpi, r["baseline_mean"], unit),
                "redesign mean": registry.format_value(kpi, r["mean"], unit),
                "difference": diff(r["diff"]),
                "difference CI": ci_text(r["diff_ci_low"], r["diff_ci_high"], diff),
                "change": _pct(r["rel_change"]),
                "change CI": ci_text(r["rel_ci_low"], r["rel_ci_high"], _pct),
                "p (adj.)" if comparison.holm_adjusted else "p": p_text(r["p_adjusted"]),
                "significant": "yes" if r["significant"] else "no",
                "target": r["target"],
                "verdict": r["verdict"],
            })
    return pd.DataFrame(rows)


def verdicts_frame(comparison: Comparison) -> pd.DataFrame:
    """Every target with the estimate it was judged on, its verdict and what would settle it."""
    rows = []
    unit = comparison.baseline.scenario.time_unit
    by_label = {r.label: r for r in comparison.redesigns}
    for r in comparison.verdicts().itertuples(index=False):
        target = by_label[r.scenario].targets[r.kpi]
        if target.relative:
            estimate = f"{_pct(r.rel_change)} {ci_text(r.rel_ci_low, r.rel_ci_high, _pct)}"
        else:
            def fmt(v, kpi=r.kpi):
                return registry.format_value(kpi, v, unit)
            estimate = f"mean {fmt(r.mean)} {ci_text(r.mean_ci_low, r.mean_ci_high, fmt)}"
        settle = _settle(r.replications_to_settle) if r.verdict == UNSURE else ""
        rows.append({
            "redesign": r.scenario, "KPI": registry.label(r.kpi), "target": target.text,
            "meaning": target.describe(), "estimate [CI]": estimate, "verdict": r.verdict,
            "replications to settle": settle,
        })
    return pd.DataFrame(rows, columns=["redesign", "KPI", "target", "meaning", "estimate [CI]",
                                       "verdict", "replications to settle"])


def funnel_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A :func:`salessim.diagnose.funnel` frame as display strings."""
    has_target = frame["target"].notna().any()
    rows = []
    for r in frame.itertuples(index=False):
        row = {
            "stage": r.stage, "entered": format_number(r.entered),
            "moved on": format_number(r.moved_on), "lost": format_number(r.lost),
            "went cold": format_number(r.went_cold),
            **({"timed out": format_number(r.timed_out)} if "timed_out" in frame else {}),
            "conversion": _share(r.conversion),
            "95% CI": ci_text(r.conversion_ci_low, r.conversion_ci_high, _share),
        }
        if has_target:
            row["target"] = "" if math.isnan(r.target) else _share(r.target)
            row["gap"] = "" if math.isnan(r.gap) else f"{100 * r.gap:+.1f} pts"
            row["status"] = r.target_status
        rows.append(row)
    return pd.DataFrame(rows)


def bottleneck_stage_display(b: Bottlenecks) -> pd.DataFrame:
    """Per-stage time shares as display strings."""
    unit = b.time_unit
    return pd.DataFrame([{
        "stage": r.stage, "visits": format_number(r.visits),
        f"wait/visit ({unit}s)": format_number(r.wait),
        f"work/visit ({unit}s)": format_number(r.work),
        f"customer/visit ({unit}s)": format_number(r.delay),
        "share waiting for staff": _share(r.wait_share),
        "95% CI": ci_text(r.wait_share_ci_low, r.wait_share_ci_high, _share),
        "share working": _share(r.work_share),
        "share waiting on customer": _share(r.delay_share),
    } for r in b.stages.itertuples(index=False)])


def bottleneck_role_display(b: Bottlenecks) -> pd.DataFrame:
    """Per-role utilisation as display strings."""
    return pd.DataFrame([{
        "role": r.role, "headcount": str(r.headcount), "utilisation": _share(r.utilisation),
        "95% CI": ci_text(r.ci_low, r.ci_high, _share),
    } for r in b.roles.itertuples(index=False)])


def frame_text(frame: pd.DataFrame) -> str:
    """A display frame as an aligned text table."""
    if frame.empty:
        return "(none)"
    rows = [tuple(str(c) for c in frame.columns)]
    rows += [tuple(str(v) for v in row) for row in frame.itertuples(index=False)]
    return text_table(rows)


def comparison_text(comparison: Comparison, kpis: Sequence[str], caveats: Sequence = (),
                    more: int = 0) -> str:
    """The terminal view of a comparison: one block per redesign, the targets, then the
    warnings and a closing line per redesign in plain words, at the end where they are seen.

    Args:
        comparison: the comparison.
        kpis: the rows of each block.
        caveats: :class:`salessim.reports.summary.Caveat` warnings to print.
        more: KPIs left out of the blocks, to say how many more comparison.csv has.
    """
    from salessim.reports.summary import ranking, ranking_display, redesign_sentence

    frame = comparison_frame(comparison, kpis)
    blocks = []
    for run in comparison.redesigns:
        part = frame[frame["redesign"] == run.label].drop(columns=["redesign", "target",
                                                                    "verdict"])
        blocks.append(f"{run.label}: {run.scenario.name}\n{frame_text(part)}")
    note = comparison.significance_note()
    if more:
        note += f"\n{more} more KPIs in comparison.csv (choose rows with --kpis, e.g. 'wait_mean.*')"
    blocks.append(note)
    verdicts = verdicts_frame(comparison)
    if not verdicts.empty:
        blocks.append("Targets (met: the whole CI satisfies it; missed: the whole CI fails it; "
                      "unsure: the CI straddles it)\n" + frame_text(verdicts))
        blocks.append("Ranking on the targets\n" + frame_text(ranking_display(
            ranking(comparison))))
    if caveats:
        blocks.append("Warnings\n" + "\n".join(f"- {c.text()}" for c in caveats))
    blocks.append("\n".join(redesign_sentence(comparison, run) for run in comparison.redesigns))
    return "\n\n".join(blocks)


def diagnosis_text(funnel_frame: pd.DataFrame, b: Bottlenecks) -> str:
    """The terminal view of a diagnosis: funnel, time shares, utilisation, the verdict."""
    return "\n\n".join([
        "Funnel (per replication, cohort leads)\n" + frame_text(funnel_display(funnel_frame)),
        "Where the time goes (shares of all time leads spend in stages)\n"
        + frame_text(bottleneck_stage_display(b)),
        "Staff\n" + frame_text(bottleneck_role_display(b)),
        b.summary(),
    ])


def precision_display(report: PrecisionReport) -> pd.DataFrame:
    """The precision check as display strings."""
    return pd.DataFrame([{
        "KPI": r.kpi, "mean": format_number(r.mean), "half-width": format_number(r.half_width),
        "relative": _share(r.rel_half_width), "reached": "yes" if r.reached else "no",
    } for r in report.kpis.itertuples(index=False)])


#: Headings of the two intervals, as parameters.csv's table shows them.
SIMULATION_ONLY = "simulation only"
WITH_PARAMETERS = "simulation and parameters"


def parameter_display(table: pd.DataFrame, kpis: Sequence[str], time_unit: str,
                      level: float = 0.95, difference: bool = False) -> pd.DataFrame:
    """The rows of ``kpis`` of a ``parameters.csv`` table (:data:`salessim.api.uncertainty.
    COLUMNS`, with a ``scenario`` column for a comparison) as display strings: the mean (or
    paired difference), the simulation's interval and the one with the parameters'
    uncertainty, each under a heading that says what it covers."""
    def show(kpi: str, value: float) -> str:
        return (registry.format_difference(kpi, value, time_unit) if difference
                else registry.format_value(kpi, value, time_unit))

    order = {k: i for i, k in enumerate(kpis)}
    rows = []
    for r in table.itertuples(index=False):
        if r.kpi not in order:
            continue
        row = {"redesign": r.scenario} if difference else {}
        row.update({
            "KPI": registry.label(r.kpi), "name": r.kpi,
            "difference" if difference else "mean": show(r.kpi, r.mean),
            f"{level:.0%} CI, {SIMULATION_ONLY}": ci_text(
                r.sim_low, r.sim_high, lambda v, k=r.kpi: show(k, v)),
            f"{level:.0%} CI, {WITH_PARAMETERS}": ci_text(
                r.low, r.high, lambda v, k=r.kpi: show(k, v)),
        })
        rows.append((getattr(r, "scenario", ""), order[r.kpi], row))
    if not difference:
        rows.sort(key=lambda x: x[1])
    return pd.DataFrame([row for *_, row in rows])
