"""The result store: a folder of Parquet files, one per run, and a manifest.

Layout of a results folder::

    _manifest.json                   experiment hash, root seed, stream scheme, versions,
                                     executor, start and end times, design table
    _run.json                        the record of the last sweep command
    _history/                        one entry per sweep into the folder
    design=d000/rep-000000.parquet   one file per (design, replication)
    design=d000/rep-000001.parquet
    design=d001/...

The folder is a Hive-partitioned Parquet dataset, so ``pandas.read_parquet(folder)``,
``pyarrow.dataset.dataset(folder, partitioning="hive")``, polars and DuckDB's
``read_parquet('folder/**/*.parquet', hive_partitioning=true)`` read it as one table:
the design is the partition (the folder name), not a column inside the files, so the two
never disagree in type; and every other file's name starts with ``_``, which these readers
skip. Folders written before this layout (``manifest.json``, ``history/``, a ``design``
column in the files) are still read, and renamed to it when a sweep resumes into them.

Every file holds rows of one tidy long table: experiment, scenario, one column per
factor, scenario_hash, replication, kpi, value, status, error (the design comes from the
folder; :func:`load_results` adds it as a column). A failed run is one row with
status ``error``, no KPI and the error message. Each file is written to a temporary name and
renamed into place, so a run is either stored whole or not at all, and a folder is
resumable: a file that exists is a completed run. Run files are not flushed to the disk one
by one (two ``fsync`` calls cost a tenth of a short run): after a crash of the machine, a
file not yet on the disk reads back torn, and :meth:`ResultStore.verify` removes it. The manifest
(less the end time) is also stored in every file's Parquet metadata, with the design's
resolved scenario, so one file is enough to reproduce its values.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from salessim.errors import OutputError, UsageError
from salessim.experiments.runs import ERROR, RunOutcome
from salessim.experiments.spec import Experiment
from salessim.output import remove_stale_parts, versions, write_json
from salessim.rng import STREAM_SCHEME
from salessim.scenario.load import resolved

MANIFEST = "_manifest.json"
#: Folder of a results folder holding one history entry per sweep.
HISTORY = "_history"
#: The record of the sweep command (``run.json`` elsewhere), named to be skipped by readers.
RECORD = "_run.json"
#: Names of the layout before the folder was a dataset every reader opens: read, then renamed.
_LEGACY = {"manifest.json": MANIFEST, "history": HISTORY, "run.json": RECORD}
METADATA_KEY = b"salessim.manifest"
_FILE = re.compile(r"^rep-(\d+)\.parquet$")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def all_versions() -> dict[str, str]:
    """Versions of everything a stored result depends on."""
    return {**versions(), "pyarrow": pa.__version__}


def _factor_type(values: list[Any]) -> pa.DataType:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def _factor_cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if kind == pa.string():
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if kind == pa.float64():
        return float(value)
    return value


@dataclass
class ResultStore:
    """A results folder for one experiment.

    Use :meth:`open`; it refuses a folder that holds another experiment's results.
    """

    root: Path
    experiment: Experiment
    manifest: dict[str, Any]
    schema: pa.Schema = field(init=False)
    _factor_types: dict[str, pa.DataType] = field(init=False)
    _rows: dict[str, dict[str, Any]] = field(init=False)
    _schemas: dict[str, pa.Schema] = field(init=False)

    def __post_init__(self) -> None:
        table = self.experiment.design_table()
        self._factor_types = {
            f: _factor_type([row.get(f) for row in table]) for f in self.experiment.factors
        }
        fields = [
            pa.field("experiment", pa.string()),
            # No design column: the folder design=... is the partition readers add.
            pa.field("scenario", pa.string()),
            *[pa.field(f, t) for f, t in self._factor_types.items()],
            pa.field("scenario_hash", pa.string()),
            pa.field("replication", pa.int64()),
            pa.field("kpi", pa.string()),
            pa.field("value", pa.float64()),
            pa.field("status", pa.string()),
            pa.field("error", pa.string()),
        ]
        self.schema = pa.schema(fields)
        self._rows = {row["design"]: row for row in table}
        self._schemas = {}

    @classmethod
    def open(cls, root: str | Path, experiment: Experiment, executor: str,
             shard: str | None = None) -> ResultStore:
        """Open (or create) ``root`` for ``experiment`` and record this sweep in its manifest.

        Raises:
            UsageError: the folder holds results of a different experiment (or other files).
        """
        root = Path(root)
        _migrate(root)
        old = read_manifest(root) if (root / MANIFEST).is_file() else None
        # Hidden names are temporary files of writes in progress (another shard starting).
        if old is None and root.is_dir() and any(
            not p.name.startswith(".") for p in root.iterdir()
        ):
            raise UsageError(f"{root} is not empty and holds no {MANIFEST}: not a results "
                             "folder; give a new or empty --out folder")
        if old is not None and old.get("experiment_hash") != experiment.hash:
            raise UsageError(
                f"{root} holds results of a different experiment "
                f"({old.get('experiment')!r}, hash {str(old.get('experiment_hash'))[:12]}) than "
                f"{experiment.path} (hash {experiment.hash[:12]}): its designs, scenarios, seed "
                "or KPIs changed since. Give a new --out folder, or delete the old one to start "
                "again."
            )
        manifest = {
            "experiment": experiment.name,
            "experiment_file": str(experiment.path),
            "experiment_hash": experiment.hash,
            "root_seed": experiment.seed,
            "replications": experiment.replications,
            "stream_scheme": STREAM_SCHEME,
            "versions": all_versions(),
            "executor": executor,
            "shard": shard,
            "started": now(),
            "ended": None,
            "kpis": list(experiment.kpis) if experiment.kpis else None,
            "factors": list(experiment.factors),
            "designs": experiment.design_table(),
            "base_scenarios": experiment.bases,
            # Entries of folders written before history/ existed stay; new ones are files.
            "history": _inline_history(root) if old else [],
        }
        store = cls(root, experiment, manifest)
        write_json(root / MANIFEST, manifest)
        return store

    def path(self, design: str, replication: int) -> Path:
        return self.root / f"design={design}" / f"rep-{replication:06d}.parquet"

    def completed(self, with_errors: bool = True) -> set[tuple[str, int]]:
        """The (design, replication) runs stored; ``with_errors=False`` leaves out failed ones."""
        return completed_runs(self.root, with_errors)

    def write(self, outcome: RunOutcome) -> Path:
        """Store one run's outcome whole, or not at all."""
        row = self._rows[outcome.design]
        head = {
            "experiment": self.experiment.name, "scenario": row["scenario"],
            **{f: _factor_cell(row.get(f), t) for f, t in self._factor_types.items()},
            "scenario_hash": row["scenario_hash"], "replication": outcome.replication,
        }
        if outcome.kpis is not None:
            items = list(outcome.kpis.items())
            cols = {k: [v] * len(items) for k, v in head.items()}
            cols.update(kpi=[k for k, _ in items], value=[float(v) for _, v in items],
                        status=[outcome.status] * len(items), error=[None] * len(items))
        else:
            cols = {k: [v] for k, v in head.items()}
            cols.update(kpi=[None], value=[math.nan], status=[ERROR], error=[outcome.error])
        table = pa.Table.from_pydict(cols, schema=self._schema(outcome.design))
        target = self.path(outcome.design, outcome.replication)
        try:
            with _renamed_into_place(target) as tmp:
                pq.write_table(table, tmp)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write: {exc}") from None
        return target

    def _schema(self, design: str) -> pa.Schema:
        """The files' schema with the design's metadata (the manifest less its end time,
        the design and its resolved scenario), built once per design."""
        schema = self._schemas.get(design)
        if schema is None:
            meta = {k: v for k, v in self.manifest.items()
                    if k not in ("ended", "history", "designs", "base_scenarios")}
            meta.update(design=design, resolved_scenario=resolved(self.experiment.scenarios[design]))
            schema = self._schemas[design] = self.schema.with_metadata(
                {METADATA_KEY: json.dumps(meta, default=str)})
        return schema

    def finish(self, summary: dict[str, Any]) -> None:
        """Record the end of this sweep (also when it was interrupted).

        Each sweep's history entry is a file of its own in ``history/`` (merged when the
        manifest is read), so shards that start or end at the same moment never overwrite
        each other's entry.
        """
        self.manifest["ended"] = now()
        entry = {"executor": self.manifest["executor"], "shard": self.manifest["shard"],
                 "started": self.manifest["started"], "ended": self.manifest["ended"], **summary}
        # Named by the time it ended, so the entries read back in the order sweeps ended.
        write_json(self.root / HISTORY / f"{time.time_ns():020d}-{os.getpid()}.json", entry)

    def verify(self) -> list[Path]:
        """Remove stored run files that do not read back whole (an empty or torn file left
        by a crash of the machine); returns them, so that the sweep runs them again.
        Temporary files of killed sweeps are removed too."""
        remove_stale_parts(self.root, "rep-*")
        broken = []
        for path in result_files(self.root):
            try:
                rows = pq.read_metadata(path).num_rows
            except (OSError, pa.ArrowException):
                rows = 0
            if rows < 1:
                broken.append(path)
                path.unlink(missing_ok=True)
        return broken


