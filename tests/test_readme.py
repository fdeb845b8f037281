"""The README's code runs, and its KPI table lists the KPI registry."""

from __future__ import annotations

import glob
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


@pytest.mark.slow  # long: handed out first
def test_shell_commands_run(tmp_path, monkeypatch, capsys):
    """Each ``salessim`` line runs; one followed by ``# exit 2: MESSAGE`` must fail with
    status 2 and print that message (one ending in ``...`` is checked up to there)."""
    monkeypatch.chdir(ROOT)
    lines = [line for block in blocks("sh") for line in block.splitlines()]
    commands = [(i, line) for i, line in enumerate(lines) if line.startswith("salessim ")]
    assert commands
    for i, line in commands:
        args = [a.replace("out/", f"{tmp_path}/") for word in shlex.split(line)[1:]
                for a in (sorted(glob.glob(word)) or [word])]
        expected = lines[i + 1] if i + 1 < len(lines) else ""
        capsys.readouterr()
        if expected.startswith("# exit 2: "):
            assert main(args) == 2, line
            err = capsys.readouterr().err.strip()
            assert err.startswith(expected.removeprefix("# exit 2: ").removesuffix("...")), err
            continue
        assert main(args) == 0, line
    assert (tmp_path / "tutorial" / "summary.csv").is_file()
