"""The classroom animation: deals moving through the stages, queues building up, staff at work.

One self-contained HTML page (no network, no files beside it) made from the event log of
a run. Each stage is a box with one dot per deal in it, in four rows: waiting for staff,
being worked on, with the customer, and in hand-off on the way in (the paper travelling
between desks: IBM Credit's point). The ends count the deals that reached them. A staff
view shows each person busy, idle or off duty; two charts draw the work in progress and
each role's utilisation so far as the clock runs. The clock reads as calendar
dates, or as working days where the scenario's clock counts working time (``working_day``).
Play, pause, a speed choice, a time slider and the space bar drive it. Built only on the
public event log; a missing resource and events it does not draw are ignored.

A deal's place at a time is the last of its events up to then, events at one instant
taken together (finished, entered the next stage, handed off: in hand-off). The page is in
:mod:`salessim.teaching.animation_page`.
"""

from __future__ import annotations

import bisect
import json
import math

import numpy as np
import pandas as pd

from salessim.ends import LOST, NO_DECISION, WON
from salessim.model.calendar import working_calendar
from salessim.records import LOG_EPOCH
from salessim.scenario.schema import TERMINALS, Scenario
from salessim.scenario.units import UNIT_HOURS
from salessim.teaching.animation_page import PAGE

#: Where a deal can be inside a stage (the rows of a stage's box).
STATES = ("queue", "work", "customer", "handoff")
#: The place a lead is in after each event; a state in a stage, or an end.
STATE = {"entered": "queue", "queued": "queue", "skipped": "queue", "started": "work",
         "finished": "work", "delay_started": "customer", "delay_finished": "customer",
         "handoff": "handoff", WON.name: WON.name, LOST.name: LOST.name,
         NO_DECISION.name: NO_DECISION.name, "went_cold": LOST.name}
#: Slices of the window the charts are drawn over.
SLICES = 120


def _first_replication(log: pd.DataFrame) -> pd.DataFrame:
    log = log[["replication", "lead", "event", "stage", "time", "resource"]]  # not the XES ones
    return log[log.replication == log.replication.min()]


def timelines(log: pd.DataFrame, start: float, end: float,
              stages: list[str] | None = None) -> list[list[list]]:
    """Per lead alive in [start, end], its changes of place ``[time, stage, state]``.

    ``stage`` is the stage's index in ``stages`` (-1 at an end), ``state`` an index into
    :data:`STATES` or, at an end, 4 + the end's index in ``TERMINALS``. Without
    ``stages`` the stages come in the order the log first names them.
    """
    log = _first_replication(log)
    log = log[log.event.isin(list(STATE))]
    if stages is None:
        stages = list(dict.fromkeys(s for s in log.stage if isinstance(s, str)))
    index = {s: k for k, s in enumerate(stages)}
    by_lead: dict[str, list[tuple]] = {}
    for row in zip(log.lead.astype(str), log.time.tolist(), log.stage, log.event, strict=True):
        by_lead.setdefault(row[0], []).append(row[1:])
    final = {*TERMINALS, "went_cold"}
    out = []
    for rows in by_lead.values():
        times = [r[0] for r in rows]
        ended = any(r[2] in final for r in rows)
        if min(times) > end or (ended and max(times) < start):
            continue
        steps: list[list] = []
        current = -1
        for t, s, e in rows:
            if isinstance(s, str) and s in index:
                current = index[s]
            place = STATE[e]
            step = ([round(float(t), 6), -1, 4 + TERMINALS.index(place)] if place in TERMINALS
                    else [round(float(t), 6), current, STATES.index(place)])
            if step[1] < 0 and step[2] < 4:
                continue  # an event before any stage (nothing to draw it in)
            if steps and steps[-1][0] == step[0]:
                steps[-1] = step  # events at one instant: the last says where the deal is
            elif not steps or steps[-1][1:] != step[1:]:
                steps.append(step)
        if steps:
            out.append(steps)
    return out


def place_at(steps: list[list], time: float) -> list | None:
    """A lead's last change of place at or before ``time`` (None: not yet created)."""
    k = bisect.bisect_right([s[0] for s in steps], time) - 1
    return steps[k] if k >= 0 else None


def busy_intervals(log: pd.DataFrame, roles) -> dict[str, list[tuple[float, float]]]:
    """Per role, the [started, finished) intervals of its staff's work (one per person busy);
    work still going at the end of the log runs to infinity."""
    log = _first_replication(log)
    log = log[log.event.isin(["started", "finished"])]
    going: dict[tuple, list[float]] = {}
    out: dict[str, list[tuple[float, float]]] = {r: [] for r in roles}
    for lead, stage, event, t, res in zip(log.lead.astype(str), log.stage, log.event, log.time,
                                          log.resource, strict=True):
        if not isinstance(res, str) or not res or ">" in res:
            continue
        key = (lead, stage, res)
        if event == "started":
            going.setdefault(key, []).append(float(t))
        elif going.get(key):
            a = going[key].pop(0)
            for r in res.split("+"):
                if r in out:
                    out[r].append((a, float(t)))
    for (_, _, res), starts in going.items():
        for a in starts:
            for r in res.split("+"):
                if r in out:
                    out[r].append((a, math.inf))
    return out


