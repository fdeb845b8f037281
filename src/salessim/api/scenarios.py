"""Scenarios in and out: :func:`load` a file, :func:`save` a scenario, and the one way the
entry points take "a Scenario or a file" (:func:`as_scenario`). Derive a scenario with
:func:`salessim.scenario.evolve`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from salessim.scenario import Scenario, load_scenario


def load(path: str | Path, sets: Sequence[str] = ()) -> Scenario:
    """Read, merge (``extends:``), override (``key.path=value``) and validate a scenario.

    Raises:
        ScenarioError: naming the file, line, field, rule and value.
    """
    return load_scenario(path, list(sets))


def save(scenario: Scenario, path: str | Path) -> Path:
    """Write a scenario as a YAML file (every key resolved), whole or not at all; loading it
    gives the same scenario. Returns the path."""
    import yaml

    from salessim.output import write_text
    from salessim.scenario import resolved

    path = Path(path)
    write_text(path, "# written by salessim.save: every key resolved\n"
               + yaml.safe_dump(resolved(scenario), sort_keys=False, allow_unicode=True))
    return path


def as_scenario(scenario: Scenario | str | Path, sets: Sequence[str] = ()
                ) -> tuple[Scenario, str | None]:
    """A scenario given as an object or a file, with the file's path (None for an object).

    Raises:
        UsageError: ``sets`` with a Scenario object (derive it with ``evolve`` instead).
    """
    if isinstance(scenario, Scenario):
        if sets:
            from salessim.errors import UsageError

            raise UsageError("sets apply to a scenario file; change a Scenario with "
                             "salessim.evolve(scenario, {...}) instead")
        return scenario, None
    return load(scenario, sets), str(scenario)
