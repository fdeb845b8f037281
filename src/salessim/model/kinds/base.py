"""The interface every stage kind implements, and the registry that knows them all.

A stage kind is what a deal does inside a stage between entering it and being routed on
(staffed work, parallel tasks, an approval chain, a meeting, a nurture track, delay only).
Everything in salessim that needs to know the kinds asks the registry
(:data:`salessim.model.kinds.REGISTRY`) for the kind of a stage and then asks the kind:

======================  ===============================================================
aspect                  who asks
======================  ===============================================================
``field``               the schema (the ``Stage`` field that makes a stage of this kind)
``build``               the builder (``model/build.py``): the behaviour, an object with
                        the ``visit(deal)`` and ``resume(left, work_done, deal)`` generators
``flow``                the flow analysis (``analyse``, ``teaching``): one visit in
                        expectation, exact or not
``box``                 the diagrams (SVG, PNG, DOT): the kind's lines in a stage's box
``bpmn``                BPMN export: the kind's flow nodes between the stage's entry and
                        its routing
``events_per_visit``    size checks: events a visit writes to the event log
``staffed``             the forecast gap: does the stage need staff (can queues slow it)
``example``             the tests and the docs: a stage of this kind, so that every
                        registered kind is run end to end (``tests/test_kinds.py``)
======================  ===============================================================

Hooks with a default (a kind overrides them when it has something to say): ``kpis`` (its
own KPIs per stage, from the stage's tally), ``process_kpis`` (its KPIs of the whole
process, from the run's tally), ``analysis_rows`` (its figures of the process, from the
flow analysis's chains), ``value_cuts`` (deal values its flow depends
on), ``fixed_load`` (staff time per time unit that does not scale with leads) and
``queue_exact`` (queueing formulas hold for its staff). Whether reaching a stage counts as
progress is the stage's ``progress`` (``Scenario.progress``, read by
:func:`salessim.ends.is_forward`), not the kind's.

A subclass that leaves an aspect out, or declares a behaviour without ``visit`` and
``resume``, is refused when the class is created, that is when its module is imported.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Protocol

from salessim.model.kinds.flow import Context, Last, Visit
from salessim.records import StageTally
from salessim.scenario.schema import KIND_FIELDS, Stage

#: The aspects a kind must implement (abstract in :class:`StageKind`).
ASPECTS = ("build", "flow", "box", "bpmn", "events_per_visit", "staffed", "example")
#: The class attributes a kind must declare.
DECLARED = ("name", "field", "behaviour")


class Draw(Protocol):
    """What a kind's ``bpmn`` draws with (``teaching/bpmn.py`` supplies it)."""

    def node(self, nid: str, kind: str, name: str) -> str: ...

    def flow(self, src: str, dst: str, name: str = "") -> None: ...


