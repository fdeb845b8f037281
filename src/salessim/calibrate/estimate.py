"""Estimators: arrivals, routing, time in stage, deal values and staff, each with its CI.

- Arrivals per source: a Poisson rate n / days with its exact (Garwood) interval. The
  daily counts get the chi-square dispersion test (sum (x - mean)^2 / mean on d - 1 degrees
  of freedom); the counts per weekday and per calendar month get a chi-square test against
  their exposure (days of that kind in the period). A shape whose test rejects flatness at
  :data:`ALPHA` becomes a ``profile`` of multipliers (rate of that weekday / overall rate).
  A long export (>= 90 days) whose first and last quarter differ (conditional binomial test)
  is reported as drift.
- Routing per stage: each exit's Aalen-Johansen cumulative incidence at the longest
  follow-up, open visits censored (the share of the closed visits over-represents fast
  exits); Wilson intervals at the effective sample size.
- Time in stage: :mod:`salessim.calibrate.durations` (right-censored).
- Deal value per source: lognormal by maximum likelihood on log amounts (mean with a
  Student-t interval on the amounts); below :data:`MIN_VALUES` amounts the empirical values.
- Staff: distinct owners active (entering a visit) per calendar month; the median is the
  headcount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as st

from salessim.calibrate import checks
from salessim.calibrate.arrivals import (
    ALPHA,
    Arrivals,
    Test,
    Window,
    fit_arrivals,
    poisson_interval,
    window,
)
from salessim.calibrate.drift import Drift, arrival_change, find_drift
from salessim.calibrate.durations import MIN_DAYS, FamilyFit, StageTimes, fit_stage
from salessim.calibrate.exits import StageExits, fit_exits
from salessim.calibrate.fromlog import EventLog
from salessim.calibrate.headcount import Headcount, choose_headcount, override_roles
from salessim.calibrate.incidence import incidence_shares
from salessim.calibrate.lifecycle import resolution
from salessim.calibrate.readers import ExportError, slug
from salessim.calibrate.staff import Staff, discover
from salessim.calibrate.values import MIN_VALUES as MIN_VALUES  # part of this API
from salessim.calibrate.values import Values as Values  # part of this API
from salessim.calibrate.values import fit_values as fit_values  # part of this API
from salessim.calibrate.visits import DAY, Visits
from salessim.ends import NOT_FORWARD, WON
from salessim.scenario.parts import WEEKDAYS

DRIFT_DAYS = 90


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    z = st.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Routing:
    """Where visits of one stage went: counts, shares and Wilson intervals per target."""

    stage: str
    exits: int
    open: int
    counts: dict[str, int]
    shares: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    prior: str = ""


@dataclass
class Calibration:
    """Everything estimated from one export, with the visits it came from."""

    visits: Visits
    entry: str
    arrivals: dict[str, Arrivals]
    routing: dict[str, Routing]
    times: dict[str, StageTimes]
    values: dict[str, Values]
    headcount: int | None
    owners_per_month: dict[str, int]
    touch: dict[str, float]
    warnings: list[str]
    assumptions: list[str]
    staff: Staff | None = None
    log: EventLog | None = field(default=None, repr=False)
    window: Window | None = None
    staffing: Headcount | None = None
    drift: list[Drift] = field(default_factory=list)
    exits: dict[str, StageExits] = field(default_factory=dict)


def fit_routing(visits: Visits) -> dict[str, Routing]:
    """Shares of the exits of each stage, loops and skips included: each exit's
    Aalen-Johansen cumulative incidence at the stage's longest follow-up
    (:func:`salessim.calibrate.incidence.incidence_shares`), not its share of the closed
    visits, which over-represents the fast exits while visits are open."""
    v = visits.visits
    durations = np.maximum(visits.durations().to_numpy(float), 0.0)
    out = {}
    for stage, idx in v.groupby("stage", sort=False).indices.items():
        group = v.iloc[idx]
        closed = group["next_stage"].dropna()
        counts = closed.map(visits.target).value_counts()
        n = int(counts.sum())
        targets = {str(t): int(c) for t, c in counts.items()}
        causes = sorted(targets)
        code = np.array([-1 if pd.isna(s) else causes.index(visits.target(s))
                         for s in group["next_stage"]], int)
        found = incidence_shares(durations[idx], code, causes)
        out[visits.target(stage)] = Routing(
            visits.target(stage), n, int(group["next_stage"].isna().sum()), targets,
            dict(found.shares), {t: found.interval(t) for t in found.shares})
    return out


def pool_unexited(visits: Visits, routing: dict[str, Routing]) -> list[str]:
    """Give each stage with no observed exit a stated prior instead of its own shares.

    A short export can end before any deal leaves a late stage. Its own exits say nothing,
    and "lost" for all would be a funnel that never wins. The prior pools the stages with
    exits: the share of their exits that ended a deal without a sale (lost, no decision),
    with its Wilson interval, goes to those ends in the pooled proportions; the rest moves
    forward, to the next stage in funnel order (stages ranked by the median position of
    their visits in a deal's path) or, for the last stage, to won.

    Returns:
        One warning per pooled stage (the prior in words).

    Raises:
        ExportError: no stage has an exit at all (nothing to pool).
    """
    from salessim.calibrate.readers import ExportError

    empty = [sid for sid, r in routing.items() if r.exits == 0]
    if not empty:
        return []
    pooled: dict[str, int] = {}
    for r in routing.values():
        for target, count in r.counts.items():
            pooled[target] = pooled.get(target, 0) + count
    total = sum(pooled.values())
    if total == 0:
        raise ExportError(f"stage {empty[0]!r}: no visit of any stage ended in the data, so "
                          "the routing of a stage with no exits cannot be pooled from the "
                          "others; give a longer export (or an earlier --as-of)")
    off = {t: c for t, c in pooled.items() if t in NOT_FORWARD}
    n_off = sum(off.values())
    v = visits.visits
    rank = v.groupby("deal_id", sort=False).cumcount().groupby(
        v["stage"].map(visits.target)).median().sort_values(kind="stable")
    order = [str(s) for s in rank.index]
    low, high = wilson(n_off, total)
    out = []
    for sid in empty:
        r = routing[sid]
        later = order[order.index(sid) + 1:] if sid in order else []
        forward = later[0] if later else WON.name
        shares = {t: c / total for t, c in off.items()}
        shares[forward] = shares.get(forward, 0.0) + 1 - n_off / total
        r.shares = shares
        r.intervals = {t: (low, high) if t in off else (1 - high, 1 - low) for t in shares}
        r.prior = (f"no exit seen: pooled prior from the {total} exits of the other stages, "
                   f"{n_off} of them ({n_off / total:.1%}, 95% Wilson CI [{low:.3f}, "
                   f"{high:.3f}]) ended without a sale; the rest moves on to {forward!r}")
        out.append(f"stage never left: {sid!r} has {r.open} visits and none ended in the "
                   f"export, so its routing is a prior, not an estimate: {r.prior}; a longer "
                   "export (or a later --as-of) measures it")
    return out


def time_resolution(visits: Visits) -> float:
    """The resolution of the visits' entry times in days, at most :data:`MIN_DAYS`."""
    return min(resolution(visits.visits["entered_at"]), MIN_DAYS)


def fit_times(visits: Visits, families: dict[str, FamilyFit] | None = None
              ) -> dict[str, StageTimes]:
    """Right-censored time in stage of every stage (only ``families[stage]``'s family, if
    given, started from its parameters)."""
    v = visits.visits
    durations = visits.durations().to_numpy()
    is_open = v["exited_at"].isna().to_numpy()
    res = time_resolution(visits)
    out = {}
    for stage, idx in v.groupby("stage", sort=False).indices.items():
        sid = visits.target(stage)
        out[sid] = fit_stage(sid, durations[idx], is_open[idx], (families or {}).get(sid), res)
    return out


def owners_per_month(visits: Visits) -> dict[str, int]:
    """Distinct owners entering a visit in each calendar month."""
    v = visits.visits.dropna(subset=["owner"])
    if v.empty:
        return {}
    month = v["entered_at"].dt.strftime("%Y-%m")
    return {str(m): int(c) for m, c in v.groupby(month)["owner"].nunique().items()}


def entry_stage(visits: Visits) -> tuple[str, list[str]]:
    """The stage most deals start in; a warning when some start elsewhere."""
    first = visits.visits.drop_duplicates("deal_id", keep="first")["stage"].map(visits.target)
    counts = first.value_counts()
    if counts.empty:  # every row is an end: a first stage was named as an end
        ends = ", ".join(f"{name!r} ({end})" for name, end in sorted(visits.ends.items()))
        raise ExportError(f"no deal visits a stage before its end: every row is in an end stage "
                          f"({ends}); --won, --lost and --no-decision name the stages where "
                          "deals end, not one they start in")
    entry = str(counts.index[0])
    others = int(counts.iloc[1:].sum())
    warnings = []
    if others:
        warnings.append(f"several first stages: {others} of {len(first)} deals start in a stage "
                        f"other than {entry!r} (an export that starts mid-stream); the scenario "
                        f"sends every new lead to {entry!r}")
    return entry, warnings


def _logged_touch(visits: Visits, given: dict[str, float]) -> dict[str, float]:
    """Mean logged staff time per visit of each stage (days), where the export has it."""
    if "touch" not in visits.visits:
        return {}
    v = visits.visits.dropna(subset=["touch"])
    means = v.groupby(v["stage"].map(visits.target))["touch"].mean()
    return {str(s): float(m) for s, m in means.items() if m > 0 and s not in given}


def calibrate(visits: Visits, touch: dict[str, float] | None = None,
              families: dict[str, FamilyFit] | None = None, log: EventLog | None = None,
              headcount: dict[str, int] | None = None) -> Calibration:
    """Every estimate from one export.

    Args:
        visits: the normalised visits (:func:`salessim.calibrate.visits.build_visits`).
        touch: staff work per stage in days (``--touch``), taken out of the stage's delay.
        families: per stage id, the only family of time in stage to fit, with the
            parameters to start from (the forecast's bootstrap keeps the fits chosen on
            the data); default: every family, chosen by AIC.
        log: the event log the visits came from (:func:`salessim.calibrate.fromlog.read_log`):
            its work items give the staff, calendars and waits.
        headcount: ``--headcount``, {role: N}; without it and without owners in the data,
            the headcount of staff work is estimated (:mod:`salessim.calibrate.headcount`).
    """
    touch = dict(touch or {})
    logged = _logged_touch(visits, touch)
    touch.update(logged)
    warnings = list(visits.warnings)
    entry, more = entry_stage(visits)
    warnings += more
    win = window(visits)
    warnings += win.warnings
    partial = win.partial_months()
    if partial and win.days >= 60:
        warnings.append(f"partial periods: the months {', '.join(partial)} are only partly in "
                        "the data; they are left out of the monthly test (a part-month reads "
                        "as low demand), as are the first and last days from the daily "
                        "counts; the rate uses the whole window")
    arrivals = fit_arrivals(visits, win)
    routing = fit_routing(visits)
    warnings += pool_unexited(visits, routing)
    times = fit_times(visits, families)
    exits = fit_exits(visits, time_resolution(visits), times, families)
    warnings += _stage_checks(visits, times, exits)
    unknown = sorted(set(touch) - set(times))
    if unknown:
        from salessim.calibrate.readers import ExportError

        raise ExportError(f"--touch {unknown[0]}: no such stage (stages: {', '.join(times)})")
    for sid, fit in times.items():
        if fit.exits == 0:
            warnings.append(f"stage never left: {sid!r} has {fit.censored} visits and none "
                            "ended; its time in stage is an assumption")
        elif fit.exits < 20:
            warnings.append(f"tiny sample: {sid!r} has only {fit.exits} exits; {fit.note}")
    for sid, a in arrivals.items():
        if a.n < 20:
            warnings.append(f"tiny sample: source {sid!r} has only {a.n} deals")
        warnings += checks.arrival_warnings(a)
        if a.drift is not None and a.drift.rejects:
            change = _arrival_change(visits, sid, win)
            warnings.append(f"drift: source {sid!r} had {a.drift.statistic:+.0f} more arrivals "
                            f"in the first quarter of the period than in the last "
                            f"(p = {a.drift.p:.2g}); a flat rate may not describe it"
                            + ("" if change is None else
                               f"; the rate changed most about {change[0]:%Y-%m-%d}, from "
                               f"{change[1]:.3g} to {change[2]:.3g} a day: calibrate on the "
                               f"data after it with --since {change[0]:%Y-%m-%d}"))
    drift = find_drift(visits)
    warnings += [d.warning() for d in drift]
    owners = owners_per_month(visits)
    staff = discover(visits, log.instances) if log is not None else None
    given = dict(headcount or {})
    if staff is not None:  # the log's roles: --headcount replaces theirs, no owner role
        warnings += override_roles(staff, given)
        given = {}
    staffing = choose_headcount(visits, owners, touch, given)
    assumptions = [
        "time in stage in a CRM is queue + staff work + customer-side time together; it "
        "cannot be split without activity data, so the whole time in stage is the stage's "
        "customer-side delay" + (" less the staff work given by --touch" if touch else ""),
        "a lead arrives when its deal is created and enters the stage most deals start in",
        "deal value is each deal's amount at its end",
    ]
    if staffing is None:
        assumptions.append("no owners in the data: no staff roles")
    elif staffing.source == "estimated":
        assumptions.append(f"headcount {staffing.value} {staffing.note}")
        warnings.append(f"headcount not in the data: {staffing.value}, {staffing.note}")
    elif staffing.source == "given" and owners:
        warnings.append(f"headcount given ({staffing.value}) overrides the data's median of "
                        f"distinct owners per month ({', '.join(map(str, owners.values()))})")
    for sid, days in logged.items():
        assumptions.append(f"staff work of {sid!r} is the mean logged activity time of its "
                           f"visits ({days * 24:.3g} hours), exponential")
    if staff is not None:
        warnings += checks.staff_warnings(staff.several_roles)
    return Calibration(visits, entry, arrivals, routing, times, fit_values(visits),
                       None if staffing is None else staffing.value, owners, touch, warnings,
                       assumptions, staff, log, win, staffing, drift, exits)


def _arrival_change(visits: Visits, sid: str, win: Window):
    """The most likely change of source ``sid``'s arrival rate in the window, or None."""
    deals = visits.deals[visits.deals["source"].map(slug) == sid]
    created = deals["created_at"].dropna()
    return arrival_change(created[created < win.end], win.start, win.end)


def _stage_checks(visits: Visits, times: dict[str, StageTimes],
                  exits: dict[str, StageExits]) -> list[str]:
    """The checks of :mod:`salessim.calibrate.checks` on every stage's fit and durations;
    a stage whose time-out the exits analysis found gets that finding, not the jump's."""
    v = visits.visits
    durations = visits.durations().to_numpy()
    is_open = v["exited_at"].isna().to_numpy()
    res = time_resolution(visits)
    out = []
    for stage, idx in v.groupby("stage", sort=False).indices.items():
        sid = visits.target(stage)
        t = times[sid]
        out += checks.fit_warnings(sid, t)
        timeout = exits[sid].timeout if sid in exits else None
        if timeout is None:
            out += checks.jump_warnings(sid, durations[idx], is_open[idx], res)
        else:
            out.append(f"jump in the Kaplan-Meier curve: stage {sid!r}: exits by "
                       f"{timeout.to!r} pile up at an age of {timeout.after:.3g} days, a "
                       f"time-out: {timeout.words()}; the scenario says timeout: {{after: "
                       f"{timeout.after:.4g} days, to: {timeout.to}}} unless the stage has "
                       "staff work")
        out += checks.resolution_warnings(sid, durations[idx], is_open[idx], res)
        out += checks.sample_warnings(sid, t)
    return out


__all__ = ["ALPHA", "DAY", "Arrivals", "Calibration", "Test", "WEEKDAYS", "calibrate",
           "fit_arrivals", "poisson_interval", "wilson"]
