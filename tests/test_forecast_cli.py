"""``salessim forecast`` and ``salessim run --pipeline`` through ``cli.main``: what they
write, that it is what the library computes, and how they refuse bad input (exit 2, one
message naming the deal, field or value, nothing written)."""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import refused as _refused
from salessim import cli
from salessim.forecast import parse_date, parse_until, read_pipeline, run_forecast
from salessim.scenario import load_scenario

SCENARIO = textwrap.dedent("""\
    name: forecast check
    time_unit: day
    horizon: 90
    replications: 4
    seed: 7
    roles:
      ae: {headcount: 1}
    sources:
      web: {rate: 1.5, deal_value: {dist: lognormal, mean: 10000, cv: 0.5}}
    entry: qualify
    stages:
      qualify:
        delay: {dist: exponential, mean: 2}
        next: {pitch: 0.5, lost: 0.5}
      pitch:
        role: ae
        work: {dist: exponential, mean: 0.8}
        delay: {dist: uniform, low: 1, high: 10}
        next: {won: 0.6, lost: 0.4}
    """)

PIPELINE = textwrap.dedent("""\
    deal_id,stage,entered_stage_at,amount,source,owner
    A1,qualify,2026-03-01,5000,web,
    A2,pitch,2026-02-25,20000,web,
    A3,pitch,2026-02-28 12:00,8000,,
    A4,pitch,2026-02-27,12000,web,
    """)

UNTIL = "2026-04-15"
N = "24"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "base.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "same.yaml").write_text("extends: base.yaml\nname: the same again\n",
                                        encoding="utf-8")
    (tmp_path / "two_ae.yaml").write_text(
        "extends: base.yaml\nname: a second AE\nroles: {ae: {headcount: 2}}\n", encoding="utf-8")
    (tmp_path / "open.csv").write_text(PIPELINE, encoding="utf-8")
    return tmp_path


def _forecast(files, *extra: str, out: str = "out") -> int:
    return cli.main(["forecast", str(files / "base.yaml"), "--pipeline", str(files / "open.csv"),
                     "--until", UNTIL, "-n", N, "--workers", "1", "--out", str(files / out),
                     *extra])


def test_forecast_writes_what_the_library_computes(files, capsys):
    assert _forecast(files, "--quota", "40,000", "--booked", "5000") == 0
    out = files / "out"
    shown = capsys.readouterr().out
    assert "chance to reach the quota of 40,000" in shown and "weighted pipeline" in shown
    scenario = load_scenario(files / "base.yaml")
    snap = read_pipeline(files / "open.csv", scenario)
    lib = run_forecast(scenario, snap, parse_until(UNTIL), int(N), seed=7)
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns) == ["kpi", "mean", "p10", "p50", "p90", "band"]
    assert (table["band"] == "process randomness, parameters as calibrated").all()
    pd.testing.assert_frame_equal(table, lib.table(), check_dtype=False)
    whole = set(table["kpi"][~table["kpi"].str.contains(".", regex=False)])
    assert {"bookings", "bookings_from_open", "bookings_from_new", "won", "lost",
            "slipped"} <= whole
    assert {"bookings.2026-03", "bookings.2026-04"} <= set(table["kpi"])
    # The quota: the share of simulated quarters where booked + bookings reach it.
    quota = pd.read_csv(out / "quota.csv")
    assert list(quota.columns) == ["scenario", "quota", "booked", "needed", "probability",
                                   "ci_low", "ci_high", "level", "replications"]
    row = quota.iloc[0]
    assert row["probability"] == np.mean(5000 + lib.bookings >= 40000)
    assert row["ci_low"] <= row["probability"] <= row["ci_high"] and row["needed"] == 35000
    # deals.csv: one row per open deal, close dates as ISO date-times (empty: after until).
    deals = pd.read_csv(out / "deals.csv", keep_default_na=False)
    assert sorted(deals["deal_id"]) == ["A1", "A2", "A3", "A4"]
    assert np.allclose(deals[["p_win", "p_lost", "p_open"]].sum(axis=1), 1.0)
    for text in deals["close_median"]:
        assert text == "" or pd.Timestamp.fromisoformat(text) > snap.as_of
        assert text == "" or "T" in text
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["seed"] == 7 and record["replications"] == int(N)
    assert record["open_deals"] == 4 and record["until"] == parse_until(UNTIL).isoformat()
    assert {"forecast.csv", "deals.csv", "quota.csv", "report.html"} <= set(record["files"])


