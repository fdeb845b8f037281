"""Design experiments, optimise a design and calibrate a scenario from data:
:func:`experiment`, :func:`sweep`, :func:`optimise`, :func:`calibrate`.

    exp = experiment("scenarios/b2b_baseline.yaml",
                     design=pandas.DataFrame({"roles.se.headcount": [1, 2, 3]}))
    sweep(exp, "results/se"); salessim.experiments.load_results("results/se")

    best = salessim.optimise("experiments/staffing_budget.yaml", replications=3)
    print(best.summary()); best.to_frame(); best.plot(); best.best_scenario()

    cal = salessim.calibrate("examples/crm/stage_history.csv", replications=4)
    print(cal.summary()); cal.scenario; cal.to_frame(); cal.plot()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salessim.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from salessim.calibrate.pipeline import CalibrationResult
    from salessim.experiments import Experiment, SweepReport
    from salessim.optimise import OptimisationResult, Problem
    from salessim.scenario import Scenario


def experiment(scenarios: str | Path | Sequence[str | Path] | dict[str, str | Path], *,
               factors: dict[str, Any] | None = None, design: Any = None,
               fixed: dict[str, Any] | None = None, replications: int | None = None,
               seed: int | None = None, kpis: Sequence[str] | None = None,
               name: str = "experiment", base: str | Path = ".") -> Experiment:
    """An experiment designed in Python, validated exactly as an experiment file is.

    Args:
        scenarios: a scenario file, a list of them, or a map label -> file.
        factors: dotted scenario key -> levels (a list) or a range ``{"low", "high"}``.
        design: the ``design:`` of an experiment file as a dict (``{"kind": "lhs",
            "samples": 20, "seed": 1}``, ``{"kind": "fractional_factorial", "fraction": 1}``,
            ``{"file": "matrix.csv"}``), or a design matrix: a pandas DataFrame or a list of
            dicts, one design per row, columns the dotted keys, optional columns ``design``
            (names; default ``d000``, ...) and ``scenario`` (a base's label).
        fixed, replications, seed, kpis, name: as in an experiment file.
        base: the folder file names are relative to.

    Raises:
        ScenarioError: a key, level or design's scenario breaks a rule.
    """
    from salessim.experiments.spec import experiment_from_mapping

    files: Any = ({k: str(v) for k, v in scenarios.items()} if isinstance(scenarios, dict)
                  else str(scenarios) if isinstance(scenarios, (str, Path))
                  else [str(f) for f in scenarios])
    data: dict[str, Any] = {"name": name, "scenarios": files, "factors": dict(factors or {}),
                            "fixed": dict(fixed or {})}
    if design is not None:
        data["design"] = dict(design) if isinstance(design, dict) else _matrix(design)
    for key, value in (("replications", replications), ("seed", seed)):
        if value is not None:
            data[key] = value
    if kpis is not None:
        data["kpis"] = list(kpis)
    return experiment_from_mapping(data, base)


def _matrix(rows: Any) -> dict[str, Any]:
    """A design matrix (DataFrame or list of dicts) as a ``list`` design."""
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    designs: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(records):
        values = {str(k): v.item() if hasattr(v, "item") else v for k, v in record.items()}
        label = str(values.pop("design", f"d{i:03d}"))
        designs[label] = values
    return {"kind": "list", "designs": designs}


def sweep(experiment: Experiment, out: str | Path, *, workers: int | None = 1,
          dask: str | None = None, progress: Callable[[object], None] | None = None
          ) -> SweepReport:
    """Run every (design, replication) of an experiment into a results folder, resumably
    (as ``salessim sweep``); read it back with ``salessim.experiments.load_results``."""
    from salessim.experiments import make_executor
    from salessim.experiments import sweep as run_sweep

    with make_executor(workers, dask) as executor:
        return run_sweep(experiment, out, executor, progress=progress)


@dataclass(repr=False)
class OptimisationReport:
    """The best design under a budget, with its evidence (:class:`OptimisationResult`)."""

    result: OptimisationResult

    def __repr__(self) -> str:
        chosen = self.result.chosen
        return (f"<OptimisationReport {self.result.problem.name!r}: chosen "
                f"{None if chosen is None else chosen.candidate.label!r}>")

    def summary(self) -> str:
        """The three stages (search, selection, holdout) and the chosen design, as text."""
        return self.result.report()

    def to_frame(self) -> pd.DataFrame:
        """The leaderboard: one row per design evaluated (the chosen one first)."""
        from salessim.optimise import leaderboard

        return leaderboard(self.result)

    def plot(self) -> Figure:
        """The search: each design's objective estimate in order, and the best so far."""
        from salessim.optimise import plot_search

        return plot_search(self.result)

    def best_scenario(self) -> Scenario | None:
        """The chosen design as a scenario (None when no design met the constraints)."""
        chosen = self.result.chosen
        return None if chosen is None else chosen.candidate.scenario

    def write(self, out: str | Path) -> list[str]:
        """leaderboard.csv, best.yaml, search.png and optimise.json; returns the names."""
        from salessim.optimise import write_outputs

        return [p.name for p in write_outputs(self.result, Path(out))]


def optimise(spec: str | Path | Problem, *, workers: int | None = 1, dask: str | None = None,
             progress: Callable[[object], None] | None = None,
             on_stage: Callable[[str, int | None], None] | None = None,
             **overrides: Any) -> OptimisationReport:
    """Search the designs of an optimisation spec, select the best and confirm it.

    Args:
        spec: the spec file (decision variables, objective, constraints, budget), or a
            problem already loaded (:func:`salessim.optimise.load_problem`).
        workers: processes (1 runs here; None one per core); results do not depend on it.
        dask: ``"local"`` or a scheduler address to run on Dask instead.
        progress: called with each finished run.
        on_stage: called with (stage name, runs planned or None) as each stage starts.
        **overrides: ``seed``, ``replications`` (search), ``max_designs``, ``finalists``,
            ``indifference_zone``, ``confidence``, ``holdout`` (replications), for a file.
    """
    from salessim.experiments import make_executor
    from salessim.optimise import Problem, SimulationEvaluator, load_problem
    from salessim.optimise import optimise as run_procedure

    problem = spec if isinstance(spec, Problem) else load_problem(spec, **overrides)
    with make_executor(workers, dask) as executor:
        evaluator = SimulationEvaluator(problem, executor, progress=progress)
        return OptimisationReport(run_procedure(problem, evaluator, on_stage=on_stage))


@dataclass(repr=False)
class CalibrationReport:
    """A scenario calibrated from a CRM export or event log, with evidence and back-test."""

    result: CalibrationResult
    source: str

    def __repr__(self) -> str:
        return f"<CalibrationReport {self.source!r}: {self.scenario.name!r}>"

    @property
    def scenario(self) -> Scenario:
        """The calibrated scenario, loaded as salessim loads the written ``scenario.yaml``."""
        return self.result.scenario

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings

    def summary(self) -> str:
        """What was read, the estimates with their intervals and the back-test's verdicts."""
        cal = self.result.calibration
        lines = [f"{self.source}: {len(cal.visits.deals)} deals, {len(cal.visits.visits)} "
                 f"stage visits, {cal.visits.days:.0f} days; entry {cal.entry!r}"]
        for sid, a in cal.arrivals.items():
            lines.append(f"  source {sid}: {a.rate:.3g} leads/day [{a.low:.3g}, {a.high:.3g}]"
                         + (" with a weekly profile" if a.weekly else ""))
        for sid, t in cal.times.items():
            lines.append(f"  stage {sid}: {t.chosen.family}, mean {t.mean:.3g} days "
                         f"[{t.mean_low:.3g}, {t.mean_high:.3g}], {t.censored} open visits")
        if cal.staffing is not None:
            lines.append(f"  staff owner: headcount {cal.staffing.value} "
                         f"({cal.staffing.note})")
        bt = self.result.backtest
        if bt is not None:
            lines.append(f"back-test ({bt.replications} replications"
                         + ("" if bt.since is None else f", hold-out from {bt.since:%Y-%m-%d}")
                         + "):")
            for row in bt.frame().itertuples():
                verdict = "consistent" if row.consistent else "NOT consistent"
                lines.append(f"  {row.kpi:<32} data {row.data:>10.4g}   simulated "
                             f"{row.sim_mean:>10.4g} [{row.sim_low:.4g}, {row.sim_high:.4g}]  "
                             f"{verdict}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The back-test: per KPI the data beside the simulation (empty without one)."""
        import pandas as pd

        bt = self.result.backtest
        return bt.frame() if bt is not None else pd.DataFrame()

    def plot(self) -> Figure:
        """The back-test: each KPI's value in the data against the simulated interval."""
        from matplotlib.figure import Figure

        frame = self.to_frame()
        if frame.empty:
            raise ValueError("no back-test to plot: calibrate with backtest=True")
        fig = Figure(figsize=(7, 0.6 + 0.45 * len(frame)), layout="constrained")
        ax = fig.add_subplot()
        rows = list(range(len(frame)))[::-1]
        scale = frame[["data", "sim_mean", "sim_low", "sim_high"]].abs().max(axis=1)
        scale = scale.where(scale > 0, 1.0)
        ax.hlines(rows, frame["sim_low"] / scale, frame["sim_high"] / scale, color="#4878a8",
                  lw=4, label="simulated (interval)")
        ax.plot(frame["data"] / scale, rows, "o", color="#c44e52", label="data")
        ax.set_yticks(rows, list(frame["kpi"]))
        ax.set_xlabel("value / largest of the row")
        ax.set_title("Back-test: the data against the calibrated simulation")
        ax.legend(loc="lower right")
        return fig

    def write(self, out: str | Path) -> list[str]:
        """scenario.yaml, calibration.json, backtest.csv, report.html and its figures."""
        return [Path(p).relative_to(out).as_posix() for p in self.result.write(out)]


def check_backtest_options(replications: int, seed: int, prefix: str = "") -> None:
    """The back-test's replications (2 or more) and seed (0 or more); ``prefix`` is
    ``"--"`` for the command line's names of them.

    Raises:
        UsageError: naming the option and its value.
    """
    if replications < 2:
        raise UsageError(f"{prefix}replications must be at least 2, got {replications}")
    if seed < 0:
        raise UsageError(f"{prefix}seed must be 0 or more, got {seed}")


def calibrate(export: str | Path, *, fmt: str | None = None, mapping: Sequence[str] = (),
              won: Sequence[str] = (), lost: Sequence[str] = (),
              no_decision: Sequence[str] = (), as_of: str | None = None,
              opportunities: str | Path | None = None, touch: Sequence[str] = (),
              holdout: float | None = None, replications: int = 20, seed: int = 1,
              backtest: bool = True, name: str | None = None,
              stages: str | Path | None = None, timezone: str | None = None,
              headcount: Sequence[str] = (), since: str | None = None
              ) -> CalibrationReport:
    """Calibrate a scenario from a CRM export or event log, and back-test it.

    Args:
        export: stage history, Salesforce OpportunityHistory, HubSpot deals or event log.
        fmt: force a format (default: recognised by its columns).
        mapping: column renames, ``"Deal=deal_id"``.
        won, lost, no_decision: stage names that end a deal (defaults recognise the usual).
        as_of: the export's date (default: its latest time).
        opportunities: a Salesforce Opportunity export to join.
        touch: ``"stage=duration"``: staff work per visit, taken out of the stage's delay.
        holdout: calibrate on the first 1 - holdout of the period, score the rest.
        replications: back-test replications (2 or more).
        seed: the back-test's root seed (0 or more).
        backtest: run the back-test.
        name: the scenario's name.
        stages: an event log's stage map (YAML); an XES log without one is calibrated on
            a proposed map, with a warning.
        timezone: an event log's times in this zone (default: each time's own local time).
        headcount: ``"role=N"``: a role's headcount, where the export names no owners.
        since: calibrate on the deals created from this date on (after a drift).

    Raises:
        UsageError: ``replications`` or ``seed`` out of range.
        ExportError: the export cannot be read or calibrated.
    """
    from salessim.calibrate.pipeline import calibrate_file

    check_backtest_options(replications, seed)
    result = calibrate_file(export, fmt, mapping, won, lost, no_decision, as_of, opportunities,
                            touch, stages, timezone, holdout=holdout,
                            replications=replications, seed=seed, run_backtest=backtest,
                            name=name, headcount=headcount, since=since)
    return CalibrationReport(result, str(export))
