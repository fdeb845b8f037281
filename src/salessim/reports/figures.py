"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

Every function returns a :class:`matplotlib.figure.Figure` and touches no global state: no
``pyplot``, no backend switch, no ``show()``. :func:`png_bytes` renders one to PNG.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from salessim import kpis as registry
from salessim import stats
from salessim.compare import Comparison, ScenarioRun
from salessim.console import format_number
from salessim.diagnose import (
    END_NODES,
    NEW,
    OPEN,
    WARMUP_SERIES,
    WENT_COLD_NODE,
    WarmupEstimate,
    funnel,
    series_matrix,
)
from salessim.sketch import QuantileSketch

#: Resolution of the PNG files (the figures are sized in inches for a report page).
DPI = 200
NO_DECISION_NODE = END_NODES["no_decision"]
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]


def colour(i: int) -> str:
    """The i-th scenario's colour (the baseline is 0)."""
    return _COLOURS[i % len(_COLOURS)]


def _figure(width: float, height: float, constrained: bool = True) -> Figure:
    # Layout engines cost about as much as drawing; figures with many panels set their
    # margins by hand instead (constrained=False).
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def _margins(fig: Figure, left: float, right: float, top: float, bottom: float,
             wspace: float = 0.0, hspace: float = 0.0) -> None:
    """Subplot margins given in inches, whatever the figure's size."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h,
                        wspace=wspace, hspace=hspace)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _runs(runs: Sequence[ScenarioRun]) -> list[ScenarioRun]:
    done = [r for r in runs if r.result is not None]
    if not done:
        raise ValueError("no scenario has been run")
    return done


# --- funnel --------------------------------------------------------------------------------


def funnel_figure(runs: Sequence[ScenarioRun]) -> Figure:
    """The funnel of each scenario side by side: visits per stage, conversion written on."""
    runs = _runs(runs)
    cols = min(len(runs), 4)
    rows = math.ceil(len(runs) / cols)
    n_stages = max(len(r.scenario.stages) for r in runs)
    panel_h = 0.36 * n_stages + 1.1
    fig = _figure(4.0 * cols + 0.6, panel_h * rows + 0.5, constrained=False)
    _margins(fig, left=1.1, right=0.25, top=0.55, bottom=0.55, wspace=0.55, hspace=0.6)
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    for i, run in enumerate(runs):
        ax = axes[i // cols][i % cols]
        table = funnel(run.run_result)
        y = np.arange(len(table))[::-1]
        ax.barh(y, table["entered"], color=colour(i), alpha=0.85)
        for yy, entered, conv, target in zip(
                y, table["entered"], table["conversion"], table["target"], strict=True):
            label = f"{format_number(entered)} ({'n/a' if math.isnan(conv) else f'{conv:.0%}'}"
            label += ")" if math.isnan(target) else f", target {target:.0%})"
            ax.text(entered, yy, " " + label, va="center", fontsize=7.5)
        ax.set_yticks(y, table["stage"], fontsize=8)
        ax.set_xlabel("visits per replication (count)", fontsize=7.5)
        ax.set_title(run.label, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.margins(x=0.6)
        ax.set_xlim(left=0)
    for j in range(len(runs), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.suptitle("Funnel: visits per stage and replication (conversion)", fontsize=10)
    return fig


# --- cycle time of won deals ---------------------------------------------------------------


def cycle_time_figure(runs: Sequence[ScenarioRun]) -> Figure:
    """Empirical CDF of the cycle time of won deals, all replications pooled, one curve each.

    The times come from each replication's sketch: exact while the pooled replications
    hold at most :data:`salessim.sketch.EXACT_LIMIT` won deals, else every point is within
    :data:`salessim.sketch.RELATIVE_ERROR` of the exact one.
    """
    runs = _runs(runs)
    fig = _figure(7, 4.2)
    ax = fig.subplots()
    unit = runs[0].scenario.time_unit
    for i, run in enumerate(runs):
        pooled = QuantileSketch()
        for r in run.run_result.replications:
            pooled.merge(r.tally.cycle_won)
        values, counts = pooled.points()
        times = np.repeat(np.asarray(values, dtype=float), counts)
        if times.size == 0:
            continue
        # The table's median is the KPI cycle_time_won_median averaged over replications;
        # the curve pools every replication. Both are stated, the table's value is marked.
        wide = run.run_result.wide()
        table_median = float(np.nanmean(wide["cycle_time_won_median"])) \
            if "cycle_time_won_median" in wide and wide["cycle_time_won_median"].notna().any() \
            else math.nan
        ax.step(times, np.arange(1, times.size + 1) / times.size, where="post",
                color=colour(i), lw=2.2 if i == 0 else 1.4,
                label=f"{run.label}: pooled median {format_number(float(np.median(times)))}, "
                      f"mean of medians {format_number(table_median)}")
        if not math.isnan(table_median):
            ax.axvline(table_median, color=colour(i), ls=":", lw=1)
    ax.set_xlabel(f"cycle time of won deals, creation to won ({unit}s)")
    ax.set_ylabel("share of won deals (cumulative)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Cycle time of won deals: all replications pooled (dotted: the table's median,\n"
                 "the mean over replications of each replication's median)", fontsize=9)
    return fig


# --- utilisation ---------------------------------------------------------------------------


def utilisation_figure(runs: Sequence[ScenarioRun], level: float = 0.95) -> Figure:
    """Utilisation per role and scenario, bars with their confidence intervals."""
    runs = _runs(runs)
    roles = list(dict.fromkeys(rid for run in runs for rid in run.scenario.roles))
    fig = _figure(min(10.0, max(6.0, 0.4 * len(roles) * len(runs) + 2)), 4.0)
    ax = fig.subplots()
    width = 0.8 / len(runs)
    x = np.arange(len(roles))
    for i, run in enumerate(runs):
        wide = run.run_result.wide()
        means, lows, highs = [], [], []
        for rid in roles:
            col = f"utilisation.{rid}"
            est = stats.t_interval(wide[col] if col in wide else [], level)
            means.append(est.mean)
            lows.append(est.mean - est.ci_low if est.n > 1 else 0)
            highs.append(est.ci_high - est.mean if est.n > 1 else 0)
        ax.bar(x - 0.4 + width * (i + 0.5), means, width, yerr=[lows, highs], capsize=2,
               color=colour(i), label=run.label)
    ax.axhline(1.0, color="black", lw=0.8, ls=":")
    ax.set_xticks(x, roles)
    ax.set_ylabel(f"utilisation, share of working time ({level:.0%} CI)")
    ax.set_xlabel("role")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncols=min(4, len(runs)))
    ax.set_title("Staff utilisation per role")
    return fig


# --- forest plot of relative changes -------------------------------------------------------


def forest_groups(comparison: Comparison, kpis: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The forest plot's panels: KPIs grouped by unit (in order of first appearance),
    leaving out a KPI whose relative change is n/a for every redesign."""
    table = comparison.table
    groups: dict[str, list[str]] = {}
    for kpi in kpis:
        rel = table.loc[table["kpi"] == kpi, "rel_change"]
        if rel.notna().any():
            groups.setdefault(registry.unit(kpi), []).append(kpi)
    return list(groups.items())


