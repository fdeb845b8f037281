"""Baseline against redesigns on common random numbers: paired differences and targets.

Every scenario of a comparison runs replications 0..n-1 on the baseline's root seed, so
replication r of each design sees the same leads, with the same arrival times, values and
routing luck at each stage (common random numbers, see :mod:`salessim.rng`); work and delay
times are drawn per stage in the order work starts, so a redesign that reorders a queue
hands some of them to other leads. The
comparison of a KPI is then made on the paired per-replication values:

- the difference ``redesign - baseline`` with a paired-t interval;
- the relative change ``(after - before) / |before|`` (the handbook's improvement formula)
  with its delta-method interval;
- a paired t test; with several redesigns, the p-values of each KPI are Holm-adjusted over
  the redesigns (the family is "every redesign against the baseline on this KPI").

Targets (goals a redesign states) are read by :mod:`salessim.targets`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from salessim import engine, stats
from salessim.engine import Replication, RunResult
from salessim.kpis import MET, MISSED, NOT_AVAILABLE, UNSURE  # noqa: F401 (re-exported)
from salessim.kpisets import default_kpis, select_kpis
from salessim.scenario import Scenario, load_scenario, scenario_hash
from salessim.targets import (  # noqa: F401 (re-exported: compare's names for them)
    TARGET_FILE,
    Target,
    parse_target,
    parse_target_options,
    scenario_targets,
)

#: Columns of :attr:`Comparison.table`, one row per redesign and KPI.
COMPARISON_COLUMNS = [
    "scenario", "kpi", "baseline_mean", "mean", "mean_ci_low", "mean_ci_high", "diff",
    "diff_ci_low", "diff_ci_high", "rel_change", "rel_ci_low", "rel_ci_high", "p_value", "p_adjusted", "significant", "n",
    "target", "verdict", "replications_to_settle",
]

kpi_names = engine.kpi_names


# --- running a comparison ------------------------------------------------------------------


@dataclass
class ScenarioRun:
    """One scenario of a comparison: where it came from, its targets and its replications.

    Attributes:
        label: short unique name (the file's stem), used in tables and folder names.
        scenario: the loaded scenario (with any overrides applied).
        path: the scenario file, when it came from one.
        targets: goals to check against the baseline (empty for the baseline).
        result: the replications, once run.
    """

    label: str
    scenario: Scenario
    path: str | None = None
    targets: dict[str, Target] = field(default_factory=dict)
    result: RunResult | None = None

    @property
    def hash(self) -> str:
        """SHA-256 of the resolved scenario."""
        return scenario_hash(self.scenario)

    @property
    def run_result(self) -> RunResult:
        """The replications, for what comes after the run (an error before it)."""
        if self.result is None:
            raise ValueError(f"{self.label} has not been run")
        return self.result


def unique_labels(paths: Sequence[str | Path]) -> list[str]:
    """File stems as labels, with ``-2``, ``-3`` added to repeats (a file compared with itself).

    A label names a folder of the output: see :func:`unique_names`.
    """
    return unique_names([Path(path).stem for path in paths])


def unique_names(names: Sequence[str]) -> list[str]:
    """Names as labels that are safe folder names, with ``-2``, ``-3`` added to repeats.

    Characters other than letters, digits, ``_``, ``-`` and ``.`` become ``_``, and a name
    of dots only (``...yaml`` has the stem ``..``) becomes ``scenario``, so every folder
    stays inside ``--out``; a name of one of compare's own files (:data:`OUTPUT_NAMES`, a
    figure) gets ``-2`` too.
    """
    labels: list[str] = []
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
        if not stem.strip("."):
            stem = "scenario"
        label, k = stem, 1
        while label in labels or _output_name(label):
            k += 1
            label = f"{stem}-{k}"
        labels.append(label)
    return labels


#: Names compare writes beside the scenarios' folders: a label never takes one of them
#: (a redesign file named comparison.csv.yaml would have), nor a figure's name (.png).
OUTPUT_NAMES = frozenset({"comparison.csv", "report.html", "compare.json", "run.json"})


def _output_name(label: str) -> bool:
    return label in OUTPUT_NAMES or label.lower().endswith(".png")


@dataclass
class Comparison:
    """The outcome of comparing redesigns with a baseline.

    Attributes:
        baseline: the baseline run.
        redesigns: the redesign runs, in the order given.
        table: one row per redesign and KPI, columns :data:`COMPARISON_COLUMNS`.
        seed: root seed every scenario ran on.
        replications: replications per scenario.
        level: confidence level of every interval.
    """

    baseline: ScenarioRun
    redesigns: list[ScenarioRun]
    table: pd.DataFrame
    seed: int
    replications: int
    level: float = 0.95

    @property
    def holm_adjusted(self) -> bool:
        """Whether p-values were adjusted for several redesigns."""
        return len(self.redesigns) > 1

    @property
    def runs(self) -> list[ScenarioRun]:
        """Baseline first, then the redesigns."""
        return [self.baseline, *self.redesigns]

    def verdicts(self) -> pd.DataFrame:
        """The rows that carry a target."""
        return self.table[self.table["target"] != ""].reset_index(drop=True)

    def significance_note(self) -> str:
        """How significance was decided, to print beside the table."""
        alpha = 1 - self.level
        if self.holm_adjusted:
            return (f"significant: paired t test, p < {alpha:.2g} after Holm's adjustment over the "
                    f"{len(self.redesigns)} redesigns for each KPI; intervals are unadjusted "
                    f"{self.level:.0%} intervals")
        return f"significant: paired t test, p < {alpha:.2g}; {self.level:.0%} intervals"


def load_runs(
    baseline: str | Path,
    redesigns: Sequence[str | Path],
    sets: Sequence[str] = (),
    target_options: Sequence[str] = (),
) -> tuple[ScenarioRun, list[ScenarioRun]]:
    """Load a baseline and redesign files with their targets, ready for :func:`compare`.

    Args:
        baseline: the baseline scenario file.
        redesigns: redesign files (usually ``extends:`` the baseline).
        sets: ``key.path=value`` overrides applied to every scenario.
        target_options: ``KPI=SPEC`` targets added to every redesign (they replace a
            file's target on the same KPI).

    Raises:
        ScenarioError: a file or a target cannot be used as written.
    """
    labels = unique_labels([baseline, *redesigns])
    base = ScenarioRun(labels[0], load_scenario(baseline, list(sets)), str(baseline))
    runs = []
    for label, path in zip(labels[1:], redesigns, strict=True):
        scenario = load_scenario(path, list(sets))
        targets = scenario_targets(scenario, path)
        targets.update(parse_target_options(target_options, kpi_names(scenario)))
        runs.append(ScenarioRun(label, scenario, str(path), targets))
    return base, runs


def compare_results(
    baseline: ScenarioRun, redesigns: Sequence[ScenarioRun], level: float = 0.95
) -> pd.DataFrame:
    """Compare finished runs on their paired replications (see the module docstring).

    Args:
        baseline: the baseline, with its result.
        redesigns: the redesigns, with results on the same seed and replication numbers.
        level: confidence level.

    Returns:
        One row per redesign and KPI (KPIs in the baseline's order, then any a redesign adds),
        columns :data:`COMPARISON_COLUMNS`.

    Raises:
        ValueError: if a run is missing or the replications are not aligned.
    """
    base = _wide(baseline)
    rows = []
    for run in redesigns:
        other = _wide(run)
        seed = run.run_result.seed
        if list(other.index) != list(base.index) or seed != baseline.run_result.seed:
            raise ValueError(
                f"{run.label} must run the baseline's replications on its seed (common random "
                f"numbers): got replications {list(other.index)[:5]}... seed {seed}")
        kpis = list(dict.fromkeys([*base.columns, *other.columns]))
        for kpi in kpis:
            b = _column(base, kpi)
            o = _column(other, kpi)
            rows.append(_compare_kpi(run, kpi, b, o, level))
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    # Holm over the redesigns, one family per KPI: each KPI answers its own question.
    table["p_adjusted"] = table["p_value"]
    if len(redesigns) > 1:
        for _, idx in table.groupby("kpi", sort=False).groups.items():
            table.loc[idx, "p_adjusted"] = stats.holm(table.loc[idx, "p_value"].to_numpy())
    table["significant"] = table["p_adjusted"] < 1 - level
    return table.astype({"n": "int64", "significant": "bool"})


def _wide(run: ScenarioRun) -> pd.DataFrame:
    return run.run_result.wide().sort_index()


def _column(frame: pd.DataFrame, kpi: str) -> np.ndarray:
    if kpi in frame.columns:
        return frame[kpi].to_numpy(dtype=float)
    return np.full(len(frame), np.nan)


def _compare_kpi(
    run: ScenarioRun, kpi: str, b: np.ndarray, o: np.ndarray, level: float
) -> list[object]:
    diff = stats.paired_difference(b, o, level)
    rel = stats.relative_change(b, o, level)
    mean = stats.t_interval(o, level)
    target = run.targets.get(kpi)
    verdict, settle = "", math.nan
    if target is not None:
        est = rel if target.relative else mean
        verdict = target.verdict(est)
        if verdict == UNSURE:
            settle = settling_replications(target, b, o, level)
    return [
        run.label, kpi, stats.t_interval(b, level).mean, mean.mean, mean.ci_low, mean.ci_high,
        diff.mean, diff.ci_low,
        diff.ci_high, rel.mean, rel.ci_low, rel.ci_high, stats.paired_t_pvalue(b, o), math.nan,
        False, diff.n, target.text if target else "", verdict, settle,
    ]


def settling_replications(
    target: Target, base: np.ndarray, other: np.ndarray, level: float = 0.95
) -> float:
    """Replications after which the target's interval would likely exclude its bound.

    The pilot-scaling rule of :func:`salessim.stats.target_replications`, applied to the
    quantity the verdict uses: the redesign's values for a bound on its mean; for a relative
    target, the delta-method linearisation ``R + z_i`` of the relative change, whose mean and
    standard deviation are those of :func:`salessim.stats.relative_change`, so the answer is
    consistent with the interval the verdict was read from.

    Returns:
        A number of replications (``math.inf`` if the estimate sits exactly on the bound, nan
        if it cannot be computed).
    """
    try:
        if not target.relative:
            return stats.target_replications(other, target.value, level)
        linearised = stats.relative_change_linearised(base, other)
        if linearised is None:
            return math.nan
        return stats.target_replications(linearised, target.value, level)
    except ValueError:  # fewer than two usable replications
        return math.nan


def run_scenarios(
    runs: Sequence[ScenarioRun],
    replications: int,
    seed: int,
    mapper: Callable = map,
    progress: Callable[[Replication], None] | None = None,
    logged: int = 0,
) -> None:
    """Run every scenario not yet run on replications 0..n-1 of the same root seed.

    Args:
        runs: the scenarios; those with a result are left as they are.
        replications: replications per scenario.
        seed: the root seed of every scenario.
        mapper: a ``map``-like function to run replications with.
        progress: called with each finished replication.
        logged: the first ``logged`` replications keep their event log (for the flow view);
            a replication's results do not depend on whether it keeps a log.
    """
    for run in runs:
        if run.result is None:
            run.result = engine.run(run.scenario, replications, seed, logged, mapper, progress)


def compare(
    baseline: ScenarioRun,
    redesigns: Sequence[ScenarioRun],
    replications: int | None = None,
    seed: int | None = None,
    level: float = 0.95,
    mapper: Callable = map,
    progress: Callable[[Replication], None] | None = None,
    logged: int = 0,
) -> Comparison:
    """Run the baseline and the redesigns on common random numbers and compare them.

    Args:
        baseline: the baseline scenario (its ``result`` is reused if already run).
        redesigns: the redesigns; their own seed and replication count are ignored.
        replications: replications per scenario; default: the baseline's.
        seed: root seed; default: the baseline's.
        level: confidence level.
        mapper: a ``map``-like function to run replications with (an executor's map).
        progress: called with each finished replication.
        logged: how many of the first replications keep their event logs.

    Returns:
        The comparison. A redesign identical to the baseline differs by exactly zero.
    """
    n = replications or (
        len(baseline.result.replications) if baseline.result else baseline.scenario.replications)
    root = seed if seed is not None else (
        baseline.result.seed if baseline.result else baseline.scenario.seed)
    if baseline.result is not None and (
            baseline.result.seed != root or len(baseline.result.replications) != n):
        baseline.result = None
    run_scenarios([baseline, *redesigns], n, root, mapper, progress, logged)
    table = compare_results(baseline, redesigns, level)
    return Comparison(baseline, list(redesigns), table, root, n, level)


def crn_variance_reduction(
    baseline: Scenario,
    redesign: Scenario,
    kpis: Sequence[str],
    replications: int,
    seed: int,
    independent_seed: int,
    level: float = 0.95,
    mapper: Callable = map,
) -> pd.DataFrame:
    """How much common random numbers narrow the interval of a difference.

    The redesign runs twice: on the baseline's seed (common random numbers) and on another
    seed (independent streams). The independent interval is the paired-t interval of the
    differences of unrelated runs, whose variance is the sum of both variances.

    Returns:
        One row per KPI: half_width_crn, half_width_independent and their ratio (how many
        times narrower the CRN interval is), plus the variance ratio (its square).
    """
    base = engine.run(baseline, replications, seed, mapper=mapper).wide()
    crn = engine.run(redesign, replications, seed, mapper=mapper).wide()
    indep = engine.run(redesign, replications, independent_seed, mapper=mapper).wide()
    rows = []
    for kpi in kpis:
        h_crn = stats.paired_difference(base[kpi], crn[kpi], level).half_width
        h_ind = stats.paired_difference(base[kpi], indep[kpi], level).half_width
        ratio = h_ind / h_crn if h_crn > 0 else math.inf
        rows.append((kpi, h_crn, h_ind, ratio, ratio**2))
    return pd.DataFrame(rows, columns=[
        "kpi", "half_width_crn", "half_width_independent", "ratio", "variance_ratio"])


def headline_kpis(comparison: Comparison, chosen: Sequence[str] | None = None) -> list[str]:
    """KPIs to show: those matching the chosen names or globs (``utilisation.*``), or by
    default the headline set of :data:`salessim.kpis.HEADLINE_KPIS`, the baseline's busiest
    role and every KPI with a target."""
    present = list(dict.fromkeys(comparison.table["kpi"]))
    if chosen:
        return select_kpis(present, chosen)[0]
    base = comparison.table[comparison.table["scenario"] == comparison.redesigns[0].label]
    means = dict(zip(base["kpi"], base["baseline_mean"], strict=True))
    targets = [k for run in comparison.redesigns for k in run.targets]
    return [k for k in present if k in set(default_kpis(means, targets))]
