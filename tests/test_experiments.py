"""Experiments at scale: experiment files, designs, executors, the result store, the CLI.

Runs use a tiny scenario (a few milliseconds per replication). Executors are compared for
identical values, never for speed. One Dask LocalCluster serves the whole module.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from salessim import engine, stats
from salessim.cli import main
from salessim.errors import ScenarioError, UsageError
from salessim.experiments import (
    DaskExecutor,
    ExperimentSpec,
    ProcessPool,
    SerialExecutor,
    file_manifest,
    load_experiment,
    load_results,
    parse_shard,
    plot_kpi_by_factor,
    read_manifest,
    shard_tasks,
    simulate,
    summarise_results,
    sweep,
)
from salessim.experiments.executors import import_distributed
from salessim.experiments.runs import WORKER_DIED
from salessim.experiments.store import result_files
from salessim.rng import STREAM_SCHEME
from salessim.scenario import Scenario, load_scenario, scenario_hash

ROOT = Path(__file__).resolve().parents[1]

TINY = """\
name: tiny
time_unit: day
horizon: 40
warmup: 5
replications: 4
seed: 11
roles:
  rep: {headcount: 1, cost_per_hour: 50}
sources:
  web: {rate: 3, cost_per_lead: 10, deal_value: {dist: lognormal, mean: 1000, cv: 0.5}}
entry: call
stages:
  call:
    role: rep
    work: {dist: exponential, mean: "1 hour"}
    next: {close: 0.5, lost: 0.5}
  close:
    role: rep
    work: {dist: exponential, mean: "2 hours"}
    delay: {dist: exponential, mean: 3}
    next: {won: 0.6, lost: 0.4}
"""

EXPERIMENT = """\
name: tiny_sweep
scenarios: tiny.yaml
factors:
  roles.rep.headcount: [1, 2]
  stages.close.delay.mean: [1, "3 days", 5]
replications: 4
kpis: [won, revenue, cycle_time_won_median]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    return tmp_path


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def values(frame: pd.DataFrame) -> pd.DataFrame:
    """The part of a result table that must not depend on the executor."""
    return frame.sort_values(["design", "replication", "kpi"]).reset_index(drop=True)


# --- experiment files and designs -----------------------------------------------------------


def test_example_experiment_is_a_full_factorial_on_the_baseline():
    exp = load_experiment(ROOT / "experiments/se_headcount_by_delay.yaml")
    base = load_scenario(ROOT / "scenarios/b2b_baseline.yaml")
    levels = {(d.values["roles.se.headcount"], d.values["stages.close.delay.mean"])
              for d in exp.designs}
    assert levels == {(s, m) for s in (1, 2, 3) for m in (1, 3, 6)}
    assert len(exp.designs) == 9 and exp.factors == ("roles.se.headcount",
                                                     "stages.close.delay.mean")
    for d in exp.designs:
        scenario = exp.scenarios[d.id]
        assert scenario.roles["se"].headcount == d.values["roles.se.headcount"]
        assert scenario.stages["close"].delay.mean == d.values["stages.close.delay.mean"]
        # Everything else is the baseline's.
        assert scenario.roles["ae"] == base.roles["ae"]
        assert scenario.stages["demo"] == base.stages["demo"]
    same = [d.id for d in exp.designs if d.values == {"roles.se.headcount": 2,
                                                      "stages.close.delay.mean": 6}]
    assert exp.hashes[same[0]] == scenario_hash(base)


def test_designs_run_on_the_experiments_seed_and_replications(folder):
    exp = load_experiment(folder / "exp.yaml")
    assert exp.seed == 11 and exp.replications == 4  # seed from the scenario, reps given
    tasks = exp.tasks()
    assert len(tasks) == 6 * 4
    assert {t.seed for t in tasks} == {11}
    assert [t.replication for t in tasks[:4]] == [0, 1, 2, 3]
    # "3 days" is converted by the scenario, not by the experiment.
    assert exp.scenarios["d001"].stages["close"].delay.mean == 3


