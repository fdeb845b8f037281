"""The run record: what a command ran, with what, when, and how it ended.

Every command that writes results (``run``, ``compare``, ``sweep``, ``optimise``,
``forecast``, ``calibrate``) writes one record beside them, built by :func:`build_record`:
the command and its arguments, each scenario's file and hash, the seed, the replications,
the random-stream scheme, the versions, the environment (platform, every installed package's
version, and the git commit and dirty flag of salessim's source when it runs from a
checkout), start and end times, the files written, and the exception that stopped it (or
``null``). A command that fails after it started working still writes its record, with
the exception's type and message, so a folder always says what last happened to it.
"""

from __future__ import annotations

import functools
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from salessim.output import versions, write_json

#: File name of the run record in a command's output folder.
RECORD_FILE = "run.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class RunRecord:
    """What a command learns about its run as it goes; :func:`build_record` turns it to JSON.

    Attributes:
        command: ``run``, ``compare``, ``sweep``, ``optimise``, ...
        argv: the command line.
        scenarios: label -> {"file": path, "hash": SHA-256 of the resolved scenario}.
        seed: root seed, once known.
        replications: replications (per scenario or design), once known.
        details: what only this command records (warm-up, targets, resolved scenarios).
        started: ISO time the command started.
    """

    command: str
    argv: list[str] = field(default_factory=lambda: list(sys.argv[1:]))
    scenarios: dict[str, dict[str, str]] = field(default_factory=dict)
    seed: int | None = None
    replications: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=_now)
    _clock: float = field(default_factory=time.perf_counter, repr=False)

    def scenario(self, label: str, file: str | Path, scenario_hash: str) -> None:
        """Note one scenario the command runs."""
        self.scenarios[label] = {"file": str(file), "hash": scenario_hash}

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._clock


def build_record(record: RunRecord, files: list[str] | None = None,
                 exception: BaseException | None = None) -> dict[str, Any]:
    """The run record as JSON data: the one place its fields are defined.

    Args:
        record: what the command noted.
        files: the files this run wrote, relative to its folder (none when it failed).
        exception: what stopped the run, or None when it completed.
    """
    from salessim.rng import STREAM_SCHEME  # numpy: not for building the command line

    return {
        "command": record.command,
        "argv": record.argv,
        "scenarios": record.scenarios,
        "seed": record.seed,
        "replications": record.replications,
        "stream_scheme": STREAM_SCHEME,
        "versions": versions(),
        "environment": environment(),
        "started": record.started,
        "ended": _now(),
        "seconds": round(record.seconds, 3),
        "exception": None if exception is None else {
            "type": type(exception).__name__, "message": str(exception)},
        "files": list(files or []),
        **record.details,
    }


def write_record(folder: str | Path, record: RunRecord, files: list[str] | None = None,
                 exception: BaseException | None = None, name: str = RECORD_FILE) -> Path:
    """Write the record into ``folder`` (whole or not at all); returns its path."""
    path = Path(folder) / name
    write_json(path, build_record(record, files, exception))
    return path


def environment() -> dict[str, Any]:
    """Where a result was computed: enough to rebuild the environment that made it.

    ``source`` is the git commit of salessim's own code and whether it had uncommitted
    changes when it runs from a checkout (``null`` for an installed copy), read afresh
    each time (a long-lived process may outlive a commit); ``packages`` is every installed
    distribution's version, read once per process.
    """
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "source": source_checkout(Path(__file__).resolve().parent),
        "packages": installed_packages(),
    }


@functools.lru_cache(maxsize=1)
def installed_packages() -> dict[str, str]:
    """Every installed distribution's version, by lower-case name, sorted."""
    from importlib import metadata

    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return dict(sorted(packages.items()))


def source_checkout(folder: Path) -> dict[str, Any] | None:
    """The git commit and dirty flag of the checkout whose tracked files include ``folder``.

    None when git is missing, ``folder`` is not tracked in a repository (an installed copy
    inside someone else's repository does not count), or git fails. The dirty flag counts
    changes to tracked files only: output folders written beside the code do not make a
    checkout dirty.
    """
    git = shutil.which("git")
    if git is None:
        return None

    def ask(*args: str) -> str | None:
        try:
            done = subprocess.run([git, "-C", str(folder), *args], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    tracked = ask("ls-files", "--", ".")
    commit = ask("rev-parse", "HEAD")
    if not tracked or not commit:
        return None
    status = ask("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status),
            "root": ask("rev-parse", "--show-toplevel")}
