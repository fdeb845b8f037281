"""KPIs of one replication, defined once, as pure functions of its running totals.

Names are snake_case; a per-stage or per-role KPI has a dotted suffix
(``conversion.qualify``, ``utilisation.ae``). Counts and lead-based KPIs cover the leads
created after the warm-up (the cohort); time-based KPIs (utilisation, WIP, costs) cover
the measurement window from the warm-up to the horizon. A lead still open at the horizon
is open, never lost. A ratio with a zero denominator is NaN (reported as "n/a"), never 0.

Each KPI's label, unit and definition are declared once, in :mod:`salessim.kpis` (the
README's table is generated from it); this module computes them.
"""

from __future__ import annotations

import math

from salessim import kpis as kpis_registry
from salessim.model.calendar import working_calendar
from salessim.model.kinds import kind_of
from salessim.records import Tally
from salessim.scenario.hires import hire_times
from salessim.scenario.mechanics import AGING_BUCKETS, Collection
from salessim.scenario.schema import Scenario
from salessim.scenario.units import convert


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def kpis(tally: Tally, scenario: Scenario, warm=None) -> dict[str, float]:
    """The KPIs of one replication, in a stable order (declared in :mod:`salessim.kpis`).

    ``warm`` is the run's warm start (``model/warmstart.py``): with open deals at time 0,
    the ``pipeline_*`` KPIs say how they ended.
    """
    window = scenario.horizon - scenario.warmup

    def calendar_of(calendar):
        return working_calendar(calendar, scenario.time_unit)
    cycle = tally.cycle_won
    closed = tally.won + tally.lost + tally.no_decision
    out: dict[str, float] = {
        "leads": tally.leads,
        "won": tally.won,
        "lost": tally.lost,
        "went_cold": tally.went_cold,
        **_timed_out(tally, scenario),
        "no_decision": tally.no_decision,
        "open": tally.leads - closed,
        "win_rate": kpis_registry.win_rate(tally.won, tally.lost, tally.no_decision),
        "close_rate": _ratio(tally.won, tally.leads),
        "cycle_time_won_mean": cycle.mean,
        "cycle_time_won_median": cycle.quantile(0.5),
        "cycle_time_won_p90": cycle.quantile(0.9),
        "time_in_process_mean": _ratio(tally.closed_time, closed),
        "time_in_process_all_mean": _ratio(
            tally.closed_time + (tally.leads - closed) * scenario.horizon - tally.open_created,
            tally.leads),
    }
    out["response_time_mean"] = tally.response.mean
    out["response_time_p90"] = tally.response.quantile(0.9)
    if scenario.response_target is not None:
        out["contacted_within_share"] = _ratio(tally.contacted_within, tally.leads)
    out["handoffs_mean"] = _ratio(tally.won_handoffs, tally.won)
    out["handoff_time"] = tally.handoff_time
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
        if scenario.stages[sid].timeout is not None:
            out[f"timed_out.{sid}"] = st.timed_out
    for sid, stage in scenario.stages.items():  # each kind's own KPIs (meetings)
        out.update(kind_of(stage).kpis(sid, stage, tally.stages[sid]))
    for kind in dict.fromkeys(kind_of(stage) for stage in scenario.stages.values()):
        out.update(kind.process_kpis(tally))
    role_working = {
        rid: calendar_of(scenario.calendar_of(rid)).working_time(
            scenario.warmup, scenario.horizon)
        for rid in scenario.roles
    }
    for rid, role in scenario.roles.items():
        # Members hired during the run are there from their hire on (scenario/hires.py):
        # (working time, members) per group, never a list per member (headcounts may be
        # huge).
        groups = [(role_working[rid], role.headcount)] + [
            (calendar_of(scenario.calendar_of(rid)).working_time(
                max(at, scenario.warmup), max(at, scenario.horizon)), hire.count)
            for at, hire in hire_times(role.hires, scenario.time_unit)]
        out[f"utilisation.{rid}"] = _ratio(tally.busy[rid], sum(w * n for w, n in groups))
        members = (w for w, n in groups for _ in range(n))  # only as far as tracked
        for m, busy in enumerate(tally.member_busy.get(rid, ()), start=1):
            out[f"utilisation.{rid}.{m}"] = _ratio(busy, next(members))

    staff_cost = staff_cost_of(scenario, scenario.warmup, scenario.horizon)
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
    out.update(_by_source(tally, scenario, staff_cost))
    out.update(_by_period(tally, scenario))
    if scenario.collection is not None:
        out.update(_collection(tally, scenario, scenario.collection, window))
    if scenario.renewal is not None:
        out.update(_renewal(tally))
    if scenario.pipeline and warm is not None:
        out.update(warm.outcomes.kpis(warm.values))
    return {k: float(v) for k, v in out.items()}


