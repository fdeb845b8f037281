"""Compare designs in memory: :func:`compare` and its :class:`ComparisonReport`.

The baseline and the redesigns may be Scenario objects (derived with ``evolve``) or files;
they run on common random numbers and every KPI is compared on paired replications::

    base = salessim.load("scenarios/tutorial.yaml")
    more = salessim.evolve(base, {"roles.ae.headcount": 3})
    report = salessim.compare(base, more, replications=5, targets={"won": "+5%"})
    print(report.summary())
    report.to_frame()   # one row per redesign and KPI
    report.plot()       # the forest plot of relative changes
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salessim import kpis as registry
from salessim.api.runs import Ticker, settle_warmup
from salessim.api.scenarios import as_scenario
from salessim.scenario import Scenario

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from salessim.api.uncertainty import ParameterRuns
    from salessim.compare import Comparison, ScenarioRun
    from salessim.diagnose import WarmupEstimate
    from salessim.forecast.hire import HireValue


def scenario_runs(baseline: Scenario | str | Path, redesigns: Sequence[Scenario | str | Path],
                  sets: Sequence[str] = (), targets: Sequence[str] | Mapping[str, str] = (),
                  labels: Sequence[str] | None = None) -> tuple[ScenarioRun, list[ScenarioRun]]:
    """The baseline and redesigns, from objects or files, with their targets.

    A redesign's targets are those its scenario states (``targets:``), with ``targets``
    (``{"win_rate": "+5%"}`` or ``["win_rate=+5%"]``) added to every redesign. Labels are
    the files' stems or the scenarios' names, made unique, unless given.

    Raises:
        ScenarioError: a scenario or a target cannot be used as written.
    """
    from salessim.compare import ScenarioRun, kpi_names, unique_names
    from salessim.targets import parse_target_options, scenario_targets

    options = ([f"{k}={v}" for k, v in targets.items()] if isinstance(targets, Mapping)
               else list(targets))
    loaded = [as_scenario(s, sets) for s in [baseline, *redesigns]]
    if labels is None:
        labels = unique_names([Path(path).stem if path else scenario.name
                               for scenario, path in loaded])
    elif len(labels) != len(loaded) or len(set(labels)) != len(labels):
        raise ValueError(f"labels: one distinct label per scenario ({len(loaded)}), got "
                         f"{list(labels)}")
    runs = []
    for i, (label, (scenario, path)) in enumerate(zip(labels, loaded, strict=True)):
        goals = {}
        if i:
            goals = scenario_targets(scenario, path)
            goals.update(parse_target_options(options, kpi_names(scenario)))
        runs.append(ScenarioRun(label, scenario, path, goals))
    return runs[0], runs[1:]


@dataclass(repr=False)
class ComparisonReport:
    """A comparison (:class:`salessim.compare.Comparison`) with how it was run.

    Attributes:
        comparison: the runs and the table of paired differences.
        warmup_estimate: the MSER-5 estimate on the baseline, with ``warmup="auto"``.
        notes: how the warm-up and the replications were chosen.
        flows: per scenario, the transitions of its first replications (for the report).
        seconds: wall time of the simulations.
        sets: the overrides every scenario ran with.
        parameters: the replications of every scenario on the bootstrap of the baseline's
            history (:mod:`salessim.api.uncertainty`), when it is a calibrated scenario.
        hires: per redesign that changes the staff, its change in wins split into
            incremental and pulled forward (:mod:`salessim.forecast.hire`).
        workers: the processes the runs had; the report renders its figures in as many.
    """

    comparison: Comparison
    warmup_estimate: WarmupEstimate | None = None
    notes: list[str] = field(default_factory=list)
    flows: list = field(default_factory=list)
    seconds: float = 0.0
    sets: list[str] = field(default_factory=list)
    parameters: ParameterRuns | None = None
    hires: list[HireValue] = field(default_factory=list)
    workers: int | None = 1

    def __repr__(self) -> str:
        c = self.comparison
        return (f"<ComparisonReport {c.baseline.label!r} against "
                f"{[r.label for r in c.redesigns]}: {c.replications} replications, seed "
                f"{c.seed}>")

    @property
    def baseline(self) -> ScenarioRun:
        return self.comparison.baseline

    @property
    def runs(self) -> list[ScenarioRun]:
        """Baseline first, then the redesigns (each with its ``result``)."""
        return self.comparison.runs

    def kpi_names(self) -> list[str]:
        """Every KPI of the scenarios compared."""
        from salessim.compare import kpi_names

        return list(dict.fromkeys(k for run in self.runs for k in kpi_names(run.scenario)))

    def headline(self, kpis: Sequence[str] = ()) -> list[str]:
        """The KPIs matching names or globs, or the headline set and every target's KPI."""
        from salessim.compare import headline_kpis

        return headline_kpis(self.comparison, list(kpis))

    def to_frame(self) -> pd.DataFrame:
        """One row per redesign and KPI (:data:`salessim.compare.COMPARISON_COLUMNS`)."""
        return self.comparison.table

    def verdicts(self) -> pd.DataFrame:
        """The rows that carry a target, with their verdicts."""
        return self.comparison.verdicts()

    def caveats(self) -> list:
        """Warnings a reader should see, as ``run`` gives them, for the baseline and each
        redesign: a warm-up shorter than MSER-5 suggests on its own replications (the
        baseline's pilot estimate with ``warmup="auto"``; none for a warm start from open
        deals), open leads rising, busy roles; then the targets left unsure."""
        from salessim import diagnose
        from salessim.reports.summary import comparison_caveats, warmup_caveat

        out = []
        for run in self.runs:
            estimate = (self.warmup_estimate if run is self.baseline else None) or (
                None if run.scenario.pipeline else diagnose.estimate_warmup(run.run_result))
            found = None if estimate is None else warmup_caveat(run, estimate)
            out += [found] if found is not None else []
        return self.no_effect() + out + comparison_caveats(self.comparison, None)

    def no_effect(self) -> list:
        """A warning for each redesign identical in effect to the baseline: its resolved
        scenario differs only in name, description or targets, or every KPI of every
        replication came out exactly the baseline's."""
        import numpy as np

        from salessim.reports.summary import Caveat

        base = _effect(self.baseline.scenario)
        base_reps = self.baseline.run_result.replications
        out = []
        for run in self.comparison.redesigns:
            if _effect(run.scenario) == base:
                what = "its scenario is the baseline's (only its name, description or targets differ)"
            elif all(a.kpis.keys() == b.kpis.keys() and np.array_equal(
                    list(a.kpis.values()), list(b.kpis.values()), equal_nan=True)
                    for a, b in zip(base_reps, run.run_result.replications, strict=True)):
                what = (f"every KPI of all {len(base_reps)} replications is exactly the "
                        "baseline's: the change does nothing this model can see")
            else:
                continue
            out.append(Caveat(run.label, f"the redesign changes nothing: {what}",
                              "Check that its keys name what it means to change (a role, "
                              "stage or source of the baseline, a value that differs)."))
        return out

    def parameter_table(self) -> pd.DataFrame | None:
        """Per redesign and KPI, the paired difference from the baseline with the
        simulation's interval and the simulation-and-parameters one (``parameters.csv``:
        a ``scenario`` column, then :data:`salessim.api.uncertainty.COLUMNS`); None without
        the history's bootstrap."""
        import pandas as pd

        from salessim.api.uncertainty import interval_table, paired

        if self.parameters is None:
            return None
        runs, boots = self.runs, self.parameters.replications
        count = len(self.parameters.resamples.scenarios)
        frames = []
        for run, boot in zip(runs[1:], boots[1:], strict=True):
            diffs = paired(runs[0].run_result.replications, run.run_result.replications)
            table = interval_table(diffs, paired(boots[0], boot), count,
                                   list(diffs[0]) if diffs else [], self.comparison.level)
            frames.append(table.assign(scenario=run.label))
        table = pd.concat(frames, ignore_index=True)
        return table[["scenario", *table.columns[:-1]]]

    def summary(self, kpis: Sequence[str] = ()) -> str:
        """The notes, one block per redesign, the targets, warnings and a closing line."""
        from salessim.reports.tables import comparison_text

        shown = self.headline(kpis)
        text = comparison_text(self.comparison, shown, self.caveats(),
                               more=len(self.kpi_names()) - len(shown))
        return "\n".join([*self.notes, *self.hire_lines(), "", text,
                          *self._parameter_text(shown)])

    def hire_lines(self) -> list[str]:
        """Each staffing redesign's change in revenue: incremental, pulled forward, cost."""
        def money(value: float) -> str:  # whole units, as the reports write money
            return f"{value:,.0f}"

        return [line for value in self.hires
                for line in value.headline("in the window (revenue of the cohort)", money)]

    def hire_table(self) -> pd.DataFrame:
        """``hires.csv``: per staffing redesign, part (change, incremental, pulled_forward)
        and measure (won, bookings), the mean and its interval."""
        from salessim.forecast.hire import value_table

        return value_table(self.hires)

    def _parameter_text(self, shown: Sequence[str]) -> list[str]:
        """Each redesign's differences with both intervals (below the table, whose
        intervals cover the simulation only)."""
        from salessim.api.uncertainty import table_text

        table, unit = self.parameter_table(), self.baseline.scenario.time_unit
        if self.parameters is None or table is None:
            return []
        lines = ["", "Parameter uncertainty: the differences above, the same bootstrap "
                 "resample for the baseline and each redesign (paired)"]
        for label, part in table.groupby("scenario", sort=False):
            lines += [f"{label} - {self.baseline.label}",
                      table_text(part, shown, unit, difference=True)]
        return [*lines, self.parameters.resamples.describe(self.comparison.level)]

    def plot(self, kpis: Sequence[str] = ()) -> Figure:
        """The forest plot of each redesign's changes, with their intervals (never shown)."""
        from salessim.reports.figures import forest_figure

        return forest_figure(self.comparison, self.headline(kpis))

    def html(self, kpis: Sequence[str] = ()):
        """The HTML report (:class:`salessim.reports.Report`: ``write(folder)``)."""
        from salessim.reports import comparison_report

        note = ("" if self.parameters is None
                else self.parameters.resamples.describe(self.comparison.level))
        return comparison_report(self.comparison, self.flows, self.warmup_estimate,
                                 self.headline(kpis), self.sets, self.notes, self.caveats(),
                                 self.parameter_table(), note, workers=self.workers,
                                 hires=self.hire_lines())

    def write(self, out: str | Path, kpis: Sequence[str] = ()) -> list[str]:
        """Write comparison.csv, ``<label>/summary.csv`` and ``replications.csv`` per
        scenario, report.html and its figures; returns the names written."""
        from salessim.records import write_frame
        from salessim.reports.tables import with_labels

        out = Path(out)
        unit = self.baseline.scenario.time_unit
        written = ["comparison.csv"]
        write_frame(with_labels(self.to_frame(), unit), out / "comparison.csv")
        for run in self.runs:
            write_frame(with_labels(run.run_result.summary(self.comparison.level), unit),
                        out / run.label / "summary.csv")
            write_frame(run.run_result.frame(), out / run.label / "replications.csv")
            written += [f"{run.label}/summary.csv", f"{run.label}/replications.csv"]
        if self.parameters is not None:
            write_frame(self.parameter_table(), out / "parameters.csv")
            written.append("parameters.csv")
        if self.hires:
            write_frame(self.hire_table(), out / "hires.csv")
            written.append("hires.csv")
        page = self.html(kpis)
        path = page.write(out)
        return [*written, path.name, *(f"{name}.png" for name in page.pngs)]


