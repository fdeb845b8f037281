"""The calibration report: one self-contained HTML page, its figures also as PNG files.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no global
state): arrivals per week with the fitted rate and its 95% band, the routing diagram with
shares, per stage the Kaplan-Meier curve against the fitted CDFs, deal values against the
fitted density, and the cycle time of won deals in the data against the back-test.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import TYPE_CHECKING, Protocol

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats as st

from salessim.calibrate.exitreport import exits_part, incidence_figure

if TYPE_CHECKING:
    from salessim.calibrate.backtest import Backtest
    from salessim.calibrate.estimate import Calibration


class CalibrationResult(Protocol):
    """What the report reads of a calibration (``pipeline.CalibrationResult`` has it; the
    pipeline calls the report, so the report does not import the pipeline)."""

    @property
    def calibration(self) -> Calibration: ...

    @property
    def backtest(self) -> Backtest | None: ...

DPI = 100


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def arrivals_figure(result: CalibrationResult) -> Figure:
    cal = result.calibration
    fig = _figure(8, 2.6 * len(cal.arrivals))
    for ax, (sid, a) in zip(fig.subplots(len(cal.arrivals), 1, squeeze=False)[:, 0],
                            cal.arrivals.items(), strict=True):
        weeks = a.daily.resample("7D").sum()
        full = weeks.iloc[:-1] if len(weeks) > 1 else weeks  # the last week may be partial
        ax.plot(full.index, full.to_numpy(), "o-", ms=3, label="leads per week (data)")
        expected = a.rate * 7
        ax.axhline(expected, color="black", lw=1, label=f"fitted rate x 7 = {expected:.1f}")
        ax.axhspan(st.poisson.ppf(0.025, expected), st.poisson.ppf(0.975, expected),
                   color="grey", alpha=0.25, label="95% band of a week's count")
        ax.set_title(f"{sid}: {a.rate:.3g} leads/day [{a.low:.3g}, {a.high:.3g}]")
        ax.set_ylabel("leads")
        ax.legend(fontsize=7, loc="upper left")
    return fig


def routing_figure(result: CalibrationResult) -> Figure:
    """The routing diagram, shares on their arrows (:mod:`salessim.calibrate.routingfigure`)."""
    from salessim.calibrate.routingfigure import routing_figure as draw

    return draw(result.calibration)


def stage_times_figure(result: CalibrationResult) -> Figure:
    times = result.calibration.times
    cols = min(3, len(times))
    rows = math.ceil(len(times) / cols)
    fig = _figure(4 * cols, 3 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (sid, t) in zip(axes, times.items(), strict=False):
        km_t, surv, low, high = t.km
        ax.step(km_t, 1 - surv, where="post", color="black", label="Kaplan-Meier")
        ax.fill_between(km_t, 1 - high, 1 - low, step="post", color="grey", alpha=0.3)
        grid = np.linspace(0, km_t.max() if len(km_t) else 1, 200)
        for fit, style in zip(t.fits[:2], ("-", "--"), strict=False):
            cdf = fit.frozen.cdf(grid)
            ax.plot(grid, cdf, style, label=f"{fit.family} (AIC {fit.aic:.0f})")
        ax.set_title(f"{sid}: {t.exits} left, {t.censored} open", fontsize=9)
        ax.set_xlabel("days in stage")
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(times):]:
        ax.axis("off")
    return fig


def values_figure(result: CalibrationResult) -> Figure:
    cal = result.calibration
    deals = cal.visits.deals
    fig = _figure(8, 2.6 * len(cal.values))
    for ax, (sid, val) in zip(fig.subplots(len(cal.values), 1, squeeze=False)[:, 0],
                              cal.values.items(), strict=True):
        from salessim.calibrate.readers import slug

        amounts = deals[deals["source"].map(slug) == sid]["amount"].dropna().to_numpy(float)
        if len(amounts):
            ax.hist(amounts, bins=40, density=True, alpha=0.6, label="amounts")
        if val.spec["dist"] == "lognormal":
            s2 = math.log1p(val.spec["cv"] ** 2)
            dist = st.lognorm(math.sqrt(s2), scale=val.spec["mean"] * math.exp(-s2 / 2))
            grid = np.linspace(0, max(amounts.max(), 1), 300)
            ax.plot(grid, dist.pdf(grid), label="fitted lognormal")
        ax.set_title(f"{sid}: deal value, {val.note}", fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return fig


def backtest_figure(bt: Backtest) -> Figure:
    fig = _figure(6, 3.2)
    ax = fig.add_subplot()
    for sample, label in ((bt.data_cycle, "data"), (bt.sim_cycle, "simulated (pooled)")):
        if len(sample):
            x = np.sort(sample)
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=label)
    ax.set_xlabel("cycle time of won deals (days)")
    ax.set_ylabel("share of won deals")
    ax.set_title(f"earth mover's distance {bt.emd:.3g} (self-consistency limit "
                 f"{bt.emd_limit:.3g})", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    """A cell as a client reads it: thousands separators and no exponent (42,070, not
    4.207e+04), yes/no for a flag, nothing for a missing number."""
    from salessim.kpis import format_plain

    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else format_plain(float(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return str(value)


def _staff_parts(cal) -> list[str]:
    """Roles, calendars and queues found in an event log's work items."""
    staff = getattr(cal, "staff", None)
    if staff is None:
        return []
    hours = {r.name: f"{'/'.join(r.workdays)} {r.hours[0]:g}-{r.hours[1]:g}"
             for r in staff.roles.values()}
    return [
        "<h2>Staff from the event log</h2>",
        _table(["role", "members", "headcount", "fewest a week", "most a week", "calendar",
                "availability", "holidays"],
               [[r.name, len(r.members), r.headcount, *r.weekly_active, hours[r.name],
                 r.availability, len(r.holidays)] for r in staff.roles.values()]),
        "<h2>Waiting for staff (schedule to start), hours</h2>",
        _table(["stage", "role", "items", "median", "95% low", "95% high", "P90", "95% low",
                "95% high", "in the scenario"],
               [[q.stage, q.role, q.items, q.wait_median * 24, *(x * 24 for x in q.wait_median_ci),
                 q.wait_p90 * 24, *(x * 24 for x in q.wait_p90_ci),
                 "queue, then work" if q.at_entry else "customer, then queue, then work"
                 if q.in_scenario else "no: side work, in the delay"]
                for q in staff.queues.values()]),
    ]


