"""Lead recycling: a nurture track that brings a share of lost or stalled leads back.

Sales teams do not give every lead up for good: a lead that is not ready goes to a
nurture track (newsletters, a call in a quarter) and a share of those leads come back
into the funnel later, at a stage of the team's choosing. A stage with ``recycle`` is
such a track. The deal waits out the stage's ``delay`` (the time away, no staff), then
re-enters the funnel at a stage of ``back`` with that stage's probability, or ends as
``rest`` (lost by default). Its routing is ``back`` plus the rest, so the stage has no
``next`` of its own; and reaching it is no progress of the stage a deal leaves
(``progress: false``, see :func:`salessim.ends.is_forward`).

```yaml
nurture:
  delay: {dist: lognormal, mean: 90, cv: 0.6}   # time in the track
  recycle:
    back: {qualify: 0.2, demo: 0.05}            # re-enter here, with these odds
    rest: lost                                  # the others end here
```
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from salessim.ends import END_NAMES, LOST, NOT_FORWARD
from salessim.scenario.base import Frozen, Id


class Recycle(Frozen):
    """A nurture track: where its leads re-enter the funnel, and with which odds."""

    back: dict[Id, float] = Field(
        min_length=1, description="stage -> probability that a lead re-enters the funnel there")
    rest: Literal[NOT_FORWARD] = Field(  # type: ignore[valid-type]
        default=LOST.name, description="how the leads that do not come back end")
    description: str = ""

    @field_validator("back")
    @classmethod
    def _odds(cls, back: dict[str, float]) -> dict[str, float]:
        for target, p in back.items():
            if target in END_NAMES:
                raise ValueError(f"back names the stages leads re-enter, not an end: {target!r}")
            if not 0 <= p <= 1:
                raise ValueError(f"probability of {target!r} must be in [0, 1], got {p}")
        total = math.fsum(back.values())
        if total > 1 + 1e-6:
            raise ValueError(f"back probabilities must sum to at most 1, got {total:g}")
        return back

    def routes(self) -> dict[str, float]:
        """The stage's ``next``: each stage of ``back``, and ``rest`` with what is left."""
        return {**self.back, self.rest: max(0.0, 1.0 - math.fsum(self.back.values()))}

    def check_stage(self, stage: Any) -> None:
        """Rules on the nurture stage as a whole (called by ``Stage`` validation)."""
        if stage.delay is None:
            raise ValueError("a nurture track holds its leads for a time: give the stage a "
                             "delay")
        if stage.progress:
            raise ValueError("reaching a nurture track is no progress: drop progress: true")
        if stage.decay is not None or stage.only_if is not None:
            raise ValueError("a nurture track takes every lead sent to it and has no staff "
                             "work: drop decay and only_if")


def nurture_stage(data: Any) -> Any:
    """Stage data with ``recycle``: ``next`` from its odds and ``progress: false``.

    Raises ValueError when the stage also gives a ``next`` of its own: the track routes
    by ``back`` (a ``next`` equal to the track's, as a dumped scenario has, is accepted).
    """
    if not isinstance(data, dict) or data.get("recycle") is None:
        return data
    spec = data["recycle"]
    spec = spec if isinstance(spec, Recycle) else Recycle.model_validate(spec)
    given = data.get("next")
    if given is not None and dict(given) != spec.routes():  # a dumped stage has its own
        raise ValueError("a nurture track routes by recycle.back and recycle.rest: drop next")
    return {"progress": False, **data, "recycle": spec, "next": spec.routes()}


def stage_json_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema of ``Stage``: ``next`` unless the stage is a nurture track, which
    has ``recycle`` and no ``next``, or has ``exits`` and neither ``next`` nor ``delay``
    (an editor then says what validation says)."""
    schema["required"] = [r for r in schema.get("required", []) if r != "next"]
    schema["anyOf"] = [
        {"required": ["next"], "not": {"anyOf": [{"required": ["recycle"]},
                                                 {"required": ["exits"]}]}},
        {"required": ["recycle"], "not": {"required": ["next"]}},
        {"required": ["exits"], "not": {"anyOf": [{"required": ["next"]},
                                                  {"required": ["delay"]}]}}]
