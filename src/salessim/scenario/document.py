"""A merged scenario document and where each of its keys was written (file and line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SET_SOURCE = "--set"

Path_ = tuple[str, ...]


@dataclass
class Document:
    """A merged scenario document and where each of its keys was written."""

    data: dict[str, Any]
    #: path -> (file, line), most derived file winning.
    origins: dict[Path_, tuple[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def locate(self, path: Path_) -> tuple[str | None, int | None]:
        """File and line of the longest prefix of ``path`` that some file writes; a
        ``--set`` that changed a key inside ``path`` (``next.won`` of a ``next`` that no
        longer sums to 1) wins, being the change that broke it."""
        inside = [o for p, o in self.origins.items()
                  if o[0] == SET_SOURCE and len(p) > len(path) and p[: len(path)] == path]
        if inside:
            return max(inside, key=lambda o: o[1])
        for end in range(len(path), 0, -1):
            if path[:end] in self.origins:
                return self.origins[path[:end]]
        return (self.files[-1] if self.files else None), None


_ABSENT = object()


def lookup(data: Any, path: Path_, default: Any = _ABSENT) -> Any:
    """The value at ``path`` in the document, or ``default`` when no key is there."""
    node = data
    for key in path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return default
    return node


def exists(data: Any, path: Path_) -> bool:
    """Whether ``path`` still names a key after merging (replaced subtrees drop theirs)."""
    return lookup(data, path) is not _ABSENT
