"""From YAML files to a validated :class:`Scenario`.

A file may ``extends:`` another (a path relative to itself); the chain is merged from the
root down. Merge rules, chosen so a redesign states only what changes:

- maps merge key by key, recursively;
- lists and plain values replace;
- ``null`` deletes the key (``stages: {approval: null}`` removes a stage);
- a stage's ``next`` is replaced whole: a routing is one decision whose odds sum to 1;
- a stage's routing form is replaced whole: ``exits`` in a redesign drops the base's
  ``next`` and ``delay``, ``next`` drops the base's ``exits`` (a stage has one form);
- a distribution that names another ``dist`` replaces the old one instead of merging.

``--set key.path=value`` overrides come last. Every error names the file and line where
the offending field was written (the most derived file that writes it), the field path,
the rule and the value.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from salessim.errors import Problem, ScenarioError, did_you_mean
from salessim.scenario.document import SET_SOURCE as SET_SOURCE  # part of this API
from salessim.scenario.document import Document as Document  # part of this API
from salessim.scenario.document import Path_, exists
from salessim.scenario.editor_schema import ADDABLE
from salessim.scenario.editor_schema import json_schema as json_schema  # part of this API
from salessim.scenario.fields import allowed_keys
from salessim.scenario.locate import located_problems as located_problems  # part of this API
from salessim.scenario.schema import Scenario, process_problems
from salessim.scenario.size import size_problems
from salessim.scenario.yamlread import file_problem, load_value, parse_yaml, read_text

_REPLACED_WHOLE = {"next"}


def merge(base: Any, change: Any, path: Path_ = ()) -> Any:
    """``change`` merged into ``base`` by the rules above (neither is modified)."""
    if not (isinstance(base, dict) and isinstance(change, dict)):
        return copy.deepcopy(change)
    if path and path[-1] in _REPLACED_WHOLE:
        return copy.deepcopy(change)
    if "dist" in change and change.get("dist") != base.get("dist"):
        return copy.deepcopy(change)
    merged = dict(base)
    if len(path) == 2 and path[0] == "stages":
        for key in _other_form(base, change):
            merged.pop(key, None)
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = merge(merged[key], value, (*path, str(key)))
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _other_form(base: dict[str, Any], change: dict[str, Any]) -> list[str]:
    """The keys of a stage's routing form that ``change`` replaces by the other form."""
    if change.get("exits") is not None and "exits" not in base:
        return [k for k in ("next", "delay") if k not in change]
    if change.get("next") is not None and "exits" in base and "exits" not in change:
        return ["exits"]
    return []


def read_document(path: str | Path, _chain: tuple[Path, ...] = ()) -> Document:
    """Read a scenario file and the files it ``extends``, merged, with key origins.

    A base named by ``extends:`` is a path relative to the file that names it (or an
    absolute path) ending in ``.yaml`` or ``.yml``, and a regular file (never a device or
    a FIFO); a chain holds at most :data:`MAX_EXTENDS` bases. Errors about a base never
    quote its content.
    """
    path = Path(path)
    name = str(path)
    resolved = path.resolve()
    data, lines = parse_yaml(read_text(path), name)
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "a scenario must be a YAML mapping of keys to values",
                                     type(data).__name__, name, 1)])
    origins = {p: (name, line) for p, line in lines.items()}
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        if "add" in data:
            raise ScenarioError([Problem("add", "add: is for a redesign (a file with extends:): "
                                         "a whole scenario writes its stages, roles and "
                                         "sources where they belong", "add",
                                         name, lines.get(("add",)))])
        return Document(data, origins, [name])
    at = lines.get(("extends",))
    parent_path = _base_path(path, parent_ref, name, at)
    chain = (*_chain, resolved)
    if parent_path.resolve() in chain:
        # Reported where the cycle closes: the extends line that points back up the chain.
        cycle = " -> ".join(str(p) for p in (*chain, parent_path.resolve()))
        raise ScenarioError([Problem("extends", "extends must not form a cycle", cycle, name, at)])
    if len(chain) > MAX_EXTENDS:
        raise ScenarioError([Problem("extends", f"a chain of extends may hold at most "
                                     f"{MAX_EXTENDS} bases", f"more than {MAX_EXTENDS}", name, at)])
    try:
        parent = read_document(parent_path, chain)
    except ScenarioError as exc:
        if len(exc.problems) == 1 and exc.problems[0].file == str(parent_path) \
                and exc.problems[0].rule.startswith(("not valid YAML", "a scenario must be")):
            # Not a scenario at all: say so without echoing what the file holds.
            raise ScenarioError([Problem("extends", "the base is not a YAML scenario (a mapping "
                                         "of keys to values)", parent_ref, name, at)]) from None
        raise
    data = with_additions(data, parent.data, lines, name)
    # An error inside an added item points at the line under add: where it is written.
    origins.update({p[1:]: (name, line) for p, line in lines.items()
                    if p[:1] == ("add",) and len(p) > 2})
    merged = merge(parent.data, data)
    merged_origins = {p: o for p, o in parent.origins.items() if exists(merged, p)}
    merged_origins.update({p: o for p, o in origins.items() if p != ("extends",)})
    return Document(merged, merged_origins, [*parent.files, name])


