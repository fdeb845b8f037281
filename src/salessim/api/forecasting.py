"""Forecast bookings from the open pipeline: :func:`forecast` and its report (the
back-test of such forecasts is :mod:`salessim.api.backtesting`).

    report = salessim.forecast(scenario, "open_deals.csv", "2026-06-30", replications=50)
    print(report.summary())
    report.to_frame()        # forecast.csv: P10, P50, P90 of the bookings, by period
    report.deals()           # each open deal's chances
    report.plot()            # the fan chart of cumulative bookings

Everything is read and checked by :func:`plan` first (bad input stops there, before any
simulation); :func:`simulate` then runs the baseline and each redesign on the same random
numbers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salessim.errors import Problem, ScenarioError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from salessim.forecast import Forecast

#: Most bootstrap resamples: the capacity check's replications run on them too.
MAX_RESAMPLES = 100


def with_file(exc: ScenarioError, path: str, scenario: str | None = None) -> ScenarioError:
    """The open deals' problems located in the pipeline file they came from (and, for a
    redesign, the scenario file they do not fit)."""

    def rule(text: str) -> str:
        return text if scenario is None else f"{text}, in {scenario}"

    return ScenarioError([Problem(p.field, rule(p.rule), p.value, path if p.field.startswith(
        "pipeline") else p.file, p.line) for p in exc.problems])


@dataclass
class ForecastRun:
    """One scenario of the forecast, checked and ready to simulate."""

    label: str
    file: str
    scenario: Any
    snapshot: Any
    forecast: Any = None
    uncapped: Any = None


@dataclass
class ForecastPlan:
    """Everything a forecast needs, read and checked before any work is done."""

    runs: list[ForecastRun]
    pipeline: str
    until: Any
    replications: int
    seed: int
    period: str
    quota: float | None
    booked: float
    warnings: list[str] = field(default_factory=list)
    history: str | None = None
    calibration: Any = None
    resamples: int = 0

    def capacity_replications(self) -> int:
        """Replications of the capacity check: the baseline's first ones again with
        unlimited staff, on the same random numbers (:mod:`salessim.forecast.gap`)."""
        from salessim.forecast.gap import CAPACITY_REPLICATIONS, staffed

        base = self.runs[0]
        return (min(self.replications, CAPACITY_REPLICATIONS)
                if staffed(base.scenario) and base.snapshot.deals else 0)

    def total_replications(self) -> int:
        """Every replication :func:`simulate` runs (for a progress bar)."""
        return self.replications * len(self.runs) + self.capacity_replications()


def plan(scenario, pipeline: str | Path, until, *, as_of=None, redesigns: Sequence = (),
         sets: Sequence[str] = (), replications: int | None = None, seed: int | None = None,
         period: str = "month", quota: float | None = None, booked: float = 0.0,
         history: str | Path | None = None, resamples: int | None = None,
         stages: str | Path | None = None, won: Sequence[str] = (),
         lost: Sequence[str] = (), no_decision: Sequence[str] = ()) -> ForecastPlan:
    """Read the open deals and check them against every scenario; raises on bad input.

    Args: as :func:`forecast`.
    """
    from salessim.api.comparing import scenario_runs
    from salessim.forecast import DEFAULT_REPLICATIONS, forecast_scenario, read_pipeline
    from salessim.forecast.simulate import calendar_warning

    until_text, as_of_text = str(until), str(as_of)
    until = _timestamp(until, "--until")  # a date alone: the whole of that day
    as_of = None if as_of is None else _timestamp(as_of, "--as-of")
    if as_of is not None and until <= as_of:
        raise UsageError(f"--until {until_text} must be after --as-of {as_of_text}")
    base, others = scenario_runs(scenario, redesigns, sets)
    ends: dict[str, Any] = dict(stages=stages, won=won, lost=lost, no_decision=no_decision)
    snapshot = read_pipeline(pipeline, base.scenario, as_of, **ends)
    if until <= snapshot.as_of:
        raise UsageError(f"--until {until_text} must be after the as-of date {snapshot.as_of} "
                         f"(the latest time in {pipeline})")
    runs = [ForecastRun(base.label, str(base.path or base.label), base.scenario, snapshot)]
    for other in others:
        same_unit = other.scenario.time_unit == base.scenario.time_unit
        snap = snapshot if same_unit else read_pipeline(pipeline, other.scenario, as_of,
                                                        **ends)
        runs.append(ForecastRun(other.label, str(other.path or other.label), other.scenario,
                                snap))
    n = replications or DEFAULT_REPLICATIONS
    seed = base.scenario.seed if seed is None else seed
    for i, run in enumerate(runs):
        try:
            forecast_scenario(run.scenario, run.snapshot, until, n, seed)
        except ScenarioError as exc:
            raise with_file(exc, str(pipeline), run.file if i else None) from None
    warnings = list(snapshot.warnings)
    for run in runs:
        late = calendar_warning(run.scenario, snapshot.as_of)
        if late is not None and late not in warnings:
            warnings.append(late)
    found = _history(history, resamples, runs, n, ends)
    return ForecastPlan(runs, str(pipeline), until, n, seed, period, quota, booked, warnings,
                        *found)


def _timestamp(when, option: str):
    """A date or time given as text or a Timestamp; ``--until`` given as a date alone is
    the end of that day (:func:`salessim.forecast.parse_until`)."""
    import pandas as pd

    from salessim.forecast import parse_date, parse_until

    if isinstance(when, pd.Timestamp):
        return when
    return parse_until(str(when), option) if option == "--until" else parse_date(str(when), option)


def _history(history, resamples: int | None, runs: list[ForecastRun], replications: int,
             ends: dict[str, Any] | None = None):
    """With a history: its calibration (it must give the scenario) and B resamples.

    ``ends``: the stage map and end names it is read with (``read_visits``'s keywords).
    """
    from salessim.calibrate.pipeline import read_visits
    from salessim.forecast.bootstrap import DEFAULT_RESAMPLES, calibration_of, check_resamples

    if history is None:
        return None, None, 0
    if len(runs) > 1:
        raise UsageError("--history does not combine with --redesign: a redesign's "
                         "parameters are not estimated from the history")
    resamples = check_resamples(DEFAULT_RESAMPLES if resamples is None else resamples,
                                min(replications, MAX_RESAMPLES))
    visits = read_visits(history, **(ends or {}))
    return str(history), calibration_of(visits, runs[0].scenario, str(history)), resamples


@dataclass(repr=False)
class ForecastReport:
    """The forecasts of the baseline and each redesign, with the tables built from them."""

    plan: ForecastPlan
    seconds: float = 0.0
    capacity_replications: int = 0

    def __repr__(self) -> str:
        from salessim.forecast import until_text

        return (f"<ForecastReport {self.base.label!r}: to {until_text(self.plan.until)}, "
                f"{self.plan.replications} replications>")

    @property
    def base(self) -> ForecastRun:
        return self.plan.runs[0]

    @property
    def forecast(self) -> Forecast:
        """The baseline's :class:`salessim.forecast.Forecast`."""
        return self.base.forecast

    def others(self) -> list[tuple[str, Forecast]]:
        return [(run.label, run.forecast) for run in self.plan.runs[1:]]

    def paired(self) -> pd.DataFrame | None:
        """``redesigns.csv``: each redesign against the baseline on the same numbers."""
        from salessim.forecast.tables import redesign_table

        return (redesign_table(self.forecast, self.others(), self.plan.quota, self.plan.booked)
                if self.others() else None)

    def quota(self) -> pd.DataFrame | None:
        """``quota.csv``: the chance each scenario reaches the quota (None without one)."""
        from salessim.forecast.tables import quota_table

        if self.plan.quota is None:
            return None
        return quota_table([(r.label, r.forecast) for r in self.plan.runs], self.plan.quota,
                           self.plan.booked)

    def to_frame(self) -> pd.DataFrame:
        """``forecast.csv``: mean, P10, P50, P90 of each KPI, whole window then by period."""
        return self.forecast.table()

    def deals(self) -> pd.DataFrame:
        """``deals.csv``: each open deal's chances and close dates."""
        from salessim.forecast.tables import deals_csv

        return deals_csv(self.forecast)

    def summary(self) -> str:
        """Bookings, the quota, the weighted pipeline beside the simulation, the deals that
        matter most, the redesigns, and how the band was made."""
        from salessim.forecast.tables import summary_text

        return (summary_text(self.forecast, self.seconds, self.paired(), self.quota(),
                             self.base.uncapped, self.plan.booked)
                + f"\nband: {self.forecast.band}")

    def plot(self) -> Figure:
        """The fan chart: cumulative bookings with their P10-P90 band (never shown)."""
        from salessim.forecast.report import fan_figure

        return fan_figure(self.forecast, self.plan.quota, self.plan.booked)

    def write(self, out: str | Path) -> list[str]:
        """forecast.csv and deals.csv (a folder per redesign), quota.csv, redesigns.csv,
        report.html and its figures; returns the names written."""
        from salessim.forecast.report import forecast_report
        from salessim.forecast.tables import deals_csv
        from salessim.records import write_frame

        out, written = Path(out), []
        for run in self.plan.runs:
            prefix = "" if run is self.base else f"{run.label}/"
            write_frame(run.forecast.table(), out / f"{prefix}forecast.csv")
            write_frame(deals_csv(run.forecast), out / f"{prefix}deals.csv")
            written += [f"{prefix}forecast.csv", f"{prefix}deals.csv"]
        for name, table in (("quota.csv", self.quota()), ("redesigns.csv", self.paired())):
            if table is not None:
                write_frame(table, out / name)
                written.append(name)
        page = forecast_report(self.forecast, self.plan.quota, self.plan.booked, self.paired(),
                               source=self.plan.pipeline, seed=self.plan.seed,
                               uncapped=self.base.uncapped, others=self.others())
        path = page.write(out)
        return [*written, path.name, *(f"{name}.png" for name in page.pngs)]

    def record(self) -> dict[str, Any]:
        """What the run record notes beside the seed and replications."""
        p = self.plan
        return {"pipeline": p.pipeline, "as_of": self.base.snapshot.as_of.isoformat(),
                "until": p.until.isoformat(), "period": p.period,
                "open_deals": len(self.base.snapshot.deals), "quota": p.quota,
                "booked": p.booked, "warnings": p.warnings,
                "capacity_replications": self.capacity_replications, "history": p.history,
                "resamples": p.resamples, "band": self.forecast.band}


def simulate(plan: ForecastPlan, workers: int | None = 1, progress: Any = None
             ) -> ForecastReport:
    """Run a checked plan: every scenario on the same random numbers, and the capacity
    check of the weighted pipeline's gap (the baseline again with unlimited staff)."""
    from salessim.api.runs import Ticker
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.forecast import run_forecast
    from salessim.forecast.gap import unlimited_staff

    base, clock, tick = plan.runs[0], time.perf_counter(), Ticker(progress)
    check = plan.capacity_replications()
    with make_executor(workers) as executor:
        if plan.resamples:
            bootstrap = _bootstrap(plan, ordered_map(executor), tick)
            base.forecast = bootstrap(base.scenario, plan.replications, lambda s: s)
            if check:
                base.uncapped = bootstrap(unlimited_staff(base.scenario), check,
                                          unlimited_staff)
        else:
            def run(scenario, snapshot, n):
                return run_forecast(scenario, snapshot, plan.until, n, plan.seed, plan.period,
                                    mapper=ordered_map(executor), progress=tick)

            for one in plan.runs:
                one.forecast = run(one.scenario, one.snapshot, plan.replications)
            if check:
                base.uncapped = run(unlimited_staff(base.scenario), base.snapshot, check)
    base.forecast.warnings += [w for w in plan.warnings if w not in base.forecast.warnings]
    return ForecastReport(plan, time.perf_counter() - clock, check)


def _bootstrap(plan: ForecastPlan, mapper, tick):
    """The resamples of the history calibrated (once), and a function forecasting from
    them: ``(scenario, replications, change)`` with ``change`` applied to every resample's
    scenario as to the original (unlimited staff for the capacity check)."""
    from salessim.calibrate.exits import chosen_families
    from salessim.forecast.bootstrap import bootstrap_scenarios, run_bootstrap_forecast

    base, cal = plan.runs[0], plan.calibration.calibration
    families = chosen_families(cal)  # exits stages keep their form
    scenarios, notes = bootstrap_scenarios(cal.visits, base.scenario, plan.resamples,
                                           plan.seed, plan.history or "<history>", cal.touch,
                                           families, mapper)
    plan.warnings += [n for n in notes if n not in plan.warnings]

    def forecast(scenario, replications, change):
        return run_bootstrap_forecast(scenario, [change(s) for s in scenarios], base.snapshot,
                                      plan.until, replications, plan.seed, plan.period,
                                      mapper=mapper, progress=tick)

    return forecast


def forecast(scenario, pipeline: str | Path, until, *, as_of=None, redesigns: Sequence = (),
             sets: Sequence[str] = (), replications: int | None = None,
             seed: int | None = None, period: str = "month", quota: float | None = None,
             booked: float = 0.0, history: str | Path | None = None,
             resamples: int | None = None, workers: int | None = 1,
             progress: Any = None, stages: str | Path | None = None,
             won: Sequence[str] = (), lost: Sequence[str] = (),
             no_decision: Sequence[str] = ()) -> ForecastReport:
    """Forecast the bookings to ``until`` from the deals open at ``as_of``.

    Args:
        scenario: a Scenario or a scenario file.
        pipeline: the open deals (a plain open-deals table or any export calibrate reads).
        until: the end of the window: a date, ``"2026-06-30"``, includes that whole day
            (the window ends at the next midnight); a time or a Timestamp is that moment.
        as_of: the date the pipeline is taken at (default: the file's latest time).
        redesigns: Scenarios or files forecast on the same random numbers.
        sets: ``key.path=value`` overrides of the files.
        replications: possible courses of the window (default 500).
        seed: the root seed (default the scenario's).
        period: ``"month"`` or ``"week"``.
        quota: the number to reach; ``booked`` already counts towards it.
        history: the export the scenario was calibrated from: the band then holds the
            calibrated parameters' uncertainty (``resamples`` bootstrap resamples).
        workers: processes (1 runs here; None one per core); results do not depend on it.
        progress: a tqdm-like bar told of each replication.
        stages: an event log's stage map, for the pipeline and the history.
        won, lost, no_decision: the end stages of the pipeline's and the history's export,
            as ``calibrate``'s ``--won``, ``--lost`` and ``--no-decision`` name them.
    """
    checked = plan(scenario, pipeline, until, as_of=as_of, redesigns=redesigns, sets=sets,
                   replications=replications, seed=seed, period=period, quota=quota,
                   booked=booked, history=history, resamples=resamples, stages=stages,
                   won=won, lost=lost, no_decision=no_decision)
    return simulate(checked, workers, progress)
