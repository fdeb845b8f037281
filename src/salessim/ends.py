"""Where a deal can end, and what each end means: defined here once.

Every part of salessim that needs to know the ends of a sale (the scenario's rules on
``next``, the engine's routing, the KPIs, the event log, the reports) reads them from
this module, so a new end or a change of meaning is made in one place.

A routing target is either one of these ends or a stage. A stage target moves the deal
on unless the stage says otherwise (``progress: false``, for a nurture track that holds a
lead and sends it back later): such a target neither ends the deal nor counts as
conversion of the stage the deal leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class End(NamedTuple):
    """One way a deal can end.

    Attributes:
        name: the id used in ``next`` and in the event log.
        code: the engine's integer for it (negative, so it never clashes with a stage).
        forward: leaving a stage for this end counts as the stage's conversion.
        label: how reports name it.
    """

    name: str
    code: int
    forward: bool
    label: str


WON = End("won", -1, True, "won")
LOST = End("lost", -2, False, "lost")
NO_DECISION = End("no_decision", -3, False, "no decision")

#: Every end, in reporting order.
ENDS: tuple[End, ...] = (WON, LOST, NO_DECISION)
#: Their names: they may appear in ``next`` but are never stage ids.
END_NAMES: tuple[str, ...] = tuple(e.name for e in ENDS)
#: The ends that close a deal without a sale (the "off" side of routing odds).
NOT_FORWARD: tuple[str, ...] = tuple(e.name for e in ENDS if not e.forward)
BY_NAME: dict[str, End] = {e.name: e for e in ENDS}
BY_CODE: dict[int, End] = {e.code: e for e in ENDS}


def is_end(target: str) -> bool:
    """Is ``target`` (a name in ``next``) an end rather than a stage?"""
    return target in BY_NAME


def is_forward(target: str, progress: Mapping[str, bool]) -> bool:
    """Does leaving a stage for ``target`` count as that stage's conversion (moving on)?

    The one rule, for the engine's routing, the flow analysis, the odds factors (decay,
    score odds: they move the split between the forward and the other targets), the
    teaching figures, calibration and the forecast: an end is forward when it says so
    (won); a stage is forward unless it makes no progress (``progress: false``, a nurture
    track), as ``progress`` maps each stage id.

    Args:
        target: an end name or a stage id (a key of a stage's ``next``).
        progress: stage id -> does reaching that stage count as progress.
    """
    end = BY_NAME.get(target)
    return end.forward if end is not None else progress[target]


def shifted_forward(p_on: float, odds: float) -> float:
    """The probability of moving on when its odds are multiplied by ``odds`` (decay, score
    odds): p' = odds * p / (1 - p + odds * p). Each side (forward, the others) then keeps
    the shares of its targets. A stage that always or never moves on is left as it is.
    """
    if odds == 1.0 or p_on <= 0.0 or p_on >= 1.0:
        return p_on
    return odds * p_on / (1.0 - p_on + odds * p_on)
