"""The optimisation procedure: search, then Kim-Nelson selection, then a holdout check.

1. Search (:mod:`salessim.optimise.search`): feasible candidates, a few replications each,
   all on the search seed (common random numbers).
2. Selection: the best few (those meeting the KPI bounds first, then by mean) go to KN
   (:mod:`salessim.optimise.selection`) on the selection seed: fresh random numbers, so
   the luck that made a design look good in the search does not carry over.
3. Holdout: the finalists and the baseline on a third seed, paired replication by
   replication; each finalist's difference from the baseline gets a t interval and a
   Holm-adjusted p-value, and each KPI bound a verdict (met, violated, unclear) at the
   constraint confidence. The chosen design is KN's pick, unless the holdout shows it
   violating a KPI bound; then it is the best finalist by holdout mean that does not.

The three seeds derive from the root seed (:attr:`Problem.stage_seeds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from salessim import stats
from salessim.console import format_number, text_table
from salessim.errors import UsageError
from salessim.optimise.caveats import design_caveats
from salessim.optimise.evaluate import Evaluator, SimulationEvaluator
from salessim.optimise.problem import Candidate, Problem
from salessim.optimise.search import Evaluation, SearchResult, search
from salessim.optimise.selection import KNResult, kim_nelson


@dataclass
class Finalist:
    """A design that went to selection, and what selection and the holdout found.

    Attributes:
        evaluation: its search-stage evaluation.
        kn: ``selected``, ``survivor`` or ``eliminated after r``.
        kn_mean: mean objective over its KN replications (its own unit).
        kn_n: its KN replications.
        objective: holdout mean and CI of the objective.
        difference: holdout paired difference from the baseline (finalist - baseline).
        relative: relative change from the baseline, with its interval.
        p_value, p_holm: paired t test against the baseline, raw and Holm-adjusted.
        verdicts: KPI bound -> met / violated / unclear on the holdout.
    """

    evaluation: Evaluation
    kn: str = ""
    kn_mean: float = math.nan
    kn_n: int = 0
    objective: stats.Estimate | None = None
    difference: stats.Estimate | None = None
    relative: stats.Estimate | None = None
    p_value: float = math.nan
    p_holm: float = math.nan
    verdicts: dict[str, str] = field(default_factory=dict)

    @property
    def candidate(self) -> Candidate:
        return self.evaluation.candidate


@dataclass
class OptimisationResult:
    """Everything the procedure did, for reports, files and tests."""

    problem: Problem
    seeds: dict[str, int]
    search: SearchResult
    delta: float
    kn: KNResult
    finalists: list[Finalist]
    baseline: Candidate
    baseline_objective: stats.Estimate
    baseline_verdicts: dict[str, str]
    chosen: Finalist | None
    holdout_replications: int
    #: The warnings run gives, on the baseline and the chosen design (optimise/caveats.py).
    caveats: list[str] = field(default_factory=list)

    def report(self) -> str:
        """A plain-text account of the three stages and the chosen design."""
        p = self.problem
        sel = p.spec.selection
        obj = p.spec.objective
        sense = "maximise" if obj.sense > 0 else "minimise"
        s = self.search
        lines = [f"{p.name}: {sense} {obj.kpi}"]
        if s.feasible is not None:
            lines.append(f"designs: {s.lattice} on the lattice, {s.feasible} feasible, "
                         f"{s.infeasible} break the budget or a headcount cap (never simulated)")
        else:
            lines.append(f"designs: {s.lattice:,} on the lattice")
        lines.append(f"search ({s.method}): {len(s.evaluations)} designs x {s.replications} "
                     f"replications on seed {s.seed} (common random numbers)")
        kn = self.kn
        lines.append(
            f"selection (Kim-Nelson): {len(self.finalists)} finalists, indifference zone "
            f"{format_number(self.delta)}, confidence {sel.confidence:.0%}, first stage "
            f"{sel.first_stage}, seed {self.seeds['selection']}; stopped: {kn.stop} after "
            f"{int(kn.replications.max())} replications"
            + (" (max_replications: the selection is the best mean so far, without KN's "
               "guarantee)" if kn.stop == "replication cap" else "")
            + (f"; {len(kn.tied_with_best())} other survivor(s) not significantly different "
               "from the selected design" if kn.tied_with_best() else ""))
        lines.append(f"holdout: {self.holdout_replications} replications on seed "
                     f"{self.seeds['holdout']}, paired against the baseline, p-values "
                     "Holm-adjusted over the finalists")
        level = "95%"
        head = ("design", f"{obj.kpi}", f"{level} CI", "vs baseline", f"{level} CI", "change",
                "p (Holm)", "KN", *p.spec.constraints.kpis)
        rows = [head]
        b = self.baseline_objective
        rows.append(("baseline", format_number(b.mean), _ci(b), "", "", "", "", "",
                     *[self.baseline_verdicts.get(k, "") for k in p.spec.constraints.kpis]))
        for f in self.finalists:
            assert f.objective is not None and f.difference is not None
            assert f.relative is not None
            mark = " *" if f is self.chosen else ""
            rows.append((f.candidate.label + mark, format_number(f.objective.mean),
                         _ci(f.objective), _signed(f.difference.mean), _ci(f.difference),
                         _percent(f.relative.mean),
                         f"{f.p_holm:.3g}", f.kn,
                         *[f.verdicts.get(k, "") for k in p.spec.constraints.kpis]))
        lines += ["", text_table(rows), ""]
        if self.chosen is None:
            lines.append("chosen: none (every finalist violates a KPI bound on the holdout)")
        else:
            c = self.chosen
            sig = ("significantly " + ("better" if _better(c, obj.sense) else "worse")
                   if c.p_holm < 1 - p.spec.constraints.confidence else
                   "not significantly different from")
            lines.append(f"chosen (*): {c.candidate.label}: {sig} the baseline on the holdout")
            unclear = [k for k, v in c.verdicts.items() if v != "met"]
            if unclear:
                lines.append(f"  warning: {', '.join(unclear)} not shown to meet its bound "
                             "with the stated confidence")
        if self.caveats:
            lines += ["", "Warnings", *(f"- {c}" for c in self.caveats)]
        return "\n".join(lines)


def _better(f: Finalist, sense: int) -> bool:
    return f.difference is not None and sense * f.difference.mean > 0


def _ci(e: stats.Estimate) -> str:
    if math.isnan(e.ci_low):
        return "n/a"
    return f"[{format_number(e.ci_low)}, {format_number(e.ci_high)}]"


def _percent(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x + 0.0:+.1%}" if round(x, 3) != 0 else "0.0%"


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + format_number(x)


def indifference_zone(value: float | str, best_mean: float) -> float:
    """The indifference zone in the objective's unit (a percentage is of ``best_mean``)."""
    if isinstance(value, str):
        delta = float(value.strip()[:-1]) / 100 * abs(best_mean)
        if not delta > 0:
            raise UsageError(f"indifference zone {value} of the best search estimate "
                             f"({best_mean}) is not positive: give it in the objective's unit")
        return delta
    return float(value)


