"""The scenario language: YAML files validated into frozen pydantic models."""

from salessim.scenario.derive import evolve
from salessim.scenario.load import json_schema, load_scenario, resolved, scenario_hash
from salessim.scenario.schema import TERMINALS, Calendar, Role, Scenario, Source, Stage

__all__ = [
    "TERMINALS", "Calendar", "Role", "Scenario", "Source", "Stage", "evolve", "json_schema",
    "load_scenario", "resolved", "scenario_hash",
]
