"""Stage kinds behind one interface (:class:`StageKind`), registered once.

The builder, the flow analysis, the diagrams and BPMN, the warm start, the size estimate,
the forecast gap and the KPIs ask :data:`REGISTRY` for a stage's kind and then ask the
kind (see :mod:`salessim.model.kinds.base`). A new kind is one module here with a
subclass of :class:`StageKind`, one field on ``Stage`` and one line below.
"""

from __future__ import annotations

from salessim.model.kinds.approvals import ApprovalChainKind
from salessim.model.kinds.base import Build, Registry, StageKind, UnknownKind
from salessim.model.kinds.delay import DelayOnlyKind
from salessim.model.kinds.meeting import MeetingKind
from salessim.model.kinds.parallel import ParallelTasksKind
from salessim.model.kinds.recycle import RecycleKind
from salessim.model.kinds.staffed import StaffedWorkKind
from salessim.scenario.schema import Stage

#: Every stage kind salessim knows.
REGISTRY = Registry([
    StaffedWorkKind(),
    ParallelTasksKind(),
    ApprovalChainKind(),
    MeetingKind(),
    RecycleKind(),
    DelayOnlyKind(),
])


def kind_of(stage: Stage) -> StageKind:
    """The kind of ``stage`` (a ``scenario.schema.Stage``)."""
    return REGISTRY.of(stage)


__all__ = ["REGISTRY", "Build", "Registry", "StageKind", "UnknownKind", "kind_of"]
