"""What a file is, by its first bytes: an XES event log, other XML, an OCEL 2.0 log (JSON or
SQLite), or anything else.

Readers ask before they parse, so a file is recognised by its content, not its name
(``log.xes.gz``, ``export.txt`` and ``data.csv`` holding XML all say what they are).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path


def open_maybe_gzip(path: Path):
    """The file opened for binary reading, through gzip when its first bytes say so."""
    with path.open("rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def sniff(path: str | Path) -> str | None:
    """``"xes"`` for an XES log, ``"xml"`` for other XML, ``"ocel"`` for an OCEL 2.0 log
    (JSON with its keys, or SQLite with its tables), ``"sqlite"`` for another SQLite file,
    None for anything else (by content: the first bytes, through gzip when compressed)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open_maybe_gzip(path) as f:
            head = f.read(4096)
    except (OSError, EOFError):
        return None
    if head.startswith(b"SQLite format 3\x00"):
        return _sqlite_kind(path)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{") and (b'"eventTypes"' in text or b'"objectTypes"' in text
                                  or (b'"events"' in text and b'"objectId"' in text)):
        return "ocel"
    if not text.startswith(b"<"):
        return None
    if re.search(rb"<(\w+:)?log[\s>]", text) or b"xes.version" in text:
        return "xes"
    return "xml"


def _sqlite_kind(path: Path) -> str:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.Error:
        return "sqlite"
    return "ocel" if {"event_object", "event_map_type"} <= names else "sqlite"
