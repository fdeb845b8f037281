"""Every KPI salessim reports, declared once: id, label, unit, direction and definition.

KPI ids are a contract with users (targets, sweeps, CSV files and notebooks name them), so
an id is never renamed. A KPI of one stage, role, source, period or ageing bucket belongs
to a family written with a placeholder after a dot: ``conversion.<stage>`` covers
``conversion.qualify``. The README's KPI table, the terminal tables, the report and the
column headers all read labels and units from here (a test keeps the README table equal
to :func:`markdown_table`).

This module also holds the rules that several parts of salessim apply and that must not
drift apart: the verdict of an interval against a bound (:func:`verdict`) and the win rate
(:func:`win_rate`). (The staff cost, which needs working time, is
:func:`salessim.metrics.staff_cost_of`.) It imports nothing (it sits below the scenario
language, which reads its KPI names), so the command line can use it while it builds its
parser.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Units of KPIs, with the words the README and the tables use for them. ``time`` is in the
#: scenario's ``time_unit``; ``days`` is in days whatever the time unit.
UNITS: dict[str, str] = {
    "count": "count",
    "share": "share",
    "ratio": "ratio",
    "money": "money",
    "time": "time",
    "days": "days",
    "per_time": "per time",
    "money_per_time": "money per time",
}

MET, MISSED, UNSURE, NOT_AVAILABLE = "met", "missed", "unsure", "n/a"


@dataclass(frozen=True)
class Kpi:
    """One KPI or one family of KPIs.

    Attributes:
        id: the KPI's name; a family has placeholders after dots (``utilisation.<role>``).
        label: words for a reader; ``{role}``-style fields are filled from the name.
        unit: a key of :data:`UNITS`.
        higher_is_better: True or False where a direction is a matter of course, None where
            more is neither better nor worse (visits, utilisation, open leads).
        definition: how it is computed, as the README states it.
    """

    id: str
    label: str
    unit: str
    higher_is_better: bool | None
    definition: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The names of a family's placeholders (empty for a single KPI)."""
        return tuple(re.findall(r"<([a-z]+)>", self.id))

    def label_of(self, name: str) -> str:
        """The label of one KPI of this entry, e.g. ``Conversion at qualify``."""
        values = name.split(".")[1:]
        return self.label.format(**dict(zip(self.placeholders, values, strict=True)))


def _k(id: str, label: str, unit: str, better: bool | None, definition: str) -> Kpi:
    return Kpi(id, label, unit, better, definition)


