"""The casebook: teaching cases with answers checked by the formulas and by simulation.

A case is a folder with a ``README.md`` (the story, questions for students), its before
and after scenarios and a ``case.yaml``::

    title: IBM Credit
    source: Hammer & Champy, Reengineering the Corporation (1993)
    before: before.yaml
    after: [after.yaml]
    replications: 5
    verdicts:                      # what the comparison must show
      after.yaml: {cycle_time_won_mean: [down, met], won: up}
    theory: ["*"]                  # KPIs whose exact analytic value a run must contain

A verdict is ``up`` / ``down`` (the paired difference's interval is above / below zero),
``same`` (it contains zero) or ``met`` / ``missed`` (the after file's target on the KPI).
``theory`` lists KPI patterns checked against :func:`salessim.analyse.versus`; KPIs that
leads still open at the horizon bias (``close_rate``, ``visits_per_lead.*``,
``throughput``) are left out unless named. :func:`answer_key` writes the answers.
"""

from __future__ import annotations

import fnmatch
import math
from pathlib import Path

import pandas as pd
from pydantic import Field, ValidationError

from salessim import compare
from salessim.analyse import analyse, versus
from salessim.ends import WON
from salessim.errors import Problem, ScenarioError
from salessim.scenario.base import Frozen
from salessim.scenario.yamlread import parse_yaml, read_text

VERDICTS = ("up", "down", "same", "met", "missed")
#: KPIs a finite horizon biases (leads still open are not counted as ended).
HORIZON_BIASED = ("close_rate", "visits_per_lead.*", "throughput")


class Case(Frozen):
    """A case's ``case.yaml``."""

    title: str
    source: str
    before: str
    after: list[str] = Field(min_length=1)
    replications: int = Field(default=5, ge=2)
    verdicts: dict[str, dict[str, str | list[str]]] = Field(default_factory=dict)

    def expected(self) -> list[tuple[str, str, str]]:
        """(after scenario, KPI, verdict) for every verdict the case states."""
        return [(name, kpi, v) for name, kpis in self.verdicts.items()
                for kpi, vs in kpis.items() for v in ([vs] if isinstance(vs, str) else vs)]
    theory: list[str] = Field(default_factory=list)
    level: float = Field(default=0.999, gt=0.5, lt=1)


#: The file that describes a case, in its folder beside the scenarios.
CASE_FILE = "case.yaml"


def load_case(folder: str | Path) -> Case:
    """Read and check a case folder's ``case.yaml`` (read within the scenario files' limits)."""
    path = Path(folder) / CASE_FILE
    data, lines = parse_yaml(read_text(path), str(path))
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(str(p) for p in err["loc"])  # the YAML lines are keyed by strings
        field = ".".join(loc)
        raise ScenarioError([Problem(field, err["msg"], err.get("input"), str(path),
                                     _line(lines, loc))]) from None
    for key, name in [(("before",), case.before),
                      *((("after", str(i)), a) for i, a in enumerate(case.after))]:
        if not (Path(folder) / name).is_file():
            raise ScenarioError([Problem("before/after", "no such scenario in the case folder",
                                         name, str(path), _line(lines, key))])
    for name, kpi, verdict in case.expected():
        if name not in case.after:
            raise ScenarioError([Problem(f"verdicts.{name}", "must name an after scenario",
                                         name, str(path), _line(lines, ("verdicts", name)))])
        if verdict not in VERDICTS:
            raise ScenarioError([Problem(f"verdicts.{name}.{kpi}",
                                         f"a verdict is one of {', '.join(VERDICTS)}",
                                         verdict, str(path),
                                         _line(lines, ("verdicts", name, kpi)))])
    return case


def _line(lines: dict[tuple[str, ...], int], key: tuple[str, ...]) -> int | None:
    """The line of ``key`` in case.yaml, or of its nearest enclosing key."""
    for end in range(len(key), 0, -1):
        if key[:end] in lines:
            return lines[key[:end]]
    return None


def validate_case(folder: str | Path) -> tuple[Case, list]:
    """The case and its before and after scenarios, each loaded and checked."""
    from salessim.scenario import load_scenario

    case = load_case(folder)
    return case, [load_scenario(Path(folder) / name) for name in [case.before, *case.after]]


