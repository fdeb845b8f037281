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

What the band leaves out: a calibrated scenario's parameters are estimates, and the band is
the simulation's spread with them taken as true. On a short history (a few hundred deals)
the band is then too narrow and covers fewer than 80% of the actuals, the more so the longer
the horizon; with the true process the coverage is what a correct forecast gives
(tests/test_forecast_backtest.py measures both).
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salessim import stats
from salessim.calibrate.durations import MIN_EXITS
from salessim.calibrate.pipeline import calibrate_visits, read_visits
from salessim.calibrate.readers import ExportError
from salessim.calibrate.visits import DAY, Visits
from salessim.errors import ScenarioError, UsageError
from salessim.forecast import score
from salessim.forecast.bootstrap import (
    band_name,
    bootstrap_scenarios,
    check_resamples,
    run_bootstrap_forecast,
)
from salessim.forecast.deals import snapshot_from_visits
from salessim.forecast.simulate import run_forecast
from salessim.rng import stable_key
from salessim.scenario.schema import Scenario

#: Days of history before the first as-of date: enough weeks for the arrival rates and their
#: weekday shape, and for most visits of the first weeks to have ended (a short history is
#: mostly censored visits).
MIN_HISTORY_DAYS = 60.0
#: The band scored: P10 to P90.
LEVEL = 0.8


@dataclass(frozen=True)
class Window:
    """One forecast of the back-test beside what happened (a row of ``backtest.csv``).

    Attributes:
        as_of: the as-of date (what was known then was used).
        until: the end of the window, as_of + horizon.
        open_deals: deals open at as_of.
        actual: bookings in (as_of, until]: amounts of the deals won then.
        actual_from_open, actual_from_new: of which deals open at as_of, deals created later.
        mean, p10, p50, p90: the forecast distribution of bookings.
        inside: p10 <= actual <= p90.
        pit: share of replications with bookings <= actual.
        weighted: the weighted pipeline at as_of.
        error_p50, error_weighted: forecast - actual.
        crps, crps_weighted: CRPS of the forecast sample, and of the weighted pipeline.
        mean_plain, p10_plain, p50_plain, p90_plain, inside_plain, pit_plain: with the
            bootstrap, the
            same forecast without it (the calibrated parameters taken as true, the same
            random numbers), side by side; NaN without the bootstrap.
    """

    as_of: pd.Timestamp
    until: pd.Timestamp
    open_deals: int
    actual: float
    actual_from_open: float
    actual_from_new: float
    mean: float
    p10: float
    p50: float
    p90: float
    inside: bool
    pit: float
    weighted: float
    error_p50: float
    error_weighted: float
    crps: float
    crps_weighted: float
    mean_plain: float = math.nan
    p10_plain: float = math.nan
    p50_plain: float = math.nan
    p90_plain: float = math.nan
    inside_plain: float = math.nan
    pit_plain: float = math.nan


#: The columns of a plain forecast beside the bootstrap's (in backtest.csv with it only).
PLAIN_COLUMNS = ("mean_plain", "p10_plain", "p50_plain", "p90_plain", "inside_plain", "pit_plain")


