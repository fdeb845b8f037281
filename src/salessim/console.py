"""What the command line shows: number formats, KPI tables, progress bars."""

from __future__ import annotations

import math
import sys

import pandas as pd


def format_number(value: float | None) -> str:
    """A KPI value for a table: NaN as n/a, large numbers with separators, 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as aligned text; the first row is the header, the first column left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def kpi_table(summary: pd.DataFrame, level: float = 0.95) -> str:
    """A plain-text table of KPI means and confidence intervals (a ``stats.summarise`` frame)."""
    rows = [("KPI", "mean", f"{level:.0%} CI", "n")]
    for r in summary.itertuples(index=False):
        ci = "n/a" if math.isnan(r.ci_low) else f"[{format_number(r.ci_low)}, {format_number(r.ci_high)}]"
        rows.append((r.kpi, format_number(r.mean), ci, str(r.n)))
    return text_table(rows)


def progress_bar(total: int, label: str, unit: str = "rep"):
    """A progress bar on stderr, silent when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=unit, file=sys.stderr, disable=None, leave=False)
