"""Run records say where a result was computed: platform, packages, and the git commit
and dirty flag of salessim's source when it runs from a checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from salessim import cli
from salessim.runrecord import environment, source_checkout

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@needs_git
def test_a_checkout_gives_its_commit_and_whether_tracked_files_changed(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "code.py").write_text("x = 1\n", encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    head = git(repo, "rev-parse", "HEAD")
    clean = source_checkout(repo / "pkg")
    assert clean == {"commit": head, "dirty": False, "root": str(repo.resolve())}
    (repo / "out").mkdir()
    (repo / "out" / "summary.csv").write_text("a\n", encoding="utf-8")  # untracked output
    assert source_checkout(repo / "pkg")["dirty"] is False
    (repo / "pkg" / "code.py").write_text("x = 2\n", encoding="utf-8")
    assert source_checkout(repo / "pkg")["dirty"] is True
    # A folder inside the repository that git does not track is an installed copy.
    (repo / "site").mkdir()
    (repo / "site" / "code.py").write_text("x = 3\n", encoding="utf-8")
    assert source_checkout(repo / "site") is None
    assert source_checkout(tmp_path) is None  # no repository at all


def test_the_environment_names_the_platform_and_every_package():
    env = environment()
    assert env["python"] == sys.version
    assert env["packages"]["numpy"] == metadata.version("numpy")
    assert env["packages"]["simpy"] == metadata.version("simpy")
    assert list(env["packages"]) == sorted(env["packages"])
    assert env["platform"] and env["machine"]


def test_a_run_writes_its_environment(tmp_path):
    out = tmp_path / "r"
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "tutorial.yaml"
    assert cli.main(["run", str(scenario), "-n", "1", "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    written = record["environment"]
    assert written["packages"]["pandas"] == metadata.version("pandas")
    now = environment()["source"]
    assert written["source"] == now or written["source"]["commit"] != now["commit"]  # committed
    code = Path(cli.__file__).resolve().parent
    if shutil.which("git") and written["source"] is not None:  # run from a checkout
        assert len(written["source"]["commit"]) == 40 and written["source"]["root"] == str(
            Path(git(code, "rev-parse", "--show-toplevel")))
