"""The story of a few leads, in plain sentences with calendar times, from the event log.

A scenario whose clock counts working time (``working_day``) is told on a working clock:
``working day 6, hour 4:30`` and ``5.5 working days``, not calendar dates.

Built only on the public event log (``engine.run(..., event_log=True).event_log()``): one
row per event with ``replication``, ``lead``, ``event``, ``stage``, ``time`` and
``resource``. Each wait says why: a queue behind other deals, staff off duty (the part of
the wait outside the roles' working hours), a customer-side delay, a hand-off. Robust to
the log's variations: a missing resource (empty, None or NaN), lead ids that carry the
replication, and events this module does not narrate (such as ``entered``) are ignored.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd

from salessim.clock import working_clock, working_span
from salessim.ends import LOST, NO_DECISION, WON
from salessim.model.calendar import working_calendar
from salessim.records import LOG_EPOCH
from salessim.scenario.schema import Scenario
from salessim.scenario.units import UNIT_HOURS

ENDS = {WON.name: WON.label, LOST.name: LOST.label, NO_DECISION.name: "ended with no decision"}


def duration(hours: float) -> str:
    """``25 min``, ``2 h 10 min``, ``4 days 3 h``."""
    minutes = int(round(hours * 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, rest = divmod(minutes, 24 * 60)
    h = round(rest / 60)
    days = f"{d} day" + ("s" if d != 1 else "")
    return f"{days} {h} h" if h else days


def when(time: float, unit: str) -> str:
    """``day 3, Wed 7 Jan 2026 14:05``: the day number and the calendar date of a time."""
    hours = time * UNIT_HOURS[unit]
    stamp = LOG_EPOCH + timedelta(hours=hours)
    return f"day {int(hours // 24) + 1}, {stamp:%a} {stamp.day} {stamp:%b %Y %H:%M}"


class Clock:
    """How a scenario's times and spans read: calendar dates, or a working clock."""

    def __init__(self, scenario: Scenario) -> None:
        self.unit, self.h, self.day = scenario.time_unit, scenario.hours_per_unit, \
            scenario.working_day

    def at(self, time: float) -> str:
        """An instant: ``day 3, Wed 7 Jan 2026 14:05`` or ``working day 6, hour 4:30``."""
        if self.day is None:
            return when(time, self.unit)
        return working_clock(time, self.day, self.h)

    def span(self, span: float) -> str:
        """A length of time in the unit: ``1 day 13 h`` or ``4.6 working days``."""
        if self.day is None:
            return duration(span * self.h)
        return working_span(span, self.day, self.h)


