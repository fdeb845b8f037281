"""The forecast back-test's results: one scored :class:`Window` per as-of date, and the
:class:`Backtest` that holds them, sums them up, draws and writes them.

:func:`salessim.forecast.backtest.run_backtest` makes them (and re-exports these names).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salessim import stats
from salessim.forecast import score
from salessim.forecast.bootstrap import band_name

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

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
        run_rate, error_run_rate: the naive run rate (bookings per day over the 90 days
            before as_of, times the horizon) and its error
            (:mod:`salessim.forecast.horizons`).
        accuracy_p50, accuracy_weighted, accuracy_run_rate: forecast / actual, the
            Gong-style accuracy (NaN when nothing was booked).
        band: what the forecast's band holds (``Forecast.band``).
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
    run_rate: float = math.nan
    error_run_rate: float = math.nan
    accuracy_p50: float = math.nan
    accuracy_weighted: float = math.nan
    accuracy_run_rate: float = math.nan
    band: str = ""


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
        horizons: each forecast scored at each horizon of
            :data:`salessim.forecast.horizons.HORIZON_WEEKS` that fits in the window (one
            row per as-of date and horizon; ``backtest_horizons.csv``).
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
    horizons: pd.DataFrame | None = None

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

        ``overlapping`` says the windows overlap (``every_days < horizon_days``, and more
        than one window): the forecasts are then not independent and the interval of the
        coverage, like that of ``mae_gain`` (weighted pipeline's absolute error minus the
        P50's, per window, with its Student-t 95% interval), is too narrow.

        Beside the weighted pipeline, the naive run rate (``run_rate_mae``), and for each
        point forecast the Gong-style accuracy: the share of windows whose forecast /
        actual lies within 85-115% (``<point>_on_target`` with its Wilson interval).
        ``band`` says what the bands hold.
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
            "overlapping": bool(self.every_days < self.horizon_days and cov.n > 1),
            "replications": self.replications,
            "calibrated": self.calibrated,
            "resamples": self.resamples,
            "band": self._band(t),
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
            "run_rate_mae": score.mean_absolute_error(t["run_rate"], actual),
            "run_rate_bias": float(t["error_run_rate"].mean()) if cov.n else math.nan,
            **self._on_target(t),
            **(self._plain_summary(t) if self.resamples else {}),
        }

    def _band(self, t: pd.DataFrame) -> str:
        """What the bands hold: the forecasts' own words, or how many windows said which."""
        said = [b for b in t["band"] if b] if "band" in t else []
        if not said:
            return band_name(self.resamples)
        counts = pd.Series(said).value_counts(sort=False)
        if len(counts) == 1:
            return str(counts.index[0])
        return "; ".join(f"{b} ({n} of {len(said)} windows)" for b, n in counts.items())

    @staticmethod
    def _on_target(t: pd.DataFrame) -> dict[str, Any]:
        from salessim.forecast.horizons import POINTS, on_target

        out: dict[str, Any] = {}
        for point in POINTS:
            on = on_target(t[f"accuracy_{point}"])
            out |= {f"{point}_on_target": on.share, f"{point}_on_target_low": on.low,
                    f"{point}_on_target_high": on.high, f"{point}_on_target_n": on.n}
        return out

    def horizon_table(self) -> pd.DataFrame:
        """``backtest_horizons.csv``: each forecast scored at each horizon that fits."""
        from salessim.forecast.horizons import COLUMNS

        if self.horizons is None:
            return pd.DataFrame(columns=list(COLUMNS))
        return self.horizons

    def horizon_scores(self) -> pd.DataFrame:
        """``coverage_by_horizon.csv``: per horizon, the coverage with its Wilson interval
        against the nominal 80%, and the point forecasts' errors and Gong-style accuracy
        (:func:`salessim.forecast.horizons.horizon_scores`)."""
        from salessim.forecast.horizons import horizon_scores

        return horizon_scores(self.horizon_table(), self.every_days)

    def _plain_summary(self, t: pd.DataFrame) -> dict[str, Any]:
        """The coverage without the bootstrap, from the same calibrations and random numbers."""
        cov = score.coverage(t["inside_plain"].to_numpy(bool))
        return {"inside_plain": cov.inside, "coverage_plain": cov.share,
                "coverage_plain_low": cov.low, "coverage_plain_high": cov.high}

    def figure_png(self) -> bytes:
        """``backtest.png``: :meth:`figure` as PNG bytes."""
        buf = io.BytesIO()
        self.figure().savefig(buf, format="png")
        return buf.getvalue()

    def figure(self) -> Figure:
        """Per as-of date the actual beside the band, the P50 and the weighted pipeline
        (matplotlib's Agg canvas, no global state)."""
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
        # Whole amounts with separators on the axis (not 1e6 above it); the legend below
        # the axes, clear of the windows' markers.
        from matplotlib.ticker import FuncFormatter

        from salessim.kpis import format_plain

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_plain(v)))
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=4,
                   fontsize=8)
        ax.set_xlim(*self.date_span())
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        return fig

    def date_span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The plot's x range: the windows' ends with a tenth of a horizon (at least a day)
        either side, so one window is not drawn on an axis of years."""
        ends = pd.to_datetime(pd.Series([w.until for w in self.windows]))
        pad = pd.Timedelta(days=max(1.0, self.horizon_days / 10))
        if ends.empty:
            return pd.Timestamp(0) - pad, pd.Timestamp(0) + pad
        return ends.min() - pad, ends.max() + pad

    def write(self, out: str | Path) -> list[Path]:
        """Write backtest.csv, backtest_horizons.csv, coverage_by_horizon.csv and
        backtest.png into ``out``, each whole or not at all."""
        from salessim.output import atomic_path
        from salessim.records import write_frame

        out = Path(out)
        table, png = self.table(), self.figure_png()  # everything built before writing
        rows, by_horizon = self.horizon_table(), self.horizon_scores()
        write_frame(table, out / "backtest.csv")
        write_frame(rows, out / "backtest_horizons.csv")
        write_frame(by_horizon, out / "coverage_by_horizon.csv")
        with atomic_path(out / "backtest.png") as tmp:
            tmp.write_bytes(png)
        return [out / "backtest.csv", out / "backtest_horizons.csv",
                out / "coverage_by_horizon.csv", out / "backtest.png"]
