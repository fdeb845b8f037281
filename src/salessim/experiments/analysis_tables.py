"""The analyses of a sweep as tables: plain text, Markdown or LaTeX, with KPI labels and units.

Labels and units come from the KPI registry (:mod:`salessim.kpis`): a share is shown in
percent and its differences in percentage points; a time in the scenario's time unit.
LaTeX tables are ``tabular`` environments inside a ``table`` float with a caption, with
LaTeX's special characters escaped (and ``<``, ``>``, which text mode does not print as
such); Markdown tables are GitHub pipe tables under a bold caption.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from salessim import kpis as registry
from salessim.console import text_table
from salessim.errors import UsageError
from salessim.experiments.analysis_fit import Metamodel

FORMATS = ("text", "markdown", "latex")

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
          "<": r"\textless{}", ">": r"\textgreater{}"}


def _latex(text: str) -> str:
    return "".join(_LATEX.get(c, c) for c in text)


def render(caption: str, header: list[str], rows: list[list[str]], fmt: str = "text") -> str:
    """A table with a caption, as plain text, a Markdown pipe table or a LaTeX table.

    Raises:
        UsageError: an unknown format.
    """
    if fmt == "text":
        return f"{caption}\n{text_table([tuple(header), *[tuple(r) for r in rows]])}"
    if fmt == "markdown":
        cells = [[c.replace("|", r"\|") for c in row] for row in [header, *rows]]
        lines = [f"**{caption}**", "", "| " + " | ".join(cells[0]) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
        return "\n".join(lines)
    if fmt == "latex":
        spec = "l" + "r" * (len(header) - 1)
        lines = [r"\begin{table}[htbp]", r"\centering", f"\\caption{{{_latex(caption)}}}",
                 f"\\begin{{tabular}}{{{spec}}}", r"\hline",
                 " & ".join(_latex(h) for h in header) + r" \\", r"\hline"]
        lines += [" & ".join(_latex(c) for c in row) + r" \\" for row in rows]
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines)
    raise UsageError(f"--format is one of {', '.join(FORMATS)}, got {fmt!r}")


def _scale(kpi: str) -> float:
    return 100.0 if registry.unit(kpi) == "share" else 1.0


def _unit(kpi: str, time_unit: str | None, difference: bool = False) -> str:
    """The unit of a KPI's values (or differences) in a heading: ``%``, ``pts``, ``days``."""
    u = registry.unit(kpi)
    if u == "share":
        return "pts" if difference else "%"
    if u in ("count", "ratio"):
        return ""
    return registry.unit_text(kpi, time_unit)


def _num(value: float, scale: float = 1.0) -> str:
    return registry.format_plain(value * scale if not math.isnan(value) else value)


def _ci(lo: float, hi: float, scale: float) -> str:
    return "n/a" if math.isnan(lo) else f"[{_num(lo, scale)}, {_num(hi, scale)}]"