def _nrr(tally: Tally) -> float:
    return _ratio(tally.renewal_value, tally.renewal_base)


def _by_source(tally: Tally, scenario: Scenario, staff_cost: float) -> dict[str, float]:
    out: dict[str, float] = {}
    total_work = sum(tally.work_cost_by_source.values())
    growth = 0.0
    if scenario.renewal is not None:
        years = scenario.renewal.term * scenario.hours_per_unit / (24 * 365.25)
        discount = (1 + scenario.renewal.discount_rate) ** -years
        growth = _nrr(tally) * discount
    for sid in scenario.sources:
        won = tally.won_by_source[sid]
        attributed = staff_cost * _ratio(tally.work_cost_by_source[sid], total_work) \
            if total_work else 0.0
        cac = _ratio(tally.lead_cost_by_source[sid] + attributed, won)
        mean_value = _ratio(tally.revenue_by_source[sid], won)
        clv = mean_value / (1 - growth) if growth < 1 else math.nan
        out[f"cac.{sid}"] = cac
        out[f"clv.{sid}"] = clv
        out[f"ltv_to_cac.{sid}"] = _ratio(clv, cac)
    return out


def _by_period(tally: Tally, scenario: Scenario) -> dict[str, float]:
    if scenario.periods is None:
        return {}
    count = math.ceil(scenario.horizon / scenario.periods - 1e-9)
    out: dict[str, float] = {}
    for k in range(count):
        out[f"won_by_period.{k + 1}"] = tally.period_won.get(k, 0)
    for k in range(count):
        out[f"cycle_time_won_mean_by_period.{k + 1}"] = _ratio(
            tally.period_cycle.get(k, 0.0), tally.period_won.get(k, 0))
    return out


def _collection(tally: Tally, scenario: Scenario, collection: Collection, window: float
                ) -> dict[str, float]:
    receivables = sum(tally.receivables.values())
    rates = collection.provision_rates
    days = convert(window, scenario.time_unit, "day")
    out = {
        "invoiced": tally.invoiced,
        "cash_collected": tally.cash_collected,
        "bad_debt": tally.bad_debt,
        "receivables": receivables,
    }
    for bucket in AGING_BUCKETS:
        out[f"receivables.{bucket}"] = tally.receivables.get(bucket, 0.0)
    out["bad_debt_provision"] = sum(
        tally.receivables.get(b, 0.0) * rates.get(b, 0.0) for b in AGING_BUCKETS
    )
    out["dso"] = _ratio(receivables, tally.invoiced / days)
    return out


def _renewal(tally: Tally) -> dict[str, float]:
    return {
        "renewal_rate": _ratio(tally.renewals, tally.renewal_decisions),
        "net_revenue_retention": _nrr(tally),
        "renewal_revenue": tally.renewal_value,
    }


def staff_cost_of(scenario: Scenario, start: float, end: float,
                  roles: list[str] | None = None) -> float:
    """Staff cost from ``start`` to ``end``: the one staff-cost rule.

    Sum over roles of headcount x cost_per_hour x paid hours, paid hours being the role's
    working time under its calendar (:meth:`Scenario.calendar_of`; every hour without
    one). The ``staff_cost`` KPI is this over the window (warm-up to horizon); an
    optimisation budget uses it over its own period.

    Args:
        scenario: the scenario.
        start: start of the period, in the scenario's time unit.
        end: its end.
        roles: the roles counted (default: all).
    """
    total = 0.0
    for rid, role in scenario.roles.items():
        if roles is not None and rid not in roles:
            continue
        calendar = working_calendar(scenario.calendar_of(rid), scenario.time_unit)
        paid = calendar.working_time(start, end)
        total += role.headcount * role.cost_per_hour * paid * scenario.hours_per_unit
        for at, hire in hire_times(role.hires, scenario.time_unit):  # paid from the hire on
            rate = role.cost_per_hour if hire.cost_per_hour is None else hire.cost_per_hour
            paid = calendar.working_time(max(at, start), max(at, end))
            total += hire.count * rate * paid * scenario.hours_per_unit
    return total


def _timed_out(tally: Tally, scenario: Scenario) -> dict[str, float]:
    """``timed_out``: visits that left a stage by its time-out (only with a time-out)."""
    if not any(stage.timeout is not None for stage in scenario.stages.values()):
        return {}
    return {"timed_out": sum(st.timed_out for st in tally.stages.values())}
