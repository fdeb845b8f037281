"""The back-test: does the calibrated scenario reproduce the history it came from?

The scenario is simulated over the export's own period (independent replications, each an
empty pipeline at the period's start, as a real export of deals created in the period is);
each replication's event log is read back with the same reader and the same KPIs are
computed for the data and for every replication: leads per 30-day month per source, the
share of deals that reach each stage, won deals, the win rate, the P10 / P50 / P90 of the
cycle time of won deals, and the open visits per stage at the export date.

A data value is *consistent* when it lies in the 95% prediction interval of one more
replication, mean +/- t(0.975, n - 1) sd sqrt(1 + 1/n). The cycle-time distributions are
compared by the earth mover's distance (:func:`scipy.stats.wasserstein_distance`) between
the data and all replications pooled; it is consistent when it is no larger than the 95th
percentile of the same distance from each replication to the pool of the others.
With ``since`` (the hold-out), only what happened from that date on is scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy import stats as st

from salessim import engine
from salessim.calibrate import readers
from salessim.calibrate.visits import DAY, Visits, build_visits
from salessim.ends import LOST, NO_DECISION, WON
from salessim.kpis import win_rate
from salessim.records import LOG_EPOCH
from salessim.scenario import Scenario, evolve
from salessim.scenario.parts import WEEKDAYS
from salessim.scenario.units import convert

MONTH_DAYS = 30
QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class Line:
    """One KPI of the back-test: the data beside the simulation."""

    kpi: str
    data: float
    mean: float
    low: float
    high: float

    @property
    def consistent(self) -> bool:
        if math.isnan(self.data) or math.isnan(self.mean):
            return math.isnan(self.data) and math.isnan(self.mean)
        if math.isnan(self.low):  # every replication gave the same value
            return math.isclose(self.data, self.mean)
        return self.low <= self.data <= self.high


@dataclass
class Backtest:
    """The back-test's lines, and the cycle times behind its distance."""

    lines: list[Line]
    replications: int
    since: pd.Timestamp | None
    emd: float
    emd_limit: float
    data_cycle: np.ndarray = field(repr=False)
    sim_cycle: np.ndarray = field(repr=False)

    @property
    def emd_consistent(self) -> bool:
        return not self.emd > self.emd_limit

    def frame(self) -> pd.DataFrame:
        """One row per KPI: kpi, data, sim_mean, sim_low, sim_high, consistent."""
        rows = [(x.kpi, x.data, x.mean, x.low, x.high, x.consistent) for x in self.lines]
        rows.append(("cycle_time_won_emd", self.emd, math.nan, 0.0, self.emd_limit,
                     self.emd_consistent))
        return pd.DataFrame(rows, columns=["kpi", "data", "sim_mean", "sim_low", "sim_high",
                                           "consistent"])

    @property
    def inconsistent(self) -> list[str]:
        return list(self.frame().query("not consistent")["kpi"])


