"""Parameter uncertainty for ``run`` and ``compare``: the history a calibrated scenario
names (its ``provenance``), bootstrapped as ``forecast --history`` does.

A calibrated scenario's numbers are estimates from a few months of deals; a run's t
interval takes them as true. With the history at hand:

1. The scenario file must be the calibration of the history (the check and the
   calibration are :func:`salessim.forecast.bootstrap.calibration_of`'s), and B resamples
   of its deals are calibrated the same way (:func:`~salessim.forecast.bootstrap.
   bootstrap_scenarios`: the Poisson bootstrap of whole deals, the chosen families refitted).
2. What the run changes on top of the file (``--set``, the warm-up, a redesign's own
   changes) is applied to every resample as to the file (:func:`changed`), so a redesign
   and the baseline share resample b: the difference is paired on the parameters as on the
   random numbers.
3. Replication r runs again on resample r mod B with replication r's random numbers; each
   KPI's interval then adds the spread the resamples make (paired with the run's
   replications) to the simulation's (:func:`salessim.stats.parameters.parameter_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salessim.errors import SalessimError
from salessim.scenario import Scenario, load_scenario

#: Scenario keys never carried from a run to its resamples: the record, not the process.
NOT_CHANGES = ("provenance",)


@dataclass
class Resamples:
    """A calibrated scenario's bootstrap: what run and compare run their resamples on.

    Attributes:
        history: the history's path, as found.
        base: the scenario as its file holds it (the calibration of the history).
        scenarios: the calibrated resamples of the history (B of them).
        deals: deals in the history.
        notes: what the bootstrap had to do (stages missing from some resamples).
    """

    history: str
    base: Scenario
    scenarios: list[Scenario]
    deals: int
    notes: list[str] = field(default_factory=list)

    def describe(self, level: float = 0.95) -> str:
        """What the two intervals cover, in one sentence."""
        from salessim.reports.tables import SIMULATION_ONLY as SIMULATION
        from salessim.reports.tables import WITH_PARAMETERS as BOTH

        return (f"{level:.0%} intervals. {SIMULATION}: the runs' randomness, the calibrated "
                f"parameters taken as true; {BOTH}: also the error of parameters estimated "
                f"from {self.deals} deals of {Path(self.history).name} (bootstrap, "
                f"{len(self.scenarios)} resamples)")


def history_of(scenario: Scenario, path: str | Path | None) -> Path | None:
    """The history the scenario's ``provenance`` names, relative to its file (or to the
    working folder for a scenario without one); None without a provenance."""
    if scenario.provenance is None:
        return None
    history = Path(scenario.provenance.history)
    if not history.is_absolute() and path is not None:
        history = Path(path).resolve().parent / history
    return history


def bootstrap(base: Scenario, path: str | Path | None, resamples: int, seed: int,
              mapper: Callable[[Callable, Iterable], Iterable] = map
              ) -> tuple[Resamples | None, list[str]]:
    """The bootstrap of the history ``base`` (a scenario as its file holds it) names.

    Returns:
        The :class:`Resamples`, or None with a note saying why there are none: no
        provenance (no note: the scenario is not calibrated), a missing history, a history
        that cannot be read, or a scenario that is not the history's calibration.
    """
    from salessim.calibrate.pipeline import fit_period, parse_as_of, read_visits
    from salessim.forecast.bootstrap import bootstrap_scenarios, calibration_of

    history = history_of(base, path)
    if history is None or base.provenance is None:
        return None, []
    left_out = "parameter uncertainty left out"
    if not history.is_file():
        return None, [f"{left_out}: the history {history} that the scenario's provenance names "
                      "is missing (put it back, or run with --no-parameter-uncertainty); the "
                      "intervals cover the simulation only"]
    opts = base.provenance.options
    here = Path.cwd() if path is None else Path(path).resolve().parent

    def near(p: str | None) -> Path | None:
        return None if p is None else here / p

    try:
        visits = read_visits(history, opts.format, opts.map, opts.won, opts.lost,
                             opts.no_decision, opts.as_of, near(opts.opportunities),
                             near(opts.stages), opts.timezone)
        if opts.since is not None:
            visits = visits.since(parse_as_of(opts.since, "since"))
        visits = fit_period(visits, opts.holdout)[0]
        cal = calibration_of(visits, base, str(history))
        from salessim.calibrate.exits import chosen_families

        families = chosen_families(cal.calibration)  # exits stages keep their form
        scenarios, notes = bootstrap_scenarios(visits, base, resamples, seed, str(history),
                                               cal.calibration.touch, families, mapper)
    except SalessimError as exc:  # ExportError, UsageError (not its calibration), ...
        # The check's advice is worded for forecast --history; here the way out is the flag.
        why = str(exc).replace("or leave out --history", "or run with "
                               "--no-parameter-uncertainty")
        return None, [f"{left_out}: {why}"]
    return Resamples(str(history), base, scenarios, len(visits.deals), notes), []


def changes(base: Scenario, scenario: Scenario) -> tuple[dict, list]:
    """What ``scenario`` changes on top of ``base``: the values set (a nested dict of the
    leaves that differ or are new) and the key paths removed."""
    def diff(a: dict, b: dict, at: tuple) -> tuple[dict, list]:
        sets, gone = {}, []
        for key, value in b.items():
            old = a.get(key)
            if isinstance(old, dict) and isinstance(value, dict):
                inner, removed = diff(old, value, (*at, key))
                if inner:
                    sets[key] = inner
                gone += removed
            elif key not in a or old != value:
                sets[key] = value
        gone += [(*at, key) for key in a if key not in b]
        return sets, gone

    a = base.model_dump(by_alias=True, exclude=set(NOT_CHANGES))
    b = scenario.model_dump(by_alias=True, exclude=set(NOT_CHANGES))
    return diff(a, b, ())


def changed(resample: Scenario, base: Scenario, scenario: Scenario) -> Scenario:
    """``resample`` with what ``scenario`` changes on top of ``base`` (see :func:`changes`)."""
    sets, gone = changes(base, scenario)
    if not sets and not gone:
        return resample

    def merge(target: dict, values: dict) -> None:
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    data = resample.model_dump(by_alias=True)
    for at in gone:
        holder = data
        for key in at[:-1]:
            holder = holder.get(key, {})
        holder.pop(at[-1], None)
    merge(data, sets)
    return Scenario.model_validate(data, context={"time_unit": scenario.time_unit})


def _replicate(task: tuple) -> Any:
    from salessim import engine

    scenario, replication, seed = task
    return engine.run_replication(scenario, replication, seed)


def run_resamples(scenarios: Sequence[Scenario], replications: int, seed: int,
                  mapper: Callable[[Callable, Iterable], Iterable] = map,
                  progress: Callable[[object], None] | None = None) -> list:
    """Replication r (0 <= r < ``replications``) on ``scenarios[r % B]``, with replication
    r's random numbers (root ``seed``): the run's own numbers, other parameters, so each is
    paired with the run's replication r."""
    tasks = [(scenarios[r % len(scenarios)], r, seed) for r in range(replications)]
    out = []
    for rep in mapper(_replicate, tasks):
        out.append(rep)
        if progress is not None:
            progress(rep)
    return out


