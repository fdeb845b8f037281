"""Score forecasts against a history: :func:`backtest` and its :class:`BacktestReport`.

    report = salessim.backtest("examples/crm/stage_history.csv", every=45, horizon=45)
    print(report.summary())
    report.to_frame()     # backtest.csv: one row per as-of date
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from salessim.forecast.backtest import Backtest


@dataclass(repr=False)
class BacktestReport:
    """Forecasts from as-of dates through a history, scored against what then happened."""

    backtest: Backtest
    every: float
    horizon: float
    replications: int
    quarters: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return (f"<BacktestReport: {len(self.to_frame())} forecasts every {self.every:g} "
                f"days for {self.horizon:g} days>")

    def scores(self) -> dict[str, Any]:
        """The headline scores as one flat map of plain numbers (``outer.inner`` names)."""
        return _plain(self.backtest.summary())

    def to_frame(self) -> pd.DataFrame:
        """``backtest.csv``: one row per as-of date."""
        return self.backtest.table()

    def horizons(self) -> pd.DataFrame:
        """``coverage_by_horizon.csv``: the coverage and the point forecasts' scores at
        each horizon of 1, 2, 4, 8 and 13 weeks that fits in the window."""
        return self.backtest.horizon_scores()

    def summary(self) -> str:
        """Each window beside what happened, then the scores (by horizon too, and the
        week-of-quarter view when it was asked for)."""
        text = backtest_text(self.to_frame(), self.scores(), self.horizons(),
                             self.backtest.warnings or [])
        return text if self.quarters is None else f"{text}\n{quarters_text(self.quarters)}"

    def plot(self) -> Figure:
        """Each window's band and P50 against the actual bookings (never shown)."""
        import io

        from matplotlib.figure import Figure
        from matplotlib.image import imread

        image = imread(io.BytesIO(self.backtest.figure_png()), format="png")
        fig = Figure(figsize=(image.shape[1] / 100, image.shape[0] / 100))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(image)
        ax.set_axis_off()
        return fig

    def write(self, out: str | Path) -> list[str]:
        """backtest.csv, backtest_horizons.csv, coverage_by_horizon.csv and backtest.png
        (and quarters.csv with the week-of-quarter view); returns the names."""
        from salessim.records import write_frame

        names = [p.name for p in self.backtest.write(out)]
        if self.quarters is not None:
            write_frame(self.quarters, Path(out) / "quarters.csv")
            names.append("quarters.csv")
        return names


def backtest(history: str | Path, every: float | str, horizon: float | str, replications: int = 500,
             seed: int = 1, *, parameter_uncertainty: bool = True,
             resamples: int | None = None, workers: int | None = 1,
             progress: Any = None, stages: str | Path | None = None,
             won: Sequence[str] = (), lost: Sequence[str] = (),
             no_decision: Sequence[str] = (), quarters: bool = False) -> BacktestReport:
    """Forecast from as-of dates every ``every`` days through a history, each ``horizon``
    days long (numbers of days, or times such as ``"6 weeks"``), calibrating on what was
    known then, and score them against what happened.

    Args:
        parameter_uncertainty: put the calibrated parameters' uncertainty into each band
            (a bootstrap of what was known at each as-of date, ``resamples`` resamples; the
            default); False leaves it out (the band then holds the process's randomness
            only, arrival over-dispersion included).
        stages: an event log's stage map.
        won, lost, no_decision: the history's end stages, as ``calibrate`` names them.
        quarters: also the week-of-quarter view (:mod:`salessim.forecast.quarters`): 13
            forecasts per calendar quarter of the history, each to the quarter's end.
    """
    from salessim.api.runs import Ticker
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.forecast.backtest import run_backtest
    from salessim.scenario.units import parse_duration

    every, horizon = (parse_duration(t, "day") if isinstance(t, str) else float(t)
                      for t in (every, horizon))

    count = 0
    if parameter_uncertainty:
        from salessim.forecast.bootstrap import DEFAULT_RESAMPLES, check_resamples

        count = check_resamples(min(DEFAULT_RESAMPLES, replications) if resamples is None
                                else resamples, replications)
    visits = _visits(history, stages, won, lost, no_decision)
    if quarters and visits is None:
        from salessim.calibrate.pipeline import read_visits

        visits = read_visits(history)
    view = None
    with make_executor(workers) as executor:
        result = run_backtest(history, every, horizon, replications, seed,
                              mapper=ordered_map(executor), progress=Ticker(progress),
                              resamples=count, visits=visits)
        if quarters:
            from salessim.forecast.quarters import quarter_view

            view = quarter_view(visits, replications, seed, str(history), resamples=count,
                                mapper=ordered_map(executor))
    return BacktestReport(result, every, horizon, replications, view)


def _visits(history: str | Path, stages: str | Path | None, won: Sequence[str] = (),
            lost: Sequence[str] = (), no_decision: Sequence[str] = ()):
    """The history read with its stage map and end names, or None to let the back-test
    read it with the defaults."""
    if stages is None and not (won or lost or no_decision):
        return None
    from salessim.calibrate.pipeline import read_visits

    return read_visits(history, won=won, lost=lost, no_decision=no_decision, stages=stages)


