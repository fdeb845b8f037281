"""The folder's YAML files: list them with their validation state, check an unsaved text,
read one with its version, save one without losing anybody's work.

Checking uses the loader itself (:func:`salessim.scenario.load_scenario`), so the
problems are the exact ``salessim validate`` messages with their file and line. An
unsaved text is checked as a hidden file beside the real one, so that ``extends:``
resolves as it will once saved; the hidden file is removed at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from salessim.errors import Problem, SalessimError, ScenarioError
from salessim.output import write_text
from salessim.studio.paths import inside, relative

#: Folders never listed: outputs, environments, the studio's backups.
SKIPPED = {"out", "results", "node_modules", "__pycache__", "venv"}
#: Where the previous version of a saved file goes, inside the folder.
BACKUPS = ".studio-backups"
#: Most files listed (a folder of thousands is not a scenario folder).
MAX_FILES = 500


class Conflict(SalessimError):
    """The file changed on disk since the browser opened it: not overwritten."""


def version(text: str) -> str:
    """The version of a file's text the browser holds (SHA-256 of its bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kind(data: Any) -> str:
    """What a YAML document is, from its top-level keys."""
    if not isinstance(data, dict):
        return "other"
    if "extends" in data:
        return "redesign"
    if "stages" in data:
        return "scenario"
    if "designs" in data or "factors" in data:
        return "experiment"
    if "before" in data and "after" in data and "title" in data:
        return "case"
    return "other"


def yaml_files(root: Path) -> list[Path]:
    """The ``.yaml`` and ``.yml`` files under ``root``, outputs and hidden folders left out."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED)
        for name in sorted(names):
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                found.append(Path(folder) / name)
                if len(found) >= MAX_FILES:
                    return found
    return found


def problem_json(root: Path, problem: Problem, shown_as: dict[str, str]) -> dict[str, Any]:
    """A located problem for the browser: the file relative to the folder, the line, the
    message exactly as ``validate`` prints it (with the file as the folder names it)."""
    file = problem.file
    if file is not None:
        file = shown_as.get(file, file)
        try:
            file = relative(root, Path(file).resolve())
        except ValueError:
            pass
    shown = Problem(problem.field, problem.rule, problem.value, file, problem.line)
    return {"file": file, "line": problem.line, "field": problem.field, "rule": problem.rule,
            "message": str(shown)}


def check_path(root: Path, path: Path, shown_as: dict[str, str] | None = None
               ) -> tuple[Any, list[dict[str, Any]]]:
    """Load a scenario file: the scenario, or None and its problems."""
    from salessim.scenario import load_scenario

    try:
        return load_scenario(path), []
    except ScenarioError as exc:
        return None, [problem_json(root, p, shown_as or {}) for p in exc.problems]
    except SalessimError as exc:
        return None, [{"file": relative(root, path), "line": None, "field": "",
                       "rule": str(exc), "message": str(exc)}]


def list_files(root: Path) -> list[dict[str, Any]]:
    """Each YAML file of the folder: its path, kind and validation state."""
    rows = []
    for path in yaml_files(root):
        rel = relative(root, path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            data = None
        what = kind(data)
        row: dict[str, Any] = {"path": rel, "kind": what, "state": "-", "problems": []}
        if what in ("scenario", "redesign") or data is None:
            scenario, problems = check_path(root, path)
            row["state"] = "ok" if scenario is not None else "invalid"
            row["problems"] = problems
            if scenario is not None:
                row["name"] = scenario.name
        elif what == "case":
            row.update(case_state(root, path))
        rows.append(row)
    return rows


def case_state(root: Path, path: Path) -> dict[str, Any]:
    """A casebook case's state: its case.yaml and the scenarios it names checked."""
    from salessim.teaching.casebook import CASE_FILE, load_case

    if path.name != CASE_FILE:
        return {}
    try:
        case = load_case(path.parent)
    except ScenarioError as exc:
        return {"state": "invalid", "problems": [problem_json(root, p, {}) for p in exc.problems]}
    except SalessimError as exc:
        return {"state": "invalid", "problems": [{"file": relative(root, path), "line": None,
                                                  "field": "", "rule": str(exc),
                                                  "message": str(exc)}]}
    return {"state": "ok", "name": case.title}


def read_file(root: Path, rel: str) -> dict[str, Any]:
    """A file's text and version."""
    text = inside(root, rel).read_text(encoding="utf-8")
    return {"path": rel, "text": text, "version": version(text)}


