"""forecast's error advice names only options forecast has: the export readers' advice to
use calibrate's ``--map`` is worded as renaming the column in the file."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from salessim import cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "examples" / "crm" / "calibrated.yaml")
PIPELINE = str(ROOT / "examples" / "crm" / "stage_history.csv")


def forecast_options() -> set[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {o for a in sub.choices["forecast"]._actions for o in a.option_strings}


def _error(argv, capsys) -> str:
    assert cli.main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


@pytest.fixture
def files(tmp_path):
    (tmp_path / "open.csv").write_text("deal_id,stage,amount\nA1,proposal,1000\n",
                                       encoding="utf-8")
    (tmp_path / "history.csv").write_text(
        "deal_id,stage,when,exited_at,next_stage\nA,Qualify,2026-01-01,2026-01-02,Closed Won\n",
        encoding="utf-8")
    return tmp_path


def test_an_open_deals_table_without_entered_stage_at(files, capsys):
    text = _error(["forecast", SCENARIO, "--pipeline", str(files / "open.csv"), "--until",
                   "2026-09-30", "--out", str(files / "out")], capsys)
    assert f"{files / 'open.csv'}: missing column 'entered_stage_at' for an open-deals " \
           "table (needs deal_id, stage, entered_stage_at; found deal_id, stage, amount): " \
           "add it, or rename yours to entered_stage_at in the file" in text
    assert "--map" not in text


@pytest.mark.parametrize("how", ["history", "backtest"])
def test_a_history_without_its_columns(files, capsys, how):
    path = str(files / "history.csv")
    argv = (["forecast", SCENARIO, "--pipeline", PIPELINE, "--history", path, "--until",
             "2026-09-30"] if how == "history" else
            ["forecast", "--backtest", path, "--every", "30 days", "--horizon", "30 days"])
    text = _error([*argv, "--out", str(files / "out")], capsys)
    assert "missing column 'entered_at' for a stage history" in text
    assert text.endswith("if your file names it otherwise, rename that column to entered_at "
                         "in the file")
    # Every option the advice names is one of forecast's.
    assert set(re.findall(r"--[a-z][a-z-]+", text)) <= forecast_options()
    assert "--map" not in forecast_options()
