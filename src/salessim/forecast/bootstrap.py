"""Parameter uncertainty in the forecast band, by a bootstrap of the calibration data.

A calibrated scenario's parameters (arrival rates, routing shares, times in stage, deal
values) are estimates from a few months of deals. A forecast that takes them as true has a
band that holds the randomness of the process but not the error of the estimates, and is
too narrow (docs/forecast.md, section 5). The nonparametric bootstrap puts that error in:

1. **Resample the deals.** Each resample draws deals from the history with replacement,
   each with all its stage visits (a deal's path through the stages is one observation;
   its visits are never split). The number drawn is itself Poisson with the number of
   deals as its mean, not that number exactly: leads arrive as a Poisson process, so the
   count of deals in the period is random, and a resample of exactly n deals would hold
   the total arrival rate fixed (this is the Poisson bootstrap, the same as giving each
   deal a Poisson(1) number of copies). A copy gets a new id (``<id>#<copy>``).
2. **Calibrate each resample** as the original was (the same staff work per stage and
   the family of time in stage chosen on the data, whose parameters are re-estimated).
3. **Forecast.** Replication r of the forecast runs on the scenario of resample r mod B,
   from the same open deals: the open pipeline is what the CRM shows today, data and not a
   sample, so it is never resampled. Replication r has the random numbers it has without
   the bootstrap (the same root seed and replication number): only the parameters differ.
   The quantiles come from all replications together, a draw from the forecast's
   distribution with the parameters' uncertainty integrated out.

A source's day effect (day-to-day variation of arrivals) is the original calibration's in
every resample: copies of a deal arrive together, so a resample's own daily counts are
over-dispersed by construction. With a day effect the resampled rate's spread is widened
by the square root of the daily counts' index of dispersion (a Poisson count of deals
understates it).

Resample b draws from the stream ``bootstrap`` of replication b of the forecast's seed
(:class:`salessim.rng.RandomStreams`), so the result is the same bit for bit whatever runs
the calibrations and replications (``map`` or a process pool).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from salessim import engine
from salessim.calibrate.readers import ExportError
from salessim.calibrate.visits import Visits
from salessim.errors import ScenarioError, UsageError
from salessim.forecast.deals import Snapshot
from salessim.forecast.simulate import (
    OVERDISPERSED,
    PERIODS,
    PLAIN_BAND,
    Forecast,
    forecast_scenario,
    overdispersed,
    summarise,
)
from salessim.rng import RandomStreams
from salessim.scenario.schema import Scenario

#: The random stream of the resampling.
STREAM = "bootstrap"
#: Resamples when none are asked for (docs/forecast.md says why).
DEFAULT_RESAMPLES = 20
#: Fewest resamples: with fewer the parameters' spread is hardly sampled.
MIN_RESAMPLES = 2


def check_resamples(resamples: object, replications: int) -> int:
    """The number of resamples, checked: an integer from 2 to the replications.

    Raises:
        UsageError: anything else (the message names ``--resamples`` and the value).
    """
    count = (int(resamples) if isinstance(resamples, numbers.Integral)
             and not isinstance(resamples, bool) else None)
    if count is None or not MIN_RESAMPLES <= count <= replications:
        raise UsageError(f"--resamples: the bootstrap needs from {MIN_RESAMPLES} to the "
                         f"number of replications ({replications}) resamples, each with at "
                         f"least one replication, got {resamples!r}")
    return count


def resample_counts(n: int, rng: np.random.Generator) -> np.ndarray:
    """How many copies of each of ``n`` deals a resample holds.

    Poisson(n) deals drawn with replacement: the counts are Multinomial(Poisson(n), 1/n
    each), that is independent Poisson(1) counts.
    """
    size = int(rng.poisson(n))
    return np.bincount(rng.integers(0, n, size), minlength=n)


def resample_visits(visits: Visits, rng: np.random.Generator) -> Visits:
    """One bootstrap resample of the history's deals, each with all its visits.

    The period (start, as-of date), the end stages and the data's warnings are the
    history's; the k-th copy of deal ``d`` is deal ``d#k`` (k from 0).

    Raises:
        ExportError: a history with fewer than 2 deals (nothing to resample).
    """
    deals = visits.deals
    if len(deals) < 2:
        raise ExportError(f"the bootstrap needs at least 2 deals in the history, got "
                          f"{len(deals)}")
    counts = resample_counts(len(deals), rng)
    pick = deals.loc[np.repeat(np.arange(len(deals)), counts)].copy()
    copy = pick.groupby("deal_id", sort=False).cumcount().astype(str)
    # The ids keep the history's dtype: the calibration compares and groups them.
    new_id = (pick["deal_id"].astype(str) + "#" + copy).astype(deals["deal_id"].dtype)
    ids = pd.DataFrame({"deal_id": pick["deal_id"].to_numpy(), "new_id": new_id.to_numpy()})
    v = visits.visits.merge(ids, on="deal_id", how="inner", sort=False)
    v = v.assign(deal_id=v.pop("new_id"))
    v = v.sort_values(["deal_id", "entered_at"], kind="stable").reset_index(drop=True)
    pick = pick.assign(deal_id=new_id.to_numpy()).reset_index(drop=True)
    return replace(visits, visits=v, deals=pick, warnings=list(visits.warnings))


def _calibrate_resample(task: tuple) -> dict[str, Any]:
    """Resample b of the history, calibrated: the scenario as plain data (picklable)."""
    from salessim.calibrate.pipeline import calibrate_visits

    visits, b, seed, origin, touch, families = task
    sample = resample_visits(visits, RandomStreams(seed, b).generator(STREAM))
    try:
        cal = calibrate_visits(sample, origin, touch, run_backtest=False, report=False,
                               families=families)
    except (ExportError, ScenarioError) as exc:
        raise ExportError(f"bootstrap resample {b}: {exc}") from None
    return cal.scenario.model_dump(by_alias=True)


def bootstrap_scenarios(visits: Visits, original: Scenario, resamples: int, seed: int,
                        origin: str = "<history>", touch: dict[str, float] | None = None,
                        families: dict | None = None,
                        mapper: Callable[[Callable, Iterable], Iterable] = map
                        ) -> tuple[list[Scenario], list[str]]:
    """The scenarios calibrated on ``resamples`` bootstrap resamples of ``visits``.

    A stage or source that a resample does not have (no deal of the resample reached it)
    keeps ``original``'s: the open deals may sit there. Said in the returned notes.

    Args:
        visits: the history the original scenario was calibrated on.
        original: that calibrated scenario.
        resamples: B, the number of resamples.
        seed: the forecast's root seed (resample b uses stream ``bootstrap`` of
            replication b).
        origin: the history's name, for messages.
        touch: staff work per stage (days), as given to the original calibration.
        families: the fit of time in stage per stage id that the original chose
            (``StageTimes.chosen``): each resample refits that family.
        mapper: a ``map``-like function running the calibrations.
    """
    tasks = [(visits, b, seed, origin, touch or {}, families) for b in range(resamples)]
    base = original.model_dump(by_alias=True)
    scenarios: list[Scenario] = []
    filled: dict[str, set[str]] = {"stages": set(), "sources": set()}
    for data in mapper(_calibrate_resample, tasks):
        for part in ("stages", "sources"):
            for key, spec in base[part].items():
                if key not in data[part]:
                    data[part][key] = spec
                    filled[part].add(key)
        for key, spec in data["sources"].items():
            _keep_day_effect(spec, base["sources"].get(key))
            _widen_rate(spec, original.sources.get(key), original.time_unit)
        data.update(name=original.name, seed=original.seed,
                    replications=original.replications, horizon=original.horizon)
        scenarios.append(Scenario.model_validate(data,
                                                 context={"time_unit": original.time_unit}))
    notes = [f"bootstrap: {part[:-1]} {key!r} was missing from some resamples and kept its "
             "calibrated values there" for part in ("stages", "sources")
             for key in sorted(filled[part])]
    return scenarios, notes


def _keep_day_effect(spec: dict, original: dict | None) -> None:
    """A resampled source keeps the original's day effect (or its absence).

    The copies of a deal arrive at the same moment, so a resample's daily counts are
    over-dispersed by construction (index of dispersion near 2 with Poisson(1) copies): its
    own fit would find a day effect the data do not have. The day-to-day variation is the
    history's, estimated once; the resamples carry the uncertainty of the rest.
    """
    effect = ((original or {}).get("profile") or {}).get("day_effect")
    profile = {k: v for k, v in (spec.get("profile") or {}).items()
               if v is not None and k != "day_effect"}
    if effect is not None:
        profile["day_effect"] = effect
    spec["profile"] = profile or None


def _widen_rate(spec: dict, original, time_unit: str) -> None:
    """Over-dispersed arrivals: the resample's rate moved from the original's by its
    bootstrap deviation times sqrt(D), D = 1 + m / k the index of dispersion of daily
    counts of mean m under a day effect of shape k.

    Resampling deals draws the count of leads as Poisson (variance n); under a day effect
    its variance is n D, the rate's standard error sqrt(D) times the Poisson one (the
    calibration's own interval of the rate, from the days' spread, says the same).
    """
    if original is None or original.profile is None or original.profile.day_effect is None:
        return
    from salessim.scenario.units import convert

    per_day = original.rate * convert(1.0, "day", time_unit)
    dispersion = 1.0 + per_day / original.profile.day_effect.shape
    moved = original.rate + (spec["rate"] - original.rate) * dispersion ** 0.5
    spec["rate"] = max(moved, original.rate / 100)  # a rate stays positive


def _replicate(task: tuple) -> engine.Replication:
    scenario, replication, seed = task
    return engine.run_replication(scenario, replication, seed, watch_wins=True)


def run_bootstrap_forecast(original: Scenario, scenarios: list[Scenario], snapshot: Snapshot,
                           until: pd.Timestamp, replications: int, seed: int,
                           period: str = "month",
                           mapper: Callable[[Callable, Iterable], Iterable] = map,
                           progress: Callable[[object], None] | None = None) -> Forecast:
    """The forecast with replication r on ``scenarios[r % B]`` (see the module's docstring).

    The weighted pipeline and the stage probabilities are the original scenario's.
    """
    if period not in PERIODS:
        raise UsageError(f"--period: one of {', '.join(PERIODS)}, got {period!r}")
    check_resamples(len(scenarios), replications)
    ready = forecast_scenario(original, snapshot, until, replications, seed)
    runs = [forecast_scenario(s, snapshot, until, replications, seed) for s in scenarios]
    tasks = [(runs[r % len(runs)], r, seed) for r in range(replications)]
    reps = []
    for rep in mapper(_replicate, tasks):
        reps.append(rep)
        if progress is not None:
            progress(rep)
    out = summarise(ready, snapshot, until, reps, period)
    out.band = band_name(len(scenarios), any(overdispersed(s) for s in scenarios))
    return out


def band_name(resamples: int = 0, over_dispersed: bool = False) -> str:
    """How a forecast's band was made, in the words forecast.csv and the report use:
    ``over_dispersed`` when arrivals carry a day effect."""
    extra = OVERDISPERSED if over_dispersed else ""
    if not resamples:
        return PLAIN_BAND + extra
    return (f"process randomness{extra} and parameter uncertainty (bootstrap, {resamples} "
            "resamples)")


#: Scenario fields a calibration does not estimate: they may differ from the history's.
UNESTIMATED = ("name", "seed", "replications", "horizon", "description", "provenance")


def calibration_of(visits: Visits, scenario: Scenario, origin: str = "<history>"):
    """The calibration of ``visits`` that gave ``scenario``, or a clear error.

    The bootstrap calibrates each resample as the scenario was calibrated, so the scenario
    must be what ``salessim calibrate`` writes for this history: the staff work per stage
    (``--touch``) is read from the scenario (an ``owner`` stage's exponential ``work``);
    everything else the calibration estimates must be the same.

    Returns:
        The :class:`~salessim.calibrate.pipeline.CalibrationResult` of ``visits``.

    Raises:
        UsageError: the scenario is not the calibration of the history (the message names
            the first field that differs and both values).
    """
    from salessim.calibrate.pipeline import calibrate_visits
    from salessim.calibrate.writer import ROLE

    touch = {sid: float(stage.work.mean) for sid, stage in scenario.stages.items()
             if stage.role == ROLE and stage.work is not None
             and getattr(stage.work, "dist", None) == "exponential"}
    cal = calibrate_visits(visits, origin, touch, run_backtest=False, report=False)
    ours = cal.scenario.model_dump(by_alias=True, exclude=set(UNESTIMATED))
    theirs = scenario.model_dump(by_alias=True, exclude=set(UNESTIMATED))
    where = _first_difference(ours, theirs)
    if where is not None:
        path, mine, given = where
        raise UsageError(f"--history {origin}: the scenario is not its calibration, so its "
                         f"resamples cannot be calibrated the same way: {path} is {given!r} "
                         f"in the scenario but {mine!r} calibrated from the history (give "
                         "the scenario `salessim calibrate` wrote from it, or leave out "
                         "--history)")
    return cal


def _first_difference(a: object, b: object, path: str = "") -> tuple[str, object, object] | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    return None if a == b else (path, a, b)
