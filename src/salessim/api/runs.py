"""Run a scenario: :func:`run` and its :class:`RunReport`.

The warm-up pilot and the precision loop live here, once: ``salessim run`` and
``salessim compare`` call them, and so can a notebook::

    import salessim
    baseline = salessim.load("scenarios/tutorial.yaml")
    report = salessim.run(salessim.evolve(baseline, horizon=120), replications=5)
    print(report.summary())
    report.to_frame()          # one row per replication and KPI
    report.plot("funnel")      # a matplotlib Figure (never shown: display or save it)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salessim import kpis as registry
from salessim.api.scenarios import as_scenario
from salessim.scenario import Scenario, evolve

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from salessim.api.uncertainty import ParameterRuns
    from salessim.compare import ScenarioRun
    from salessim.diagnose import PrecisionReport, WarmupEstimate
    from salessim.engine import RunResult

#: Figures :meth:`RunReport.plot` draws, by name.
RUN_PLOTS = ("funnel", "cycle_time", "utilisation", "wip")


class Ticker:
    """Progress for a tqdm-like bar (``update(k)``, ``total``), or none at all."""

    def __init__(self, bar: Any = None) -> None:
        self.bar = bar

    def __call__(self, _replication: object = None) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def expect(self, more: int) -> None:
        """Announce ``more`` replications than the bar was told of."""
        if self.bar is not None and getattr(self.bar, "total", None) is not None:
            self.bar.total += more


def pilot_warmup(scenario: Scenario, replications: int, seed: int, series: str = "wip",
                 progress: Callable[[object], None] | None = None
                 ) -> tuple[WarmupEstimate, RunResult]:
    """Run a pilot of the scenario and estimate its warm-up by MSER-5 on ``series``.

    The open-leads series counts every lead, so it does not depend on the warm-up the pilot
    ran with; the log-based series need event logs, kept for at most 10 replications.

    Returns:
        The :class:`salessim.diagnose.WarmupEstimate` and the pilot's run result.
    """
    from salessim import diagnose, engine

    logs = series != "wip"
    pilot = engine.run(scenario, min(replications, 10) if logs else replications, seed,
                       event_log=logs, progress=progress)
    return diagnose.estimate_warmup(pilot, series), pilot


def with_warmup(scenario: Scenario, estimate: WarmupEstimate) -> Scenario:
    """The scenario with the estimated warm-up, as printed and recorded (``:g``, six
    significant digits, so ``--set warmup=...`` from the record runs the same)."""
    warmup = float(f"{estimate.warmup:g}")
    return scenario if warmup == float(scenario.warmup) else evolve(scenario, warmup=warmup)


@dataclass
class Warmup:
    """The warm-up every scenario of a run or comparison got (:func:`settle_warmup`).

    Attributes:
        scenarios: the scenarios with it, in the order given.
        estimate: the MSER-5 estimate (``warmup="auto"``), else None.
        pilot: the pilot run of the first scenario, when it can stand as that scenario's
            run: same warm-up and ``replications`` replications. Else None.
        sets: the ``--set`` lines that reproduce the warm-up from the files.
    """

    scenarios: list[Scenario]
    estimate: WarmupEstimate | None = None
    pilot: RunResult | None = None
    sets: list[str] = field(default_factory=list)


def settle_warmup(scenarios: list[Scenario], warmup: float | str | None, series: str,
                  replications: int, seed: int, tick: Ticker) -> Warmup:
    """Give every scenario the same warm-up (common random numbers need it): ``warmup`` as
    given (a time in the scenarios' unit), their own (None), or ``"auto"``: MSER-5 on
    ``series`` of a pilot of the first scenario (the baseline)."""
    if warmup is None:
        return Warmup(scenarios)
    if warmup != "auto":
        return Warmup([evolve(s, warmup=warmup) for s in scenarios], sets=[f"warmup={warmup}"])
    first = scenarios[0]
    estimate, pilot = pilot_warmup(first, replications, seed, check_warmup_series(series), tick)
    tick.expect(len(pilot.replications))  # the pilot's replications come on top
    settled = [with_warmup(s, estimate) for s in scenarios]
    fits = settled[0] is first and len(pilot.replications) == replications
    return Warmup(settled, estimate, pilot if fits else None,
                  [] if settled[0] is first else [f"warmup={estimate.warmup:g}"])


def check_warmup_series(series: str) -> str:
    """A known warm-up series (:data:`salessim.kpis.WARMUP_SERIES`)."""
    if series not in registry.WARMUP_SERIES:
        from salessim.errors import UsageError

        raise UsageError(f"warmup_series must be one of {', '.join(registry.WARMUP_SERIES)}, "
                         f"got {series!r}")
    return series


@dataclass(repr=False)
class RunReport:
    """One scenario's replications, with what was decided on the way.

    Attributes:
        label: a short name (the file's stem, or the scenario's name).
        scenario: the scenario as run (with an estimated warm-up, if one was asked for).
        result: the replications (:class:`salessim.engine.RunResult`).
        path: the scenario's file, when it came from one.
        warmup_estimate: the MSER-5 estimate with ``warmup="auto"``.
        precision: what the precision loop achieved, when one was asked for.
        seconds: wall time of the simulation.
        sets: the overrides the scenario ran with (as ``--set`` texts), for the record.
        warm_start: whether the run started from open deals (no warm-up to judge).
        parameters: the replications on the bootstrap of the calibrated scenario's history
            (:mod:`salessim.api.uncertainty`), when it has one.
        notes: what became of the parameter uncertainty (a missing history, ...).
        workers: the processes the run had; the report renders its figures in as many.
    """

    label: str
    scenario: Scenario
    result: RunResult
    path: str | None = None
    warmup_estimate: WarmupEstimate | None = None
    precision: PrecisionReport | None = None
    seconds: float = 0.0
    sets: list[str] = field(default_factory=list)
    warm_start: bool = False
    parameters: ParameterRuns | None = None
    notes: list[str] = field(default_factory=list)
    workers: int | None = 1

    def __repr__(self) -> str:
        return (f"<RunReport {self.label!r}: {self.replications} replications, seed "
                f"{self.seed}>")

    @property
    def seed(self) -> int:
        return self.result.seed

    @property
    def replications(self) -> int:
        return len(self.result.replications)

    def as_run(self) -> ScenarioRun:
        """The run as :mod:`salessim.compare` and :mod:`salessim.reports` take it."""
        from salessim.compare import ScenarioRun

        return ScenarioRun(self.label, self.scenario, self.path, result=self.result)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per replication and KPI (replication, kpi, value)."""
        return self.result.frame()

    def estimates(self, level: float = 0.95) -> pd.DataFrame:
        """Mean and Student-t confidence interval per KPI (``summary.csv``)."""
        return self.result.summary(level)

    def parameter_table(self, level: float = 0.95) -> pd.DataFrame | None:
        """Per KPI the simulation's interval and the simulation-and-parameters one
        (``parameters.csv``), or None without the history's bootstrap."""
        from salessim.api.uncertainty import interval_table

        if self.parameters is None:
            return None
        return interval_table([r.kpis for r in self.result.replications],
                              [r.kpis for r in self.parameters.replications[0]],
                              len(self.parameters.resamples.scenarios),
                              list(self.result.replications[0].kpis), level)

    def funnel(self) -> pd.DataFrame:
        """Per stage: visits, conversion and status against targets (``funnel.csv``)."""
        from salessim import diagnose

        return diagnose.funnel(self.result)

    def caveats(self) -> list:
        """Warnings a reader should see (a warm-up too short, a role always busy, ...)."""
        from salessim import diagnose
        from salessim.reports.summary import run_caveats

        # From open deals the run starts in a working state: no warm-up to judge.
        judged = self.warmup_estimate or (None if self.warm_start
                                          else diagnose.estimate_warmup(self.result))
        return run_caveats(self.as_run(), judged)

    def summary(self, kpis: Sequence[str] = ()) -> str:
        """The KPI table (the headline KPIs, or those matching names or globs), the
        warm-up and precision notes, the funnel, the bottlenecks and the warnings."""
        from salessim import diagnose
        from salessim.console import kpi_table
        from salessim.kpisets import default_kpis, select_kpis
        from salessim.reports.tables import diagnosis_text, frame_text, precision_display

        table = self.estimates()
        means = dict(zip(table["kpi"], table["mean"], strict=True))
        # A run from open deals shows how they ended beside the headline KPIs.
        started = [k for k in means if k.startswith("pipeline_") and k != "pipeline_velocity"]
        shown = select_kpis(list(means), kpis)[0] if kpis else default_kpis(means, started)
        parts = [kpi_table(table, time_unit=self.scenario.time_unit, kpis=shown)]
        parts += [f"note: {note}" for note in self.notes]
        if self.parameters is not None:
            from salessim.api.uncertainty import table_text

            parts[0] += "\n(CI: simulation only, the calibrated parameters taken as true)"
            parts.append("Parameter uncertainty\n" + table_text(
                self.parameter_table(), shown, self.scenario.time_unit) + "\n"
                + self.parameters.resamples.describe())
        if self.warmup_estimate is not None:
            parts.append(f"warm-up {self.warmup_estimate.warmup:g} {self.scenario.time_unit}s "
                         f"(MSER-5 on the mean over replications of "
                         f"{diagnose.WARMUP_SERIES[self.warmup_estimate.series]})")
        if self.precision is not None:
            parts.append(f"{self.precision.summary()}\n"
                         f"{frame_text(precision_display(self.precision))}")
        parts.append(diagnosis_text(self.funnel(), diagnose.bottlenecks(self.result)))
        return "\n\n".join(parts)

    def warnings_text(self) -> str:
        """The caveats as a ``Warnings`` block, or an empty string."""
        from salessim.reports.summary import caveat_lines

        lines = caveat_lines(self.caveats())
        return "Warnings\n" + "\n".join(f"- {line}" for line in lines) if lines else ""

    def versus_analysis(self) -> str:
        """The flow analysis's figures beside the simulated ones, as text."""
        from salessim.api.analysis import versus_text

        return versus_text(self.result)

    def plot(self, kind: str = "funnel") -> Figure:
        """A matplotlib figure of the run: one of :data:`RUN_PLOTS` (never shown)."""
        from salessim.reports import figures

        if kind not in RUN_PLOTS:
            raise ValueError(f"kind must be one of {', '.join(RUN_PLOTS)}, got {kind!r}")
        return getattr(figures, f"{kind}_figure")([self.as_run()])

    def html(self, flow_replications: int = 2, notes: Sequence[str] = ()):
        """The HTML report (:class:`salessim.reports.Report`: ``write(folder)``)."""
        from salessim import diagnose
        from salessim.reports import run_report

        n = min(flow_replications, self.replications)
        logs = [r.log for r in self.result.replications[:n]]
        log = (diagnose.log_rows(self.result.replications[:n]) if n and all(
            x is not None for x in logs) else diagnose.flow_logs(self.scenario, n, self.seed))
        log = log[log["replication"] < n]
        flows = diagnose.transitions(log, float(self.scenario.warmup))
        if self.warmup_estimate is not None:
            notes = [f"warm-up {self.warmup_estimate.warmup:g} estimated by MSER-5", *notes]
        note = "" if self.parameters is None else self.parameters.resamples.describe()
        return run_report(self.as_run(), flows, self.warmup_estimate, self.precision,
                          sets=self.sets, notes=list(notes), caveats=self.caveats(),
                          parameters=self.parameter_table(), parameter_note=note,
                          workers=self.workers)

    def write(self, out: str | Path, event_log: Sequence[str] = (),
              report: bool = False, log_columns: str = "full") -> list[str]:
        """Write summary.csv, replications.csv, funnel.csv (and the event log in the formats
        named, cases.csv, report.html with its PNGs) into ``out``; returns the names.
        ``log_columns="lean"`` writes the CSV log's plain columns only
        (:mod:`salessim.logfiles`)."""
        from salessim.logfiles import write_cases, write_event_log
        from salessim.records import write_frame
        from salessim.reports.tables import with_labels

        out = Path(out)
        write_frame(with_labels(self.estimates(), self.scenario.time_unit), out / "summary.csv")
        write_frame(self.to_frame(), out / "replications.csv")
        write_frame(self.funnel(), out / "funnel.csv")
        written = ["summary.csv", "replications.csv", "funnel.csv"]
        if self.parameters is not None:
            write_frame(self.parameter_table(), out / "parameters.csv")
            written.append("parameters.csv")
        if event_log:
            logs = [r.log for r in self.result.replications if r.log is not None]
            for kind in event_log:
                write_event_log(logs, out / f"event_log.{kind}", log_columns)
            write_cases(logs, out / "cases.csv")
            written += [*(f"event_log.{kind}" for kind in event_log), "cases.csv"]
        if report:
            page = self.html()
            path = page.write(out)
            written += [path.name, *(f"{name}.png" for name in page.pngs)]
        return written


def run(scenario: Scenario | str | Path, replications: int | None = None,
        seed: int | None = None, *, sets: Sequence[str] = (), warmup: str | float | None = None,
        warmup_series: str = "wip", precision: float | None = None,
        precision_kpis: Sequence[str] = registry.PRECISION_KPIS, max_replications: int = 100,
        event_log: bool = False, workers: int | None = 1, progress: Any = None,
        clock: Callable[[float], None] | None = None, label: str | None = None,
        parameter_uncertainty: bool = True, resamples: int | None = None,
        given_path: str | Path | None = None) -> RunReport:
    """Run a scenario's replications.

    Args:
        scenario: a :class:`~salessim.scenario.Scenario` or a scenario file.
        replications: how many; default the scenario's.
        seed: root seed; default the scenario's.
        sets: ``key.path=value`` overrides (as ``--set``).
        warmup: ``"auto"`` (a pilot run, MSER-5 on ``warmup_series``), a time (``30`` or
            ``"2 weeks"`` in the scenario's unit), or None for the scenario's own.
        warmup_series: the series MSER-5 looks at with ``warmup="auto"``.
        precision: add replications until the CI half-width of ``precision_kpis`` is within
            this share of their mean (0.05 for 5%), at most ``max_replications``.
        event_log: keep every replication's event log.
        workers: processes (1 runs here; None one per core); results do not depend on it.
        progress: a tqdm-like bar (``update``, ``total``) told of each replication.
        clock: with one replication, called with the share of its horizon simulated.
        label: a short name; default the file's stem or the scenario's name.
        parameter_uncertainty: for a calibrated scenario whose history is found (its
            ``provenance``), also run on ``resamples`` bootstrap resamples of it (default
            20, at most half the replications) and report each KPI's interval with the
            parameters' uncertainty (:mod:`salessim.api.uncertainty`).
        given_path: the scenario's file when ``scenario`` is a Scenario object read from
            one (its provenance's history is relative to it).
    """
    from salessim import diagnose, engine
    from salessim.experiments.executors import make_executor, ordered_map

    scenario, path = as_scenario(scenario, sets)
    path = path if path is not None or given_path is None else str(given_path)
    n = replications or scenario.replications
    seed = scenario.seed if seed is None else seed
    tick = Ticker(progress)
    clock_start, result, report = time.perf_counter(), None, None
    settled = settle_warmup([scenario], warmup, warmup_series, n, seed, tick)
    (scenario,), estimate, sets = settled.scenarios, settled.estimate, [*sets, *settled.sets]
    if not (precision or event_log):
        result = settled.pilot
    if result is None and precision:
        result, report = diagnose.run_to_precision(
            scenario, precision, tuple(precision_kpis), n, max_replications, seed,
            progress=tick, event_log=event_log)
    elif result is None and n == 1 and clock is not None:
        result = engine.run(scenario, 1, seed, event_log=event_log, progress=tick, clock=clock)
    elif result is None:
        with make_executor(workers) as executor:
            result = engine.run(scenario, n, seed, event_log=event_log, progress=tick,
                                mapper=ordered_map(executor))
    name = label or (Path(path).stem if path else scenario.name)
    found: ParameterRuns | None = None
    notes: list[str] = []
    if parameter_uncertainty and scenario.provenance is not None:  # a calibrated scenario
        from salessim.api.uncertainty import parameter_runs

        with make_executor(workers) as executor:
            found, notes = parameter_runs([scenario], path, len(result.replications), seed,
                                          resamples, ordered_map(executor), tick)
    return RunReport(name, scenario, result, path, estimate, report,
                     time.perf_counter() - clock_start, sets, bool(scenario.pipeline), found,
                     notes, workers)
