"""Bookings to a date from today's open pipeline and the leads still to come.

The scenario is started from the open deals (a warm start, ``model/warmstart.py``) at the
as-of date and run to the ``until`` date; new leads arrive as the scenario says from the
as-of date on. Each replication is one possible quarter: its bookings are the value of the
deals won in (as-of, until], split by where they came from. Over the replications the
bookings have a distribution: its P10, P50 and P90, and the chance to reach a quota.

The weighted pipeline (amount x the stage's chance to be won, from the scenario's own
routing) is computed beside it: it ignores when deals close and whether the staff can work
them, which is what the simulation adds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import ValidationError

from salessim import engine
from salessim.calibrate.backtest import aligned
from salessim.ends import LOST, NO_DECISION, WON
from salessim.errors import ScenarioError, UsageError
from salessim.forecast import score
from salessim.forecast.caveats import forecast_caveats
from salessim.forecast.deals import Snapshot
from salessim.scenario.hires import rebased
from salessim.scenario.load import Document, located_problems
from salessim.scenario.schema import Scenario, process_problems
from salessim.scenario.size import size_problems
from salessim.scenario.units import convert

#: Replications when none are asked for: P10 and P90 of 500 draws move by about 1% of
#: the spread from one seed to the next.
DEFAULT_REPLICATIONS = 500
#: The quantiles reported.
QUANTILES = (0.1, 0.5, 0.9)
PERIODS = ("month", "week")
#: How the band is made without the bootstrap (``forecast.bootstrap.band_name``).
PLAIN_BAND = "process randomness, parameters as calibrated"
#: Added to the band's name when some source's arrivals vary by day (``profile.day_effect``).
OVERDISPERSED = " (arrivals over-dispersed by the day effect)"


def plain_band(scenario: Scenario) -> str:
    """How a forecast's band is made without the bootstrap: the process's randomness, with
    the day-to-day variation of arrivals when the scenario has it (a calibrated day effect:
    daily counts gamma-Poisson, not Poisson)."""
    return PLAIN_BAND + (OVERDISPERSED if overdispersed(scenario) else "")


def overdispersed(scenario: Scenario) -> bool:
    """Whether some source's daily arrivals carry a day effect."""
    return any(s.profile is not None and s.profile.day_effect is not None
               for s in scenario.sources.values())


@dataclass
class Forecast:
    """The simulated outcomes of a forecast, per replication.

    Attributes:
        scenario: the scenario as run (open deals, horizon to ``until``).
        snapshot: the open deals and the as-of date.
        until: the end of the forecast window.
        totals: one row per replication, one column per whole-window KPI.
        by_period: one row per replication, columns ``<kpi>.<period>``.
        deal_end: per replication and open deal, the end code (0 still open).
        deal_when: per replication and open deal, when it ended (days after as-of; NaN open).
        win_probability: per stage, the chance a deal there is won at all (routing only).
        cumulative: per replication, bookings to the end of each day (columns: days).
        band: how the band was made: :data:`PLAIN_BAND`, or with the parameters'
            uncertainty (:mod:`salessim.forecast.bootstrap`).
    """

    scenario: Scenario
    snapshot: Snapshot
    until: pd.Timestamp
    totals: pd.DataFrame
    by_period: pd.DataFrame
    deal_end: np.ndarray
    deal_when: np.ndarray
    win_probability: dict[str, float]
    cumulative: np.ndarray
    period: str = "month"
    warnings: list[str] = field(default_factory=list)
    band: str = PLAIN_BAND

    @property
    def replications(self) -> int:
        return len(self.totals)

    @property
    def bookings(self) -> np.ndarray:
        return self.totals["bookings"].to_numpy()

    @property
    def weighted_pipeline(self) -> float:
        """Sum of amount x the stage's win probability over the open deals."""
        return float(sum(d["value"] * self.win_probability[d["stage"]]
                         for d in self.snapshot.deals))

    def table(self) -> pd.DataFrame:
        """``forecast.csv``: kpi, mean, p10, p50, p90 (whole window, then per period), and
        ``band``, how the band was made (the same on every row)."""
        rows = [_row(k, self.totals[k].to_numpy()) for k in self.totals.columns]
        rows += [_row(k, self.by_period[k].to_numpy()) for k in self.by_period.columns]
        out = pd.DataFrame(rows, columns=["kpi", "mean", "p10", "p50", "p90"])
        return out.assign(band=self.band)

    def quota(self, quota: float, booked: float = 0.0, level: float = 0.95
              ) -> tuple[float, float, float]:
        """The chance that ``booked`` + bookings reach ``quota``, with its Wilson interval."""
        from salessim.calibrate.estimate import wilson

        hits = int((booked + self.bookings >= quota).sum())
        low, high = wilson(hits, self.replications, level)
        return hits / self.replications, low, high

    def deals_table(self) -> pd.DataFrame:
        """``deals.csv``: per open deal its chances (won, lost, open at until) and close date."""
        snap, n = self.snapshot, self.replications
        ended = self.deal_end
        days = self.deal_when.copy()
        days[ended == 0] = np.inf  # closes after until: counts as late in the quantiles
        closed = np.where(ended != 0, days, np.inf)
        out = pd.DataFrame({
            "deal_id": [d["id"] for d in snap.deals],
            "stage": [d["stage"] for d in snap.deals],
            "age": snap.table["age_days"].round(2).to_numpy(),
            "amount": [d["value"] for d in snap.deals],
            "p_win": (ended == WON.code).sum(axis=0) / n,
            "p_lost": np.isin(ended, (LOST.code, NO_DECISION.code)).sum(axis=0) / n,
            "p_open": (ended == 0).sum(axis=0) / n,
        })
        out["expected_bookings"] = out["p_win"] * out["amount"]
        out["stage_probability"] = out["stage"].map(self.win_probability)
        out["weighted_amount"] = out["stage_probability"] * out["amount"]
        for q, name in ((0.5, "close_median"), (0.9, "close_p90")):
            at = np.quantile(closed, q, axis=0, method="inverted_cdf") if n else np.empty(0)
            out[name] = [(self.snapshot.as_of + pd.Timedelta(days=float(t))).floor("min")
                         if math.isfinite(t) else pd.NaT for t in at]
        return out.sort_values("expected_bookings", ascending=False, kind="stable")


