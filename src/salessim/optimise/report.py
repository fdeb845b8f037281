"""What an optimisation leaves behind: a leaderboard, the best design as a scenario file,
a plot of the search, and a manifest to reproduce it."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from salessim.console import format_number as fmt
from salessim.optimise.problem import Candidate, Problem
from salessim.optimise.procedure import OptimisationResult
from salessim.optimise.spec import SCENARIO_KEY
from salessim.output import atomic_path, versions, write_json, write_text
from salessim.records import write_frame
from salessim.rng import STREAM_SCHEME
from salessim.scenario.load import read_document


def leaderboard(result: OptimisationResult) -> pd.DataFrame:
    """One row per design evaluated (and the baseline): the chosen design first, then the
    other finalists by holdout mean, then the rest by search estimate.

    Columns: rank, design, stage (baseline / chosen / finalist / search), the variables,
    budget, search_order, search_n, search_mean, search_ci_low, search_ci_high,
    search_meets_bounds, kn, kn_n, kn_mean, holdout_mean, holdout_ci_low, holdout_ci_high,
    diff_vs_baseline, diff_ci_low, diff_ci_high, relative_change, p_value, p_holm, and one
    ``verdict.<KPI>`` column per KPI bound.
    """
    p = result.problem
    keys = [d.key for d in p.domains]
    bounds = list(p.spec.constraints.kpis)
    final = {f.candidate.index: f for f in result.finalists}
    sense = p.spec.objective.sense

    def row(ev, stage: str) -> dict[str, Any]:
        c = ev.candidate
        out: dict[str, Any] = {"design": c.label, "stage": stage}
        out.update({k: _cell(c.values.get(k)) for k in keys})
        out.update(budget=c.budget, search_order=ev.order, search_n=ev.objective.n,
                   search_mean=ev.objective.mean, search_ci_low=ev.objective.ci_low,
                   search_ci_high=ev.objective.ci_high, search_meets_bounds=ev.passes)
        f = final.get(c.index)
        if f is not None and f.objective is not None:
            assert f.difference is not None and f.relative is not None
            out.update(kn=f.kn, kn_n=f.kn_n, kn_mean=f.kn_mean, holdout_mean=f.objective.mean,
                       holdout_ci_low=f.objective.ci_low, holdout_ci_high=f.objective.ci_high,
                       diff_vs_baseline=f.difference.mean, diff_ci_low=f.difference.ci_low,
                       diff_ci_high=f.difference.ci_high, relative_change=f.relative.mean,
                       p_value=f.p_value, p_holm=f.p_holm)
            out.update({f"verdict.{k}": f.verdicts.get(k) for k in bounds})
        return out

    chosen = result.chosen
    finals = sorted(result.finalists, key=lambda f: (
        f is not chosen, -sense * f.objective.mean if f.objective else math.inf))
    rows = [row(f.evaluation, "chosen" if f is chosen else "finalist") for f in finals]
    rows += [row(ev, "search") for ev in result.search.ranked() if ev.candidate.index not in final]
    b = result.baseline_objective
    base: dict[str, Any] = {"design": "baseline", "stage": "baseline"}
    base.update({k: _cell(result.baseline.values.get(k)) for k in keys})
    budget, _ = p.deterministic_check(p.baseline)
    base.update(budget=budget, holdout_mean=b.mean, holdout_ci_low=b.ci_low,
                holdout_ci_high=b.ci_high)
    base.update({f"verdict.{k}": result.baseline_verdicts.get(k) for k in bounds})
    rows.insert(0, base)
    frame = pd.DataFrame(rows)
    frame.insert(0, "rank", [0, *range(1, len(rows))])
    columns = ["rank", "design", "stage", *keys, "budget", "search_order", "search_n",
               "search_mean", "search_ci_low", "search_ci_high", "search_meets_bounds", "kn",
               "kn_n", "kn_mean", "holdout_mean", "holdout_ci_low", "holdout_ci_high",
               "diff_vs_baseline", "diff_ci_low", "diff_ci_high", "relative_change", "p_value",
               "p_holm", *[f"verdict.{k}" for k in bounds]]
    return frame.reindex(columns=columns)


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        node = out
        *head, last = key.split(".")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _explicit(value: Any, base: Any) -> Any:
    """``value`` as a change merged onto ``base`` with the loader's rules, made to *replace*
    it as ``--set`` does: keys of ``base`` missing from ``value`` are deleted (null)."""
    if not (isinstance(value, dict) and isinstance(base, dict)):
        return value
    out = {k: _explicit(v, base.get(k)) for k, v in value.items()}
    out.update({k: None for k in base if k not in value})
    return out


def design_yaml(problem: Problem, candidate: Candidate, out_dir: Path,
                header: list[str] | None = None) -> str:
    """A design as a scenario file to be written in ``out_dir``, that ``extends:`` the
    scenario file the design changes and states only the design's values.

    Dict values (a distribution, say) are written so that merging them onto the base gives
    exactly what setting them did (the base's other keys are deleted with ``null``): the file
    loads into the same scenario as the design, its name aside.
    """
    base_file = problem.scenario_file(candidate)
    try:
        ref = os.path.relpath(base_file.resolve(), out_dir.resolve())
    except ValueError:  # another drive (Windows)
        ref = str(base_file.resolve())
    base_data = read_document(base_file).data
    changes = {k: v for k, v in candidate.values.items() if k != SCENARIO_KEY}
    for key, value in changes.items():
        node: Any = base_data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        changes[key] = _explicit(value, node)
    body = {"extends": Path(ref).as_posix(),
            "name": f"{problem.baseline.name} (optimised: {problem.name})", **_nest(changes)}
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "".join(f"{line}\n" for line in header or []) + text


def best_yaml(result: OptimisationResult, out_dir: Path) -> str:
    """The chosen design as a scenario file (:func:`design_yaml`) with its evidence on top.

    Raises:
        ValueError: no design was chosen.
    """
    if result.chosen is None:
        raise ValueError("no design was chosen")
    p = result.problem
    c = result.chosen
    obj = p.spec.objective
    f = c.objective
    d = c.difference
    assert f is not None and d is not None
    header = [
        f"# Chosen by salessim optimise {p.path.name}: "
        f"{'maximise' if obj.sense > 0 else 'minimise'} {obj.kpi}.",
        f"# Kim-Nelson: {c.kn} (indifference zone {fmt(result.delta)}, confidence "
        f"{p.spec.selection.confidence:.0%}, seed {result.seeds['selection']}).",
        f"# Holdout, {result.holdout_replications} replications on seed "
        f"{result.seeds['holdout']}: {obj.kpi} {fmt(f.mean)} [{fmt(f.ci_low)}, {fmt(f.ci_high)}]; "
        f"vs baseline {fmt(d.mean)} [{fmt(d.ci_low)}, {fmt(d.ci_high)}], "
        f"Holm-adjusted p = {c.p_holm:.3g}.",
    ]
    if c.verdicts:
        header.append("# KPI bounds on the holdout: "
                      + ", ".join(f"{k} {v}" for k, v in c.verdicts.items()) + ".")
    return design_yaml(p, c.candidate, out_dir, header)


def plot_search(result: OptimisationResult, path: str | Path | None = None):
    """The search: each design's objective estimate in evaluation order, and the best so far.

    Returns:
        The matplotlib Figure (made without pyplot: no window ever opens).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    p = result.problem
    sense = p.spec.objective.sense
    evs = sorted(result.search.evaluations, key=lambda e: e.order)
    xs = [e.order for e in evs]
    ys = [e.objective.mean for e in evs]
    best, best_so_far = None, []
    for e in evs:
        if e.passes and not math.isnan(e.objective.mean) and (
                best is None or sense * e.objective.mean > sense * best):
            best = e.objective.mean
        best_so_far.append(best if best is not None else math.nan)
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ok = [e.passes for e in evs]
    ax.scatter([x for x, k in zip(xs, ok, strict=True) if k],
               [y for y, k in zip(ys, ok, strict=True) if k], s=18,
               label="design (search estimate)")
    if not all(ok):
        ax.scatter([x for x, k in zip(xs, ok, strict=True) if not k],
                   [y for y, k in zip(ys, ok, strict=True) if not k], s=18, marker="x",
                   color="grey", label="breaks a KPI bound")
    ax.step(xs, best_so_far, where="post", color="C1", label="best so far")
    finals = {f.candidate.index for f in result.finalists}
    fx = [e.order for e in evs if e.candidate.index in finals]
    fy = [e.objective.mean for e in evs if e.candidate.index in finals]
    ax.scatter(fx, fy, s=60, facecolors="none", edgecolors="C3", label="finalist")
    if result.chosen is not None:
        c = result.chosen.evaluation
        ax.scatter([c.order], [c.objective.mean], s=140, marker="*", color="C3", label="chosen")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("evaluation")
    ax.set_ylabel(p.spec.objective.kpi)
    ax.set_title(f"{p.name}: {result.search.method} search, "
                 f"{result.search.replications} replications per design")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    return fig


def write_outputs(result: OptimisationResult, out: str | Path) -> list[Path]:
    """Write leaderboard.csv, best.yaml (when a design was chosen), search.png and
    optimise.json (seeds, versions, spec hash) into ``out``; each file whole or not at all."""
    out = Path(out)
    written = []
    path = out / "leaderboard.csv"
    write_frame(leaderboard(result), path)
    written.append(path)
    if result.chosen is not None:
        path = out / "best.yaml"
        write_text(path, best_yaml(result, out))
        written.append(path)
    path = out / "search.png"
    plot_search(result, path)
    written.append(path)
    p = result.problem
    path = out / "optimise.json"
    write_json(path, {
        "spec": str(p.path),
        "spec_hash": hashlib.sha256(p.spec.model_dump_json().encode()).hexdigest(),
        "root_seed": p.seed,
        "stage_seeds": result.seeds,
        "stream_scheme": STREAM_SCHEME,
        "versions": versions(),
        "method": result.search.method,
        "indifference_zone": result.delta,
        "kn": {"stop": result.kn.stop, "survivors": len(result.kn.survivors),
               "replications": int(result.kn.replications.max())},
        "chosen": result.chosen.candidate.values if result.chosen else None,
    })
    written.append(path)
    return written
