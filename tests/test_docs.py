"""Docs that stay true: every quoted figure has a source in docs/figures.py, the cheap ones
are rerun here, and the code blocks of docs/*.md run."""

from __future__ import annotations

import glob
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from salessim.cli import main

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "docs" / "figures.py")
figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figures)

#: Documents whose code blocks run here (the README's run in test_readme.py). The
#: experiments guide's blocks need a sweep's results folder and a cluster; its commands are
#: exercised by tests/test_experiments.py.
RUN_BLOCKS = ["comparing.md", "from_funnel.md", "extending.md"]


def test_every_quoted_figure_has_a_source_and_every_source_is_quoted():
    quoted = figures.quoted()
    assert set(quoted) == set(figures.FIGURES)
    for doc in figures.DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        # Markers come in pairs: an opening without its closing is a broken figure.
        opened = re.findall(r"<!-- fig:([a-z0-9-]+) -->", text)
        closed = re.findall(r"<!-- /fig:([a-z0-9-]+) -->", text)
        assert opened == closed, doc.name


@pytest.mark.xdist_group("figures")  # one worker: the demo's comparison is computed once
@pytest.mark.parametrize("name", [n for n, (_, cheap) in figures.FIGURES.items() if cheap])
def test_cheap_figures_are_current(name):
    fresh = figures.FIGURES[name][0]()
    assert fresh == figures.quoted()[name][1], f"rerun: python docs/figures.py --write {name}"


def _blocks(doc: str, language: str) -> list[str]:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A scratch folder that sees the repository's scenarios; outputs land in it."""
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("doc", "code"), [
    (doc, code) for doc in RUN_BLOCKS for code in _blocks(doc, "python")])
def test_python_blocks_run(doc, code, workdir):
    exec(compile(code, doc, "exec"), {})


@pytest.mark.slow  # long: handed out first
@pytest.mark.parametrize("doc", RUN_BLOCKS)
def test_shell_blocks_run(doc, workdir, capsys):
    """Each ``salessim`` line runs (comparisons shortened); a line followed by a
    ``salessim:`` error in the block must fail with exactly that message and status 2."""
    for block in _blocks(doc, "(?:sh|console)"):
        lines = [line.removeprefix("$ ") for line in block.splitlines()]
        for i, line in enumerate(lines):
            if not line.startswith("salessim "):
                continue
            args = [a for word in shlex.split(line)[1:]
                    for a in (sorted(glob.glob(word)) or [word])]
            expected = lines[i + 1] if i + 1 < len(lines) else ""
            capsys.readouterr()
            if expected.startswith("salessim:"):
                assert main(args) == 2, line
                assert capsys.readouterr().err.strip() == expected
                continue
            if args[0] in ("compare", "run"):
                args += ["--set", "horizon=90", "--replications", "2", "--workers", "1"]
            assert main(args) == 0, line
