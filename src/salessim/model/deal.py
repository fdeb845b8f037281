"""A deal: one lead on its way through the sale, what it is and what has happened to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import simpy


class Deal:
    """A lead on its way through the sale.

    Attributes:
        lead: its index in the event log, shifted into the log's packed codes (0 without
            a log).
        number: the n-th lead of its source (1, 2, ...).
        counted: created after the warm-up, so in the KPIs' cohort.
        luck: first-visit routing draws, one per routed stage (see ``rng``).
        visited: bit set of the routed stages already left once.
        exit: the target (its index in the stage plan) a stage that routes its deals
            itself chose (``model/exitrace.py``); set there, before the journey reads it.
        visits: stage id -> visits so far, kept only for stages with ``visit_odds``
            (unset until then: a deal of any other scenario never pays for it).
    """

    __slots__ = (
        "lead", "number", "source", "value", "score", "needs", "created", "counted", "owners",
        "last_role", "last_contact", "first_contact", "handoffs", "started", "luck", "visited",
        "exit", "visits",
    )

    # Set only where used (model/exitrace.py), never in __init__: see above.
    exit: int
    visits: dict[str, int]

    def __init__(self, source: str, number: int, value: float, created: float, counted: bool,
                 luck: list[float] | None = None) -> None:
        self.lead = 0
        self.number = number
        self.source = source
        self.value = value
        self.score = 0.5
        self.needs = 0.0
        self.created = created
        self.counted = counted
        # role -> member, for owner-assigned roles (an event while the owner is pending)
        self.owners: dict[str, int | simpy.Event] | None = None
        self.last_role: str | None = None
        self.last_contact: float | None = None  # end of the last staff work
        self.first_contact: float | None = None
        self.handoffs = 0
        self.started = 0.0  # start of the current staff work
        self.luck: list[float] = [] if luck is None else luck
        self.visited = 0
