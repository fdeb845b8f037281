"""Lead arrivals: a Poisson process per source, homogeneous or varying over time.

A varying rate (weekly, hourly or monthly profile, or a table of rates by period) is
simulated by thinning (Lewis and Shedler): candidates arrive at the highest rate and each
is kept with probability rate(t) / highest rate, using a stream of its own. Two profiles
with the same highest rate see the same candidates, so their arrivals differ only where
their rates do.

A day effect multiplies day d's rate by G_d ~ gamma(k, 1 / k), drawn from the stream
``day_effect:<source>`` (one draw per day, whatever else the scenario says). Candidates
then come at the highest rate x G_d: unit exponential exposures spent at that rate, the
rest of one carried over midnight (the process is memoryless, so this is exact), and
thinned as above: a Poisson process given the G_d, gamma-Poisson counts per day.
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
    # The hour-of-day shape is divided by its mean: it moves leads within the day only.
    hourly = None if profile.hourly is None else \
        [h * 24 / sum(profile.hourly) for h in profile.hourly]

    shaped = weekly is not None or monthly is not None or hourly is not None

    def rate(t: float) -> float:
        r = rates[bisect.bisect_right(starts, t) - 1] if starts else source.rate
        if shaped:
            hours = t * hours_per_unit
            if weekly is not None:
                r *= weekly[int(hours // 24) % 7]
            if hourly is not None:
                r *= hourly[int(hours % 24)]
            if monthly is not None:
                r *= monthly[(LOG_EPOCH + timedelta(hours=hours)).month - 1]
        return r

    peak = max(rates) if rates else source.rate
    peak *= max(weekly) if weekly is not None else 1.0
    peak *= max(monthly) if monthly is not None else 1.0
    if hourly is not None:
        peak *= max(hourly)
    return rate, peak


def arrival_gaps(source: Source, time_unit: str, streams: RandomStreams, sid: str) -> Iterator[float]:
    """Endless gaps between a source's successive leads."""
    arrivals = streams.generator(f"arrivals:{sid}")
    if source.profile is None:
        mean = 1 / source.rate
        return blocks(lambda n: arrivals.exponential(mean, n))
    rate, peak = rate_function(source, source.profile, time_unit)
    keep = blocks(streams.generator(f"thinning:{sid}").random)
    # A monthly profile reads the date: none after the last one there is (a rate so low
    # that the first lead would come later ended the run in OverflowError).
    last_date = (datetime.max - LOG_EPOCH) / timedelta(hours=UNIT_HOURS[time_unit])
    until = min(_last_arrival(source.profile), last_date)
    effect = source.profile.day_effect
    if effect is not None:
        k = effect.shape
        levels = streams.generator(f"day_effect:{sid}")
        exposures = blocks(lambda n: arrivals.exponential(1.0, n))
        days = blocks(lambda n: levels.gamma(k, 1 / k, n))
        day = 24 / UNIT_HOURS[time_unit]
        gaps = _by_day(exposures, days, peak, day)
        if source.profile.constant:  # the day's level is the only change: nothing to thin
            return gaps
        return _thinned(gaps, keep, rate, peak, until)
    candidates = blocks(lambda n: arrivals.exponential(1 / peak, n))
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


def _by_day(exposures: Iterator[float], levels: Iterator[float], peak: float,
            day: float) -> Iterator[float]:
    """Gaps between candidates at rate ``peak`` x the day's level (``day`` time units long):
    each unit exposure is spent at the day's rate, its rest carried into the next day."""
    t = last = 0.0
    d, end, r = 0, day, peak * next(levels)
    for e in exposures:
        while not (r > 0 and t + e / r < end):
            e -= (end - t) * r
            d += 1
            t, end, r = end, (d + 1) * day, peak * next(levels)
        t += e / r
        yield t - last
        last = t


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
