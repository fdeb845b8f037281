"""pydantic's validation errors as problems that name the file, line, field, rule and value."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from salessim.errors import Problem
from salessim.scenario.dists import DIST_NAMES
from salessim.scenario.document import Document, Path_, lookup
from salessim.scenario.fields import allowed_keys
from salessim.scenario.schema import Scenario


def located_problems(doc: Document, exc: ValidationError,
                     model: type[BaseModel] = Scenario) -> list[Problem]:
    """pydantic's errors on ``doc`` (validated as ``model``) as problems with file and line."""
    return [_problem(doc, err, model) for err in exc.errors()]


def _problem(doc: Document, err: ErrorDetails, model: type[BaseModel]) -> Problem:
    path = _data_path(doc.data, err["loc"])
    file, line = doc.locate(path)
    rule = err["msg"]
    if rule.startswith("Value error, "):
        rule = rule[len("Value error, "):]
    # The value as the user wrote it ("-3 hours"), not as converted for validation.
    value = lookup(doc.data, path, err.get("input"))
    ctx = err.get("ctx", {})
    kind = ctx.get("discriminator", "").strip("'")
    if err["type"] == "extra_forbidden":
        allowed = allowed_keys(model, tuple(str(seg) for seg in err["loc"][:-1]))
        close = difflib.get_close_matches(path[-1], allowed, n=1)
        rule = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
        if allowed:
            rule += f"; allowed here: {', '.join(allowed)}"
        value = path[-1]
    elif err["type"] == "missing":
        rule = "required field is missing"
        value = None
    elif err["type"] == "union_tag_not_found":
        rule = ("a distribution needs dist: one of " + ", ".join(DIST_NAMES) if kind == "dist"
                else f"needs a {kind}: key")
        value = None if kind != "dist" else value
    elif err["type"] == "union_tag_invalid":
        what = "distribution" if kind == "dist" else kind
        rule = f"unknown {what}; use one of " + ctx["expected_tags"].replace("'", "")
        value = ctx["tag"]
    return Problem(".".join(path), rule, _short(value), file, line)


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 120 else text[:117] + "..."


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path_:
    """The error's location as keys of the document (dropping union tags pydantic adds)."""
    path: list[str] = []
    node = data
    missing = object()
    for seg in loc:
        key = str(seg)
        if key == "[key]":
            continue  # an error in a mapping's key: reported at the key itself
        if not isinstance(node, dict | list) and node is not missing:
            break  # a scalar as written (a shorthand like "3 days"): the error is on it
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(seg, int) and seg < len(node):
            node = node[seg]
        elif isinstance(node, dict) and key in {v for v in node.values() if isinstance(v, str)}:
            continue  # a discriminated union's tag (dist: lognormal), not a key
        else:
            node = missing
        path.append(key)
    return tuple(path)
