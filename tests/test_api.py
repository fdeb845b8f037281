"""The public Python API (``import salessim``): what it gives, that it computes what the
library and the commands compute, and the commands as thin shells over it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salessim
from salessim import cli, engine
from salessim.compare import compare as compare_runs
from salessim.compare import load_runs
from salessim.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
EXPORT = ROOT / "examples" / "crm" / "stage_history.csv"


@pytest.fixture(scope="module")
def base():
    # A shorter tutorial: every test here runs in a second or two.
    return salessim.evolve(salessim.load(TUTORIAL), horizon=120, warmup=20)


def test_import_salessim_stays_light_and_names_its_entry_points():
    probe = ("import sys, salessim\n"
             "print(' '.join(m for m in ('pandas', 'numpy', 'pydantic', 'simpy') "
             "if m in sys.modules))\n"
             "print(' '.join(sorted(salessim.__all__)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True, timeout=60)
    loaded, names = done.stdout.splitlines()
    assert loaded == ""
    assert set(names.split()) >= {"load", "evolve", "save", "run", "compare", "analyse",
                                  "optimise", "calibrate", "forecast", "backtest", "Scenario",
                                  "__version__"}
    for name in salessim.__all__:
        assert getattr(salessim, name) is not None, name
    assert salessim.Scenario is salessim.scenario.Scenario


def test_an_entry_point_named_as_a_module_is_both():
    # salessim.compare is the comparison module (its classes as ever) and calls the API.
    from salessim import compare as module

    assert module is sys.modules["salessim.compare"]
    assert module.Comparison.__name__ == "Comparison" and callable(module)
    for name in salessim.ENTRY_MODULES:
        assert callable(getattr(salessim, name))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        salessim.nothing  # noqa: B018


def test_run_in_memory_is_the_engine_s_run(base):
    report = salessim.run(base, replications=3, seed=5)
    direct = engine.run(base, 3, 5)
    pd.testing.assert_frame_equal(report.to_frame(), direct.frame())
    assert report.replications == 3 and report.seed == 5
    assert report.label == base.name  # no file: the scenario's name
    text = report.summary(["won", "win_rate"])
    assert "Deals won" in text and "Win rate" in text and "Leads created" not in text
    # A notebook shows the report in a line, not its thousands of numbers.
    assert repr(report) == f"<RunReport {base.name!r}: 3 replications, seed 5>"
    estimates = report.estimates().set_index("kpi")
    won = direct.wide()["won"]
    assert estimates.loc["won", "mean"] == pytest.approx(won.mean())


def test_run_from_a_file_with_sets_and_a_fixed_warmup():
    report = salessim.run(TUTORIAL, replications=2, sets=["horizon=100"], warmup="2 weeks")
    assert report.path == str(TUTORIAL) and report.label == "tutorial"
    assert report.scenario.horizon == 100 and report.scenario.warmup == 14
    assert report.sets == ["horizon=100", "warmup=2 weeks"]
    with pytest.raises(UsageError, match="evolve"):
        salessim.run(report.scenario, sets=["horizon=10"])


def test_the_auto_warmup_is_estimated_once_and_used(base):
    from salessim import diagnose

    report = salessim.run(base, replications=4, warmup="auto")
    pilot = engine.run(base, 4, base.seed)
    estimate = diagnose.estimate_warmup(pilot)
    assert report.warmup_estimate.warmup == estimate.warmup
    assert report.scenario.warmup == float(f"{estimate.warmup:g}")
    # Every scenario of a comparison runs with the baseline's estimate.
    more = salessim.evolve(base, {"roles.ae.headcount": 3}, name="three AEs")
    compared = salessim.compare(base, more, replications=4, warmup="auto")
    assert {r.scenario.warmup for r in compared.runs} == {float(f"{estimate.warmup:g}")}
    assert compared.notes[0].startswith(f"warm-up {estimate.warmup:g} estimated by MSER-5")


def test_a_design_compared_with_itself_in_memory_differs_by_exactly_zero(base):
    report = salessim.compare(base, base, replications=3)
    table = report.to_frame()
    label = report.baseline.label
    assert list(dict.fromkeys(table["scenario"])) == [f"{label}-2"]
    assert repr(report) == (f"<ComparisonReport {label!r} against ['{label}-2']: "
                            f"3 replications, seed {base.seed}>")
    assert (table["diff"].fillna(0) == 0).all()


def test_comparing_scenario_objects_is_comparing_the_files(base, tmp_path):
    """The same redesign, derived in code or written as a file, gives the same table."""
    (tmp_path / "base.yaml").write_text(
        f"extends: {TUTORIAL}\nhorizon: 120\nwarmup: 20\n", encoding="utf-8")
    (tmp_path / "more.yaml").write_text(
        "extends: base.yaml\nname: three AEs\nroles: {ae: {headcount: 3}}\n"
        "targets: {win_rate: +5%}\n", encoding="utf-8")
    more = salessim.evolve(base, {"roles.ae.headcount": 3, "targets": {"win_rate": "+5%"}},
                       name="three AEs")
    in_memory = salessim.compare(base, more, replications=3, labels=["base", "more"])
    files_base, files_more = load_runs(tmp_path / "base.yaml", [tmp_path / "more.yaml"])
    from_files = compare_runs(files_base, files_more, 3)
    pd.testing.assert_frame_equal(in_memory.to_frame(), from_files.table)
    assert list(in_memory.verdicts()["kpi"]) == ["win_rate"]


def test_targets_given_to_compare_join_the_scenario_s_own(base):
    more = salessim.evolve(base, {"roles.ae.headcount": 3})
    report = salessim.compare(base, more, replications=3, targets={"won": "+5%"},
                              labels=["before", "after"])
    assert report.verdicts()[["scenario", "kpi", "target"]].values.tolist() == [
        ["after", "won", "+5%"]]
    text = report.summary()
    assert "Targets" in text and "after: Two-step inbound funnel" in text
    with pytest.raises(ValueError, match="one distinct label per scenario"):
        salessim.compare(base, more, labels=["same", "same"])


def test_plots_are_figures_and_nothing_is_shown(base):
    import matplotlib.pyplot as plt

    run = salessim.run(base, replications=2)
    compared = salessim.compare(base, salessim.evolve(base, {"roles.ae.headcount": 3}), replications=2)
    figures = [run.plot(kind) for kind in ("funnel", "cycle_time", "utilisation", "wip")]
    figures += [compared.plot(), salessim.analyse(base).plot("utilisation")]
    for fig in figures:
        assert fig.axes, fig
    assert plt.get_fignums() == []  # made without pyplot: no window, nothing to close
    with pytest.raises(ValueError, match="kind must be one of funnel"):
        run.plot("pie")


def test_analyse_is_the_flow_analysis(base):
    from salessim.analyse import analyse

    report = salessim.analyse(base)
    pd.testing.assert_frame_equal(report.to_frame(), analyse(base).table())
    assert report.value("role", "ae", "utilisation") == analyse(base).value(
        "role", "ae", "utilisation")
    assert report.summary().startswith(f"{base.name}: flow analysis")
    with pytest.raises(ValueError, match="measure must be one of"):
        report.plot("nothing")


@pytest.mark.parametrize("name", ["b2b_baseline.yaml", "speed_to_lead.yaml",
                                  "saas_renewals.yaml", "redesigns/combined.yaml"])
def test_a_saved_scenario_loads_back_as_the_same(name, tmp_path):
    scenario = salessim.load(ROOT / "scenarios" / name)
    path = salessim.save(salessim.evolve(scenario, warmup="1 week"), tmp_path / "saved.yaml")
    assert salessim.load(path) == salessim.evolve(scenario, warmup="1 week")


def test_write_gives_the_files_the_command_writes(base, tmp_path):
    report = salessim.run(base, replications=2)
    assert report.write(tmp_path / "run") == ["summary.csv", "replications.csv", "funnel.csv"]
    back = pd.read_csv(tmp_path / "run" / "replications.csv")
    assert np.allclose(back["value"].fillna(-1), report.to_frame()["value"].fillna(-1))


# --- calibrate: the library, and the command staged with its run record -----------------


@pytest.fixture(scope="module")
def calibrated():
    return salessim.calibrate(EXPORT, replications=3, seed=2)


def test_calibrate_from_the_examples(calibrated):
    assert calibrated.scenario.stages and calibrated.scenario.seed == 2
    assert calibrated.summary().startswith(f"{EXPORT}: ")
    frame = calibrated.to_frame()
    assert {"kpi", "data", "sim_mean", "consistent"} <= set(frame.columns)
    assert calibrated.plot().axes


@pytest.mark.parametrize(("option", "value", "message"), [
    ("seed", -1, "seed must be 0 or more, got -1"),
    ("replications", 1, "replications must be at least 2, got 1"),
])
def test_calibrate_names_the_bad_option(option, value, message):
    with pytest.raises(UsageError, match=f"^{message}$"):
        salessim.calibrate(EXPORT, **{option: value})


def test_calibrate_seed_below_zero_names_the_option_not_the_data(tmp_path, capsys):
    out = tmp_path / "cal"
    assert cli.main(["calibrate", str(EXPORT), "--out", str(out), "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err == "salessim: --seed must be 0 or more, got -1\n"
    assert not out.exists()


def test_calibrate_writes_its_run_record(tmp_path, capsys):
    out = tmp_path / "cal"
    assert cli.main(["calibrate", str(EXPORT), "--out", str(out), "--replications", "3",
                     "--seed", "4"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "calibrate" and record["exception"] is None
    assert (record["seed"], record["replications"]) == (4, 3)
    assert record["export"] == str(EXPORT)
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted([*record["files"], "run.json"]) == on_disk
    assert {"scenario.yaml", "calibration.json", "backtest.csv", "report.html"} <= set(on_disk)
    assert f"wrote {len(record['files'])} files to {out}" in capsys.readouterr().out


def test_calibrate_writes_its_folder_whole_or_not_at_all(tmp_path, monkeypatch, capsys):
    from salessim.api.studies import CalibrationReport

    out = tmp_path / "cal"
    out.mkdir()
    (out / "scenario.yaml").write_text("an earlier calibration\n", encoding="utf-8")
    write = CalibrationReport.write

    def fails_half_way(self, folder):
        write(self, folder)  # every file written, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(CalibrationReport, "write", fails_half_way)
    assert cli.main(["calibrate", str(EXPORT), "--out", str(out), "--replications", "2",
                     "--no-backtest"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    # The earlier file as it was; only the record of the failure beside it.
    assert (out / "scenario.yaml").read_text(encoding="utf-8") == "an earlier calibration\n"
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "scenario.yaml"]
    record = json.loads((out / "run.json").read_text())
    assert "No space left on device" in record["exception"]["message"]
    assert record["files"] == []


def test_calibrate_a_funnel_is_staged_with_its_record(tmp_path, capsys):
    counts = tmp_path / "funnel.csv"
    counts.write_text("stage,count\nlead,1000\nmeeting,300\nproposal,120\nwon,40\n",
                      encoding="utf-8")
    out = tmp_path / "fun"
    assert cli.main(["calibrate", "--funnel", str(counts), "--period", "1 year",
                     "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "calibrate" and record["funnel"] == str(counts)
    assert sorted(record["files"]) == ["calibration.json", "scenario.yaml"]
    printed = capsys.readouterr().out
    assert f"wrote {out / 'calibration.json'}, {out / 'scenario.yaml'}" in printed


# --- forecast: the calendar warning once ------------------------------------------------

FORECAST_SCENARIO = textwrap.dedent("""\
    name: forecast with office hours
    time_unit: day
    horizon: 90
    replications: 4
    seed: 7
    calendar: {workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}
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
OPEN_DEALS = ("deal_id,stage,entered_stage_at,amount,source\n"
              "A1,qualify,2026-03-01,5000,web\nA2,pitch,2026-02-25,20000,web\n")


