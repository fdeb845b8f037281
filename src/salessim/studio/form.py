"""The form's knobs (headcount per role, lead rate per source), read from a scenario and
written back into its YAML text with comments, key order and layout kept.

ruamel.yaml's round trip keeps comments, key order and flow style; it re-spaces lines
aligned by hand (``sdr:   {headcount: 3}``), so every line the edit did not change is
put back exactly as it was written.
"""

from __future__ import annotations

import difflib
import io
import re
from typing import Any

from salessim.errors import UsageError

#: The knobs of the form: group -> the field set per item.
KNOBS = {"roles": "headcount", "sources": "rate"}


def knobs(scenario: Any) -> dict[str, dict[str, float]]:
    """The resolved scenario's knobs: ``{"roles": {"sdr": 3}, "sources": {"inbound": 8.0}}``.

    A source whose rate is not one number (a schedule) is left out of the form.
    """
    out: dict[str, dict[str, float]] = {}
    for group, key in KNOBS.items():
        values = {}
        for name, item in getattr(scenario, group).items():
            value = getattr(item, key, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[str(name)] = value
        out[group] = values
    return out


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096  # never fold a long line the user wrote on one
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _squash(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


_KEY = re.compile(r"^(\s*[^\s#:]+:)(\s+)")


def _aligned(old: str, new: str) -> str:
    """``new`` with the spacing after its key as in ``old``, when both start with that key."""
    a, b = _KEY.match(old), _KEY.match(new)
    if a and b and a.group(1) == b.group(1):
        return a.group(0) + new[b.end():]
    return new


def keep_layout(before: str, after: str) -> str:
    """``after`` with every line that differs from ``before`` only in spacing written as
    in ``before`` (hand-aligned columns survive the round trip)."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, [_squash(x) for x in old], [_squash(x) for x in new],
                                      autojunk=False)
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += old[i1:i2]
        elif op == "replace" and i2 - i1 == j2 - j1:  # changed lines keep their key's column
            out += [_aligned(a, b) for a, b in zip(old[i1:i2], new[j1:j2], strict=True)]
        else:
            out += new[j1:j2]
    text = "".join(out)
    return text if after.endswith("\n") or not text.endswith("\n") else text[:-1]


def set_knobs(text: str, changes: dict[str, dict[str, float]]) -> str:
    """The YAML ``text`` with the knobs in ``changes`` set, comments and order kept.

    A redesign (``extends:``) that does not write a role or source yet gets it under its
    group (``roles: {se: {headcount: 3}}``), which the loader merges into the base's.

    Raises:
        UsageError: an unknown group, a value that is not a number, or a text that is not
            a YAML mapping.
    """
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    y = _yaml()
    try:
        data = y.load(text)
    except YAMLError as exc:
        raise UsageError(f"the text is not valid YAML: fix it before using the form ({exc})") \
            from None
    if not isinstance(data, dict):
        raise UsageError("the text is not a YAML mapping: fix it before using the form")
    for group, values in changes.items():
        if group not in KNOBS:
            raise UsageError(f"the form sets {', '.join(KNOBS)}, got {group!r}")
        field = KNOBS[group]
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise UsageError(f"{group}.{name}.{field} must be a number >= 0, got {value!r}")
            if data.get(group) is None:
                data[group] = CommentedMap()
            items = data[group]
            item = items.get(name)
            if not isinstance(item, dict):
                if item is not None:
                    raise UsageError(f"{group}.{name} is not a mapping in this file: edit "
                                     f"its {field} in the text")
                item = items[name] = CommentedMap()
                item.fa.set_flow_style()
            item[field] = int(value) if float(value).is_integer() and group == "roles" \
                else value
    out = io.StringIO()
    y.dump(data, out)
    return keep_layout(text, out.getvalue())
