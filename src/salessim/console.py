"""What the command line shows: number formats, KPI tables, choosing KPIs, progress.

Labels and units come from :mod:`salessim.kpis`. Nothing heavy is imported here: the
command line loads this module while it builds its parser.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from salessim import kpis as registry
from salessim.kpisets import (  # noqa: F401 (the command line's names for them)
    busiest_role,
    default_kpis,
    select_kpis,
    split_patterns,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Seconds between two progress lines when the output is not a terminal (a batch job's log).
LOG_EVERY = 5.0


def format_number(value: float | None) -> str:
    """A number for a table: NaN as n/a, large numbers with separators, 4 significant digits,
    never an exponent (:func:`salessim.kpis.format_plain`)."""
    return registry.format_plain(value)


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as aligned text; the first row is the header, the first column left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- the KPI table of a run ----------------------------------------------------------------


def kpi_table(summary: pd.DataFrame, level: float = 0.95, time_unit: str | None = None,
              kpis: Sequence[str] | None = None) -> str:
    """A plain-text table of KPI means and confidence intervals (a ``stats.summarise`` frame).

    Args:
        summary: one row per KPI (kpi, mean, ci_low, ci_high, n).
        level: the confidence level, for the heading.
        time_unit: the scenario's time unit, written after times.
        kpis: the rows to show; default every KPI of ``summary``.

    With a single replication there is no interval: the CI column is left out and a note
    says so. When rows are left out, a last line says how many more summary.csv holds.
    """
    rows_by_kpi = {r.kpi: r for r in summary.itertuples(index=False)}
    shown = list(rows_by_kpi) if kpis is None else [k for k in kpis if k in rows_by_kpi]
    single = all(rows_by_kpi[k].n < 2 for k in shown) if shown else False
    head = ("KPI", "name", "mean") if single else ("KPI", "name", "mean", f"{level:.0%} CI")
    rows: list[tuple[str, ...]] = [head]
    for k in shown:
        r = rows_by_kpi[k]
        cells: tuple[str, ...] = (registry.label(k), k, registry.format_value(k, r.mean, time_unit))
        if not single:
            ci = ("n/a" if math.isnan(r.ci_low) else
                  f"[{registry.format_value(k, r.ci_low, time_unit)}, "
                  f"{registry.format_value(k, r.ci_high, time_unit)}]")
            cells = (*cells, ci)
        rows.append(cells)
    lines = [text_table(rows)]
    if single:
        lines.append("one replication: no confidence intervals (run 2 or more for them)")
    more = len(rows_by_kpi) - len(shown)
    if more:
        lines.append(f"{more} more in summary.csv (choose rows with --kpis, e.g. 'conversion.*')")
    return "\n".join(lines)


# --- progress ------------------------------------------------------------------------------


class LineProgress:
    """Progress for a log file: one line every :data:`LOG_EVERY` seconds, none for short work.

    It has the parts of a tqdm bar the commands use (``total``, ``update``, a context).
    """

    def __init__(self, total: int | None, label: str, unit: str = "rep",
                 every: float = LOG_EVERY, stream=None) -> None:
        self.total, self.label, self.unit, self.every = total, label, unit, every
        self.stream = stream if stream is not None else sys.stderr
        self.n, self.started = 0, time.monotonic()
        self.last, self.printed = self.started, False

    def update(self, k: int = 1) -> None:
        """Count ``k`` more finished units; print a line if the last one is old enough."""
        self.n += k
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float, done: str = "") -> None:
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        print(f"{self.label}: {self.n}{of} {self.unit}s{pct}, {now - self.started:.0f} s{done}",
              file=self.stream, flush=True)
        self.printed = True

    def close(self) -> None:
        """A last line, only if progress was shown at all."""
        if self.printed:
            self._line(time.monotonic(), ", done")
            self.printed = False

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int | None, label: str, unit: str = "rep"):
    """A progress bar on stderr when it is a terminal; otherwise a line every few seconds."""
    stream = sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return LineProgress(total, label, unit, stream=stream)
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=unit, file=stream, leave=False)
