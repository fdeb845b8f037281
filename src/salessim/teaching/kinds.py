"""One visit to a stage, in expectation, as the flow analysis walks it.

The stage's kind (:mod:`salessim.model.kinds`) says what a visit costs
(:class:`~salessim.model.kinds.flow.Visit`); this module adds what every kind shares:
the skip rule (``only_if``), checked first, and the stage's own customer-side delay,
after the kind's part. A stage whose kind is not registered is an error
(:class:`~salessim.model.kinds.UnknownKind`), never a silent "delay only".
"""

from __future__ import annotations

from salessim.model.kinds import kind_of
from salessim.model.kinds.flow import Context, Last, Visit
from salessim.scenario.schema import Stage

__all__ = ["Context", "Visit", "skip_visit", "visit"]


def skip_visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit | None:
    """The skip rule: a deal at or below ``only_if.deal_value_above`` skips the stage."""
    if stage.only_if is None or value > stage.only_if.deal_value_above:
        return None
    return Visit("skip rule", last={last: 1.0}, skipped=True, otherwise=stage.only_if.otherwise)


def visit(stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
    """One visit to ``stage`` by a deal of ``value`` whose last staff work was ``last``."""
    skipped = skip_visit(stage, sid, value, last, ctx)
    if skipped is not None:
        return skipped
    kind = kind_of(stage)
    # Only kinds that depend on the value (approvals) are not shared by value classes.
    key = (sid, last, value if kind.value_dependent else None)
    if key not in ctx.visits:
        out = kind.flow(stage, sid, value, last, ctx)
        # The stage's own customer-side time, after the kind's (the exits' race, capped by
        # a time-out, in the implied mean).
        own = stage.delay.mean if stage.delay is not None and stage.timeout is None \
            else stage.implied.mean_time
        if own is not None:
            out.duration += own
            out.delay += own
            out.delays += 1
        ctx.visits[key] = out
    return ctx.visits[key]
