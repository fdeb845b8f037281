"""Diagnosing one scenario: the funnel, the bottlenecks, the warm-up and the replications.

- :func:`funnel`: per stage, leads entering, moving on, lost and gone cold, the conversion
  with its confidence interval, and the gap to the stage's ``target`` conversion (the
  handbook's target-versus-actual table).
- :func:`bottlenecks`: where the time goes (waiting for staff, staff working, waiting on
  the customer) stage by stage, staff utilisation per role, the stage that contributes the
  most queueing time and the role closest to saturation.
- :func:`estimate_warmup` and :func:`run_to_precision`: the warm-up to drop and the
  replications to run (defined in :mod:`salessim.runlength`, importable from here).
- :func:`transitions`: counts of moves between stages (loops and losses included) from event
  logs, for the flow view.

Every interval treats one replication as one observation (see :mod:`salessim.stats`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salessim import engine, stats
from salessim.ends import ENDS
from salessim.engine import Replication, RunResult
from salessim.kpis import PRECISION_KPIS, WARMUP_SERIES, verdict
from salessim.records import CREATED, ENTERED, WENT_COLD
from salessim.runlength import (
    WELCH_WINDOW,
    PrecisionReport,
    WarmupEstimate,
    estimate_warmup,
    parse_precision,
    precision_table,
    run_to_precision,
    series_matrix,
)
from salessim.scenario import Scenario

# The warm-up and precision names are imported from here by the commands and by users.
__all__ = ["END_NODES", "FUNNEL_COLUMNS", "NEGLIGIBLE_QUEUE", "NEW", "OPEN", "PRECISION_KPIS",
           "WARMUP_SERIES", "WELCH_WINDOW", "WENT_COLD_NODE",
           "Bottlenecks", "PrecisionReport", "WarmupEstimate", "bottlenecks", "estimate_warmup",
           "flow_logs", "funnel", "log_rows", "parse_precision", "precision_table",
           "run_to_precision", "series_matrix", "transitions"]

#: A stage whose waits for staff are under this share of all time in process is no bottleneck.
NEGLIGIBLE_QUEUE = 0.01

NEW, WENT_COLD_NODE, OPEN = "new lead", "went cold", "open"
#: End events of a journey and the flow node each leads to (every end, so the flow view also
#: reads logs of models that never use one of them).
END_NODES = {e.name: e.label for e in ENDS}

FUNNEL_COLUMNS = [
    "stage", "entered", "moved_on", "lost", "went_cold", "skipped", "conversion",
    "conversion_ci_low", "conversion_ci_high", "target", "gap", "target_status",
]


# --- funnel --------------------------------------------------------------------------------


def funnel(result: RunResult, level: float = 0.95) -> pd.DataFrame:
    """The funnel of one scenario, one row per stage in the order the scenario lists them.

    Counts are means per replication over the cohort (leads created after the warm-up);
    loops count a visit again. ``conversion`` is the KPI ``conversion.<stage>`` (visits that
    leave forward / visits that leave) with its t interval across replications. Where the
    stage states a ``target`` conversion, ``gap`` is conversion - target and
    ``target_status`` says whether the whole interval reaches the target (met), misses it
    (missed) or straddles it (unsure).
    """
    reps = result.replications
    rows = []
    for sid, stage in result.scenario.stages.items():
        tallies = [r.tally.stages[sid] for r in reps]
        conv = stats.t_interval([r.kpis[f"conversion.{sid}"] for r in reps], level)
        target = stage.target
        gap, status = math.nan, ""
        if target is not None:
            gap = conv.mean - target
            status = _status(conv, target)
        rows.append([
            sid,
            _mean(t.entered for t in tallies),
            _mean(t.moved_on for t in tallies),
            _mean(t.lost for t in tallies),
            _mean(t.went_cold for t in tallies),
            _mean(t.skipped for t in tallies),
            conv.mean, conv.ci_low, conv.ci_high,
            math.nan if target is None else float(target), gap, status,
        ])
    frame = pd.DataFrame(rows, columns=FUNNEL_COLUMNS)
    if any(stage.timeout is not None for stage in result.scenario.stages.values()):
        # Visits that left by a time-out (among those lost or moved on), only when a
        # stage has one.
        frame["timed_out"] = [_mean(r.tally.stages[sid].timed_out for r in reps)
                              for sid in result.scenario.stages]
    return frame


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else math.nan


def _status(est: stats.Estimate, target: float) -> str:
    return verdict(est.ci_low, est.ci_high, ">=", target)


# --- bottlenecks ---------------------------------------------------------------------------


@dataclass
class Bottlenecks:
    """Where the time goes and who is busiest.

    Attributes:
        stages: per stage, ``visits`` (mean per replication), the mean ``wait`` (queued for
            staff), ``work`` (clock time from start to end of staff work, nights included)
            and ``delay`` (customer side) per visit, and the share of all time in process
            each accounts for (``wait_share``, ``work_share``, ``delay_share``, summing to 1
            over all stages), with an interval on ``wait_share``.
        roles: per role, headcount and utilisation with its interval.
        queue_stage: the stage that contributes the most queueing time (None if no queue).
        busiest_role: the role with the highest mean utilisation (None without roles).
        time_unit: the scenario's time unit.
        level: the confidence level of the intervals.
    """

    stages: pd.DataFrame
    roles: pd.DataFrame
    queue_stage: str | None
    busiest_role: str | None
    time_unit: str = "day"
    level: float = 0.95

    def summary(self) -> str:
        """Two sentences naming the main queue and the busiest role."""
        parts = []
        if self.queue_stage is not None:
            row = self.stages.set_index("stage").loc[self.queue_stage]
            where = (f"{self.queue_stage} ({row['wait_share']:.1%} of all time in process, "
                     f"{row['wait']:.3g} {self.time_unit}s per visit)")
            if row["wait_share"] < NEGLIGIBLE_QUEUE:
                parts.append(f"Queues for staff are negligible; the longest is at {where}.")
            else:
                parts.append(f"Most queueing time: {where}.")
        else:
            parts.append("No lead waited for staff.")
        if self.busiest_role is not None:
            row = self.roles.set_index("role").loc[self.busiest_role]
            # One replication has no interval: none is shown rather than [nan%, nan%].
            ci = ("" if math.isnan(row["ci_low"]) else f", {100 * self.level:g}% CI "
                  f"[{row['ci_low']:.1%}, {row['ci_high']:.1%}]")
            parts.append(f"Closest to saturation: {self.busiest_role} (utilisation "
                         f"{row['utilisation']:.1%}{ci}).")
        return " ".join(parts)


def bottlenecks(result: RunResult, level: float = 0.95) -> Bottlenecks:
    """The bottleneck report of one scenario (see :class:`Bottlenecks`).

    Shares are computed per replication (time of one kind at one stage over all time leads
    spent in stages) and averaged; the waiting of leads that went cold is not in the totals,
    as the engine records waits of served visits only.
    """
    scenario = result.scenario
    sids = list(scenario.stages)
    reps = result.replications
    wait = np.array([[r.tally.stages[s].wait for s in sids] for r in reps], dtype=float)
    work = np.array([[r.tally.stages[s].work_clock for s in sids] for r in reps], dtype=float)
    delay = np.array([[r.tally.stages[s].delay for s in sids] for r in reps], dtype=float)
    visits = np.array([[r.tally.stages[s].entered for s in sids] for r in reps], dtype=float)
    total = (wait + work + delay).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = [np.where(total > 0, part / total, np.nan) for part in (wait, work, delay)]
        n_visits = visits.sum(axis=0)
        per_visit = [np.where(n_visits > 0, part.sum(axis=0) / n_visits, np.nan)
                     for part in (wait, work, delay)]
    rows = []
    for j, sid in enumerate(sids):
        wait_share = stats.t_interval(shares[0][:, j], level)
        rows.append([
            sid, float(visits[:, j].mean()), per_visit[0][j], per_visit[1][j], per_visit[2][j],
            wait_share.mean, wait_share.ci_low, wait_share.ci_high,
            float(np.nanmean(shares[1][:, j])) if np.isfinite(shares[1][:, j]).any() else math.nan,
            float(np.nanmean(shares[2][:, j])) if np.isfinite(shares[2][:, j]).any() else math.nan,
        ])
    stage_frame = pd.DataFrame(rows, columns=[
        "stage", "visits", "wait", "work", "delay", "wait_share", "wait_share_ci_low",
        "wait_share_ci_high", "work_share", "delay_share"])
    role_rows = []
    for rid, role in scenario.roles.items():
        est = stats.t_interval([r.kpis[f"utilisation.{rid}"] for r in reps], level)
        role_rows.append([rid, role.headcount, est.mean, est.ci_low, est.ci_high])
    role_frame = pd.DataFrame(role_rows, columns=["role", "headcount", "utilisation", "ci_low",
                                                  "ci_high"])
    queue_totals = wait.sum(axis=0)
    queue_stage = sids[int(np.argmax(queue_totals))] if queue_totals.max(initial=0) > 0 else None
    busiest = None
    if len(role_frame) and role_frame["utilisation"].notna().any():
        busiest = str(role_frame.loc[role_frame["utilisation"].idxmax(), "role"])
    return Bottlenecks(stage_frame, role_frame, queue_stage, busiest, scenario.time_unit, level)


# --- flows between stages ------------------------------------------------------------------


def transitions(log: pd.DataFrame, warmup: float = 0.0) -> pd.DataFrame:
    """Moves between stages, per replication on average, from event logs.

    Each lead created at or after ``warmup`` is followed from ``new lead`` through the
    stages it entered (staffed or not; a stage it skipped is passed over) to ``won``,
    ``lost``, ``went cold``, ``no decision`` or, if still in the process at the horizon,
    ``open``. A loop back (negotiation to discovery) is a move like any other, so rework
    shows up; a stage routing straight back to itself is not shown as a move. A lead's
    events before its creation, and after the first event that ends its journey (a
    ``lost`` after ``went cold``), are not counted.

    Args:
        log: event log rows with at least replication, lead, event, stage, time (as
            :meth:`salessim.engine.RunResult.event_log` returns), each lead's rows in the
            order they happened.
        warmup: leads created before this are left out, as in the KPIs.

    Returns:
        Columns source, target, count (mean per replication), sorted by count, largest
        first, moves of equal count in the order they first happened (moves to ``open``
        last); ``attrs["replications"]`` holds the number of replications counted.
    """
    n_reps = log["replication"].nunique() if len(log) else 0
    moves = _moves(log, warmup)
    counted = moves.groupby(["source", "target"], sort=False).size()
    frame = pd.DataFrame({"source": counted.index.get_level_values(0).astype(object),
                          "target": counted.index.get_level_values(1).astype(object),
                          "count": counted.to_numpy() / max(n_reps, 1)})
    frame = frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["replications"] = n_reps
    return frame


def _moves(log: pd.DataFrame, warmup: float) -> pd.DataFrame:
    """Every counted move (source, target) in the order it happened, then the moves to
    ``open`` in the order the open leads were created. Whole columns at a time: an event
    log has millions of rows."""
    ends = {WENT_COLD: WENT_COLD_NODE, **END_NODES}
    event = log["event"]
    created, entered = (event == CREATED).to_numpy(), (event == ENTERED).to_numpy()
    ending = event.isin(list(ends)).to_numpy()
    rows = np.flatnonzero(created | entered | ending)
    if not len(rows):
        return pd.DataFrame({"source": [], "target": []}, dtype=object)
    lead = log.iloc[rows].groupby(["replication", "lead"], sort=False).ngroup().to_numpy()
    order = np.argsort(lead, kind="stable")  # each lead's rows together, in their order
    rows, lead = rows[order], lead[order]
    created, ending = created[rows], ending[rows]
    node = np.where(entered[rows], log["stage"].to_numpy(dtype=object)[rows],
                    event.map(ends).to_numpy(dtype=object)[rows])
    node[created] = NEW
    started = created & (log["time"].to_numpy(dtype=float)[rows] >= warmup)
    # A lead is followed from its creation (after the warm-up) up to its first end.
    followed = _running_sum(started, lead) > 0
    keep = followed & (_running_sum(ending & followed, lead) - (ending & followed) == 0)
    # A stage routing straight back to itself is no move: the lead stays where it is.
    # (A row dropped as a repeat equals the row before it, so the next is compared right.)
    kept = np.flatnonzero(keep)
    same = np.r_[False, lead[kept[1:]] == lead[kept[:-1]]]
    repeat = (same & ~ending[kept] & ~created[kept]
              & np.r_[False, node[kept[1:]] == node[kept[:-1]]])
    kept = kept[~repeat]
    rows, lead, node, created, ending = (a[kept] for a in (rows, lead, node, created, ending))
    same = np.r_[False, lead[1:] == lead[:-1]]
    move = np.flatnonzero(same & ~created)
    still_open = np.r_[~same[1:], True] & ~ending  # a lead's last row, not an end
    creation = rows[np.flatnonzero(~same)][np.cumsum(~same) - 1]  # each row's lead's creation
    moved = pd.DataFrame({"source": node[move - 1], "target": node[move], "at": rows[move]})
    opened = pd.DataFrame({"source": node[still_open], "target": OPEN,
                           "at": creation[still_open]})
    return pd.concat([moved.sort_values("at", kind="stable"),
                      opened.sort_values("at", kind="stable")], ignore_index=True)


def _running_sum(flags: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The running count of ``flags`` within each run of equal ``group`` values."""
    total = np.cumsum(flags, dtype=np.int64)
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    before = (total - flags)[start]  # the count before each group's first row
    return total - np.repeat(before, np.diff(np.r_[start, len(group)]))


def log_rows(replications: Sequence[Replication]) -> pd.DataFrame:
    """The event-log rows of replications run with a log, for :func:`transitions`.

    Only the plain columns (replication, lead, event, stage, time, resource) are built,
    without the process-mining ones, to keep this cheap. Replications without a log are
    skipped.
    """
    frames = []
    for rep in replications:
        if rep.log is None:
            continue
        frames.append(rep.log.plain_frame())
    if not frames:
        return pd.DataFrame(columns=["replication", "lead", "event", "stage", "time", "resource"])
    return pd.concat(frames, ignore_index=True)


def flow_logs(scenario: Scenario, replications: int = 1, seed: int | None = None,
              mapper: Callable = map) -> pd.DataFrame:
    """Event-log rows of the first replications of a scenario (see :func:`log_rows`).

    These are the same replications as in any run of this seed: the streams depend only on
    the seed and the replication number.
    """
    result = engine.run(scenario, replications, seed, event_log=True, mapper=mapper)
    return log_rows(result.replications)
