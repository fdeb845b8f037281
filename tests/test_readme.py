"""The README's code runs, and its KPI table lists the KPI registry."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from salessim.cli import main
from salessim.kpis import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_kpi_table_lists_exactly_the_defined_kpis():
    section = README.split("\n## KPIs", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `([a-z0-9_]+(?:\.<[a-z]+>)*)` \|", section, flags=re.M))
    assert table == {k.id for k in REGISTRY}


def test_walkthrough_yaml_is_the_tutorial_scenario():
    first = yaml.safe_load(blocks("yaml")[0])
    assert first == yaml.safe_load((ROOT / "scenarios/tutorial.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("code", blocks("python"))
def test_python_blocks_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})


def test_shell_commands_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    commands = [
        line for block in blocks("sh") for line in block.splitlines()
        if line.startswith("salessim ")
    ]
    assert commands
    for line in commands:
        args = [a.replace("out/", f"{tmp_path}/") for a in shlex.split(line)[1:]]
        assert main(args) == 0, line
    assert (tmp_path / "tutorial" / "summary.csv").is_file()