#: Columns of parameters.csv.
COLUMNS = ["kpi", "mean", "sim_low", "sim_high", "low", "high", "parameter_sd", "resamples"]


def interval_table(run: Sequence[dict[str, float]], boot: Sequence[dict[str, float]],
                   resamples: int, kpis: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Per KPI both intervals (:data:`COLUMNS`): ``run[r]`` and ``boot[r]`` are the KPIs of
    replication r (or a paired difference) on the calibrated scenario and on resample
    r mod ``resamples``, with the same random numbers."""
    from salessim.stats.parameters import parameter_interval

    groups = [r % resamples for r in range(len(boot))]
    rows = []
    for kpi in kpis:
        est = parameter_interval([v.get(kpi, math.nan) for v in run],
                                 [v.get(kpi, math.nan) for v in boot], groups, level)
        rows.append((kpi, est.mean, est.sim_low, est.sim_high, est.low, est.high,
                     est.parameter_sd, est.resamples))
    return pd.DataFrame(rows, columns=COLUMNS)


def paired(base: Sequence[Any], other: Sequence[Any]) -> list[dict[str, float]]:
    """Per replication, ``other``'s KPIs less ``base``'s (same replication numbers)."""
    return [{k: o.kpis[k] - b.kpis[k] for k in o.kpis if k in b.kpis}
            for b, o in zip(base, other, strict=True)]


def table_text(table: pd.DataFrame, kpis: Sequence[str], time_unit: str,
               difference: bool = False) -> str:
    """The rows of ``kpis`` as text: mean, then each interval under its name."""
    from salessim import kpis as registry
    from salessim.console import text_table
    from salessim.reports.tables import SIMULATION_ONLY as SIMULATION
    from salessim.reports.tables import WITH_PARAMETERS as BOTH

    def show(k: str, v: float) -> str:
        if math.isnan(v):
            return "n/a"
        if difference and registry.unit(k) == "share":
            return f"{100 * v + 0.0:+.1f} pts"
        return registry.format_value(k, v, time_unit)

    head = ("KPI", "difference" if difference else "mean", SIMULATION, BOTH)
    rows: list[tuple[str, ...]] = [head]
    by = table.set_index("kpi")
    for k in kpis:
        if k not in by.index:
            continue
        r = by.loc[k]
        rows.append((k, show(k, r["mean"]), f"[{show(k, r['sim_low'])}, {show(k, r['sim_high'])}]",
                     f"[{show(k, r['low'])}, {show(k, r['high'])}]"))
    return text_table(rows)


def default_resamples() -> int:
    """Resamples when none are asked for: the forecast's (docs/forecast.md says why)."""
    from salessim.forecast.bootstrap import DEFAULT_RESAMPLES

    return DEFAULT_RESAMPLES


def check_resamples(resamples: object, replications: int) -> int:
    """The number of resamples: the forecast's rule, 2 to the replications (each resample
    pairs with at least one replication).

    Raises:
        UsageError: anything else (naming ``--resamples`` and the value).
    """
    from salessim.forecast.bootstrap import check_resamples as forecast_rule

    return forecast_rule(resamples, replications)


@dataclass
class ParameterRuns:
    """The resamples and the replications run on them for one run or comparison.

    Attributes:
        resamples: the bootstrap (:class:`Resamples`).
        replications: per scenario (the baseline first), its replications on the resamples.
    """

    resamples: Resamples
    replications: list[list]


def parameter_runs(scenarios: Sequence[Scenario], path: str | Path | None, replications: int,
                   seed: int, resamples: int | None = None,
                   mapper: Callable[[Callable, Iterable], Iterable] = map,
                   progress: Any = None) -> tuple[ParameterRuns | None, list[str]]:
    """The replications of each scenario on the bootstrap of the first one's history.

    The first scenario's file (``path``; else the scenario itself) must be the history's
    calibration; each scenario's changes on top of that file go to every resample. Replication
    r of every scenario runs on resample r mod B (B at most ``replications``; default the
    forecast's 20, at most half the replications), with the run's random numbers: a
    comparison stays paired.

    Returns:
        The :class:`ParameterRuns`, or None with a note (see :func:`bootstrap`).
    """
    if scenarios[0].provenance is None:  # not calibrated: nothing to bootstrap
        return None, []
    if replications < 2:
        return None, ["parameter uncertainty left out: it needs 2 or more replications"]
    # By default every resample gets 2 or more replications: the noise the common random
    # numbers leave between paired replications is then measured and taken out.
    count = check_resamples(max(2, min(default_resamples(), replications // 2))
                            if resamples is None else resamples, replications)
    base = load_scenario(path) if path is not None else scenarios[0]
    if base.provenance is None:
        return None, []
    found, notes = bootstrap(base, path, count, seed, mapper)
    if found is None:
        return None, notes
    if progress is not None and hasattr(progress, "expect"):
        progress.expect(replications * len(scenarios))
    runs = [run_resamples([changed(s, base, scenario) for s in found.scenarios], replications,
                          seed, mapper, progress) for scenario in scenarios]
    return ParameterRuns(found, runs), found.notes
