"""The forecast's report: one self-contained HTML page, its figures also as PNG files.

The page answers the question a sales leader asks (what will we book by ``until``, and how
likely is the number?) and puts the weighted pipeline beside the simulation with the reason
the two differ: timing (deals that close after ``until``) and capacity (staff queues, deals
going cold while they wait, rules a stage probability leaves out).

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no global
state), embedded in the page as data URIs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from salessim import __version__
from salessim.console import format_number
from salessim.forecast.gap import STAFF_FACTOR, PipelineGap, pipeline_gap
from salessim.forecast.hire import forecast_hire_lines
from salessim.forecast.score import quantiles
from salessim.forecast.simulate import Forecast
from salessim.reports.figures import colour, png_bytes
from salessim.reports.html import HtmlDocument
from salessim.reports.report import Report
from salessim.rng import STREAM_SCHEME

#: Deals shown in the report's and the terminal's list of the deals that matter most.
TOP_DEALS = 15

FIGURE_CAPTIONS = {
    "forecast_fan": "Cumulative bookings from the as-of date to the end of the window: the "
                    "band holds the middle 80% of the replications (P10 to P90), the line "
                    "is their median (P50); a redesign's median is dash-dotted",
    "forecast_distribution": "Distribution of bookings in the window over the replications, "
                             "with P10, P50, P90 and the quota",
    "forecast_split": "Bookings per period, from the deals open at the as-of date and from "
                      "new leads (means over the replications, so the parts add up)",
    "forecast_deals": "The open deals that matter most: expected bookings by the end of the "
                      "window (chance to be won by then x amount) beside their weighted amount "
                      "(stage probability x amount)",
    "forecast_weighted": "The weighted pipeline against the simulated bookings from the same "
                         "deals, and what makes up the difference",
}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _money(ax, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: format_number(v))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _cumulative(forecast: Forecast, booked: float) -> tuple[list[pd.Timestamp], np.ndarray]:
    """Dates from the as-of time by whole days, and bookings to each (a column per date)."""
    cum = booked + forecast.cumulative
    cum = np.hstack([np.full((cum.shape[0], 1), booked), cum])
    # cumulative[:, d - 1] is the bookings to d days after the as-of time.
    dates = [forecast.snapshot.as_of + pd.Timedelta(days=d) for d in range(cum.shape[1])]
    return dates, cum


def fan_figure(forecast: Forecast, quota: float | None = None, booked: float = 0.0,
               others: Sequence[tuple[str, Forecast]] = ()) -> Figure:
    """Cumulative bookings to ``until``: P10-P90 band, P50 line, the quota, and the P50 of
    each of ``others`` (redesigns, as label and forecast)."""
    fig = _figure(8, 3.6)
    ax = fig.add_subplot()
    dates, cum = _cumulative(forecast, booked)
    p10, p50, p90 = quantiles(cum, [0.1, 0.5, 0.9], axis=0)
    ax.fill_between(dates, p10, p90, color="#1f77b4", alpha=0.25, label="P10 to P90")
    ax.plot(dates, p50, color="#1f77b4", lw=2, label="P50")
    for i, (label, other) in enumerate(others):
        when, values = _cumulative(other, booked)
        ax.plot(when, np.quantile(values, 0.5, axis=0), color=colour(i + 1), lw=1.4, ls="-.",
                label=f"P50 of {label}")
    if quota is not None:
        ax.axhline(quota, color="#d62728", ls="--", lw=1.2, label=f"quota {format_number(quota)}")
    ax.set_ylabel("bookings to date" + (" (booked included)" if booked else ""))
    ax.set_title(f"Cumulative bookings, {forecast.snapshot.as_of:%Y-%m-%d} to "
                 f"{forecast.until:%Y-%m-%d}")
    _money(ax)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return fig


def distribution_figure(forecast: Forecast, quota: float | None = None,
                        booked: float = 0.0, chance: tuple[float, float, float] | None = None
                        ) -> Figure:
    """Histogram of the bookings in the window with its quantiles and the quota line."""
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    values = booked + forecast.bookings
    ax.hist(values, bins=min(40, max(10, len(values) // 12)), color="#9ecae1",
            edgecolor="white")
    for q, style in ((0.1, ":"), (0.5, "-"), (0.9, ":")):
        x = float(quantiles(values, q))
        ax.axvline(x, color="#1f4e9c", ls=style, lw=1.2, label=f"P{round(q * 100)} "
                   f"{format_number(x)}")
    title = "Bookings in the window" + (" (booked included)" if booked else "")
    if quota is not None:
        ax.axvline(quota, color="#d62728", ls="--", lw=1.5, label=f"quota {format_number(quota)}")
        if chance is not None:
            title += (f": {chance[0]:.0%} chance to reach the quota "
                      f"(95% CI {chance[1]:.0%} to {chance[2]:.0%})")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("replications")
    _money(ax, "x")
    ax.legend(fontsize=8)
    return fig


def split_figure(forecast: Forecast) -> Figure:
    """Mean bookings per period, stacked: from open deals and from new leads."""
    fig = _figure(8, 3.0)
    ax = fig.add_subplot()
    cols = [c for c in forecast.by_period.columns if c.startswith("bookings_from_open.")]
    labels = [c.split(".", 1)[1] for c in cols]
    means = forecast.by_period.mean()
    opened = np.array([means[f"bookings_from_open.{k}"] for k in labels])
    new = np.array([means[f"bookings_from_new.{k}"] for k in labels])
    ax.bar(labels, opened, color="#1f77b4", label="from open deals")
    ax.bar(labels, new, bottom=opened, color="#ff7f0e", label="from new leads")
    ax.set_ylabel(f"mean bookings per {forecast.period}")
    _money(ax)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0, labelsize=8)
    return fig


def deals_figure(deals: pd.DataFrame) -> Figure:
    """The top deals: expected bookings by ``until`` beside the weighted amount."""
    top = deals.head(TOP_DEALS).iloc[::-1]
    fig = _figure(8, 0.8 + 0.28 * max(len(top), 1))
    ax = fig.add_subplot()
    y = np.arange(len(top))
    ax.barh(y, top["expected_bookings"], color="#1f77b4", height=0.6,
            label="chance to be won by the end x amount")
    ax.scatter(top["weighted_amount"], y, color="black", marker="|", s=120, zorder=3,
               label="stage probability x amount")
    ax.set_yticks(y, [f"{d} ({s})" for d, s in zip(top["deal_id"], top["stage"], strict=True)],
                  fontsize=8)
    _money(ax, "x")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def weighted_figure(gap: PipelineGap, until: pd.Timestamp) -> Figure:
    """A waterfall from the weighted pipeline to the simulated bookings of the same deals."""
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    capacity = 0.0 if math.isnan(gap.capacity) else gap.capacity
    steps = [("weighted pipeline", 0.0, gap.weighted, "#7f7f7f"),
             ("capacity: staff queues", gap.weighted - capacity, capacity, "#d62728"),
             (f"timing: after {until:%Y-%m-%d}", gap.simulated_mean, gap.timing, "#ff7f0e"),
             (f"simulated by {until:%Y-%m-%d}", 0.0, gap.simulated_mean, "#1f77b4")]
    for i, (_, bottom, height, shade) in enumerate(steps):
        ax.bar(i, height, bottom=bottom, color=shade, width=0.6)
        ax.annotate(format_number(height), (i, bottom + max(height, 0)), ha="center",
                    va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(steps)), [s[0] for s in steps], fontsize=8)
    ax.set_ylabel("bookings from the open deals")
    _money(ax)
    return fig


def _forecast_rows(forecast: Forecast) -> pd.DataFrame:
    table = forecast.table()
    whole = table[~table["kpi"].str.contains(".", regex=False)].drop(columns="band")
    shown = whole.copy()
    for col in ("mean", "p10", "p50", "p90"):
        shown[col] = [format_number(v) for v in whole[col]]
    return shown


def _deal_rows(deals: pd.DataFrame) -> pd.DataFrame:
    top = deals.head(TOP_DEALS)
    return pd.DataFrame({
        "deal": top["deal_id"], "stage": top["stage"], "age (days)": top["age"].round(1),
        "amount": [format_number(v) for v in top["amount"]],
        "chance won": [f"{p:.0%}" for p in top["p_win"]],
        "expected": [format_number(v) for v in top["expected_bookings"]],
        "stage probability": [f"{p:.0%}" for p in top["stage_probability"]],
        "close median": [_date(t) for t in top["close_median"]],
        "close P90": [_date(t) for t in top["close_p90"]],
    })


def _date(when: object) -> str:
    return "after the end" if pd.isna(when) else f"{pd.Timestamp(when):%Y-%m-%d}"


def forecast_report(forecast: Forecast, quota: float | None = None, booked: float = 0.0,
                    redesigns: pd.DataFrame | None = None, source: str = "",
                    seed: int | None = None, extra: Sequence[str] = (),
                    uncapped: Forecast | None = None,
                    others: Sequence[tuple[str, Forecast]] = ()) -> Report:
    """The forecast as an HTML page (and its figures as PNG bytes).

    Args:
        forecast: the baseline forecast.
        quota: the number to reach, if any; ``booked`` is already won this period.
        redesigns: ``redesigns.csv`` (paired differences), if redesigns were run.
        source: the pipeline file, for the provenance.
        seed: the root seed.
        extra: more provenance lines.
        uncapped: the forecast with unlimited staff, for the capacity part of the gap
            (:mod:`salessim.forecast.gap`).
        others: the redesigns' forecasts (label, forecast), drawn in the fan chart.
    """
    snap = forecast.snapshot
    gap = pipeline_gap(forecast, uncapped)
    deals = forecast.deals_table()
    chance = forecast.quota(quota, booked) if quota is not None else None
    doc = HtmlDocument(f"Forecast: {forecast.scenario.name}")
    doc.summary_start()
    b = booked + forecast.bookings
    p10, p50, p90 = quantiles(b, [0.1, 0.5, 0.9])
    lines = [f"Bookings from {snap.as_of:%Y-%m-%d %H:%M} to {forecast.until:%Y-%m-%d %H:%M}"
             + (f" (with {format_number(booked)} already booked)" if booked else "")
             + f": P10 {format_number(p10)}, P50 {format_number(p50)}, P90 {format_number(p90)} "
             f"over {forecast.replications} replications; the band holds "
             f"{forecast.band}.",
             f"From the {len(snap.deals)} open deals: mean "
             f"{format_number(forecast.totals['bookings_from_open'].mean())}; from new leads: "
             f"mean {format_number(forecast.totals['bookings_from_new'].mean())}."]
    if chance is not None:
        lines.append(f"Chance to reach the quota of {format_number(quota)}: {chance[0]:.1%} "
                     f"(95% Wilson interval {chance[1]:.1%} to {chance[2]:.1%}).")
    lines += forecast_hire_lines(forecast, others, forecast.scenario.seed if seed is None
                                 else seed, format_number)  # staffing redesigns: new or sooner
    for line in lines:
        doc.paragraph(line)
    doc.paragraph(gap.sentence(forecast.until), css="note")
    doc.summary_end()
    if forecast.warnings:
        doc.heading("Warnings", anchor="warnings")
        doc.items(list(forecast.warnings))
    pngs: dict[str, bytes] = {}

    def figure(name: str, fig: Figure) -> None:
        pngs[name] = png_bytes(fig)
        doc.figure(f"fig-{name}", pngs[name], FIGURE_CAPTIONS[name])

    doc.heading("Bookings to the end of the window", anchor="bookings")
    figure("forecast_fan", fan_figure(forecast, quota, booked, others))
    figure("forecast_distribution", distribution_figure(forecast, quota, booked, chance))
    doc.table(_forecast_rows(forecast), "forecast", "The whole window (forecast.csv has the "
              f"same per {forecast.period})")
    doc.heading("Open deals and new leads", anchor="split")
    figure("forecast_split", split_figure(forecast))
    doc.heading("The deals that matter most, and the weighted pipeline", anchor="deals")
    figure("forecast_deals", deals_figure(deals))
    figure("forecast_weighted", weighted_figure(gap, forecast.until))
    doc.paragraph(gap.sentence(forecast.until))
    doc.table(_deal_rows(deals), "deals", f"The {min(TOP_DEALS, len(deals))} open deals with "
              "the largest expected bookings (deals.csv has them all)")
    if redesigns is not None and len(redesigns):
        doc.heading("Redesigns on the same random numbers", anchor="redesigns")
        shown = redesigns.copy()
        for col in ("baseline", "redesign", "difference", "ci_low", "ci_high"):
            shown[col] = [format_number(v) for v in shown[col]]
        doc.table(shown, "redesigns", "Paired differences (redesign - baseline) with 95% "
                  "confidence intervals, replication by replication")
    doc.heading("Appendix: what was run", anchor="provenance")
    seed = forecast.scenario.seed if seed is None else seed
    check = ([] if uncapped is None else [
        f"capacity check: the first {uncapped.replications} replications again with "
        f"{STAFF_FACTOR} times the staff, pooled, on the same random numbers"])
    doc.items([f"salessim version {__version__}",
               f"scenario {forecast.scenario.name!r}; {len(snap.deals)} open deals from "
               f"{source or 'the scenario'} at {snap.as_of:%Y-%m-%d %H:%M}; window to "
               f"{forecast.until:%Y-%m-%d %H:%M}",
               f"root seed {seed}; {forecast.replications} replications; random streams: "
               f"{STREAM_SCHEME}", *check,
               f"generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", *extra])
    return Report(doc.render(), pngs)