def backtest_text(table, scores: dict[str, Any], horizons=None,
                  warnings: Sequence[str] = ()) -> str:
    """The back-test for a reader: each window beside what happened, then the scores, and
    with ``horizons`` (``coverage_by_horizon.csv``) the coverage at each horizon; then the
    ``warnings`` (a back-test of fewer than 4 windows, what calibration found)."""
    from salessim.console import format_number as f

    lines = [f"  {'as of':<10}  {'until':<10}  {'open':>5}  {'actual':>12}  {'P10':>12}  "
             f"{'P50':>12}  {'P90':>12}  {'weighted':>12}  in band"]
    for w in table.itertuples(index=False):
        lines.append(f"  {w.as_of:%Y-%m-%d}  {w.until:%Y-%m-%d}  {w.open_deals:>5}  "
                     f"{f(w.actual):>12}  {f(w.p10):>12}  {f(w.p50):>12}  {f(w.p90):>12}  "
                     f"{f(w.weighted):>12}  {'yes' if w.inside else 'no'}")
    k, m = scores["inside"], scores["forecasts"]
    lines += [
        f"P10-P90 band: held the actual bookings in {k:g} of {m:g} windows "
        f"({scores['coverage']:.0%}, 95% CI {scores['coverage_low']:.0%} to "
        f"{scores['coverage_high']:.0%}; a right band holds about 80%)",
        f"P50: mean absolute error {f(scores['p50_mae'])} ({scores['p50_mape']:.0%}), CRPS "
        f"{f(scores['crps_mean'])}; weighted pipeline: {f(scores['weighted_mae'])} "
        f"({scores['weighted_mape']:.0%}), CRPS {f(scores['crps_weighted_mean'])}",
    ]
    if "coverage_plain" in scores:
        lines.append(f"without the bootstrap (parameters as calibrated, the same random "
                     f"numbers): {scores['inside_plain']:g} of {m:g} "
                     f"({scores['coverage_plain']:.0%}, 95% CI "
                     f"{scores['coverage_plain_low']:.0%} to {scores['coverage_plain_high']:.0%})")
    lines.append(f"naive run rate (the last 90 days' bookings per day x the window): mean "
                 f"absolute error {f(scores['run_rate_mae'])}")
    shares = []
    for point, name in (("p50", "P50"), ("weighted", "weighted pipeline"),
                        ("run_rate", "run rate")):
        n = int(scores[f"{point}_on_target_n"])
        shares.append(f"{name} {_share(scores[f'{point}_on_target'] * n, n, scores, point)}")
    lines.append("within 85-115% of the actual (forecast / actual, Gong-style): "
                 + "; ".join(shares))
    if scores.get("overlapping"):
        lines.append("the windows overlap (--every shorter than --horizon): the forecasts "
                     "are not independent and the intervals above are too narrow")
    if horizons is not None and len(horizons):
        lines.append(f"P10-P90 coverage by horizon (nominal {horizons['nominal'].iloc[0]:.0%}):")
        for h in horizons.itertuples(index=False):
            weeks = f"{h.horizon_weeks} week{'s' if h.horizon_weeks > 1 else ''}"
            lines.append(f"  {weeks:>8}: {h.inside} of {h.forecasts} ({h.coverage:.0%}, 95% CI "
                         f"{h.coverage_low:.0%} to {h.coverage_high:.0%})"
                         + ("; forecasts overlap at this horizon" if h.overlapping else ""))
    if warnings:
        lines += ["Warnings", *(f"- {w}" for w in _grouped(warnings))]
    return "\n".join(lines)


def _grouped(warnings: Sequence[str]) -> list[str]:
    """The warnings with those of one kind (the words before the first colon) said once:
    a calibration at each as-of date words the same finding with its own months or counts,
    and 13 near-copies hide the one warning that differs."""
    kinds: dict[str, list[str]] = {}
    for w in warnings:
        kinds.setdefault(w.split(":", 1)[0], []).append(w)
    out = []
    for same in kinds.values():
        more = len(same) - 1
        out.append(same[0] + (f" (and {more} more like it at other as-of dates)" if more
                              else ""))
    return out


def quarters_text(view) -> str:
    """The week-of-quarter view for a reader: per week of the quarter, the P50's error as
    a share of the quarter's bookings (mean over the quarters, and its mean absolute)."""
    if not len(view):
        return "week of quarter: no whole calendar quarter after the first as-of date"
    lines = [f"week of quarter ({view['quarter'].nunique()} quarters: "
             f"{', '.join(view['quarter'].unique())}): the P50 of the quarter's bookings "
             "against the actual"]
    for week, t in view.groupby("week", sort=True):
        share = t["error_share"]
        lines.append(f"  week {week:>2}: mean error {share.mean():+.0%}, mean absolute "
                     f"{share.abs().mean():.0%}, {int(t['inside'].sum())} of {len(t)} "
                     "inside P10-P90")
    return "\n".join(lines)


def _share(k: float, n: int, scores: dict[str, Any], point: str) -> str:
    if not n:
        return "no window booked anything"
    return (f"{round(k)} of {n} ({scores[f'{point}_on_target']:.0%}, 95% CI "
            f"{scores[f'{point}_on_target_low']:.0%} to {scores[f'{point}_on_target_high']:.0%})")


def _plain(scores: dict, prefix: str = "") -> dict[str, Any]:
    """Nested maps as ``outer.inner`` names, numpy numbers as floats (the record is JSON)."""
    flat: dict[str, Any] = {}
    for key, value in scores.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_plain(value, f"{name}."))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            flat[name] = float(value)
        else:
            flat[name] = value
    return flat
