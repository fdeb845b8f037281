"""Completion in the studio's editor, from the scenario's JSON Schema (``salessim schema``).

At the cursor of a YAML text: the keys the schema allows in the mapping the cursor is in
(with their one-line help, keys the mapping already has left out), or the values it
allows for the key the cursor is after (an enum, a distribution's ``dist``, true/false),
and the ids the text defines where one belongs (a stage's role, the entry stage, a
routing target: the schema does not know them).
The position is read from the text's indentation and from the flow mapping the cursor
may be in (``se: {headcount: 3, co``), so a text that does not parse yet (the usual case
while typing) still completes. A file with ``extends:`` completes from the partial schema
(a redesign's), which also offers ``add:``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: A list item in a path (``sources.inbound.profile.[]``).
ITEM = "[]"
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][\w\-]*)\s*:(?:\s|$)")
_WORD = re.compile(r"[\w\-]*$")


@functools.lru_cache(maxsize=2)
def _schema(partial: bool) -> dict[str, Any]:
    from salessim.scenario.editor_schema import json_schema

    return json_schema(partial=partial)


def _resolve(schema: dict[str, Any], node: Any, seen: frozenset = frozenset()) -> list[dict]:
    """``node`` as the object or value schemas it may be (``$ref`` and unions expanded)."""
    if not isinstance(node, dict):
        return []
    ref = node.get("$ref")
    if ref is not None:
        if ref in seen:
            return []
        name = ref.rsplit("/", 1)[-1]
        return _resolve(schema, schema["$defs"][name], seen | {ref})
    out = [node]
    for union in ("anyOf", "oneOf", "allOf"):
        for member in node.get(union, []):
            out += _resolve(schema, member, seen)
    return out


def _child(schema: dict[str, Any], nodes: list[dict], key: str) -> list[dict]:
    """The schemas of ``key`` (or of a list item, :data:`ITEM`) under ``nodes``."""
    out: list[dict] = []
    for node in nodes:
        if key == ITEM:
            for part in ("items",):
                out += _resolve(schema, node.get(part))
            continue
        props = node.get("properties") or {}
        if key in props:
            out += _resolve(schema, props[key])
            continue
        for pattern, sub in (node.get("patternProperties") or {}).items():
            if re.search(pattern, key):
                out += _resolve(schema, sub)
        if isinstance(node.get("additionalProperties"), dict):
            out += _resolve(schema, node["additionalProperties"])
    return out


def node_at(path: list[str], partial: bool = False) -> list[dict]:
    """The schema nodes at ``path`` (keys, :data:`ITEM` for a list item) of a scenario file."""
    schema = _schema(partial)
    nodes = _resolve(schema, schema)
    for key in path:
        nodes = _child(schema, nodes, key)
    return nodes


def _help(node: dict[str, Any], schema: dict[str, Any]) -> str:
    """One line of help on a property: its description's first line, else its type."""
    nodes = _resolve(schema, node)
    consts = [n["const"] for n in nodes if "const" in n]
    if consts:
        return "one of " + ", ".join(map(str, consts))
    for n in nodes:
        text = (n.get("description") or "").strip()
        if text:
            return text.split("\n")[0].rstrip(":")
    kinds = []
    for n in nodes:
        if "enum" in n:
            kinds.append("one of " + ", ".join(map(str, n["enum"])))
        elif n.get("type") in ("number", "integer", "string", "boolean", "array", "object"):
            kinds.append({"object": "a mapping", "array": "a list"}.get(n["type"], n["type"]))
        elif "$ref" in n or n.get("discriminator"):
            name = (n.get("$ref") or "").rsplit("/", 1)[-1]
            kinds.append("a distribution" if name == "Dist" else f"a {name or 'mapping'}")
    kinds = list(dict.fromkeys(k for k in kinds if k))
    default = node.get("default")
    tail = f" (default {default})" if default not in (None, "", [], {}) else ""
    return (" or ".join(kinds) or node.get("title", "")) + tail


def keys_at(path: list[str], partial: bool = False) -> list[dict[str, str]]:
    """The keys the schema names at ``path``, each with its one-line help."""
    schema = _schema(partial)
    found: dict[str, list[dict]] = {}
    for node in node_at(path, partial):
        for key, sub in (node.get("properties") or {}).items():
            found.setdefault(key, []).append(sub)
    return [{"label": k, "detail": _help({"anyOf": subs, "default": subs[0].get("default")},
                                         schema), "kind": "key"}
            for k, subs in found.items()]


def values_at(path: list[str], partial: bool = False) -> list[dict[str, str]]:
    """The values the schema lists for the key at ``path`` (enums, consts, booleans)."""
    found: dict[str, str] = {}
    for node in node_at(path, partial):
        for value in [*node.get("enum", []), *([node["const"]] if "const" in node else [])]:
            if value is not None:
                found.setdefault(str(value), "")
        if node.get("type") == "boolean":
            found.setdefault("true", "")
            found.setdefault("false", "")
    return [{"label": k, "detail": v, "kind": "value"} for k, v in found.items()]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _parents(lines: list[str], row: int, indent: int, item: bool) -> list[str]:
    """The block keys enclosing a line at ``indent`` (row: its index; ``item``: it starts
    a list item, which may sit at its key's own indent), outermost first."""
    path: list[str] = []
    for above in reversed(lines[:row]):
        stripped = above.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        at, dash = _indent(above), stripped.startswith("- ")
        if at > indent or (at == indent and (dash or not item)):
            continue  # deeper, or a sibling
        match = _KEY_LINE.match(above)
        if dash:  # an item of the list that holds this line
            if match and at + 2 < indent and not above[match.end():].strip():
                path[:0] = [ITEM, match.group(2)]  # ``- key:`` whose value is below
            else:
                path.insert(0, ITEM)
            item = True
        elif match:
            path.insert(0, match.group(2))
            item = False
        else:
            continue
        indent = at
        if at == 0 and not dash:
            break
    return path