def _resource(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


class Narrator:
    """Turns one lead's events into sentences (see :func:`trace`)."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.unit = scenario.time_unit
        self.h = UNIT_HOURS[scenario.time_unit]
        self.clock = Clock(scenario)

    def _source(self, lead: str) -> str | None:
        """The source a lead id names, however the id is decorated (a replication prefix);
        None for a deal open at the start (a warm start), which goes by its CRM id."""
        if any(d.id == lead or lead.endswith(f"/{d.id}") for d in self.sc.pipeline):
            return None
        named = [s for s in self.sc.sources if f"{s}-" in lead]
        return max(named, key=len) if named else lead.rsplit("-", 1)[0]

    def _roles(self, stage: str, resource: str) -> tuple[str, ...]:
        if resource and ">" not in resource:
            return tuple(r for r in resource.split("+") if r in self.sc.roles)
        st = self.sc.stages.get(stage)
        return st.staff if st is not None else ()

    def _off_duty(self, roles: tuple[str, ...], a: float, b: float) -> float:
        """The part of [a, b] outside the roles' common working hours, in the time unit."""
        try:
            cal = self.sc.shared_calendar_of(roles)
        except ValueError:
            return 0.0
        if cal is None:
            return 0.0
        return (b - a) - working_calendar(cal, self.unit).working_time(a, b)

    def story(self, lead: str, events: pd.DataFrame) -> list[str]:
        out: list[str] = []
        queued: dict[tuple[str, str], float] = {}
        started: dict[tuple[str, str], float] = {}
        delays: dict[tuple[str, str], float] = {}
        handoff: tuple[float, str] | None = None
        visits: dict[str, int] = {}
        created = None
        current = ""
        for ev in events.itertuples(index=False):
            kind, stage, t = ev.event, ev.stage if isinstance(ev.stage, str) else "", ev.time
            res = _resource(ev.resource)
            key = (stage, res)
            if stage and stage != current and kind != "skipped":  # a new visit
                n = visits.get(stage, 0)
                if n:
                    out.append(f"  went back to {stage} (visit {n + 1}).")
                visits[stage] = n + 1
                current = stage
            if kind == "created":
                created = t
                source = self._source(lead)
                out.append(f"{lead}: created by source {source} at {self.clock.at(t)}."
                           if source is not None else f"{lead}: open at the start of the run, "
                           f"created at {self.clock.at(t)}.")
            elif kind == "handoff":
                handoff = (t, res)
            elif kind == "queued":
                if handoff is not None:
                    ht, pair = handoff
                    if t > ht:
                        out.append(f"  hand-off {pair.replace('>', ' to ')}: "
                                   f"{self.clock.span(t - ht)} passing the deal on.")
                    handoff = None
                queued[key] = t
            elif kind == "started":
                q = queued.pop(key, t)
                started[key] = t
                who = res or "+".join(self._roles(stage, res)) or "staff"
                if t > q:
                    off = self._off_duty(self._roles(stage, res), q, t)
                    parts = []
                    if off * self.h * 60 >= 0.5:
                        parts.append(f"{self.clock.span(off)} of it with staff off duty")
                    else:
                        off = 0.0
                    if ((t - q) - off) * self.h * 60 >= 0.5:
                        parts.append(f"{self.clock.span(t - q - off)} in the queue behind "
                                     "other deals")
                    out.append(f"  {stage}: waited {self.clock.span(t - q)} for {who} "
                               f"({', '.join(parts)}).")
                else:
                    out.append(f"  {stage}: {who} started at once, {self.clock.at(t)}.")
            elif kind == "finished":
                s = started.pop(key, t)
                who = res or "+".join(self._roles(stage, res)) or "staff"
                out.append(f"  {stage}: {who} worked until {self.clock.at(t)} "
                           f"({self.clock.span(t - s)} on the clock).")
            elif kind == "delay_started":
                delays[key] = t
            elif kind == "delay_finished":
                s = delays.pop(key, t)
                what = f" for {res}" if res else ""
                out.append(f"  {stage}: the customer took {self.clock.span(t - s)}{what} "
                           "(customer-side delay).")
            elif kind == "skipped":
                out.append(f"  skipped {stage} (its only_if rule: deal value not above the "
                           "threshold).")
            elif kind == "went_cold":
                q = queued.pop(key, t)
                out.append(f"  {stage}: went cold after waiting {self.clock.span(t - q)} "
                           "for staff.")
            elif kind in ENDS:
                age = "" if created is None else f", {self.clock.span(t - created)} after creation"
                out.append(f"  {ENDS[kind]} at {self.clock.at(t)}{age}.")
        if events.event.isin(list(ENDS)).sum() == 0:
            out.append("  still open at the horizon.")
        return out


def trace(scenario: Scenario, log: pd.DataFrame, leads: int | list[str] = 5,
          replication: int | None = None) -> list[str]:
    """Sentences telling the story of leads in an event log.

    Args:
        scenario: the scenario that produced the log.
        log: the event log (columns replication, lead, event, stage, time, resource).
        leads: how many leads (the first created), or the lead ids to tell.
        replication: which replication; default the first in the log.
    """
    if log.empty:
        return []
    rep = log.replication.min() if replication is None else replication
    log = log[log.replication == rep]
    if isinstance(leads, int):
        firsts = log[log.event == "created"].sort_values("time", kind="stable")
        chosen = list(firsts.lead.astype(str).head(leads))
    else:
        known = set(log.lead.astype(str))
        missing = [x for x in leads if x not in known]
        if missing:
            raise KeyError(f"no lead {missing[0]!r} in replication {rep} "
                           f"(leads look like {next(iter(sorted(known)))!r})")
        chosen = list(leads)
    narrator = Narrator(scenario)
    out: list[str] = []
    grouped = {k: g for k, g in log.groupby(log.lead.astype(str), sort=False)}
    for lead in chosen:
        out += narrator.story(lead, grouped[lead])
        out.append("")
    return out[:-1]