def forest_figure(comparison: Comparison, kpis: Sequence[str]) -> Figure:
    """Relative change of each KPI per redesign with its CI; targets drawn where set.

    KPIs are grouped by unit, each group starting a row and sharing one scale, so +2% never
    looks as big as +20% within a group; a KPI that is n/a for every redesign gets no panel.
    A relative target is a red bar at its bound; a bound on the mean is drawn at the
    relative change it would mean against the baseline's mean (a grey bar).
    """
    table = comparison.table.set_index(["kpi", "scenario"])
    labels = [r.label for r in comparison.redesigns]
    targets = {(r.label, k): t for r in comparison.redesigns for k, t in r.targets.items()}
    groups = forest_groups(comparison, kpis) or [("count", [])]
    cols = min(3, max(1, max(len(g) for _, g in groups)))
    layout = [(unit, g[i:i + cols]) for unit, g in groups for i in range(0, max(1, len(g)), cols)]
    rows = len(layout)
    panel_h = 0.22 * len(labels) + 1.05
    fig = _figure(3.4 * cols + 1.7, panel_h * rows + 0.7, constrained=False)
    _margins(fig, left=1.8, right=0.25, top=0.75, bottom=0.5, wspace=0.12, hspace=0.75)
    axes = fig.subplots(rows, cols, squeeze=False)
    y = np.arange(len(labels))[::-1]
    limits: dict[str, list[float]] = {}
    for row_i, (unit, names) in enumerate(layout):
        for col_i in range(cols):
            ax = axes[row_i][col_i]
            if col_i >= len(names):
                ax.set_visible(False)
                continue
            kpi = names[col_i]
            span = limits.setdefault(unit, [0.0, 0.0])
            for yy, label in zip(y, labels, strict=True):
                if (kpi, label) not in table.index:
                    continue
                row = table.loc[(kpi, label)]
                i = labels.index(label) + 1
                rel, lo, hi = (100 * row["rel_change"], 100 * row["rel_ci_low"],
                               100 * row["rel_ci_high"])
                if not math.isnan(rel):
                    face = colour(i) if row["significant"] else "white"
                    if not math.isnan(lo):
                        ax.plot([lo, hi], [yy, yy], color=colour(i), lw=2)
                        span[0], span[1] = min(span[0], lo), max(span[1], hi)
                    ax.plot([rel], [yy], "o", color=colour(i), markerfacecolor=face, ms=5)
                    span[0], span[1] = min(span[0], rel), max(span[1], rel)
                target = targets.get((label, kpi))
                at = None
                if target is not None and target.relative:
                    at, c = 100 * target.value, "red"
                elif target is not None and row["baseline_mean"]:
                    at, c = 100 * (target.value / row["baseline_mean"] - 1), "dimgrey"
                if at is not None and math.isfinite(at):
                    ax.plot([at] * 2, [yy - 0.4, yy + 0.4], color=c, lw=2)
                    span[0], span[1] = min(span[0], at), max(span[1], at)
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(y, labels if col_i == 0 else [""] * len(labels), fontsize=7)
            ax.set_ylim(-0.6, len(labels) - 0.4)
            ax.set_title(textwrap.fill(registry.label(kpi), 30), fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(axis="x", alpha=0.3)
            ax.set_xlabel(f"change vs baseline, % ({registry.UNITS[unit]} KPIs)", fontsize=7)
    # One scale per unit group, with a margin, so equal changes look equal within a group.
    for row_i, (unit, names) in enumerate(layout):
        lo, hi = limits.get(unit, [0.0, 0.0])
        pad = max(0.5, 0.08 * (hi - lo))
        for col_i in range(len(names)):
            axes[row_i][col_i].set_xlim(lo - pad, hi + pad)
    fig.suptitle("Relative change (after - before) / before with its CI\nfilled: significant; "
                 "red bar: target on the change; grey bar: a bound on the mean", fontsize=9)
    return fig


# --- flow between stages -------------------------------------------------------------------


def flow_figure(flows: Sequence[tuple[ScenarioRun, pd.DataFrame]]) -> Figure:
    """A flow view per scenario: moves between stages with widths by count, loops and losses.

    Stages sit on a row in the scenario's order between ``new lead`` and ``won``; moves to
    the next stage are straight, skips forward and loops back are arcs above the row, and
    the exits (lost, went cold, no decision, still open at the horizon) drop below the
    stage they leave from.
    """
    if not flows:
        raise ValueError("no flows to draw")
    width = max(8.0, 1.3 * (max(len(run.scenario.stages) for run, _ in flows) + 2))
    fig = _figure(width, 2.6 * len(flows) + 0.4, constrained=False)
    _margins(fig, left=0.1, right=0.1, top=0.45, bottom=0.05, hspace=0.12)
    axes = fig.subplots(len(flows), 1, squeeze=False)
    for i, (run, frame) in enumerate(flows):
        _draw_flow(axes[i][0], run, frame, colour(i))
    fig.suptitle("Flow of leads between stages (mean per replication; loops and exits included)")
    return fig


#: Exits drawn below a stage: node -> (x offset, colour).
_EXITS = {"lost": (-0.3, "#b22222"), WENT_COLD_NODE: (0.0, "#1f4e9c"),
          NO_DECISION_NODE: (0.3, "#8c564b"), OPEN: (0.3, "grey")}


def _draw_flow(ax, run: ScenarioRun, frame: pd.DataFrame, col: str) -> None:
    stages = list(run.scenario.stages)
    k = len(stages)
    pos = {NEW: (0.0, 0.0), "won": (k + 1.0, 0.0)}
    pos.update({sid: (j + 1.0, 0.0) for j, sid in enumerate(stages)})
    # Limits first: label positions on arcs are computed on the screen.
    ax.set_xlim(-0.6, k + 1.6)
    ax.set_ylim(-1.6, 1.3)
    top = float(frame["count"].max()) if len(frame) else 1.0
    exits: dict[str, list[tuple[str, float]]] = {}
    for src, dst, count in frame[["source", "target", "count"]].itertuples(index=False):
        if src not in pos:
            continue
        lw = 0.6 + 8.0 * count / top
        if dst in _EXITS:
            exits.setdefault(src, []).append((dst, count))
            dx, c = _EXITS[dst]
            if dst == OPEN and any(d == NO_DECISION_NODE for d, _ in exits[src]):
                dx = -dx  # both on the right would overlap
            (x0, y0), (x1, y1), rad = pos[src], (pos[src][0] + dx, -1.05), 0.0
        elif dst in pos:
            (x0, y0), (x1, y1) = pos[src], pos[dst]
            c = col
            if x1 == x0 + 1:
                rad = 0.0
            elif x1 > x0:
                rad = -0.2  # a skip forward: a low arc above
            else:
                rad, c = 0.45, "#6a3d9a"  # a loop back (rework): a high arc above, its own colour
        else:
            continue
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(
            arrowstyle="-|>", lw=lw, color=c, alpha=0.6, shrinkA=12, shrinkB=4 if y1 < 0 else 12,
            mutation_scale=min(8 + 1.5 * lw, 16), connectionstyle=f"arc3,rad={rad}"))
        if dst in _EXITS:
            ax.text(x1, y1 - 0.08, f"{dst}\n{format_number(count)}", fontsize=6.3, ha="center",
                    va="top", color=c)
        elif count >= 0.5:  # fewer than one move in two replications is noise
            # The midpoint of an arc3 curve sits rad/2 of the chord length off its middle,
            # measured on the screen, so the offset is computed in display coordinates.
            (px0, py0), (px1, py1) = ax.transData.transform([(x0, y0), (x1, y1)])
            mid = ((px0 + px1) / 2 + rad / 2 * (py1 - py0), (py0 + py1) / 2 - rad / 2 * (px1 - px0))
            mx, my = ax.transData.inverted().transform(mid)
            ax.text(mx, my, format_number(count), fontsize=6.5, ha="center", va="center",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    for node, (x, y) in pos.items():
        style = "#e8f0fb" if node in stages else "#f4f4f4"
        ax.text(x, y, node.replace("_", " "), ha="center", va="center", fontsize=7.5,
                bbox=dict(boxstyle="round,pad=0.3", fc=style, ec="grey"), zorder=5)
    ax.axis("off")
    ax.set_title(run.label, fontsize=9, loc="left")


# --- WIP over time and the warm-up ---------------------------------------------------------


def wip_figure(runs: Sequence[ScenarioRun], level: float = 0.95) -> Figure:
    """Open leads over time: mean across replications with its confidence band."""
    runs = _runs(runs)
    fig = _figure(7, 4.0)
    ax = fig.subplots()
    for i, run in enumerate(runs):
        times, values = series_matrix(run.run_result, "wip")
        ests = [stats.t_interval(values[:, j], level) for j in range(values.shape[1])]
        mean = np.array([e.mean for e in ests])
        lo = np.array([e.ci_low for e in ests])
        hi = np.array([e.ci_high for e in ests])
        ax.plot(times, mean, color=colour(i), label=run.label, lw=1.6 if i == 0 else 1.1)
        ax.fill_between(times, lo, hi, color=colour(i), alpha=0.15, lw=0)
    warmup = float(runs[0].scenario.warmup)
    if warmup > 0:
        ax.axvline(warmup, color="black", ls="--", lw=0.8, label=f"warm-up ({warmup:.4g})")
    ax.set_xlabel(f"time ({runs[0].scenario.time_unit}s)")
    ax.set_ylabel(f"open leads, count (mean, {level:.0%} band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    ax.set_title("Work in process over time")
    return fig


def welch_figure(estimate: WarmupEstimate, used: float | None = None,
                 unit: str | None = None) -> Figure:
    """The Welch plot: the across-replication mean, its moving average and the MSER-5 cut."""
    fig = _figure(7, 3.8)
    ax = fig.subplots()
    ax.plot(estimate.times, estimate.mean, color="lightgrey", lw=1,
            label=f"mean over {estimate.values.shape[0]} replications")
    ax.plot(estimate.times[: len(estimate.welch)], estimate.welch, color=colour(0), lw=1.8,
            label=f"Welch moving average (window {estimate.window})")
    ax.axvline(estimate.warmup, color="red", ls="--", lw=1,
               label=f"MSER-5 warm-up: {estimate.warmup:.4g}")
    if used is not None and used != estimate.warmup:
        ax.axvline(used, color="black", ls=":", lw=1, label=f"warm-up used: {used:.4g}")
    ax.set_xlabel(f"time ({unit}s)" if unit else "time")
    ax.set_ylabel(f"{WARMUP_SERIES[estimate.series]} (count)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Welch plot and MSER-5 warm-up")
    return fig
