"""``salessim schema --kind``: a JSON Schema for every YAML file kind, accepting what the
loaders accept (every shipped spec and case) and refusing what they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from salessim.api.schemas import KINDS, file_schema
from salessim.cli import build_parser, main
from salessim.errors import ScenarioError
from salessim.experiments.documents import read_spec
from salessim.experiments.spec import ExperimentSpec
from salessim.optimise.spec import OptimisationSpec
from salessim.teaching.casebook import load_case

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "experiments").glob("*.yaml"))
CASES = sorted((ROOT / "cases").glob("*/case.yaml"))


def kind_of(path: Path) -> str:
    return "optimise" if "objective" in yaml.safe_load(path.read_text(encoding="utf-8")) \
        else "experiment"


def problems(kind: str, data) -> list[str]:
    validator = jsonschema.Draft202012Validator(file_schema(kind))
    return [e.message for e in validator.iter_errors(json.loads(json.dumps(data, default=str)))]


@pytest.mark.parametrize("path", [*SPECS, *CASES], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_is_valid_for_its_schema(path):
    kind = "case" if path.name == "case.yaml" else kind_of(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert problems(kind, data) == []
    misspelt = {**data, "replicatoins": 3}
    assert any("replicatoins" in p for p in problems(kind, misspelt))


def test_the_loaders_refuse_what_the_schemas_refuse(tmp_path):
    spec = next(p for p in SPECS if kind_of(p) == "experiment")
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["replications"] = -1
    assert problems("experiment", data)
    bad = tmp_path / spec.name
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match="replications"):
        read_spec(bad, ExperimentSpec)
    optimise = next(p for p in SPECS if kind_of(p) == "optimise")
    data = yaml.safe_load(optimise.read_text(encoding="utf-8"))
    data["search"] = {"kind": "nonsense"}
    assert problems("optimise", data)
    (tmp_path / "o.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError):
        read_spec(tmp_path / "o.yaml", OptimisationSpec)
    case = tmp_path / "case"
    case.mkdir()
    data = yaml.safe_load(CASES[0].read_text(encoding="utf-8"))
    (case / "case.yaml").write_text(yaml.safe_dump({**data, "titel": "x"}), encoding="utf-8")
    assert problems("case", {**data, "titel": "x"})
    with pytest.raises(ScenarioError, match="titel"):
        load_case(case)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_command_prints_each_kind_as_a_valid_schema(kind, capsys):
    assert main(["schema", "--kind", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == json.loads(json.dumps(file_schema(kind)))


def test_partial_is_the_redesign_kind_and_the_choices_are_the_kinds(capsys):
    assert main(["schema", "--partial"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(file_schema("redesign")))
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    kind = next(a for a in sub.choices["schema"]._actions if a.dest == "kind")
    assert list(kind.choices) == list(KINDS)
    with pytest.raises(ValueError, match="unknown file kind"):
        file_schema("stages")


@pytest.mark.parametrize("command, path, said", [
    ("sweep", "experiments/staffing_budget.yaml",
     "objective: this file is an optimisation spec: run it with salessim optimise"),
    ("optimise", "experiments/se_headcount_by_delay.yaml",
     "factors: this file is an experiment spec: run it with salessim sweep"),
    ("sweep", "scenarios/tutorial.yaml", "stages: this file is a scenario: run it with"),
])
def test_a_file_of_another_kind_gets_one_message_naming_the_command(command, path, said,
                                                                     capsys, tmp_path):
    assert main([command, str(ROOT / path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()
