"""A realistic consumer-credit sales log with known truth, written as IEEE XES.

The process (every number below is the truth a calibration should recover):

- Applications arrive on a day-level random rate: day d has ``RATE x weekday[d] x G_d``
  leads, ``G_d ~ gamma(K, 1/K)`` (so daily counts are negative binomial, over-dispersed), at
  times of day drawn from ``HOURS`` (few at night). None arrive in the last ``CUT_DAYS``
  days of the log (an extraction cut); cases still running at the end are open.
- ``application``: the system logs ``A_SUBMITTED`` and, under a second later,
  ``A_PARTLYSUBMITTED`` (sub-resolution steps); a front-office work item ``W_Complete``
  (schedule, start, complete) waits for one of ``FRONT`` people working Mon-Fri 8-17. A
  quarter are then declined (``A_DECLINED``, lost); the rest get ``A_PREACCEPTED`` and,
  a second later, ``O_SENT`` (the offer).
- ``offer``: customer-side time, exponential with mean ``CUSTOMER_DAYS``; two days in,
  the front office calls (``W_Call``). A customer not back after ``TIMEOUT_DAYS`` is
  cancelled at exactly that age (``A_CANCELLED``, no decision: a time-out), 10% cancel
  earlier; the others send it back (``O_SENT_BACK``).
- ``validation``: a back-office item ``W_Validate`` waits for one of ``BACK`` people
  working Mon-Fri 9-17 (a queue), sometimes suspended for half an hour; then approved
  (``A_APPROVED``, won, 60%), declined (20%) or returned for a new offer (20%, a loop).
- Holidays (optional): dates on which no one works; leads still arrive.

All times are local wall-clock times written with a ``+01:00`` offset, to the second.
"""

from __future__ import annotations

import gzip
import heapq
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-06")  # a Monday
RATE = 30.0
K = 4.0
WEEKDAY = np.array([1.2, 1.15, 1.1, 1.05, 1.0, 0.3, 0.2])
WEEKDAY = WEEKDAY * 7 / WEEKDAY.sum()
HOURS = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 1.0, 2.0, 3.0, 3.0, 3.0, 2.5, 3.0, 3.0,
                  3.0, 2.5, 2.0, 1.5, 1.5, 1.5, 1.2, 0.8, 0.4])
HOURS = HOURS / HOURS.sum()
FRONT, BACK = 6, 5
FRONT_HOURS, BACK_HOURS = (8, 17), (9, 17)
CUSTOMER_DAYS, TIMEOUT_DAYS, CUT_DAYS = 6.0, 14.0, 14
DECLINE_FRONT, CANCEL_EARLY = 0.25, 0.10
VALIDATE = {"approve": 0.6, "decline": 0.2, "again": 0.2}
WORK_MIN = {"W_Complete": 20.0, "W_Call": 10.0, "W_Validate": 45.0}


@dataclass
class Log:
    """A generated log: its events, case attributes and the truth behind them."""

    events: list[tuple]                      # (case, activity, time, lifecycle, resource)
    amounts: dict[str, float]
    channels: dict[str, str]
    days: int
    end: pd.Timestamp
    last_arrival_day: int
    daily: np.ndarray                        # leads per day (the realised counts)
    waits: dict[str, list[tuple]] = field(default_factory=dict)  # stage -> (wait days, start)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.events, columns=["case", "activity", "time", "lifecycle",
                                                  "resource"])


class _Pool:
    """Staff of one role: each member's next free time; FIFO by the order items are ready."""

    def __init__(self, prefix: str, n: int, hours: tuple[int, int],
                 holidays: frozenset[pd.Timestamp] = frozenset()) -> None:
        self.free = [(START, f"{prefix}{i + 1}") for i in range(n)]
        self.hours = hours
        self.holidays = holidays

    def open_at(self, t: pd.Timestamp, need: pd.Timedelta) -> pd.Timestamp:
        """The first time from ``t`` at which ``need`` of work fits in a working day."""
        h0, h1 = self.hours
        while True:
            day = t.normalize()
            if t.day_of_week < 5 and day not in self.holidays:
                begin = max(t, day + pd.Timedelta(hours=h0))
                if begin + need <= day + pd.Timedelta(hours=h1):
                    return begin
            t = day + pd.Timedelta(days=1)

    def take(self, ready: pd.Timestamp, need: pd.Timedelta) -> tuple[pd.Timestamp, str]:
        i = min(range(len(self.free)), key=lambda j: self.free[j][0])
        free, who = self.free[i]
        start = self.open_at(max(ready, free), need)
        self.free[i] = (start + need, who)
        return start, who


