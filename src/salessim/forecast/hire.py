"""The value of a hire: a change in wins split into incremental and pulled forward.

More staff wins a deal in the window for one of two reasons. Either the deal would never
have been won without them (it would have gone cold waiting, lost to decay, timed out):
that is **incremental** business. Or it would have been won anyway, later: it is
**pulled forward** into the window. On common random numbers the same leads (same source,
same number, same value, same first routing draw at each stage) exist in the baseline and
the redesign, so the split is made lead by lead, in each replication:

- both designs run on past the window's end for a follow-up (by default as long as the
  window), on the same random numbers; ``w`` says a lead was won in the window, ``E``
  that it was won by the end of the follow-up ("ever");
- incremental = sum of value x (w_redesign x (1 - E_baseline) - w_baseline x
  (1 - E_redesign)): won in the window by one design and never by the other;
- pulled forward = the rest of the change in the window, sum of value x (w_redesign -
  w_baseline) minus the incremental part: deals both designs win, one of them inside the
  window and the other after it.

Each is a number per replication, paired on the same random numbers, so each gets a
t interval. Without patience, decay, a time-out or competing exits, waiting loses no deal
and the incremental part is zero up to loops (whose later visits draw from the stage's
stream) and deals still open after the follow-up; the change is then pull-forward, which
:func:`waiting_losses` lets a report say plainly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from salessim import engine, stats
from salessim.clock import LOG_EPOCH
from salessim.ends import WON
from salessim.metrics import staff_cost_of
from salessim.records import EventLog
from salessim.scenario.schema import Scenario
from salessim.scenario.units import convert

#: The parts of the change, in the order they are reported.
PARTS = ("change", "incremental", "pulled_forward")
#: Per part, what is summed: the deals won, or their value.
MEASURES = (WON.name, "bookings")

Mapper = Callable[[Callable[..., Any], Iterable[Any]], Iterable[Any]]


def lead_outcomes(log: EventLog) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                           np.ndarray]:
    """Per lead of a run's log: its key (source and number, the same lead in every
    design on the same random numbers), value, creation time, won time (inf if never) and
    whether it is still open at the run's end."""
    created = log.lead_times("created")
    won = log.lead_times(WON.name)
    won[np.isnan(won)] = np.inf
    key = (np.frombuffer(log.lead_source, dtype=np.int16).astype(np.int64) << 44) + \
        np.frombuffer(log.lead_number, dtype=np.int64)
    still_open = np.frombuffer(log.lead_end, dtype=np.int8) == 0
    return key, np.frombuffer(log.lead_value, dtype=np.float64), created, won, still_open


@dataclass(frozen=True)
class Window:
    """Which leads count and when a win counts as in the window.

    Attributes:
        created_from: leads created from this time (a run's warm-up)...
        created_to: ...to this one (the window's end) count.
        won_from: a win counts in the window from this time...
        won_to: ...to this one.
        ever: wins to this time count as ever won (the follow-up's end).
    """

    created_from: float
    created_to: float
    won_from: float
    won_to: float
    ever: float


def split_replication(base: EventLog, other: EventLog, window: Window) -> dict[str, float]:
    """One replication's change, incremental and pulled-forward parts (won and value),
    and the deals of the window's leads still open after the follow-up in either design."""
    sides, still_open = [], 0
    for log in (base, other):
        key, value, created, won, opened = lead_outcomes(log)
        keep = (created >= window.created_from) & (created < window.created_to)
        key, value, won = key[keep], value[keep], won[keep]
        still_open += int(opened[keep].sum())
        inside = (won >= window.won_from) & (won <= window.won_to)
        sides.append((key, value, inside, won <= window.ever))
    keys = np.union1d(sides[0][0], sides[1][0])
    cols = []
    for key, value, inside, ever in sides:
        at = np.searchsorted(keys, key)
        v, w, e = np.zeros(len(keys)), np.zeros(len(keys), bool), np.zeros(len(keys), bool)
        v[at], w[at], e[at] = value, inside, ever
        cols.append((v, w, e))
    (vb, wb, eb), (vr, wr, er) = cols
    out: dict[str, float] = {}
    for measure, (xb, xr) in ((WON.name, (np.ones_like(vb), np.ones_like(vr))),
                              ("bookings", (vb, vr))):
        change = float((xr * wr).sum() - (xb * wb).sum())
        incremental = float((xr * (wr & ~eb)).sum() - (xb * (wb & ~er)).sum())
        out[f"change.{measure}"] = change
        out[f"incremental.{measure}"] = incremental
        out[f"pulled_forward.{measure}"] = change - incremental
    out["open_after"] = still_open / 2  # per design, after the follow-up
    return out


