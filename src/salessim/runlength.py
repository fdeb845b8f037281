"""How long and how often to run a scenario: the warm-up to drop, the replications to run.

- :func:`estimate_warmup`: MSER-5 on the across-replication mean of a time series (open
  leads by default), checked against the noise across replications
  (:func:`salessim.stats.checked_truncation`), with the Welch moving average for the plot.
- :func:`run_to_precision`: add replications until the chosen KPIs are known to a relative
  precision, with a cap.

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
from salessim.kpis import PRECISION_KPIS, WARMUP_SERIES
from salessim.records import QUEUED, STARTED, WENT_COLD, WON
from salessim.scenario import Scenario

#: The finest relative precision asked for: finer ones need more replications than the
#: limit of 100,000 for any KPI that varies at all (and their plan overflowed a float).
MIN_PRECISION = 1e-6

# WARMUP_SERIES (the series estimate_warmup can use; all but wip need event logs) and
# PRECISION_KPIS (what --precision checks when no KPI is named) are declared in
# salessim.kpis, which the command line reads without importing the statistics.
#: Half-width of the Welch moving-average window, in samples (of 100 over the horizon).
WELCH_WINDOW = 5


# --- warm-up -------------------------------------------------------------------------------


@dataclass
class WarmupEstimate:
    """An MSER-5 warm-up estimate on the across-replication mean of a time series.

    Attributes:
        series: which series (a key of :data:`WARMUP_SERIES`).
        times: the sample times (0, h/100, 2h/100, ... for horizon h).
        values: replications x samples matrix of the series.
        mean: the across-replication mean at each time (what MSER-5 is applied to).
        deleted: samples to delete: MSER-5's cut shortened to where the rest of the
            transient is noise (:func:`salessim.stats.checked_truncation`).
        warmup: the warm-up time, ``times[deleted]`` (0 when nothing is deleted).
        welch: Welch's moving average of ``mean`` with window :data:`WELCH_WINDOW`.
        window: the Welch window half-width.
        check: the checked truncation (MSER-5's own cut, the transient's size, whether the
            check could be made).
    """

    series: str
    times: np.ndarray
    values: np.ndarray
    mean: np.ndarray
    deleted: int
    warmup: float
    welch: np.ndarray
    window: int = WELCH_WINDOW
    check: stats.Truncation | None = None


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
    logs = [r.log for r in reps if r.log is not None]
    if len(logs) < len(reps):
        raise UsageError(f"the {series!r} series needs event logs: run with event_log=True")
    rows: list[np.ndarray] = []
    for event_log in logs:
        log = event_log.plain_frame()
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
    """MSER-5 warm-up of a run, on the across-replication mean of ``series``, checked.

    The per-replication truncation points of MSER are unstable; the mean over replications
    smooths the noise while keeping the initial transient, which is what the rule looks for.
    Its cut is then shortened to the first sample from which the part it would delete cannot
    be told from the rest across replications (family-wise 95%): a flat series gets no
    warm-up in at least 95% of runs, a real transient keeps about its length.
    """
    times, values = series_matrix(result, series)
    mean = values.mean(axis=0)
    check = stats.checked_truncation(values)
    deleted = check.deleted
    window = min(WELCH_WINDOW, len(mean) - 1)
    welch = stats.welch_moving_average(mean, window)
    warmup = float(times[deleted]) if deleted < len(times) else float(times[-1])
    return WarmupEstimate(series, times, values, mean, deleted, warmup, welch, window, check)


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
    if value < MIN_PRECISION:
        raise UsageError(f"a precision must be at least {MIN_PRECISION:.4%} of the mean (finer "
                         f"needs more replications than any run can have), got {text!r}")
    return value
