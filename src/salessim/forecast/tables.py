"""The forecast's tables as a user reads them: ``deals.csv``, ``quota.csv``,
``redesigns.csv`` and the terminal summary.

Each takes finished forecasts (:func:`salessim.forecast.run_forecast`), so a notebook gets
the same tables as ``salessim forecast`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from salessim import stats
from salessim.console import format_number as fmt
from salessim.console import text_table
from salessim.forecast.deals import until_text
from salessim.forecast.gap import money, pipeline_gap, signed_money
from salessim.forecast.score import quantiles
from salessim.forecast.simulate import Forecast, paired

#: KPIs whose paired differences ``redesigns.csv`` reports (and ``quota_reached``).
PAIRED_KPIS = ("bookings", "won", "slipped")
#: Confidence level of the intervals of quota.csv and redesigns.csv.
LEVEL = 0.95
#: Deals the terminal lists.
TERMINAL_DEALS = 10


def deals_csv(forecast: Forecast) -> pd.DataFrame:
    """``deals.csv``: :meth:`Forecast.deals_table` with its close dates as ISO date-times
    (empty where the deal is still open at ``until``)."""
    deals = forecast.deals_table().copy()
    for col in ("close_median", "close_p90"):  # (an empty column is not typed as dates)
        deals[col] = pd.to_datetime(deals[col]).dt.strftime("%Y-%m-%dT%H:%M").fillna("")
    return deals


def quota_table(forecasts: Sequence[tuple[str, Forecast]], quota: float,
                booked: float = 0.0) -> pd.DataFrame:
    """``quota.csv``: per scenario (label, forecast), the chance that ``booked`` plus the
    bookings reach ``quota``, with its Wilson interval."""
    rows = []
    for label, forecast in forecasts:
        p, low, high = forecast.quota(quota, booked, LEVEL)
        rows.append({"scenario": label, "quota": quota, "booked": booked,
                     "needed": max(quota - booked, 0.0), "probability": p, "ci_low": low,
                     "ci_high": high, "level": LEVEL, "replications": forecast.replications})
    return pd.DataFrame(rows)


def redesign_table(base: Forecast, redesigns: Sequence[tuple[str, Forecast]],
                   quota: float | None = None, booked: float = 0.0) -> pd.DataFrame:
    """``redesigns.csv``: each redesign minus the baseline, replication by replication
    (paired t intervals), with ``quota_reached`` (a 0/1 per replication) given a quota."""
    frames = []
    for label, other in redesigns:
        frame = paired(base, other, PAIRED_KPIS)
        if quota is not None:
            b = (booked + base.bookings >= quota).astype(float)
            o = (booked + other.bookings >= quota).astype(float)
            est = stats.paired_difference(b, o, LEVEL)
            frame = pd.concat([frame, pd.DataFrame([{
                "kpi": "quota_reached", "baseline": float(b.mean()), "redesign": float(o.mean()),
                "difference": est.mean, "ci_low": est.ci_low, "ci_high": est.ci_high}])])
        frame.insert(0, "scenario", label)
        frame.insert(1, "name", other.scenario.name)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["level"] = LEVEL
    return table.replace({np.nan: None})


#: Display labels of forecast.csv's whole-window KPIs, in the order tables show them.
LABELS = {"bookings": "bookings in the window", "bookings_from_open": "from open deals",
          "bookings_from_new": "from new leads", "won": "deals won",
          "won_from_open": "deals won from open deals", "won_from_new": "deals won from new leads",
          "lost": "deals lost", "slipped": "open deals slipping past the end",
          "slipped_value": "value slipping past the end", "leads": "new leads",
          "quota_reached": "chance to reach the quota"}
#: KPIs (and per-period KPIs by their stem) that are sums of money.
MONEY_KPIS = ("bookings", "bookings_from_open", "bookings_from_new", "slipped_value")


def kpi_value(kpi: str, value: float | None, difference: bool = False) -> str:
    """A forecast KPI's value in its unit: money in whole units with separators, the
    chance to reach the quota in %, counts as numbers; ``difference`` signs it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kpi == "quota_reached":
        return f"{100 * value + 0.0:+.1f} pts" if difference else f"{value:.1%}"
    if kpi.split(".")[0] in MONEY_KPIS:
        return signed_money(value) if difference else money(value)
    text = fmt(value)
    return f"+{text}" if difference and value > 0 else text


def chance_text(p: float, low: float, high: float) -> str:
    """A deal's chance to be won with its Wilson interval: ``38% (31%-45%)``."""
    return f"{p:.0%} ({low:.0%}-{high:.0%})"