def build_report(result: CalibrationResult, origin: str) -> tuple[dict[str, bytes], str]:
    """The PNG figures by file name, and the self-contained HTML page."""
    figures = {"arrivals.png": arrivals_figure(result), "routing.png": routing_figure(result),
               "stage_times.png": stage_times_figure(result),
               "deal_values.png": values_figure(result)}
    if result.backtest is not None:
        figures["backtest.png"] = backtest_figure(result.backtest)
    if (incidence := incidence_figure(result.calibration, _figure)) is not None:
        figures["exits.png"] = incidence
    pngs = {name: _png(fig) for name, fig in figures.items()}
    cal = result.calibration
    v = cal.visits

    def img(name):
        data = base64.b64encode(pngs[name]).decode("ascii")
        return f'<img alt="{name}" src="data:image/png;base64,{data}">'

    parts = [
        f"<h1>Calibration of {html.escape(origin)}</h1>",
        f"<p>{len(v.deals)} deals, {len(v.visits)} stage visits "
        f"({int(v.visits['exited_at'].isna().sum())} still open at the export date, treated "
        f"as right-censored), period {v.start:%Y-%m-%d} to {v.as_of:%Y-%m-%d}.</p>",
        "<h2>What the data cannot tell</h2><ul>"
        + "".join(f"<li>{html.escape(a)}</li>" for a in cal.assumptions) + "</ul>",
        "<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in cal.warnings)
        + "</ul>" if cal.warnings else "<h2>Warnings</h2><p>none</p>",
        "<h2>Arrivals</h2>",
        _table(["source", "deals", "rate/day", "95% low", "95% high", "dispersion p",
                "weekday test p", "weekly profile"],
               [[s, a.n, a.rate, a.low, a.high, a.dispersion.p if a.dispersion else math.nan,
                 a.weekly_test.p if a.weekly_test else math.nan,
                 "yes" if a.weekly else "no"] for s, a in cal.arrivals.items()]),
        img("arrivals.png"), "<h2>Routing</h2>",
        _table(["stage", "target", "exits", "share", "95% low", "95% high"],
               [[s, t, r.counts[t], r.shares[t], *r.intervals[t]]
                for s, r in cal.routing.items() for t in r.counts]),
        img("routing.png"), "<h2>Time in stage (right-censored)</h2>",
        _table(["stage", "visits", "open", "family", "AIC", "runner-up", "AIC", "mean",
                "95% low", "95% high", "KM median"],
               [[s, t.visits, t.censored, t.chosen.family, t.chosen.aic,
                 t.runner_up.family if t.runner_up else "",
                 t.runner_up.aic if t.runner_up else math.nan, t.mean, t.mean_low,
                 t.mean_high, t.median] for s, t in cal.times.items()]),
        img("stage_times.png"), "<h2>Deal values</h2>",
        _table(["source", "amounts", "mean", "95% low", "95% high", "model"],
               [[s, x.n, x.mean, x.low, x.high, x.note] for s, x in cal.values.items()]),
        img("deal_values.png"),
        *_staff_parts(cal),
        *exits_part(cal, _table), *([img("exits.png")] if "exits.png" in pngs else []),
    ]
    bt = result.backtest
    if bt is not None:
        frame = bt.frame()
        scope = ("the whole period" if bt.since is None else
                 f"the hold-out from {bt.since:%Y-%m-%d} (calibrated on the part before)")
        parts += [
            f"<h2>Back-test: {bt.replications} simulated histories against {scope}</h2>",
            "<p>consistent: the data lie in the 95% prediction interval of the replications; "
            f"{int((~frame['consistent']).sum())} of {len(frame)} lines are not.</p>",
            _table(list(frame.columns), frame.values.tolist()), img("backtest.png")]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>salessim calibration"
            "</title><style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
            "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
            "padding:2px 6px;font-size:13px}img{max-width:100%}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    return pngs, page