def test_list_design_with_named_scenarios_and_fixed_values(folder):
    (folder / "tiny2.yaml").write_text(TINY.replace("rate: 3", "rate: 5"))
    (folder / "list.yaml").write_text("""\
name: named
scenarios: {now: tiny.yaml, more_leads: tiny2.yaml}
fixed: {horizon: 30}
design:
  kind: list
  designs:
    small: {roles.rep.headcount: 1}
    big: {roles.rep.headcount: 3, scenario: more_leads}
""")
    exp = load_experiment(folder / "list.yaml")
    assert [d.id for d in exp.designs] == ["small", "big"]
    assert exp.scenarios["small"].sources["web"].rate == 3
    assert exp.scenarios["big"].sources["web"].rate == 5
    assert exp.scenarios["big"].roles["rep"].headcount == 3
    assert {s.horizon for s in exp.scenarios.values()} == {30}


def test_latin_hypercube_uses_every_stratum_once(folder):
    n = 12
    (folder / "lhs.yaml").write_text(f"""\
name: lhs
scenarios: tiny.yaml
factors:
  stages.close.delay.mean: {{low: 1, high: 7}}
  roles.rep.headcount: {{low: 1, high: 4, integer: true}}
  stages.call.work.mean: ["30 minutes", "1 hour", "2 hours"]
design: {{kind: lhs, samples: {n}, seed: 5}}
""")
    exp = load_experiment(folder / "lhs.yaml")
    delays = np.array([d.values["stages.close.delay.mean"] for d in exp.designs])
    strata = np.floor((delays - 1) / 6 * n).astype(int)
    assert sorted(strata) == list(range(n))
    heads = [d.values["roles.rep.headcount"] for d in exp.designs]
    assert all(isinstance(h, int) for h in heads)
    # 12 strata over 4 integers: each integer exactly 3 times.
    assert sorted(heads) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert sorted(d.values["stages.call.work.mean"] for d in exp.designs) == sorted(
        ["30 minutes", "1 hour", "2 hours"] * 4)
    again = load_experiment(folder / "lhs.yaml")
    assert [d.values for d in again.designs] == [d.values for d in exp.designs]


def test_random_design_is_reproducible_and_within_ranges(folder):
    text = """\
name: rnd
scenarios: tiny.yaml
factors:
  stages.close.delay.mean: {low: 2, high: 4}
design: {kind: random, samples: 20, seed: SEED}
"""
    (folder / "a.yaml").write_text(text.replace("SEED", "1"))
    (folder / "b.yaml").write_text(text.replace("SEED", "2"))
    a, a2, b = (load_experiment(folder / f) for f in ("a.yaml", "a.yaml", "b.yaml"))
    xs = [d.values["stages.close.delay.mean"] for d in a.designs]
    assert all(2 <= x <= 4 for x in xs) and len(set(xs)) == 20
    assert xs == [d.values["stages.close.delay.mean"] for d in a2.designs]
    assert xs != [d.values["stages.close.delay.mean"] for d in b.designs]


