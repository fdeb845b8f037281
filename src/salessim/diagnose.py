"""Diagnosing one scenario: the funnel, the bottlenecks, the warm-up and the replications.

- :func:`funnel`: per stage, leads entering, moving on, lost and gone cold, the conversion
  with its confidence interval, and the gap to the stage's ``target`` conversion (the
  handbook's target-versus-actual table).
- :func:`bottlenecks`: where the time goes (waiting for staff, staff working, waiting on
  the customer) stage by stage, staff utilisation per role, the stage that contributes the
  most queueing time and the role closest to saturation.
- :func:`estimate_warmup`: MSER-5 on the across-replication mean of a time series (open
  leads by default), with the Welch moving average for the plot.
- :func:`run_to_precision`: add replications until the chosen KPIs are known to a relative
  precision, with a cap.
- :func:`transitions`: counts of moves between stages (loops and losses included) from event
  logs, for the flow view.

Every interval treats one replication as one observation (see :mod:`salessim.stats`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salessim import engine, stats
from salessim.engine import WIP_SAMPLES, Replication, RunResult
from salessim.errors import UsageError
from salessim.kpis import PRECISION_KPIS, WARMUP_SERIES, verdict
from salessim.records import CREATED, ENTERED, LOST, QUEUED, STARTED, WENT_COLD, WON
from salessim.scenario import Scenario

# WARMUP_SERIES (the series estimate_warmup can use; all but wip need event logs) and
# PRECISION_KPIS (what --precision checks when no KPI is named) are declared in
# salessim.kpis, which the command line reads without importing the statistics.
#: A stage whose waits for staff are under this share of all time in process is no bottleneck.
NEGLIGIBLE_QUEUE = 0.01
#: Half-width of the Welch moving-average window, in samples (of 100 over the horizon).
WELCH_WINDOW = 5

NEW, WENT_COLD_NODE, OPEN = "new lead", "went cold", "open"
#: End events of a journey and the flow node each leads to. ``no_decision`` (the buyer never
#: decides) is named by its value so the flow view also reads logs of models without it.
END_NODES = {WON: "won", LOST: "lost", "no_decision": "no decision"}

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
    return pd.DataFrame(rows, columns=FUNNEL_COLUMNS)


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
    """

    stages: pd.DataFrame
    roles: pd.DataFrame
    queue_stage: str | None
    busiest_role: str | None
    time_unit: str = "day"

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
            parts.append(
                f"Closest to saturation: {self.busiest_role} (utilisation "
                f"{row['utilisation']:.1%}, 95% CI [{row['ci_low']:.1%}, {row['ci_high']:.1%}]).")
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
    return Bottlenecks(stage_frame, role_frame, queue_stage, busiest, scenario.time_unit)


# --- warm-up -------------------------------------------------------------------------------


@dataclass
class WarmupEstimate:
    """An MSER-5 warm-up estimate on the across-replication mean of a time series.

    Attributes:
        series: which series (a key of :data:`WARMUP_SERIES`).
        times: the sample times (0, h/100, 2h/100, ... for horizon h).
        values: replications x samples matrix of the series.
        mean: the across-replication mean at each time (what MSER-5 is applied to).
        deleted: samples MSER-5 deletes.
        warmup: the warm-up time, ``times[deleted]`` (0 when nothing is deleted).
        welch: Welch's moving average of ``mean`` with window :data:`WELCH_WINDOW`.
        window: the Welch window half-width.
    """

    series: str
    times: np.ndarray
    values: np.ndarray
    mean: np.ndarray
    deleted: int
    warmup: float
    welch: np.ndarray
    window: int = WELCH_WINDOW


