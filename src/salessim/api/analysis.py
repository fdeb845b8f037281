"""Flow analysis without simulating: :func:`analyse` and its :class:`AnalysisReport`.

    report = salessim.analyse("scenarios/tutorial.yaml")
    print(report.summary())
    report.value("role", "ae", "utilisation")
    report.plot("utilisation")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from salessim.scenario import Scenario

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from salessim.analyse import Analysis

#: The analysis table's sections, in the order the text shows them.
SECTIONS = {"stage": "Per stage", "end": "Ends", "process": "The process", "role": "Per role"}


def analysis_text(table: pd.DataFrame) -> str:
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


def versus_text(result) -> str:
    """The analytic figures beside a run's simulated ones, as text (``run --analytic``)."""
    from salessim.analyse import versus
    from salessim.console import format_number, text_table

    rows = [("KPI", "analytic", "method", "theory", "simulated", "95% CI", "inside")]
    for r in versus(result).itertuples(index=False):
        rows.append((r.kpi, format_number(r.analytic), r.method,
                     "exact" if r.exact else "approx.", format_number(r.mean),
                     f"[{format_number(r.ci_low)}, {format_number(r.ci_high)}]",
                     "yes" if r.inside else "no"))
    return "Formulas against the simulation (salessim analyse):\n" + text_table(rows)


@dataclass(repr=False)
class AnalysisReport:
    """The flow analysis of a scenario (:class:`salessim.analyse.Analysis`)."""

    scenario: Scenario
    analysis: Analysis

    def __repr__(self) -> str:
        return f"<AnalysisReport {self.scenario.name!r}>"

    def to_frame(self) -> pd.DataFrame:
        """One row per figure: section, item, measure, value, unit, method, exact, kpi."""
        return self.analysis.table()

    def value(self, section: str, item: str, measure: str) -> float:
        """One figure, e.g. ``value("role", "ae", "utilisation")``."""
        return self.analysis.value(section, item, measure)

    def summary(self) -> str:
        """The figures as text, one block per section."""
        return (f"{self.scenario.name}: flow analysis (no simulation; 'approx.' marks figures "
                f"the simulation need not match exactly)\n\n{analysis_text(self.to_frame())}")

    def plot(self, measure: str = "utilisation") -> Figure:
        """A bar chart of one measure over its items (roles for ``utilisation``, stages for
        ``visits per lead``...); a matplotlib Figure, never shown."""
        from matplotlib.figure import Figure

        table = self.to_frame()
        rows = table[table.measure == measure]
        if rows.empty:
            known = ", ".join(dict.fromkeys(table.measure))
            raise ValueError(f"measure must be one of the table's: {known}; got {measure!r}")
        fig = Figure(figsize=(6, 0.5 + 0.4 * len(rows)), layout="constrained")
        ax = fig.add_subplot()
        ax.barh(list(rows["item"]), list(rows["value"]), color="#4878a8")
        ax.invert_yaxis()
        unit = rows["unit"].iloc[0]
        ax.set_xlabel(f"{measure}" + (f" ({unit})" if unit else ""))
        ax.set_title(f"{self.scenario.name}: {measure} (flow analysis)")
        return fig


def analyse(scenario: Scenario | str | Path, hours_per_day: float | None = None,
            sets=()) -> AnalysisReport:
    """Flow analysis and queueing formulas of a scenario (or file), without simulating.

    Args:
        scenario: a Scenario or a scenario file.
        hours_per_day: working hours per calendar day for cycle-time efficiency; default
            the calendar's weekly hours / 7 (24 without a calendar).
        sets: ``key.path=value`` overrides of a file.
    """
    from salessim.analyse import analyse as flow_analysis
    from salessim.api.scenarios import as_scenario

    scenario, _ = as_scenario(scenario, sets)
    return AnalysisReport(scenario, flow_analysis(scenario, hours_per_day))