@pytest.mark.parametrize("text, line, match", [
    ("name: x\nscenarios: tiny.yaml\nfactor: {}\n", 3, r"unknown key \(did you mean 'factors'"),
    ("name: x\nscenarios: tiny.yaml\nfactors:\n  roles.rep.headcount: [1, 0]\n", 4,
     r"roles\.rep\.headcount: .*greater than or equal to 1.*\[in design d001\]"),
    ("name: x\nscenarios: tiny.yaml\nfactors:\n  horizon: {low: 1, high: 2}\n", None,
     "a full factorial needs lists of levels"),
    ("name: x\nscenarios: tiny.yaml\nkpis: [won, win_rat]\n", 3,
     r"kpis\.1: unknown KPI \(did you mean 'win_rate'\?\)"),
    ("name: x\nscenarios: tiny.yaml\nkpis: [wait_mean.demo]\n", 3, "no stage 'demo'"),
    ("name: x\nscenarios: nowhere.yaml\n", 2, "no such scenario file"),
    ("name: x\nscenarios: tiny.yaml\ndesign: {kind: lhs}\n", 3, "needs samples"),
    ("name: x\nscenarios: tiny.yaml\nfactors:\n  kpi: [1]\n", 4, "names a column"),
])
def test_bad_experiment_files_name_file_line_field_and_rule(folder, text, line, match):
    (folder / "bad.yaml").write_text(text)
    with pytest.raises(ScenarioError, match=match) as info:
        load_experiment(folder / "bad.yaml")
    problem = info.value.problems[0]
    assert problem.file is not None and problem.file.endswith("bad.yaml")
    if line is not None:
        assert problem.line == line


# --- executors ------------------------------------------------------------------------------


def test_serial_and_process_pool_give_identical_results(folder):
    exp = load_experiment(folder / "exp.yaml")
    sweep(exp, folder / "serial", SerialExecutor())
    with ProcessPool(2) as pool:
        report = sweep(exp, folder / "pool", pool, chunksize=3)
    assert report.ran == 24 and report.failed == 0
    a, b = load_results(folder / "serial"), load_results(folder / "pool")
    assert len(a) == 24 * 3
    pd.testing.assert_frame_equal(values(a), values(b), check_exact=True)
    assert read_manifest(folder / "pool")["executor"] == "process pool (2 workers)"


@pytest.mark.xdist_group("dask")  # one LocalCluster for both, on one core
def test_dask_gives_identical_results(folder, dask_client):
    exp = load_experiment(folder / "exp.yaml")
    sweep(exp, folder / "serial", SerialExecutor())
    with DaskExecutor(client=dask_client) as dask:
        report = sweep(exp, folder / "dask", dask, chunksize=2)
    assert report.ran == 24
    pd.testing.assert_frame_equal(values(load_results(folder / "serial")),
                                  values(load_results(folder / "dask")), check_exact=True)


@pytest.mark.xdist_group("dask")  # one LocalCluster for both, on one core
def test_dask_runs_equal_arguments_separately(dask_client):
    # pure=False: identical items are separate runs, not one merged task.
    with DaskExecutor(client=dask_client) as dask:
        out = sorted(dask.map_unordered(abs, [-7, -7, -7]))
    assert out == [(0, 7), (1, 7), (2, 7)]


def test_missing_dask_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now raises ImportError
    with pytest.raises(UsageError, match=r"salessim\[dask\]"):
        import_distributed()


# --- the result store: resume, failures, changes, shards ------------------------------------


def test_rerun_skips_completed_runs_and_redoes_nothing(folder):
    exp = load_experiment(folder / "exp.yaml")
    calls = []

    def counting(task):
        calls.append(task.key)
        return simulate(task)

    first = sweep(exp, folder / "out", runner=counting)
    assert first.ran == 24 and len(calls) == 24
    before = {p: p.stat().st_mtime_ns for p in result_files(folder / "out")}
    calls.clear()
    again = sweep(exp, folder / "out", runner=counting)
    assert (again.ran, again.skipped, calls) == (0, 24, [])
    assert {p: p.stat().st_mtime_ns for p in result_files(folder / "out")} == before
    # Lose two runs: only those are run again.
    lost = sorted(before)[5:7]
    for p in lost:
        p.unlink()
    third = sweep(exp, folder / "out", runner=counting)
    assert third.ran == 2 and sorted(calls) == sorted(
        (p.parent.name.split("=")[1], int(p.stem.split("-")[1])) for p in lost)
    history = read_manifest(folder / "out")["history"]
    assert [h["ran"] for h in history] == [24, 0, 2]


def _raise_on_d001_rep2(task):
    if task.key == ("d001", 2):
        raise RuntimeError("no staff calendar for this design")
    return simulate(task)


