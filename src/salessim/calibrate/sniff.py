"""What a file is, by its first bytes: an XES event log, other XML, or anything else.

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
    """``"xes"`` for an XES log, ``"xml"`` for other XML, None for anything else (by content:
    the first bytes, through gzip when compressed)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open_maybe_gzip(path) as f:
            head = f.read(4096)
    except (OSError, EOFError):
        return None
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text.startswith(b"<"):
        return None
    if re.search(rb"<(\w+:)?log[\s>]", text) or b"xes.version" in text:
        return "xes"
    return "xml"
