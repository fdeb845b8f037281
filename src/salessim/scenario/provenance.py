"""Where a calibrated scenario came from: the ``provenance`` key.

``salessim calibrate`` writes it at the end of scenario.yaml: the history it read (a path
relative to the scenario file) and the options it read it with. ``run`` and ``compare``
use it to put the parameters' uncertainty beside the simulation's: they bootstrap the
history as ``forecast --history`` does (:mod:`salessim.forecast.bootstrap`). The key never
changes what a run simulates.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from salessim.scenario.base import Frozen


class ReadOptions(Frozen):
    """The options the history was read with (as ``salessim calibrate`` names them).

    Paths (``stages``, ``opportunities``) are relative to the scenario file, like the history.
    """

    format: str | None = None
    map: list[str] = Field(default_factory=list)
    won: list[str] = Field(default_factory=list)
    lost: list[str] = Field(default_factory=list)
    no_decision: list[str] = Field(default_factory=list)
    as_of: str | None = None
    opportunities: str | None = None
    stages: str | None = None
    timezone: str | None = None
    since: str | None = None
    holdout: float | None = Field(default=None, gt=0, lt=1)


class Provenance(Frozen):
    """The history a scenario was calibrated from, and how it was read."""

    history: str = Field(min_length=1, description="the export or event log, relative to "
                                                   "the scenario file")
    options: ReadOptions = Field(default_factory=ReadOptions)


#: The comment line that opens the key in a calibrated scenario.yaml.
PROVENANCE_MARK = ("# where the parameters came from: run and compare bootstrap this history "
                   "for their uncertainty\n")


def provenance_yaml(history: str, options: dict[str, Any]) -> str:
    """The ``provenance`` key as YAML lines: the history (relative to the scenario file) and
    the read options that differ from their defaults."""
    given = {k: v for k, v in options.items() if v not in (None, [], ())}
    # JSON is YAML's flow style: paths and names come out quoted, whatever they hold.
    return (f"{PROVENANCE_MARK}provenance:\n  history: {json.dumps(history)}\n"
            f"  options: {json.dumps(given)}\n")