def duty_intervals(scenario: Scenario, role: str, start: float, end: float
                   ) -> list[list[float]] | None:
    """The role's working intervals within [start, end]; None when it works at all hours."""
    calendar = scenario.calendar_of(role)
    if calendar is None:
        return None
    cal = working_calendar(calendar, scenario.time_unit)
    out: list[list[float]] = []
    t = start
    while t < end and len(out) < 20_000:
        a, b = cal.next_shift(t)  # type: ignore[union-attr]
        if a >= end:
            break
        out.append([round(max(a, start), 6), round(min(b, end), 6)])
        t = b
    return out


def charts(leads: list[list[list]], busy: dict[str, list[tuple[float, float]]],
           duty: dict[str, list[list[float]] | None], headcount: dict[str, int],
           start: float, end: float) -> dict:
    """The series the page draws at the ends of :data:`SLICES` slices of the window: work in
    progress per state, and each role's utilisation so far (busy staff time over staff
    on-duty time since the window's start: it settles towards the run's utilisation; None
    before anybody was on duty), read on a grid of 20 points a slice."""
    edges = np.linspace(start, end, SLICES + 1)
    wip = {s: [0] * (SLICES + 1) for s in STATES}
    for steps in leads:
        times = [s[0] for s in steps]
        for k, t in enumerate(edges):
            i = bisect.bisect_right(times, t) - 1
            if i >= 0 and steps[i][2] < 4:
                wip[STATES[steps[i][2]]][k] += 1
    grid = np.linspace(start, end, SLICES * 20 + 1)[:-1] + (end - start) / (SLICES * 40)
    util: dict[str, list[float | None]] = {}
    for role, spans in busy.items():
        a = np.sort([s[0] for s in spans]) if spans else np.zeros(0)
        b = np.sort([s[1] for s in spans]) if spans else np.zeros(0)
        working = np.minimum(np.searchsorted(a, grid, "right") - np.searchsorted(b, grid, "right"),
                             headcount[role]).astype(float)
        hours = duty[role]
        on = np.ones_like(grid) if hours is None else _inside(grid, hours)
        used = np.cumsum((working * on).reshape(SLICES, 20).sum(1))
        avail = np.cumsum(on.reshape(SLICES, 20).sum(1))
        so_far: list[float | None] = [None]  # nothing to say at the window's start
        so_far += [round(float(u / (headcount[role] * v)), 4) if v else None
                   for u, v in zip(used, avail, strict=True)]
        util[role] = so_far
    return {"times": [round(float(t), 6) for t in edges], "wip": wip, "util": util}


def _inside(grid: np.ndarray, spans: list[list[float]]) -> np.ndarray:
    if not spans:
        return np.zeros_like(grid)
    starts = np.array([s[0] for s in spans])
    ends = np.array([s[1] for s in spans])
    k = np.searchsorted(starts, grid, "right") - 1
    return ((k >= 0) & (grid < ends[np.maximum(k, 0)])).astype(float)


def animation_data(scenario: Scenario, log: pd.DataFrame, start: float, end: float) -> dict:
    """Everything the page draws, for the window [start, end] of the log's first replication."""
    stages = list(scenario.stages)
    leads = timelines(log, start, end, stages)
    roles = list(scenario.roles)
    headcount = {r: scenario.roles[r].headcount for r in roles}
    busy = busy_intervals(log, roles)
    duty = {r: duty_intervals(scenario, r, start, end) for r in roles}
    staff = []
    for r in roles:
        spans = [s for s in busy[r] if s[0] <= end and s[1] >= start]
        far = end + 1.0  # work still going at the end of the run: past the window
        staff.append({"id": r, "headcount": headcount[r], "duty": duty[r],
                      "starts": sorted(round(a, 6) for a, _ in spans),
                      "ends": sorted(round(min(b, far), 6) for _, b in spans)})
    return {
        "name": scenario.name, "stages": stages, "ends": list(TERMINALS),
        "staffOf": {s: list(st.staff) for s, st in scenario.stages.items()},
        "start": start, "end": end, "hours": UNIT_HOURS[scenario.time_unit],
        "epoch": LOG_EPOCH.isoformat(), "unit": scenario.time_unit,
        "workingDay": scenario.working_day, "leads": leads, "staff": staff,
        "charts": charts(leads, busy, duty, headcount, start, end),
    }


def animation_html(scenario: Scenario, log: pd.DataFrame, start: float, end: float) -> str:
    """The animation page for the window [start, end] of the log's first replication."""
    data = animation_data(scenario, log, start, end)
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return PAGE.replace("__DATA__", payload).replace("__TITLE__", _escape(scenario.name))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