#: Every KPI, in the order the README lists them.
REGISTRY: tuple[Kpi, ...] = (
    _k("leads", "Leads created (cohort)", "count", None,
       "leads created after the warm-up (the cohort)"),
    _k("won", "Deals won", "count", True, "cohort leads won by the horizon"),
    _k("lost", "Deals lost", "count", False,
       "cohort leads lost by the horizon, those gone cold included"),
    _k("went_cold", "Leads gone cold", "count", False,
       "cohort leads lost because they waited longer than their patience"),
    _k("timed_out", "Visits ended by a time-out", "count", None,
       "visits by cohort leads that left a stage by its `timeout` (only with a `timeout`)"),
    _k("no_decision", "Deals ending without a decision", "count", False,
       "cohort leads that ended with no decision by the buyer"),
    _k("open", "Leads still open at the horizon", "count", None,
       "`leads - won - lost - no_decision`"),
    _k("win_rate", "Win rate", "share", True,
       "`won / (won + lost + no_decision)` (`won / (won + lost)` when no stage routes to "
       "`no_decision`)"),
    _k("close_rate", "Close rate (won per lead)", "share", True, "`won / leads`"),
    _k("won_first_pass", "Deals won on the first pass", "count", True,
       "cohort leads won without a visit to a nurture track (only with a `recycle` stage): "
       "`won - won_recycled`"),
    _k("won_recycled", "Deals won after recycling", "count", True,
       "cohort leads won after coming back from a nurture track (a stage with `recycle`)"),
    _k("recycled_win_share", "Share of wins recycled", "share", None,
       "`won_recycled / won` (only with a `recycle` stage)"),
    _k("cycle_time_won_mean", "Mean cycle time of won deals", "time", False,
       "mean time from lead creation to won"),
    _k("cycle_time_won_median", "Median cycle time of won deals", "time", False,
       "median time from lead creation to won, per replication (the tables show the mean of "
       "the replications' medians): exact up to 65,536 won deals a replication, beyond from "
       "a bounded sketch within 0.1% of the exact median"),
    _k("cycle_time_won_p90", "90th percentile cycle time of won deals", "time", False,
       "90th percentile of the time from lead creation to won, per replication"),
    _k("time_in_process_mean", "Mean time in process of closed leads", "time", False,
       "mean time from creation to the end (won, lost, no decision), over closed leads. "
       "Leads still open at the horizon, the slow ones, are left out, so it runs below "
       "Little's law: by 10% on `b2b_baseline.yaml` and `tutorial.yaml`, 8% on "
       "`role_based.yaml`, under 1% where few leads are open at the horizon (measured over "
       "4 replications of each example)"),
    _k("time_in_process_all_mean", "Mean time in process of all leads", "time", False,
       "mean time from creation to the end or to the horizon, over all cohort leads (open "
       "leads counted up to the horizon). With no warm-up, `wip_mean` x (horizon - warmup) "
       "= `leads` x this, exactly (Little's law on the sample path); with a warm-up, the "
       "leads created before it and still open after it add to WIP but not to this mean"),
    _k("response_time_mean", "Mean time to first contact", "time", False,
       "mean time from lead creation to the first staff contact (start of the first staff "
       "work)"),
    _k("response_time_p90", "90th percentile time to first contact", "time", False,
       "90th percentile of the time to the first staff contact"),
    _k("contacted_within_share", "Share contacted within the response target", "share", True,
       "leads first contacted within `response_target` / leads (only with `response_target`)"),
    _k("handoffs_mean", "Hand-offs per won deal", "count", False,
       "hand-offs between roles per won deal (a hand-off: staff work by another role than "
       "the last one)"),
    _k("handoff_time", "Total hand-off delay", "time", False,
       "total hand-off delay of cohort leads"),
    _k("conversion.<stage>", "Conversion at {stage}", "share", True,
       "visits that leave the stage forward (to a stage or `won`) / visits that leave it "
       "(forward, `lost` with going cold, or `no_decision`)"),
    _k("wait_mean.<stage>", "Mean wait for staff at {stage}", "time", False,
       "mean time queued for staff, per served visit (nights and weekends included under a "
       "calendar; per task for parallel work)"),
    _k("work_mean.<stage>", "Mean staff work time at {stage}", "time", False,
       "mean staff working time, per served visit (per task for parallel work and approval "
       "levels)"),
    _k("delay_mean.<stage>", "Mean customer-side time at {stage}", "time", False,
       "mean customer-side time, per visit with a delay (per task for parallel work and "
       "approval levels)"),
    _k("visits.<stage>", "Visits to {stage}", "count", None,
       "visits to the stage by cohort leads (loops count again)"),
    _k("timed_out.<stage>", "Visits ended by the time-out at {stage}", "count", None,
       "visits by cohort leads that left the stage by its `timeout`, for a stage with one"),
    _k("meetings.<stage>", "Meetings held at {stage}", "count", None,
       "meetings held in the window, for a stage with `meeting`"),
    _k("meeting_size_mean.<stage>", "Deals per meeting at {stage}", "count", None,
       "deals handled per meeting held in the window"),
    _k("utilisation.<role>", "Utilisation of {role}", "share", None,
       "staff working time in the window / (`headcount` x the role's working time in the "
       "window)"),
    _k("utilisation.<role>.<member>", "Utilisation of {role} member {member}", "share", None,
       "the same for member 1, 2, ... of a role with `assignment: owner`"),
    _k("wip_mean", "Mean open leads (work in process)", "count", None,
       "time-average number of open leads over the window"),
    _k("throughput", "Deals won per time unit", "per_time", True,
       "`won / (horizon - warmup)`"),
    _k("revenue", "Revenue of won deals", "money", True, "sum of the deal values of won leads"),
    _k("lead_cost", "Lead cost", "money", False,
       "`cost_per_lead` x cohort leads, summed over sources"),
    _k("staff_cost", "Staff cost", "money", False,
       "`headcount` x `cost_per_hour` x paid hours in the window (the role's working hours "
       "with a calendar, every hour without), summed over roles"),
    _k("selling_cost", "Selling cost", "money", False, "`staff_cost + lead_cost`"),
    _k("cost_per_win", "Selling cost per won deal", "money", False, "`selling_cost / won`"),
    _k("pipeline_velocity", "Pipeline velocity", "money_per_time", True,
       "`wip_mean` x `win_rate` x mean won deal value / `cycle_time_won_mean`"),
    _k("pipeline_deals", "Open deals at the start", "count", None,
       "deals of the scenario's `pipeline` (open at time 0, the as-of date; with `run "
       "--pipeline`); they are not in the cohort of new leads"),
    _k("pipeline_won", "Open deals won", "count", True,
       "deals of the pipeline won by the horizon"),
    _k("pipeline_bookings", "Bookings from open deals", "money", True,
       "sum of the values of the pipeline's deals won by the horizon"),
    _k("pipeline_lost", "Open deals lost", "count", False,
       "deals of the pipeline lost (gone cold included) or ended without a decision by the "
       "horizon"),
    _k("pipeline_open", "Open deals still open at the horizon", "count", None,
       "`pipeline_deals - pipeline_won - pipeline_lost`"),
    _k("cac.<source>", "Customer acquisition cost of {source}", "money", False,
       "(the source's lead cost + `staff_cost` x the source's share of the staff cost of "
       "selling work done, after-sale work left out) / the source's won deals"),
    _k("clv.<source>", "Customer lifetime value of {source}", "money", True,
       "mean won deal value x 1 / (1 - `net_revenue_retention` x discount per term), discount "
       "per term = (1 + `discount_rate`)^-(term in years); without renewals, the mean won "
       "deal value"),
    _k("ltv_to_cac.<source>", "Lifetime value to acquisition cost of {source}", "ratio", True,
       "`clv / cac`"),
    _k("won_by_period.<k>", "Deals won in period {k}", "count", True,
       "deals won in period k = 1, 2, ... (with `periods`; by the time they were won, all "
       "leads)"),
    _k("cycle_time_won_mean_by_period.<k>", "Mean cycle time of deals won in period {k}",
       "time", False, "mean cycle time of the deals won in period k"),
    _k("invoiced", "Invoiced", "money", True, "invoices issued in the window (with `collection`)"),
    _k("cash_collected", "Cash collected", "money", True, "payments received in the window"),
    _k("bad_debt", "Bad debt written off", "money", False, "invoices written off in the window"),
    _k("receivables", "Receivables at the horizon", "money", False,
       "unpaid invoices at the horizon"),
    _k("receivables.<bucket>", "Receivables {bucket}", "money", False,
       "unpaid at the horizon by days past due: `current`, `days_1_30`, `days_31_60`, "
       "`days_61_90`, `over_90`"),
    _k("bad_debt_provision", "Bad debt provision", "money", False,
       "sum over buckets of receivables x the bucket's `provision_rates`"),
    _k("dso", "Days sales outstanding", "days", False,
       "days sales outstanding: `receivables / (invoiced / days in the window)`"),
    _k("renewal_rate", "Renewal rate", "share", True,
       "renewals / renewal decisions (with `renewal`)"),
    _k("net_revenue_retention", "Net revenue retention", "share", True,
       "value renewed, upsell included / value up for renewal"),
    _k("renewal_revenue", "Renewal revenue", "money", True, "value of the contracts renewed"),
)