@contextlib.contextmanager
def _renamed_into_place(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` (named as ``remove_stale_parts`` expects), renamed
    to ``path`` once written; not flushed to the disk (see the module's notes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{time.time_ns()}.part"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the umask applies
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _migrate(root: Path) -> None:
    """Rename a folder of the earlier layout's files (``manifest.json``, ``history/``,
    ``run.json``) to the names readers skip; the manifest last, so an interrupted rename
    is finished by the next resume."""
    if not (root / "manifest.json").is_file():
        return
    for old, new in sorted(_LEGACY.items(), key=lambda item: item[1] == MANIFEST):
        if (root / old).exists() and not (root / new).exists():
            try:
                os.replace(root / old, root / new)
            except FileNotFoundError:
                continue  # another shard, resuming at the same time, renamed it
            except OSError as exc:
                raise OutputError(f"{root / old}: cannot rename to {new}: {exc}") from None


def _manifest_path(root: Path) -> Path:
    """The manifest, under its name or (a folder of the earlier layout) its old one."""
    path = root / MANIFEST
    return path if path.is_file() or not (root / "manifest.json").is_file() else root / "manifest.json"


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a results folder.

    Raises:
        UsageError: no readable manifest there.
    """
    path = _manifest_path(Path(root))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{root}: no {MANIFEST} here; not a salessim results folder") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the manifest: {exc}") from None
    entries = list(manifest.get("history") or [])  # folders written before history/ existed
    items = [*(Path(root) / "history").glob("*.json"), *(Path(root) / HISTORY).glob("*.json")]
    for item in sorted(items, key=lambda p: p.name):
        try:
            entries.append(json.loads(item.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue  # one unreadable entry does not hide the others
    manifest["history"] = entries
    # The end of the sweep that wrote the manifest last, once it has ended.
    ends = [e.get("ended") for e in entries if e.get("started") == manifest.get("started")]
    if manifest.get("ended") is None and ends:
        manifest["ended"] = ends[-1]
    return manifest


def _inline_history(root: Path) -> list[dict[str, Any]]:
    try:
        text = _manifest_path(root).read_text(encoding="utf-8")
        return list(json.loads(text).get("history") or [])
    except (OSError, json.JSONDecodeError):
        return []


def result_files(root: str | Path) -> list[Path]:
    """The stored run files (temporary files of unfinished writes are never included)."""
    return sorted(Path(root).glob("design=*/rep-*.parquet"))


def _key(path: Path) -> tuple[str, int] | None:
    match = _FILE.match(path.name)
    if match is None:
        return None
    return (path.parent.name.split("=", 1)[1], int(match.group(1)))


def completed_runs(root: str | Path, with_errors: bool = True) -> set[tuple[str, int]]:
    """(design, replication) of every stored run of a results folder."""
    keys: set[tuple[str, int]] = set()
    for path in result_files(root):
        key = _key(path)
        if key is None:
            continue
        if not with_errors:
            status = pq.read_table(path, columns=["status"]).column("status").to_pylist()
            if ERROR in status:
                continue
        keys.add(key)
    return keys


def load_results(root: str | Path, files: Iterable[Path] | None = None) -> pd.DataFrame:
    """The tidy table of a results folder (every run file, concatenated).

    Raises:
        UsageError: not a results folder.
    """
    root = Path(root)
    manifest = read_manifest(root)
    paths = list(files) if files is not None else result_files(root)
    if files is None and manifest.get("replications"):
        # Runs of an earlier sweep with more replications than the experiment has now
        # are not part of it: they are left out (and counted, for the report).
        keep = int(manifest["replications"])
        beyond = [p for p in paths if (_key(p) or ("", 0))[1] >= keep]
        paths = [p for p in paths if p not in set(beyond)]
    else:
        beyond = []
    if not paths:
        empty = pd.DataFrame(columns=["experiment", "design", "scenario", "scenario_hash",
                                      "replication", "kpi", "value", "status", "error"])
        empty.attrs["beyond_replications"] = len(beyond)
        return empty
    tables = []
    for path in paths:
        try:
            table = pq.read_table(path, partitioning=None)
        except (OSError, pa.ArrowException) as exc:
            raise UsageError(f"{path}: a stored run that does not read back ({exc}); run the "
                             "sweep again to redo it") from None
        if "design" not in table.column_names:  # the partition, from the folder's name
            design = (_key(path) or (path.parent.name.split("=", 1)[-1], 0))[0]
            table = table.add_column(1, "design", pa.array([design] * table.num_rows,
                                                           pa.string()))
        tables.append(table)
    table = pa.concat_tables(tables, promote_options="default")
    frame = table.to_pandas()
    frame = frame.sort_values(["design", "replication"], kind="stable").reset_index(drop=True)
    frame.attrs["beyond_replications"] = len(beyond)
    return frame


def file_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest stored in one run file's Parquet metadata."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[METADATA_KEY])
