"""salessim studio without a browser: what may be read and written, the form's YAML edits,
save as redesign, saving without losing work, the missing extra, the worker queue."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the studio extra is missing: pip install "
                    "'salessim[studio]'")
pytest.importorskip("ruamel.yaml", reason="the studio extra is missing")

from salessim.cli import main  # noqa: E402
from salessim.errors import UsageError  # noqa: E402
from salessim.output import process_running  # noqa: E402
from salessim.scenario import load_scenario, scenario_hash  # noqa: E402
from salessim.studio import files, form, redesign  # noqa: E402
from salessim.studio.jobs import Jobs  # noqa: E402
from salessim.studio.paths import OutsideFolder, inside  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "b2b_baseline.yaml"


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "work"
    (root / "redesigns").mkdir(parents=True)
    shutil.copy(BASELINE, root / "b2b_baseline.yaml")
    shutil.copy(REPO / "scenarios" / "redesigns" / "one_more_se.yaml", root / "redesigns")
    return root.resolve()


# --- paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("rel, says", [
    ("../secret.yaml", "'..' are refused"), ("redesigns/../../x.yaml", "'..' are refused"),
    ("/etc/passwd", "absolute paths"), ("~/x.yaml", "absolute paths"),
    (".studio-backups/x", "hidden files"), ("a\\..\\b", "not a relative path"),
])
def test_paths_outside_the_folder_are_refused(folder, rel, says):
    with pytest.raises(OutsideFolder, match=says):
        inside(folder, rel)


def test_a_symbolic_link_out_of_the_folder_is_refused(folder, tmp_path):
    (tmp_path / "outside.yaml").write_text("name: x\n")
    (folder / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    (folder / "inner.yaml").symlink_to(folder / "b2b_baseline.yaml")
    with pytest.raises(OutsideFolder, match="outside the folder"):
        inside(folder, "link.yaml")
    assert inside(folder, "inner.yaml") == folder / "inner.yaml"  # a link inside is fine
    with pytest.raises(OutsideFolder):
        files.save_file(folder, "link.yaml", "name: y\n", None)
    assert (tmp_path / "outside.yaml").read_text() == "name: x\n"


# --- checking ------------------------------------------------------------------------------


def test_the_files_list_has_each_file_state_with_the_validate_message(folder):
    text = BASELINE.read_text().replace("horizon: 365", "horizn: 365")
    (folder / "broken.yaml").write_text(text)
    rows = {r["path"]: r for r in files.list_files(folder)}
    assert rows["b2b_baseline.yaml"]["state"] == "ok"
    assert rows["b2b_baseline.yaml"]["kind"] == "scenario"
    assert rows["redesigns/one_more_se.yaml"]["kind"] == "redesign"
    assert rows["redesigns/one_more_se.yaml"]["state"] == "ok"
    broken = rows["broken.yaml"]
    assert broken["state"] == "invalid"
    line = text.splitlines().index("horizn: 365") + 1
    located = [p for p in broken["problems"] if p["line"] == line]
    assert located and located[0]["field"] == "horizn"
    # The same text `salessim validate` prints, with the file as the folder names it.
    assert located[0]["message"].startswith(f"broken.yaml:{line}: horizn: unknown key "
                                            f"(did you mean 'horizon'?)")


def test_an_unsaved_text_is_checked_as_the_file_and_leaves_nothing_behind(folder):
    rel = "redesigns/one_more_se.yaml"
    text = (folder / rel).read_text().replace("se: {headcount: 3}", "sx: {headcount: 3}")
    before = sorted(folder.rglob("*"))
    scenario, problems = files.check_text(folder, rel, text)
    assert scenario is None
    line = text.splitlines().index("  sx: {headcount: 3}") + 1
    assert [(p["file"], p["line"], p["field"]) for p in problems] == [(rel, line, "roles.sx")]
    assert "the base has no such role" in problems[0]["message"]
    assert sorted(folder.rglob("*")) == before  # the hidden check file is gone
    scenario, problems = files.check_text(folder, rel, (folder / rel).read_text())
    assert problems == [] and scenario.roles["se"].headcount == 3


# --- saving --------------------------------------------------------------------------------


def test_save_keeps_a_backup_and_refuses_a_file_changed_on_disk(folder):
    rel = "b2b_baseline.yaml"
    opened = files.read_file(folder, rel)
    edited = opened["text"].replace("seed: 2026", "seed: 7")
    saved = files.save_file(folder, rel, edited, opened["version"])
    assert (folder / rel).read_text() == edited
    [backup] = files.backups(folder, rel)
    assert (folder / backup).read_text() == opened["text"]
    # Another editor writes the file: a save from the old version is refused, not written.
    (folder / rel).write_text(edited + "# changed elsewhere\n")
    with pytest.raises(files.Conflict, match="changed on disk"):
        files.save_file(folder, rel, edited.replace("seed: 7", "seed: 8"), saved["version"])
    assert (folder / rel).read_text().endswith("# changed elsewhere\n")
    # A new file needs no version; over an existing one it does.
    files.save_file(folder, "new.yaml", "name: n\n", None)
    with pytest.raises(files.Conflict):
        files.save_file(folder, "new.yaml", "name: m\n", None)


def test_a_new_file_is_a_copy_or_an_empty_redesign_and_never_overwrites(folder):
    files.new_file(folder, "copy.yaml", "b2b_baseline.yaml", "copy")
    assert (folder / "copy.yaml").read_text() == BASELINE.read_text()
    files.new_file(folder, "redesigns/try.yaml", "b2b_baseline.yaml", "redesign")
    scenario = load_scenario(folder / "redesigns/try.yaml")
    assert scenario.name == "try"
    assert scenario_hash(scenario) == scenario_hash(
        load_scenario(BASELINE).model_copy(update={"name": "try"}))
    with pytest.raises(UsageError, match="exists already"):
        files.new_file(folder, "copy.yaml", "redesigns/try.yaml", "copy")
    with pytest.raises(OutsideFolder):
        files.new_file(folder, "../x.yaml", "b2b_baseline.yaml", "copy")


# --- the form ------------------------------------------------------------------------------


def test_the_form_changes_only_its_lines_and_keeps_comments_and_alignment():
    text = BASELINE.read_text()
    out = form.set_knobs(text, {"roles": {"se": 3}, "sources": {"inbound": 9.5}})
    changed = [line for line in difflib.ndiff(text.splitlines(), out.splitlines())
               if line.startswith(("+ ", "- "))]
    assert changed == [
        "-   se:    {headcount: 2, cost_per_hour: 80, description: solutions engineers}",
        "+   se:    {headcount: 3, cost_per_hour: 80, description: solutions engineers}",
        "-     rate: 8            # leads per day",
        "+     rate: 9.5          # leads per day",
    ]


def test_the_form_writes_a_redesign_role_it_does_not_name_yet(folder):
    rel = "redesigns/one_more_se.yaml"
    out = form.set_knobs((folder / rel).read_text(), {"roles": {"ae": 6}})
    (folder / rel).write_text(out)
    scenario = load_scenario(folder / rel)
    assert scenario.roles["ae"].headcount == 6 and scenario.roles["se"].headcount == 3
    assert scenario.roles["ae"].cost_per_hour == 70  # the base's, merged


def test_the_form_sets_a_stage_means_and_routing_and_only_those_lines():
    text = BASELINE.read_text()
    out = form.set_knobs(text, {"stages": {
        "qualify": {"work.mean": "45 minutes", "next": {"discovery": 0.35, "lost": 0.65}},
        "discovery": {"delay.mean": "4"}}})
    changed = [line for line in difflib.ndiff(text.splitlines(), out.splitlines())
               if line.startswith(("+ ", "- "))]
    assert changed == [
        '-     work: {dist: lognormal, mean: "1 hour", cv: 0.5}',
        '+     work: {dist: lognormal, mean: "45 minutes", cv: 0.5}',
        "-     next: {discovery: 0.3, lost: 0.7}",
        "+     next: {discovery: 0.35, lost: 0.65}",
        "-     delay: {dist: lognormal, mean: 5, cv: 1.0}      # finding a slot with the buyer",
        "+     delay: {dist: lognormal, mean: 4, cv: 1.0}      # finding a slot with the buyer",
    ]


def test_the_stage_form_of_a_redesign_merges_its_mean_and_writes_its_routing_whole(folder):
    rel = "redesigns/one_more_se.yaml"
    path = folder / rel
    knobs = form.stage_knobs(files.merged_data(folder, rel, path.read_text()))
    assert knobs["qualify"] == {"work.mean": "1 hour", "next": {"discovery": 0.3, "lost": 0.7}}
    assert "work.mean" not in knobs["discovery"]  # triangular: no mean to set
    path.write_text(form.set_knobs(path.read_text(), {"stages": {"qualify": {
        "work.mean": "45 minutes", "next": {"discovery": 0.35, "lost": 0.65}}}}))
    scenario = load_scenario(path)
    expected = load_scenario(BASELINE, ["stages.qualify.work.mean=45 minutes"])
    assert scenario.stages["qualify"].work == expected.stages["qualify"].work  # cv kept
    assert form.stage_knobs(files.merged_data(folder, rel, path.read_text()))["qualify"] == {
        "work.mean": "45 minutes", "next": {"discovery": 0.35, "lost": 0.65}}


@pytest.mark.parametrize("changes, says", [
    ({"targets": {"x": 1}}, "the form sets roles, sources, stages"),
    ({"stages": {"qualify": {"next": {"lost": 2}}}}, "odds in \\[0, 1\\]"),
    ({"stages": {"qualify": {"patience.mean": 3}}}, "a stage's work.mean, delay.mean"),
    ({"stages": {"qualify": {"work.mean": " "}}}, "must not be empty"),
    ({"roles": {"se": -1}}, "must be a number >= 0"),
    ({"roles": {"se": "3"}}, "must be a number >= 0"),
])
def test_the_form_refuses_what_it_cannot_write(changes, says):
    with pytest.raises(UsageError, match=says):
        form.set_knobs(BASELINE.read_text(), changes)


def test_the_knobs_are_the_resolved_scenario_numbers():
    knobs = form.knobs(load_scenario(BASELINE))
    assert knobs == {"roles": {"sdr": 3, "ae": 5, "se": 2, "legal": 1},
                     "sources": {"inbound": 8, "events": 1.5}}


# --- save as redesign ----------------------------------------------------------------------


def test_a_redesign_holds_only_the_differences_and_loads_to_the_edited_scenario(folder):
    text = BASELINE.read_text()
    edited = form.set_knobs(text, {"roles": {"se": 3}})
    edited = edited.replace("roles:\n", "roles:\n  ops: {headcount: 1, cost_per_hour: 50}\n")
    edited = edited.replace("    patience: {dist: exponential, mean: 2}\n", "")
    saved = redesign.save_redesign(folder, "b2b_baseline.yaml", edited, "redesigns/mine.yaml")
    import yaml

    data = yaml.safe_load((folder / "redesigns/mine.yaml").read_text())
    assert data == {"extends": "../b2b_baseline.yaml",
                    "roles": {"se": {"headcount": 3}},
                    "stages": {"qualify": {"patience": None}},
                    "add": {"roles": {"ops": {"headcount": 1, "cost_per_hour": 50}}}}
    assert saved["text"] == (folder / "redesigns/mine.yaml").read_text()
    edited_scenario, _ = files.check_text(folder, "b2b_baseline.yaml", edited)
    assert scenario_hash(load_scenario(folder / "redesigns/mine.yaml")) == \
        scenario_hash(edited_scenario)
    with pytest.raises(UsageError, match="exists already"):
        redesign.save_redesign(folder, "b2b_baseline.yaml", edited, "redesigns/mine.yaml")
    with pytest.raises(UsageError, match="change nothing"):
        redesign.save_redesign(folder, "b2b_baseline.yaml", text, "redesigns/none.yaml")


def test_difference_follows_the_merge_rules():
    base = {"a": {"b": 1, "c": 2}, "next": {"x": 0.5, "y": 0.5}, "w": {"dist": "exponential",
                                                                       "mean": 2}}
    edited = {"a": {"b": 1, "c": 3}, "next": {"x": 0.4, "y": 0.6},
              "w": {"dist": "lognormal", "mean": 2, "cv": 1}}
    assert redesign.difference(base, edited) == {
        "a": {"c": 3}, "next": {"x": 0.4, "y": 0.6},
        "w": {"dist": "lognormal", "mean": 2, "cv": 1}}


# --- the command and the extra ---------------------------------------------------------------


def test_without_the_extra_one_line_names_it(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["studio", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err == ("salessim: salessim studio needs the studio extra: pip install "
                   "'salessim[studio]' (missing: uvicorn)\n")


def test_studio_on_a_missing_folder_is_bad_input(tmp_path, capsys):
    assert main(["studio", str(tmp_path / "nope"), "--no-browser"]) == 2
    assert "is not a folder" in capsys.readouterr().err


# --- the queue of runs ---------------------------------------------------------------------


def test_a_cancelled_run_leaves_no_worker_and_the_next_run_works(folder):
    jobs = Jobs()
    try:
        long = jobs.submit("run", {"root": str(folder), "path": "b2b_baseline.yaml",
                                   "replications": 500, "seed": 1}, "long")
        waiting = jobs.submit("run", {"root": str(folder), "path": "b2b_baseline.yaml",
                                      "replications": 3, "seed": 1}, "short")
        deadline = time.monotonic() + 60
        while long.done < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert long.state == "running" and waiting.state == "queued"  # runs queue
        pid = long.worker_pid
        assert jobs.cancel(long.id).state == "cancelled"
        assert not process_running(pid)
        while waiting.state in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting.state == "done", waiting.error
        assert waiting.worker_pid != pid
        assert [r["n"] for r in waiting.result["estimates"]] == [3] * len(
            waiting.result["estimates"])
        # Cached: the same key answers at once, without the worker.
        again = jobs.submit("run", {"root": str(folder), "path": "b2b_baseline.yaml",
                                    "replications": 3, "seed": 1}, "short")
        assert again.state == "done" and again.cached and again.result == waiting.result
        last = jobs.worker_pid()
    finally:
        jobs.close()
    assert not process_running(last)
    assert os.path.exists(folder / waiting.result["out"] / "run.json")


def test_the_built_package_ships_the_page(tmp_path):
    import subprocess
    import sys

    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "src", tmp_path / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                           "build_py", "--build-lib", str(tmp_path / "lib")], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    static = tmp_path / "lib" / "salessim" / "studio" / "static"
    shipped = sorted(p.name for p in static.iterdir())
    assert shipped == ["complete.js", "index.html", "studio.css", "studio.js", "views.js",
                       "whatif.js"]
    # The page loads each script shipped, and everything it loads comes from the package:
    # no address outside the studio.
    page = (static / "index.html").read_text(encoding="utf-8")
    assert sorted(re.findall(r'src="/static/([\w.]+)"', page)) == [
        n for n in shipped if n.endswith(".js")]
    for name in shipped:
        assert "http" not in (static / name).read_text(encoding="utf-8"), name
