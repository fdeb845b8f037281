"""Spec files (experiments, optimisation problems) and the scenarios they derive.

A spec file is YAML read with the scenario loader's :func:`read_document`, so it gets the
same line tracking (and may ``extends:`` another spec). Its problems are reported as a
:class:`~salessim.errors.ScenarioError` naming file, line, field, rule and value, exactly
like a scenario's. A design's scenario is its base scenario document with the design's
values applied as ``--set`` overrides (:func:`apply_sets`), so ``roles.se.headcount: 3`` in a
spec means what ``--set roles.se.headcount=3`` means on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from salessim import engine, kpis
from salessim.errors import Problem, ScenarioError, did_you_mean
from salessim.scenario.load import (
    Document,
    apply_sets,
    check_set_paths,
    located_problems,
    read_document,
    validate_document,
)
from salessim.scenario.schema import Scenario

M = TypeVar("M", bound=BaseModel)

#: A dotted scenario key: ``roles.se.headcount``, ``stages.close.delay.mean``.
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*$"


def read_spec(path: str | Path, model: type[M]) -> tuple[M, Document]:
    """Read a spec file into ``model``, with every problem located in the file.

    Raises:
        ScenarioError: the file cannot be read, is not YAML, or breaks a rule of ``model``.
    """
    doc = read_document(path)
    wrong = wrong_kind(doc, model)
    if wrong is not None:
        raise ScenarioError([wrong])
    try:
        spec = model.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError(located_problems(doc, exc, model)) from None
    return spec, doc


#: A key that marks a file kind -> (what such a file is, the command that reads it).
KIND_KEYS: dict[str, tuple[str, str]] = {
    "objective": ("an optimisation spec", "salessim optimise"),
    "variables": ("an optimisation spec", "salessim optimise"),
    "factors": ("an experiment spec", "salessim sweep"),
    "stages": ("a scenario", "salessim run or salessim compare"),
}


def wrong_kind(doc: Document, model: type[BaseModel]) -> Problem | None:
    """One clear problem when a spec file is of another kind than ``model`` reads (an
    optimisation spec given to ``sweep``), instead of an unknown-key error per key."""
    if not isinstance(doc.data, Mapping):
        return None
    for key, (what, command) in KIND_KEYS.items():
        if key in doc.data and key not in model.model_fields:
            return problem_at(doc, key, f"this file is {what}: run it with {command}", key)
    return None


def problem_at(doc: Document, field: str | tuple[str, ...], rule: str, value: Any) -> Problem:
    """A problem located at a key of a spec document (``field`` dotted or as a key path)."""
    path = tuple(field.split(".")) if isinstance(field, str) else field
    file, line = doc.locate(path)
    return Problem(".".join(path), rule, value, file, line)


def relative_file(doc: Document, path: tuple[str, ...], ref: str) -> Path:
    """A file named in a spec, relative to the spec file that wrote it."""
    file, _ = doc.locate(path)
    base = Path(file).parent if file else Path(".")
    return base / ref


def yaml_text(value: Any) -> str:
    """``value`` as the YAML text of a ``--set`` override (reads back as the same value)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=True)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    elif text.endswith("..."):
        text = text[: -len("...")].strip()
    return text


def design_scenario(
    base: Document,
    values: dict[str, Any],
    origins: dict[str, tuple[str | None, int | None]],
    label: str,
) -> Scenario:
    """Validate ``base`` with ``values`` set at dotted keys.

    Args:
        base: the base scenario document (as :func:`read_document` returns it).
        values: dotted key -> value, applied like ``--set`` (``None`` deletes the key).
        origins: dotted key -> (file, line) of the spec line that set it, so a bad value is
            reported at the spec line that wrote it.
        label: names the design in error messages.

    Raises:
        ScenarioError: the resulting scenario breaks a rule.
    """
    keys = list(values)
    assignments = [f"{key}={yaml_text(value)}" for key, value in values.items()]
    try:
        check_set_paths(base, assignments)  # a key naming no stage, role or field
    except ScenarioError as exc:
        for p in exc.problems:  # reported at the spec line that wrote the key
            p.file, p.line = origins.get(keys[(p.line or 1) - 1], (None, None))
            p.rule = f"{p.rule} [in {label}]"
        raise ScenarioError(exc.problems) from None
    doc = apply_sets(base, assignments)
    for key in values:
        if key in origins:
            doc.origins[tuple(key.split("."))] = origins[key]  # type: ignore[assignment]
    try:
        return validate_document(doc)
    except ScenarioError as exc:
        for p in exc.problems:
            p.rule = f"{p.rule} [in {label}]"
        raise ScenarioError(exc.problems) from None


def kpi_problem(name: str, scenario: Scenario, also: tuple[str, ...] = ()) -> str | None:
    """Why ``name`` is not a KPI of ``scenario`` (None when it is one).

    Args:
        name: the KPI name as written.
        scenario: the scenario whose stages and roles per-stage and per-role KPIs name.
        also: other names that would be accepted (suggested when close).
    """
    try:
        pattern = kpis.spec(name).id
    except KeyError:
        hint = did_you_mean(name, [*(k.id for k in kpis.REGISTRY), *also])
        return f"unknown KPI{hint}; see the KPI table in the README"
    if "." in pattern and pattern != name:
        placeholder = pattern.split(".")[1]
        ident = name.split(".")[1]
        by_placeholder: dict[str, Mapping[str, object]] = {
            "<stage>": scenario.stages, "<role>": scenario.roles, "<source>": scenario.sources}
        ids = by_placeholder.get(placeholder)
        if ids is not None and ident not in ids:
            return (f"no {placeholder.strip('<>')} {ident!r} in the scenario"
                    f"{did_you_mean(ident, ids)} ({', '.join(ids)})")
    if name not in engine.kpi_names(scenario):
        return (f"this scenario does not report {pattern} (it needs the feature the KPI "
                "table names, e.g. collection, renewal, periods or an owner-assigned role)")
    return None
