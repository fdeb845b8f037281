"""Activity instances from life-cycle events: waiting for staff, work, and what is unpaired.

An activity instance is one execution of an activity in one case. Its events
(``lifecycle:transition``) are paired per case and activity, in time order:

- ``schedule`` (or ``assign``) opens a wait; the next ``start`` takes the oldest open wait
  (work items are taken in the order they became ready);
- ``start`` opens work; ``complete`` closes the nearest (most recent) open start;
  ``ate_abort`` / ``pi_abort`` / ``withdraw`` close it unfinished (``status`` aborted);
  ``suspend`` ... ``resume`` spans inside the work are not work;
- an event with no life cycle, or a ``complete`` of an activity that never has a ``start``
  anywhere in the log, is an instantaneous step (a milestone), not an unpaired event.

Unpaired events are counted by kind, never silently dropped: a ``complete`` with no open
start, a ``start`` never completed in a case that has ended, a ``resume`` without a
``suspend``. A ``start`` still open at the end of an open case is open work.

Durations shorter than the timestamp resolution (:func:`resolution`) are zero.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
_SCHEDULE = {"schedule", "assign", "reassign"}
_ABORT = {"ate_abort", "pi_abort", "withdraw", "manualskip", "autoskip"}
INSTANCE_COLUMNS = ("case", "activity", "resource", "scheduled", "started", "completed",
                    "wait", "work", "paused", "status")


@dataclass
class Instances:
    """Activity instances of a log.

    Attributes:
        frame: one row per instance (:data:`INSTANCE_COLUMNS`); ``wait`` (schedule to
            start) and ``work`` (start to complete less suspended spans) in days, NaN where
            the events are missing; ``paused`` the suspended spans (days); ``status``
            complete / aborted / open / milestone.
        suspensions: one row per suspended span of started work: ``resource`` (who
            started it), ``suspended``, ``resumed``.
        unpaired: count of unpaired events by kind (``complete without start``, ...).
        resolution: the timestamps' resolution in days.
    """

    frame: pd.DataFrame
    unpaired: dict[str, int] = field(default_factory=dict)
    resolution: float = 1 / 86400
    suspensions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"resource": pd.Series(dtype="string"), "suspended": pd.Series(dtype="M8[ns]"),
         "resumed": pd.Series(dtype="M8[ns]")}))

    @property
    def unpaired_total(self) -> int:
        return sum(self.unpaired.values())


def resolution(times: pd.Series) -> float:
    """The coarsest unit every timestamp is a whole multiple of (days): a day, an hour, a
    minute, a second, a millisecond, else a microsecond."""
    ns = times.dropna().astype("datetime64[ns]").astype("int64").to_numpy()
    for unit in (86_400_000_000_000, 3_600_000_000_000, 60_000_000_000, 1_000_000_000,
                 1_000_000):
        if len(ns) and not (ns % unit).any():
            return unit / 86_400_000_000_000
    return 1e-6 / 86400


def pair(events: pd.DataFrame, open_cases: set | None = None) -> Instances:
    """Pair the life-cycle events of ``events`` (columns ``case, activity, time,
    lifecycle, resource``) into activity instances.

    Args:
        events: the events table (:mod:`salessim.calibrate.xes`), any order.
        open_cases: cases still open at the end of the log: their unfinished work is open,
            not unpaired. Default: none.
    """
    res = resolution(events["time"])
    ev = events.sort_values(["case", "time", "row"], kind="stable")
    life = ev["lifecycle"].astype("string").fillna("complete").to_numpy()
    started = set(ev.loc[life == "start", "activity"].astype(str).unique())
    cases = ev["case"].to_numpy()
    acts = ev["activity"].astype(str).to_numpy()
    times = ev["time"].to_numpy()
    resources = ev["resource"].to_numpy() if "resource" in ev else np.full(len(ev), None)
    open_cases = open_cases or set()
    rows: list[tuple] = []
    unpaired: dict[str, int] = defaultdict(int)
    waits: dict[tuple, deque] = defaultdict(deque)
    works: dict[tuple, list] = defaultdict(list)
    spans: list[tuple] = []
    for i in range(len(ev)):
        kind, act = life[i], acts[i]
        key = (cases[i], act)
        t = times[i]
        if kind in _SCHEDULE:
            waits[key].append(t)
        elif kind == "start":
            queue = waits.get(key)
            sched = queue.popleft() if queue else None
            works[key].append([sched, t, resources[i], np.timedelta64(0, "ns"), None])
        elif kind in ("complete", *_ABORT):
            stack = works.get(key)
            if stack:
                sched, start, who, paused, _ = stack.pop()
                rows.append((cases[i], act, resources[i] if resources[i] is not None else who,
                             sched, start, t, paused,
                             "complete" if kind == "complete" else "aborted"))
            elif act in started:
                unpaired[f"{kind} without start"] += 1
                rows.append((cases[i], act, resources[i], None, None, t, None, "unpaired"))
            elif kind == "complete":
                queue = waits.get(key)
                sched = queue.popleft() if queue else None
                rows.append((cases[i], act, resources[i], sched, None, t, None, "milestone"))
            else:
                queue = waits.get(key)
                if queue:
                    queue.popleft()  # a scheduled item withdrawn before anyone started it
        elif kind == "suspend":
            stack = works.get(key)
            if stack and stack[-1][4] is None:
                stack[-1][4] = t
            else:
                unpaired["suspend without open work"] += 1
        elif kind == "resume":
            stack = works.get(key)
            if stack and stack[-1][4] is not None:
                stack[-1][3] += t - stack[-1][4]
                spans.append((stack[-1][2], stack[-1][4], t))
                stack[-1][4] = None
            else:
                unpaired["resume without suspend"] += 1
        else:
            unpaired[f"unknown transition {kind!r}"] += 1
    for (case, act), stack in works.items():
        for sched, start, who, paused, _ in stack:
            if case in open_cases:
                rows.append((case, act, who, sched, start, None, paused, "open"))
            else:
                unpaired["start never completed"] += 1
    for (case, _act), queue in waits.items():
        if queue and case not in open_cases:
            unpaired["schedule never started"] += len(queue)
    suspensions = pd.DataFrame(spans, columns=["resource", "suspended", "resumed"])
    suspensions = suspensions.astype({"resource": "string", "suspended": "M8[ns]",
                                      "resumed": "M8[ns]"})
    return Instances(_instances(rows, res), dict(unpaired), res, suspensions)


def _instances(rows: list[tuple], res: float) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["case", "activity", "resource", "scheduled", "started",
                                        "completed", "paused", "status"])
    for column in ("scheduled", "started", "completed"):
        frame[column] = pd.to_datetime(frame[column])
    paused = pd.to_timedelta(frame["paused"]).fillna(pd.Timedelta(0))
    wait = (frame["started"] - frame["scheduled"]) / DAY
    work = (frame["completed"] - frame["started"] - paused) / DAY
    # Below the resolution a duration is not measured: it is zero.
    frame["wait"] = wait.where(~(wait < res), 0.0)
    frame["work"] = work.where(~(work < res), 0.0)
    frame["paused"] = (paused / DAY).where(frame["work"].notna())
    frame["resource"] = frame["resource"].astype("string")
    return frame[list(INSTANCE_COLUMNS)]