def optimise(
    problem: Problem,
    evaluate: Evaluator,
    on_stage: Callable[[str, int | None], None] | None = None,
) -> OptimisationResult:
    """Run search, Kim-Nelson selection and the holdout check.

    Args:
        problem: the loaded problem (:func:`load_problem`).
        evaluate: the evaluator (:class:`SimulationEvaluator`, or a stand-in).
        on_stage: called with (stage name, runs planned or None) as each stage starts.
    """
    seeds = problem.stage_seeds
    found = search(problem, evaluate, seeds["search"], on_stage)
    sel = problem.spec.selection
    ranked = found.ranked()
    chosen_few = ranked[: sel.finalists]
    delta = indifference_zone(sel.indifference_zone, chosen_few[0].objective.mean)
    cands = [e.candidate for e in chosen_few]

    def sample(systems, replications) -> np.ndarray:
        results = evaluate([cands[s] for s in systems], list(replications), seeds["selection"])
        return np.array([problem.score(r) for r in results])

    if on_stage:
        on_stage("selection (Kim-Nelson)", None)
    try:
        kn = kim_nelson(sample, len(cands), delta, sel.confidence, sel.first_stage,
                        sel.max_replications)
    except ValueError as exc:  # an objective that is not finite in some replication
        raise UsageError(f"{problem.name}: {exc}") from None
    finalists = []
    for i, ev in enumerate(chosen_few):
        status = ("selected" if i == kn.best else "survivor" if i in kn.survivors
                  else f"eliminated after {kn.eliminated[i]}")
        finalists.append(Finalist(ev, status, float(problem.spec.objective.sense *
                                                    kn.values[i].mean()), len(kn.values[i])))

    n = problem.spec.holdout.replications
    if on_stage:
        on_stage("holdout", (len(cands) + 1) * n)
    baseline = Candidate((), problem.baseline_values(), "baseline", problem.baseline)
    results = evaluate([baseline, *cands], list(range(n)), seeds["holdout"])
    base = problem.objective(results[0])
    raw_p = []
    for f, kpis in zip(finalists, results[1:], strict=True):
        other = problem.objective(kpis)
        f.objective = stats.t_interval(other)
        f.difference = stats.paired_difference(base, other)
        f.relative = stats.relative_change(base, other)
        f.p_value = stats.paired_t_pvalue(base, other)
        f.verdicts = problem.stochastic_verdicts(kpis)
        raw_p.append(f.p_value)
    for f, q in zip(finalists, stats.holm(raw_p), strict=True):
        f.p_holm = float(q)
    sense = problem.spec.objective.sense
    order = [finalists[kn.best]] + sorted(
        (f for i, f in enumerate(finalists) if i != kn.best),
        key=lambda f: -sense * f.objective.mean if f.objective else math.inf)
    chosen = next((f for f in order if "violated" not in f.verdicts.values()), None)
    # The warnings read the designs' runs: only for an evaluator that simulates them.
    read = [baseline] + ([chosen.candidate] if chosen is not None else [])
    caveats = (design_caveats(read, n, seeds["holdout"])
               if isinstance(evaluate, SimulationEvaluator) else [])
    return OptimisationResult(problem, seeds, found, delta, kn, finalists, baseline,
                              stats.t_interval(base), problem.stochastic_verdicts(results[0]),
                              chosen, n, caveats)
