"""What the studio may read and write: files inside its folder, and nothing else.

A path comes from the browser as text relative to the folder. It is refused when it is
absolute, when it climbs with ``..``, or when it resolves (following symbolic links)
outside the folder; hidden names (``.git``, the studio's backups) are refused too, except
where the studio itself asks for them.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from salessim.errors import UsageError

#: Where the studio writes its runs, inside its folder (the only files /files/ serves).
OUT = "out/studio"


class OutsideFolder(UsageError):
    """A path that points outside the studio's folder (or is not a plain relative path)."""


def inside(root: Path, rel: str, hidden: bool = False) -> Path:
    """The file ``rel`` names inside ``root``, or :class:`OutsideFolder`.

    Args:
        root: the studio's folder (resolved).
        rel: a relative path with ``/`` separators, as the browser sends it.
        hidden: allow names starting with a dot (the studio's own backups).
    """
    if not isinstance(rel, str) or not rel or "\x00" in rel or "\\" in rel:
        raise OutsideFolder(f"not a relative path inside the folder: {rel!r}")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        raise OutsideFolder(f"absolute paths are refused: {rel!r}")
    if ".." in pure.parts:
        raise OutsideFolder(f"paths with '..' are refused: {rel!r}")
    if not hidden and any(part.startswith(".") for part in pure.parts):
        raise OutsideFolder(f"hidden files are refused: {rel!r}")
    path = root.joinpath(*pure.parts)
    real = path.resolve()
    if real != root and root not in real.parents:
        raise OutsideFolder(f"{rel!r} leads outside the folder (a symbolic link?)")
    return path


def relative(root: Path, path: Path) -> str:
    """``path`` (inside ``root``) as the browser names it."""
    return path.relative_to(root).as_posix()