def history_kpis(visits: Visits, since: pd.Timestamp | None = None
                 ) -> tuple[dict[str, float], np.ndarray]:
    """The back-test's KPIs of one history, and the cycle times (days) of its won deals."""
    since = visits.start if since is None else since
    deals, v = visits.deals, visits.visits
    out: dict[str, float] = {}
    new = deals[deals["created_at"] >= since]
    months = ((new["created_at"] - visits.start) / DAY // MONTH_DAYS).astype(int)
    first = int((since - visits.start) / DAY // MONTH_DAYS)
    last = int(visits.days // MONTH_DAYS)
    for source, group in new.groupby(new["source"].map(readers.slug)):
        counts = months[group.index].value_counts()
        out[f"leads.{source}"] = float(len(group))
        for m in range(first, last + 1):
            out[f"leads.{source}.month_{m + 1}"] = float(counts.get(m, 0))
    reached = v[v["deal_id"].isin(new["deal_id"])]
    stage_ids = reached["stage"].map(visits.target)
    for stage, ids in reached.groupby(stage_ids)["deal_id"]:
        out[f"reach.{stage}"] = ids.nunique() / len(new) if len(new) else math.nan
    closed = deals[(deals["closed_at"] >= since) & deals["outcome"].notna()]
    won = closed[closed["outcome"] == WON.name]
    ends = closed["outcome"].value_counts()
    out["won"] = float(len(won))
    out["win_rate"] = win_rate(len(won), int(ends.get(LOST.name, 0)),
                               int(ends.get(NO_DECISION.name, 0)))
    cycle = ((won["closed_at"] - won["created_at"]) / DAY).to_numpy(float)
    for q in QUANTILES:
        out[f"cycle_time_won_p{round(q * 100)}"] = (float(np.quantile(cycle, q)) if len(cycle)
                                                    else math.nan)
    open_now = v[v["exited_at"].isna()]["stage"].map(visits.target).value_counts()
    for stage in sorted(set(v["stage"].map(visits.target))):
        out[f"open.{stage}"] = float(open_now.get(stage, 0))
    return out, cycle


def simulated_histories(scenario: Scenario, days: float, replications: int, seed: int
                        ) -> list[Visits]:
    """Each replication of ``scenario`` over ``days``, read back as an export at its end.

    ``days`` is in days whatever the scenario's ``time_unit``; the simulated horizon is the
    whole days it spans, in the scenario's unit.
    """
    return [visits for visits, _ in simulated_runs(scenario, days, replications, seed)]


def simulated_runs(scenario: Scenario, days: float, replications: int, seed: int
                   ) -> list[tuple[Visits, dict[str, np.ndarray]]]:
    """As :func:`simulated_histories`, each with its waits for staff (days from ``queued``
    to ``started``) per stage."""
    horizon = convert(float(math.ceil(days)), "day", scenario.time_unit)
    scenario = scenario.model_copy(update={"horizon": horizon, "warmup": 0.0})
    result = engine.run(scenario, replications=replications, seed=seed, event_log=True)
    log = result.event_log()
    as_of = pd.Timestamp(LOG_EPOCH) + pd.Timedelta(days=days)
    out = []
    for _, frame in log.groupby("replication", sort=True):
        frame = frame.drop(columns=["replication"]).reset_index(drop=True)
        raw = readers.eventlog_rows(frame.assign(row=np.arange(2, len(frame) + 2)), "<simulation>")
        sim = build_visits(raw, "<simulation>", as_of=as_of)
        # The simulated period starts at the epoch, whenever its first lead arrived.
        out.append((_restart(sim, pd.Timestamp(LOG_EPOCH)), _waits(frame, scenario.time_unit)))
    return out


def _waits(log: pd.DataFrame, unit: str) -> dict[str, np.ndarray]:
    """Days from each ``queued`` to the ``started`` of the same lead and stage (in order)."""
    parts = {}
    for event in ("queued", "started"):
        rows = log[log["event"] == event][["lead", "stage", "time"]]
        parts[event] = rows.assign(k=rows.groupby(["lead", "stage"]).cumcount())
    both = parts["queued"].merge(parts["started"], on=["lead", "stage", "k"],
                                 suffixes=("_q", "_s"))
    wait = (both["time_s"] - both["time_q"]).to_numpy(float) * convert(1.0, unit, "day")
    return {str(st_): wait[idx] for st_, idx in both.groupby("stage").indices.items()}


def aligned(scenario: Scenario, start: pd.Timestamp) -> Scenario:
    """The scenario with its arrival profiles and staff calendars turned so that simulated
    day 0 has the weekday (and roughly the calendar month) of ``start``: simulated time 0 is
    always Monday 5 January 2026, the export's first day need not be."""
    shift, months = int(start.day_of_week), int(start.month) - 1
    change: dict[str, object] = {}
    for sid, source in scenario.sources.items():
        profile = source.profile
        if profile is not None and profile.weekly:
            change[f"sources.{sid}.profile.weekly"] = [
                profile.weekly[(k + shift) % 7] for k in range(7)]
        if profile is not None and profile.monthly:
            change[f"sources.{sid}.profile.monthly"] = [
                profile.monthly[(k + months) % 12] for k in range(12)]
        if profile is not None and profile.hourly and start.hour:
            # Simulated hour 0 is the hour of ``start`` (an as-of date need not be midnight).
            change[f"sources.{sid}.profile.hourly"] = [
                profile.hourly[(h + start.hour) % 24] for h in range(24)]
    if shift:
        # Staff calendars too: simulated weekday k is the export's weekday k + shift, and
        # a holiday (written for a run whose day 0 is the Monday of the export's first
        # week) comes shift days earlier.
        for rid, role in scenario.roles.items():
            if role.calendar is not None:
                change[f"roles.{rid}.calendar.workdays"] = _turned(role.calendar.workdays,
                                                                   shift)
                if role.calendar.holidays:
                    change[f"roles.{rid}.calendar.holidays"] = [
                        f"{d - timedelta(days=shift):%Y-%m-%d}"
                        for d in role.calendar.holidays]
        if scenario.calendar is not None:
            change["calendar.workdays"] = _turned(scenario.calendar.workdays, shift)
    return evolve(scenario, change) if change else scenario


def _turned(workdays: Sequence[str], shift: int) -> list[str]:
    """Working weekdays as simulated weekdays when simulated Monday is the export's weekday
    ``shift`` (holidays, given as dates, stay as they are)."""
    worked = {WEEKDAYS.index(d) for d in workdays}
    return [WEEKDAYS[k] for k in range(7) if (k + shift) % 7 in worked]


def _restart(visits: Visits, start: pd.Timestamp) -> Visits:
    from dataclasses import replace

    return replace(visits, start=start)


def backtest(visits: Visits, scenario: Scenario, replications: int = 20, seed: int = 1,
             since: pd.Timestamp | None = None,
             waits: dict[str, tuple[float, float]] | None = None) -> Backtest:
    """Simulate ``scenario`` over the period of ``visits`` and compare KPI by KPI.

    Args:
        visits: the whole history (the hold-out part included).
        scenario: the calibrated scenario.
        replications: simulated histories (at least 2).
        seed: root seed of the simulation.
        since: score only from this date (the start of the hold-out).
        waits: the data's median and P90 wait for staff per stage (days; an event log's
            schedule to start), scored as ``wait.<stage>.p50`` and ``.p90``.
    """
    replications = max(2, replications)
    data, data_cycle = history_kpis(visits, since)
    offset = None if since is None else pd.Timestamp(LOG_EPOCH) + (since - visits.start)
    runs = simulated_runs(aligned(scenario, visits.start), visits.days, replications, seed)
    sims = [history_kpis(h, offset) for h, _ in runs]
    for stage, (p50, p90) in (waits or {}).items():
        data[f"wait.{stage}.p50"], data[f"wait.{stage}.p90"] = p50, p90
        for (kp, _), (_, sim_waits) in zip(sims, runs, strict=True):
            w = sim_waits.get(stage, np.array([]))
            kp[f"wait.{stage}.p50"], kp[f"wait.{stage}.p90"] = (
                (float(np.quantile(w, 0.5)), float(np.quantile(w, 0.9))) if len(w)
                else (math.nan, math.nan))
    names = list(data) + sorted({k for kp, _ in sims for k in kp} - set(data))
    t = st.t.ppf(0.975, replications - 1)
    lines = []
    for name in names:
        values = np.array([kp.get(name, 0.0 if _count(name) else math.nan) for kp, _ in sims])
        values = values[np.isfinite(values)]
        x = data.get(name, 0.0 if _count(name) else math.nan)
        if len(values) == 0:
            lines.append(Line(name, x, math.nan, math.nan, math.nan))
            continue
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        half = t * sd * math.sqrt(1 + 1 / len(values)) if sd > 0 else math.nan
        lines.append(Line(name, x, mean, mean - half, mean + half))
    pooled = np.concatenate([c for _, c in sims]) if sims else np.array([])
    emd = (float(st.wasserstein_distance(data_cycle, pooled))
           if len(data_cycle) and len(pooled) else math.nan)
    self_emd = []
    for i, (_, c) in enumerate(sims):
        rest = np.concatenate([s for j, (_, s) in enumerate(sims) if j != i])
        if len(c) and len(rest):
            self_emd.append(st.wasserstein_distance(c, rest))
    limit = float(np.quantile(self_emd, 0.95)) if self_emd else math.nan
    return Backtest(lines, replications, since, emd, limit, data_cycle, pooled)


def touch_warnings(bt: Backtest, touch: dict[str, float]) -> list[str]:
    """The warning of a back-test that ``--touch`` leaves inconsistent with the history.

    The staff work ``--touch`` gives makes queues the export cannot show; when the
    calibrated scenario then fails its own back-test (a KPI outside its prediction interval,
    or the cycle-time distance above its limit), the scenario is slower or busier than the
    history it came from, and the report must not read "Warnings: none".
    """
    if not touch:
        return []
    wrong = [x for x in bt.lines if not x.consistent]
    if not wrong and bt.emd_consistent:
        return []
    given = ", ".join(f"{stage} {days:g} day{'s' if days != 1 else ''}"
                      for stage, days in touch.items())
    parts = [f"{x.kpi} {x.data:.4g} in the data against {x.mean:.4g} simulated (95% "
             f"prediction interval {x.low:.4g} to {x.high:.4g})" for x in wrong[:3]]
    if len(wrong) > 3:
        parts.append(f"{len(wrong) - 3} more")
    if not bt.emd_consistent:
        parts.append(f"the cycle time of won deals {bt.emd:.4g} days from the data's "
                     f"(earth mover's distance; replications differ by up to "
                     f"{bt.emd_limit:.4g})")
    return [f"--touch ({given}) leaves the back-test inconsistent with the history: "
            f"{'; '.join(parts)}. The staff work it adds makes queues that slow deals the "
            "history shows were not slowed: lower the --touch durations or give more "
            "staff (--headcount owner=N), and see backtest.csv"]


def _count(name: str) -> bool:
    """KPIs that are counts: absent means zero (absent rates and quantiles are undefined)."""
    return name.startswith(("leads.", "open.", "reach.")) or name == "won"