def generate(seed: int = 7, days: int = 150, rate: float = RATE, front: int = FRONT,
             back: int = BACK, holidays: tuple[str, ...] = ()) -> Log:
    """Generate one log of ``days`` days (seeded; the same seed gives the same log);
    ``front`` and ``back`` are the two roles' headcounts (scale them with the rate);
    on ``holidays`` (dates) no one works, though leads still arrive."""
    rng = np.random.default_rng(seed)
    end = START + pd.Timedelta(days=days)
    off = frozenset(pd.Timestamp(d) for d in holidays)
    front = _Pool("front", front, FRONT_HOURS, off)
    back = _Pool("back", back, BACK_HOURS, off)
    events: list[tuple] = []
    heap: list[tuple] = []
    seq = 0

    def push(t, action, case):
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, seq, action, case))

    amounts, channels = {}, {}
    arrival_days = days - CUT_DAYS
    daily = np.zeros(days, int)
    n = 0
    for d in range(arrival_days):
        day = START + pd.Timedelta(days=d)
        count = rng.poisson(rate * WEEKDAY[day.day_of_week] * rng.gamma(K, 1 / K))
        daily[d] = count
        hours = rng.choice(24, size=count, p=HOURS)
        for h in np.sort(hours):
            n += 1
            case = f"{100000 + n}"
            t = day + pd.Timedelta(seconds=int(h * 3600 + rng.integers(3600)))
            amounts[case] = float(round(rng.lognormal(9.4, 0.7) / 500) * 500)
            channels[case] = "web" if rng.random() < 0.7 else "branch"
            push(t, "arrive", case)
    waits: dict[str, list[tuple]] = {"application": [], "validation": []}

    def item(case, act, ready, pool, stage):
        # Exponential work, at most three hours; a validation is sometimes suspended for
        # half an hour, which keeps its worker: the whole span fits in a working day.
        need = pd.Timedelta(seconds=int(min(rng.exponential(WORK_MIN[act] * 60), 10800)) + 60)
        pause = pd.Timedelta(minutes=30 if act == "W_Validate" and rng.random() < 0.2 else 0)
        start, who = pool.take(ready, need + pause)
        events.append((case, act, ready, "schedule", None))
        events.append((case, act, start, "start", who))
        if pause:
            half = pd.Timedelta(seconds=int(need.total_seconds() / 2))
            events.append((case, act, start + half, "suspend", who))
            events.append((case, act, start + half + pause, "resume", who))
        events.append((case, act, start + need + pause, "complete", who))
        if stage:
            waits[stage].append(((start - ready) / pd.Timedelta(days=1), start))
        return start + need + pause

    def milestone(case, act, t):
        events.append((case, act, t, "complete", None))

    while heap:
        t, _, action, case = heapq.heappop(heap)
        if t > end:
            continue
        if action == "arrive":
            milestone(case, "A_SUBMITTED", t)
            milestone(case, "A_PARTLYSUBMITTED", t + pd.Timedelta(milliseconds=300))
            push(t + pd.Timedelta(seconds=1), "front", case)
        elif action == "front":
            done = item(case, "W_Complete", t, front, "application")
            push(done, "decide_front", case)
        elif action == "decide_front":
            if rng.random() < DECLINE_FRONT:
                milestone(case, "A_DECLINED", t)
            else:
                milestone(case, "A_PREACCEPTED", t)
                push(t + pd.Timedelta(seconds=1), "offer", case)
        elif action == "offer":
            milestone(case, "O_SENT", t)
            back_in = rng.exponential(CUSTOMER_DAYS)
            cancel = rng.random() < CANCEL_EARLY
            if back_in > 2:
                push(t + pd.Timedelta(days=2), "call", case)
            if back_in >= TIMEOUT_DAYS:
                push(t + pd.Timedelta(days=TIMEOUT_DAYS), "timeout", case)
            else:
                push(t + pd.Timedelta(days=back_in), "cancel" if cancel else "back", case)
        elif action == "call":
            item(case, "W_Call", t, front, None)
        elif action in ("timeout", "cancel"):
            milestone(case, "A_CANCELLED", t)
        elif action == "back":
            milestone(case, "O_SENT_BACK", t)
            done = item(case, "W_Validate", t, back, "validation")
            push(done, "decide_back", case)
        elif action == "decide_back":
            u = rng.random()
            if u < VALIDATE["approve"]:
                milestone(case, "A_APPROVED", t)
            elif u < VALIDATE["approve"] + VALIDATE["decline"]:
                milestone(case, "A_DECLINED", t)
            else:
                push(t + pd.Timedelta(seconds=1), "offer", case)
    events = [e for e in events if e[2] <= end]
    events.sort(key=lambda e: (e[0], e[2]))
    return Log(events, amounts, channels, days, end, arrival_days - 1, daily, waits)


