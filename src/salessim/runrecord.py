"""The run record: what a command ran, with what, when, and how it ended.

Every command that writes results (``run``, ``compare``, ``sweep``, ``optimise``,
``forecast``, ``calibrate``) writes one record beside them, built by :func:`build_record`:
the command and its arguments, each scenario's file and hash, the seed, the replications,
the random-stream scheme, the versions, start and end times, the files written, and the
exception that stopped it (or ``null``). A command that fails after it started working still writes its record, with
the exception's type and message, so a folder always says what last happened to it.
"""

from __future__ import annotations

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
