"""Why the weighted pipeline and the simulated bookings of the same open deals differ.

The weighted pipeline, sum of amount x the stage's chance to be won, counts a deal whenever
it closes and whoever works it. The simulation counts what is won by ``until`` with the
staff there are. The difference splits in two:

- capacity: what the same deals would bring by ``until`` with no staff queues, measured
  by a second forecast of the same replications (the same random numbers) with
  :data:`STAFF_FACTOR` times the staff, pooled (:func:`unlimited_staff`), minus what they
  bring with the staff there are: a paired difference with its confidence interval;
- timing: the rest, mostly the deals that close after ``until`` (the value still open
  then is reported beside it), together with what a stage probability leaves out (score
  odds, skips, going cold) and the simulation's noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salessim import stats
from salessim.forecast.deals import until_text
from salessim.forecast.simulate import Forecast
from salessim.model.kinds import kind_of
from salessim.scenario import Scenario, evolve

#: The capacity check runs with this many times the staff of every role.
STAFF_FACTOR = 10
#: Replications of the capacity check (the first ones of the forecast, on the same numbers).
CAPACITY_REPLICATIONS = 100


def money(value: float | None) -> str:
    """A sum of money as a client reads it: whole units with thousands separators and a
    sign only when negative (``1,756``, ``-918``), n/a for NaN; never an exponent."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{round(value) + 0:,}"


def signed_money(value: float) -> str:
    """A change in money, always signed (``+1,756``, ``-918``, ``0``)."""
    text = money(value)
    return text if text.startswith("-") or text in ("0", "n/a") else f"+{text}"


def staffed(scenario: Scenario) -> bool:
    """Whether any stage needs staff (so queues can slow deals down), as its kind says."""
    return any(kind_of(s).staffed(s) for s in scenario.stages.values())


def unlimited_staff(scenario: Scenario) -> Scenario:
    """The scenario with :data:`STAFF_FACTOR` times every role's headcount, every role a
    pool (no deal waits for its owner) with no cap on open deals: no queue to speak of."""
    return evolve(scenario, {f"roles.{rid}": {"headcount": role.headcount * STAFF_FACTOR,
                                             "assignment": "pool", "max_open_deals": None}
                            for rid, role in scenario.roles.items()})


@dataclass(frozen=True)
class PipelineGap:
    """The weighted pipeline against the simulated bookings of the same open deals.

    Attributes:
        weighted: sum of amount x the stage's win probability (routing only, any time).
        simulated_mean: mean bookings from the open deals by ``until``.
        simulated_p50: median of the same.
        still_open: mean value of the open deals still open at ``until``.
        capacity: mean extra bookings from the open deals with no staff queues (paired,
            NaN when not measured); ``capacity_low`` and ``capacity_high`` its 95% interval.
        staffed: whether any stage needs staff.
        standard_error: standard error of ``simulated_mean`` (the simulation's noise).
    """

    weighted: float
    simulated_mean: float
    simulated_p50: float
    still_open: float
    capacity: float
    capacity_low: float
    capacity_high: float
    staffed: bool
    standard_error: float = 0.0
    open_deals: int = 0
    open_value: float = 0.0

    def waterfall(self) -> tuple[int, int, int, int]:
        """The weighted pipeline, the capacity part, the timing part and the simulated mean
        from the open deals, in whole units of money that add up exactly: weighted -
        capacity - timing = simulated. Each is rounded and timing takes the rounding, so
        the report's labels reconcile to the unit."""
        weighted, simulated = round(self.weighted), round(self.simulated_mean)
        capacity = 0 if math.isnan(self.capacity) else round(self.capacity)
        return weighted, capacity, weighted - capacity - simulated, simulated

    @property
    def timing(self) -> float:
        """What capacity does not explain: mostly the deals closing after ``until``."""
        capacity = 0.0 if math.isnan(self.capacity) else self.capacity
        return self.weighted - self.simulated_mean - capacity

    def sentence(self, until: pd.Timestamp) -> str:
        """Why the two differ, in words."""
        by, f = until_text(until), money
        if self.weighted == 0 and self.simulated_mean == 0:
            if self.open_deals == 0:
                return "No deal is open: the bookings are the new leads'."
            if self.open_value == 0:
                return (f"The {self.open_deals} open deals bring nothing: none has an amount; "
                        "the bookings are the new leads'.")
            return (f"The {self.open_deals} open deals ({f(self.open_value)} of value) bring "
                    f"nothing by {by}: the scenario gives them no chance to be won from the "
                    "stages they are in (no route from them reaches won): check their "
                    "routing.")
        weighted, capacity, timing, simulated = self.waterfall()
        gap = weighted - simulated
        text = (f"The weighted pipeline (amount x stage probability, counted whenever a deal "
                f"closes and whoever works it) is {f(weighted)}; the simulation expects "
                f"{f(simulated)} from the same deals by {by} (their mean; P50 "
                f"{f(self.simulated_p50)}), {f(abs(gap))} {'less' if gap >= 0 else 'more'}. ")
        interval = f"95% CI {f(self.capacity_low)} to {f(self.capacity_high)}"
        if not self.staffed:
            text += "Capacity plays no part: no stage needs staff. "
        elif math.isnan(self.capacity):
            text += "Capacity was not measured. "
        elif self.capacity_low > 0:
            text += (f"Capacity: with {STAFF_FACTOR} times the staff (no queues) they would "
                     f"bring {f(capacity)} more by {by} ({interval}). ")
        else:
            text += (f"Capacity: the staff keep up; {STAFF_FACTOR} times the staff would "
                     f"change them by {f(capacity)} ({interval}). ")
        noise = 2 * self.standard_error
        if abs(self.timing) <= noise:
            text += (f"Timing: the other {f(timing)} is within the simulation's noise "
                     f"(+/- {f(noise)}): with staff enough, these deals close by {by}.")
        elif self.timing >= 0:
            text += (f"Timing: the other {f(timing)} is mostly deals that close after "
                     f"{by} (on average {f(self.still_open)} of value is still open then).")
        else:
            text += (f"The simulation books {f(-timing)} more than timing and capacity "
                     "explain: the deals' own rules (score odds, skips) that a stage "
                     "probability leaves out, and the simulation's noise.")
        return text


def pipeline_gap(forecast: Forecast, uncapped: Forecast | None = None) -> PipelineGap:
    """The weighted pipeline, the simulated bookings of the open deals and what splits them.

    Args:
        forecast: the forecast.
        uncapped: the same forecast of :func:`unlimited_staff` (its first replications, on
            the same seed), for the capacity part; None leaves it unmeasured.
    """
    from_open = forecast.totals["bookings_from_open"].to_numpy()
    n = len(from_open)
    capacity = low = high = math.nan
    if uncapped is not None and staffed(forecast.scenario):
        k = uncapped.replications
        est = stats.paired_difference(from_open[:k],
                                      uncapped.totals["bookings_from_open"].to_numpy())
        capacity, low, high = est.mean, est.ci_low, est.ci_high
    elif not staffed(forecast.scenario):
        capacity = low = high = 0.0
    return PipelineGap(forecast.weighted_pipeline, float(from_open.mean()),
                       float(np.median(from_open)),
                       float(forecast.totals["slipped_value"].mean()), float(capacity),
                       float(low), float(high), staffed(forecast.scenario),
                       float(from_open.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                       len(forecast.snapshot.deals),
                       float(sum(d["value"] for d in forecast.snapshot.deals)))