def _row(kpi: str, values: np.ndarray) -> list:
    q = score.quantiles(values, QUANTILES) if len(values) else [math.nan] * 3
    return [kpi, float(values.mean()) if len(values) else math.nan, *map(float, q)]


def win_probability(scenario: Scenario) -> dict[str, float]:
    """Per stage, the chance that a deal there ends won (routing probabilities only).

    The absorbing Markov chain of the stages: (I - Q) p = r, with Q the stage-to-stage
    probabilities and r the probability of going to won. Decay, score odds and skip rules
    are left out, as a stage probability in a CRM leaves them out.
    """
    ids = list(scenario.stages)
    index = {sid: i for i, sid in enumerate(ids)}
    q = np.zeros((len(ids), len(ids)))
    r = np.zeros(len(ids))
    for sid, stage in scenario.stages.items():
        for target, p in stage.next.items():
            if target in index:
                q[index[sid], index[target]] += p
            elif target == WON.name:
                r[index[sid]] += p
    won = np.linalg.solve(np.eye(len(ids)) - q, r)
    return {sid: float(min(max(won[i], 0.0), 1.0)) for i, sid in enumerate(ids)}


def forecast_scenario(scenario: Scenario, snapshot: Snapshot, until: pd.Timestamp,
                      replications: int | None = None, seed: int | None = None) -> Scenario:
    """``scenario`` started from the snapshot's open deals and run to ``until``."""
    as_of = snapshot.as_of
    if until <= as_of:
        raise UsageError(f"--until {until} must be after the as-of date {as_of}")
    days = (until - as_of) / pd.Timedelta(days=1)
    data = scenario.model_dump(by_alias=True)
    data.update(horizon=convert(days, "day", scenario.time_unit), warmup=0.0,
                pipeline=snapshot.deals, periods=None, roles=rebased(data["roles"], as_of.date()))
    if replications is not None:
        data["replications"] = replications
    if seed is not None:
        data["seed"] = seed
    try:
        ready = Scenario.model_validate(data, context={"time_unit": scenario.time_unit})
    except ValidationError as exc:  # an open deal breaks a rule of its own (a long id)
        raise ScenarioError(located_problems(Document(data), exc)) from None
    problems = process_problems(ready)
    if not problems:  # the window to ``until`` is a run of its own, within run's limits
        problems = size_problems(ready)
        for p in problems:
            p.rule += f" (in the window from {as_of:%Y-%m-%d} to {until:%Y-%m-%d})"
    if problems:
        raise ScenarioError(problems)
    return aligned(ready, as_of)


def run_forecast(scenario: Scenario, snapshot: Snapshot, until: pd.Timestamp,
                 replications: int = DEFAULT_REPLICATIONS, seed: int | None = None,
                 period: str = "month",
                 mapper: Callable[[Callable, Iterable], Iterable] = map,
                 progress: Callable[[object], None] | None = None) -> Forecast:
    """Simulate the bookings to ``until`` from the snapshot (see the module's docstring)."""
    if period not in PERIODS:
        raise UsageError(f"--period: one of {', '.join(PERIODS)}, got {period!r}")
    ready = forecast_scenario(scenario, snapshot, until, replications, seed)
    result = engine.run(ready, mapper=mapper, progress=progress, watch_wins=True)
    out = summarise(ready, snapshot, until, result.replications, period)
    out.band = plain_band(ready)
    late = calendar_warning(ready, snapshot.as_of)
    out.warnings += [late] if late else []
    out.warnings += forecast_caveats(ready, result)  # as run gives them: WIP, busy roles
    return out