def test_a_redesign_compared_with_itself_differs_by_exactly_zero(files, capsys):
    assert _forecast(files, "--redesign", str(files / "same.yaml"), "--redesign",
                     str(files / "two_ae.yaml"), "--quota", "30000") == 0
    table = pd.read_csv(files / "out" / "redesigns.csv")
    same = table[table["scenario"] == "same"]
    assert list(same["kpi"]) == ["bookings", "won", "slipped", "quota_reached"]
    assert (same["difference"] == 0).all() and (same["ci_low"] == 0).all()
    more = table[table["scenario"] == "two_ae"].set_index("kpi")
    assert np.allclose(more["difference"], more["redesign"] - more["baseline"])
    # Each redesign's own forecast sits in its folder; quota.csv has a row per scenario.
    assert (files / "out" / "two_ae" / "forecast.csv").is_file()
    assert list(pd.read_csv(files / "out" / "quota.csv")["scenario"]) == ["base", "same",
                                                                          "two_ae"]
    assert "redesigns on the same random numbers" in capsys.readouterr().out


def test_the_forecast_does_not_depend_on_the_workers(files):
    assert _forecast(files, out="one") == 0
    assert cli.main(["forecast", str(files / "base.yaml"), "--pipeline", str(files / "open.csv"),
                     "--until", UNTIL, "-n", N, "--workers", "2", "--out",
                     str(files / "two")]) == 0
    for name in ("forecast.csv", "deals.csv"):
        assert (files / "one" / name).read_bytes() == (files / "two" / name).read_bytes()


def test_weeks_and_an_as_of_date(files):
    assert _forecast(files, "--period", "week", "--as-of", "2026-03-02") == 0
    table = pd.read_csv(files / "out" / "forecast.csv")
    weeks = [k for k in table["kpi"] if k.startswith("bookings.")]
    assert weeks[0] == "bookings.2026-W10" and weeks[-1] == "bookings.2026-W16"
    deals = pd.read_csv(files / "out" / "deals.csv").set_index("deal_id")
    assert math.isclose(deals.loc["A2", "age"], 5.0)  # 2026-02-25 to 2026-03-02


def test_a_staff_calendar_off_the_as_of_weekday_is_warned_about(files, capsys):
    office = "calendar={workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}"
    assert _forecast(files, "--set", office, "-n", "3") == 0  # as-of: Sunday 1 March
    assert "the staff calendar's week starts at the as-of time (Sunday" in (
        capsys.readouterr().err)
    assert "staff calendar" in (files / "out" / "report.html").read_text(encoding="utf-8")
    assert _forecast(files, "--set", office, "-n", "3", "--as-of", "2026-03-02",
                     out="monday") == 0
    assert "calendar" not in capsys.readouterr().err


def test_run_from_a_pipeline_adds_the_pipeline_kpis(files, capsys):
    out = files / "run"
    assert cli.main(["run", str(files / "base.yaml"), "--pipeline", str(files / "open.csv"),
                     "-n", "3", "--workers", "1", "--out", str(out)]) == 0
    assert "Open deals won" in capsys.readouterr().out
    reps = pd.read_csv(out / "replications.csv").pivot(index="replication", columns="kpi",
                                                       values="value")
    assert (reps["pipeline_deals"] == 4).all()
    ended = reps["pipeline_won"] + reps["pipeline_lost"] + reps["pipeline_open"]
    assert (ended == reps["pipeline_deals"]).all()
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["warmup"] == 0 and record["pipeline"].endswith("open.csv")
    resolved = record["resolved_scenario"]
    assert resolved["horizon"] == 90 and len(resolved["pipeline"]) == 4


# --- bad input: exit 2, one message, nothing written ---------------------------------------


BAD_DEALS = [
    ("A9,pitchh,2026-02-28,100,web,\n", ("deal 'A9'", "'pitchh'", "did you mean 'pitch'")),
    ("A9,pitch,2026-02-10,100,web,\n", ("deal 'A9'", "pipeline.4.age", "at most 10 days")),
    ("A9,pitch,2026-02-28,100,mail,\n", ("deal 'A9'", "'mail'", "sources: web")),
    ("A9,pitch,2026-02-30,100,web,\n", ("open.csv:6", "entered_stage_at", "2026-02-30")),
    ("A9,pitch,2026-02-28,nan,web,\n", ("open.csv:6", "amount")),
    # A rule of the open deal itself, which the reader does not check: a string error once.
    ("A" * 201 + ",pitch,2026-02-28,100,web,\n",
     ("open.csv: pipeline.4.id", "at most 200 characters")),
]