def with_additions(data: dict[str, Any], base: dict[str, Any], lines: dict[Path_, int],
                    name: str) -> dict[str, Any]:
    """A redesign's keys with its ``add:`` moved into place, after checking both.

    A stage, role or source a redesign names must be one of its base's (a misspelt
    ``qualfy`` would otherwise become a new, half-written stage); a new one is written
    under ``add:`` and must not be one already.
    """
    problems: list[Problem] = []
    for group in ADDABLE:
        changed, known = data.get(group), base.get(group)
        if isinstance(changed, dict) and isinstance(known, dict):
            for key in changed:
                if key not in known:
                    problems.append(Problem(
                        f"{group}.{key}", f"the base has no such {group[:-1]}"
                        f"{did_you_mean(str(key), [str(k) for k in known])}; to add one, write "
                        f"it under add: {group}: ({', '.join(map(str, known))})", key, name,
                        lines.get((group, key))))
    added = data.get("add")
    if added is not None:
        if not isinstance(added, dict) or set(added) - set(ADDABLE):
            problems.append(Problem("add", f"add: holds {', '.join(ADDABLE)}: new ones by id",
                                    added if not isinstance(added, dict) else
                                    sorted(map(str, set(added) - set(ADDABLE))), name,
                                    lines.get(("add",))))
        else:
            for group, items in added.items():
                for key in items if isinstance(items, dict) else ():
                    if key in (base.get(group) or {}) or key in (data.get(group) or {}):
                        problems.append(Problem(f"add.{group}.{key}", f"the base has this "
                                                f"{group[:-1]} already: change it under "
                                                f"{group}: instead", key, name,
                                                lines.get(("add", group, key))))
    if problems:
        raise ScenarioError(problems)
    if not added:
        return data
    data = {k: v for k, v in data.items() if k != "add"}
    for group, items in added.items():
        data[group] = {**(data.get(group) or {}), **(items or {})}
    return data


#: Most bases a chain of ``extends:`` may hold.
MAX_EXTENDS = 32


def _base_path(path: Path, ref: Any, name: str, line: int | None) -> Path:
    """The file ``extends: ref`` names, or the rule it breaks."""
    def refuse(rule: str) -> ScenarioError:
        return ScenarioError([Problem("extends", rule, ref, name, line)])

    if not isinstance(ref, str):
        raise refuse("must be a file path")
    if Path(ref).suffix.lower() not in (".yaml", ".yml"):
        raise refuse("must name a .yaml or .yml file")
    parent_path = path.parent / ref
    problem = file_problem(parent_path)
    if problem == "no such file":
        raise refuse("no such file (paths are relative to this file)")
    if problem is not None:
        raise refuse(problem)
    return parent_path


def apply_sets(doc: Document, assignments: list[str]) -> Document:
    """Apply ``key.path=value`` overrides; the value is read as YAML (``2``, ``"3 days"``)."""
    data = copy.deepcopy(doc.data)
    origins = dict(doc.origins)
    for i, text in enumerate(assignments, start=1):
        key, sep, raw = text.partition("=")
        keys = key.strip().split(".")
        if not sep or not all(keys):
            raise ScenarioError([Problem("", "an override is key.path=value, like "
                                         "stages.close.delay.mean=2", text, SET_SOURCE, i)])
        try:
            value = load_value(raw)
        except yaml.YAMLError:
            value = raw
        node: dict[str, Any] | list[Any] = data
        for k in keys[:-1]:
            child: Any
            if isinstance(node, list) and (j := _index(k, node)) is not None:
                child = node[j]  # a list item: calendar.hours.1
            else:
                child = node.get(k) if isinstance(node, dict) else None
            if not isinstance(child, dict | list):
                if value is None or not isinstance(node, dict):  # nothing to create
                    break
                child = {}
                node[k] = child
            node = child
        else:
            last = keys[-1]
            if isinstance(node, list):
                at = _index(last, node)
                if at is None:
                    raise ScenarioError([Problem(key, f"a list of {len(node)} items: give an "
                                                 f"index from 0 to {len(node) - 1}", last,
                                                 SET_SOURCE, i)])
                node[at] = value
            elif value is None:
                node.pop(last, None)
            else:
                node[last] = value
        # Lines of the replaced subtree no longer describe the document.
        prefix = tuple(keys)
        origins = {p: o for p, o in origins.items() if p[: len(prefix)] != prefix}
        origins[prefix] = (SET_SOURCE, i)
    return Document(data, origins, [*doc.files])


