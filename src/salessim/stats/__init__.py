"""Output analysis for simulation replications.

Pure functions over numpy arrays and pandas frames: confidence intervals across independent
replications, paired comparisons of scenarios run with common random numbers and their
multiple-comparison adjustment (:mod:`~salessim.stats.intervals`), replication planning
(:mod:`~salessim.stats.planning`), and warm-up detection (MSER-5, Welch's moving average;
:mod:`~salessim.stats.warmup`).

Replications are the unit of independence throughout: every interval here treats one value per
replication as one i.i.d. observation, never the within-run observations.
"""

from salessim.stats.intervals import (
    SUMMARY_COLUMNS,
    Estimate,
    holm,
    paired_difference,
    paired_t_pvalue,
    relative_change,
    relative_change_linearised,
    summarise,
    t_interval,
)
from salessim.stats.planning import replications_needed, target_replications
from salessim.stats.warmup import Truncation, checked_truncation, mser5, welch_moving_average

__all__ = [
    "SUMMARY_COLUMNS",
    "Estimate",
    "Truncation",
    "checked_truncation",
    "holm",
    "mser5",
    "paired_difference",
    "paired_t_pvalue",
    "relative_change",
    "relative_change_linearised",
    "replications_needed",
    "summarise",
    "t_interval",
    "target_replications",
    "welch_moving_average",
]