def test_the_calendar_warning_is_given_once(tmp_path, capsys):
    (tmp_path / "office.yaml").write_text(FORECAST_SCENARIO, encoding="utf-8")
    (tmp_path / "open.csv").write_text(OPEN_DEALS, encoding="utf-8")
    # The as-of date is the file's latest time: Sunday 1 March 2026.
    report = salessim.forecast(tmp_path / "office.yaml", tmp_path / "open.csv", "2026-04-15",
                               replications=4)
    about = [w for w in report.forecast.warnings if "calendar" in w]
    assert about == ["the staff calendar's week starts at the as-of time (Sunday 2026-03-01 "
                     "00:00) as if it were Monday 00:00; take the pipeline on a Monday at "
                     "midnight (--as-of) to line the working days up"]
    assert cli.main(["forecast", str(tmp_path / "office.yaml"), "--pipeline",
                     str(tmp_path / "open.csv"), "--until", "2026-04-15", "-n", "4",
                     "--workers", "1", "--out", str(tmp_path / "out")]) == 0
    # Once on the terminal and once in the report's warnings, in one wording.
    assert capsys.readouterr().err.count("calendar") == 1
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    warnings = page.split('<h2 id="warnings">', 1)[1].split("</ul>", 1)[0]
    assert warnings.count("calendar") == 1
    # The others are run's warnings about this overloaded one-person team (0.6 days of work
    # a day on 8 hours of 24), each once.
    items = warnings.split("<li>")[1:]
    others = [i for i in items if "calendar" not in i]
    assert others and len(set(others)) == len(others)
    assert all("open leads are still rising" in i or "roles.ae" in i for i in others), others
    assert report.to_frame()["kpi"].iloc[0] == "bookings"
    assert report.plot().axes


# --- the commands: thin shells ----------------------------------------------------------

COMMANDS = ROOT / "src" / "salessim" / "commands"


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_no_command_function_is_over_sixty_lines(path):
    long = {f.name: f.end_lineno - f.lineno + 1 for f in _functions(path)
            if f.name.startswith(("cmd_", "_")) and f.end_lineno - f.lineno + 1 > 60}
    assert long == {}


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_imports_another(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            if node.module == "salessim.commands":  # the package's shared helpers only
                modules = {a.name for a in node.names} & {p.stem for p in COMMANDS.glob("*.py")}
                assert not modules, path.name
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not {m for m in imported if m.startswith("salessim.commands.")}


def test_the_comparison_does_not_import_the_console():
    for name in ("compare.py", "targets.py", "kpisets.py"):
        tree = ast.parse((ROOT / "src" / "salessim" / name).read_text(encoding="utf-8"))
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "salessim.console" not in modules, name
