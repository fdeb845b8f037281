"""JSON Schemas of scenario files, for editors and validators (``salessim schema``).

pydantic's own schema of :class:`~salessim.scenario.schema.Scenario` describes the models
after their "before" validators ran, so it would refuse what the loader accepts. Two
schemas are derived from it:

- the full schema, for a file without ``extends:``: a distribution may also be written as
  a bare number or a duration string (``4``, ``"4 hours"``), the constant shorthand;
- the partial schema (``salessim schema --partial``), for a file that ``extends:`` another:
  it follows the merge rules of :mod:`salessim.scenario.load`: inside maps that merge key
  by key nothing is required and every value may be ``null`` (which deletes the key);
  what replaces whole (list items, a stage's ``next``, a distribution that names its
  ``dist``) is checked as in the full schema.

Both are supersets of the loader's rules on the shape of a file: a file the loader
accepts always validates; rules across fields (routes that reach an end, roles that
exist, odds that sum to 1) are only the loader's.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from salessim import kpis
from salessim.scenario.schema import Scenario
from salessim.scenario.units import DURATION_PATTERN, NUMBER_PATTERN

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: Suffix of the ``$defs`` entries of the partial schema.
PARTIAL = "Partial"
#: Keys whose value replaces the base's whole (see the merge rules of the loader).
_REPLACED_WHOLE = {"next"}
#: What :func:`salessim.compare.parse_target` accepts: a signed relative change (``-20%``)
#: or a bound written with ``<=`` / ``>=`` (``<= 0.85``, ``>= 3%``).
TARGET_PATTERN = (rf"^\s*(?:[-+](?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*%"
                  rf"|(?:<=|>=)\s*{NUMBER_PATTERN}\s*%?)\s*$")


#: The named collections a redesign may add to, but only under ``add:`` (a key of them
#: that its base lacks is an error elsewhere: a misspelt id must not become a new item).
ADDABLE = ("stages", "roles", "sources")


def kpi_name_pattern() -> str:
    """KPI names of the registry as one pattern (``utilisation.<role>`` takes any id)."""
    names = [re.escape(k.id).replace(re.escape("."), r"\.") for k in kpis.REGISTRY]
    names = [re.sub(r"<[a-z]+>", "[A-Za-z_][A-Za-z0-9_\\-]*", n) for n in names]
    return "^(?:" + "|".join(sorted(names, key=len, reverse=True)) + ")$"


def json_schema(partial: bool = False) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file.

    Args:
        partial: describe a redesign file (one with ``extends:``) instead of a whole scenario.
    """
    schema = Scenario.model_json_schema(by_alias=True)
    schema["properties"]["extends"] = {
        "type": "string", "pattern": r"\.[yY][aA]?[mM][lL]$",
        "description": "a base scenario file (.yaml or .yml), relative to this file"}
    schema["properties"]["targets"].update(
        propertyNames={"pattern": kpi_name_pattern()},
        additionalProperties={
            "type": "string", "pattern": TARGET_PATTERN,
            "description": "a signed relative change like '-20%' or '+5%', or a bound on the "
                           "redesign's mean like '<= 0.85'"})
    members = _with_shorthand(schema)
    if partial:
        schema = _partial_schema(schema, members)
    schema["$schema"] = DRAFT
    return schema


def _shorthand() -> dict[str, Any]:
    """A bare number or duration string: a constant distribution (never negative)."""
    return {"anyOf": [{"type": "number", "minimum": 0},
                      {"type": "string", "pattern": DURATION_PATTERN, "not": {"pattern": "^\\s*-"}}],
            "description": "a constant: a number in the scenario's time_unit, or a string "
                           "like '4 hours'"}


def _with_shorthand(schema: dict[str, Any]) -> set[str]:
    """Point every distribution at one ``Dist`` definition that also takes the shorthand;
    returns the names of the distributions' definitions."""
    members: set[str] = set()
    union: dict[str, Any] = {}

    def visit(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("discriminator", {}).get("propertyName") == "dist":
                members.update(r.rsplit("/", 1)[-1] for r in node["discriminator"]["mapping"].values())
                union.setdefault("schema", node)
                return {"$ref": "#/$defs/Dist"}
            return {k: visit(v) for k, v in node.items()}
        if isinstance(node, list):
            return [visit(v) for v in node]
        return node

    visited = visit(schema)
    schema.clear()
    schema.update(visited)
    if union:
        schema["$defs"]["Dist"] = {
            "anyOf": [_shorthand(), union["schema"]],
            "description": "a distribution: {dist: NAME, ...} or a constant (a number or a "
                           "duration string)"}
    return members


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` or ``null`` (which deletes the key in a file with ``extends:``)."""
    notes: dict[str, Any] = {k: node[k] for k in ("title", "description") if k in node}
    return {**notes, "anyOf": [{k: v for k, v in node.items() if k not in notes},
                               {"type": "null"}]}


def _partial_schema(full: dict[str, Any], members: set[str]) -> dict[str, Any]:
    """The schema of a file that extends another: see the module's docstring."""
    defs = full.pop("$defs")
    wanted: list[str] = []

    def partial(node: Any) -> Any:
        if isinstance(node, list):
            return [partial(v) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref":
                name = value.rsplit("/", 1)[-1]
                if name not in wanted:
                    wanted.append(name)
                out[key] = f"#/$defs/{name}{PARTIAL}"
            elif key in ("required", "minProperties"):
                continue  # a redesign states only what changes
            elif key == "properties":
                out[key] = {p: _nullable(copy.deepcopy(v) if p in _REPLACED_WHOLE else partial(v))
                            for p, v in value.items()}
            elif key == "additionalProperties" and isinstance(value, dict):
                out[key] = _nullable(partial(value))
            elif key == "patternProperties":  # a map of ids (stages, roles): merged per id
                out[key] = {p: _nullable(partial(v)) for p, v in value.items()}
            elif key in ("items", "prefixItems", "discriminator"):
                out[key] = copy.deepcopy(value)  # a list replaces whole; its items are full
            elif key in ("anyOf", "oneOf", "allOf"):
                # Without required keys, members of a oneOf may overlap: any one will do.
                out.setdefault("anyOf" if key != "allOf" else key, []).extend(partial(value))
            else:
                out[key] = copy.deepcopy(value)
        return out

    whole = {group: copy.deepcopy(full["properties"][group]) for group in ADDABLE}
    schema: dict[str, Any] = partial(full)  # a mapping in, a mapping out
    schema["required"] = ["extends"]
    # New stages, roles and sources are whole (their base has none to merge onto).
    schema["properties"]["add"] = {
        "type": "object", "additionalProperties": False, "properties": whole,
        "description": "stages, roles and sources the base does not have, each written whole"}
    new_defs = dict(defs)
    done: set[str] = set()
    while len(done) < len(wanted):
        for name in [n for n in wanted if n not in done]:
            done.add(name)
            body = partial(defs[name])
            if name in members and defs[name].get("required"):
                # A distribution that names its dist replaces the base's whole.
                body["if"] = {"required": ["dist"]}
                body["then"] = {"required": list(defs[name]["required"])}
            new_defs[f"{name}{PARTIAL}"] = body
    schema["$defs"] = new_defs
    return schema