@pytest.mark.parametrize(("row", "needles"), BAD_DEALS)
def test_bad_open_deals_are_named(files, capsys, row, needles):
    (files / "open.csv").write_text(PIPELINE + row, encoding="utf-8")
    _refused(capsys, ["forecast", str(files / "base.yaml"), "--pipeline",
                      str(files / "open.csv"), "--until", UNTIL, "--out", str(files / "out")],
             *needles)
    _refused(capsys, ["run", str(files / "base.yaml"), "--pipeline", str(files / "open.csv"),
                      "--out", str(files / "out")], needles[0])
    assert not (files / "out").exists()


BAD_OPTIONS = [
    (["--quota", "lots"], ("--quota", "'lots'")),
    (["--quota", "nan"], ("--quota", "finite", "'nan'")),
    (["--quota", "inf"], ("--quota", "finite")),
    (["--quota", "-5"], ("--quota", "more than 0", "'-5'")),
    (["--quota", "0"], ("--quota", "more than 0")),
    (["--quota", "10", "--booked", "-1"], ("--booked", "at least 0")),
    (["--booked", "10"], ("--booked", "give --quota")),
    (["--period", "day"], ("--period", "month, week", "'day'")),
    (["--as-of", "2026-05-01"], ("--until 2026-04-15 must be after --as-of 2026-05-01",)),
    (["--as-of", "someday"], ("--as-of", "'someday'")),
    # Past the range of nanosecond timestamps: once an OutOfBoundsDatetime traceback.
    (["--until", "2300-01-01"], ("--until", "2262-04-11", "'2300-01-01'")),
    (["--as-of", "1600-01-01"], ("--as-of", "1677-09-21", "'1600-01-01'")),
    (["-n", "1"], ("--replications", "got 1")),
    (["--seed", "-3"], ("--seed", "-3")),
    (["--every", "30 days"], ("--every belongs to --backtest",)),
    (["--redesign", "missing.yaml"], ("missing.yaml",)),
]


@pytest.mark.parametrize(("extra", "needles"), BAD_OPTIONS)
def test_bad_options_are_refused(files, capsys, extra, needles):
    _refused(capsys, ["forecast", str(files / "base.yaml"), "--pipeline",
                      str(files / "open.csv"), "--until", UNTIL, "--out", str(files / "out"),
                      *extra], *needles)
    assert not (files / "out").exists()


def test_a_redesign_the_open_deals_do_not_fit_is_named(files, capsys):
    (files / "short.yaml").write_text(
        "extends: base.yaml\nname: a shorter pitch\n"
        "stages: {pitch: {delay: {dist: uniform, low: 1, high: 2}}}\n", encoding="utf-8")
    _refused(capsys, ["forecast", str(files / "base.yaml"), "--pipeline",
                      str(files / "open.csv"), "--until", UNTIL, "--redesign",
                      str(files / "short.yaml"), "--out", str(files / "out")],
             "open.csv: pipeline.1.age: deal 'A2'", "at most 2 days", "in " + str(
                 files / "short.yaml"))
    assert not (files / "out").exists()


def test_a_window_past_the_size_limits_of_run_is_refused(files, capsys):
    """The window to --until is a run of its own: a rate that is fine for the scenario's 90
    days expects more leads to a date a year on than one replication may."""
    from salessim.errors import ScenarioError
    from salessim.forecast import forecast_scenario

    (files / "busy.yaml").write_text("extends: base.yaml\nname: busy\n"
                                     "sources: {web: {rate: 1000000}}\n", encoding="utf-8")
    scenario = load_scenario(files / "busy.yaml")  # 9e7 leads in 90 days: within the limit
    snap = read_pipeline(files / "open.csv", scenario)
    with pytest.raises(ScenarioError, match=r"sources\.web\.rate: one replication would "
                       r"expect 3\.\d+e\+08 leads, above the limit of 100,000,000 \(in the "
                       r"window from 2026-03-01 to 2027-03-01\)"):
        forecast_scenario(scenario, snap, parse_date("2027-03-01", "--until"), 2)
    _refused(capsys, ["forecast", str(files / "busy.yaml"), "--pipeline",
                      str(files / "open.csv"), "--until", "2027-03-01", "--out",
                      str(files / "out")], "sources.web.rate", "above the limit")
    assert not (files / "out").exists()


