"""What an install of salessim holds: the package's modules and its ``py.typed`` marker, so
a type checker reads salessim's annotations in a user's project (PEP 561)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_built_package_ships_py_typed(tmp_path):
    # Built from a copy (setuptools writes its egg-info beside the sources) with the
    # setuptools of the test extra, as the wheel would be.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "src", tmp_path / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                           "build_py", "--build-lib", str(tmp_path / "lib")], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    built = tmp_path / "lib" / "salessim"
    assert (built / "py.typed").is_file()
    assert (built / "engine.py").is_file() and (built / "model" / "journey.py").is_file()
