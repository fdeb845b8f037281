"""The command line stays light: building the parser (``salessim --help``) imports no
plotting, table or statistics library, and loading a scenario never imports scipy.

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "pandas", "scipy", "pyarrow", "tqdm")
#: Not heavy for a command that runs, but a tenth of a second or more each for ``--help``.
PARSING = ("numpy", "pydantic", "yaml", "simpy", "importlib.metadata")


def _loaded(code: str, watch: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {watch!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True, timeout=60)
    return done.stdout.split()


def test_building_the_parser_imports_nothing_heavy():
    assert _loaded("import salessim.cli\nsalessim.cli.build_parser()", HEAVY + PARSING) == []


def test_help_prints_without_heavy_imports():
    code = ("import contextlib, io, salessim.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        salessim.cli.main(['--help'])\n"
            "    except SystemExit:\n        pass")
    assert _loaded(code, HEAVY + PARSING) == []


def test_the_version_is_looked_up_when_asked_for():
    done = subprocess.run([sys.executable, "-m", "salessim.cli", "--version"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    import salessim

    assert done.returncode == 0 and done.stdout == f"salessim {salessim.__version__}\n"


def test_loading_a_scenario_never_imports_scipy():
    loaded = _loaded("from salessim.scenario import load_scenario\n"
                     "load_scenario('scenarios/b2b_baseline.yaml')\n"
                     "load_scenario('scenarios/redesigns/combined.yaml')")
    assert "scipy" not in loaded and "matplotlib" not in loaded


def test_console_and_kpis_import_nothing_heavy():
    assert _loaded("import salessim.console, salessim.kpis") == []


def test_validate_imports_nothing_heavy():
    """``validate`` reads scenarios and their targets: no tables, statistics or plots."""
    code = ("import contextlib, io, salessim.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    code = salessim.cli.main(['validate', 'scenarios/b2b_baseline.yaml',\n"
            "                              'scenarios/speed_to_lead.yaml', '--target',\n"
            "                              'win_rate=+5%'])\n"
            "assert code == 0, code")
    assert _loaded(code) == []


#: What a run or a comparison without figures must not load: the plots, and the whole of
#: scipy.stats for two t quantiles (scipy.special gives them).
NO_FIGURES = ("matplotlib", "PIL", "scipy.stats")


def _command(argv: list[str]) -> str:
    return ("import contextlib, io, salessim.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    code = salessim.cli.main({argv!r})\n"
            "assert code == 0, code")


def test_run_without_report_imports_no_plotting_or_scipy_stats():
    """``run`` prints tables (pandas) with intervals (scipy.special), never a figure."""
    argv = ["run", "scenarios/tutorial.yaml", "-n", "2", "--workers", "1", "--set",
            "horizon=20", "--set", "warmup=0"]
    assert _loaded(_command(argv), NO_FIGURES) == []


def test_compare_without_out_imports_no_plotting_or_scipy_stats():
    argv = ["compare", "scenarios/speed_to_lead.yaml",
            "scenarios/speed_to_lead_extended_hours.yaml", "-n", "2", "--workers", "1",
            "--set", "horizon=20", "--set", "warmup=0"]
    assert _loaded(_command(argv), NO_FIGURES) == []
