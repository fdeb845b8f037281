"""The HTML report of a comparison or of one scenario, and its figures as PNG files.

A report opens with its summary (each redesign in plain words with its headline numbers,
the target verdicts and a ranking), then the warnings that bear on the verdicts with what
to do, then tables with labels and units and the figures; what produced it (files and
their hashes, seed, streams, versions) is the appendix at the end. It only presents
results: the simulations are run by the caller (:mod:`salessim.compare`,
:mod:`salessim.diagnose`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from salessim import __version__
from salessim import kpis as registry
from salessim.compare import Comparison, ScenarioRun, headline_kpis
from salessim.console import format_number
from salessim.diagnose import (
    WARMUP_SERIES,
    PrecisionReport,
    WarmupEstimate,
    bottlenecks,
    estimate_warmup,
    funnel,
)
from salessim.kpisets import default_kpis
from salessim.output import atomic_path, write_text
from salessim.reports import figures, summary, tables
from salessim.reports.html import HtmlDocument
from salessim.reports.rendering import Rendering
from salessim.rng import STREAM_SCHEME

REPORT_FILE = "report.html"

#: Figure file stem -> caption. Every report has these; a comparison adds ``forest``.
FIGURE_CAPTIONS = {
    "forest": "Relative change of each KPI per redesign with its confidence interval and "
              "targets; one shared scale per group of KPIs with the same unit",
    "funnel": "Funnel per scenario: visits per stage and conversion",
    "cycle_time": "Cycle time of won deals per scenario: empirical CDF of all replications "
                  "pooled; the pooled median is marked (the tables' median is the mean of the "
                  "replications' medians)",
    "utilisation": "Utilisation per role per scenario with confidence intervals",
    "flow": "Flow of leads between stages, loops and losses included",
    "wip": "Work in process over time: mean across replications with a confidence band",
    "welch": "Welch plot of the warm-up with the MSER-5 truncation point",
}


@dataclass
class Report:
    """A rendered report: the HTML text and the PNG bytes of each figure."""

    html: str
    pngs: dict[str, bytes] = field(default_factory=dict)

    def write(self, out: str | Path) -> Path:
        """Write ``report.html`` and ``<figure>.png`` into ``out``; returns the HTML's path."""
        out = Path(out)
        for name, png in self.pngs.items():
            with atomic_path(out / f"{name}.png") as tmp:
                tmp.write_bytes(png)
        path = out / REPORT_FILE
        write_text(path, self.html)
        return path


def _scenario_table(runs: Sequence[ScenarioRun]) -> pd.DataFrame:
    return pd.DataFrame([{
        "label": r.label, "name": r.scenario.name, "file": r.path or "(built in code)",
        "sha256 of resolved scenario": r.hash, "warm-up": format_number(float(r.scenario.warmup)),
        "horizon": format_number(float(r.scenario.horizon)),
    } for r in runs])


