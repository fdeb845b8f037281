"""Writing output files whole or not at all, and durably.

Each file is written to a temporary name in its own folder, synced to disk, renamed into
place, and its folder synced, so a crash, a Ctrl-C or a power cut never leaves a
half-written or empty file under the final name, and an older file of the same name
survives until the new one is complete. A write that fails (a full disk, no permission)
raises :class:`~salessim.errors.OutputError` naming the path, and leaves no temporary file.
A command's whole output folder is written the same way by :func:`staged_folder`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from salessim.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically."""
    path = Path(path)
    created = not path.parent.exists()  # removed again, empty, when the write fails
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The writer's pid in the name: remove_stale_parts() can tell a killed writer's
        # leftover from a file another process is writing right now.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part",
                                   dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here: {exc.strerror}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
        _fsync(path.parent)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                path.parent.rmdir()
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Name part of the temporary folder :func:`staged_folder` writes into, beside the target.
STAGING = ".staging-"


@contextlib.contextmanager
def staged_folder(out: str | Path, last: Sequence[str] = ()) -> Iterator[Path]:
    """A command's output folder, written whole or not at all.

    Yields a temporary folder beside ``out`` (``.staging-<pid>-<random>-<name>``); write
    every output there. When the block ends normally its files are moved into ``out``:
    the whole folder with one rename if ``out`` does not exist yet, else file by file
    (the names in ``last``, such as the run record, moved last), so files of an earlier
    run that this one does not write are left as they were. When the block raises (an
    error, Ctrl-C, a full disk), the temporary folder is removed and ``out`` is untouched.
    Temporary folders left by a process that was killed are removed on the next call for
    the same ``out``: only those of exactly that name, and only when their process no
    longer runs (the pid comes first in the name, and the random part holds no ``-``, so
    ``r`` and ``r-99999`` can never be taken for each other).

    Any command with an ``--out DIR`` can use it::

        with staged_folder(args.out, last=["run.json"]) as folder:
            write_frame(table, folder / "summary.csv")
            write_json(folder / "run.json", record)

    Raises:
        OutputError: the folder cannot be created or moved into place (full disk, no
            permission, ``out`` is a file).
    """
    # Resolved, so that the staging folder is a sibling of ``out`` even for ``--out .``:
    # a path relative to it (a best.yaml's extends:) then holds for ``out`` too.
    problem = out_problem(out)
    if problem is not None:
        raise OutputError(problem)
    shown, out = Path(out), Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{shown}: --out must be a folder, and this is a file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        stage = Path(tempfile.mkdtemp(prefix=f"{STAGING}{os.getpid()}-",
                                      suffix=f"-{out.name}", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write here: {exc.strerror or exc}") from None
    try:
        try:
            yield stage
        except OutputError as exc:  # name the file the user asked for, not its stand-in
            raise OutputError(str(exc).replace(str(stage), str(shown))) from None
        _move_into(stage, out, last)
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def out_problem(out: str | Path) -> str | None:
    """Why ``out`` cannot be a command's output folder (empty, or the root), or None."""
    if not str(out).strip():
        return "--out must name a folder, and it is empty"
    resolved = Path(out).resolve()
    if resolved == resolved.parent:  # no folder beside it to stage in, nor to move into
        return f"{out}: --out must be a folder of its own, not the root folder"
    return None


def _move_into(stage: Path, out: Path, last: Sequence[str]) -> None:
    if not out.exists():
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual mode
        os.replace(stage, out)
        _fsync(out.parent)
        return
    files = [p for p in sorted(stage.rglob("*")) if p.is_file()]
    files.sort(key=lambda p: p.relative_to(stage).as_posix() in last)
    for path in files:
        target = out / path.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    for folder in {out / p.relative_to(stage).parent for p in files}:
        _fsync(folder)


def staging_owner(name: str) -> tuple[int, str] | None:
    """The process id and the ``out`` name of a staging folder's name, or None."""
    if not name.startswith(STAGING):
        return None
    pid, _, rest = name[len(STAGING):].partition("-")
    _, dash, target = rest.partition("-")  # tempfile's random part has no "-"
    return (int(pid), target) if pid.isdigit() and dash and target else None


def _remove_stale(out: Path) -> None:
    """Remove staging folders of ``out`` (of exactly its name) whose process no longer runs."""
    for path in out.parent.glob(f"{STAGING}*"):
        owner = staging_owner(path.name)
        if owner is not None and owner[1] == out.name and not process_running(owner[0]):
            shutil.rmtree(path, ignore_errors=True)


def remove_stale_parts(folder: str | Path, pattern: str = "*") -> list[Path]:
    """Remove temporary files of :func:`atomic_path` under ``folder`` (names matching
    ``.<pattern>.<pid>.*.part``) whose writing process no longer runs; returns them."""
    removed = []
    for path in Path(folder).rglob(f".{pattern}.*.part"):
        parts = path.name.rsplit(".part", 1)[0].split(".")
        pid = next((p for p in reversed(parts[:-1]) if p.isdigit()), None)
        if pid is not None and not process_running(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def process_running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux)
        return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Write a text file whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON (indented, keys in order given) whole or not at all."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def versions() -> dict[str, str]:
    """Versions of salessim, Python and the libraries a result depends on."""
    import numpy
    import pandas
    import scipy
    import simpy

    from salessim import __version__

    return {
        "salessim": __version__,
        "python": sys.version.split()[0],
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
    }
