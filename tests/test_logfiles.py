"""Event-log files: CSV, Parquet and XES, read back by the tools users open them with."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from conftest import expo, scenario_of
from salessim import engine, logfiles
from salessim.cli import main
from salessim.logfiles import write_cases, write_event_log

XES = "{http://www.xes-standard.org/}"


def looping_run(replications: int = 2):
    scenario = scenario_of({
        "horizon": 150, "roles": {"sdr": {"headcount": 1}, "ae": {"headcount": 2}},
        "sources": {"web": {"rate": 0.6, "deal_value": 500}},
        "entry": "qualify",
        "stages": {
            "qualify": {"role": "sdr", "work": expo(0.5), "next": {"pitch": 0.6, "lost": 0.4}},
            "pitch": {"role": "ae", "work": expo(1.0), "delay": expo(3.0),
                      "next": {"won": 0.5, "qualify": 0.2, "lost": 0.3}},
        },
    })
    return engine.run(scenario, replications, event_log=True)


@pytest.mark.parametrize("chunk", [7, 200_000])
def test_csv_and_parquet_equal_the_frame_whatever_the_chunk(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(logfiles, "CHUNK", chunk)
    result = looping_run()
    logs = [r.log for r in result.replications]
    write_event_log(logs, tmp_path / "log.csv")
    write_event_log(logs, tmp_path / "log.parquet")
    expected = result.event_log()
    parquet = pd.read_parquet(tmp_path / "log.parquet")
    pd.testing.assert_frame_equal(parquet, expected, check_dtype=False)
    csv = pd.read_csv(tmp_path / "log.csv")
    assert len(csv) == len(expected)
    assert list(csv["case:concept:name"]) == list(expected["case:concept:name"])
    # Case ids are unique across replications: no trace mixes two replications.
    assert parquet.groupby("case:concept:name")["replication"].nunique().max() == 1


def test_xes_has_the_standard_structure_and_every_event(tmp_path):
    result = looping_run()
    logs = [r.log for r in result.replications]
    path = tmp_path / "log.xes"
    write_event_log(logs, path)
    root = ET.parse(path).getroot()
    assert root.tag == f"{XES}log" and root.get("xes.version") == "1849-2016"
    prefixes = {e.get("prefix") for e in root.findall(f"{XES}extension")}
    assert prefixes == {"concept", "time", "lifecycle", "org"}
    traces = root.findall(f"{XES}trace")
    frame = result.event_log()
    assert len(traces) == frame["case:concept:name"].nunique()
    assert sum(len(t.findall(f"{XES}event")) for t in traces) == len(frame)
    for trace in traces[:50]:
        times = [e.find(f"{XES}date[@key='time:timestamp']").get("value")
                 for e in trace.findall(f"{XES}event")]
        assert times == sorted(times)  # events of a trace in time order
        keys = {a.get("key") for a in trace if a.tag != f"{XES}event"}
        assert {"concept:name", "source", "deal_value", "counted", "end"} <= keys


def test_cases_table_names_each_leads_attributes(tmp_path):
    result = looping_run(1)
    write_cases([r.log for r in result.replications], tmp_path / "cases.csv")
    cases = pd.read_csv(tmp_path / "cases.csv")
    frame = result.event_log()
    ends = frame[frame["event"].isin(["won", "lost"])].set_index("lead")["event"]
    assert (cases.set_index("lead")["end"].reindex(ends.index) == ends).all()
    assert set(cases["end"]) <= {"won", "lost", "no_decision", "open"}
    assert (cases["deal_value"] == 500).all()


def test_run_writes_the_formats_asked_for(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntime_unit: hour\nhorizon: 50\nreplications: 2\nroles: {rep: {headcount: 1}}\n"
        "sources: {web: {rate: 0.5}}\nentry: call\n"
        "stages: {call: {role: rep, work: {dist: exponential, mean: 1}, next: {won: 1}}}\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--workers", "1", "--out", str(out), "--event-log", "xes"]) == 0
    assert (out / "event_log.xes").exists() and (out / "cases.csv").exists()
    assert not (out / "event_log.csv").exists()
    with pytest.raises(SystemExit) as bad:
        main(["run", str(path), "--out", str(out), "--event-log", "xml"])
    assert bad.value.code == 2
    assert "event-log formats are csv, parquet, xes" in capsys.readouterr().err


def test_a_lean_csv_has_each_fact_once_and_reads_back_to_the_full_columns(tmp_path):
    result = looping_run()
    logs = [r.log for r in result.replications]
    write_event_log(logs, tmp_path / "full.csv")
    write_event_log(logs, tmp_path / "lean.csv", columns="lean")
    lean = pd.read_csv(tmp_path / "lean.csv")
    assert list(lean.columns) == ["replication", "lead", "event", "stage", "time", "resource"]
    full = pd.read_csv(tmp_path / "full.csv", parse_dates=["time:timestamp"])
    back = logfiles.read_lean_csv(tmp_path / "lean.csv", result.scenario.time_unit)
    assert list(back.columns) == list(full.columns)
    for column in full.columns.drop(["time", "time:timestamp"]):
        pd.testing.assert_series_equal(back[column], full[column], check_dtype=False)
    # Twelve significant digits: each time within half a unit of its twelfth digit.
    assert ((back["time"] - full["time"]).abs() <= 5e-12 * full["time"].abs()).all()
    gap = (back["time:timestamp"] - full["time:timestamp"]).abs().max()
    assert gap < pd.Timedelta(microseconds=100)  # under 1,000 days: within 43 microseconds
    size = (tmp_path / "lean.csv").stat().st_size
    assert size < 0.5 * (tmp_path / "full.csv").stat().st_size


def test_the_lean_csv_of_the_b2b_baseline_is_under_fifty_bytes_an_event(tmp_path):
    """The issue's budget, on a shipped scenario (lead names of four digits and more)."""
    from salessim.scenario import evolve, load_scenario

    scenario = evolve(load_scenario("scenarios/b2b_baseline.yaml"), horizon=120)
    log = engine.run_replication(scenario, 0, event_log=True).log
    write_event_log([log], tmp_path / "lean.csv", columns="lean")
    assert len(log) > 10_000
    assert (tmp_path / "lean.csv").stat().st_size / len(log) < 50


def test_run_writes_a_lean_csv_when_asked(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntime_unit: hour\nhorizon: 50\nreplications: 1\nroles: {rep: {headcount: 1}}\n"
        "sources: {web: {rate: 0.5}}\nentry: call\n"
        "stages: {call: {role: rep, work: {dist: exponential, mean: 1}, next: {won: 1}}}\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--workers", "1", "--out", str(out), "--event-log", "csv",
                 "--log-columns", "lean"]) == 0
    assert pd.read_csv(out / "event_log.csv").columns[-1] == "resource"
    with pytest.raises(ValueError, match="columns must be one of full, lean, got 'thin'"):
        write_event_log([], tmp_path / "x.csv", columns="thin")