def test_until_before_the_data_and_as_of_after_it(files, capsys):
    out = str(files / "out")
    _refused(capsys, ["forecast", str(files / "base.yaml"), "--pipeline",
                      str(files / "open.csv"), "--until", "2026-02-01", "--out", out],
             "--until 2026-02-01 must be after the as-of date 2026-03-01 00:00:00 (the latest "
             "time in")
    # A stage history knows when its data end.
    history = files / "history.csv"
    history.write_text(textwrap.dedent("""\
        deal_id,stage,entered_at,exited_at,next_stage,source,amount
        H1,qualify,2026-03-01,2026-03-03,pitch,web,1000
        H1,pitch,2026-03-03,2026-03-09,Closed Won,web,1000
        H2,qualify,2026-03-02,2026-03-04,pitch,web,2000
        H2,pitch,2026-03-04,,,web,2000
        """), encoding="utf-8")
    assert not (files / "out").exists()
    # An as-of date after them is the export's date (a client's export is often a day
    # old): accepted with a warning, the open deal older by the gap.
    assert cli.main(["forecast", str(files / "base.yaml"), "--pipeline", str(history),
                     "--as-of", "2026-03-11", "--until", UNTIL, "-n", "4", "--out", out]) == 0
    err = capsys.readouterr().err
    assert ("warning: --as-of 2026-03-11 00:00:00: 2 days after the latest timestamp in "
            f"{history} (2026-03-09 00:00:00)") in err
    deals = pd.read_csv(files / "out" / "deals.csv")
    assert list(deals["deal_id"]) == ["H2"] and deals["age"].iloc[0] == 7.0


def test_missing_arguments_and_the_backtest_options(files, capsys):
    out = str(files / "out")
    _refused(capsys, ["forecast", "--pipeline", str(files / "open.csv"), "--until", UNTIL,
                      "--out", out], "SCENARIO")
    _refused(capsys, ["forecast", str(files / "base.yaml"), "--until", UNTIL, "--out", out],
             "--pipeline FILE")
    history = str(files / "open.csv")
    _refused(capsys, ["forecast", "--backtest", history, "--horizon", "90 days", "--out", out],
             "--backtest needs --every")
    _refused(capsys, ["forecast", "--backtest", history, "--every", "monthly", "--horizon",
                      "90 days", "--out", out], "--every", "'monthly'")
    _refused(capsys, ["forecast", "--backtest", history, "--every", "-3 days", "--horizon",
                      "90 days", "--out", out], "--every must be a positive time")
    _refused(capsys, ["forecast", "--backtest", history, "--pipeline", history, "--every",
                      "30 days", "--horizon", "90 days", "--out", out],
             "--pipeline does not apply to --backtest")
    _refused(capsys, ["forecast", "--backtest", str(files / "nothing.csv"), "--every", "30 days",
                      "--horizon", "90 days", "--out", out], "nothing.csv: no such file")
    _refused(capsys, ["run", str(files / "base.yaml"), "--as-of", "2026-03-01", "--out", out],
             "--as-of", "give --pipeline")
    _refused(capsys, ["run", str(files / "base.yaml"), "--pipeline", history, "--warmup", "5",
                      "--out", out], "leave out --warmup")
    assert not (files / "out").exists()


# --- the docs: the README's pipeline example, the shipped calibrated sample, forecast.md ---

ROOT = Path(__file__).resolve().parents[1]


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_pipeline_example_starts_the_baseline_from_its_deals(tmp_path):
    from salessim import engine

    block = next(b for b in _blocks(ROOT / "README.md", "yaml") if "pipeline:" in b)
    base = (ROOT / "scenarios" / "b2b_baseline.yaml").as_posix()
    (tmp_path / "open.yaml").write_text(block.replace("../b2b_baseline.yaml", base),
                                        encoding="utf-8")
    scenario = load_scenario(tmp_path / "open.yaml", ["horizon=30"])
    assert [d.id for d in scenario.pipeline] == ["OPP-1042", "OPP-1077", "OPP-1090"]
    assert scenario.pipeline[0].age == 12 and scenario.pipeline[2].age == 0.25
    kpis = engine.run_replication(scenario, 0).kpis
    assert kpis["pipeline_deals"] == 3
    assert kpis["pipeline_won"] + kpis["pipeline_lost"] + kpis["pipeline_open"] == 3