def calendar_warning(scenario: Scenario, as_of: pd.Timestamp) -> str | None:
    """The one warning when staff work to a calendar and the as-of time is not a Monday
    00:00: the calendar's week starts at simulated time 0, the as-of time."""
    calendars = [scenario.calendar, *(r.calendar for r in scenario.roles.values())]
    if all(c is None for c in calendars) or (as_of.day_of_week == 0 and as_of == as_of.normalize()):
        return None
    return (f"the staff calendar's week starts at the as-of time ({as_of:%A %Y-%m-%d %H:%M}) "
            "as if it were Monday 00:00; take the pipeline on a Monday at midnight (--as-of) "
            "to line the working days up")


def summarise(scenario: Scenario, snapshot: Snapshot, until: pd.Timestamp, reps: list,
              period: str = "month") -> Forecast:
    """The forecast from finished replications (``Replication.pipeline`` filled)."""
    per_day = convert(1.0, "day", scenario.time_unit)  # time units per day
    days = (until - snapshot.as_of) / pd.Timedelta(days=1)
    edges, labels = _period_edges(snapshot.as_of, until, period)
    grid = np.arange(1, math.ceil(days) + 1, dtype=float)
    totals, periods, ends, whens, cumulative = [], [], [], [], []
    values = np.array([d["value"] for d in snapshot.deals], dtype=float)
    for rep in reps:
        out = rep.pipeline
        wins = np.array(out.wins, dtype=float).reshape(-1, 3)
        t, value, opened = wins[:, 0] / per_day, wins[:, 1], wins[:, 2] > 0
        tally = rep.tally
        won_open = out.end == WON.code
        totals.append({
            "bookings": value.sum(),
            "bookings_from_open": value[opened].sum(),
            "bookings_from_new": value[~opened].sum(),
            "won": float(len(value)),
            "won_from_open": float(won_open.sum()),
            "won_from_new": float((~opened).sum()),
            "lost": float(np.isin(out.end, (LOST.code, NO_DECISION.code)).sum()
                          + tally.lost + tally.no_decision),
            "slipped": float((out.end == 0).sum()),
            "slipped_value": float(values[out.end == 0].sum()),
            "leads": float(tally.leads),
        })
        k = np.searchsorted(edges, t, side="left") - 1
        row = {}
        for j, label in enumerate(labels):
            here = k == j
            row[f"bookings.{label}"] = value[here].sum()
            row[f"bookings_from_open.{label}"] = value[here & opened].sum()
            row[f"bookings_from_new.{label}"] = value[here & ~opened].sum()
            row[f"won.{label}"] = float(here.sum())
        periods.append(row)
        ends.append(out.end.copy())
        whens.append(out.when / per_day)
        order = np.argsort(t)
        cum = np.concatenate([[0.0], np.cumsum(value[order])])
        cumulative.append(cum[np.searchsorted(t[order], grid, side="right")])
    n_deals = len(snapshot.deals)
    return Forecast(
        scenario, snapshot, until, pd.DataFrame(totals), pd.DataFrame(periods),
        np.array(ends).reshape(len(reps), n_deals), np.array(whens).reshape(len(reps), n_deals),
        win_probability(scenario), np.array(cumulative).reshape(len(reps), len(grid)), period,
        list(snapshot.warnings))


def _period_edges(as_of: pd.Timestamp, until: pd.Timestamp, period: str
                  ) -> tuple[np.ndarray, list[str]]:
    """Start of each calendar month (or ISO week) in the window, as days after as-of."""
    if period == "month":
        starts = pd.date_range(as_of.to_period("M").start_time, until, freq="MS")
        labels = [f"{s:%Y-%m}" for s in starts]
    else:
        starts = pd.date_range(as_of.to_period("W-SUN").start_time, until, freq="W-MON")
        labels = [f"{s.isocalendar().year}-W{s.isocalendar().week:02d}" for s in starts]
    if len(starts) == 0 or starts[0] > as_of:  # the period holding as-of starts before it
        first = as_of.to_period("M" if period == "month" else "W-SUN").start_time
        starts = pd.DatetimeIndex([first, *starts])
        labels = [f"{first:%Y-%m}" if period == "month" else
                  f"{first.isocalendar().year}-W{first.isocalendar().week:02d}", *labels]
    edges = np.array([(s - as_of) / pd.Timedelta(days=1) for s in starts])
    return edges, labels


def paired(base: Forecast, other: Forecast, kpis: tuple[str, ...] = (
        "bookings", "won", "slipped")) -> pd.DataFrame:
    """The redesign's change on the same random numbers, replication by replication."""
    from salessim import stats

    rows = []
    for kpi in kpis:
        b, o = base.totals[kpi].to_numpy(), other.totals[kpi].to_numpy()
        est = stats.paired_difference(b, o)
        rows.append({"kpi": kpi, "baseline": float(b.mean()), "redesign": float(o.mean()),
                     "difference": est.mean, "ci_low": est.ci_low, "ci_high": est.ci_high})
    return pd.DataFrame(rows)