@dataclass
class Backtest:
    """The forecasts of a back-test, one :class:`Window` per as-of date.

    Attributes:
        windows: the scored forecasts, in time order.
        every_days, horizon_days: the spacing of the as-of dates and the window length.
        replications: replications per forecast.
        seed: the root seed.
        origin: the history's file (or a name for it).
        calibrated: whether a scenario was calibrated at each as-of (else one was given).
        resamples: bootstrap resamples per forecast (0: the band leaves out the parameters'
            uncertainty; :mod:`salessim.forecast.bootstrap`).
        samples: per window, the bookings of each replication.
        warnings: what was assumed or found, in words, each once (with the as-of dates it
            held at, unless all).
    """

    windows: list[Window]
    every_days: float
    horizon_days: float
    replications: int
    seed: int
    origin: str
    calibrated: bool = True
    samples: list[np.ndarray] | None = None
    warnings: list[str] | None = None
    resamples: int = 0

    def table(self) -> pd.DataFrame:
        """``backtest.csv``: one row per as-of date, the columns of :class:`Window` (those
        of the forecast without the bootstrap only with it)."""
        columns = [f.name for f in fields(Window)
                   if self.resamples or f.name not in PLAIN_COLUMNS]
        out = pd.DataFrame([asdict(w) for w in self.windows], columns=columns)
        if self.resamples:
            out["inside_plain"] = out["inside_plain"].astype(bool)
        return out

    def summary(self) -> dict[str, Any]:
        """Coverage of the P10-P90 band with its Wilson 95% interval, and the errors of the
        P50 and of the weighted pipeline side by side (MAPE over windows that booked).

        ``overlapping`` says the windows overlap (``every_days < horizon_days``): the
        forecasts are then not independent and the interval of the coverage, like that of
        ``mae_gain`` (weighted pipeline's absolute error minus the P50's, per window, with
        its Student-t 95% interval), is too narrow.
        """
        t = self.table()
        cov = score.coverage(t["inside"].to_numpy(bool))
        actual = t["actual"].to_numpy(float)
        gain = stats.paired_difference(t["error_p50"].abs().to_numpy(float),
                                       t["error_weighted"].abs().to_numpy(float))
        return {
            "forecasts": cov.n,
            "every_days": self.every_days,
            "horizon_days": self.horizon_days,
            "overlapping": bool(self.every_days < self.horizon_days),
            "replications": self.replications,
            "calibrated": self.calibrated,
            "resamples": self.resamples,
            "band": band_name(self.resamples),
            "level": LEVEL,
            "inside": cov.inside,
            "coverage": cov.share,
            "coverage_low": cov.low,
            "coverage_high": cov.high,
            "p50_mae": score.mean_absolute_error(t["p50"], actual),
            "p50_mape": score.mean_absolute_percentage_error(t["p50"], actual),
            "crps_mean": float(t["crps"].mean()) if cov.n else math.nan,
            "weighted_mae": score.mean_absolute_error(t["weighted"], actual),
            "weighted_mape": score.mean_absolute_percentage_error(t["weighted"], actual),
            "crps_weighted_mean": float(t["crps_weighted"].mean()) if cov.n else math.nan,
            "p50_bias": float(t["error_p50"].mean()) if cov.n else math.nan,
            "weighted_bias": float(t["error_weighted"].mean()) if cov.n else math.nan,
            "mae_gain": float(gain.mean),
            "mae_gain_low": float(gain.ci_low),
            "mae_gain_high": float(gain.ci_high),
            "p50_closer": int((t["error_p50"].abs() < t["error_weighted"].abs()).sum()),
            **(self._plain_summary(t) if self.resamples else {}),
        }

    def _plain_summary(self, t: pd.DataFrame) -> dict[str, Any]:
        """The coverage without the bootstrap, from the same calibrations and random numbers."""
        cov = score.coverage(t["inside_plain"].to_numpy(bool))
        return {"inside_plain": cov.inside, "coverage_plain": cov.share,
                "coverage_plain_low": cov.low, "coverage_plain_high": cov.high}

    def figure_png(self) -> bytes:
        """``backtest.png``: per as-of date the actual beside the band, the P50 and the
        weighted pipeline (matplotlib's Agg canvas, no global state)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        t = self.table()
        fig = Figure(figsize=(8, 4), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        # Each window is its own forecast: bars and markers, no line joining them.
        x = t["until"].to_numpy()
        ax.vlines(x, t["p10"], t["p90"], color="tab:blue", alpha=0.3, lw=10,
                  label="forecast P10-P90")
        ax.plot(x, t["p50"], "_", color="tab:blue", ms=18, mew=2, label="forecast P50")
        ax.plot(x, t["weighted"], "x", color="tab:orange", ms=8, mew=2,
                label="weighted pipeline")
        ax.plot(x, t["actual"], "o", color="black", ms=5, label="actual bookings")
        s = self.summary()
        ax.set_title(f"Bookings in the {self.horizon_days:g} days to each date: "
                     f"{s['inside']} of {s['forecasts']} inside the P10-P90 band", fontsize=10)
        ax.set_xlabel(f"end of the window (as-of date + {self.horizon_days:g} days)")
        ax.set_ylabel("bookings")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="lower left")
        ax.tick_params(axis="x", labelrotation=30)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    def write(self, out: str | Path) -> list[Path]:
        """Write backtest.csv and backtest.png into ``out``, each whole or not at all."""
        from salessim.output import atomic_path
        from salessim.records import write_frame

        out = Path(out)
        table, png = self.table(), self.figure_png()  # everything built before writing
        write_frame(table, out / "backtest.csv")
        with atomic_path(out / "backtest.png") as tmp:
            tmp.write_bytes(png)
        return [out / "backtest.csv", out / "backtest.png"]


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
    steps = math.floor((last - first) / (every_days * DAY))
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
    won = d[(d["outcome"] == "won") & (d["closed_at"] > as_of) & (d["closed_at"] <= until)]
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
                 min_history_days: float = MIN_HISTORY_DAYS, resamples: int = 0) -> Backtest:
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
    windows, samples = [], []
    said: dict[str, list[pd.Timestamp]] = {}  # each warning once, with the dates it held
    for k, as_of in enumerate(dates):
        until = as_of + horizon_days * DAY
        known = visits.cut(as_of)
        try:
            if scenario is None:
                cal = calibrate_visits(known, origin, replications=replications, seed=seed,
                                       run_backtest=False, report=False)
                ready, notes = cal.scenario, list(cal.warnings)
            else:
                ready, notes = scenario, list(known.warnings)  # the data's own findings
            snap = snapshot_from_visits(known, ready, origin)
            root = forecast_seed(seed, k)
            if resamples:
                families = {sid: t.chosen for sid, t in cal.calibration.times.items()}
                scenarios, more = bootstrap_scenarios(known, ready, resamples, root, origin,
                                                      cal.calibration.touch, families, mapper)
                notes += more
                fc = run_bootstrap_forecast(ready, scenarios, snap, until, replications, root,
                                            mapper=mapper, progress=progress)
                plain = run_forecast(ready, snap, until, replications, root, mapper=mapper)
            else:
                fc = run_forecast(ready, snap, until, replications, root, mapper=mapper,
                                  progress=progress)
        except (ExportError, ScenarioError) as exc:
            raise ExportError(f"back-test at as-of {as_of}: {exc}") from None
        for note in notes + fc.warnings:
            said.setdefault(note, []).append(as_of)
        from_open, from_new = actual_bookings(visits, as_of, until)
        window = _window(as_of, until, len(snap.deals), from_open, from_new, fc.bookings,
                         fc.weighted_pipeline)
        if resamples:
            p10, p90 = score.band(plain.bookings, LEVEL)
            actual = from_open + from_new
            window = replace(window, mean_plain=float(plain.bookings.mean()),
                             p10_plain=p10, p90_plain=p90,
                             p50_plain=float(np.quantile(plain.bookings, 0.5)),
                             inside_plain=score.inside(actual, p10, p90),
                             pit_plain=float((plain.bookings <= actual).mean()))
        windows.append(window)
        samples.append(fc.bookings.copy())
    warnings = [note if len(when) == len(dates) else
                f"{note} (as-of {', '.join(f'{d:%Y-%m-%d}' for d in when)})"
                for note, when in said.items()]
    return Backtest(windows, float(every_days), float(horizon_days), replications, seed,
                    origin, scenario is None, samples, warnings, resamples)


def _window(as_of: pd.Timestamp, until: pd.Timestamp, open_deals: int, from_open: float,
            from_new: float, sample: np.ndarray, weighted: float) -> Window:
    actual = from_open + from_new
    p10, p90 = score.band(sample, LEVEL)
    p50 = float(np.quantile(sample, 0.5))
    return Window(as_of, until, open_deals, actual, from_open, from_new,
                  float(sample.mean()), p10, p50, p90, score.inside(actual, p10, p90),
                  float((sample <= actual).mean()), weighted, p50 - actual,
                  weighted - actual, score.crps_sample(sample, actual),
                  abs(weighted - actual))