def _provenance(doc: HtmlDocument, runs: Sequence[ScenarioRun], seed: int, n: int,
                level: float, sets: Sequence[str], extra: Sequence[str]) -> None:
    doc.heading("Appendix: what was run", anchor="provenance")
    lines = [
        f"salessim version {__version__}",
        f"root seed {seed}; {n} replications per scenario, numbered 0 to {n - 1}",
        f"random streams: {STREAM_SCHEME}",
        f"confidence level {level:.0%}; generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
    if sets:
        lines.append("overrides applied to every scenario: " + ", ".join(sets))
    doc.items([*lines, *extra])
    doc.table(_scenario_table(runs), "scenarios", "Scenario files and their hashes")


def _caveats(doc: HtmlDocument, caveats: Sequence[summary.Caveat]) -> None:
    doc.heading("Warnings that bear on the verdicts", anchor="warnings")
    if not caveats:
        doc.paragraph("None: the warm-up is at least what MSER-5 suggests, open leads are not "
                      "rising at the horizon, no role is above "
                      f"{summary.BUSY_ROLE:.0%} utilisation and every target is settled.")
        return
    doc.warnings([(f"{c.scenario}: {c.what}.", c.todo) for c in caveats])


def _parameters(doc: HtmlDocument, table: pd.DataFrame | None, note: str, kpis: Sequence[str],
                unit: str, level: float, difference: bool = False) -> None:
    """Each KPI (or redesign's difference) with the simulation's interval and the one with
    the calibrated parameters' uncertainty, and what each covers."""
    if table is None:
        return
    doc.heading("Parameter uncertainty", anchor="parameter-uncertainty")
    doc.paragraph(f"{note}. The other tables' intervals cover the simulation only.", css="note")
    what = "difference from the baseline" if difference else "mean"
    doc.table(tables.parameter_display(table, kpis, unit, level, difference), "parameters",
              f"Each KPI's {what} with two {level:.0%} intervals: the simulation's alone and "
              "with the parameters' uncertainty (parameters.csv has every KPI)")


def _figure(doc: HtmlDocument, pngs: dict[str, bytes], name: str, rendering: Rendering) -> None:
    png = rendering.png(name)
    pngs[name] = png
    doc.figure(f"fig-{name}", png, FIGURE_CAPTIONS[name])


def _diagnosis(doc: HtmlDocument, run: ScenarioRun, level: float) -> None:
    fun = funnel(run.run_result, level)
    doc.heading(f"{run.label}: {run.scenario.name}", level=3)
    doc.table(tables.funnel_display(fun), f"funnel-{run.label}",
              f"Funnel of {run.label} (means per replication over the cohort)",
              row_class="status" if fun["target"].notna().any() else None)
    b = bottlenecks(run.run_result, level)
    doc.table(tables.bottleneck_stage_display(b), f"bottleneck-stages-{run.label}",
              f"Where the time goes in {run.label}")
    doc.table(tables.bottleneck_role_display(b), f"bottleneck-roles-{run.label}",
              f"Staff utilisation in {run.label}")
    doc.paragraph(b.summary(), css="note")


def _drawn(runs: Sequence[ScenarioRun], flows: Sequence[tuple[ScenarioRun, pd.DataFrame]],
           warmup: WarmupEstimate, level: float):
    """The figures every report shows, drawn (rendering them is :class:`Rendering`'s)."""
    drawn = {"funnel": figures.funnel_figure(runs), "cycle_time": figures.cycle_time_figure(runs),
             "utilisation": figures.utilisation_figure(runs, level)}
    if flows:
        drawn["flow"] = figures.flow_figure(flows)
    drawn["wip"] = figures.wip_figure(runs, level)
    drawn["welch"] = figures.welch_figure(warmup, float(runs[0].scenario.warmup),
                                          runs[0].scenario.time_unit)
    return drawn


def _common_figures(doc: HtmlDocument, pngs: dict[str, bytes], runs: Sequence[ScenarioRun],
                    flows: Sequence[tuple[ScenarioRun, pd.DataFrame]], warmup: WarmupEstimate,
                    rendering: Rendering) -> None:
    _figure(doc, pngs, "funnel", rendering)
    _figure(doc, pngs, "cycle_time", rendering)
    _figure(doc, pngs, "utilisation", rendering)
    if flows:
        n_logs = flows[0][1].attrs.get("replications", "the first")
        doc.paragraph(f"Flows are counted on the event logs of {n_logs} replication(s) per "
                      "scenario, leads created after the warm-up.", css="note")
        _figure(doc, pngs, "flow", rendering)
    _figure(doc, pngs, "wip", rendering)
    doc.paragraph(
        f"Warm-up: MSER-5 on the mean over replications of {WARMUP_SERIES[warmup.series]} "
        f"({runs[0].label}) suggests {warmup.warmup:.4g} {runs[0].scenario.time_unit}s; the "
        f"runs used {float(runs[0].scenario.warmup):.4g}.", css="note")
    _figure(doc, pngs, "welch", rendering)


def comparison_report(
    comparison: Comparison,
    flows: Sequence[tuple[ScenarioRun, pd.DataFrame]] = (),
    warmup: WarmupEstimate | None = None,
    kpis: Sequence[str] | None = None,
    sets: Sequence[str] = (),
    notes: Sequence[str] = (),
    caveats: Sequence[summary.Caveat] | None = None,
    parameters: pd.DataFrame | None = None,
    parameter_note: str = "",
    workers: int | None = 1,
    hires: Sequence[str] = (),
) -> Report:
    """The report of a comparison.

    Args:
        comparison: the comparison (its runs carry their results).
        flows: per scenario, the transitions frame of :func:`salessim.diagnose.transitions`.
        warmup: the warm-up estimate to plot; default: MSER-5 on the baseline's open leads.
        kpis: KPIs for the comparison table and forest plot; default: the headline set.
        sets: overrides applied to every scenario, to state them.
        notes: more provenance lines (how the warm-up or replications were chosen).
        caveats: the warnings to show; default: :func:`salessim.reports.summary.comparison_caveats`.
        parameters: for a calibrated baseline, each redesign's paired differences with the
            parameters' uncertainty (``parameters.csv`` of
            :meth:`salessim.api.ComparisonReport.parameter_table`), shown beside the
            simulation's intervals; ``parameter_note`` says what the two intervals cover.
        workers: processes rendering the figures while the tables are written (1: here;
            None: one per core); the report does not depend on it.
        hires: the value of each staffing redesign, incremental and pulled forward
            (:meth:`salessim.api.ComparisonReport.hire_lines`), leading the summary.
    """
    runs = comparison.runs
    kpis = list(kpis) if kpis else headline_kpis(comparison)
    warmup = warmup or estimate_warmup(comparison.baseline.run_result)
    if caveats is None:
        caveats = summary.comparison_caveats(comparison, warmup)
    rendering = Rendering({"forest": figures.forest_figure(comparison, kpis),
                           **_drawn(runs, flows, warmup, comparison.level)}, workers)
    doc = HtmlDocument(f"Comparison: {comparison.baseline.scenario.name} and "
                       f"{len(comparison.redesigns)} redesign(s)")
    pngs: dict[str, bytes] = {}
    doc.summary_start()
    for line in hires:  # what one more person is worth leads, as on the terminal
        doc.paragraph(line.strip(), css="redesign" if not line.startswith(" ") else "note")
    doc.paragraph(
        f"Each redesign against the baseline {comparison.baseline.label}, "
        f"{comparison.replications} replications each on common random numbers; changes are "
        f"(after - before) / before with their {comparison.level:.0%} intervals.", css="note")
    for run in comparison.redesigns:
        doc.paragraph(summary.redesign_sentence(comparison, run), css="redesign")
    verdicts = tables.verdicts_frame(comparison)
    if not verdicts.empty:
        doc.table(summary.ranking_display(summary.ranking(comparison)), "ranking",
                  "Redesigns ranked on their targets' verdicts: most met, then fewest "
                  "missed, then fewest unsure")
    doc.summary_end()
    _caveats(doc, caveats)
    doc.heading("Targets", anchor="targets")
    doc.paragraph("met: the whole confidence interval satisfies the target; missed: the whole "
                  "interval fails it; unsure: the interval straddles it, and more replications "
                  "would settle it." if not verdicts.empty else "No redesign states targets.")
    doc.table(verdicts, "verdicts", "Target verdicts", row_class="verdict")
    doc.heading("Comparison with the baseline", anchor="comparison-section")
    doc.table(tables.comparison_frame(comparison, kpis).drop(columns=["target"]), "comparison",
              f"Baseline {comparison.baseline.label} against each redesign, in each KPI's unit "
              f"(times in {comparison.baseline.scenario.time_unit}s, shares in %, differences "
              "of shares in percentage points); comparison.csv has every KPI",
              row_class="verdict")
    doc.paragraph(comparison.significance_note(), css="note")
    _parameters(doc, parameters, parameter_note, kpis, comparison.baseline.scenario.time_unit,
                comparison.level, difference=True)
    doc.heading("Figures", anchor="figures")
    _figure(doc, pngs, "forest", rendering)
    _common_figures(doc, pngs, runs, flows, warmup, rendering)
    doc.heading("Diagnosis of each scenario", anchor="diagnosis")
    for run in runs:
        _diagnosis(doc, run, comparison.level)
    _provenance(doc, runs, comparison.seed, comparison.replications, comparison.level, sets,
                ["every scenario ran on the same random streams (common random numbers)",
                 comparison.significance_note(), *notes])
    return Report(doc.render(), pngs)


def run_report(
    run: ScenarioRun,
    flows: pd.DataFrame | None = None,
    warmup: WarmupEstimate | None = None,
    precision: PrecisionReport | None = None,
    level: float = 0.95,
    sets: Sequence[str] = (),
    notes: Sequence[str] = (),
    caveats: Sequence[summary.Caveat] | None = None,
    parameters: pd.DataFrame | None = None,
    parameter_note: str = "",
    workers: int | None = 1,
) -> Report:
    """The report of one scenario: its headline KPIs, warnings, funnel, bottlenecks, figures,
    every KPI, and what was run; for a calibrated scenario, ``parameters`` (its
    ``parameters.csv``) adds each KPI's interval with the parameters' uncertainty beside the
    simulation's (``parameter_note`` says what the two cover); ``workers`` render the
    figures meanwhile (as for :func:`comparison_report`)."""
    result = run.run_result
    warmup = warmup or estimate_warmup(result)
    if caveats is None:
        caveats = summary.run_caveats(run, warmup, level)
    rendering = Rendering(_drawn([run], [] if flows is None else [(run, flows)], warmup, level),
                          workers)
    unit = run.scenario.time_unit
    doc = HtmlDocument(f"Diagnosis: {run.scenario.name}")
    pngs: dict[str, bytes] = {}
    table = result.summary(level)
    means = dict(zip(table["kpi"], table["mean"], strict=True))
    headline = default_kpis(means)
    doc.summary_start()
    doc.paragraph(f"{run.label}: {len(result.replications)} replications; "
                  + ", ".join(f"{registry.label(k).lower()} "
                              f"{registry.format_value(k, means[k], unit)}" for k in headline)
                  + ".", css="redesign")
    doc.paragraph(bottlenecks(result, level).summary(), css="note")
    doc.summary_end()
    _caveats(doc, caveats)
    _parameters(doc, parameters, parameter_note, headline, unit, level)
    if precision is not None:
        doc.paragraph(precision.summary(), css="note")
        doc.table(tables.precision_display(precision), "precision", "Precision of key KPIs")
    doc.heading("Diagnosis", anchor="diagnosis")
    _diagnosis(doc, run, level)
    doc.heading("Figures", anchor="figures")
    _common_figures(doc, pngs, [run], [] if flows is None else [(run, flows)], warmup,
                    rendering)
    doc.heading("KPIs", anchor="every-kpi")  # the table is #kpis
    ci = f"{level:.0%} CI" + ("" if parameters is None else f", {tables.SIMULATION_ONLY}")
    both = {} if parameters is None else parameters.set_index("kpi")[["low", "high"]].T.to_dict()

    def row(r) -> dict[str, str]:
        def fmt(v: float, k: str = r.kpi) -> str:
            return registry.format_value(k, v, unit)

        out = {"KPI": registry.label(r.kpi), "name": r.kpi,
               "unit": registry.unit_text(r.kpi, unit), "mean": fmt(r.mean),
               ci: tables.ci_text(r.ci_low, r.ci_high, fmt)}
        if parameters is not None:
            b = both.get(r.kpi, {"low": float("nan"), "high": float("nan")})
            out[f"{level:.0%} CI, {tables.WITH_PARAMETERS}"] = tables.ci_text(
                b["low"], b["high"], fmt)
        return {**out, "n": str(r.n)}

    doc.table(pd.DataFrame([row(r) for r in table.itertuples(index=False)]), "kpis",
              "KPIs with confidence intervals")
    _analytic(doc, run, level)
    _provenance(doc, [run], result.seed, len(result.replications), level, sets, notes)
    return Report(doc.render(), pngs)


def _analytic(doc: HtmlDocument, run: ScenarioRun, level: float) -> None:
    """The flow analysis and queueing formulas beside the simulated figures."""
    from salessim.analyse import versus

    unit = run.scenario.time_unit
    table = versus(run.result, level=level)
    if table.empty:
        return
    doc.heading("Formulas beside the simulation", anchor="analytic")
    doc.paragraph("Each figure as flow analysis or a queueing formula gives it from the scenario "
                  "alone, and as the simulation measured it. Where the theory is exact, the "
                  "interval should contain it; where it is an approximation, the gap is what "
                  "the formula leaves out.", css="note")
    doc.table(pd.DataFrame([{
        "KPI": registry.label(r.kpi), "formula": r.method,
        "exact": "yes" if r.exact else "approximation",
        "analytic": registry.format_value(r.kpi, r.analytic, unit),
        "simulated": registry.format_value(r.kpi, r.mean, unit),
        f"{level:.0%} CI": tables.ci_text(
            r.ci_low, r.ci_high, lambda v, k=r.kpi: registry.format_value(k, v, unit)),
        "inside": "yes" if r.inside else "no",
    } for r in table.itertuples(index=False)]), "analytic", "Formulas beside the simulation")
