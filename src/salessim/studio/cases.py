"""A casebook case in the Classroom: its ``case.yaml`` (story, questions, expected verdicts)
and a job that runs its before and after scenarios and sets the verdicts found beside
the ones the case expects (:mod:`salessim.teaching.casebook`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from salessim.studio.paths import inside, relative

#: The story and questions of a case, beside its case.yaml.
README = "README.md"
#: Most characters of a README shown (a case's story is a page, not a book).
MAX_README = 20_000


def case_info(root: Path, rel: str) -> dict[str, Any]:
    """A case's file as the page shows it: title, source, scenarios, expected verdicts
    and the README's text (its story and questions).

    Raises:
        ScenarioError: the case.yaml breaks a rule (with its file and line).
    """
    from salessim.teaching.casebook import CASE_FILE, load_case

    path = inside(root, rel)
    if path.name != CASE_FILE:
        from salessim.errors import UsageError

        raise UsageError(f"a case is a folder's {CASE_FILE}, got {rel!r}")
    folder = path.parent
    case = load_case(folder)
    readme = folder / README
    story = readme.read_text(encoding="utf-8")[:MAX_README] if readme.is_file() else ""
    scenario = {name: relative(root, folder / name) for name in [case.before, *case.after]}
    return {"path": rel, "title": case.title, "source": case.source,
            "before": scenario[case.before], "after": [scenario[a] for a in case.after],
            "replications": case.replications, "readme": story,
            "expected": [{"after": a, "kpi": k, "verdict": v} for a, k, v in case.expected()]}


def case_job(job: dict[str, Any], send: Any, memory: dict[Any, Any]) -> dict[str, Any]:
    """Run a case's before and after scenarios on common random numbers (in the worker):
    each expected verdict beside the one found, and the KPIs they are about."""
    from salessim import kpis as registry
    from salessim.compare import compare, load_runs
    from salessim.reports.tables import comparison_frame
    from salessim.studio.progress import Bar
    from salessim.teaching.casebook import load_case, verdict_of

    folder = (Path(job["root"]) / job["path"]).parent
    case = load_case(folder)
    base, redesigns = load_runs(folder / case.before, [folder / a for a in case.after])
    n = int(job.get("replications") or case.replications)
    bar = Bar(n * (1 + len(redesigns)), send)
    comparison = compare(base, redesigns, n, job.get("seed"), progress=lambda _: bar.update())
    verdicts: list[dict[str, Any]] = []
    names: list[str] = []
    for after, kpi, expected in case.expected():
        found = verdict_of(comparison, Path(after).stem, kpi, expected)
        verdicts.append({"after": after, "kpi": kpi, "label": registry.label(kpi),
                         "expected": expected, "found": found, "holds": found == expected})
        names += [] if kpi in names else [kpi]
    return {"verdicts": verdicts, "table": comparison_frame(comparison, names).to_dict("records"),
            "replications": comparison.replications, "seed": comparison.seed}
