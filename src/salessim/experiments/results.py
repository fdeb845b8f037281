"""Reading a sweep's results: a summary per design, and a KPI plotted against a factor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from salessim import stats
from salessim.console import format_number, text_table
from salessim.errors import UsageError
from salessim.experiments.runs import ERROR, OK
from salessim.experiments.store import load_results, read_manifest
from salessim.output import atomic_path

#: Columns of the result table that are not factors.
BASE_COLUMNS = ("experiment", "design", "scenario", "scenario_hash", "replication", "kpi",
                "value", "status", "error")


def factor_columns(frame: pd.DataFrame) -> list[str]:
    """The design factors of a result table, in table order."""
    return [c for c in frame.columns if c not in BASE_COLUMNS]


def summarise_results(frame: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t confidence interval per design and KPI.

    Args:
        frame: a result table (:func:`load_results`).
        level: confidence level.

    Returns:
        One row per design and KPI: design, scenario, the factors, kpi, mean, ci_low,
        ci_high, n, std, half_width, and failed (runs of the design that raised).
    """
    factors = factor_columns(frame)
    keys = ["design", "scenario", *factors]
    failed = frame[frame["status"] == ERROR].groupby("design")["replication"].nunique()
    ok = frame[frame["status"] == OK]
    parts = []
    for _, group in ok.groupby("design", sort=True):
        summary = stats.summarise(group[["replication", "kpi", "value"]], level)
        first = group.iloc[0]
        for key in keys:
            summary.insert(keys.index(key), key, first[key])
        parts.append(summary)
    columns = [*keys, *stats.SUMMARY_COLUMNS, "failed"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["failed"] = out["design"].map(failed).fillna(0).astype("int64")
    return out[columns]


def failures(frame: pd.DataFrame) -> pd.DataFrame:
    """The failed runs: design, replication, error."""
    bad = frame[frame["status"] == ERROR]
    return bad[["design", "replication", "error"]].reset_index(drop=True)


def results_report(root: str | Path, kpis: list[str] | None = None, level: float = 0.95) -> str:
    """A plain-text report of a results folder: one table per KPI, designs as rows."""
    manifest = read_manifest(root)
    frame = load_results(root)
    summary = summarise_results(frame, level)
    factors = factor_columns(frame)
    designs = manifest.get("designs", [])
    total = len(designs) * int(manifest.get("replications", 0))
    stored = frame[["design", "replication"]].drop_duplicates().shape[0]
    lines = [f"{manifest['experiment']}: {stored} of {total} runs stored, "
             f"{len(failures(frame))} failed (root seed {manifest['root_seed']})"]
    beyond = frame.attrs.get("beyond_replications", 0)
    if beyond:
        lines.append(f"{beyond} stored runs of replications {manifest['replications']} and up "
                     "(from a sweep with more replications) are left out")
    wanted = kpis or list(dict.fromkeys(summary["kpi"]))
    unknown = [k for k in wanted if k not in set(summary["kpi"])]
    if unknown:
        raise UsageError(f"no KPI {unknown[0]!r} in {root} "
                         f"(stored: {', '.join(dict.fromkeys(summary['kpi']))})")
    several = summary["scenario"].nunique() > 1
    for kpi in wanted:
        part = summary[summary["kpi"] == kpi]
        head = ("design", *(["scenario"] if several else []), *factors,
                "mean", f"{level:.0%} CI", "n", "failed")
        rows = [head]
        for r in part.to_dict("records"):
            ci = ("n/a" if math.isnan(r["ci_low"])
                  else f"[{format_number(r['ci_low'])}, {format_number(r['ci_high'])}]")
            rows.append((r["design"], *([r["scenario"]] if several else []),
                         *[_cell(r[f]) for f in factors],
                         format_number(r["mean"]), ci, str(r["n"]), str(r["failed"])))
        lines += ["", kpi, text_table(rows)]
    bad = failures(frame)
    if len(bad):
        lines += ["", "failed runs (first 10):"]
        lines += [f"  {r.design} replication {r.replication}: {r.error}"
                  for r in bad.head(10).itertuples(index=False)]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def plot_kpi_by_factor(
    summary: pd.DataFrame,
    kpi: str,
    x: str,
    by: str | None = None,
    path: str | Path | None = None,
    level: float = 0.95,
    time_unit: str | None = None,
):
    """A KPI's mean against a factor, with its confidence band; one line per level of ``by``.

    Args:
        summary: a per-design summary (:func:`summarise_results`).
        kpi: the KPI to plot.
        x: the factor on the horizontal axis.
        by: a factor whose levels get a line each (optional).
        path: write the figure there (PNG, or any format matplotlib knows from the suffix).
        level: the confidence level the summary was made at (for the legend).
        time_unit: the scenarios' time unit, for the axis label of a time KPI.

    The axis and title carry the KPI's label and unit from the KPI registry
    (:mod:`salessim.kpis`); a share is drawn in percent.

    Returns:
        The matplotlib Figure (made without pyplot, so no window ever opens).

    Raises:
        UsageError: unknown KPI or factor, or designs that the lines cannot tell apart.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    factors = [c for c in summary.columns if c not in (*BASE_COLUMNS, *stats.SUMMARY_COLUMNS,
                                                       "failed")]
    for name, what in ((x, "factor"), (by, "factor")):
        if name is not None and name not in factors:
            raise UsageError(f"no {what} {name!r} in the results (factors: {', '.join(factors)})")
    part = summary[summary["kpi"] == kpi]
    if part.empty:
        raise UsageError(f"no KPI {kpi!r} in the results")
    groups = [by] if by else []
    if summary["scenario"].nunique() > 1 and not by:
        groups = ["scenario"]
    others = [f for f in factors if f not in (x, *groups) and part[f].nunique() > 1]
    if others and part.groupby([x, *groups]).size().max() > 1:
        raise UsageError(f"designs also differ in {', '.join(others)}: name one with --by")

    from salessim import kpis as registry

    if registry.unit(kpi) == "share":
        part = part.assign(**{c: part[c] * 100 for c in ("mean", "ci_low", "ci_high")})
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    numeric = pd.api.types.is_numeric_dtype(part[x])
    ticks = sorted(part[x].unique()) if not numeric else None
    line_groups = part.groupby(groups, sort=True) if groups else [((None,), part)]
    for key, group in line_groups:
        group = group.sort_values(x)
        xs = group[x].to_numpy() if ticks is None else np.array([ticks.index(v) for v in group[x]])
        label = None if key[0] is None else f"{groups[0]} = {key[0]}"
        (line,) = ax.plot(xs, group["mean"], marker="o", label=label)
        ax.fill_between(xs, group["ci_low"], group["ci_high"], alpha=0.2,
                        color=line.get_color(), linewidth=0)
    if ticks is not None:
        ax.set_xticks(range(len(ticks)), [str(t) for t in ticks])
    elif pd.api.types.is_integer_dtype(part[x]) and part[x].nunique() <= 20:
        ax.set_xticks(sorted(part[x].unique()))
    ax.set_xlabel(x)
    ax.set_ylabel(registry.heading(kpi, time_unit))
    ax.set_title(f"{registry.label(kpi)} by {x}\n(mean and {level:.0%} confidence band)",
                 fontsize="medium")
    if groups:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    return fig