def test_the_shipped_calibrated_sample_is_what_calibrate_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["calibrate", "examples/crm/stage_history.csv", "--touch", "proposal=2 days",
                     "--touch", "negotiation=1 day", "--no-backtest", "--out",
                     str(tmp_path)]) == 0
    shipped = (ROOT / "examples" / "crm" / "calibrated.yaml").read_text(encoding="utf-8")
    # Its provenance names the export relative to the folder written to; shipped, beside it.
    export = Path(os.path.relpath(ROOT / "examples" / "crm" / "stage_history.csv", tmp_path))
    written = (tmp_path / "scenario.yaml").read_text(encoding="utf-8")
    assert written.replace(f'history: "{export.as_posix()}"',
                           'history: "stage_history.csv"') == shipped
    redesign = load_scenario(ROOT / "examples" / "crm" / "one_more_owner.yaml")
    assert redesign.roles["owner"].headcount == 7


@pytest.mark.parametrize("code", _blocks(ROOT / "docs" / "forecast.md", "python"))
def test_forecast_doc_blocks_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/forecast.md", "exec"), {})


def test_no_deal_open_at_the_as_of_date_leaves_the_new_leads(files, capsys):
    history = files / "closed.csv"
    history.write_text(textwrap.dedent("""\
        deal_id,stage,entered_at,exited_at,next_stage,source,amount
        H1,qualify,2026-03-01,2026-03-03,pitch,web,1000
        H1,pitch,2026-03-03,2026-03-09,Closed Won,web,1000
        H2,qualify,2026-03-02,2026-03-04,Closed Lost,web,100
        """), encoding="utf-8")
    assert cli.main(["forecast", str(files / "base.yaml"), "--pipeline", str(history),
                     "--until", UNTIL, "-n", "5", "--workers", "1", "--out",
                     str(files / "out")]) == 0
    assert "the bookings are the new leads'" in capsys.readouterr().out
    table = pd.read_csv(files / "out" / "forecast.csv").set_index("kpi")
    assert table.loc["bookings_from_open", "p90"] == 0 and table.loc["bookings", "mean"] > 0
    assert pd.read_csv(files / "out" / "deals.csv").empty


def test_the_command_line_constants_are_the_library_s():
    # The command cannot import the library while it builds its parser (it stays light).
    from salessim import forecast
    from salessim.commands import forecast as command
    from salessim.forecast import simulate

    assert command.DEFAULT_REPLICATIONS == forecast.DEFAULT_REPLICATIONS
    assert command.PERIODS == simulate.PERIODS


def test_the_backtest_command_prints_and_writes_the_same_windows(tmp_path, capsys):
    out = tmp_path / "bt"
    sample = Path(__file__).parents[1] / "examples" / "crm" / "stage_history.csv"
    code = cli.main(["forecast", "--backtest", str(sample), "--every", "45 days",
                     "--horizon", "45 days", "--replications", "8", "--resamples", "2",
                     "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    # The parameters' uncertainty is in the band by default, and the output says so.
    assert "band: process randomness" in text and "parameter uncertainty (bootstrap, 2" in text
    table = pd.read_csv(out / "backtest.csv")
    assert table["p10_plain"].notna().all()
    by = pd.read_csv(out / "coverage_by_horizon.csv")
    assert list(by["horizon_weeks"]) == [1, 2, 4] and (by["nominal"] == 0.8).all()
    for h in by.itertuples(index=False):
        weeks = f"{h.horizon_weeks} week{'s' if h.horizon_weeks > 1 else ''}"
        assert f"{weeks}: {h.inside} of {h.forecasts} ({h.coverage:.0%}" in text
    on = int(table["accuracy_p50"].between(0.85, 1.15).sum())
    assert f"P50 {on} of {int(table['accuracy_p50'].notna().sum())} (" in text
    assert len(table) >= 1 and (out / "backtest.png").stat().st_size > 0
    for row in table.itertuples(index=False):
        assert row.as_of[:10] in text
    held = re.search(r"held the actual bookings in (\d+) of (\d+) windows", text)
    assert held and int(held.group(1)) == int(table["inside"].sum())
    assert int(held.group(2)) == len(table)
    assert "overlap" not in text  # every = horizon: the windows do not overlap
