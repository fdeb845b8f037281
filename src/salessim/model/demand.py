"""Lead arrivals: a Poisson process per source, homogeneous or varying over time.

A varying rate (weekly or monthly profile, or a table of rates by period) is simulated
by thinning (Lewis and Shedler): candidates arrive at the highest rate and each is kept
with probability rate(t) / highest rate, using a stream of its own. Two profiles with the
same highest rate see the same candidates, so their arrivals differ only where their
rates do.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from salessim.records import LOG_EPOCH
from salessim.rng import RandomStreams
from salessim.scenario.dists import blocks
from salessim.scenario.mechanics import ArrivalProfile
from salessim.scenario.schema import Source
from salessim.scenario.units import UNIT_HOURS


def rate_function(source: Source, profile: ArrivalProfile, time_unit: str
                  ) -> tuple[Callable[[float], float], float]:
    """rate(t) in leads per time unit, and its maximum, for a source with a profile."""
    hours_per_unit = UNIT_HOURS[time_unit]
    table = profile.table or []
    starts = [t for t, _ in table]
    rates = [r for _, r in table]
    weekly, monthly = profile.weekly, profile.monthly

    def rate(t: float) -> float:
        r = rates[bisect.bisect_right(starts, t) - 1] if starts else source.rate
        if weekly is not None or monthly is not None:
            hours = t * hours_per_unit
            if weekly is not None:
                r *= weekly[int(hours // 24) % 7]
            if monthly is not None:
                r *= monthly[(LOG_EPOCH + timedelta(hours=hours)).month - 1]
        return r

    peak = max(rates) if rates else source.rate
    peak *= max(weekly) if weekly is not None else 1.0
    peak *= max(monthly) if monthly is not None else 1.0
    return rate, peak


def arrival_gaps(source: Source, time_unit: str, streams: RandomStreams, sid: str) -> Iterator[float]:
    """Endless gaps between a source's successive leads."""
    arrivals = streams.generator(f"arrivals:{sid}")
    if source.profile is None:
        mean = 1 / source.rate
        return blocks(lambda n: arrivals.exponential(mean, n))
    rate, peak = rate_function(source, source.profile, time_unit)
    candidates = blocks(lambda n: arrivals.exponential(1 / peak, n))
    keep = blocks(streams.generator(f"thinning:{sid}").random)
    # A monthly profile reads the date: none after the last one there is (a rate so low
    # that the first lead would come later ended the run in OverflowError).
    last_date = (datetime.max - LOG_EPOCH) / timedelta(hours=UNIT_HOURS[time_unit])
    until = min(_last_arrival(source.profile), last_date)
    return _thinned(candidates, keep, rate, peak, until)


def _last_arrival(profile: ArrivalProfile) -> float:
    """When a table of rates ends in zeros, no lead arrives after the zeros start."""
    table = profile.table
    if not table or table[-1][1] > 0:
        return math.inf
    end = len(table)
    while end > 0 and table[end - 1][1] == 0:
        end -= 1
    return table[end][0]


def _thinned(candidates: Iterator[float], keep: Iterator[float],
             rate: Callable[[float], float], peak: float, until: float) -> Iterator[float]:
    t = last = 0.0
    for gap in candidates:
        t += gap
        if t >= until:
            return
        if next(keep) * peak < rate(t):
            yield t - last
            last = t