def waiting_losses(scenario: Scenario) -> list[str]:
    """Where waiting for staff can lose a deal: patience, decay, a time-out, competing
    exits (``patience at qualify``); empty when it never can."""
    found = []
    for sid, stage in scenario.stages.items():
        for name, word in (("patience", "patience"), ("decay", "decay"),
                           ("timeout", "a time-out"), ("exits", "competing exits")):
            if getattr(stage, name, None) is not None:
                found.append(f"{word} at {sid}")
    return found


def staffing_change(base: Scenario, other: Scenario, start: date | None = None) -> str:
    """The redesign's staff in words (``one more owner from 2026-08-01``); "" if none.

    ``start`` is the date of time 0 (default Monday 5 January 2026, a forecast's as-of
    date): a hire written as a time is shown as its date."""
    start = LOG_EPOCH.date() if start is None else start
    parts = []
    for rid, role in other.roles.items():
        before = base.roles.get(rid)
        extra = role.headcount - (before.headcount if before is not None else 0)
        if extra:
            parts.append(f"{_count(extra)} {rid}")
        old = [] if before is None else before.hires
        for hire in role.hires:
            if hire not in old:
                days = convert(hire.at(other.time_unit), other.time_unit, "day")
                parts.append(f"{_count(hire.count)} {rid} from "
                             f"{start + timedelta(days=days):%Y-%m-%d}")
    return ", ".join(parts)


def _count(n: int) -> str:
    return ("one more" if n == 1 else f"{n} more" if n > 0 else
            "one fewer" if n == -1 else f"{-n} fewer")


def hire_cost(base: Scenario, other: Scenario, start: float, end: float) -> float:
    """The redesign's extra staff cost from ``start`` to ``end`` (headcounts and hires,
    by the staff-cost rule of the ``staff_cost`` KPI)."""
    return staff_cost_of(other, start, end) - staff_cost_of(base, start, end)