_BY_ID = {k.id: k for k in REGISTRY}

#: The KPIs the terminal shows by default, in this order (with the busiest role's
#: utilisation added); every other KPI is in summary.csv / comparison.csv.
HEADLINE_KPIS: tuple[str, ...] = (
    "leads", "won", "win_rate", "cycle_time_won_median", "revenue", "selling_cost",
    "cost_per_win",
)

#: KPIs ``--precision`` looks at unless told otherwise.
PRECISION_KPIS: tuple[str, ...] = ("won", "win_rate", "cycle_time_won_median", "revenue")

#: Series MSER-5 can estimate a warm-up from: name -> what it is.
WARMUP_SERIES: dict[str, str] = {
    "wip": "open leads",
    "queue": "leads waiting for staff",
    "won": "deals won per time unit",
}


def spec(name: str) -> Kpi:
    """The registry entry of a KPI name: ``conversion.qualify`` -> ``conversion.<stage>``.

    Raises:
        KeyError: the name is not a KPI salessim reports.
    """
    if name in _BY_ID:
        return _BY_ID[name]
    parts = name.split(".")
    if len(parts) > 1 and all(parts):
        for entry in REGISTRY:
            pattern = entry.id.split(".")
            if pattern[0] == parts[0] and len(pattern) == len(parts) and entry.placeholders:
                return entry
    raise KeyError(name)


