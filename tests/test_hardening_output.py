"""Output under stress: full disks, torn files, failures, resumed and overlapping sweeps.

A full disk is simulated by making the sync of a written file raise ``ENOSPC``, as the
kernel does when the data cannot be stored; everything else runs for real.
"""

from __future__ import annotations

import errno
import json
import os
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import cpu_limit
from salessim import cli, engine, output
from salessim.commands import warn_size
from salessim.compare import unique_labels
from salessim.errors import OutputError, ScenarioError
from salessim.experiments import SerialExecutor, load_experiment, load_results, read_manifest, sweep
from salessim.experiments.designs import MAX_DESIGNS
from salessim.experiments.results import results_report, summarise_results
from salessim.experiments.runs import RunTimeout
from salessim.experiments.store import ResultStore, result_files
from salessim.output import staged_folder, write_text
from salessim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
FAST = ["--set", "horizon=30", "--set", "warmup=0", "-n", "2", "--workers", "1"]

TINY = """\
name: tiny
horizon: 20
replications: 2
seed: 3
roles: {rep: {headcount: 1}}
sources: {web: {rate: 2}}
entry: call
stages:
  call: {role: rep, work: {dist: exponential, mean: 0.1}, next: {won: 0.5, lost: 0.5}}
"""


def experiment_file(folder: Path, replications: int = 2, levels: str = "[1, 2]") -> Path:
    (folder / "tiny.yaml").write_text(TINY)
    path = folder / "exp.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: tiny_sweep
        scenarios: tiny.yaml
        factors: {{roles.rep.headcount: {levels}}}
        replications: {replications}
        kpis: [won]
    """))
    return path


def contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class FullDisk:
    """Syncs fail with ENOSPC once ``after`` files have been written (0: at once)."""

    def __init__(self, after: int = 0, only: str = "") -> None:
        self.after, self.only, self.full = after, only, False

    def __call__(self, path: Path) -> None:
        if path.is_file() and (self.full or self.only in path.name):
            if self.after <= 0:
                self.full = True
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            self.after -= 1


# --- durable, whole-or-nothing writes -------------------------------------------------------


def test_a_write_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                  real(fd)))
    target = tmp_path / "a.txt"
    write_text(target, "hello")
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".a.txt.") and synced[0].endswith(".part")
    assert synced[1] == str(tmp_path)
    assert target.read_text() == "hello"


def test_a_full_disk_gives_an_output_error_naming_the_path_and_no_temporary(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "_fsync", FullDisk())
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(OutputError, match=r"a\.txt: cannot write: No space left on device"):
        write_text(tmp_path / "a.txt", "new")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"


@pytest.mark.parametrize("command", [["run", str(TUTORIAL)],
                                     ["compare", str(TUTORIAL), str(TUTORIAL)]])
def test_run_and_compare_on_a_full_disk_exit_2_and_leave_out_as_it_was(
        command, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("an earlier run\n")
    before = contents(out)
    monkeypatch.setattr(output, "_fsync", FullDisk(after=1))
    code = cli.main([*command, *FAST, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "No space left on device" in err and f"{out}/" in err
    assert "Traceback" not in err and ".staging" not in err
    assert contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sweep_on_a_full_disk_reports_the_first_error_only(tmp_path, monkeypatch, capsys):
    # Run files are renamed into place without a sync of their own (experiments/store.py):
    # the disk fills while the second one is written.
    import pyarrow.parquet as pq

    spec = experiment_file(tmp_path)
    real, written = pq.write_table, []

    def write_table(table, where, *args, **kwargs):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))
        written.append(where)
        return real(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", write_table)
    code = cli.main(["sweep", str(spec), "--workers", "1", "--out", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("No space left on device") == 1 and "rep-" in err
    assert "Traceback" not in err and "manifest" not in err


# --- the output folder of a command ---------------------------------------------------------


def test_staged_folder_moves_in_whole_keeps_other_files_and_cleans_up(tmp_path):
    out = tmp_path / "out"
    with staged_folder(out) as stage:
        (stage / "a.csv").write_text("1")
        assert not out.exists()
    assert contents(out) == {"a.csv": b"1"}
    (out / "mine.txt").write_text("the user's")
    with pytest.raises(RuntimeError), staged_folder(out) as stage:
        (stage / "a.csv").write_text("2")
        raise RuntimeError("stopped half-way")
    assert contents(out) == {"a.csv": b"1", "mine.txt": b"the user's"}
    with staged_folder(out, last=["run.json"]) as stage:
        (stage / "sub").mkdir()
        (stage / "sub" / "b.csv").write_text("3")
        (stage / "run.json").write_text("{}")
    assert contents(out) == {"a.csv": b"1", "mine.txt": b"the user's", "run.json": b"{}",
                             "sub/b.csv": b"3"}
    # A staging folder of a process that is gone is removed by the next command.
    dead = tmp_path / f"{output.STAGING}999999999-x-out"
    dead.mkdir()
    with staged_folder(out):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_run_record_says_what_ran_and_how_it_ended(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", str(TUTORIAL), *FAST, "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "run" and record["exception"] is None
    assert record["scenarios"]["tutorial"]["hash"] == record["scenario_hash"]
    assert record["seed"] == 1 and record["replications"] == 2
    assert record["ended"] >= record["started"]

    def broken(*args, **kwargs):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(engine, "run", broken)
    with pytest.raises(RuntimeError):
        cli.main(["run", str(TUTORIAL), *FAST, "--out", str(out)])
    record = json.loads((out / "run.json").read_text())
    assert record["exception"] == {"type": "RuntimeError", "message": "the engine broke"}
    assert record["files"] == [] and record["command"] == "run"
    assert (out / "summary.csv").is_file()  # the earlier run's files are left as they were


def test_compare_keeps_scenario_folders_inside_out():
    assert unique_labels(["a/...yaml", "b/x y.yaml", "c/...yaml", "d/ok.yaml"]) == [
        "scenario", "x_y", "scenario-2", "ok"]


def test_too_many_replications_are_refused_before_any_work(capsys):
    assert cli.main(["run", str(TUTORIAL), "-n", "1000000000"]) == 2
    assert "--replications may be at most 100,000" in capsys.readouterr().err
    with pytest.raises(ScenarioError, match="replications"):
        load_scenario(TUTORIAL, ["replications=1000000000"])


def test_a_long_run_is_warned_of(capsys):
    warn_size(load_scenario(TUTORIAL), 10)
    assert capsys.readouterr().err == ""
    warn_size(load_scenario(TUTORIAL, ["sources.inbound.rate=1e5"]), 10, event_log=True)
    assert capsys.readouterr().err.startswith("salessim: a large run: about 18,000,000 leads")


# --- sweeps ---------------------------------------------------------------------------------


def test_a_torn_run_file_is_redone_on_resume(tmp_path, capsys):
    exp = load_experiment(experiment_file(tmp_path))
    out = tmp_path / "res"
    sweep(exp, out)
    files = result_files(out)
    expected = {p: pq.read_table(p) for p in files}
    files[1].write_bytes(b"")  # renamed into place, never synced: a crash leaves it empty
    assert cli.main(["results", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{files[1]}: a stored run that does not read back" in err and "Traceback" not in err
    noticed = []
    report = sweep(exp, out, on_broken=noticed.append)
    assert noticed == [[files[1]]] and report.ran == 1
    assert pq.read_table(files[1]).equals(expected[files[1]])


def test_overlapping_shards_keep_every_history_entry(tmp_path):
    exp = load_experiment(experiment_file(tmp_path))
    out = tmp_path / "res"
    first = ResultStore.open(out, exp, "serial", "1/2")
    second = ResultStore.open(out, exp, "serial", "2/2")  # starts before the first ends
    first.finish({"ran": 2})
    second.finish({"ran": 2})
    assert [h["shard"] for h in read_manifest(out)["history"]] == ["1/2", "2/2"]


def test_fewer_replications_on_resume_leaves_the_extra_runs_out(tmp_path):
    sweep(load_experiment(experiment_file(tmp_path, replications=3)), tmp_path / "res")
    exp = load_experiment(experiment_file(tmp_path, replications=2))
    sweep(exp, tmp_path / "res")
    text = results_report(tmp_path / "res")
    assert "4 of 4 runs stored" in text
    assert "2 stored runs of replications 2 and up (from a sweep with more replications)" in text
    summary = summarise_results(load_results(tmp_path / "res"))
    assert set(summary["n"]) == {2}


def test_a_run_past_its_time_limit_is_stored_as_failed_and_the_sweep_goes_on(tmp_path):
    exp = load_experiment(experiment_file(tmp_path))

    cut = []

    def runner(task):
        if task.design == "d000" and task.replication == 0:
            try:
                time.sleep(30)  # a run that would never end
            except RunTimeout:
                cut.append(task.key)  # stopped while it ran: the sweep did not wait 30 s
                raise
        return {"won": 1.0}

    report = sweep(exp, tmp_path / "res", SerialExecutor(), runner=runner, run_timeout=0.3)
    assert cut == [("d000", 0)]
    assert (report.ran, report.failed) == (4, 1)
    frame = load_results(tmp_path / "res")
    bad = frame[frame["status"] == "error"]
    assert bad["error"].tolist() == [
        "RunTimeout: the run took longer than its time limit of 0.3 s"]


def test_an_experiment_with_too_many_designs_is_refused_before_expanding(tmp_path):
    levels = "[" + ", ".join(str(i) for i in range(1, 400)) + "]"
    spec = experiment_file(tmp_path, levels=levels)
    text = spec.read_text().replace("factors: {", f"factors: {{sources.web.rate: {levels}, ")
    spec.write_text(text)
    # 159,201 designs, each a validated scenario, would take minutes of CPU to expand.
    with cpu_limit(10), pytest.raises(ScenarioError,
                                      match=f"above the limit of {MAX_DESIGNS:,}"):
        load_experiment(spec)


@pytest.mark.xdist_group("dask")  # not beside the other local clusters
def test_local_dask_removes_its_scratch_space():
    pytest.importorskip("distributed")
    from salessim.experiments import DaskExecutor

    dask = DaskExecutor("local", workers=1)
    scratch = Path(dask._scratch)
    assert scratch.is_dir() and scratch.name.startswith("salessim-dask-")
    dask.close()
    assert not scratch.exists()


def test_the_limits_page_states_the_limits_in_the_code():
    from salessim.commands import MAX_REPLICATIONS
    from salessim.scenario import size, yamlread
    from salessim.scenario.load import MAX_EXTENDS

    text = " ".join((ROOT / "docs" / "limits.md").read_text().split())
    for value in (yamlread.MAX_FILE_BYTES, yamlread.MAX_NODES, size.MAX_LEADS_PER_REPLICATION,
                  size.MAX_VISITS_PER_REPLICATION, size.MAX_HORIZON_DAYS, size.MAX_PERIODS,
                  size.MAX_TRACKED_HEADCOUNT, MAX_REPLICATIONS, MAX_DESIGNS, size.WARN_EVENTS):
        assert f"{value:,}" in text, value
    assert f"at most {yamlread.MAX_DEPTH} levels" in text
    assert f"holds at most {MAX_EXTENDS} bases" in text
    assert f"{size.EVENT_LOG_BYTES_PER_EVENT} bytes an event" in text
    assert f"{size.WARN_EVENT_LOG_BYTES // 1024**3} GiB" in text


def test_a_killed_writers_temporary_file_is_removed_on_resume(tmp_path):
    exp = load_experiment(experiment_file(tmp_path))
    out = tmp_path / "res"
    sweep(exp, out)
    folder = result_files(out)[0].parent
    stale = folder / ".rep-000000.parquet.999999999.abc.part"  # its writer is gone
    live = folder / f".rep-000001.parquet.{os.getpid()}.abc.part"  # being written now
    stale.write_bytes(b"x" * 1000)
    live.write_bytes(b"x")
    sweep(exp, out)
    assert not stale.exists() and live.exists()


def test_sweep_and_its_failure_write_the_run_record(tmp_path, monkeypatch, capsys):
    spec = experiment_file(tmp_path)
    out = tmp_path / "res"
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    record = json.loads((out / "_run.json").read_text())
    assert record["command"] == "sweep" and record["exception"] is None
    assert set(record["scenarios"]) == {"d000", "d001"} and record["replications"] == 2
    assert record["files"] == ["_manifest.json"]

    from salessim.experiments import store

    def broken(self):
        raise RuntimeError("the store broke")

    monkeypatch.setattr(store.ResultStore, "verify", broken)
    with pytest.raises(RuntimeError):
        cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)])
    record = json.loads((out / "_run.json").read_text())
    assert record["exception"] == {"type": "RuntimeError", "message": "the store broke"}


def test_a_large_sweep_is_warned_of(capsys):
    from salessim.commands import warn_sweep_size

    small = load_scenario(TUTORIAL)
    warn_sweep_size([small, small], 10)
    assert capsys.readouterr().err == ""
    big = load_scenario(TUTORIAL, ["sources.inbound.rate=1e4"])
    warn_sweep_size([big, big], 10)  # 2 x 10 x 1.8 million leads, 6 events or so each
    assert capsys.readouterr().err.startswith("salessim: a large sweep: about ")


def test_run_timeout_works_in_the_process_pool(tmp_path):
    from salessim.experiments import ProcessPool

    spec = experiment_file(tmp_path, levels="[1]")
    spec.write_text(spec.read_text().replace("factors: {", "factors: {horizon: [20000], "))
    exp = load_experiment(spec)
    with ProcessPool(1) as pool:
        report = sweep(exp, tmp_path / "res", pool, run_timeout=0.2)
    assert (report.ran, report.failed) == (2, 2)
    # RunTimeout is raised only inside a run (the timer stops when the run returns): each of
    # these runs, several seconds long, was stopped in the worker.
    errors = load_results(tmp_path / "res")["error"].tolist()
    assert errors == ["RunTimeout: the run took longer than its time limit of 0.2 s"] * 2


def test_a_second_signal_ends_the_command_at_once(monkeypatch):
    import signal

    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)
    signals = cli._Signals()
    with pytest.raises(KeyboardInterrupt):
        signals._handle(signal.SIGTERM, None)  # the first: clean up, then exit 143
    assert signals.status == 143 and exits == []
    signals._handle(signal.SIGINT, None)  # the second, while cleaning up: no waiting
    assert exits == [130]


def test_out_as_the_current_folder_is_staged_beside_it(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with staged_folder(".") as stage:
        assert stage.parent == tmp_path
        (stage / "a.csv").write_text("1")
    assert contents(here) == {"a.csv": b"1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]
