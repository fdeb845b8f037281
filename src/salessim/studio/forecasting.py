"""The Forecast page's job (in the worker process): the ``forecast`` command's outputs.

From a scenario, a file of open deals and a date: the bookings' fan chart, the chance to
reach a quota, the deals that matter most and, with a redesign (one more person, say), its
value on the same random numbers; written with ``run.json`` as ``salessim forecast --out``
writes them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

#: The open-deals files the page offers (the exports ``forecast --pipeline`` reads).
PIPELINE_SUFFIXES = (".csv", ".xlsx", ".parquet", ".json", ".xes")


def pipeline_files(root: Path) -> list[str]:
    """The folder's files that may hold open deals, outputs and hidden folders left out."""
    import os

    from salessim.studio.files import SKIPPED

    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED)
        found += [(Path(folder) / n).relative_to(root).as_posix() for n in sorted(names)
                  if n.lower().endswith(PIPELINE_SUFFIXES) and not n.startswith(".")]
    return found[:200]


def forecast_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """Forecast the bookings to ``until`` from the open deals in ``pipeline``."""
    from salessim.api.forecasting import plan, simulate
    from salessim.output import staged_folder
    from salessim.runrecord import RunRecord, write_record
    from salessim.scenario import scenario_hash
    from salessim.studio.paths import OUT
    from salessim.studio.progress import Bar

    root = Path(job["root"])
    redesigns = [root / r for r in job.get("redesigns") or []]
    quota = job.get("quota")
    checked = plan(root / job["path"], root / job["pipeline"], job["until"],
                   redesigns=redesigns, replications=job.get("replications"),
                   seed=job.get("seed"), quota=quota)
    report = simulate(checked, 1, Bar(checked.total_replications(), send))
    out = root / OUT / f"forecast-{job['key']}"
    record = RunRecord("forecast", argv=["studio", "forecast", job["path"], "--pipeline",
                                         job["pipeline"], "--until", str(job["until"])])
    with staged_folder(out, last=["run.json"]) as stage:
        written = report.write(stage)
        record.seed, record.replications = checked.seed, checked.replications
        for run in checked.runs:
            record.scenario(run.label, run.file, scenario_hash(run.forecast.scenario))
        record.details.update(report.record())
        write_record(stage, record, written)
    rel = out.relative_to(root).as_posix()
    chance = None
    table = report.quota()
    if table is not None:
        row = table.iloc[0]
        chance = {"probability": float(row["probability"]), "ci_low": float(row["ci_low"]),
                  "ci_high": float(row["ci_high"]), "quota": float(row["quota"])}
    figures = sorted(p.name for p in out.glob("*.png"))
    fan = next((f for f in figures if "fan" in f), figures[0] if figures else None)
    return {"summary": report.summary(), "quota": chance, "replications": checked.replications,
            "seed": checked.seed, "out": rel, "report": f"{rel}/report.html",
            "figure": None if fan is None else f"{rel}/{fan}",
            "finite": chance is None or math.isfinite(chance["probability"])}


def backtest_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """Back-test forecasts on a history (``forecast --backtest``): a forecast from an as-of
    date every ``every`` days, each ``horizon`` days long, calibrated on what was known then
    and scored against what happened; written with ``run.json`` as the command writes it."""
    from salessim.api.backtesting import backtest
    from salessim.output import staged_folder
    from salessim.runrecord import RunRecord, write_record
    from salessim.studio.paths import OUT
    from salessim.studio.progress import Bar

    root = Path(job["root"])
    n, seed = int(job["replications"]), int(job["seed"])
    report = backtest(root / job["history"], job["every"], job["horizon"], n, seed,
                      parameter_uncertainty=bool(job.get("uncertainty")), workers=1,
                      progress=Bar(0, send))
    scores = report.scores()
    out = root / OUT / f"backtest-{job['key']}"
    record = RunRecord("forecast", argv=["studio", "forecast", "--backtest", job["history"],
                                         "--every", str(job["every"]),
                                         "--horizon", str(job["horizon"])])
    with staged_folder(out, last=["run.json"]) as stage:
        written = report.write(stage)
        record.seed, record.replications = seed, n
        record.details.update({"backtest": job["history"], "every_days": report.every,
                               "horizon_days": report.horizon, "summary": scores})
        write_record(stage, record, written)
    rel = out.relative_to(root).as_posix()
    windows = [{"as_of": f"{w.as_of:%Y-%m-%d}", "until": f"{w.until:%Y-%m-%d}",
                "open": int(w.open_deals), "actual": float(w.actual), "p10": float(w.p10),
                "p50": float(w.p50), "p90": float(w.p90), "inside": bool(w.inside)}
               for w in report.to_frame().itertuples(index=False)]
    horizons = [{k: _finite(row[k]) for k in ("horizon_weeks", "forecasts", "inside",
                                                "coverage", "coverage_low", "coverage_high")}
                for row in report.horizons().to_dict("records")]
    coverage = {k: _finite(scores[k]) for k in ("inside", "forecasts", "coverage",
                                                "coverage_low", "coverage_high", "level")}
    return {"windows": windows, "coverage": coverage, "horizons": horizons,
            "band": scores["band"], "every": report.every, "horizon": report.horizon,
            "summary": report.summary(), "replications": n, "seed": seed, "out": rel,
            "figure": f"{rel}/backtest.png" if "backtest.png" in written else None}


def _finite(value: Any) -> float | None:
    """A number for the page's JSON (which has no NaN): None when it is not finite."""
    number = float(value)
    return number if math.isfinite(number) else None
