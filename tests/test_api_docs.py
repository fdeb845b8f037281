"""docs/python.md runs: its code blocks, in order, in one namespace (a notebook)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python.md"


@pytest.mark.slow  # long: handed out first
def test_the_walkthrough_runs_as_a_notebook(tmp_path, monkeypatch, capsys):
    for folder in ("scenarios", "examples", "experiments"):
        (tmp_path / folder).symlink_to(ROOT / folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    # What the page says the blocks print, they print.
    assert ("evolve: roles.ae.headcount: Input should be greater than or equal to 1 (got 0)"
            in printed)
    assert namespace["short"].warmup == 21
    assert namespace["best"].best_scenario() is not None
    assert not namespace["forecast"].to_frame().empty


def test_the_readme_links_the_walkthrough():
    assert "(docs/python.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
