"""Bad input to ``salessim calibrate``: a clear message, exit 2, no traceback, nothing written.

Data-quality findings that do not stop a calibration (duplicated rows, rows out of time
order, missing amounts) are warnings: exit 0 and the warning printed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from salessim.cli import main

GOOD = """deal_id,stage,entered_at,amount
A,Qualify,2026-03-02,100
A,Closed Won,2026-03-04,100
B,Qualify,2026-03-03,200
B,Closed Lost,2026-03-05,200
C,Qualify,2026-03-04,300
"""


def run(capsys, tmp_path: Path, text: str | None, *args: str, name: str = "export.csv"):
    argv = ["calibrate"]
    if text is not None:
        path = tmp_path / name
        path.write_text(text)
        argv.append(str(path))
    out = tmp_path / "out"
    code = main([*argv, *args, "--out", str(out), "--replications", "2", "--no-backtest"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out


CASES = [
    # (file text, extra options, words the message must hold)
    ("deal,stage,entered_at\nA,Qualify,2026-03-02\n", [],
     ["missing column 'deal_id'", "--map YOUR_COLUMN=deal_id"]),
    (GOOD.replace("2026-03-03", "yesterday"), [], ["export.csv:4", "entered_at",
                                                  "'yesterday'"]),
    (GOOD.replace(",200\nB,Closed", ",12 EUR\nB,Closed"), [], ["export.csv:4", "amount",
                                                               "'12 EUR'"]),
    (GOOD.replace(",300", ",nan"), [], ["export.csv:6", "amount", "'nan'"]),
    (GOOD.replace(",300", ",inf"), [], ["export.csv:6", "'inf'"]),
    (GOOD.replace(",300", ",-5"), [], ["export.csv:6", "'-5'"]),
    (GOOD, ["--won", "Signed"], ["--won Signed", "stages seen", "Closed Won", "Qualify"]),
    ("", [], ["export.csv: the file is empty"]),
    ("deal_id,stage,entered_at\n", [], ["header but no rows"]),
    ("deal_id,stage,entered_at\nA,Qualify,2026-03-02\nA,Closed Won,2026-03-04\n", [],
     ["at least 2 deals", "got 1"]),
    ("deal_id,stage,entered_at,exited_at\nA,Qualify,2026-03-05,2026-03-02\n"
     "B,Qualify,2026-03-05,\n", [], ["export.csv:2", "time runs backwards", "deal A"]),
    (GOOD, ["--map", "nope"], ["--map: give COLUMN=FIELD"]),
    (GOOD, ["--map", "Deal=deal_id"], ["no column 'Deal'"]),
    (GOOD, ["--format", "salesforce"], ["missing column 'OpportunityId'"]),
    (GOOD, ["--touch", "Demo=2"], ["--touch demo: no such stage", "qualify"]),
    (GOOD, ["--touch", "Qualify=soon"], ["--touch Qualify=soon", "duration"]),
    (GOOD, ["--touch", "Qualify=50"], ["staff work must be shorter"]),
    (GOOD, ["--holdout", "1.5"], ["--holdout", "between 0 and 1"]),
    (GOOD, ["--as-of", "someday"], ["--as-of", "'someday'"]),
    ("case:concept:name,concept:name,time:timestamp,replication\na,x,2026-01-01,0\n"
     "b,x,2026-01-01,1\n", [], ["2 replications", "calibrate from one"]),
]


@pytest.mark.parametrize(("text", "options", "words"), CASES,
                         ids=[f"{i}-{c[2][0][:30]}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_clear_error(capsys, tmp_path, text, options, words):
    code, out, err, folder = run(capsys, tmp_path, text, *options)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    assert not folder.exists()


def test_missing_file(capsys, tmp_path):
    code, _, err, folder = run(capsys, tmp_path, None, str(tmp_path / "nothing.csv"))
    assert code == 2 and "no such file" in err and not folder.exists()


def test_funnel_errors(capsys, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("stage,count\nLead,10\nWon,20\n")
    code, _, err, folder = run(capsys, tmp_path, None, "--funnel", str(path), "--period", "1 year")
    assert code == 2 and "f.csv:3" in err and "only narrows" in err and not folder.exists()
    code, _, err, _ = run(capsys, tmp_path, None, "--funnel", str(path))
    assert code == 2 and "--funnel needs --period" in err
    code, _, err, _ = run(capsys, tmp_path, None, "--funnel", str(path), "--period", "soon")
    assert code == 2 and "--period" in err and "'soon'" in err
    code, _, err, _ = run(capsys, tmp_path, None)
    assert code == 2 and "give an export file or --funnel" in err


def test_a_failed_calibration_leaves_earlier_output_intact(capsys, tmp_path):
    code, _, _, folder = run(capsys, tmp_path, GOOD)
    assert code == 0
    before = (folder / "scenario.yaml").read_text()
    code, _, _, _ = run(capsys, tmp_path, GOOD.replace("2026-03-03", "never"))
    assert code == 2
    assert (folder / "scenario.yaml").read_text() == before
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize(("text", "warning"), [
    (GOOD + "C,Qualify,2026-03-04,300\n", "duplicated rows: 1 rows"),
    ("deal_id,stage,entered_at\nA,Closed Won,2026-03-04\nA,Qualify,2026-03-02\n"
     "B,Qualify,2026-03-03\n", "timestamps out of order: rows of 1 deals"),
    (GOOD.replace(",300", ","), "amounts missing: 33%"),
    (GOOD, "tiny sample"),
])
def test_data_quality_warnings(capsys, tmp_path, text, warning):
    code, _, err, folder = run(capsys, tmp_path, text)
    assert code == 0, err
    assert f"warning: {warning}" in err
    assert (folder / "scenario.yaml").is_file()


def test_a_stage_never_left_is_a_warning_and_an_assumption(capsys, tmp_path):
    text = GOOD.replace("C,Qualify,2026-03-04,300", "A,Demo,2026-03-03,100\nC,Demo,2026-03-04,300")
    text = text.replace("A,Closed Won,2026-03-04,100", "")
    code, _, err, folder = run(capsys, tmp_path, text)
    assert code == 0, err
    assert "warning: stage never left: 'demo'" in err
    # Its routing is a prior pooled from the stages with exits, said in the YAML (it was
    # 100% lost, a funnel that could never win).
    assert "# prior, not data: no exit seen: pooled prior" in (
        folder / "scenario.yaml").read_text()


def test_drift_in_a_long_export_is_a_warning(capsys, tmp_path):
    # 120 days: 60 deals created in the first 30 days, 15 in the last 30.
    days = [i * 0.5 for i in range(60)] + [30 + i * 4 for i in range(15)] + [
        90 + i * 2 for i in range(15)]
    rows = [f"D{i},Qualify,{pd.Timestamp('2026-01-01') + pd.Timedelta(days=d):%Y-%m-%dT%H:%M}"
            for i, d in enumerate(days)]
    rows.append(f"D0,Closed Lost,{pd.Timestamp('2026-05-01'):%Y-%m-%dT%H:%M}")
    code, _, err, _ = run(capsys, tmp_path, "deal_id,stage,entered_at\n" + "\n".join(rows))
    assert code == 0, err
    assert "warning: drift: source 'all'" in err
    # The change is dated and sized, and a window after it proposed: of the candidate
    # splits (every 5% of arrivals) the likeliest is the 59th arrival, day 29: 58 arrivals
    # in 29 days before (2 a day), 32 in the 91 days after (0.352 a day).
    assert "the rate changed most about 2026-01-30, from 2 to 0.352 a day" in err
    assert "--since 2026-01-30" in err
