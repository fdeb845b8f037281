"""What one replication records: running totals always, the event log on request.

The running totals (:class:`Tally`) are what KPIs are computed from; they take the same
memory whatever the number of leads: the quantile KPIs come from bounded sketches
(:mod:`salessim.sketch`). The event log (:class:`EventLog`) keeps one record per event as
typed columns (an integer code and a time, 16 bytes an event), resolves names only when
a frame is built, and exports to pandas, CSV, Parquet and XES in chunks.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from salessim.clock import LOG_EPOCH as LOG_EPOCH  # also read from here (see below)
from salessim.ends import ENDS
from salessim.output import atomic_path
from salessim.sketch import QuantileSketch

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

#: Events of a lead's life, in the ``event`` column of the log. The position of a name is
#: its code in the log's packed records; new events go at the end.
EVENTS: tuple[str, ...] = (
    "created", "entered", "queued", "started", "finished", "went_cold", "skipped",
    *(e.name for e in ENDS), "handoff", "delay_started", "delay_finished",
    "invoiced", "paid", "written_off", "renewed", "churned",
)
CODE: dict[str, int] = {name: i for i, name in enumerate(EVENTS)}
CREATED, ENTERED, QUEUED, STARTED, FINISHED, WENT_COLD, SKIPPED = EVENTS[:7]
WON, LOST, NO_DECISION = (e.name for e in ENDS)
HANDOFF = "handoff"
DELAY_STARTED, DELAY_FINISHED = "delay_started", "delay_finished"  # customer-side time
INVOICED, PAID, WRITTEN_OFF, RENEWED, CHURNED = (
    "invoiced", "paid", "written_off", "renewed", "churned",
)

#: XES lifecycle transition of each event, in the standard transactional model's words:
#: a stage visit is scheduled (entered), assigned to a role (queued), started, completed;
#: a skipped stage is ``autoskip``, never ``complete``.
LIFECYCLE = {
    CREATED: "complete", ENTERED: "schedule", QUEUED: "assign", STARTED: "start",
    FINISHED: "complete", WENT_COLD: "withdraw", SKIPPED: "autoskip", WON: "complete",
    LOST: "complete", NO_DECISION: "complete", HANDOFF: "complete", DELAY_STARTED: "suspend",
    DELAY_FINISHED: "resume", INVOICED: "complete", PAID: "complete",
    WRITTEN_OFF: "complete", RENEWED: "complete", CHURNED: "complete",
}

# LOG_EPOCH (salessim.clock), the date of simulation time 0, is also read from here, where
# the logs that carry it are written.

# A record's code packs (lead << 32) | (event << 24) | (stage << 12) | resource, so one
# integer and one float hold an event. Stage and resource 0 mean "none".
_LEAD_SHIFT, _EVENT_SHIFT, _STAGE_SHIFT = 32, 24, 12
_FIELD_MASK = 0xFFF
#: At most this many stages and resource labels can be told apart in a log.
MAX_NAMES = _FIELD_MASK


class Event(NamedTuple):
    """One event of the log, with its names resolved (see :meth:`EventLog.records`)."""

    lead: str
    event: str
    stage: str | None
    time: float
    resource: str | None


@dataclass(slots=True)
class StageTally:
    """Running totals of one stage over the leads that count (created after warm-up)."""

    entered: int = 0  # visits that entered the stage (loops count again)
    moved_on: int = 0  # visits that left for a stage or won
    lost: int = 0  # visits that left for lost (went cold included) or a non-progress stage
    went_cold: int = 0
    skipped: int = 0  # deals that skipped the stage (only_if)
    served: int = 0  # visits that got their staff (counted when the work starts)
    wait: float = 0.0  # time queued for staff, served visits
    work: float = 0.0  # staff working time of those visits
    work_clock: float = 0.0  # clock time from start of work to its end (nights included)
    delayed: int = 0
    delay: float = 0.0  # customer-side time
    meetings: int = 0  # meetings held in the window (meeting stages)
    meeting_deals: int = 0  # deals handled at those meetings
    timed_out: int = 0  # visits that left by the stage's time-out


@dataclass(slots=True)
class Tally:
    """Running totals of one replication."""

    stages: dict[str, StageTally]
    busy: dict[str, float]  # staff working time inside the measurement window, per role
    leads: int = 0
    won: int = 0
    lost: int = 0
    went_cold: int = 0
    revenue: float = 0.0
    lead_cost: float = 0.0
    closed_time: float = 0.0  # sum of creation-to-end times of closed leads
    open_created: float = 0.0  # sum of creation times of cohort leads still open
    cycle_won: QuantileSketch = field(default_factory=QuantileSketch)  # creation to won
    wip_area: float = 0.0  # integral of open leads over the window
    wip_series: array[float] = field(default_factory=lambda: array("d"))  # open leads, on a grid
    leads_by_source: dict[str, int] = field(default_factory=dict)
    won_by_source: dict[str, int] = field(default_factory=dict)
    revenue_by_source: dict[str, float] = field(default_factory=dict)
    lead_cost_by_source: dict[str, float] = field(default_factory=dict)
    work_cost_by_source: dict[str, float] = field(default_factory=dict)  # staff cost of work done
    no_decision: int = 0
    response: QuantileSketch = field(default_factory=QuantileSketch)  # creation to 1st contact
    contacted_within: int = 0  # first contacts within the scenario's response_target
    won_handoffs: int = 0  # hand-offs of won deals
    won_recycled: int = 0  # won after coming back from a nurture track
    handoff_time: float = 0.0
    member_busy: dict[str, list[float]] = field(default_factory=dict)  # owner roles, per member
    period_won: dict[int, int] = field(default_factory=dict)  # deals won per period (all leads)
    period_cycle: dict[int, float] = field(default_factory=dict)
    # After the sale (collection and renewal), over the window.
    invoiced: float = 0.0
    cash_collected: float = 0.0
    bad_debt: float = 0.0
    receivables: dict[str, float] = field(default_factory=dict)  # aging bucket -> open amount
    renewal_decisions: int = 0
    renewals: int = 0
    renewal_base: float = 0.0  # contract value up for renewal
    renewal_value: float = 0.0  # value renewed, upsell included


class EventLog:
    """The events of one replication as typed columns, and the leads they belong to.

    The engine appends with :meth:`add` (a packed code from :meth:`code` and a time); names
    are resolved only in :meth:`plain_frame` / :meth:`to_frame`. Columns of a frame:
    ``replication``, ``lead`` (``<source>-<n>``), ``event`` (see :data:`EVENTS`),
    ``stage``, ``time`` (in the scenario's time unit), ``resource`` (roles held, joined by
    ``+``; for a hand-off ``from>to``); ``stage`` and ``resource`` are null when the event
    has none.

    Args:
        replication: the replication number.
        time_unit: the scenario's time unit (for timestamps).
        stages: stage ids, whose positions (from 1) are their codes.
        sources: source ids, likewise.
    """

    COLUMNS = ("lead", "event", "stage", "time", "resource")

    def __init__(self, replication: int = 0, time_unit: str = "day",
                 stages: tuple[str, ...] = (), sources: tuple[str, ...] = ()) -> None:
        if len(stages) >= MAX_NAMES:
            raise ValueError(f"an event log tells apart at most {MAX_NAMES - 1} stages")
        self.replication = replication
        self.time_unit = time_unit
        # The date of time 0 in the exported timestamps: a warm-started run's is its as-of date.
        self.epoch = LOG_EPOCH
        self.stages = ("", *stages)
        self.sources = tuple(sources)
        self.resources: list[str] = [""]
        self._resource_codes: dict[str, int] = {"": 0}
        self._stage_codes = {sid: i for i, sid in enumerate(self.stages)}
        self.codes = array("q")
        self.times = array("d")
        # Per lead, by its index: source, number within the source, value, score, whether
        # it is in the counted cohort, and its end (0 while open).
        self.lead_source = array("h")
        self.lead_number = array("q")
        self.lead_value = array("d")
        self.lead_score = array("d")
        self.lead_counted = array("b")
        self.lead_end = array("b")
        # Lead names as an array, once a table is built.
        self._names: npt.NDArray[np.object_] | None = None
        # Ids of the deals open at time 0 (a warm start): lead number -(i + 1) is open_ids[i].
        self.open_ids: list[str] = []

    def __len__(self) -> int:
        return len(self.times)

    def code(self, event: str, stage: str | None = None, resource: str = "") -> int:
        """The packed event code of (event, stage, resource), lead left out."""
        res = self._resource_codes.get(resource)
        if res is None:
            if len(self.resources) >= MAX_NAMES:
                raise ValueError(f"an event log tells apart at most {MAX_NAMES - 1} resources")
            res = self._resource_codes[resource] = len(self.resources)
            self.resources.append(resource)
        stage_code = self._stage_codes[stage] if stage else 0
        return (CODE[event] << _EVENT_SHIFT) | (stage_code << _STAGE_SHIFT) | res

    def new_lead(self, source: int, number: int, value: float, score: float,
                 counted: bool) -> int:
        """Register a lead; returns its index, to be shifted into its events' codes."""
        self.lead_source.append(source)
        self.lead_number.append(number)
        self.lead_value.append(value)
        self.lead_score.append(score)
        self.lead_counted.append(counted)
        self.lead_end.append(0)
        return (len(self.lead_source) - 1) << _LEAD_SHIFT

    def add(self, code: int, time: float) -> None:
        """Append one event (``code`` already holds the lead)."""
        self.codes.append(code)
        self.times.append(time)

    # --- reading --------------------------------------------------------------------------

    def lead_names(self) -> list[str]:
        """``<source>-<n>`` of every lead, by index; a deal open at time 0 by its own id."""
        sources, opened = self.sources, self.open_ids
        return [f"{sources[s]}-{n}" if n > 0 else opened[-n - 1]
                for s, n in zip(self.lead_source, self.lead_number, strict=True)]

    def lead_times(self, event: str) -> npt.NDArray[np.float64]:
        """Per lead, by index, the time of its ``event`` (the last if several; NaN if none)."""
        import numpy as np

        codes = np.frombuffer(self.codes, dtype=np.int64)
        here = ((codes >> _EVENT_SHIFT) & 0xFF) == CODE[event]
        out = np.full(len(self.lead_source), np.nan)
        out[codes[here] >> _LEAD_SHIFT] = np.frombuffer(self.times, dtype=np.float64)[here]
        return out

    def _name_array(self) -> npt.NDArray[np.object_]:
        """The lead names as an object array, built once per size of the lead table."""
        import numpy as np

        cached = self._names
        if cached is None or len(cached) != max(len(self.lead_source), 1):
            cached = self._names = np.array(self.lead_names() or [""], dtype=object)
        return cached

    def records(self) -> list[Event]:
        """Every event as an :class:`Event`, in the order they were logged."""
        names = self.lead_names()
        stages = [s or None for s in self.stages]
        resources = [r or None for r in self.resources]
        return [
            Event(names[c >> _LEAD_SHIFT], EVENTS[(c >> _EVENT_SHIFT) & 0xFF],
                  stages[(c >> _STAGE_SHIFT) & _FIELD_MASK], t, resources[c & _FIELD_MASK])
            for c, t in zip(self.codes, self.times, strict=True)
        ]

    def plain_frame(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Rows ``start:stop`` with the plain columns (replication first)."""
        import numpy as np
        import pandas as pd

        codes = np.frombuffer(self.codes, dtype=np.int64)[start:stop]
        times = np.frombuffer(self.times, dtype=np.float64)[start:stop]
        names = self._name_array()
        stages = np.array([s or None for s in self.stages], dtype=object)
        resources = np.array([r or None for r in self.resources], dtype=object)
        return pd.DataFrame({
            "replication": np.full(len(codes), self.replication, dtype=np.int64),
            "lead": names[codes >> _LEAD_SHIFT],
            "event": np.array(EVENTS, dtype=object)[(codes >> _EVENT_SHIFT) & 0xFF],
            "stage": stages[(codes >> _STAGE_SHIFT) & _FIELD_MASK],
            "time": times,
            "resource": resources[codes & _FIELD_MASK],
        })

    def to_frame(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """The log as a DataFrame, with the process-mining columns added.

        ``case:concept:name`` is ``<replication>/<lead>``, unique across replications so a
        log of several never merges two leads into one trace; ``concept:name`` the stage
        (or the event for created / won / lost and the like), ``time:timestamp`` a datetime
        counted from :attr:`epoch` (:data:`LOG_EPOCH` unless the run started at an as-of
        date), ``org:resource`` the roles and
        ``lifecycle:transition`` the XES transition of the event.
        """
        return add_process_mining_columns(self.plain_frame(start, stop), self.time_unit,
                                          self.epoch)

    def cases(self) -> pd.DataFrame:
        """One row per lead: its case id, source, deal value, score, cohort and end."""
        import numpy as np
        import pandas as pd

        ends = np.array(["open", *(e.name for e in ENDS)], dtype=object)
        names = self.lead_names()
        return pd.DataFrame({
            "case:concept:name": [f"{self.replication}/{n}" for n in names],
            "replication": self.replication,
            "lead": names,
            "source": [self.sources[s] for s in self.lead_source],
            "deal_value": np.frombuffer(self.lead_value, dtype=np.float64),
            "score": np.frombuffer(self.lead_score, dtype=np.float64),
            "counted": np.frombuffer(self.lead_counted, dtype=np.int8).astype(bool),
            "end": ends[np.frombuffer(self.lead_end, dtype=np.int8)],
        })

    def set_end(self, lead: int, end_code: int) -> None:
        """Record how the lead (its shifted index) ended: an :class:`~salessim.ends.End` code."""
        self.lead_end[lead >> _LEAD_SHIFT] = -end_code


def add_process_mining_columns(frame: pd.DataFrame, time_unit: str,
                               epoch: datetime = LOG_EPOCH) -> pd.DataFrame:
    """The process-mining columns, computed from a plain frame (in place; returned);
    timestamps count from ``epoch``, the date of simulated time 0."""
    import pandas as pd

    from salessim.scenario.units import UNIT_HOURS

    hours = frame["time"] * UNIT_HOURS[time_unit]
    frame["case:concept:name"] = frame["replication"].astype(str) + "/" + frame["lead"]
    frame["concept:name"] = frame["stage"].where(frame["stage"].notna(), frame["event"])
    frame["time:timestamp"] = pd.Timestamp(epoch) + pd.to_timedelta(hours, unit="h")
    frame["org:resource"] = frame["resource"]
    frame["lifecycle:transition"] = frame["event"].map(LIFECYCLE)
    return frame


def concat_logs(logs: list[EventLog]) -> pd.DataFrame:
    """The logs of several replications as one DataFrame."""
    import pandas as pd

    frames = [log.to_frame() for log in logs]
    return pd.concat(frames, ignore_index=True) if frames else EventLog().to_frame()


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as CSV or Parquet (by the file's suffix), whole or not at all."""
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
