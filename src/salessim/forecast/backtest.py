"""The forecast back-test: would the forecast have been right?

``run_backtest`` takes a history (any export ``salessim calibrate`` reads) and goes back to
several as-of dates. At each one it sees only what was known then (``Visits.cut``),
calibrates a scenario on it, forecasts the bookings of the next ``horizon_days`` from the
deals open then and the leads still to come (``run_forecast``), and sets the forecast
beside what then happened: the amounts of the deals won in (as-of, as-of + horizon],
whether they were open at the as-of date or created later.

The as-of dates: the first is at midnight, at least :data:`MIN_HISTORY_DAYS` days after the
start of the history (midnight of the first deal's creation) and, when a scenario is
calibrated at each date, late enough that every stage has had :data:`MIN_EXITS` exits (the
calibration's threshold for fitting more than the exponential; stages that never reach it
in the whole history are not waited for): with fewer, a stage's routing shares come from a
handful of exits and the band, which leaves out the uncertainty of the parameters, is far
too narrow. Then one every ``every_days``, the last one such that its window ends by the
end of the data.
With ``every_days >= horizon_days`` the windows do not overlap, and the outcome of each
forecast is known before the next is made: only then are the forecasts independent trials,
as the coverage's Wilson interval assumes.

Scores per forecast (:mod:`salessim.forecast.score`): the actual inside the P10-P90 band
or not, its place in the forecast distribution (PIT, the share of replications at or below
it), the errors of the P50, and the CRPS; the same errors for the weighted pipeline (sum of
amount x the stage's chance to be won, a point forecast: its CRPS is its absolute error).

What the band leaves out without ``resamples``: a calibrated scenario's parameters are
estimates, and the band is then the simulation's spread with them taken as true. On a short
history (a few hundred deals) it is too narrow and covers fewer than 80% of the actuals, the
more so the longer the horizon; with the true process the coverage is what a correct
forecast gives (tests/test_forecast_backtest.py measures both). ``salessim forecast
--backtest`` and :func:`salessim.api.backtest` therefore bootstrap by default
(tests/test_forecast_exits_coverage.py). Each forecast is also scored at the horizons of
:mod:`salessim.forecast.horizons` that fit in its window, beside the naive run rate.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from salessim.calibrate.durations import MIN_EXITS
from salessim.calibrate.exits import chosen_families
from salessim.calibrate.pipeline import calibrate_visits, read_visits
from salessim.calibrate.readers import ExportError
from salessim.calibrate.visits import DAY, Visits
from salessim.ends import WON
from salessim.errors import ScenarioError, UsageError
from salessim.forecast import horizons, score
from salessim.forecast.bootstrap import (
    bootstrap_scenarios,
    check_resamples,
    run_bootstrap_forecast,
)
from salessim.forecast.deals import snapshot_from_visits
from salessim.forecast.simulate import run_forecast
from salessim.forecast.windows import LEVEL, Backtest, Window
from salessim.rng import stable_key
from salessim.scenario.schema import Scenario

#: Days of history before the first as-of date: enough weeks for the arrival rates and their
#: weekday shape, and for most visits of the first weeks to have ended (a short history is
#: mostly censored visits).
MIN_HISTORY_DAYS = 60.0
#: Most as-of dates of one back-test: each calibrates a scenario and simulates a forecast,
#: so --every "1 minute" over half a year (259,200 of them) would run for weeks.
MAX_FORECASTS = 1_000

#: Fewer windows than this and a back-test says its coverage cannot be judged: even all of
#: 3 inside the band leaves a Wilson 95% interval of 44% to 100%.
MIN_WINDOWS = 4


def few_windows(count: int, every_days: float, horizon_days: float) -> str:
    """The warning of a back-test with fewer than :data:`MIN_WINDOWS` windows."""
    from salessim.calibrate.estimate import wilson

    low, high = wilson(count, count)
    return (f"only {count} window{'s' if count != 1 else ''}: the coverage of the P10-P90 "
            f"band cannot be judged from fewer than {MIN_WINDOWS} (even {count} of {count} "
            f"inside leaves a 95% interval of {low:.0%} to {high:.0%}); give a longer history "
            f"or a shorter --every (now {every_days:g} days for a {horizon_days:g}-day "
            "horizon)")


# The results (Window, Backtest, LEVEL) are defined in salessim.forecast.windows.
__all__ = ["LEVEL", "MAX_FORECASTS", "MIN_HISTORY_DAYS", "MIN_WINDOWS", "Backtest", "Window", "actual_bookings", "as_of_dates",
           "forecast_seed", "run_backtest"]


def as_of_dates(visits: Visits, every_days: float, horizon_days: float,
                min_history_days: float = MIN_HISTORY_DAYS, min_exits: int = MIN_EXITS
                ) -> list[pd.Timestamp]:
    """The as-of dates of a back-test (see the module's docstring).

    Raises:
        UsageError: a spacing or horizon that is not a positive finite number of days.
        ExportError: a history too short for one forecast.
    """
    for name, value in (("--every", every_days), ("--horizon", horizon_days),
                        ("min_history_days", min_history_days)):
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or value <= 0):
            raise UsageError(f"{name}: must be a positive number of days, got {value!r}")
    first = visits.start + min_history_days * DAY
    if min_exits:
        first = max(first, _exits_reached(visits, min_exits))
    first = first.ceil("D")
    last = visits.as_of - horizon_days * DAY
    if first > last:
        why = (f"{min_history_days:g} days to calibrate on" if not min_exits else
               f"{min_history_days:g} days and {min_exits} exits from every stage to "
               f"calibrate on (reached {first})")
        raise ExportError(f"the history runs {visits.days:.1f} days ({visits.start} to "
                          f"{visits.as_of}); a back-test needs {why} plus the "
                          f"{horizon_days:g}-day horizon")
    span = (last - first) / DAY
    steps = math.floor(min(span / every_days, 1e15))  # in days: a nanosecond step is no 0
    if steps + 1 > MAX_FORECASTS:
        raise UsageError(
            f"--every {every_days:g} days gives {steps + 1:,} as-of dates in the {span:.1f} days "
            f"from {first} to {last}, each calibrated and forecast (about {steps + 1:,} "
            f"calibrations and {steps + 1:,} times the replications); the limit is "
            f"{MAX_FORECASTS:,}: give --every of at least {span / (MAX_FORECASTS - 1):.3g} days")
    dates = [first + k * every_days * DAY for k in range(steps + 2)]
    return [d for d in dates if d <= last]  # the division rounds: the last step checked


def _exits_reached(visits: Visits, min_exits: int) -> pd.Timestamp:
    """When the last of the stages that ever get ``min_exits`` exits got them."""
    v = visits.visits
    exits = v.loc[v["exited_at"].notna(), ["stage", "exited_at"]]
    nth = exits.groupby("stage")["exited_at"].apply(
        lambda t: t.nsmallest(min_exits).iloc[-1] if len(t) >= min_exits else pd.NaT)
    nth = nth.dropna()
    return nth.max() if len(nth) else visits.start


def actual_bookings(visits: Visits, as_of: pd.Timestamp, until: pd.Timestamp
                    ) -> tuple[float, float]:
    """Amounts won in (as_of, until]: of deals created by as_of, and of deals created later.

    A deal without an amount counts 0, as it does in the forecast's open pipeline.
    """
    d = visits.deals
    won = d[(d["outcome"] == WON.name) & (d["closed_at"] > as_of) & (d["closed_at"] <= until)]
    amount = won["amount"].fillna(0.0).astype(float)
    old = (won["created_at"] <= as_of).to_numpy()
    return float(amount[old].sum()), float(amount[~old].sum())


def forecast_seed(seed: int, k: int) -> int:
    """The root seed of the k-th forecast: derived from ``seed`` and k, so the forecasts of
    one back-test do not share random numbers (their errors would then be correlated) and
    the same ``seed`` gives the same back-test."""
    seq = np.random.SeedSequence(seed, spawn_key=(stable_key("backtest"), k))
    return int(seq.generate_state(1)[0])


def run_backtest(path: str | Path | None, every_days: float, horizon_days: float,
                 replications: int = 200, seed: int = 1,
                 mapper: Callable[[Callable, Iterable], Iterable] = map,
                 progress: Callable[[object], None] | None = None,
                 visits: Visits | None = None, scenario: Scenario | None = None,
                 min_history_days: float = MIN_HISTORY_DAYS, resamples: int = 0,
                 plain: bool = True) -> Backtest:
    """Back-test the forecast on a history (see the module's docstring).

    Args:
        path: the history, any format ``salessim calibrate`` reads; with ``visits`` only
            its name in messages (may be None).
        every_days: days between as-of dates.
        horizon_days: days forecast from each as-of date.
        replications: replications per forecast (at least 2).
        seed: root seed; the k-th forecast runs on :func:`forecast_seed` (seed, k).
        mapper: a ``map``-like function running the replications of each forecast.
        progress: called with each finished replication of every forecast, in order:
            ``replications`` times ``len(as_of_dates(visits, every_days, horizon_days,
            min_history_days))`` calls in all (with ``min_exits=0`` when ``scenario`` is
            given).
        visits: the history already read (``read_visits``), instead of reading ``path``.
        scenario: forecast with this scenario at every as-of date instead of calibrating
            one on what was known then (its stage and source ids must match the history's).
        min_history_days: days of history before the first as-of date (see the module's
            docstring for the rest of the rule).
        resamples: with B > 0, each forecast's band holds the calibrated parameters'
            uncertainty too: B bootstrap resamples of what was known at the as-of date, each
            calibrated as the scenario was, replication r on resample r mod B
            (:mod:`salessim.forecast.bootstrap`; the calibrations run through ``mapper``).
            The forecast without it is scored beside it (the ``*_plain`` columns; its
            replications are not in ``progress``). Needs a calibrated scenario (no
            ``scenario``) and B <= ``replications``.
        plain: with the bootstrap, score the forecast without it beside it (False saves
            its replications; the ``*_plain`` columns are then NaN).

    Raises:
        UsageError: a bad spacing, horizon or number of replications.
        ExportError: the history cannot be read, is too short, or cannot be calibrated at
            an as-of date (the message names the date).
    """
    if (isinstance(replications, bool) or not isinstance(replications, numbers.Integral)
            or replications < 2):
        raise UsageError(f"--replications: a back-test needs at least 2 per forecast, got "
                         f"{replications!r}")
    if visits is None:
        if path is None:
            raise UsageError("run_backtest: give the history's path or its visits")
        visits = read_visits(path)
    origin = "<history>" if path is None else str(path)
    dates = as_of_dates(visits, every_days, horizon_days, min_history_days,
                        MIN_EXITS if scenario is None else 0)
    replications = int(replications)
    if resamples:
        if scenario is not None:
            raise UsageError("--parameter-uncertainty: the bootstrap re-calibrates at each "
                             "as-of date; it does not apply to a given scenario")
        resamples = check_resamples(resamples, replications)
    windows, samples, rows = [], [], []
    said: dict[str, list[pd.Timestamp]] = {}  # each warning once, with the dates it held
    for k, as_of in enumerate(dates):
        until = as_of + horizon_days * DAY
        fc, plain, snap, notes = forecast_at(visits, as_of, until, replications,
                                             forecast_seed(seed, k), origin, scenario,
                                             resamples, mapper, progress, plain)
        for note in notes + fc.warnings:
            said.setdefault(note, []).append(as_of)
        from_open, from_new = actual_bookings(visits, as_of, until)
        rate = horizons.run_rate(visits, as_of)
        window = _window(as_of, until, len(snap.deals), from_open, from_new, fc.bookings,
                         fc.weighted_pipeline, rate * horizon_days, fc.band)
        if plain is not None:
            p10, p90 = score.band(plain.bookings, LEVEL)
            actual = from_open + from_new
            window = replace(window, mean_plain=float(plain.bookings.mean()),
                             p10_plain=p10, p90_plain=p90,
                             p50_plain=float(np.quantile(plain.bookings, 0.5)),
                             inside_plain=score.inside(actual, p10, p90),
                             pit_plain=float((plain.bookings <= actual).mean()))
        windows.append(window)
        samples.append(fc.bookings.copy())
        rows += horizons.horizon_rows(visits, as_of, fc.cumulative, fc.weighted_pipeline,
                                      rate, horizon_days)
    warnings = [note if len(when) == len(dates) else
                f"{note} (as-of {', '.join(f'{d:%Y-%m-%d}' for d in when)})"
                for note, when in said.items()]
    if len(dates) < MIN_WINDOWS:
        warnings.append(few_windows(len(dates), every_days, horizon_days))
    return Backtest(windows, float(every_days), float(horizon_days), replications, seed,
                    origin, scenario is None, samples, warnings, resamples,
                    pd.DataFrame(rows, columns=horizons.COLUMNS))


def forecast_at(visits: Visits, as_of: pd.Timestamp, until: pd.Timestamp, replications: int,
                root: int, origin: str = "<history>", scenario: Scenario | None = None,
                resamples: int = 0, mapper: Callable[[Callable, Iterable], Iterable] = map,
                progress: Callable[[object], None] | None = None, plain: bool = True):
    """The forecast made at ``as_of`` from what was known then, to ``until``.

    Calibrates on ``visits.cut(as_of)`` (unless ``scenario`` is given), and with
    ``resamples`` > 0 forecasts with the bootstrap (and, with ``plain``, without it too).

    Returns:
        (forecast, the same without the bootstrap or None, the open deals, the notes).

    Raises:
        ExportError: what was known cannot be calibrated or forecast (names the date).
    """
    known = visits.cut(as_of)
    without = None
    try:
        if scenario is None:
            cal = calibrate_visits(known, origin, replications=replications, seed=root,
                                   run_backtest=False, report=False)
            ready, notes = cal.scenario, list(cal.warnings)
        else:
            ready, notes = scenario, list(known.warnings)  # the data's own findings
        snap = snapshot_from_visits(known, ready, origin)
        if resamples:
            families = chosen_families(cal.calibration)  # exits stages keep their form
            scenarios, more = bootstrap_scenarios(known, ready, resamples, root, origin,
                                                  cal.calibration.touch, families, mapper)
            notes += more
            fc = run_bootstrap_forecast(ready, scenarios, snap, until, replications, root,
                                        mapper=mapper, progress=progress)
            without = (run_forecast(ready, snap, until, replications, root, mapper=mapper)
                       if plain else None)
        else:
            fc = run_forecast(ready, snap, until, replications, root, mapper=mapper,
                              progress=progress)
    except (ExportError, ScenarioError) as exc:
        raise ExportError(f"back-test at as-of {as_of}: {exc}") from None
    return fc, without, snap, notes


def _window(as_of: pd.Timestamp, until: pd.Timestamp, open_deals: int, from_open: float,
            from_new: float, sample: np.ndarray, weighted: float, naive: float,
            band: str) -> Window:
    actual = from_open + from_new
    p10, p90 = score.band(sample, LEVEL)
    p50 = float(np.quantile(sample, 0.5))
    return Window(as_of, until, open_deals, actual, from_open, from_new,
                  float(sample.mean()), p10, p50, p90, score.inside(actual, p10, p90),
                  float((sample <= actual).mean()), weighted, p50 - actual,
                  weighted - actual, score.crps_sample(sample, actual),
                  abs(weighted - actual), run_rate=naive, error_run_rate=naive - actual,
                  accuracy_p50=horizons.accuracy(p50, actual),
                  accuracy_weighted=horizons.accuracy(weighted, actual),
                  accuracy_run_rate=horizons.accuracy(naive, actual), band=band)