def test_a_raising_run_is_recorded_and_the_sweep_goes_on(folder):
    exp = load_experiment(folder / "exp.yaml")
    report = sweep(exp, folder / "out", runner=_raise_on_d001_rep2)
    assert (report.ran, report.failed) == (24, 1)
    frame = load_results(folder / "out")
    bad = frame[frame["status"] == "error"]
    assert bad[["design", "replication"]].values.tolist() == [["d001", 2]]
    assert bad["error"].iloc[0] == "RuntimeError: no staff calendar for this design"
    assert math.isnan(bad["value"].iloc[0])
    summary = summarise_results(frame)
    assert set(summary.loc[summary["design"] == "d001", "failed"]) == {1}
    assert set(summary.loc[summary["design"] == "d001", "n"]) == {3}
    # A plain rerun keeps the recorded error; --retry-errors runs it again.
    assert sweep(exp, folder / "out").ran == 0
    retry = sweep(exp, folder / "out", retry_errors=True)
    assert (retry.ran, retry.failed) == (1, 0)
    assert (load_results(folder / "out")["status"] == "ok").all()


def _die_on_d002_rep1(task):
    if task.key == ("d002", 1):
        os._exit(3)  # the worker process dies: no exception, no message
    return simulate(task)


def test_a_run_that_kills_its_worker_is_recorded(folder):
    exp = load_experiment(folder / "exp.yaml")
    with ProcessPool(2) as pool:
        report = sweep(exp, folder / "out", pool, runner=_die_on_d002_rep1, chunksize=4)
    assert (report.ran, report.failed) == (24, 1)
    frame = load_results(folder / "out")
    bad = frame[frame["status"] == "error"]
    assert bad[["design", "replication"]].values.tolist() == [["d002", 1]]
    assert bad["error"].iloc[0] == WORKER_DIED
    sweep(exp, folder / "serial")
    ok = values(frame[frame["status"] == "ok"])
    ref = load_results(folder / "serial")
    ref = values(ref[~((ref["design"] == "d002") & (ref["replication"] == 1))])
    pd.testing.assert_frame_equal(ok, ref, check_exact=True)


def test_an_interrupted_sweep_keeps_its_runs_and_resumes(folder):
    exp = load_experiment(folder / "exp.yaml")
    done = []

    def interrupted_after_five(task):
        if len(done) == 5:
            raise KeyboardInterrupt
        done.append(task.key)
        return simulate(task)

    with pytest.raises(KeyboardInterrupt):
        sweep(exp, folder / "out", runner=interrupted_after_five, chunksize=1)
    assert len(result_files(folder / "out")) == 5
    assert read_manifest(folder / "out")["history"][-1]["interrupted"] is True
    assert sweep(exp, folder / "out").ran == 19
    sweep(exp, folder / "clean")
    pd.testing.assert_frame_equal(values(load_results(folder / "out")),
                                  values(load_results(folder / "clean")), check_exact=True)


def test_a_sweep_killed_mid_way_leaves_only_whole_files(folder):
    slow = EXPERIMENT.replace("replications: 4", "replications: 30").replace(
        "kpis:", "fixed: {horizon: 400}\nkpis:")
    (folder / "exp.yaml").write_text(slow)
    out = folder / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "salessim.cli", "sweep", str(folder / "exp.yaml"), "--workers",
         "1", "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(result_files(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = result_files(out)
    assert 3 <= len(stored) < 180, "the sweep must be killed mid-way for this test to mean much"
    for path in stored:  # every stored file is whole
        assert pq.read_table(path).num_rows == 3
    others = [p for p in out.rglob("*") if p.is_file() and p not in stored]
    # Anything else is the manifest or a hidden temporary file that no reader picks up.
    assert all(p.name == "_manifest.json" or p.name.startswith(".") for p in others)
    # Resume: exactly the stored runs are skipped (a stand-in runner keeps this quick).
    report = sweep(load_experiment(folder / "exp.yaml"), out, runner=_no_kpis)
    assert report.skipped == len(stored) and report.ran == 180 - len(stored)