def series_matrix(result: RunResult, series: str = "wip") -> tuple[np.ndarray, np.ndarray]:
    """Sample times and a replications x samples matrix of a time series of the run.

    ``wip`` comes from the running totals (open leads, every lead counted whatever the
    warm-up, so the series does not depend on it); ``queue`` (leads waiting for staff at
    each sample time) and ``won`` (deals won per time unit in each sampling interval) come
    from the event logs, which also record every lead.

    Raises:
        UsageError: an unknown series, or a log-based series without event logs.
    """
    if series not in WARMUP_SERIES:
        raise UsageError(f"series must be one of {', '.join(WARMUP_SERIES)}, got {series!r}")
    horizon = float(result.scenario.horizon)
    times = np.arange(WIP_SAMPLES) * (horizon / WIP_SAMPLES)
    reps = result.replications
    if series == "wip":
        values = np.array([np.frombuffer(r.tally.wip_series, dtype=float) for r in reps])
        return times, values
    if any(r.log is None for r in reps):
        raise UsageError(f"the {series!r} series needs event logs: run with event_log=True")
    rows = []
    for r in reps:
        log = r.log.plain_frame()
        if series == "queue":
            ins = np.sort(log.loc[log["event"] == QUEUED, "time"].to_numpy())
            outs = np.sort(log.loc[log["event"].isin([STARTED, WENT_COLD]), "time"].to_numpy())
            # Events at the sample time itself count as done on both sides, so a visit that
            # queues and starts at once never counts as waiting.
            rows.append(np.searchsorted(ins, times, side="right")
                        - np.searchsorted(outs, times, side="right"))
        else:
            won = log.loc[log["event"] == WON, "time"].to_numpy()
            edges = np.append(times, horizon)
            rows.append(np.histogram(won, bins=edges)[0] / np.diff(edges))
    return times, np.array(rows, dtype=float)


def estimate_warmup(result: RunResult, series: str = "wip") -> WarmupEstimate:
    """MSER-5 warm-up of a run, on the across-replication mean of ``series``.

    The per-replication truncation points of MSER are unstable; the mean over replications
    smooths the noise while keeping the initial transient, which is what the rule looks for.
    """
    times, values = series_matrix(result, series)
    mean = values.mean(axis=0)
    deleted = stats.mser5(mean)
    window = min(WELCH_WINDOW, len(mean) - 1)
    welch = stats.welch_moving_average(mean, window)
    warmup = float(times[deleted]) if deleted < len(times) else float(times[-1])
    return WarmupEstimate(series, times, values, mean, deleted, warmup, welch, window)


# --- replications for a precision ----------------------------------------------------------


@dataclass
class PrecisionReport:
    """What :func:`run_to_precision` achieved.

    Attributes:
        rel_precision: the asked half-width as a share of the mean.
        replications: replications run in the end.
        capped: whether the cap stopped the run before every KPI was precise enough.
        kpis: per KPI, mean, half_width, relative half-width and whether it is reached.
    """

    rel_precision: float
    replications: int
    capped: bool
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> str:
        """One line for the terminal."""
        worst = self.kpis["rel_half_width"].max() if len(self.kpis) else math.nan
        state = ("precision not reached: the cap stopped it" if self.capped
                 else "precision reached")
        return (f"{state}: {self.replications} replications; widest relative half-width "
                f"{worst:.1%} (asked {self.rel_precision:.1%}) over {', '.join(self.kpis['kpi'])}")


def precision_table(result: RunResult, kpis: Sequence[str], rel_precision: float,
                    level: float = 0.95) -> pd.DataFrame:
    """Mean, half-width and relative half-width of each KPI, and whether it is precise enough."""
    summary = result.summary(level).set_index("kpi")
    rows = []
    for kpi in kpis:
        mean, half = summary.loc[kpi, "mean"], summary.loc[kpi, "half_width"]
        rel = abs(half / mean) if mean else math.inf
        rows.append((kpi, mean, half, rel, bool(rel <= rel_precision)))
    return pd.DataFrame(rows, columns=["kpi", "mean", "half_width", "rel_half_width", "reached"])