class StageKind(ABC):
    """One kind of stage. Subclass it, implement every aspect, register an instance.

    Class attributes:
        name: the kind's name in reports ("staffed work").
        field: the ``Stage`` field that gives a stage this kind (None: the kind of a stage
            with none of the kind fields, delay only).
        behaviour: the class of the objects ``build`` returns; it has ``visit`` and
            ``resume`` generators.
        value_dependent: its ``flow`` depends on the deal's value (beyond ``only_if``).
        queue_exact: queueing formulas (Erlang C, Allen-Cunneen) hold for its staff work.
        returns_deals: its stage sends deals back into the funnel (lead recycling): a deal
            won after leaving it is a recycled win (``Tally.won_recycled``).
    """

    name: ClassVar[str]
    field: ClassVar[str | None]
    behaviour: ClassVar[type]
    value_dependent: ClassVar[bool] = False
    queue_exact: ClassVar[bool] = True
    returns_deals: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [a for a in ASPECTS if getattr(getattr(cls, a), "__isabstractmethod__", False)]
        missing += [a for a in DECLARED if not hasattr(cls, a)]
        if missing:
            raise TypeError(f"stage kind {cls.__name__} lacks {', '.join(missing)}: every "
                            f"kind implements {', '.join(ASPECTS)} and declares "
                            f"{', '.join(DECLARED)}")
        for method in ("visit", "resume"):
            if not callable(getattr(cls.behaviour, method, None)):
                raise TypeError(f"stage kind {cls.__name__}: its behaviour "
                                f"{cls.behaviour.__name__} has no {method}()")

    def applies(self, stage: Stage) -> bool:
        """Is ``stage`` of this kind (its field is set)?"""
        return self.field is not None and getattr(stage, self.field) is not None

    @abstractmethod
    def build(self, b: Build) -> Any:
        """The stage's behaviour for one replication (None: nothing but routing)."""

    @abstractmethod
    def flow(self, stage: Stage, sid: str, value: float, last: Last, ctx: Context) -> Visit:
        """One visit in expectation, before the stage's own customer-side delay (added for
        every kind by the caller)."""

    @abstractmethod
    def box(self, stage: Stage, unit: str) -> list[str]:
        """The kind's lines in the stage's box of a diagram (after its name and roles)."""

    @abstractmethod
    def bpmn(self, sid: str, stage: Stage, draw: Draw) -> str:
        """Draw the kind's BPMN nodes; the first is ``In_<sid>``. Returns the last one."""

    @abstractmethod
    def events_per_visit(self, stage: Stage) -> float:
        """Event-log records one visit writes, before the stage's own delay (2 more)."""

    @abstractmethod
    def staffed(self, stage: Stage) -> bool:
        """Does the stage need staff, so that staff queues can slow its deals down?"""

    @abstractmethod
    def example(self, before: str) -> dict[str, Any]:
        """A stage of this kind as scenario data, reached from stage ``before``.

        It may name the roles ``rep`` (a pool) and ``manager`` and route back to
        ``before`` (which can reach ``won``); the tests build a scenario around it and run
        it end to end.
        """

    def kpis(self, sid: str, stage: Stage, st: StageTally) -> dict[str, float]:
        """The kind's own KPIs of one stage (declared in ``kpis.py``)."""
        return {}

    def process_kpis(self, tally: Any) -> dict[str, float]:
        """The kind's own KPIs of the whole process (declared in ``kpis.py``), asked once
        per run of a scenario that has a stage of this kind."""
        return {}

    def analysis_rows(self, analysis: Any, exact: bool) -> list[tuple[Any, ...]]:
        """The kind's own figures of the process, as rows of the flow analysis's table
        (``salessim.analyse.COLUMNS``), from its chains; ``exact`` is whether the routing
        figures are exact for the scenario."""
        return []

    def value_cuts(self, stage: Stage) -> list[tuple[float, str]]:
        """Deal values at which the kind's flow changes, each with who it concerns
        (approval levels and their roles): the flow analysis splits deals there."""
        return []

    def fixed_load(self, stage: Stage, role: str) -> float:
        """Staff of ``role`` busy on average whatever the arrivals (meetings)."""
        return 0.0


class Build:
    """What the builder hands a kind: the replication's parts and the stage.

    Attributes:
        sid, stage: the stage.
        env, staff, tally, log: the SimPy environment, the staff service, the stage's
            running totals and the event log (or None).
        own_delay: the stage's customer-side time (a ``model.stages.Delay``), or None.
    """

    def __init__(self, sid: str, stage: Stage, env: Any, staff: Any, tally: StageTally,
                 log: Any, delay: Callable[..., Any]) -> None:
        self.sid, self.stage, self.env, self.staff, self.tally, self.log = (
            sid, stage, env, staff, tally, log)
        self.delay = delay  # delay(dist, stream, label="") -> Delay | None
        self.own_delay = delay(stage.delay, f"delay:{sid}")


class UnknownKind(LookupError):
    """A kind that is not registered, or a stage no registered kind claims."""


class Registry:
    """The registered stage kinds, one per ``Stage`` kind field plus delay only.

    Raises TypeError when the kinds do not match the schema's kind fields one to one (a
    schema field no kind claims, a kind whose field the schema lacks, two kinds of one
    field), so the mismatch shows at import.
    """

    def __init__(self, kinds: Iterable[StageKind]) -> None:
        self.kinds: tuple[StageKind, ...] = tuple(kinds)
        fields = [k.field for k in self.kinds]
        named = sorted(f for f in fields if f is not None)
        if named != sorted(KIND_FIELDS) or fields.count(None) != 1:
            raise TypeError(f"the stage kinds' fields {fields} must be the schema's kind "
                            f"fields {list(KIND_FIELDS)} once each, and one kind without a "
                            "field (delay only)")
        self.by_name = {k.name: k for k in self.kinds}
        if len(self.by_name) != len(self.kinds):
            raise TypeError("two stage kinds share a name")
        self._plain = next(k for k in self.kinds if k.field is None)

    def __iter__(self) -> Iterator[StageKind]:
        return iter(self.kinds)

    def get(self, name: str) -> StageKind:
        """The kind called ``name``."""
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownKind(f"no stage kind {name!r} (kinds: {', '.join(self.by_name)})") \
                from None

    def of(self, stage: Stage) -> StageKind:
        """The kind of ``stage``: the one whose field it sets, else delay only."""
        hits = [k for k in self.kinds if k.field is not None and k.applies(stage)]
        if len(hits) > 1:
            raise UnknownKind(f"a stage of two kinds: {' and '.join(k.name for k in hits)}")
        return hits[0] if hits else self._plain
