"""Tests of the ``salessim`` command: validate, schema and run, through ``cli.main``.

Bad input must give exit status 2, one message on stderr naming file, field, rule and value,
no traceback, and must not touch files a previous run wrote.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from salessim import cli
from salessim.scenario import load_scenario, scenario_hash

SCENARIO = textwrap.dedent("""\
    name: cli funnel
    time_unit: day
    horizon: 40
    warmup: 5
    replications: 3
    seed: 17
    roles:
      sdr: {headcount: 1, cost_per_hour: 30}
      ae: {headcount: 2, cost_per_hour: 60}
    sources:
      web: {rate: 3, deal_value: {dist: lognormal, mean: 1000, cv: 0.5}}
    entry: qualify
    stages:
      qualify:
        role: sdr
        work: {dist: exponential, mean: 1 hour}
        next: {close: 0.5, lost: 0.5}
      close:
        role: ae
        work: 2 hours
        delay: {dist: exponential, mean: 3}
        next: {won: 0.6, lost: 0.4}
    """)
PROCESS_MINING = ["case:concept:name", "concept:name", "time:timestamp", "org:resource",
                  "lifecycle:transition"]


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "funnel.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def broken(tmp_path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(SCENARIO.replace("next: {close: 0.5, lost: 0.5}",
                                     "next: {close: 0.5, lost: 0.6}"), encoding="utf-8")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(capsys, scenario):
    code, out, err = run_cli(capsys, "validate", scenario)
    assert code == 0
    assert f"{scenario}: ok (cli funnel: 2 stages, 2 roles, 1 sources)" in out


def test_validate_failing(capsys, scenario, broken):
    code, out, err = run_cli(capsys, "validate", scenario, broken)
    assert code == 2
    assert f"{scenario}: ok" in out  # the good file is still reported
    assert f"{broken}:17: stages.qualify.next: probabilities must sum to 1" in err
    assert "Traceback" not in err


def test_validate_with_set(capsys, scenario):
    code, _, err = run_cli(capsys, "validate", scenario, "--set", "roles.ae.headcount=0")
    assert code == 2
    assert "--set:1: roles.ae.headcount:" in err and "(got 0)" in err
    code, out, _ = run_cli(capsys, "validate", scenario, "--set", "stages.close.delay=null")
    assert code == 0 and "ok" in out


def test_schema_prints_json(capsys):
    code, out, _ = run_cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert {"name", "stages", "extends"} <= set(schema["properties"])


def _kpi_rows(out: str) -> dict[str, str]:
    """KPI name -> its table line, from the KPI table of ``salessim run``."""
    lines = out.split("\nFunnel", 1)[0].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("KPI "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip() or line.startswith(("one replication", "more in")) or " more in " in line:
            break
        name = [w for w in line.split() if w in KNOWN_KPIS][-1]  # the name column
        rows[name] = line
    return rows


KNOWN_KPIS = {"leads", "won", "win_rate", "cycle_time_won_median", "revenue", "selling_cost",
              "cost_per_win", "utilisation.sdr", "utilisation.ae", "conversion.qualify",
              "conversion.close", "wait_mean.qualify", "wait_mean.close"}


def test_run_prints_the_headline_kpis_with_labels_and_units(capsys, scenario):
    code, out, err = run_cli(capsys, "run", scenario, "-n", "2")
    assert code == 0
    assert "cli funnel: 2 replications, seed 17" in out
    header = next(line for line in out.splitlines() if line.startswith("KPI"))
    assert header.split() == ["KPI", "name", "mean", "95%", "CI"]
    rows = _kpi_rows(out)
    busiest = {"utilisation.sdr", "utilisation.ae"} & set(rows)
    assert set(rows) - busiest == {"leads", "won", "win_rate", "cycle_time_won_median",
                                   "revenue", "selling_cost", "cost_per_win"}
    assert len(busiest) == 1  # the busiest role only
    assert rows["win_rate"].split()[:2] == ["Win", "rate"] and "%" in rows["win_rate"]
    assert " days " in rows["cycle_time_won_median"]
    assert re.search(r"\d+ more in summary\.csv", out)
    assert "e-0" not in out and "nan" not in out
    assert "Traceback" not in err


def test_run_kpis_option_takes_names_and_globs(capsys, scenario):
    code, out, _ = run_cli(capsys, "run", scenario, "-n", "2", "--kpis", "won,conversion.*",
                           "--kpis", "wait_mean.close")
    assert code == 0
    assert set(_kpi_rows(out)) == {"won", "conversion.qualify", "conversion.close",
                                   "wait_mean.close"}
    code, _, err = run_cli(capsys, "run", scenario, "-n", "2", "--kpis", "wim_rate")
    assert code == 2
    assert "'wim_rate' matches no KPI" in err and "did you mean 'win_rate'" in err


def test_run_with_one_replication_has_no_ci_columns(capsys, scenario):
    code, out, _ = run_cli(capsys, "run", scenario, "-n", "1")
    assert code == 0
    header = next(line for line in out.splitlines() if line.startswith("KPI"))
    assert header.split() == ["KPI", "name", "mean"]
    assert "one replication: no confidence intervals" in out


def test_run_out_writes_summary_replications_and_metadata(capsys, scenario, tmp_path):
    out_dir = tmp_path / "out"
    code, out, _ = run_cli(capsys, "run", scenario, "-n", "3", "--seed", "9", "--out", out_dir,
                           "--set", "roles.ae.headcount=3")
    assert code == 0

    summary = pd.read_csv(out_dir / "summary.csv")
    assert {"kpi", "mean", "ci_low", "ci_high", "n"} <= set(summary.columns)
    assert summary["kpi"].is_unique
    labels = summary.set_index("kpi")
    assert labels.loc["win_rate", "label"] == "Win rate"
    assert labels.loc["win_rate", "unit"] == "share"
    assert labels.loc["wait_mean.qualify", "unit"] == "days"
    # n counts the replications where the KPI is defined (no delay: no mean delay).
    by_kpi = summary.set_index("kpi")
    assert by_kpi.loc[["leads", "won", "win_rate", "delay_mean.close"], "n"].tolist() == [3] * 4
    assert by_kpi.loc["delay_mean.qualify", "n"] == 0

    reps = pd.read_csv(out_dir / "replications.csv")
    assert list(reps.columns[:3]) == ["replication", "kpi", "value"]
    assert sorted(reps["replication"].unique()) == [0, 1, 2]
    assert not reps.duplicated(["replication", "kpi"]).any()
    assert len(reps) == 3 * len(summary)  # one row per replication and KPI
    # The summary's mean is the mean of the replications.
    leads = reps[reps["kpi"] == "leads"]["value"].mean()
    assert summary.set_index("kpi").loc["leads", "mean"] == pytest.approx(leads)

    meta = json.loads((out_dir / "run.json").read_text())
    resolved = load_scenario(scenario, ["roles.ae.headcount=3"])
    assert meta["scenario_hash"] == scenario_hash(resolved)
    assert meta["seed"] == 9
    assert meta["resolved_scenario"]["roles"]["ae"]["headcount"] == 3
    assert meta["resolved_scenario"]["name"] == "cli funnel"
    assert {"salessim", "python", "numpy", "simpy"} <= set(meta["versions"])
    assert "roles.ae.headcount=3" in meta["sets"]
    # run.json names exactly what this run wrote (no event log was asked for).
    assert meta["files"] == ["summary.csv", "replications.csv", "funnel.csv"]
    assert all((out_dir / name).is_file() for name in meta["files"])


def test_run_event_log(capsys, scenario, tmp_path):
    out_dir = tmp_path / "out"
    code, _, _ = run_cli(capsys, "run", scenario, "-n", "2", "--out", out_dir, "--event-log")
    assert code == 0
    csv = pd.read_csv(out_dir / "event_log.csv")
    parquet = pd.read_parquet(out_dir / "event_log.parquet")
    for frame in (csv, parquet):
        assert set(PROCESS_MINING) <= set(frame.columns)
        assert sorted(frame["replication"].unique()) == [0, 1]
    assert len(csv) == len(parquet) > 0
    assert pd.api.types.is_datetime64_any_dtype(parquet["time:timestamp"])
    # The XES standard lifecycle model's transitions, nothing else.
    assert set(parquet["lifecycle:transition"]) <= {
        "schedule", "assign", "start", "complete", "withdraw", "suspend", "resume", "autoskip"}
    # Each lead of a replication is one case with one creation.
    created = parquet[parquet["event"] == "created"]
    assert not created.duplicated(["replication", "case:concept:name"]).any()


def test_event_log_without_out_is_a_usage_error(capsys, scenario):
    code, out, err = run_cli(capsys, "run", scenario, "--event-log")
    assert code == 2
    assert "--event-log" in err and "--out" in err
    assert "Traceback" not in err and "replications" not in out


def test_run_with_a_bad_file(capsys, broken):
    code, _, err = run_cli(capsys, "run", broken)
    assert code == 2
    assert err.startswith(f"salessim: {broken}:17: stages.qualify.next: ")
    assert "Traceback" not in err


def test_a_failing_run_leaves_earlier_output_intact(capsys, scenario, tmp_path):
    out_dir = tmp_path / "out"
    assert run_cli(capsys, "run", scenario, "-n", "2", "--out", out_dir, "--event-log")[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    assert {"summary.csv", "replications.csv", "run.json", "event_log.csv",
            "event_log.parquet"} <= set(before)
    for bad in (["--set", "stages.close.work=3 fortnights"], ["--set", "foo"]):
        code, _, err = run_cli(capsys, "run", scenario, "-n", "2", "--out", out_dir,
                               "--event-log", *bad)
        assert code == 2 and "Traceback" not in err
        assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_installed_command_fails_cleanly(broken):
    exe = Path(sys.executable).with_name("salessim")
    assert exe.exists(), f"salessim is not installed beside {sys.executable}"
    done = subprocess.run([str(exe), "validate", str(broken)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert f"{broken}:17: stages.qualify.next: probabilities must sum to 1" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
