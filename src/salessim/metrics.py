"""KPIs of one replication, defined once, as pure functions of its running totals.

Names are snake_case; a per-stage or per-role KPI has a dotted suffix
(``conversion.qualify``, ``utilisation.ae``). Counts and lead-based KPIs cover the leads
created after the warm-up (the cohort); time-based KPIs (utilisation, WIP, costs) cover
the measurement window from the warm-up to the horizon. A lead still open at the horizon
is open, never lost. A ratio with a zero denominator is NaN (reported as "n/a"), never 0.

:data:`KPI_DEFINITIONS` documents each KPI; the README's table is checked against it.
"""

from __future__ import annotations

import math

import numpy as np

from salessim.model.calendar import working_calendar
from salessim.records import Tally
from salessim.scenario.schema import Scenario

#: name (``<stage>`` / ``<role>`` stand for ids) -> (unit, definition).
KPI_DEFINITIONS: dict[str, tuple[str, str]] = {
    "leads": ("count", "leads created after the warm-up (the cohort)"),
    "won": ("count", "cohort leads won by the horizon"),
    "lost": ("count", "cohort leads lost by the horizon, those gone cold included"),
    "went_cold": ("count", "cohort leads lost because they waited longer than their patience"),
    "open": ("count", "cohort leads still in the process at the horizon: leads - won - lost"),
    "win_rate": ("share", "won / (won + lost)"),
    "close_rate": ("share", "won / leads"),
    "cycle_time_won_mean": ("time", "mean time from lead creation to won"),
    "cycle_time_won_median": ("time", "median time from lead creation to won"),
    "cycle_time_won_p90": ("time", "90th percentile of the time from lead creation to won"),
    "time_in_process_mean": ("time", "mean time from creation to won or lost, closed leads"),
    "conversion.<stage>": (
        "share", "visits that leave the stage forward (to a stage or won) / visits that leave it"
    ),
    "wait_mean.<stage>": ("time", "mean time queued for staff, per served visit"),
    "work_mean.<stage>": ("time", "mean staff working time, per served visit"),
    "delay_mean.<stage>": ("time", "mean customer-side time, per visit with a delay"),
    "visits.<stage>": ("count", "visits to the stage by cohort leads (loops count again)"),
    "utilisation.<role>": (
        "share", "staff working time in the window / (headcount x working time in the window)"
    ),
    "wip_mean": ("leads", "time-average number of open leads over the window"),
    "throughput": ("leads per time", "won / window length (horizon - warmup)"),
    "revenue": ("money", "sum of the deal values of won leads"),
    "lead_cost": ("money", "cost_per_lead x cohort leads, summed over sources"),
    "staff_cost": (
        "money", "headcount x cost_per_hour x paid hours in the window (working hours with a "
        "calendar, every hour without), summed over roles"
    ),
    "selling_cost": ("money", "staff_cost + lead_cost"),
    "cost_per_win": ("money", "selling_cost / won"),
    "pipeline_velocity": (
        "money per time", "wip_mean x win_rate x mean won deal value / cycle_time_won_mean"
    ),
}


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def kpis(tally: Tally, scenario: Scenario) -> dict[str, float]:
    """The KPIs of one replication, in a stable order (see :data:`KPI_DEFINITIONS`)."""
    window = scenario.horizon - scenario.warmup
    calendar = working_calendar(scenario.calendar, scenario.time_unit)
    working = calendar.working_time(scenario.warmup, scenario.horizon)
    won_times = np.frombuffer(tally.won_times, dtype=float) if tally.won_times else None

    out: dict[str, float] = {
        "leads": tally.leads,
        "won": tally.won,
        "lost": tally.lost,
        "went_cold": tally.went_cold,
        "open": tally.leads - tally.won - tally.lost,
        "win_rate": _ratio(tally.won, tally.won + tally.lost),
        "close_rate": _ratio(tally.won, tally.leads),
        "cycle_time_won_mean": float(won_times.mean()) if won_times is not None else math.nan,
        "cycle_time_won_median": (
            float(np.median(won_times)) if won_times is not None else math.nan
        ),
        "cycle_time_won_p90": (
            float(np.quantile(won_times, 0.9)) if won_times is not None else math.nan
        ),
        "time_in_process_mean": _ratio(tally.closed_time, tally.won + tally.lost),
    }
    for sid, st in tally.stages.items():
        out[f"conversion.{sid}"] = _ratio(st.moved_on, st.moved_on + st.lost)
    for sid, st in tally.stages.items():
        out[f"wait_mean.{sid}"] = _ratio(st.wait, st.served)
    for sid, st in tally.stages.items():
        out[f"work_mean.{sid}"] = _ratio(st.work, st.served)
    for sid, st in tally.stages.items():
        out[f"delay_mean.{sid}"] = _ratio(st.delay, st.delayed)
    for sid, st in tally.stages.items():
        out[f"visits.{sid}"] = st.entered
    for rid, role in scenario.roles.items():
        out[f"utilisation.{rid}"] = _ratio(tally.busy[rid], role.headcount * working)

    paid_hours = working * scenario.hours_per_unit
    staff_cost = sum(r.headcount * r.cost_per_hour * paid_hours for r in scenario.roles.values())
    selling_cost = staff_cost + tally.lead_cost
    wip_mean = tally.wip_area / window
    mean_value = _ratio(tally.revenue, tally.won)
    out.update({
        "wip_mean": wip_mean,
        "throughput": tally.won / window,
        "revenue": tally.revenue,
        "lead_cost": tally.lead_cost,
        "staff_cost": staff_cost,
        "selling_cost": selling_cost,
        "cost_per_win": _ratio(selling_cost, tally.won),
        "pipeline_velocity": _ratio(
            wip_mean * out["win_rate"] * mean_value, out["cycle_time_won_mean"]
        ),
    })
    return {k: float(v) for k, v in out.items()}


def kpi_pattern(name: str) -> str:
    """The definition key of a KPI name: ``conversion.qualify`` -> ``conversion.<stage>``."""
    if name in KPI_DEFINITIONS:
        return name
    head = name.split(".", 1)[0]
    for key in KPI_DEFINITIONS:
        if key.startswith(head + ".<"):
            return key
    raise KeyError(name)
