"""The JSON Schemas (``salessim schema`` and ``--partial``) accept what the loader accepts.

Every scenario shipped (scenarios/, cases/, README's YAML blocks, scenario blocks of docs/)
is validated with the ``jsonschema`` package: files without ``extends:`` with the full
schema, files with it with the partial one. YAML is turned into JSON data first, as an
editor's YAML language server does (a date becomes its ISO string).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from salessim.cli import main
from salessim.compare import parse_target
from salessim.errors import ScenarioError
from salessim.scenario import load_scenario
from salessim.scenario.editor_schema import TARGET_PATTERN, json_schema

ROOT = Path(__file__).resolve().parents[1]
FULL = jsonschema.Draft202012Validator(json_schema())
PARTIAL = jsonschema.Draft202012Validator(json_schema(partial=True))

SCENARIO_FILES = sorted(
    [*ROOT.glob("scenarios/**/*.yaml"), *ROOT.glob("cases/*/*.yaml")], key=str)
# A case's case.yaml describes the exercise (title, verdicts), not a scenario.
SCENARIO_FILES = [p for p in SCENARIO_FILES if p.name != "case.yaml"]


def as_json(data):
    return json.loads(json.dumps(data, default=str))


def errors(data, partial: bool) -> list[str]:
    validator = PARTIAL if partial else FULL
    return [f"{list(e.absolute_path)}: {e.message[:200]}"
            for e in validator.iter_errors(as_json(data))]


def yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_both_schemas_are_valid_draft_2020_12():
    for validator in (FULL, PARTIAL):
        jsonschema.Draft202012Validator.check_schema(validator.schema)
    assert PARTIAL.schema["required"] == ["extends"]
    assert "extends" in FULL.schema["properties"]


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_scenario_validates(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    load_scenario(path)  # the loader accepts it: so must the schema
    assert errors(data, partial="extends" in data) == []


def test_the_shipped_files_include_bases_and_redesigns():
    kinds = {"extends" in yaml.safe_load(p.read_text(encoding="utf-8")) for p in SCENARIO_FILES}
    assert kinds == {True, False}


@pytest.mark.parametrize("index", range(len(yaml_blocks(ROOT / "README.md"))))
def test_every_readme_yaml_block_validates(index):
    data = yaml.safe_load(yaml_blocks(ROOT / "README.md")[index])
    assert isinstance(data, dict)
    if "name" in data or "extends" in data:
        assert errors(data, partial="extends" in data) == []
    else:  # a fragment of a scenario: keys a redesign would write
        assert errors({"extends": "base.yaml", **data}, partial=True) == []


def test_scenario_blocks_of_the_docs_validate():
    scenario_keys = set(FULL.schema["properties"])
    checked = 0
    for path in sorted((ROOT / "docs").glob("*.md")):
        for block in yaml_blocks(path):
            data = yaml.safe_load(block)
            # Experiment and optimisation specs are other documents.
            if isinstance(data, dict) and set(data) <= scenario_keys:
                assert errors({"extends": "base.yaml", **data}, partial=True) == [], path
                checked += 1
    assert checked >= 1


BASE = {
    "name": "t", "horizon": 30, "sources": {"web": {"rate": 1}}, "entry": "a",
    "roles": {"rep": {"headcount": 1}},
    "stages": {"a": {"role": "rep", "work": 1, "next": {"won": 1.0}}},
}


def scenario_with(tmp_path, **stage_a) -> dict:
    data = json.loads(json.dumps(BASE))
    data["stages"]["a"].update(stage_a)
    return data


def loads(tmp_path, data) -> bool:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        load_scenario(path)
    except ScenarioError:
        return False
    return True


@pytest.mark.parametrize("profile, accepted", [
    ({"hourly": [1] * 8 + [3] * 8 + [0.5] * 8}, True),
    ({"day_effect": {"shape": 2.5}}, True),
    ({"weekly": [1] * 7, "hourly": [1] * 24, "day_effect": {"shape": 1}}, True),
    ({"hourly": [1] * 23}, False), ({"hourly": [1] * 25}, False),
    ({"hourly": [-1] + [1] * 23}, False), ({"day_effect": {"shape": 0}}, False),
    ({"day_effect": {}}, False), ({"day_effect": {"shape": 1, "scale": 2}}, False),
])
def test_arrival_profile_keys_match_the_loader(tmp_path, profile, accepted):
    data = json.loads(json.dumps(BASE))
    data["sources"]["web"]["profile"] = profile
    assert loads(tmp_path, data) is accepted
    assert (errors(data, partial=False) == []) is accepted


@pytest.mark.parametrize("work, accepted", [
    (4, True), (2.5, True), ("4 hours", True), ("30 Minutes", True),
    ("1e1 min", True), (".5 d", True), ({"dist": "lognormal", "mean": "20 minutes", "cv": 0.5}, True),
    (-1, False), ("-2 hours", False), ("4 parsecs", False), ("4", False), (True, False),
    ({"dist": "lognormal", "mean": 3}, False), ({"dist": "nope", "mean": 3}, False),
])
def test_distribution_shorthand_matches_the_loader(tmp_path, work, accepted):
    data = scenario_with(tmp_path, work=work)
    assert loads(tmp_path, data) is accepted
    assert (errors(data, partial=False) == []) is accepted


def test_dates_and_null_as_the_loader_reads_them(tmp_path):
    data = {**BASE, "calendar": {"holidays": ["2026-03-01"]}, "periods": None}
    assert loads(tmp_path, data)
    assert errors(data, partial=False) == []
    # An unquoted YAML date reads as a date; an editor sees its ISO text.
    dated = yaml.safe_load("calendar: {holidays: [2026-12-25]}")
    assert errors({**BASE, **dated}, partial=False) == []


def test_partial_schema_follows_the_merge_rules():
    ok = {"extends": "b.yaml", "stages": {"a": {"work": {"mean": 2}}, "old": None},
          "roles": {"se": None}, "collection": None}
    assert errors(ok, partial=True) == []
    # A distribution naming its dist replaces the old one whole: it must be complete.
    assert errors({"extends": "b.yaml", "stages": {"a": {"work": {"dist": "lognormal",
                                                                   "mean": 2}}}}, partial=True)
    # next replaces the routing whole: still a map of odds.
    assert errors({"extends": "b.yaml", "stages": {"a": {"next": {"won": "high"}}}}, partial=True)
    assert errors({"extends": "b.yaml", "stagez": {}}, partial=True)
    assert errors({"stages": {}}, partial=True)  # no extends: not a redesign file


@pytest.mark.parametrize("spec", [
    "-20%", "+5%", "<= -10%", ">= 3%", "<= 0.85", ">=0.3", " -1.5e1 % ", "20%", "0.85",
    "< 0.85", "= 5%", "-20", "<= x", "--5%", "", "+.5%",
])
def test_target_pattern_agrees_with_parse_target(spec):
    try:
        parse_target("win_rate", spec)
        parsed = True
    except ScenarioError:
        parsed = False
    assert (re.fullmatch(TARGET_PATTERN, spec) is not None) is parsed


def test_schema_rejects_a_target_on_no_kpi_and_a_bare_number():
    assert errors({**BASE, "targets": {"win_rate": "+5%", "utilisation.se": "<= 0.85"}},
                  partial=False) == []
    assert errors({**BASE, "targets": {"win_rat": "+5%"}}, partial=False)
    assert errors({**BASE, "targets": {"win_rate": 0.85}}, partial=False)


def test_cli_prints_the_partial_schema(capsys):
    assert main(["schema", "--partial"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(json_schema(partial=True)))
    assert schema["required"] == ["extends"]