@dataclass
class HireValue:
    """The split of a redesign's change in wins, replication by replication.

    Attributes:
        label: the redesign.
        change: the staffing change in words.
        per_replication: one dict per replication (:func:`split_replication`).
        cost: the extra staff cost over the window (0 when the roles cost nothing).
        losses: where waiting can lose a deal (:func:`waiting_losses`).
        follow_up: how long both designs ran on after the window.
        level: the confidence level.
    """

    label: str
    change: str
    per_replication: list[dict[str, float]]
    cost: float
    losses: list[str]
    follow_up: float
    time_unit: str
    level: float = 0.95
    estimates: dict[str, stats.Estimate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.per_replication[0] if self.per_replication else ():
            values = np.array([r[name] for r in self.per_replication])
            self.estimates[name] = stats.t_interval(values, self.level)

    def rows(self) -> list[dict[str, Any]]:
        """``hires.csv``: per part and measure, mean and interval."""
        return [{"scenario": self.label, "part": part, "measure": measure,
                 "mean": e.mean, "ci_low": e.ci_low, "ci_high": e.ci_high, "level": self.level}
                for part in PARTS for measure in MEASURES
                for e in [self.estimates[f"{part}.{measure}"]]]

    def headline(self, period: str = "in the window", money: Callable[[float], str] = str
                 ) -> list[str]:
        """``one more owner from 2026-08-01: +X incremental bookings <period> [CI], +Y
        pulled forward [CI], cost Z, payback ...`` and what the split rests on."""
        inc, pull = self.estimates["incremental.bookings"], self.estimates[
            "pulled_forward.bookings"]

        def part(e: stats.Estimate) -> str:
            return f"{_signed(e.mean, money)} [{_signed(e.ci_low, money)}, {_signed(e.ci_high, money)}]"

        who = f"{self.change} ({self.label})" if self.change else self.label
        text = (f"{who}: {part(inc)} incremental bookings {period}, "
                f"{part(pull)} pulled forward; cost {money(self.cost)}, ")
        if self.cost > 0:
            text += (f"payback: incremental bookings are {inc.mean / self.cost:.2f} times the "
                     f"cost [{inc.ci_low / self.cost:.2f}, {inc.ci_high / self.cost:.2f}]")
        else:
            text += "payback: not computed (the roles have no cost_per_hour)"
        lines = [text]
        if not self.losses:
            lines.append("  the scenario has no patience, decay, time-out or competing exits: "
                         "waiting never loses a deal, so more staff only changes when deals "
                         "close; the change is pulled forward, not new business")
        else:
            lines.append(f"  incremental: deals the baseline loses by waiting ({', '.join(self.losses)})")
        open_after = self.estimates["open_after"].mean
        lines.append(f"  both designs ran {self.follow_up:.3g} {self.time_unit}s past the window "
                     f"on the same random numbers; a deal not won by then counts as never "
                     f"won ({open_after:.1f} of the window's leads per design still open then)")
        return lines


def _signed(x: float, money: Callable[[float], str]) -> str:
    return ("+" if x >= 0 else "-") + money(abs(x))


def extended(scenario: Scenario, follow_up: float) -> Scenario:
    """The scenario run ``follow_up`` past its horizon (the same random numbers: nothing
    before the old horizon changes)."""
    return scenario.model_copy(update={"horizon": float(scenario.horizon) + follow_up})


def _split_task(args: tuple[Scenario, tuple[Scenario, ...], int, int, Window]
                ) -> list[dict[str, float]]:
    """One replication of the baseline and of each redesign with event logs, and each
    redesign's split against the baseline (in the worker: only the numbers travel back).
    The baseline runs once however many redesigns it is split against."""
    base, others, replication, seed, window = args
    base_log = engine.run_replication(base, replication, seed, event_log=True).log
    assert base_log is not None, "asked for with event_log=True"
    splits = []
    for other in others:
        log = engine.run_replication(other, replication, seed, event_log=True).log
        assert log is not None, "asked for with event_log=True"
        splits.append(split_replication(base_log, log, window))
    return splits


def hire_values(base: Scenario, others: Sequence[tuple[str, Scenario]], replications: int,
                seed: int, window: tuple[float, float] | None = None,
                follow_up: float | None = None, cohort: bool = True, level: float = 0.95,
                mapper: Mapper = map) -> list[HireValue]:
    """Run the baseline and each redesign past the window on the same random numbers and
    split each redesign's change (one baseline run per replication for all of them).

    Args:
        base: the baseline as run.
        others: (label, redesign as run) of each staffing redesign.
        replications: paired replications.
        seed: the root seed of all.
        window: (start, end) of the window; default the scenario's (warm-up, horizon).
        follow_up: how long to run on; default the window's length.
        cohort: count the leads created in the window only (a run's cohort, as the
            ``won`` and ``revenue`` KPIs do); else every lead created before its end (a
            forecast: open deals and new leads).
        level: the confidence level.
        mapper: a ``map``-like function for the runs.
    """
    lo, hi = window if window is not None else (float(base.warmup), float(base.horizon))
    follow = hi - lo if follow_up is None else follow_up
    win = Window(lo if cohort else -np.inf, hi, lo, hi, hi + follow)
    runs = tuple(extended(s, hi + follow - float(s.horizon)) for _, s in others)
    reps = list(mapper(_split_task, [(extended(base, hi + follow - float(base.horizon)), runs,
                                      r, seed, win) for r in range(replications)]))
    return [HireValue(label, staffing_change(base, other), [rep[k] for rep in reps],
                      hire_cost(base, other, lo, hi), waiting_losses(other), follow,
                      base.time_unit, level)
            for k, (label, other) in enumerate(others)]


def hire_value(base: Scenario, other: Scenario, label: str, replications: int, seed: int,
               window: tuple[float, float] | None = None, follow_up: float | None = None,
               cohort: bool = True, level: float = 0.95, mapper: Mapper = map
               ) -> HireValue:
    """One redesign's split (:func:`hire_values` with one redesign)."""
    return hire_values(base, [(label, other)], replications, seed, window, follow_up,
                       cohort, level, mapper)[0]


def changes_staff(base: Scenario, other: Scenario) -> bool:
    """Whether the redesign adds or removes staff (a headcount or a hire)."""
    return bool(staffing_change(base, other))


def value_table(values: Sequence[HireValue]) -> Any:
    """``hires.csv`` of several redesigns."""
    import pandas as pd

    return pd.DataFrame([row for v in values for row in v.rows()],
                        columns=["scenario", "part", "measure", "mean", "ci_low", "ci_high",
                                 "level"])


#: At most this many replications of a forecast are rerun with event logs for the split.
FORECAST_SPLIT_REPLICATIONS = 100


def forecast_hire_lines(base: Any, others: Sequence[tuple[str, Any]], seed: int,
                        money: Callable[[float], str] = str, mapper: Mapper = map) -> list[str]:
    """The split of each staffing redesign of a forecast (``Forecast`` objects), as the
    forecast's summary leads with it: its first replications (at most
    :data:`FORECAST_SPLIT_REPLICATIONS`) rerun with event logs past ``until``."""
    lines = []
    for label, other in others:
        if not changes_staff(base.scenario, other.scenario):
            continue
        n = min(base.replications, FORECAST_SPLIT_REPLICATIONS)
        value = hire_value(base.scenario, other.scenario, label, n, seed,
                           window=(0.0, float(base.scenario.horizon)), cohort=False,
                           mapper=mapper)
        value.change = staffing_change(base.scenario, other.scenario, base.snapshot.as_of.date())
        from salessim.forecast.deals import until_text  # the window's end as the report says it

        lines += value.headline(f"to {until_text(base.until)} ({n} replications)", money)
    return lines