#: What an entry of a map of ids is called in messages.
_ENTRY = {"stages": "stage", "roles": "role", "sources": "source", "parallel": "task",
          "score_factors": "score factor"}


def check_set_paths(doc: Document, assignments: list[str]) -> None:
    """Refuse a ``--set`` whose path names no key of the scenario, with a did-you-mean.

    Under a map of ids (``stages``, ``roles``, ``sources``, a stage's ``parallel`` tasks)
    an unknown id followed by a key would create a new, incomplete entry (and ``=null``
    would delete nothing), so ``stages.closng.work=2`` is refused here: did you mean
    ``closing``? A whole new entry, ``stages.review={...}``, is allowed. Under a model,
    a key that is not one of its fields is refused the same way. Syntax errors are left to
    :func:`apply_sets`.

    Raises:
        ScenarioError: naming ``--set``, the override's position, the path, rule and value.
    """
    problems: list[Problem] = []
    for i, text in enumerate(assignments, start=1):
        key, sep, raw = text.partition("=")
        keys = tuple(key.strip().split("."))
        if not sep or not all(keys):
            continue
        try:
            deletes = load_value(raw) is None
        except yaml.YAMLError:
            deletes = False
        node: Any = doc.data
        for depth, k in enumerate(keys):
            if isinstance(node, list) and (j := _index(k, node)) is not None:
                node = node[j]
                continue
            if not isinstance(node, dict):
                break
            if k in node:
                node = node[k]
                continue
            allowed = allowed_keys(Scenario, keys[:depth])
            field_ = ".".join(keys[: depth + 1])
            if allowed and k not in allowed:
                problems.append(Problem(field_, f"unknown key{did_you_mean(k, allowed)}; "
                                        f"allowed here: {', '.join(allowed)}", k, SET_SOURCE, i))
            elif depth == len(keys) - 1 and not deletes:
                pass  # a whole new entry (stages.review={...}): validated as any other
            elif not allowed and allowed_keys(Scenario, keys[: depth + 1]):
                what = _ENTRY.get(keys[depth - 1], "entry") if depth else "entry"
                have = f"; there are: {', '.join(node)}" if node else ""
                problems.append(Problem(field_, f"no {what} {k!r} in the scenario"
                                        f"{did_you_mean(k, node)}{have}", k, SET_SOURCE, i))
            break
    if problems:
        raise ScenarioError(problems)


def _index(key: str, items: list[Any]) -> int | None:
    """``key`` as a position in ``items``, or None."""
    return int(key) if key.isdigit() and int(key) < len(items) else None


def validate_document(doc: Document) -> Scenario:
    """Validate a merged document into a Scenario, or raise one error with every problem."""
    data = dict(doc.data)
    try:  # duration strings in the document's own time unit (Scenario.model_validate)
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(located_problems(doc, exc)) from None
    problems = process_problems(scenario) or size_problems(scenario)
    for p in problems:
        p.file, p.line = doc.locate(tuple(p.field.split(".")))
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: str | Path, sets: list[str] | None = None) -> Scenario:
    """Read, merge, override and validate a scenario file.

    Raises:
        ScenarioError: the file cannot be read or breaks a rule; the message names file,
            line, field, rule and value.
    """
    doc = read_document(path)
    if sets:
        check_set_paths(doc, sets)
        doc = apply_sets(doc, sets)
    return validate_document(doc)


def resolved(scenario: Scenario) -> dict[str, Any]:
    """The fully resolved scenario as plain JSON data (every default filled in)."""
    return scenario.model_dump(mode="json", by_alias=True)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the canonical JSON of the resolved scenario."""
    canonical = json.dumps(resolved(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- turning pydantic's errors into problems that name file, line, field, rule, value ---
