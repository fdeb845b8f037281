"""Save as redesign: a small ``extends:`` file holding only what the edits changed.

The edited scenario and its base are compared as the loader merges them
(:func:`salessim.scenario.load.read_document`), and the difference is written by the
loader's merge rules in reverse: a changed map is written key by key, a changed list,
value, routing (``next``) or distribution of another ``dist`` is written whole, a removed
key is written as ``null``, and a stage, role or source the base lacks goes under
``add:``. The file is then loaded back and must resolve to the very scenario edited.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from salessim.errors import UsageError
from salessim.scenario.editor_schema import ADDABLE
from salessim.studio.paths import inside

_WHOLE = {"next"}


def difference(base: Any, edited: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a redesign of ``base`` must write to merge into ``edited`` (both mappings)."""
    out: dict[str, Any] = {}
    for key, value in edited.items():
        if key not in base:
            out[key] = value
            continue
        old = base[key]
        whole = (str(key) in _WHOLE or not (isinstance(old, dict) and isinstance(value, dict))
                 or ("dist" in value and value.get("dist") != old.get("dist")))
        if whole:
            if old != value:
                out[key] = value
        else:
            changed = difference(old, value, (*path, str(key)))
            if changed:
                out[key] = changed
    for key in base:
        if key not in edited:
            out[key] = None
    return out


def with_add(change: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """``change`` with the stages, roles and sources its base lacks moved under ``add:``."""
    added: dict[str, Any] = {}
    out = dict(change)
    for group in ADDABLE:
        items = out.get(group)
        known = base.get(group) or {}
        if isinstance(items, dict):
            new = {k: v for k, v in items.items() if k not in known}
            if new:
                added[group] = new
                kept = {k: v for k, v in items.items() if k in known}
                if kept:
                    out[group] = kept
                else:
                    del out[group]
    if added:
        out["add"] = added
    return out


def redesign_text(root: Path, base_rel: str, edited_text: str, new_rel: str) -> str:
    """The text of a redesign at ``new_rel`` that extends ``base_rel`` into ``edited_text``.

    Raises:
        UsageError: the edited text or the base does not load, or nothing changed.
    """
    from salessim.errors import ScenarioError
    from salessim.scenario.load import read_document
    from salessim.studio.files import check_text, merged_data

    base_path, new_path = inside(root, base_rel), inside(root, new_rel)
    scenario, problems = check_text(root, base_rel, edited_text)
    if scenario is None:
        raise UsageError(f"fix the scenario before saving it as a redesign: "
                         f"{problems[0]['message']}")
    try:
        base = read_document(base_path).data
    except ScenarioError as exc:
        raise UsageError(f"the base {base_rel} does not load: {exc}") from None
    edited = merged_data(root, base_rel, edited_text)
    change = difference(base, edited)
    if not change:
        raise UsageError(f"the edits change nothing in {base_rel}: no redesign to save")
    ref = Path(os.path.relpath(base_path, new_path.parent)).as_posix()
    header = (f"# A redesign of {base_rel}: only what differs from it (saved by salessim "
              f"studio).\n")
    body = yaml.safe_dump({"extends": ref, **with_add(change, base)}, sort_keys=False,
                          allow_unicode=True, width=100)
    return header + body


def save_redesign(root: Path, base_rel: str, edited_text: str, new_rel: str) -> dict[str, Any]:
    """Write the redesign (never over an existing file) and check it loads back to the
    edited scenario (same resolved hash); returns its path and text."""
    from salessim.output import write_text
    from salessim.scenario import load_scenario, scenario_hash
    from salessim.studio.files import check_text, version

    new_path = inside(root, new_rel)
    if not new_rel.endswith((".yaml", ".yml")):
        raise UsageError(f"a redesign is a .yaml file, got {new_rel!r}")
    if new_path.exists():
        raise UsageError(f"{new_rel} exists already: choose another name")
    text = redesign_text(root, base_rel, edited_text, new_rel)
    edited, _ = check_text(root, base_rel, edited_text)
    write_text(new_path, text)
    if scenario_hash(load_scenario(new_path)) != scenario_hash(edited):
        new_path.unlink()
        raise UsageError("the redesign would not reproduce the edited scenario: not saved; "
                         "save the edits as a whole scenario instead")
    return {"path": new_rel, "text": text, "version": version(text)}