def _no_kpis(task):
    return {}


def test_a_changed_experiment_is_refused_but_more_replications_are_added(folder):
    sweep(load_experiment(folder / "exp.yaml"), folder / "out")
    (folder / "exp.yaml").write_text(EXPERIMENT.replace("[1, 2]", "[1, 2, 3]"))
    with pytest.raises(UsageError, match="holds results of a different experiment"):
        sweep(load_experiment(folder / "exp.yaml"), folder / "out")
    (folder / "tiny.yaml").write_text(TINY.replace("rate: 3", "rate: 4"))
    (folder / "exp.yaml").write_text(EXPERIMENT)
    with pytest.raises(UsageError, match="different experiment"):  # a base scenario changed
        sweep(load_experiment(folder / "exp.yaml"), folder / "out")
    (folder / "tiny.yaml").write_text(TINY)
    (folder / "exp.yaml").write_text(EXPERIMENT.replace("replications: 4", "replications: 6"))
    report = sweep(load_experiment(folder / "exp.yaml"), folder / "out")
    assert (report.skipped, report.ran) == (24, 12)


def test_a_folder_of_other_files_is_refused(folder):
    (folder / "out").mkdir()
    (folder / "out" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a results folder"):
        sweep(load_experiment(folder / "exp.yaml"), folder / "out")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_shards_partition_the_runs_exactly(folder, n):
    tasks = load_experiment(folder / "exp.yaml").tasks()
    shards = [shard_tasks(tasks, (i, n)) for i in range(1, n + 1)]
    keys = [t.key for shard in shards for t in shard]
    assert sorted(keys) == sorted(t.key for t in tasks) and len(set(keys)) == len(tasks)
    assert shard_tasks(tasks, (1, n)) == shards[0]  # deterministic


def test_shards_into_one_folder_make_the_whole_sweep(folder):
    exp = load_experiment(folder / "exp.yaml")
    for i in (1, 2, 3):
        assert sweep(exp, folder / "sharded", shard=(i, 3)).ran == 8
    sweep(exp, folder / "whole")
    pd.testing.assert_frame_equal(values(load_results(folder / "sharded")),
                                  values(load_results(folder / "whole")), check_exact=True)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(UsageError, match="--shard is i/N"):
        parse_shard(text)


def test_each_file_carries_a_manifest_that_reproduces_its_values(folder):
    exp = load_experiment(folder / "exp.yaml")
    sweep(exp, folder / "out")
    path = result_files(folder / "out")[7]
    meta = file_manifest(path)
    assert meta["experiment_hash"] == exp.hash and meta["root_seed"] == 11
    assert meta["stream_scheme"] == STREAM_SCHEME and "pyarrow" in meta["versions"]
    assert meta["executor"] == "serial"
    table = pq.read_table(path).to_pandas()
    data = meta["resolved_scenario"]
    scenario = Scenario.model_validate(data, context={"time_unit": data["time_unit"]})
    assert scenario_hash(scenario) == table["scenario_hash"].iloc[0]
    rep = engine.run_replication(scenario, int(table["replication"].iloc[0]), meta["root_seed"])
    assert {k: rep.kpis[k] for k in table["kpi"]} == dict(zip(table["kpi"], table["value"],
                                                              strict=True))
    manifest = read_manifest(folder / "out")
    assert manifest["ended"] >= manifest["started"]
    assert len(manifest["designs"]) == 6
    assert json.loads(json.dumps(manifest)) == manifest


# --- results --------------------------------------------------------------------------------


def test_summary_per_design_is_the_t_interval_of_its_replications(folder):
    sweep(load_experiment(folder / "exp.yaml"), folder / "out")
    frame = load_results(folder / "out")
    summary = summarise_results(frame, level=0.9)
    assert len(summary) == 6 * 3
    row = summary[(summary["design"] == "d004") & (summary["kpi"] == "revenue")].iloc[0]
    data = frame[(frame["design"] == "d004") & (frame["kpi"] == "revenue")]["value"]
    est = stats.t_interval(data.to_numpy(), 0.9)
    assert (row["mean"], row["ci_low"], row["ci_high"], row["n"]) == (
        est.mean, est.ci_low, est.ci_high, est.n)
    assert row["roles.rep.headcount"] == 2 and row["stages.close.delay.mean"] == "3 days"


def test_plot_of_a_kpi_against_a_factor(folder):
    sweep(load_experiment(folder / "exp.yaml"), folder / "out")
    summary = summarise_results(load_results(folder / "out"))
    png = folder / "plot.png"
    fig = plot_kpi_by_factor(summary, "won", "roles.rep.headcount",
                             by="stages.close.delay.mean", path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len(ax.collections) == 3  # a line and a band per level
    with pytest.raises(UsageError, match="also differ in stages.close.delay.mean"):
        plot_kpi_by_factor(summary, "won", "roles.rep.headcount")
    with pytest.raises(UsageError, match="no KPI 'lost'"):
        plot_kpi_by_factor(summary, "lost", "roles.rep.headcount", by="stages.close.delay.mean")


def test_cli_sweep_and_results(folder, capsys):
    out = folder / "out"
    assert main(["sweep", str(folder / "exp.yaml"), "--workers", "1", "--out", str(out)]) == 0
    assert "24 run now, 0 failed" in capsys.readouterr().out
    assert main(["sweep", str(folder / "exp.yaml"), "--workers", "1", "--out", str(out)]) == 0
    assert "24 already stored, 0 run now" in capsys.readouterr().out
    csv = folder / "summary.csv"
    assert main(["results", str(out), "--kpi", "won", "--csv", str(csv), "--plot", "revenue"]) == 0
    text = capsys.readouterr().out
    assert "24 of 24 runs stored, 0 failed" in text and "\nwon\n" in text
    assert "revenue\n" not in text.split("wrote")[0]  # --kpi filters the tables
    assert len(pd.read_csv(csv)) == 18
    assert (out / "plot-revenue-by-roles.rep.headcount.png").is_file()


def test_cli_bad_input_exits_2_with_a_message(folder, capsys):
    assert main(["sweep", str(folder / "exp.yaml"), "--shard", "0/2"]) == 2
    assert "--shard is i/N" in capsys.readouterr().err
    (folder / "bad.yaml").write_text(
        "name: x\nscenarios: tiny.yaml\nfactors: {roles.rep.headcount: [0]}\n")
    assert main(["sweep", str(folder / "bad.yaml"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:3: roles.rep.headcount" in err
    assert main(["results", str(folder)]) == 2
    assert "not a salessim results folder" in capsys.readouterr().err


def test_the_documented_files_are_the_examples():
    docs = (ROOT / "docs/experiments.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)]
    named = {b["name"]: b for b in blocks if isinstance(b, dict) and "name" in b}
    for name in ("se_headcount_by_delay", "staffing_budget"):
        example = yaml.safe_load((ROOT / f"experiments/{name}.yaml").read_text(encoding="utf-8"))
        shown = named[name]
        assert {k: v for k, v in example.items() if k in shown} == shown
    ExperimentSpec.model_validate(named["se_headcount_by_delay"])


def test_list_design_keys_are_checked_like_factors(folder):
    (folder / "bad.yaml").write_text(
        "name: x\nscenarios: tiny.yaml\ndesign:\n  kind: list\n  designs:\n"
        "    one: {roles.rep.headcount: 2}\n    two: {status: 1}\n")
    with pytest.raises(ScenarioError, match="design.designs.two.status: 'status' names a column"):
        load_experiment(folder / "bad.yaml")