def arrivals(rng: np.random.Generator, days: int = 150, rate: float = RATE, k: float = K
             ) -> tuple[pd.DatetimeIndex, pd.Timestamp]:
    """The generator's arrivals alone (the same model, not the same stream as
    :func:`generate`): times of the leads of a log of ``days`` days with an extraction cut,
    and the log's end. ``k = inf`` gives Poisson days."""
    times = []
    for d in range(days - CUT_DAYS):
        day = START + pd.Timedelta(days=d)
        effect = 1.0 if np.isinf(k) else rng.gamma(k, 1 / k)
        count = rng.poisson(rate * WEEKDAY[day.day_of_week] * effect)
        seconds = rng.choice(24, size=count, p=HOURS) * 3600 + rng.integers(3600, size=count)
        times.append(day.value + seconds.astype(np.int64) * 1_000_000_000)
    return pd.DatetimeIndex(np.sort(np.concatenate(times))), START + pd.Timedelta(days=days)


def window_rate(days: int = 150, rate: float = RATE) -> float:
    """The true mean leads per day over the days leads arrive (the weekday shape's mean
    over those days: a window of whole weeks would give ``rate`` itself)."""
    weekdays = (START + pd.to_timedelta(np.arange(days - CUT_DAYS), unit="D")).day_of_week
    return float(rate * WEEKDAY[weekdays].mean())


STAGE_MAP = """\
stages:
  application:
    starts: [A_SUBMITTED, A_PARTLYSUBMITTED]
    work: [W_Complete]
  offer:
    starts: [A_PREACCEPTED, O_SENT]
    work: [W_Call]
  validation:
    starts: [O_SENT_BACK]
    work: [W_Validate]
ends:
  A_APPROVED: won
  A_DECLINED: lost
  A_CANCELLED: no_decision
value: case:AMOUNT_REQ
"""


def write_xes(log: Log, path: Path, offset: str = "+01:00") -> Path:
    """Write the log as XES (gzipped when the name ends in .gz)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8" ?>\n'
                '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
                '<extension name="Lifecycle" prefix="lifecycle" '
                'uri="http://www.xes-standard.org/lifecycle.xesext"/>\n'
                '<string key="concept:name" value="generated credit log"/>\n')
        current = None
        for case, act, t, life, who in log.events:
            if case != current:
                if current is not None:
                    f.write("</trace>\n")
                current = case
                f.write(f'<trace>\n <string key="concept:name" value={quoteattr(case)}/>\n'
                        f' <float key="AMOUNT_REQ" value="{log.amounts[case]:g}"/>\n'
                        f' <string key="channel" value="{log.channels[case]}"/>\n')
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}" + offset
            f.write(f' <event><string key="concept:name" value={quoteattr(act)}/>'
                    f'<string key="lifecycle:transition" value="{life}"/>'
                    f'<date key="time:timestamp" value="{stamp}"/>'
                    + (f'<string key="org:resource" value="{who}"/>' if who else "")
                    + "</event>\n")
        if current is not None:
            f.write("</trace>\n")
        f.write("</log>\n")
    return path


if __name__ == "__main__":  # python tests/loggen.py OUT.xes.gz [DAYS] [RATE]
    import sys

    out = Path(sys.argv[1])
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 150
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else RATE
    scale = rate / RATE
    made = generate(seed=7, days=days, rate=rate, front=max(1, round(FRONT * scale)),
                    back=max(1, round(BACK * scale)))
    write_xes(made, out)
    print(f"wrote {out}: {len(made.events)} events, {len(made.amounts)} cases")
