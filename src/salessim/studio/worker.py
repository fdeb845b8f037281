"""The simulations of the studio, in a worker process (never in the web server's).

:func:`serve` runs in a process of its own: it takes one job at a time from a pipe and
answers with messages (``progress`` with the estimates so far, then ``done`` or
``error``). A cancelled job is stopped by ending the whole process, the same guarantee
as Ctrl-C: nothing of the job is left running. Runs go through the public API
(:class:`salessim.api.runs.RunReport`, :func:`salessim.compare`) and write the same
folders and run records as ``salessim run --report`` and ``salessim compare --out``.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from salessim.studio.paths import OUT
from salessim.studio.progress import Bar as _Bar


def serve(conn: Any) -> None:
    """Answer jobs from ``conn`` until it closes or sends None (the worker's main loop)."""
    import salessim.api.comparing  # noqa: F401  (loaded before the first job: a quick first run)
    import salessim.api.runs  # noqa: F401
    import salessim.engine  # noqa: F401

    conn.send({"type": "ready"})
    memory: dict[Any, Any] = {}  # what-if baselines already run, by their key
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            result = HANDLERS[job["kind"]](job, conn.send, memory)
            conn.send({"type": "done", "result": result})
        except Exception as exc:  # every failure goes back to the page, none kills the loop
            from salessim.errors import SalessimError

            detail = str(exc) if isinstance(exc, SalessimError) else \
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
            conn.send({"type": "error", "message": detail})


def kpi_rows(summary: Any, time_unit: str) -> list[dict[str, Any]]:
    """The headline KPIs of a summary frame as display rows (label, mean, CI, unit)."""
    import math

    from salessim import kpis as registry
    from salessim.kpisets import default_kpis

    means = dict(zip(summary["kpi"], summary["mean"], strict=True))
    rows = []
    by_kpi = {r.kpi: r for r in summary.itertuples(index=False)}
    for name in default_kpis(means):
        r = by_kpi[name]
        ci = None if r.n < 2 or math.isnan(r.ci_low) else (
            f"[{registry.format_value(name, r.ci_low, time_unit)}, "
            f"{registry.format_value(name, r.ci_high, time_unit)}]")
        rows.append({"kpi": name, "label": registry.label(name),
                     "unit": registry.unit_text(name, time_unit),
                     "mean": registry.format_value(name, r.mean, time_unit), "ci": ci,
                     "value": float(r.mean), "half_width": None if ci is None
                     else float(r.ci_high - r.mean), "n": int(r.n)})
    return rows


def out_folder(root: Path, label: str, key: str) -> Path:
    """The run's folder: ``out/studio/<label>-<key>`` inside the studio's folder."""
    return root / OUT / f"{label}-{key}"


def run_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """Run one scenario file; the estimates go to the page after every replication."""
    from salessim import engine
    from salessim.api.runs import RunReport
    from salessim.output import staged_folder
    from salessim.reports.summary import caveat_lines
    from salessim.runrecord import RunRecord, write_record
    from salessim.scenario import load_scenario, resolved, scenario_hash

    root, rel = Path(job["root"]), job["path"]
    path = root / rel
    scenario = load_scenario(path, job.get("sets") or [])
    n = int(job.get("replications") or scenario.replications)
    seed = scenario.seed if job.get("seed") is None else int(job["seed"])
    started = time.perf_counter()
    so_far = engine.RunResult(scenario, seed)

    def finished(rep: Any) -> None:
        so_far.replications.append(rep)
        rows = kpi_rows(so_far.summary(), scenario.time_unit) if len(so_far.replications) > 1 \
            else []
        send({"type": "progress", "done": len(so_far.replications), "total": n,
              "estimates": rows, "seconds": round(time.perf_counter() - started, 3)})

    result = engine.run(scenario, n, seed, progress=finished)
    report = RunReport(Path(rel).stem, scenario, result, str(path),
                       seconds=time.perf_counter() - started, sets=list(job.get("sets") or []))
    answer = {"estimates": kpi_rows(report.estimates(), scenario.time_unit),
              "warnings": caveat_lines(report.caveats()), "replications": n, "seed": seed,
              "seconds": round(report.seconds, 3), "scenario_hash": scenario_hash(scenario)}
    send({"type": "progress", "done": n, "total": n, "estimates": answer["estimates"],
          "warnings": answer["warnings"], "writing": True})
    out = out_folder(root, Path(rel).stem, job["key"])
    record = RunRecord("run", argv=["studio", "run", rel, "-n", str(n), "--seed", str(seed)])
    with staged_folder(out, last=["run.json"]) as stage:
        written = report.write(stage, report=True)
        record.seed, record.replications = seed, n
        record.scenario(report.label, rel, scenario_hash(scenario))
        record.details.update({"scenario": rel, "sets": report.sets,
                               "scenario_hash": scenario_hash(scenario),
                               "warmup": float(scenario.warmup), "warmup_estimate": None,
                               "precision": None, "resolved_scenario": resolved(scenario),
                               "pipeline": None})
        write_record(stage, record, written)
    answer["out"] = out.relative_to(root).as_posix()
    answer["report"] = f"{answer['out']}/report.html"
    return answer


def compare_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """Compare a baseline file with redesign files on common random numbers."""
    from salessim.api.comparing import compare
    from salessim.api.scenarios import load
    from salessim.output import staged_folder
    from salessim.reports.tables import comparison_frame, verdicts_frame
    from salessim.runrecord import RunRecord, write_record
    from salessim.scenario import resolved

    root = Path(job["root"])
    files = [job["baseline"], *job["redesigns"]]
    n = job.get("replications")
    base = load(root / files[0])
    total = (n or base.replications) * len(files)
    report = compare(*(root / f for f in files), replications=n, seed=job.get("seed"),
                              progress=_Bar(total, send))
    comparison = report.comparison
    out = root / OUT / f"compare-{job['key']}"
    record = RunRecord("compare", argv=["studio", "compare", *files])
    with staged_folder(out, last=["compare.json"]) as stage:
        written = report.write(stage)
        record.seed, record.replications = comparison.seed, comparison.replications
        for run, rel in zip(comparison.runs, files, strict=True):
            record.scenario(run.label, rel, run.hash)
        record.details.update({
            "baseline": files[0], "redesigns": files[1:], "sets": report.sets,
            "scenario_hashes": {r.label: r.hash for r in comparison.runs},
            "warmup": float(comparison.baseline.scenario.warmup),
            "holm_adjusted": comparison.holm_adjusted,
            "resolved_scenarios": {r.label: resolved(r.scenario) for r in comparison.runs}})
        write_record(stage, record, sorted(written), name="compare.json")
    rel_out = out.relative_to(root).as_posix()
    pngs = sorted(p.name for p in out.glob("*.png"))
    return {"verdicts": verdicts_frame(comparison).to_dict("records"),
            "table": comparison_frame(comparison, report.headline()).to_dict("records"),
            "warnings": [c.text() for c in report.caveats()],
            "replications": comparison.replications, "seed": comparison.seed,
            "out": rel_out, "report": f"{rel_out}/report.html",
            "figures": [f"{rel_out}/{p}" for p in pngs]}


def whatif_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """The scenario with the sliders' values against itself, on the same random numbers.

    The baseline's replications are kept in ``memory`` (by resolved hash, seed and
    replications), so a slider's next move runs only the changed scenario.
    """
    from salessim.api.comparing import compare, scenario_runs
    from salessim.reports.tables import comparison_frame
    from salessim.scenario import load_scenario, scenario_hash

    path = Path(job["root"]) / job["path"]
    base = load_scenario(path)
    changed = load_scenario(path, job["sets"])
    n = int(job.get("replications") or base.replications)
    seed = base.seed if job.get("seed") is None else int(job["seed"])
    key = ("whatif", scenario_hash(base), seed, n)
    baseline, (other,) = scenario_runs(base, [changed], labels=["baseline", "what-if"])
    baseline.result = memory.get(key)
    todo = n if baseline.result is not None else 2 * n
    report = compare(baseline, other, replications=n, seed=seed,
                              progress=_Bar(todo, send))
    memory.clear()  # one baseline at a time: a folder of scenarios must not fill the memory
    memory[key] = report.comparison.baseline.result
    # The utilisation of each role a slider moved, beside the headline KPIs.
    moved = [f"utilisation.{s.split('.')[1]}" for s in job["sets"] if s.startswith("roles.")]
    kpis = [*report.headline(), *(k for k in moved if k not in report.headline())]
    return {"table": comparison_frame(report.comparison, kpis).to_dict("records"),
            "replications": n, "seed": seed, "sets": job["sets"],
            "baseline_reused": todo == n}


def classroom_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """For teaching: the flow analysis beside a short run (``run --analytic``), the story of
    the first leads (``trace``) and the animation of the first replication."""
    from salessim import engine
    from salessim.api.analysis import analyse, versus_text
    from salessim.output import write_text
    from salessim.scenario import load_scenario
    from salessim.teaching.animation import animation_html
    from salessim.teaching.trace import trace

    root, rel = Path(job["root"]), job["path"]
    scenario = load_scenario(root / rel)
    n = int(job.get("replications") or 5)
    seed = scenario.seed if job.get("seed") is None else int(job["seed"])
    result = engine.run(scenario, n, seed, event_log=1, progress=_Ticks(n, send))
    log = result.event_log()
    out = root / OUT / f"classroom-{Path(rel).stem}-{job['key']}"
    write_text(out / "animation.html", animation_html(scenario, log, float(scenario.warmup),
                                                       float(scenario.horizon)))
    return {"analysis": analyse(scenario).summary(), "versus": versus_text(result),
            "trace": trace(scenario, log, int(job.get("leads") or 5)), "replications": n,
            "seed": seed, "animation": f"{out.relative_to(root).as_posix()}/animation.html"}


class _Ticks(_Bar):
    """The engine's progress callback (one call per finished replication) as ticks."""

    def __call__(self, _replication: object) -> None:
        self.update(1)


def _forecast(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    from salessim.studio.forecasting import forecast_job

    return forecast_job(job, send, memory)


def _case(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    from salessim.studio.cases import case_job

    return case_job(job, send, memory)


def _backtest(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    from salessim.studio.forecasting import backtest_job

    return backtest_job(job, send, memory)


HANDLERS = {"run": run_job, "compare": compare_job, "whatif": whatif_job,
            "classroom": classroom_job, "forecast": _forecast, "case": _case,
            "backtest": _backtest}
