"""The expected size of a run: leads, stage visits and events, from the scenario alone.

The events of a visit depend on the stage's kind, which says them
(``StageKind.events_per_visit``); the limits a scenario must keep to are checked during
validation, in :mod:`salessim.scenario.size`, which needs no kind.
"""

from __future__ import annotations

from salessim.model.kinds import kind_of
from salessim.scenario.schema import Scenario
from salessim.scenario.size import RunSize, expected_leads, expected_visits, recurring_steps


def estimate(scenario: Scenario, replications: int | None = None) -> RunSize:
    """The expected size of a run of ``replications`` (default: the scenario's).

    Events per lead: created and an end, plus per expected visit of each stage its kind's
    events and 2 for the stage's own customer-side delay (started, finished). Per
    replication: 2 for each meeting held (it starts and ends) and for each renewal decision
    (its term ends, it is decided), 3 more for a renewal's staff work.
    """
    leads = expected_leads(scenario)
    per_lead = expected_visits(scenario)
    events = 2.0  # created, and an end
    for sid, stage in scenario.stages.items():
        own = 2 if stage.delay is not None or stage.exits is not None else 0  # the race's too
        events += per_lead[sid] * (kind_of(stage).events_per_visit(stage) + own)
    meetings, renewals = recurring_steps(scenario)
    staffed = scenario.renewal is not None and scenario.renewal.work is not None
    steps = 2 * meetings + renewals * (5 if staffed else 2)
    visits = leads * sum(per_lead.values()) + renewals
    return RunSize(replications or scenario.replications, leads, visits, leads * events + steps)