def check_text(root: Path, rel: str, text: str) -> tuple[Any, list[dict[str, Any]]]:
    """Check an unsaved text of file ``rel``: the scenario, or None and its problems.

    The text is written to a hidden file beside ``rel`` (so ``extends:`` resolves as it
    will), loaded, and removed; problems name ``rel``, not the hidden file.
    """
    path = inside(root, rel)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.check.", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return check_path(root, Path(tmp), {tmp: str(path)})
    finally:
        os.unlink(tmp)


def merged_data(root: Path, rel: str, text: str) -> dict[str, Any]:
    """The unsaved text of ``rel`` merged as the loader merges it (its ``extends:``
    resolved), values as written; checked as :func:`check_text` checks, beside the file."""
    from salessim.scenario.load import read_document

    path = inside(root, rel)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.check.", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return read_document(tmp).data
    finally:
        os.unlink(tmp)


def save_file(root: Path, rel: str, text: str, known: str | None) -> dict[str, Any]:
    """Save ``text`` as ``rel``, keeping the previous version in :data:`BACKUPS`.

    Args:
        known: the version the browser opened (None for a new file). When the file on
            disk is not that version (another editor saved it, or it was created since),
            nothing is written and :class:`Conflict` says so.
    """
    path = inside(root, rel)
    if path.exists():
        current = path.read_text(encoding="utf-8")
        if known is None or version(current) != known:
            raise Conflict(f"{rel} changed on disk since it was opened (another editor?): "
                           f"not overwritten; reload it or save under another name")
        if current != text:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            backup = root / BACKUPS / f"{rel}.{stamp}"
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, backup)
    elif known is not None:
        raise Conflict(f"{rel} was removed on disk since it was opened: not written; "
                       f"save under a name again to create it")
    write_text(path, text)
    return {"path": rel, "version": version(text)}


def backups(root: Path, rel: str) -> list[str]:
    """The backups of ``rel``, oldest first, as paths inside the folder."""
    folder = (root / BACKUPS / rel).parent
    name = Path(rel).name
    if not folder.is_dir():
        return []
    return sorted(relative(root, p) for p in folder.glob(f"{name}.*"))


#: A new scenario from the template: the smallest whole process, each key explained.
TEMPLATE = """\
# A new scenario: leads arrive, staff work them, each stage routes them on.
# (salessim validate checks it; the studio's editor completes keys: Ctrl-Space.)
name: {name}
time_unit: day
horizon: 180          # days simulated per replication
warmup: 30            # leads created before day 30 are not counted
replications: 20
seed: 1
calendar: {{workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}}

roles:
  sdr: {{headcount: 2, cost_per_hour: 35}}
  ae:  {{headcount: 2, cost_per_hour: 70}}

sources:
  inbound: {{rate: 6, cost_per_lead: 40, deal_value: {{dist: lognormal, mean: 15000, cv: 0.8}}}}

entry: qualify
stages:
  qualify:
    role: sdr
    work: {{dist: lognormal, mean: "40 minutes", cv: 0.5}}   # staff time: the SDR is busy
    patience: {{dist: exponential, mean: 2}}                 # waits longer: the lead goes cold
    next: {{pitch: 0.3, lost: 0.7}}
  pitch:
    role: ae
    work: {{dist: triangular, low: "1 hour", mode: "2 hours", high: "4 hours"}}
    delay: {{dist: lognormal, mean: 10, cv: 1.0}}            # customer-side time: nobody busy
    next: {{won: 0.4, lost: 0.6}}
"""


def new_file(root: Path, rel: str, start: str | None, how: str) -> dict[str, Any]:
    """Create ``rel``: from the ``template`` (a small whole scenario), or from the folder's
    file ``start``: a ``copy`` of it, or a ``redesign`` (an empty ``extends:`` file to fill
    in). An existing ``rel`` is never overwritten."""
    from salessim.errors import UsageError

    if not rel.endswith((".yaml", ".yml")):
        raise UsageError(f"a scenario file ends in .yaml or .yml, got {rel!r}")
    path = inside(root, rel)
    if path.exists():
        raise UsageError(f"{rel} exists already: choose another name")
    if how == "template":
        path.parent.mkdir(parents=True, exist_ok=True)
        return save_file(root, rel, TEMPLATE.format(name=path.stem.replace("_", " ")), None)
    source = inside(root, str(start or ""))
    if how == "copy":
        text = source.read_text(encoding="utf-8")
    elif how == "redesign":
        ref = Path(os.path.relpath(source, path.parent)).as_posix()
        text = (f"# A redesign of {start}: write only what changes (new stages, roles and "
                f"sources under add:).\nextends: {ref}\nname: {path.stem}\n")
    else:
        raise UsageError(f"a new file is a copy, a redesign or the template, got {how!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_file(root, rel, text, None)
