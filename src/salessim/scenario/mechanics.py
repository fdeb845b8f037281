"""The handbook's sales mechanics as scenario models.

Lead scoring and needs, queue priorities, speed-to-lead decay, approval chains, parallel
work, hand-offs, time-varying demand, the transition period of a new process, payment
collection and renewals. Each model is frozen data with its own field rules; the engine
reads them through ``model/``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    field_validator,
    model_validator,
)

from salessim.scenario.base import Frozen, Id
from salessim.scenario.dists import Dist, Empirical
from salessim.scenario.units import Duration


def _one_to_five() -> Empirical:
    return Empirical(dist="empirical", values=[1, 2, 3, 4, 5])


# --- leads: score and needs ---------------------------------------------------------------


class ScoreFactor(Frozen):
    """One factor of a lead score (a behaviour or a firmographic attribute) on 0..1."""

    weight: float = Field(ge=0)
    value: Dist


class Needs(Frozen):
    """A lead's needs ratings, each 1 to 5 (the handbook's needs prioritisation)."""

    impact: Dist = Field(default_factory=_one_to_five)
    difficulty: Dist = Field(default_factory=_one_to_five)
    urgency: Dist = Field(default_factory=_one_to_five)


class NeedsWeights(Frozen):
    """Weights of the needs priority: impact 0.4, difficulty 0.3, urgency 0.3 by default."""

    impact: float = Field(default=0.4, ge=0)
    difficulty: float = Field(default=0.3, ge=0)
    urgency: float = Field(default=0.3, ge=0)


class DayEffect(Frozen):
    """A random level per day: each day's rate is multiplied by G ~ gamma(shape, 1 / shape)
    (mean 1, variance 1 / shape), drawn afresh each day, so a day's count is gamma-Poisson
    (negative binomial) with variance m + m^2 / shape about its mean m."""

    shape: float = Field(gt=0, description="k: the day effect's variance is 1 / k")


class ArrivalProfile(Frozen):
    """How a source's arrival rate varies over time (non-homogeneous Poisson).

    The rate at time t is (the ``table`` rate in force at t, or the source's ``rate``)
    x ``weekly[day of week]`` x ``hourly[hour of day] / mean(hourly)``
    x ``monthly[calendar month]``, times the day's ``day_effect`` when there is one. Time 0
    is Monday 5 January 2026, 00:00, so months are calendar months from then. ``hourly`` is
    a shape within the day: divided by its mean, it moves leads between hours and leaves
    each day's expected count (``rate`` x weekly x monthly, per day) as it was, so ``rate``
    stays the mean rate over the day. The day effect has mean 1: it spreads the days'
    counts, not their mean.
    """

    weekly: list[float] | None = Field(default=None, min_length=7, max_length=7)
    monthly: list[float] | None = Field(default=None, min_length=12, max_length=12)
    hourly: list[NonNegativeFloat] | None = Field(
        default=None, min_length=24, max_length=24,
        description="multipliers of hours 0..23 of every day, a shape (divided by its mean)")
    day_effect: DayEffect | None = Field(
        default=None, description="a random gamma level per day (over-dispersed daily counts)")
    table: list[tuple[Duration, float]] | None = Field(
        default=None, min_length=1, description="[[from time, rate], ...], from time 0"
    )

    @model_validator(mode="after")
    def _check(self) -> ArrivalProfile:
        for name in ("weekly", "monthly", "hourly"):
            values = getattr(self, name)
            if values is not None and (min(values) < 0 or max(values) <= 0):
                raise ValueError(f"{name} multipliers must be >= 0 with one above 0, got {values}")
        if self.table is not None:
            starts = [t for t, _ in self.table]
            if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
                raise ValueError("table periods must start at 0 and increase, got "
                                 f"{[list(row) for row in self.table]}")
            if any(rate < 0 for _, rate in self.table) or max(r for _, r in self.table) <= 0:
                raise ValueError("table rates must be >= 0 with one above 0")
        if all(getattr(self, k) is None for k in ("weekly", "monthly", "hourly", "day_effect",
                                                   "table")):
            raise ValueError("give weekly, monthly, hourly, day_effect or table")
        return self

    @property
    def constant(self) -> bool:
        """The rate does not vary with the time of day, week or year (a day effect alone)."""
        return all(getattr(self, k) is None for k in ("weekly", "monthly", "hourly", "table"))


# --- stages: speed-to-lead, score effects, parallel work, approvals ------------------------


class PowerDecay(Frozen):
    """Multiplier (1 + waited / scale) ** -exponent."""

    scale: Duration = Field(gt=0)
    exponent: float = Field(gt=0)


class Decay(Frozen):
    """The odds of moving on fall with the time a lead waited for staff.

    ``waited`` runs from the lead's arrival (or its last staff contact) to the start of
    the stage's work. The odds of moving on (forward versus lost) are multiplied by one
    of: ``0.5 ** (waited / half_life)``; ``(1 + waited / scale) ** -exponent``; or a step
    ``table`` of ``[[waited up to, multiplier], ...]`` (beyond the last row, its
    multiplier).
    """

    since: Literal["arrival", "last_contact"] = "arrival"
    half_life: Duration | None = Field(default=None, gt=0)
    power: PowerDecay | None = None
    table: list[tuple[Duration, float]] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> Decay:
        given = [n for n in ("half_life", "power", "table") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of half_life, power, table (got {given or 'none'})")
        if self.table is not None:
            limits = [t for t, _ in self.table]
            if any(b <= a for a, b in zip(limits, limits[1:], strict=False)):
                raise ValueError("table rows must have increasing waited times")
            if any(m < 0 for _, m in self.table):
                raise ValueError("table multipliers must be >= 0")
        return self

    def multiplier(self, waited: float) -> float:
        """The factor on the odds of moving on after waiting ``waited``."""
        # A float to a float power is typed Any (it may be complex): declared here.
        m: float
        if self.half_life is not None:
            m = 0.5 ** (waited / self.half_life)
            return m
        if self.power is not None:
            m = (1 + waited / self.power.scale) ** -self.power.exponent
            return m
        assert self.table is not None, "one of half_life, power and table is given (see _one)"
        for limit, factor in self.table:
            if waited <= limit:
                return factor
        return self.table[-1][1]


class ScoreOdds(Frozen):
    """The odds of moving on multiplied by at_0 ** (1 - score) * at_1 ** score."""

    at_0: float = Field(default=1.0, gt=0)
    at_1: float = Field(default=1.0, gt=0)

    def multiplier(self, score: float) -> float:
        m: float = self.at_0 ** (1 - score) * self.at_1**score  # declared: see Decay
        return m


class Staffed(Frozen):
    """Something done by staff: the roles it holds, their work, then customer-side time."""

    role: Id | None = None
    roles: list[Id] | None = Field(default=None, min_length=1)
    work: Dist | None = None
    delay: Dist | None = None

    @model_validator(mode="after")
    def _staffing(self) -> Staffed:
        if self.role is not None and self.roles is not None:
            raise ValueError("give either role or roles, not both")
        if self.roles is not None and len(set(self.roles)) != len(self.roles):
            raise ValueError(f"roles must not repeat a role, got {self.roles}")
        if self.work is not None and not self.staff:
            raise ValueError("work is staff time: give a role")
        for name in ("work", "delay"):
            dist = getattr(self, name)
            if dist is not None and not dist.mean > 0:
                raise ValueError(f"{name} must be a positive duration, got mean {dist.mean}")
        return self

    @property
    def staff(self) -> tuple[str, ...]:
        """The roles held while the work is done, in the order given."""
        if self.roles is not None:
            return tuple(self.roles)
        return (self.role,) if self.role is not None else ()


class Task(Staffed):
    """One branch of parallel work inside a stage (a BPMN AND-split and join)."""

    description: str = ""


class ApprovalLevel(Staffed):
    """One level of an approval chain: deals above ``above`` need it."""

    above: float = Field(default=0.0, ge=0)
    description: str = ""


class Meeting(Frozen):
    """A regular meeting that handles deals in batches (a weekly deal review).

    Deals that reach the stage wait for the next meeting; a meeting takes up to
    ``capacity`` of them, first come first served (the rest wait for the one after), holds
    one member of each of the stage's roles for ``length``, and its deals are done when it
    ends. Meetings are held at ``first``, ``first + every``, ... on the clock.
    """

    every: Duration = Field(gt=0, description="time from one meeting to the next")
    first: Duration = Field(default=0.0, ge=0, description="time of the first meeting")
    capacity: int | None = Field(default=None, ge=1,
                                 description="deals one meeting handles (default: all waiting)")
    length: Duration = Field(default=0.0, ge=0, description="how long a meeting takes")


# --- staff ---------------------------------------------------------------------------------


class Handoff(Frozen):
    """Information-transfer time when a deal passes from one role to another.

    ``pairs`` keys are ``"from>to"`` role ids; ``delay`` applies to any other pair.
    """

    delay: Dist | None = None
    pairs: dict[str, Dist] = Field(default_factory=dict)

    @field_validator("pairs")
    @classmethod
    def _keys(cls, pairs: dict[str, Dist]) -> dict[str, Dist]:
        for key in pairs:
            parts = key.split(">")
            if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
                raise ValueError(f"a pair is 'from>to' with two different roles, got {key!r}")
        return pairs


class Learning(Frozen):
    """A transition period: work takes ``start`` times as long at time 0, falling
    linearly to ``end`` times at ``over``, for the given roles (all when omitted)."""

    start: float = Field(gt=0)
    end: float = Field(default=1.0, gt=0)
    over: Duration = Field(gt=0)
    roles: list[Id] | None = None

    def factor(self, t: float) -> float:
        return transition(self.start, self.end, self.over, t)


def transition(start: float, end: float, over: float, t: float) -> float:
    """The transition period's curve: ``start`` at 0, linearly to ``end`` at ``over``."""
    return end if t >= over else start + (end - start) * t / over


# --- after the sale ------------------------------------------------------------------------

#: Receivables aging buckets, by days past due.
AgingBucket = Literal["current", "days_1_30", "days_31_60", "days_61_90", "over_90"]
AGING_BUCKETS: tuple[AgingBucket, ...] = (
    "current", "days_1_30", "days_31_60", "days_61_90", "over_90")


class Dunning(Frozen):
    """A collection step done by finance staff when an invoice is still unpaid."""

    after: Duration = Field(ge=0, description="time after the due date")
    work: Dist


class Reminder(Frozen):
    """A reminder done by finance staff before the due date, if still unpaid."""

    before: Duration = Field(ge=0, description="time before the due date")
    work: Dist


class BadDebt(Frozen):
    """An invoice unpaid at ``after`` past due is written off with ``probability``."""

    after: Duration = Field(gt=0)
    probability: float = Field(ge=0, le=1)


class Collection(Frozen):
    """Order to cash: invoice, payment terms, reminders, dunning, bad debt."""

    role: Id
    delivery: Dist | None = Field(default=None, description="time from won to invoice")
    terms: Duration = Field(gt=0, description="payment terms, e.g. '30 days'")
    lateness: Dist | None = Field(default=None, description="time customers pay after the due date")
    reminders: list[Reminder] = Field(default_factory=list)
    dunning: list[Dunning] = Field(default_factory=list)
    bad_debt: BadDebt | None = None
    provision_rates: dict[AgingBucket, float] = Field(
        default_factory=dict, description="bad-debt provision rate per aging bucket"
    )

    @field_validator("provision_rates")
    @classmethod
    def _rates(cls, rates: dict[str, float]) -> dict[str, float]:
        for bucket, rate in rates.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"rate of {bucket!r} must be in [0, 1], got {rate}")
        return rates


class Upsell(Frozen):
    probability: float = Field(ge=0, le=1)
    value: Dist


class Renewal(Frozen):
    """After each contract term a renewal decision, with staff work and optional upsell."""

    term: Duration = Field(gt=0)
    probability: float = Field(ge=0, le=1)
    role: Id | None = None
    work: Dist | None = None
    upsell: Upsell | None = None
    discount_rate: float = Field(default=0.1, ge=0, description="per year, for CLV")

    @model_validator(mode="after")
    def _staffing(self) -> Renewal:
        if self.work is not None and self.role is None:
            raise ValueError("work is staff time: give a role")
        return self


def clip01(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


__all__ = [
    "AGING_BUCKETS", "ApprovalLevel", "ArrivalProfile", "BadDebt", "Collection", "DayEffect",
    "Decay", "Dunning", "Handoff", "Learning", "Needs", "NeedsWeights", "PowerDecay",
    "Reminder", "Renewal", "ScoreFactor", "ScoreOdds", "Staffed", "Task", "Upsell", "clip01",
]
