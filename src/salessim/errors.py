"""One error family for salessim.

Every user-facing error says where (file and line), what (the field path), which rule
was broken and the value that broke it, so a user can fix a scenario without reading
our source. The command line prints these messages and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'closing'?)`` when one of ``choices`` is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Longest value an error message quotes whole, in characters: a value of a 10 MB field
#: is quoted by its start and its length.
QUOTE_LIMIT = 200


def clipped(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text``, or its first ``limit`` characters and how long it is."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def clip_lines(text: str, limit: int = 5 * QUOTE_LIMIT) -> str:
    """Each line of a message at most about ``limit`` characters (see :func:`clipped`)."""
    return "\n".join(clipped(line, limit) for line in text.split("\n"))


class SalessimError(Exception):
    """Base class of every error salessim raises on purpose."""


@dataclass
class Problem:
    """One broken rule in an input document.

    Attributes:
        field: dotted path of the field (``stages.close.next``), empty for the whole document.
        rule: the rule in words (``probabilities must sum to 1``).
        value: the offending value, as given.
        file: the file it came from, or a pseudo-file such as ``--set``.
        line: 1-based line in that file, when known.
    """

    field: str
    rule: str
    value: object = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        subject = self.field or "(document)"
        return (f"{where}: {subject}: {clipped(self.rule, 5 * QUOTE_LIMIT)} "
                f"(got {clipped(repr(self.value))})")


@dataclass
class ScenarioError(SalessimError):
    """A scenario, redesign or experiment file that cannot be used as written."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The problems are the arguments: a copy made as type(exc)(*exc.args) (SimPy makes
        # one of an error raised in a simulation) or by pickling is the same error.
        super().__init__(self.problems)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class UsageError(SalessimError, ValueError):
    """An argument that cannot be used: a bad option on the command line, or a bad value
    given to a library function by its caller. Also a ValueError, for callers that catch
    those; the command line reports it as bad input (exit status 2)."""


class OutputError(SalessimError):
    """An output that cannot be written where it was asked for."""
