"""JSON Schemas of every YAML file kind salessim reads, for editors and validators.

A YAML language server (or ``jsonschema`` in a script) given one of these checks a file as
salessim will, before it is run: scenarios and redesigns (:func:`salessim.scenario.
json_schema`), experiment specs (``salessim sweep``), optimisation specs (``salessim
optimise``) and casebook exercises (``case.yaml``). The schemas are generated from the
models the loaders use, so they cannot drift from them; a few rules that need more than
one key (a variable's low below its high, a design's values of the same length) are only
checked by the loader.
"""

from __future__ import annotations

from typing import Any

#: File kind -> what the file is, as ``salessim schema --kind`` lists them.
KINDS: dict[str, str] = {
    "scenario": "a scenario file (salessim run, compare, validate)",
    "redesign": "a redesign file: extends a baseline, every key optional, null deletes one",
    "experiment": "an experiment spec (salessim sweep)",
    "optimise": "an optimisation spec (salessim optimise)",
    "case": "a casebook exercise's case.yaml (salessim case)",
}


def file_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one file kind.

    Raises:
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    if kind in ("scenario", "redesign"):
        from salessim.scenario import json_schema

        return json_schema(partial=kind == "redesign")
    if kind == "experiment":
        from salessim.experiments.spec import ExperimentSpec as model
    elif kind == "optimise":
        from salessim.optimise.spec import OptimisationSpec as model  # type: ignore[assignment]
    elif kind == "case":
        from salessim.teaching.casebook import Case as model  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown file kind {kind!r}: one of {', '.join(KINDS)}")
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"salessim {kind} file"
    schema["description"] = KINDS[kind].capitalize() + "."
    if kind != "case":  # spec files may extend another spec, as scenarios do
        schema.setdefault("properties", {})["extends"] = {
            "type": "string", "description": "a spec file this one changes (relative path)"}
    return schema
