"""The package type-checks: mypy, configured in pyproject.toml, finds no error.

Strict (every function annotated, no implicit Any returned) for the scenario language, the
model, the engine, the random streams, the records and the statistics; the default checks,
with the bodies of unannotated functions included, everywhere else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_error():
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "No module named mypy" not in done.stderr, \
        "mypy is part of the test extra: pip install -e '.[test]'"
    assert done.returncode == 0, done.stdout + done.stderr
