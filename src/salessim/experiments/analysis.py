"""Analyses of a sweep on its common random numbers: paired contrasts and factorial effects.

Every design of a sweep runs with the same root seed, and a run's random streams are keyed
by (replication, stream name) only (``salessim.rng``), so replication r of every design
draws the same random numbers. Differences between designs are therefore computed *per
replication* and their intervals use the replication-to-replication spread of the paired
difference, which common random numbers make small:

- :func:`contrasts`: each design against a reference design, the paired difference with
  its Student-t interval, the paired t test's p-value and its Holm adjustment across the
  contrasts (family-wise error rate at most ``1 - level`` without independence);
- :func:`effects`: main effects and two-way interactions of a two-level (full or
  fractional) factorial, each estimated in every replication and given a t interval across
  replications.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from salessim import stats
from salessim.errors import UsageError
from salessim.experiments.runs import OK
from salessim.stats.intervals import check_level

#: Columns of the result table that are not factors.
_BASE = ("experiment", "design", "scenario", "scenario_hash", "replication", "kpi", "value",
         "status", "error")


def design_factors(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per design (index: design id): its factor values, and its base scenario
    label as a factor ``scenario`` when the sweep has more than one base scenario."""
    factors = [c for c in frame.columns if c not in _BASE]
    if frame["scenario"].nunique() > 1:
        factors = ["scenario", *factors]
    table = frame.drop_duplicates("design").set_index("design")[factors]
    return table.sort_index()


def replication_table(frame: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """A KPI's values with replications as rows and designs as columns (nan: no value).

    Raises:
        UsageError: the KPI is not in the results.
    """
    ok = frame[(frame["status"] == OK) & (frame["kpi"] == kpi)]
    if ok.empty:
        stored = ", ".join(dict.fromkeys(frame.loc[frame["status"] == OK, "kpi"]))
        raise UsageError(f"no KPI {kpi!r} in the results (stored: {stored or 'none'})")
    wide = ok.pivot_table(index="replication", columns="design", values="value",
                          aggfunc="first", dropna=False)
    designs = sorted(frame["design"].unique())
    return wide.reindex(columns=designs).astype(float)


CONTRAST_COLUMNS = ["kpi", "design", "reference", "n", "reference_mean", "design_mean",
                    "difference", "ci_low", "ci_high", "p_value", "p_holm"]


def contrasts(frame: pd.DataFrame, kpi: str, reference: str | None = None,
              level: float = 0.95, all_pairs: bool = False) -> pd.DataFrame:
    """Every design against a reference, paired on replication (common random numbers).

    For design d and replication r the paired difference is y[d, r] - y[ref, r]; its mean
    over the n replications where both ran has the Student-t interval
    mean +/- t(n-1) * s / sqrt(n) (s: standard deviation of the differences). The two-sided
    paired t test's p-values are adjusted by Holm's step-down method across the m contrasts
    (p_(i) -> max_{j<=i} min(1, (m - j + 1) p_(j))); the intervals are per contrast, at
    ``level``.

    Args:
        frame: a result table (:func:`salessim.experiments.load_results`).
        kpi: the KPI compared.
        reference: the reference design id (default: the first design).
        level: confidence level of the intervals.
        all_pairs: every pair of designs instead (the later design minus the earlier, in
            design order), Holm-adjusted over all K (K - 1) / 2 of them: the paired
            counterpart of Tukey's all-pairwise comparisons, valid under common random
            numbers where Tukey's equal-variance independent-means assumption is not.

    Returns:
        One row per contrast: :data:`CONTRAST_COLUMNS`.

    Raises:
        UsageError: unknown KPI or reference design, or a single design.
    """
    check_level(level)
    wide = replication_table(frame, kpi)
    designs = list(wide.columns)
    if all_pairs and reference is not None:
        raise UsageError("all pairs have no single reference: give one or the other")
    if reference is not None and reference not in designs:
        raise UsageError(f"no design {reference!r} in the results (designs: "
                         f"{', '.join(designs[:10])}{' ...' if len(designs) > 10 else ''})")
    if len(designs) < 2:
        raise UsageError("contrasts need at least two designs")
    if all_pairs:
        pairs = list(itertools.combinations(designs, 2))
    else:
        ref = designs[0] if reference is None else reference
        pairs = [(ref, d) for d in designs if d != ref]
    rows = []
    for against, design in pairs:
        base, other = wide[against].to_numpy(), wide[design].to_numpy()
        est = stats.paired_difference(base, other, level)
        both = np.isfinite(base) & np.isfinite(other)
        rows.append({"kpi": kpi, "design": design, "reference": against, "n": est.n,
                     "reference_mean": float(np.mean(base[both])) if both.any() else np.nan,
                     "design_mean": float(np.mean(other[both])) if both.any() else np.nan,
                     "difference": est.mean, "ci_low": est.ci_low, "ci_high": est.ci_high,
                     "p_value": stats.paired_t_pvalue(base, other)})
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS[:-1])
    out["p_holm"] = stats.holm(out["p_value"].to_numpy())
    return out