def run_to_precision(
    scenario: Scenario,
    rel_precision: float,
    kpis: Sequence[str] = PRECISION_KPIS,
    replications: int | None = None,
    max_replications: int = 100,
    seed: int | None = None,
    level: float = 0.95,
    mapper: Callable = map,
    progress: Callable[[Replication], None] | None = None,
    event_log: bool = False,
) -> tuple[RunResult, PrecisionReport]:
    """Add replications until every KPI's CI half-width is within ``rel_precision`` of its mean.

    The sequential rule: run a pilot, ask :func:`salessim.stats.replications_needed` how
    many replications each KPI needs, run the missing ones (replication numbers go on from
    the pilot's, so the result is the same as one run of that size), and check again; stop
    when all are precise enough or at ``max_replications``.

    Args:
        scenario: the scenario.
        rel_precision: asked half-width over |mean|, e.g. 0.05.
        kpis: KPI names to check.
        replications: pilot size (at least 2); default: the scenario's.
        max_replications: the cap.
        seed: root seed; default: the scenario's.
        level: confidence level.
        mapper: a ``map``-like function to run replications with.
        progress: called with each finished replication.
        event_log: keep event logs.

    Raises:
        UsageError: rel_precision not positive, a pilot under 2 or above the cap, or an
            unknown KPI.
    """
    if not rel_precision > 0:
        raise UsageError(f"rel_precision must be positive, got {rel_precision!r}")
    n = scenario.replications if replications is None else replications
    if not 2 <= n <= max_replications:
        raise UsageError(f"the pilot needs 2 to {max_replications} (the cap) replications, "
                         f"got {n}")
    root = scenario.seed if seed is None else seed
    result = engine.run(scenario, n, root, event_log=event_log, mapper=mapper, progress=progress)
    unknown = [k for k in kpis if k not in result.replications[0].kpis]
    if unknown:
        known = ", ".join(result.replications[0].kpis)
        raise UsageError(f"unknown KPI {unknown[0]!r}; KPIs: {known}")
    while True:
        wide = result.wide()
        needed = n
        for kpi in kpis:
            values = wide[kpi].to_numpy(dtype=float)
            est = stats.t_interval(values, level)
            if est.n < 2 or est.mean == 0 or math.isnan(est.half_width):
                continue  # no relative precision exists; reported as not reached
            needed = max(needed, stats.replications_needed(values, rel_precision, level))
        target = min(needed, max_replications)
        if target <= n:
            break
        engine.run(scenario, target, root, event_log, mapper, progress, into=result)
        n = target
    table = precision_table(result, kpis, rel_precision, level)
    capped = not bool(table["reached"].all()) and n >= max_replications
    return result, PrecisionReport(rel_precision, n, capped, table)


# --- flows between stages ------------------------------------------------------------------


def transitions(log: pd.DataFrame, warmup: float = 0.0) -> pd.DataFrame:
    """Moves between stages, per replication on average, from event logs.

    Each lead created at or after ``warmup`` is followed from ``new lead`` through the
    stages it entered (staffed or not; a stage it skipped is passed over) to ``won``,
    ``lost``, ``went cold``, ``no decision`` or, if still in the process at the horizon,
    ``open``. A loop back (negotiation to discovery) is a move like any other, so rework
    shows up; a stage routing straight back to itself is not shown as a move.

    Args:
        log: event log rows with at least replication, lead, event, stage, time (as
            :meth:`salessim.engine.RunResult.event_log` returns).
        warmup: leads created before this are left out, as in the KPIs.

    Returns:
        Columns source, target, count (mean per replication), sorted by count, largest first;
        ``attrs["replications"]`` holds the number of replications counted.
    """
    counts: dict[tuple[str, str], int] = {}
    n_reps = log["replication"].nunique() if len(log) else 0
    current: dict[tuple[int, str], str] = {}
    for rep, lead, event, stage, time in log[
            ["replication", "lead", "event", "stage", "time"]].itertuples(index=False):
        key = (rep, lead)
        if event == CREATED:
            if time >= warmup:
                current[key] = NEW
            continue
        here = current.get(key)
        if here is None:
            continue  # a lead of the warm-up, or one already closed
        if event == ENTERED:
            if stage == here:
                continue  # a stage routing straight back to itself: not shown as a move
            nxt = stage
        elif event == WENT_COLD:
            nxt = WENT_COLD_NODE
        elif event in END_NODES:
            nxt = END_NODES[event]
        else:
            continue
        counts[(here, nxt)] = counts.get((here, nxt), 0) + 1
        if event == ENTERED:
            current[key] = nxt
        else:
            del current[key]  # the journey ended; a "lost" after "went cold" is not counted
    for here in current.values():
        counts[(here, OPEN)] = counts.get((here, OPEN), 0) + 1
    rows = [(s, t, c / n_reps) for (s, t), c in counts.items()] if n_reps else []
    frame = pd.DataFrame(rows, columns=["source", "target", "count"])
    frame = frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["replications"] = n_reps
    return frame


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


def parse_precision(text: str) -> float:
    """A relative precision written ``5%`` or ``0.05``, as a share.

    Raises:
        UsageError: not a positive share below 1.
    """
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(
            f"a precision is a share of the mean like 5% or 0.05, got {text!r}") from None
    if not 0 < value < 1:
        raise UsageError(f"a precision must lie strictly between 0% and 100%, got {text!r}")
    return value
