"""A sweep's results folder opens as one table in every common Parquet reader.

pandas, pyarrow.dataset, DuckDB (and polars, when installed) read a real sweep's folder
and get exactly the rows :func:`load_results` gives, failed runs included; folders of the
earlier layout still read, and are renamed to the new one when a sweep resumes into them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from salessim.cli import main
from salessim.experiments import load_experiment, load_results, read_manifest, sweep
from salessim.experiments.runs import simulate
from salessim.experiments.store import HISTORY, MANIFEST, RECORD, result_files

TINY = """\
name: tiny
horizon: 30
warmup: 5
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
name: readers
scenarios: tiny.yaml
factors:
  roles.rep.headcount: [1, 2]
  stages.close.delay.mean: [1, "3 days"]
replications: 3
kpis: [won, win_rate, revenue, cycle_time_won_median]
"""

KEY = ["design", "replication", "kpi"]
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "experiments.md"


def _raise_on_d001_rep2(task):
    if task.key == ("d001", 2):
        raise RuntimeError("this run failed")
    return simulate(task)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("readers")
    (root / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (root / "exp.yaml").write_text(EXPERIMENT, encoding="utf-8")
    out = root / "out"
    report = sweep(load_experiment(root / "exp.yaml"), out, runner=_raise_on_d001_rep2)
    assert report.failed == 1
    return out


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as plain values, in one order, whatever types the reader chose."""
    frame = frame.copy()
    frame["design"] = frame["design"].astype(str)
    frame["kpi"] = frame["kpi"].astype(object).where(frame["kpi"].notna(), "")
    cols = ["design", "replication", "kpi", "value", "status", "scenario_hash",
            "roles.rep.headcount", "stages.close.delay.mean"]
    return frame[cols].sort_values(KEY).reset_index(drop=True).astype(
        {"replication": "int64", "roles.rep.headcount": "int64"})


@pytest.fixture(scope="module")
def expected(folder) -> pd.DataFrame:
    frame = load_results(folder)
    assert len(frame) == 4 * 3 * 4 - 3  # the failed run is one row, with no KPI
    return tidy(frame)


def test_the_folder_holds_only_partitions_and_files_readers_skip(folder):
    names = {p.name for p in folder.iterdir()}
    assert names == {MANIFEST, HISTORY, "design=d000", "design=d001", "design=d002",
                     "design=d003"}
    assert all(n.startswith("_") or n.startswith("design=") for n in names)
    # The design is the partition, never a column inside a file.
    assert all("design" not in pq.read_schema(p).names for p in result_files(folder))


def test_pandas_reads_the_folder(folder, expected):
    frame = pd.read_parquet(folder)
    pd.testing.assert_frame_equal(tidy(frame), expected)


def test_pyarrow_dataset_reads_the_folder(folder, expected):
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    assert table.schema.field("design").type == pa.string()
    pd.testing.assert_frame_equal(tidy(table.to_pandas()), expected)


def test_duckdb_reads_the_folder(folder, expected):
    frame = duckdb.sql(
        f"SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning=true)").df()
    pd.testing.assert_frame_equal(tidy(frame), expected)
    won = duckdb.sql(
        f"SELECT design, count(*) AS n FROM read_parquet('{folder}/**/*.parquet', "
        "hive_partitioning=true) WHERE kpi = 'won' GROUP BY design ORDER BY design").fetchall()
    assert won == [("d000", 3), ("d001", 2), ("d002", 3), ("d003", 3)]


def test_polars_reads_the_folder(folder, expected):
    pl = pytest.importorskip("polars", reason="polars is not installed: the polars reader "
                                              "check is skipped (pip install polars)")
    frame = pl.scan_parquet(f"{folder}/**/*.parquet", hive_partitioning=True).collect()
    pd.testing.assert_frame_equal(tidy(frame.to_pandas()), expected)


def test_salessim_results_still_reads_it(folder, capsys):
    assert main(["results", str(folder), "--kpi", "won"]) == 0
    out = capsys.readouterr().out
    assert "readers: 12 of 12 runs stored, 1 failed" in out


def _old_layout(out):
    """Turn a folder into the earlier layout: manifest.json, history/, run.json and a
    design column inside every file."""
    os.replace(out / MANIFEST, out / "manifest.json")
    os.replace(out / HISTORY, out / "history")
    if (out / RECORD).exists():
        os.replace(out / RECORD, out / "run.json")
    for path in result_files(out):
        table = pq.read_table(path, partitioning=None)
        design = path.parent.name.split("=", 1)[1]
        table = table.add_column(1, "design", pa.array([design] * table.num_rows))
        pq.write_table(table.replace_schema_metadata(pq.read_schema(path).metadata), path)


def test_a_folder_of_the_earlier_layout_reads_and_is_renamed_on_resume(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(EXPERIMENT, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "exp.yaml"), "--workers", "1", "--out", str(out)]) == 0
    before = load_results(out)
    _old_layout(out)
    pd.testing.assert_frame_equal(load_results(out), before)
    assert len(read_manifest(out)["history"]) == 1
    assert main(["sweep", str(tmp_path / "exp.yaml"), "--workers", "1", "--out", str(out)]) == 0
    assert not (out / "manifest.json").exists() and not (out / "history").exists()
    assert (out / MANIFEST).is_file() and (out / RECORD).is_file()
    assert [h["ran"] for h in read_manifest(out)["history"]] == [12, 0]  # nothing redone
    assert json.loads((out / RECORD).read_text())["command"] == "sweep"
    pd.testing.assert_frame_equal(load_results(out), before)


def _guide_blocks(language: str) -> list[str]:
    section = GUIDE.read_text(encoding="utf-8").split("### Other readers", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_the_guides_reader_examples_run_on_a_real_folder(folder, expected):
    (code,) = _guide_blocks("python")
    scope: dict = {}
    exec(compile(code.replace("results/se", str(folder)), "experiments.md", "exec"), scope)
    pd.testing.assert_frame_equal(tidy(scope["frame"]), expected)
    assert scope["table"].num_rows == len(expected)
    assert scope["won"]["design"].tolist() == ["d000", "d001", "d002", "d003"]
    (sql,) = _guide_blocks("sql")
    sql = sql.replace("results/se", str(folder)).replace("roles.se.", "roles.rep.")
    rows = duckdb.sql(sql).fetchall()
    assert [r[0] for r in rows] == ["d000", "d001", "d002", "d003"]
    assert [r[-1] for r in rows] == [3, 2, 3, 3]  # replications with a win rate (one failed)
