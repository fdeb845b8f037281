"""Deriving a scenario from another in code, validated as a redesign file would be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from salessim.errors import Problem, ScenarioError
from salessim.scenario.load import Document, merge, resolved, validate_document, with_additions
from salessim.scenario.schema import Scenario

#: The pseudo-file errors of :func:`evolve` name.
EVOLVE_SOURCE = "evolve"


def evolve(scenario: Scenario, changes: Mapping[str, Any] | None = None,
           **fields: Any) -> Scenario:
    """A scenario derived from ``scenario``, validated as a file would be.

    ``changes`` merge in as a redesign file's do (maps key by key, ``None`` deletes a key,
    a stage's ``next`` and a distribution naming another ``dist`` are replaced whole); a
    key may be a dotted path (``"roles.ae.headcount"``). Keyword arguments change
    top-level keys (``warmup="2 weeks"``). A new stage, role or source goes under ``add``
    (``add={"roles": {"bdr": {...}}}``), as in a file. Duration strings are read in the scenario's own
    ``time_unit``, which cannot change here: the numbers already in the scenario are
    written in it. Unlike pydantic's ``model_copy(update=...)``, every rule of the
    scenario language is checked again.

    Raises:
        ScenarioError: the derived scenario breaks a rule; the problem names the field,
            the rule and the value (in the pseudo-file ``evolve``).
    """
    change: dict[str, Any] = {}
    for key, value in {**(changes or {}), **fields}.items():
        *outer, last = str(key).split(".")
        node = change
        for part in outer:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ScenarioError([Problem(str(key), "a change under a key that is also "
                                             "changed to a plain value", value, EVOLVE_SOURCE)])
        node[last] = merge(node[last], value) if last in node else value
    for key, rule in (("extends", "a derived scenario has its base already"),
                      ("time_unit", "evolve keeps the time unit: the scenario's numbers are "
                                    f"in {scenario.time_unit}s")):
        if key in change and not (key == "time_unit" and change[key] == scenario.time_unit):
            raise ScenarioError([Problem(key, rule, change[key], EVOLVE_SOURCE)])
    base = resolved(scenario)
    data = merge(base, with_additions(change, base, {}, EVOLVE_SOURCE))
    return validate_document(Document(data, {}, [EVOLVE_SOURCE]))
