"""Compiling a stage that routes its deals itself (``model/exitrace.py``).

A stage with ``exits``, ``timeout``, ``value_odds`` or ``visit_odds`` is chosen here, at
build time, so the journey's loop and every other stage stay as they were: the plan is
marked ``race`` and has no routing stream of the journey's; its behaviour draws the route.
"""

from __future__ import annotations

from typing import Any

from salessim.ends import is_forward
from salessim.model.exitrace import ExitRace, Routing
from salessim.model.journey import StagePlan
from salessim.model.kinds import Build, kind_of
from salessim.model.stages import Delay
from salessim.scenario.dists import blocks
from salessim.scenario.exits import EXIT_FIELDS
from salessim.scenario.schema import Stage


def races(stage: Stage) -> bool:
    """Does the stage route its deals itself (it has one of the exit keys)?"""
    return any(getattr(stage, key) is not None for key in EXIT_FIELDS)


def race_targets(stage: Stage) -> list[str]:
    """The stage's targets in plan order: its exits (or ``next``), then the time-out's
    target when it is none of them."""
    names = list(stage.exits) if stage.exits is not None else list(stage.next)
    if stage.timeout is not None and stage.timeout.to not in names:
        names.append(stage.timeout.to)
    return names


def race_stage(b: Build, plan: StagePlan, targets: list[Any], progress: dict[str, bool],
               routed: list[str]) -> None:
    """Compile a race stage into ``plan``: its behaviour and its targets.

    Args:
        b: the builder's parts for the stage (its ``own_delay`` becomes the race's delay).
        plan: the stage's plan.
        targets: the compiled targets, in :func:`race_targets` order.
        progress: stage id -> does reaching it count as progress.
        routed: the routed stages in slot order; a ``next``-form stage with two ways out
            or more takes a slot (the deal's first-visit luck), as a plain stage does.
    """
    stage, sid, staff = b.stage, b.sid, b.staff
    names = race_targets(stage)
    forward = [is_forward(n, progress) for n in names]
    implied = stage.implied.routes
    # The table's shares are the implied ones: a deal that skips the stage never uses them
    # (only_if needs otherwise here), the flow checks may read them.
    plan.set_routing(targets, [implied.get(n, 0.0) for n in names], forward, None, None)
    plan.race = True
    own_delay, b.own_delay = b.own_delay, None  # the kind's work without customer time
    inner = kind_of(stage).build(b)
    exits = routing = None
    if stage.exits is not None:
        exits = [(names.index(t), e.time, staff.draws(e.time, f"exit:{sid}:{t}"))
                 for t, e in stage.exits.items()]
        side: Delay | None = Delay(iter(()), b.log, sid)  # its event-log codes only
    else:
        side = own_delay
        route = None
        if len(stage.next) > 1:
            route = blocks(staff.streams.generator(f"route:{sid}").random)
            plan.slot = len(routed)
            plan.bit = 1 << plan.slot
            routed.append(sid)
        routing = Routing([stage.next.get(n, 0.0) for n in names], forward, route,
                          plan.slot, plan.bit, stage.decay, stage.score_odds)
    to = names.index(stage.timeout.to) if stage.timeout is not None else -1
    plan.behaviour = ExitRace(
        b.env, b.log, b.tally, sid, inner, side, exits, routing, forward,
        None if stage.timeout is None else stage.timeout.after, to, stage.value_odds,
        stage.visit_odds, stage.order == "customer_first")
    plan.visit = plan.behaviour.visit
