"""What one replication records: running totals always, the event log on request.

The running totals (:class:`Tally`) are what KPIs are computed from; they take the same
memory whatever the number of leads (the cycle times of won deals aside, which quantiles
need). The event log (:class:`EventLog`) keeps one flat record per event and exports to
pandas, CSV and Parquet with the column names process-mining tools expect.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from salessim.output import atomic_path
from salessim.scenario.units import UNIT_HOURS

if TYPE_CHECKING:
    import pandas as pd

#: Events of a lead's life, in the ``event`` column of the log.
CREATED, QUEUED, STARTED, FINISHED, WENT_COLD, SKIPPED, WON, LOST, NO_DECISION = (
    "created", "queued", "started", "finished", "went_cold", "skipped", "won", "lost",
    "no_decision",
)
HANDOFF = "handoff"
DELAY_STARTED, DELAY_FINISHED = "delay_started", "delay_finished"  # customer-side time
INVOICED, PAID, WRITTEN_OFF, RENEWED, CHURNED = (
    "invoiced", "paid", "written_off", "renewed", "churned",
)

#: XES lifecycle transition of each event (process-mining standard vocabulary).
LIFECYCLE = {
    CREATED: "complete", QUEUED: "schedule", STARTED: "start", FINISHED: "complete",
    WENT_COLD: "withdraw", SKIPPED: "complete", WON: "complete", LOST: "complete",
    NO_DECISION: "complete", HANDOFF: "complete", DELAY_STARTED: "suspend",
    DELAY_FINISHED: "resume", INVOICED: "complete", PAID: "complete",
    WRITTEN_OFF: "complete", RENEWED: "complete", CHURNED: "complete",
}

#: Calendar date of simulation time 0 in exported logs (a Monday, as the calendar assumes).
LOG_EPOCH = datetime(2026, 1, 5)


@dataclass
class StageTally:
    """Running totals of one stage over the leads that count (created after warm-up)."""

    entered: int = 0  # visits that entered the stage (loops count again)
    moved_on: int = 0  # visits that left for a stage or won
    lost: int = 0  # visits that left for lost (went cold included)
    went_cold: int = 0
    skipped: int = 0  # deals that skipped the stage (only_if)
    served: int = 0  # visits that got their staff (counted when the work starts)
    wait: float = 0.0  # time queued for staff, served visits
    work: float = 0.0  # staff working time of those visits
    work_clock: float = 0.0  # clock time from start of work to its end (nights included)
    delayed: int = 0
    delay: float = 0.0  # customer-side time


@dataclass
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
    won_times: array = field(default_factory=lambda: array("d"))
    wip_area: float = 0.0  # integral of open leads over the window
    wip_series: array = field(default_factory=lambda: array("d"))  # open leads on a time grid
    leads_by_source: dict[str, int] = field(default_factory=dict)
    won_by_source: dict[str, int] = field(default_factory=dict)
    revenue_by_source: dict[str, float] = field(default_factory=dict)
    lead_cost_by_source: dict[str, float] = field(default_factory=dict)
    work_cost_by_source: dict[str, float] = field(default_factory=dict)  # staff cost of work done
    no_decision: int = 0
    response_times: array = field(default_factory=lambda: array("d"))  # creation to first contact
    won_handoffs: int = 0  # hand-offs of won deals
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
    """One flat record per event of one replication.

    Columns: ``replication``, ``lead`` (``<source>-<n>``), ``event`` (created, queued,
    started, finished, delay_started and delay_finished around customer-side time,
    went_cold, skipped, handoff, won, lost, no_decision, and after the
    sale invoiced, paid, written_off, renewed, churned), ``stage``, ``time`` (in the
    scenario's time unit), ``resource`` (roles held, joined by ``+``; for a hand-off
    ``from>to``).
    """

    COLUMNS = ("lead", "event", "stage", "time", "resource")

    def __init__(self, replication: int = 0, time_unit: str = "day") -> None:
        self.replication = replication
        self.time_unit = time_unit
        self.rows: list[tuple[str, str, str, float, str]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame, with the process-mining columns added.

        ``case:concept:name`` is the lead, ``concept:name`` the stage (or the event for
        created / won / lost), ``time:timestamp`` a datetime counted from
        :data:`LOG_EPOCH`, ``org:resource`` the roles and ``lifecycle:transition`` the
        XES transition of the event.
        """
        import pandas as pd

        frame = pd.DataFrame(self.rows, columns=list(self.COLUMNS))
        frame.insert(0, "replication", self.replication)
        hours = frame["time"] * UNIT_HOURS[self.time_unit]
        frame["case:concept:name"] = frame["lead"]
        frame["concept:name"] = frame["stage"].where(frame["stage"] != "", frame["event"])
        frame["time:timestamp"] = pd.Timestamp(LOG_EPOCH) + pd.to_timedelta(hours, unit="h")
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