EFFECT_COLUMNS = ["kpi", "effect", "order", "estimate", "ci_low", "ci_high", "n", "std"]


def coded_columns(factors: pd.DataFrame) -> pd.DataFrame:
    """The factors of a two-level design coded -1 (low) / +1 (high), one column each.

    The low level is the smaller one for numbers, the first in sorted order otherwise.
    Factors held at one level are left out.

    Raises:
        UsageError: a factor with more than two levels.
    """
    coded = {}
    for name in factors.columns:
        levels = sorted(factors[name].unique(), key=lambda v: (str(type(v)), v))
        if len(levels) == 1:
            continue
        if len(levels) > 2:
            raise UsageError(f"effects need a two-level factorial, and {name} has "
                             f"{len(levels)} levels: fit a metamodel instead (--metamodel)")
        coded[name] = np.where(factors[name] == levels[1], 1.0, -1.0)
    return pd.DataFrame(coded, index=factors.index)


def effect_columns(coded: pd.DataFrame, interactions: bool = True) -> dict[str, np.ndarray]:
    """Contrast columns: each factor, and each product of two factors (named ``A x B``).

    Columns equal to an earlier one, or to its negative, are its aliases (a fractional
    factorial): they are merged into one column named ``A x B = C x D`` (or ``= -C x D``).
    """
    candidates = [(name, coded[name].to_numpy()) for name in coded.columns]
    if interactions:
        candidates += [(f"{a} x {b}", coded[a].to_numpy() * coded[b].to_numpy())
                       for a, b in itertools.combinations(list(coded.columns), 2)]
    columns: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    for name, column in candidates:
        for key, seen in columns.items():
            if np.array_equal(column, seen) or np.array_equal(column, -seen):
                sign = "" if np.array_equal(column, seen) else "-"
                names[key] = f"{names[key]} = {sign}{name}"
                break
        else:
            columns[name] = column
            names[name] = name
    return {names[key]: column for key, column in columns.items()}


def effects(frame: pd.DataFrame, kpi: str, level: float = 0.95,
            interactions: bool = True) -> pd.DataFrame:
    """Main effects and two-way interactions of a two-level factorial, per replication.

    With factors coded -1/+1 and N designs, the effect of a contrast column x (a factor, or
    the product of two for an interaction) in replication r is
    e_r = (2 / N) * sum_d x_d y[d, r], the mean response where x = +1 minus the mean where
    x = -1 (for an interaction: half the change of one factor's effect across the other's
    levels). Its interval is the Student-t interval of e_1..e_n across replications, so it
    uses the replication-to-replication spread of the *paired* effect: common random
    numbers cancel from it. Replications without a value for every design are left out.

    In a fractional factorial an effect is aliased with the words of its alias set (see
    :func:`salessim.experiments.designs_fractional.fractional_factorial`).

    Raises:
        UsageError: unknown KPI; no factor varies; a factor with more than two levels; an
            unbalanced design (the columns are not orthogonal).
    """
    wide = replication_table(frame, kpi)
    coded = coded_columns(design_factors(frame).loc[list(wide.columns)])
    if coded.empty:
        raise UsageError("no factor varies between the designs: there is no effect to estimate")
    columns = effect_columns(coded, interactions)
    matrix = np.column_stack(list(columns.values()))
    n_designs = matrix.shape[0]
    gram = matrix.T @ matrix
    if np.any(matrix.sum(axis=0) != 0) or not np.allclose(gram, n_designs * np.eye(len(gram))):
        raise UsageError("effects need a balanced two-level factorial (every pair of contrast "
                         "columns orthogonal); fit a metamodel instead (--metamodel)")
    complete = wide.dropna(axis=0, how="any").to_numpy()
    per_rep = complete @ matrix * (2.0 / n_designs)  # replications x effects
    rows = []
    for i, name in enumerate(columns):
        est = stats.t_interval(per_rep[:, i], level)
        rows.append({"kpi": kpi, "effect": name, "order": 2 if " x " in name.split(" = ")[0] else 1,
                     "estimate": est.mean, "ci_low": est.ci_low, "ci_high": est.ci_high,
                     "n": est.n, "std": est.std})
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)