def run_case(folder: str | Path, replications: int | None = None) -> tuple[Case, compare.Comparison]:
    """Run a case's before and after scenarios on common random numbers."""
    folder = Path(folder)
    case = load_case(folder)
    base, redesigns = compare.load_runs(folder / case.before, [folder / a for a in case.after])
    comparison = compare.compare(base, redesigns, replications or case.replications)
    return case, comparison


def checked_kpis(case: Case, table: pd.DataFrame) -> pd.DataFrame:
    """The exact analytic rows of a :func:`versus` table that the case checks."""
    patterns = case.theory or ["*"]

    def wanted(kpi: str) -> bool:
        named = [p for p in patterns if p != "*" and fnmatch.fnmatch(kpi, p)]
        if named:
            return True
        if "*" not in patterns or any(fnmatch.fnmatch(kpi, p) for p in HORIZON_BIASED):
            return False
        return True

    return table[table.exact & table.kpi.map(wanted)] if case.theory != ["none"] else table[:0]


def verdict_of(comparison: compare.Comparison, label: str, kpi: str, kind: str) -> str:
    """What the comparison says about one KPI, in the vocabulary of :data:`VERDICTS`."""
    row = comparison.table[(comparison.table.scenario == label) & (comparison.table.kpi == kpi)]
    if row.empty:
        raise KeyError(f"{label}: no KPI {kpi!r} in the comparison")
    r = row.iloc[0]
    if kind in ("met", "missed"):
        return r.verdict
    if r.diff_ci_low > 0:
        return "up"
    if r.diff_ci_high < 0:
        return "down"
    return "same"


def _markdown(frame: pd.DataFrame) -> str:
    def cell(x) -> str:
        if isinstance(x, float):
            return "n/a" if math.isnan(x) else f"{x:.4g}"
        return str(x)

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(x) for x in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def answer_key(folder: str | Path, replications: int | None = None) -> str:
    """The case's answers as Markdown: flow analysis, analytic against simulated, verdicts."""
    folder = Path(folder)
    case, comparison = run_case(folder, replications)
    out = [f"# Answer key: {case.title}", "",
           f"Source: {case.source}.", "",
           f"Written by `python cases/make_answers.py {folder.name}`: `salessim analyse` for "
           f"the formulas, {comparison.replications} replications of each scenario on common "
           f"random numbers (seed {comparison.seed}) for the simulation; intervals at "
           f"{case.level:.1%} for the formulas, 95% for the comparison.", ""]
    process = ["cycle time, no queues", "cycle time with queues", "processing time",
               "cycle-time efficiency", "cycle-time efficiency with queues", "hand-offs per won deal",
               "bottleneck (highest utilisation)", "max throughput (won)"]
    for run in comparison.runs:
        analysis = analyse(run.scenario)
        table = analysis.table()
        flow = table[((table.section == "process") & table.measure.isin(process))
                     | ((table.section == "role") & (table.measure == "utilisation"))
                     | ((table.section == "end") & (table.item == WON.name))]
        out += [f"## {run.label}: {run.scenario.name}", "", "Flow analysis (no simulation):", "",
                _markdown(flow[["section", "item", "measure", "value", "unit", "method",
                                "exact"]]), ""]
        vs = versus(run.result, analysis, case.level)
        checked = set(checked_kpis(case, vs).kpi)
        vs = vs.assign(checked=vs.kpi.isin(checked))
        out += ["Formulas against the simulation (`checked`: the test suite requires the "
                "interval to contain the analytic value):", "",
                _markdown(vs[["kpi", "analytic", "method", "exact", "mean", "ci_low", "ci_high",
                              "inside", "checked"]]), ""]
    kpis = sorted({k for v in case.verdicts.values() for k in v}
                  | {"won", "cycle_time_won_mean"})
    rows = comparison.table[comparison.table.kpi.isin(kpis)]
    out += ["## Before and after", "",
            _markdown(rows[["scenario", "kpi", "baseline_mean", "mean", "diff", "diff_ci_low",
                            "diff_ci_high", "rel_change", "target", "verdict"]]), ""]
    for label, kpi, kind in case.expected():
        got = verdict_of(comparison, Path(label).stem, kpi, kind)
        out.append(f"- {Path(label).stem}, {kpi}: expected {kind}, found {got}")
    return "\n".join(out) + "\n"
