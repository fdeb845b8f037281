"""Simulation optimisation: the best design under a budget, with its evidence.

A spec names decision variables (integer headcounts, choices, continuous ranges), one
objective on a KPI or a derived quantity such as ``profit = revenue - selling_cost``,
deterministic constraints on the inputs (a staff budget, headcount caps: designs breaking
them are never simulated) and bounds on KPIs (checked with confidence). :func:`optimise`
searches the feasible designs on common random numbers, selects among the best few with
Kim and Nelson's procedure on fresh random numbers, and confirms the finalists against
the baseline on a holdout seed with paired, Holm-adjusted intervals.

Example::

    from salessim.experiments import ProcessPool
    from salessim.optimise import SimulationEvaluator, load_problem, optimise, write_outputs
    problem = load_problem("experiments/staffing_budget.yaml")
    with ProcessPool() as pool:
        result = optimise(problem, SimulationEvaluator(problem, pool))
    print(result.report())
    write_outputs(result, "out/staffing")
"""

from salessim.optimise.evaluate import Evaluator, SimulationEvaluator
from salessim.optimise.problem import Candidate, Expression, Problem, load_problem, staff_budget
from salessim.optimise.procedure import Finalist, OptimisationResult, indifference_zone, optimise
from salessim.optimise.report import (
    best_yaml,
    design_yaml,
    leaderboard,
    plot_search,
    write_outputs,
)
from salessim.optimise.search import Evaluation, SearchResult, search
from salessim.optimise.selection import KNResult, kim_nelson, kn_constants
from salessim.optimise.spec import OptimisationSpec

__all__ = [
    "Candidate", "Evaluation", "Evaluator", "Expression", "Finalist", "KNResult",
    "OptimisationResult", "OptimisationSpec", "Problem", "SearchResult", "SimulationEvaluator",
    "best_yaml", "design_yaml", "indifference_zone", "kim_nelson", "kn_constants", "leaderboard",
    "load_problem", "optimise", "plot_search", "search", "staff_budget", "write_outputs",
]
