"""Input that validated and then ended in a traceback: counts too large for the writers,
dates outside what pandas holds, a precision finer than any run reaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cpu_limit, refused
from salessim.experiments.spec import MAX_INT_LEVEL
from salessim.runlength import MIN_PRECISION, parse_precision
from salessim.scenario.size import MAX_HEADCOUNT
from salessim.stats.planning import FAR_TOO_MANY, replications_needed, target_replications

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
HISTORY = ROOT / "examples" / "crm" / "stage_history.csv"


# --- 5. counts a writer stores --------------------------------------------------------------


def experiment(tmp_path: Path, factor: str, levels: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(f"name: big\nscenarios: {TUTORIAL}\nfactors:\n  {factor}: {levels}\n"
                    "replications: 2\n")
    return path


def test_a_headcount_of_2_to_the_62_is_refused_before_any_run(tmp_path, capsys):
    path = experiment(tmp_path, "roles.sdr.headcount", f"[2, {2**62}]")
    with cpu_limit(30):
        refused(capsys, ["sweep", str(path), "--out", str(tmp_path / "r"), "--workers", "1"],
                "exp.yaml:4", "roles.sdr.headcount", f"at most {MAX_HEADCOUNT:,} members")
    assert not (tmp_path / "r").exists()


def test_a_whole_level_beyond_64_bits_is_refused_at_the_factor(tmp_path, capsys):
    path = experiment(tmp_path, "seed", f"[2, {MAX_INT_LEVEL + 1}]")
    refused(capsys, ["sweep", str(path), "--out", str(tmp_path / "r"), "--workers", "1"],
            "exp.yaml:4", "factors.seed", "64-bit integer")
    path = experiment(tmp_path, "seed", f"{{low: 0, high: {2.0**70}, integer: true}}")
    refused(capsys, ["sweep", str(path), "--out", str(tmp_path / "r"), "--workers", "1"],
            "factors.seed", "64-bit integer")


def test_a_headcount_at_the_limit_is_valid(tiny):
    from salessim.scenario.size import size_problems

    scenario = tiny(roles={"rep": {"headcount": MAX_HEADCOUNT, "cost_per_hour": 10}})
    assert size_problems(scenario) == []


# --- 6. dates outside 1900-2199 -------------------------------------------------------------


@pytest.mark.parametrize("year", ["1500", "1677", "2262", "9999"])
def test_a_date_outside_the_range_names_its_row_and_column(tmp_path, capsys, year):
    lines = HISTORY.read_text().splitlines()[:40]
    lines[3] = lines[3].replace("2026-", f"{year}-", 1)
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    refused(capsys, ["calibrate", str(path), "--out", str(tmp_path / "c")],
            "h.csv:4: entered_at: a date must lie between 1900-01-01 and 2199-12-31",
            f"{year}-")
    assert not (tmp_path / "c").exists()


def test_a_parquet_date_of_year_1500_names_its_row(tmp_path, capsys):
    import pandas as pd

    frame = pd.read_csv(HISTORY, nrows=40)
    frame["entered_at"] = pd.to_datetime(frame["entered_at"]).astype("datetime64[s]")
    frame.loc[5, "entered_at"] = pd.Timestamp("1500-01-01").as_unit("s")
    frame.to_parquet(tmp_path / "h.parquet")
    refused(capsys, ["calibrate", str(tmp_path / "h.parquet"), "--out", str(tmp_path / "c")],
            "h.parquet:7: entered_at: a date must lie between")


# --- 7. a precision of no width ----------------------------------------------------------


def test_a_tiny_precision_is_refused_at_the_option(capsys, tmp_path):
    for text in ("1e-300", "0.00001%"):
        with pytest.raises(Exception, match="at least 0.0001%"):
            parse_precision(text)
        refused(capsys, ["run", str(TUTORIAL), "--precision", text, "--out", str(tmp_path / "p")],
                "a precision must be at least 0.0001%")
    assert parse_precision("0.0001%") == pytest.approx(MIN_PRECISION)


def test_a_plan_far_beyond_any_cap_is_a_number_not_an_overflow():
    pilot = [1.0, 2.0, 3.0, 4.0]
    assert replications_needed(pilot, 1e-300) == FAR_TOO_MANY
    assert replications_needed(pilot, MIN_PRECISION) < FAR_TOO_MANY
    assert target_replications([1e-300, -1e-300, 3e-300, 1e-300], 0.0) <= FAR_TOO_MANY
