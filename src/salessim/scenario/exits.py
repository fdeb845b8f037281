"""Exits that depend on time and on the deal: competing risks, time-outs, value and visit odds.

A stage routes its deals in one of two forms:

- ``next`` (shares) and one ``delay`` for every way out, as always;
- ``exits``: each way out has its own latent time, drawn afresh per visit; the deal leaves
  by the exit whose time comes first (competing risks, cause-specific hazards), so a quick
  approval and a slow loss each keep their own clock, and an old deal has the odds old
  deals have.

Either form may add ``timeout`` (a deal still in the stage ``after`` a clock time from
entering it leaves by ``to``), ``value_odds`` (a factor per doubling of the deal's value)
and ``visit_odds`` (a factor per visit to the stage). In the ``next`` form a factor
multiplies the odds of moving on (:func:`salessim.ends.shifted_forward`); in the ``exits``
form it divides the latent times of the forward exits (an accelerated-time effect: an
exponential exit's hazard is multiplied by it).

:func:`implied` gives a stage's routing shares and mean time for a deal of factor 1 on its
first visit: what diagrams, the flow analysis and reports show.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from pydantic import Field, PositiveFloat, TypeAdapter, ValidationError

from salessim.ends import NOT_FORWARD
from salessim.errors import Problem
from salessim.scenario.base import Frozen, Id
from salessim.scenario.dists import Dist
from salessim.scenario.opendeals import upper_bound
from salessim.scenario.survival import race, survival
from salessim.scenario.units import Duration

#: The ``Stage`` fields of this module.
EXIT_FIELDS = ("exits", "timeout", "value_odds", "visit_odds")


class Exit(Frozen):
    """One way out of a stage with its own latent time (from the start of the customer's
    side of the stage)."""

    time: Dist


class Timeout(Frozen):
    """A deal still in the stage ``after`` this clock time from entering it leaves by ``to``."""

    after: Duration = Field(gt=0, description="clock time from entering the stage "
                            "(queueing and staff work included; nights and weekends count)")
    to: Id = Field(description="where a deal that times out goes: a stage or an end")


class ValueOdds(Frozen):
    """The factor r = per_doubling ** log2(value / reference) on a deal's odds of moving on
    (values below 1 count as 1)."""

    reference: PositiveFloat = Field(description="the deal value whose factor is 1")
    per_doubling: PositiveFloat = Field(description="the factor for each doubling of value")

    def factor(self, value: float) -> float:
        """The factor of a deal of ``value``."""
        return float(self.per_doubling ** math.log2(max(value, 1.0) / self.reference))


#: ``exits``: target (a stage id or an end) -> its latent time.
Exits = dict[Id, Exit]
VisitOdds = list[PositiveFloat]

_EXITS: TypeAdapter[Exits] = TypeAdapter(Exits)
_TIMEOUT: TypeAdapter[Timeout] = TypeAdapter(Timeout)


def visit_factor(odds: list[float], visit: int) -> float:
    """The factor on the ``visit``-th visit (1, 2, ...): the last entry holds for later ones."""
    return odds[min(visit, len(odds)) - 1]


class Implied(NamedTuple):
    """A stage's routing and time for a deal of factor 1 on its first visit.

    Attributes:
        routes: target -> the chance of leaving by it (the time-out's share included).
        mean_time: the mean customer-side time in the stage (capped by the time-out; staff
            work and queueing are not in it, nor counted against the time-out here).
        exact: True when both are exact for every deal (no time-out, no value or visit
            odds); False when they are this module's approximation for the flow analysis.
    """

    routes: dict[str, float]
    mean_time: float | None
    exact: bool


def implied(stage: Any) -> Implied:
    """The stage's implied routing shares and mean customer-side time (see :class:`Implied`).

    In the ``exits`` form, from the race of the exits' times (:func:`race`); in the ``next``
    form, the shares of ``next`` moved by the time-out: P(to) gains P(delay > after).
    """
    exact = stage.timeout is None and stage.value_odds is None and stage.visit_odds is None
    cap: float | None = stage.timeout.after if stage.timeout is not None else None
    if stage.exits is not None:
        routes, mean = _race_routes(stage.exits, stage.timeout)
        return Implied(routes, mean, exact)
    routes = dict(stage.next)
    delay = stage.delay
    if cap is None or delay is None:
        return Implied(routes, None if delay is None else delay.mean, exact)
    late = float(survival(delay, [cap])[0])
    routes = {t: p * (1 - late) for t, p in routes.items()}
    routes[stage.timeout.to] = routes.get(stage.timeout.to, 0.0) + late
    return Implied(routes, race([delay], cap).mean_time, exact)


def with_implied_next(data: Any, context: Any) -> Any:
    """Stage data with ``exits``: its ``next`` from the race of the exits (a derived field,
    never written: a scenario's dump leaves it out).

    Raises ValueError when the stage also gives ``next`` or ``delay``: the exits replace
    both. Exits that do not validate are left to the field's own, located error.
    """
    if not isinstance(data, dict) or data.get("exits") is None:
        return data
    for field in ("next", "delay"):
        if data.get(field) is not None:
            raise ValueError(f"a stage with exits has no {field}: each exit has its own "
                             f"time and the first to come decides the route; drop {field}")
    try:
        exits = _EXITS.validate_python(data["exits"], context=context)
        timeout = None if data.get("timeout") is None else _TIMEOUT.validate_python(
            data["timeout"], context=context)
    except ValidationError:
        # The field reports it, located; a placeholder keeps "next is required" out of it.
        return {**data, "next": {next(iter(NOT_FORWARD)): 1.0}}
    if len(exits) < 2:
        return {**data, "next": {next(iter(NOT_FORWARD)): 1.0}}
    return {**data, "next": _race_routes(exits, timeout)[0]}


def _race_routes(exits: Exits, timeout: Timeout | None) -> tuple[dict[str, float], float]:
    """The race's shares per target (the time-out's included, summing to 1) and its mean
    time, for a deal of factor 1 and age 0."""
    out = race([e.time for e in exits.values()], None if timeout is None else timeout.after)
    routes = dict(zip(exits, out.exits, strict=True))
    if timeout is not None:
        routes[timeout.to] = routes.get(timeout.to, 0.0) + out.timed_out
    total = math.fsum(routes.values())
    return {t: p / total for t, p in routes.items()}, out.mean_time


def check_stage(stage: Any) -> None:
    """The rules of the exit keys on a whole stage (called by ``Stage`` validation)."""
    if stage.exits is not None:
        for name in ("decay", "score_odds", "recycle"):
            if getattr(stage, name) is not None:
                hint = ("value_odds or visit_odds" if name != "recycle"
                        else "next with recycle")
                raise ValueError(f"{name} routes by next: a stage with exits has none "
                                 f"(use {hint})")
        if stage.order == "customer_first" and stage.work is None:
            raise ValueError("order: customer_first puts the customer's side (the exits' "
                             "race) before the staff work (work): the stage needs work")
    new_keys = [k for k in EXIT_FIELDS if getattr(stage, k) is not None]
    if stage.recycle is not None and stage.timeout is not None:
        raise ValueError("a nurture track routes by recycle: it has no timeout")
    if new_keys and stage.only_if is not None and stage.only_if.otherwise is None:
        raise ValueError(f"only_if on a stage with {' and '.join(new_keys)}: give "
                         "only_if.otherwise (where the deals that skip it go)")
    if stage.value_odds is not None or stage.visit_odds is not None:
        targets = list(stage.exits) if stage.exits is not None else list(stage.next)
        off = [t for t in targets if t in NOT_FORWARD]
        if not off or len(off) == len(targets):
            field = "value_odds" if stage.value_odds is not None else "visit_odds"
            where = "exits" if stage.exits is not None else "next"
            raise ValueError(f"{field} changes the odds of moving on against lost / "
                             f"no_decision: {where} needs both kinds of target, got "
                             f"{', '.join(targets)}")


def targets_of(stage: Any) -> dict[str, str]:
    """Every target the stage names, with the field that names it (for reference checks)."""
    named = {t: f"exits.{t}" if stage.exits is not None else f"next.{t}"
             for t in (stage.exits if stage.exits is not None else stage.next)}
    if stage.timeout is not None:
        named.setdefault(stage.timeout.to, "timeout.to")
    return named


def drop_derived_next(data: dict[str, Any]) -> dict[str, Any]:
    """A dumped stage without the ``next`` its exits imply (so the dump validates again)."""
    if data.get("exits") is not None:
        data.pop("next", None)
    return data


def exit_pipeline_problems(scenario: Any) -> list[Problem]:
    """Open deals in an ``exits`` stage older than any of its exits' times allow (with no
    time-out to take them: a time-out takes every deal older than its ``after``)."""
    problems: list[Problem] = []
    for i, deal in enumerate(scenario.pipeline):
        stage = scenario.stages[deal.stage]
        if stage.exits is None or stage.timeout is not None:
            continue
        bound = max(upper_bound(e.time) for e in stage.exits.values())
        if deal.age >= bound:
            problems.append(Problem(f"pipeline.{i}.age", f"deal {deal.id!r} has been in stage "
                                    f"{deal.stage!r} longer than any of its exits' times "
                                    f"allows (at most {bound:g} {scenario.time_unit}s)",
                                    deal.age))
    return problems