def bookings_rows(forecast: Forecast, booked: float = 0.0) -> list[tuple[str, ...]]:
    """The whole window's KPIs as (label, P10, P50, P90, mean) in their units; with
    ``booked`` first the one total a reader quotes: booked plus the window's bookings."""
    rows: list[tuple[str, ...]] = []
    if booked:
        v = booked + forecast.totals["bookings"].to_numpy()
        rows.append((f"total with {money(booked)} already booked",
                     *(money(x) for x in quantiles(v, [0.1, 0.5, 0.9])), money(v.mean())))
    for kpi, label in LABELS.items():
        if kpi not in forecast.totals:
            continue
        v = forecast.totals[kpi].to_numpy()
        rows.append((label, *(kpi_value(kpi, x) for x in quantiles(v, [0.1, 0.5, 0.9])),
                     kpi_value(kpi, v.mean())))
    return rows


def summary_text(forecast: Forecast, seconds: float | None = None,
                 redesigns: pd.DataFrame | None = None, quota: pd.DataFrame | None = None,
                 uncapped: Forecast | None = None, booked: float = 0.0) -> str:
    """What the terminal shows: bookings and their split, the quota, the weighted pipeline
    beside the simulation and why they differ, the deals that matter most, the redesigns.

    Args:
        forecast: the baseline's forecast.
        seconds: how long the simulation took, if known.
        redesigns: :func:`redesign_table`, if redesigns were run.
        quota: :func:`quota_table` (its first row is the baseline's), if a quota was given.
        uncapped: the forecast with unlimited staff (:mod:`salessim.forecast.gap`).
        booked: already booked this period: the first row is the total with it.
    """
    snap, until = forecast.snapshot, forecast.until
    took = "" if seconds is None else f", {seconds:.1f} s"
    lines = [f"{forecast.scenario.name}: {len(snap.deals)} open deals at "
             f"{snap.as_of:%Y-%m-%d %H:%M}, forecast to {until_text(until)}; "
             f"{forecast.replications} replications, seed {forecast.scenario.seed}{took}", ""]
    shown = ("bookings", "bookings_from_open", "bookings_from_new", "won", "slipped")
    rows: list[tuple[str, ...]] = [("", "P10", "P50", "P90", "mean")]
    rows += [r for r in bookings_rows(forecast, booked)
             if r[0].startswith("total") or r[0] in {LABELS[k] for k in shown}]
    lines.append(text_table(rows))
    if quota is not None:
        q = quota.iloc[0]
        lines.append(f"\nchance to reach the quota of {money(q['quota'])}"
                     + (f" ({money(q['booked'])} already booked)" if q["booked"] else "")
                     + f": {q['probability']:.1%} ({q['level']:.0%} CI {q['ci_low']:.1%} to "
                     f"{q['ci_high']:.1%})")
    gap = pipeline_gap(forecast, uncapped)
    lines += ["", f"weighted pipeline {money(gap.weighted)} against simulated P50 "
              f"{money(gap.simulated_p50)} from the open deals:", gap.sentence(until)]
    deals = forecast.deals_table().head(TERMINAL_DEALS)
    rows = [("deal", "stage", "amount", f"chance won ({LEVEL:.0%} CI)", "expected",
             "close median")]
    rows += [(d.deal_id, d.stage, money(d.amount), chance_text(d.p_win, d.p_win_low,
                                                               d.p_win_high),
              money(d.expected_bookings),
              "after the end" if pd.isna(d.close_median) else f"{d.close_median:%Y-%m-%d}")
             for d in deals.itertuples()]
    lines += ["", f"deals that matter most (chance won x amount; the chance's interval from "
              f"{forecast.replications} replications):", text_table(rows)]
    if redesigns is not None:
        rows = [("redesign", "KPI", "baseline", "redesign", "difference", f"{LEVEL:.0%} CI")]
        rows += [(r.scenario, LABELS.get(r.kpi, r.kpi), kpi_value(r.kpi, r.baseline),
                  kpi_value(r.kpi, r.redesign), kpi_value(r.kpi, r.difference, True),
                  f"[{kpi_value(r.kpi, r.ci_low, True)}, {kpi_value(r.kpi, r.ci_high, True)}]")
                 for r in redesigns.itertuples()]
        lines += ["", "redesigns on the same random numbers (redesign - baseline):",
                  text_table(rows)]
    return "\n".join(lines)
