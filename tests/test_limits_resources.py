"""Resources: a large YAML refused after a bounded amount of work, neighbouring ``--out``
folders written at once, calibrate's outputs whole or not at all, pseudo-files and other
non-files refused by what they are, and long values quoted by their start."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import cpu_limit, no_hang, refused
from salessim import cli, output
from salessim.errors import QUOTE_LIMIT, ScenarioError
from salessim.output import staged_folder, staging_owner
from salessim.scenario import load_scenario
from salessim.scenario.yamlread import MAX_FILE_BYTES, MAX_NODES, file_problem, parse_yaml

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
HISTORY = ROOT / "examples" / "crm" / "stage_history.csv"
FAST = ["--set", "horizon=30", "--set", "warmup=0", "-n", "2", "--workers", "1"]


# --- 9. a large YAML is refused as it is read -----------------------------------------------


def test_a_16_mb_file_of_values_is_refused_after_the_limit_not_after_all(tmp_path):
    # About 8 million values in 16 MB: building them all took minutes and gigabytes.
    path = tmp_path / "big.yaml"
    path.write_text("name: big\nvalues: [" + "1," * (MAX_FILE_BYTES // 2 - 40) + "1]\n")
    assert path.stat().st_size <= MAX_FILE_BYTES
    with cpu_limit(10), pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert f"more than the limit of {MAX_NODES:,} values" in str(info.value)


@pytest.mark.parametrize("text", [
    "# " + "a" * (MAX_FILE_BYTES - 100) + "\n",
    "name: " + "a" * (MAX_FILE_BYTES - 100) + "\n",
    "keys:\n" + "".join(f"  k{i}: 1\n" for i in range(MAX_FILE_BYTES // 14)),
    "deep: " + "[" * (MAX_FILE_BYTES // 2 - 10) + "]" * (MAX_FILE_BYTES // 2 - 10) + "\n",
], ids=["comment", "scalar", "keys", "nesting"])
def test_no_accepted_size_costs_more_than_a_few_seconds(text):
    with cpu_limit(15):
        try:
            parse_yaml(text, "big.yaml")
        except ScenarioError:
            pass


def test_a_file_at_the_limit_of_values_is_read():
    # The map, its key, the list and its items: each counts as one (keys are read too).
    text = "values:\n" + "".join(f"  - {i}\n" for i in range(MAX_NODES - 3))
    with cpu_limit(30):
        data, _ = parse_yaml(text, "at-limit.yaml")
    assert len(data["values"]) == MAX_NODES - 3
    with pytest.raises(ScenarioError, match="more than the limit"):
        parse_yaml(text + "  - 1\n", "over.yaml")


def test_yaml_is_read_as_before_with_libyaml():
    data, lines = parse_yaml("a: 1e3\nb: [x, 0x10, .5]\nc: &k {d: 2}\ne: *k\n", "f.yaml")
    assert data == {"a": 1000.0, "b": ["x", 16, 0.5], "c": {"d": 2}, "e": {"d": 2}}
    assert lines[("c",)] == 3 and lines[("b", "2")] == 2


# --- 10. neighbouring --out folders -------------------------------------------------------


def test_a_staging_folder_is_cleaned_only_for_its_own_out_name(tmp_path):
    # A live command writes to r-99999 (its staging folder carries this test's pid);
    # a dead one left r's: the next command for r removes r's, and never r-99999's.
    dead = tmp_path / f"{output.STAGING}999999999-abc-r"
    dead.mkdir()
    with staged_folder(tmp_path / "r-99999") as live:
        with staged_folder(tmp_path / "r") as mine:
            (mine / "a.txt").write_text("r")
        assert live.exists() and not dead.exists()
        (live / "b.txt").write_text("r-99999")
    assert (tmp_path / "r" / "a.txt").read_text() == "r"
    assert (tmp_path / "r-99999" / "b.txt").read_text() == "r-99999"
    assert staging_owner(f"{output.STAGING}12-x_y9-r-99999") == (12, "r-99999")
    assert staging_owner(f"{output.STAGING}r-99999-12-xyz") is None  # the old names


@pytest.mark.slow
def test_two_commands_writing_neighbouring_out_folders_at_once_both_complete(tmp_path):
    # r-99999's staging folder starts with .staging-r-99999-..., which r's clean-up took for
    # a folder of r left by process 99999 (not running) and removed, under the live run.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def start(name: str, *more: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "salessim.cli", "run", str(TUTORIAL),
                                 *FAST, *more, "--out", str(tmp_path / name)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    with no_hang(600):
        first = start("r-99999", "--set", "horizon=720", "-n", "12")  # the longer one
        stage = None
        while first.poll() is None and stage is None:
            stage = next(iter(tmp_path.glob(f"{output.STAGING}*")), None)
            time.sleep(0.01)
        assert stage is not None
        inode = stage.stat().st_ino
        second = start("r")  # while r-99999's staging folder is there
        assert second.wait() == 0, second.communicate()[1]
        if first.poll() is None:  # r's clean-up has run, under r-99999's live folder
            assert stage.stat().st_ino == inode
        assert first.wait() == 0, first.communicate()[1]
    for name in ("r", "r-99999"):
        assert (tmp_path / name / "run.json").is_file()
        assert (tmp_path / name / "summary.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "r-99999"]


# --- 11. calibrate writes whole or not at all -----------------------------------------------


def test_calibrate_on_a_full_disk_leaves_out_as_it_was(tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    real = output._fsync

    def full(path):
        calls["n"] += 1
        if calls["n"] > 2:  # two files written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path)

    monkeypatch.setattr(output, "_fsync", full)
    out = tmp_path / "cal"
    code = cli.main(["calibrate", str(HISTORY), "--out", str(out), "--no-backtest"])
    assert code == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == ["run.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- 12. pseudo-files and other things that are not files ---------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_extends_through_a_link_to_proc_is_refused_by_its_filesystem(tmp_path):
    (tmp_path / "base.yaml").symlink_to("/proc/self/status")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: x\n")
    with no_hang(30), pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert "proc pseudo filesystem" in str(info.value) and "child.yaml:1" in str(info.value)
    with no_hang(30), pytest.raises(ScenarioError, match="proc pseudo filesystem"):
        load_scenario(tmp_path / "base.yaml")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_folder_fifo_or_pseudo_file_as_a_data_file_says_what_it_is(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "folder.csv").mkdir()
    cases = {"pipe.csv": "a device, FIFO or socket", "folder.csv": "a folder",
             "missing.csv": "no such file"}
    if Path("/proc/self/status").is_file():
        (tmp_path / "proc.csv").symlink_to("/proc/self/status")
        cases["proc.csv"] = "proc pseudo filesystem"
    for name, what in cases.items():
        assert what in file_problem(tmp_path / name)
        with no_hang(60):
            refused(capsys, ["calibrate", str(tmp_path / name), "--out", str(tmp_path / "o")],
                    f"{name}: ", what)
    assert file_problem(HISTORY) is None


# --- long values are quoted by their start --------------------------------------------------


def test_a_10_mb_value_is_quoted_by_its_start_and_length(tmp_path, capsys):
    lines = HISTORY.read_text().splitlines()[:30]
    fields = lines[3].split(",")
    fields[6] = "x" * 10_000_000  # the amount
    lines[3] = ",".join(fields)
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    refused(capsys, ["calibrate", str(path), "--out", str(tmp_path / "o")], "h.csv:4: amount")
    capsys.readouterr()
    cli.main(["calibrate", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert len(err) < 5 * QUOTE_LIMIT and "... (10,000,002 characters))" in err


def test_a_long_yaml_value_is_quoted_by_its_start(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(TUTORIAL.read_text().replace("horizon: 180", "horizon: " + "b" * 4_000_000))
    refused(capsys, ["validate", str(path)], "s.yaml:4: horizon")
    cli.main(["validate", str(path)])
    assert len(capsys.readouterr().err) < 20 * QUOTE_LIMIT


def test_clipping_keeps_short_messages_whole():
    from salessim.errors import clip_lines, clipped

    assert clipped("abc") == "abc"
    assert clipped("a" * 300) == "a" * QUOTE_LIMIT + "... (300 characters)"
    assert clip_lines(textwrap.dedent("""\
        one
        two""")) == "one\ntwo"