def _siblings(lines: list[str], row: int, indent: int) -> set[str]:
    """The keys the block mapping of line ``row`` already has (at the same indent)."""
    keys: set[str] = set()
    for step in (-1, 1):
        i = row + step
        while 0 <= i < len(lines):
            line = lines[i]
            if line.strip() and not line.lstrip().startswith("#"):
                if _indent(line) < indent:
                    break
                match = _KEY_LINE.match(line)
                if match and _indent(line) == indent:
                    keys.add(match.group(2))
            i += step
    return keys


def _flow(before: str) -> tuple[list[str], str] | None:
    """Inside an unclosed flow mapping: the keys leading into it and the text after its
    last ``{`` or ``,``; None outside one."""
    depth, opened, keys = 0, [], []
    quote = None
    for i, ch in enumerate(before):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            opened.append(i)
        elif ch == "}" and opened:
            opened.pop()
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    if not opened or depth:
        return None
    for at in opened:
        head = before[:at].rstrip()
        match = re.search(r"([A-Za-z_][\w\-]*)\s*:$", head)
        if match is None:
            return None
        keys.append(match.group(1))
    return keys, re.split(r"[{,]", before[opened[-1]:])[-1]


def _ids(lines: list[str], group: str) -> list[str]:
    """The ids a top-level block of the text names (``roles:`` -> its roles), in order."""
    ids: list[str] = []
    inside, indent = False, None
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _indent(line) == 0:
            inside = bool(re.match(rf"{group}\s*:\s*(#.*)?$", line))
            continue
        match = _KEY_LINE.match(line)
        if inside and match and (indent is None or _indent(line) == indent):
            indent = _indent(line)
            ids.append(match.group(2))
    return ids


def _id_values(lines: list[str], path: list[str], key: str) -> list[dict[str, str]] | None:
    """The ids the text defines that may stand at ``path`` + ``key``: a stage's role (or an
    item of its roles), the entry stage, a routing target (as a key of ``next``); None
    where an id does not belong."""
    where = [*path, key]
    if where[:1] == ["stages"] and len(where) >= 3 and where[2] in ("role", "roles"):
        names, what = _ids(lines, "roles"), "a role of this file"
    elif where == ["entry"]:
        names, what = _ids(lines, "stages"), "a stage of this file"
    else:
        return None
    return [{"label": n, "detail": what, "kind": "value"} for n in names]


def _targets(lines: list[str], path: list[str]) -> list[dict[str, str]] | None:
    """Inside a stage's ``next:`` (routing): its possible targets, the stages and the ends."""
    if len(path) != 3 or path[0] != "stages" or path[2] != "next":
        return None
    from salessim.scenario.schema import TERMINALS

    return [*({"label": s, "detail": "a stage of this file", "kind": "key"}
              for s in _ids(lines, "stages")),
            *({"label": str(e), "detail": "an end", "kind": "key"} for e in TERMINALS)]


def completions(text: str, line: int, column: int) -> dict[str, Any]:
    """What may be typed at (``line``, ``column``) of ``text`` (1-based line, 0-based
    column): ``{"items": [...], "start": column where the word being typed starts}``."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return {"items": [], "start": column}
    row = line - 1
    before = lines[row][:column]
    if "#" in before and re.search(r"(^|\s)#", before):
        return {"items": [], "start": column}
    partial = any(re.match(r"extends\s*:", x) for x in lines)
    word = _WORD.search(before)
    start = column - len(word.group(0)) if word else column
    indent = _indent(before)
    body = before.strip()
    item = body.startswith("- ")
    path = _parents(lines, row, indent, item)
    if item:
        path.append(ITEM)
        body = body[2:].lstrip()
    inside = _flow(before[indent:])
    if inside is not None:
        keys, tail = inside
        path += keys
        if ":" in tail:
            key = tail.split(":")[0].strip()
            items = _id_values(lines, path, key) or values_at([*path, key], partial)
        else:
            flow_keys = set(re.findall(r"([A-Za-z_][\w\-]*)\s*:", before.rsplit("{", 1)[-1]))
            items = [i for i in _targets(lines, path) or keys_at(path, partial)
                     if i["label"] not in flow_keys]
    elif ":" in body:
        key = body.split(":")[0].strip()
        items = _id_values(lines, path, key) or values_at([*path, key], partial)
    else:
        known = _siblings(lines, row, indent) if not item else set()
        items = [i for i in _targets(lines, path) or keys_at(path, partial)
                 if i["label"] not in known]
    prefix = before[start:]
    items = [i for i in items if i["label"].startswith(prefix)]
    return {"items": items, "start": start, "path": path}