def label(name: str) -> str:
    """The label of a KPI name, or the name itself when it is not in the registry."""
    try:
        return spec(name).label_of(name)
    except KeyError:
        return name


def unit(name: str) -> str:
    """The unit key of a KPI name (``count`` for a name not in the registry)."""
    try:
        return spec(name).unit
    except KeyError:
        return "count"


def unit_text(name: str, time_unit: str | None = None) -> str:
    """The unit of a KPI in words, with the scenario's time unit where it has one."""
    u = unit(name)
    if time_unit is not None and u == "time":
        return f"{time_unit}s"
    if time_unit is not None and u == "per_time":
        return f"per {time_unit}"
    if time_unit is not None and u == "money_per_time":
        return f"money per {time_unit}"
    return UNITS[u]


def heading(name: str, time_unit: str | None = None) -> str:
    """A column or row heading: the label with its unit, e.g. ``Win rate (%)``."""
    u = unit(name)
    suffix = {"share": "%", "count": "", "ratio": ""}.get(u, unit_text(name, time_unit))
    return f"{label(name)} ({suffix})" if suffix else label(name)


def markdown_table() -> str:
    """The README's KPI table."""
    lines = ["| KPI | label | unit | better | definition |", "|---|---|---|---|---|"]
    for k in REGISTRY:
        better = {True: "higher", False: "lower", None: "-"}[k.higher_is_better]
        lines.append(f"| `{k.id}` | {k.label} | {UNITS[k.unit]} | {better} | {k.definition} |")
    return "\n".join(lines)


# --- formatting by unit --------------------------------------------------------------------


def format_plain(value: float | None) -> str:
    """A number for a table: n/a for NaN, whole units with thousands separators from 1,000
    (``3,125,256``), 4 significant digits below, and never an exponent (``0.00003401``, not
    ``3.401e-05``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0 or abs(value) < 1e-9:
        return "0"
    if abs(float(f"{value:.4g}")) >= 1000:  # whole units from 1,000 (999.99 is 1,000)
        return f"{value:,.0f}"
    digits = max(0, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(name: str, value: float | None, time_unit: str | None = None) -> str:
    """A KPI's value in its unit: money with separators, shares as %, times with the unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    u = unit(name)
    if u == "share":
        return f"{100 * value + 0.0:.1f}%"
    if u == "money":
        if value == 0:
            return "0"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    text = format_plain(value)
    if u == "time" and time_unit is not None:
        return f"{text} {time_unit}s"
    if u == "days":
        return f"{text} days"
    return text


def format_difference(name: str, value: float | None, time_unit: str | None = None) -> str:
    """A difference of a KPI in its unit, signed: shares in percentage points."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit(name) == "share":
        return f"{100 * value + 0.0:+.1f} pts"
    text = format_value(name, value, time_unit)
    return text if text.startswith("-") or value == 0 else "+" + text


def format_change(value: float | None) -> str:
    """A relative change as a signed percentage, ``+1.4%``."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{100 * value + 0.0:+.1f}%"


# --- the two shared rules ------------------------------------------------------------------


def verdict(low: float, high: float, op: str, bound: float) -> str:
    """The verdict of a confidence interval against a bound, the one rule salessim uses.

    ``met`` when the whole interval satisfies ``value op bound`` (``op`` is ``"<="`` or
    ``">="``), ``missed`` when the whole interval fails it, ``unsure`` when it straddles the
    bound, and ``n/a`` when the interval is undefined.
    """
    if math.isnan(low) or math.isnan(high):
        return NOT_AVAILABLE
    if op == "<=":
        ok_low, ok_high = low <= bound, high <= bound
    elif op == ">=":
        ok_low, ok_high = low >= bound, high >= bound
    else:
        raise ValueError(f"op must be '<=' or '>=', got {op!r}")
    if ok_low and ok_high:
        return MET
    if not ok_low and not ok_high:
        return MISSED
    return UNSURE


def win_rate(won: float, lost: float, no_decision: float = 0.0) -> float:
    """The ``win_rate`` KPI: won / (won + lost + no_decision), NaN when nothing closed.

    The one definition: the KPI of a replication and the calibration back-test's win rate
    of a history both call this. A deal that ends with no decision is a deal not won, so
    it counts in the denominator (without such an end it is ``won / (won + lost)``).
    """
    closed = won + lost + no_decision
    return won / closed if closed else math.nan