def _p(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _with(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def contrasts_table(frame: pd.DataFrame, time_unit: str | None = None, level: float = 0.95,
                    fmt: str = "text") -> str:
    """The table of :func:`salessim.experiments.analysis.contrasts` for one KPI."""
    kpi = str(frame["kpi"].iloc[0])
    scale, unit = _scale(kpi), _unit(kpi, time_unit)
    diff = _unit(kpi, time_unit, difference=True)
    reference = str(frame["reference"].iloc[0])
    pairs = frame["reference"].nunique() > 1
    header = ["design", *(["reference"] if pairs else []),
              _with("mean of reference" if pairs else f"mean of {reference}", unit),
              _with("mean", unit), _with("difference", diff), f"{level:.0%} CI", "n", "p",
              "p (Holm)"]
    rows = [[str(r["design"]), *([str(r["reference"])] if pairs else []),
             _num(r["reference_mean"], scale), _num(r["design_mean"], scale),
             _num(r["difference"], scale), _ci(r["ci_low"], r["ci_high"], scale), str(r["n"]),
             _p(r["p_value"]), _p(r["p_holm"])] for r in frame.to_dict("records")]
    what = "every pair of designs" if pairs else f"each design against {reference}"
    caption = (f"{registry.label(kpi)}: {what} (design minus reference), paired on "
               f"replication (common random numbers); p-values Holm-adjusted over "
               f"{len(frame)} contrasts")
    return render(caption, header, rows, fmt)


def effects_table(frame: pd.DataFrame, time_unit: str | None = None, level: float = 0.95,
                  fmt: str = "text") -> str:
    """The table of :func:`salessim.experiments.analysis.effects` for one KPI."""
    kpi = str(frame["kpi"].iloc[0])
    scale, diff = _scale(kpi), _unit(kpi, time_unit, difference=True)
    header = ["effect", _with("estimate", diff), f"{level:.0%} CI", "n"]
    rows = [[str(r["effect"]), _num(r["estimate"], scale), _ci(r["ci_low"], r["ci_high"], scale),
             str(r["n"])] for r in frame.to_dict("records")]
    caption = (f"{registry.label(kpi)}: main effects and two-way interactions (mean at the "
               "high level minus mean at the low level), intervals across replications")
    return render(caption, header, rows, fmt)


def metamodel_table(model: Metamodel, time_unit: str | None = None, fmt: str = "text") -> str:
    """The coefficients of a metamodel, with its fit statistics in the caption."""
    scale, unit = _scale(model.kpi), _unit(model.kpi, time_unit)
    header = ["term", _with("coefficient", unit), "std. error", f"{model.level:.0%} CI"]
    rows = [[str(r["term"]), _num(r["estimate"], scale), _num(r["std_error"], scale),
             _ci(r["ci_low"], r["ci_high"], scale)] for r in model.coefficients.to_dict("records")]
    caption = (f"{registry.label(model.kpi)}: {model.kind} response surface fitted to "
               f"{model.n} design means; R2 = {model.r2:.4f}, adjusted R2 = {model.adj_r2:.4f}, "
               f"residual standard error {_num(model.rse, scale)} on {model.df} df")
    return render(caption, header, rows, fmt)


def summary_table(summary: pd.DataFrame, kpi: str, factors: list[str],
                  time_unit: str | None = None, level: float = 0.95, fmt: str = "text") -> str:
    """One KPI's mean and interval per design (:func:`summarise_results`), with units."""
    part = summary[summary["kpi"] == kpi]
    scale, unit = _scale(kpi), _unit(kpi, time_unit)
    header = ["design", *factors, _with("mean", unit), f"{level:.0%} CI", "n"]
    rows = [[str(r["design"]), *[_cell(r[f]) for f in factors], _num(r["mean"], scale),
             _ci(r["ci_low"], r["ci_high"], scale), str(r["n"])]
            for r in part.to_dict("records")]
    return render(registry.heading(kpi, time_unit), header, rows, fmt)


def _cell(value: Any) -> str:
    return registry.format_plain(value) if isinstance(value, float) else str(value)


def time_unit_of(manifest: dict[str, Any]) -> str | None:
    """The time unit of a sweep's first base scenario (None if the manifest has none)."""
    bases = manifest.get("base_scenarios") or {}
    first = next(iter(bases.values()), None)
    return first.get("time_unit") if isinstance(first, dict) else None


def analysis_report(root: str, kpis: list[str], level: float = 0.95, fmt: str = "text", *,
                    summary: bool = False, contrast: bool = False,
                    reference: str | None = None, all_pairs: bool = False,
                    effect: bool = False,
                    metamodel: str | None = None) -> str:
    """The asked analyses of a results folder, one block per KPI, in one format.

    Args:
        root: the results folder.
        kpis: the KPIs analysed (at least one).
        level: confidence level.
        fmt: ``text``, ``markdown`` or ``latex``.
        summary: include each KPI's mean and interval per design.
        contrast: paired contrasts against ``reference`` (default: the first design), or
            between every pair of designs with ``all_pairs``.
        effect: main effects and two-way interactions (two-level factorials).
        metamodel: ``linear`` or ``quadratic`` to fit a response surface.
    """
    from salessim.experiments.analysis import contrasts, effects
    from salessim.experiments.analysis_fit import fit_metamodel
    from salessim.experiments.results import factor_columns, summarise_results
    from salessim.experiments.store import load_results, read_manifest

    if fmt not in FORMATS:
        raise UsageError(f"--format is one of {', '.join(FORMATS)}, got {fmt!r}")
    frame = load_results(root)
    unit = time_unit_of(read_manifest(root))
    blocks = []
    table = summarise_results(frame, level) if summary else None
    for kpi in kpis:
        if table is not None:
            blocks.append(summary_table(table, kpi, factor_columns(frame), unit, level, fmt))
        if contrast:
            blocks.append(contrasts_table(contrasts(frame, kpi, reference, level, all_pairs), unit, level,
                                          fmt))
        if effect:
            blocks.append(effects_table(effects(frame, kpi, level), unit, level, fmt))
        if metamodel:
            blocks.append(metamodel_table(fit_metamodel(frame, kpi, metamodel, level), unit,
                                          fmt))
    return "\n\n".join(blocks)