def _effect(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario without what changes nothing in a run."""
    from salessim.scenario import resolved

    data = resolved(scenario)
    for key in ("name", "description", "targets"):
        data.pop(key, None)
    return data


def compare(baseline: Scenario | str | Path | ScenarioRun,
            *redesigns: Scenario | str | Path | ScenarioRun,
            replications: int | None = None, seed: int | None = None,
            sets: Sequence[str] = (), targets: Sequence[str] | Mapping[str, str] = (),
            labels: Sequence[str] | None = None, warmup: str | float | None = None,
            warmup_series: str = "wip", precision: float | None = None,
            precision_kpis: Sequence[str] = registry.PRECISION_KPIS,
            max_replications: int = 100, flow_replications: int = 0, level: float = 0.95,
            workers: int | None = 1, progress: Any = None,
            parameter_uncertainty: bool = True, resamples: int | None = None,
            hire_split: bool = True, follow_up: float | None = None) -> ComparisonReport:
    """Run a baseline and redesigns on common random numbers and compare every KPI.

    Args:
        baseline: a Scenario or a scenario file (or the runs of :func:`scenario_runs`).
        redesigns: Scenarios (``salessim.evolve(baseline, ...)``) or files (``extends:`` the baseline).
        replications: per scenario; default the baseline's.
        seed: the root seed of every scenario; default the baseline's.
        sets: ``key.path=value`` overrides of every file.
        targets: goals for every redesign, ``{"win_rate": "+5%"}``, beside its own.
        labels: names in tables and folders; default the files' stems or scenario names.
        warmup: ``"auto"`` (MSER-5 on a pilot of the baseline, then used by every
            scenario), a time for every scenario, or None for each scenario's own.
        warmup_series: the series MSER-5 looks at.
        precision: replications until the baseline's ``precision_kpis`` are within this
            share of their mean (at most ``max_replications``); every scenario runs as many.
        flow_replications: replications whose event logs feed the report's flow figure.
        level: the confidence level of every interval.
        workers: processes (1 runs here; None one per core); results do not depend on it.
        progress: a tqdm-like bar (``update``, ``total``) told of each replication.
        parameter_uncertainty: for a calibrated baseline whose history is found (its
            ``provenance``), also run every scenario on ``resamples`` bootstrap resamples
            of it (default 20, at most half the replications; a redesign's changes applied
            to each) and report the
            differences' intervals with the parameters' uncertainty, paired by resample.
        hire_split: for each redesign that changes the staff, rerun it and the baseline
            with event logs past the window (``follow_up``, default the window's length) and
            split its change in wins into incremental and pulled forward
            (:mod:`salessim.forecast.hire`).
    """
    from salessim import diagnose
    from salessim.compare import ScenarioRun
    from salessim.compare import compare as compare_runs
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.forecast.hire import changes_staff, hire_values

    loaded = [r for r in redesigns if isinstance(r, ScenarioRun)]
    files = [r for r in redesigns if not isinstance(r, ScenarioRun)]
    if isinstance(baseline, ScenarioRun) and not files:  # already loaded, by scenario_runs
        base, others = baseline, loaded
    elif not isinstance(baseline, ScenarioRun) and not loaded:
        base, others = scenario_runs(baseline, files, sets, targets, labels)
    else:
        raise TypeError("give scenarios and files, or the runs of scenario_runs, not both")
    n = replications or base.scenario.replications
    seed = base.scenario.seed if seed is None else seed
    tick, notes, clock = Ticker(progress), [], time.perf_counter()
    runs = [base, *others]
    settled = settle_warmup([r.scenario for r in runs], warmup, warmup_series, n, seed, tick)
    for run, scenario in zip(runs, settled.scenarios, strict=True):
        run.scenario = scenario
    estimate, sets = settled.estimate, [*sets, *settled.sets]
    if settled.pilot is not None and not precision:
        base.result = settled.pilot
    if estimate is not None:
        notes.append(f"warm-up {estimate.warmup:g} estimated by MSER-5 on the baseline's "
                     f"{diagnose.WARMUP_SERIES[warmup_series]}, used by every scenario")
    if precision:
        base.result, report = diagnose.run_to_precision(
            base.scenario, precision, tuple(precision_kpis), n, max_replications, seed,
            progress=tick)
        tick.expect((len(base.result.replications) - n) * (1 + len(others)))
        n = len(base.result.replications)
        notes.append(report.summary() + " (on the baseline; every scenario ran as many)")
    logged = min(flow_replications, n)
    with make_executor(workers) as executor:
        comparison = compare_runs(base, others, n, seed, level, progress=tick, logged=logged,
                                  mapper=ordered_map(executor))
    flows = []
    for run in comparison.runs if logged else ():
        reps = run.run_result.replications[:logged]
        if any(r.log is None for r in reps):  # a baseline run without logs (warm-up pilot)
            rows = diagnose.flow_logs(run.scenario, logged, seed)
        else:
            rows = diagnose.log_rows(reps)
        flows.append((run, diagnose.transitions(rows, float(run.scenario.warmup))))
    found = None
    if parameter_uncertainty and base.scenario.provenance is not None:  # calibrated
        from salessim.api.uncertainty import parameter_runs

        with make_executor(workers) as executor:
            found, more = parameter_runs([r.scenario for r in comparison.runs], base.path,
                                         n, seed, resamples, ordered_map(executor), tick)
        notes += [f"note: {line}" for line in more]
    hires = []
    staffed = [r for r in comparison.redesigns if hire_split
               and changes_staff(comparison.baseline.scenario, r.scenario)]
    if staffed:
        with make_executor(workers) as executor:
            hires = hire_values(comparison.baseline.scenario,
                                [(run.label, run.scenario) for run in staffed], n, seed,
                                follow_up=follow_up, level=level, mapper=ordered_map(executor))
    return ComparisonReport(comparison, estimate, notes, flows, time.perf_counter() - clock,
                            sets, found, hires, workers)
