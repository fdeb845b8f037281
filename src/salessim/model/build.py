"""From a Scenario's stages to the compiled plans the journey runs on.

Everything that can be decided before the clock starts is decided here: each stage's
behaviour, built by its kind (``model/kinds``), its staff plans, the iterators of buffered
random draws, the routing tables and the event-log codes. The journey only reads these.
"""

from __future__ import annotations

from typing import Any

import simpy

from salessim.ends import BY_NAME, is_forward
from salessim.model.exitbuild import race_stage, race_targets, races
from salessim.model.journey import StagePlan
from salessim.model.kinds import Build, kind_of
from salessim.model.staff import Staff
from salessim.model.stages import Delay, SkipRule
from salessim.records import EventLog, StageTally
from salessim.scenario.dists import Dist, blocks
from salessim.scenario.schema import Scenario, Stage


def build_stages(scenario: Scenario, env: simpy.Environment, staff: Staff,
                 tallies: dict[str, StageTally], log: EventLog | None
                 ) -> tuple[dict[str, StagePlan], list[str]]:
    """Compile every stage; returns the plans and the routed stages in slot order.

    A lead's first routing draw at stage k of the routed list is ``Deal.luck[k]``.
    """
    plans = {sid: StagePlan(sid, tallies[sid]) for sid in scenario.stages}
    routed: list[str] = []

    def target(name: str) -> Any:
        return BY_NAME[name].code if name in BY_NAME else plans[name]

    progress = scenario.progress
    for sid, stage in scenario.stages.items():
        plan = plans[sid]
        if races(stage):  # a stage that routes its deals itself: a path of its own
            race_stage(Build(sid, stage, env, staff, tallies[sid], log, delays(sid, staff, log)),
                       plan, [target(n) for n in race_targets(stage)], progress, routed)
        else:
            _plain_stage(sid, stage, plan, env, staff, tallies[sid], log, progress, target,
                         routed)
        if stage.only_if is not None:
            otherwise = stage.only_if.otherwise
            plan.skip = SkipRule(stage.only_if.deal_value_above,
                                 None if otherwise is None else target(otherwise))
        if log is not None:
            plan.entered = log.code("entered", sid)
            plan.skipped = log.code("skipped", sid)
    return plans, routed


def _plain_stage(sid: str, stage: Stage, plan: StagePlan, env: simpy.Environment,
                 staff: Staff, tally: StageTally, log: EventLog | None,
                 progress: dict[str, bool], target: Any, routed: list[str]) -> None:
    """A stage routed by the journey: its behaviour and its routing table."""
    plan.behaviour = _behaviour(sid, stage, env, staff, tally, log)
    plan.visit = None if plan.behaviour is None else plan.behaviour.visit
    names = list(stage.next)
    plan.set_routing(
        [target(n) for n in names], [stage.next[n] for n in names],
        [is_forward(n, progress) for n in names],
        stage.decay, stage.score_odds)
    # A stage that sends deals back always has two ways out (back, rest): it is routed,
    # so its bit in Deal.visited marks the deals that came through it.
    plan.returns = kind_of(stage).returns_deals and len(names) > 1
    if len(names) > 1:
        plan.route = blocks(staff.streams.generator(f"route:{sid}").random)
        plan.slot = len(routed)
        plan.bit = 1 << plan.slot
        routed.append(sid)


def delays(sid: str, staff: Staff, log: EventLog | None) -> Any:
    """The builder's ``delay(dist, stream, label)`` for the kinds of stage ``sid``."""
    def delay(dist: Dist | None, stream: str, label: str = "") -> Delay | None:
        draws = staff.draws(dist, stream)
        return None if draws is None else Delay(draws, log, sid, label)

    return delay


def _behaviour(sid: str, stage: Stage, env: simpy.Environment, staff: Staff,
               tally: StageTally, log: EventLog | None) -> Any:
    """The stage's behaviour, built by its kind: an object with ``visit(deal)`` and
    ``resume(...)`` (None: nothing but routing). The kind is chosen here, once per run;
    the journey only calls the behaviour."""
    return kind_of(stage).build(Build(sid, stage, env, staff, tally, log,
                                      delays(sid, staff, log)))
