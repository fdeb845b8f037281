"""Two-level fractional factorial designs: 2^(k-p) fractions from generators, their
defining relation and resolution, and the standard generators of highest resolution."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Generators of 2^(k-p) fractions of highest resolution (minimum aberration), as tabled
#: in Montgomery, *Design and Analysis of Experiments*: (k, p) -> generators.
STANDARD_GENERATORS: dict[tuple[int, int], tuple[str, ...]] = {
    (3, 1): ("C=AB",), (4, 1): ("D=ABC",), (5, 1): ("E=ABCD",), (5, 2): ("D=AB", "E=AC"),
    (6, 1): ("F=ABCDE",), (6, 2): ("E=ABC", "F=BCD"), (6, 3): ("D=AB", "E=AC", "F=BC"),
    (7, 1): ("G=ABCDEF",), (7, 2): ("F=ABCD", "G=ABDE"), (7, 3): ("E=ABC", "F=BCD", "G=ACD"),
    (7, 4): ("D=AB", "E=AC", "F=BC", "G=ABC"),
    (8, 1): ("H=ABCDEFG",), (8, 2): ("G=ABCD", "H=ABEF"), (8, 3): ("F=ABC", "G=ABD", "H=BCDE"),
    (8, 4): ("E=BCD", "F=ACD", "G=ABC", "H=ABD"),
}

_GENERATOR = re.compile(r"^\s*([A-Z])\s*=\s*(-?)\s*([A-Z]+)\s*$")


@dataclass(frozen=True)
class Fraction:
    """A two-level fractional factorial in coded units.

    Attributes:
        matrix: designs x factors, entries -1 (first level) and +1 (second level); the
            base factors in standard order (the first varies fastest).
        words: the defining relation's words (``ABCD`` for I = ABCD; ``-ABCD`` for I = -ABCD).
        resolution: the length of its shortest word (None for a full factorial).
    """

    matrix: np.ndarray
    words: tuple[str, ...]
    resolution: int | None


def fractional_factorial(k: int, generators: list[str] | tuple[str, ...]) -> Fraction:
    """The 2^(k-p) design of k factors lettered A, B, ... with p generators ``X=ABC``.

    Each generator sets a factor to the product of base factors (``D=ABC``: D's level is the
    product of A's, B's and C's, in coded units; ``D=-ABC`` the other half). The defining
    relation holds every product of the generators' words ``I = ABCD``; the resolution is
    the length of its shortest word: main effects are aliased with interactions of
    ``resolution - 1`` factors.

    Raises:
        ValueError: a malformed generator, a letter beyond the k-th, a generated factor
            used on a right-hand side or generated twice.
    """
    letters = [chr(ord("A") + i) for i in range(k)]
    rules: dict[str, tuple[int, str]] = {}
    for text in generators:
        m = _GENERATOR.match(text)
        if not m:
            raise ValueError(f"a generator is written like D=ABC, got {text!r}")
        left, sign, right = m.group(1), -1 if m.group(2) else 1, m.group(3)
        for letter in (left, *right):
            if letter not in letters:
                raise ValueError(f"generator {text!r} names {letter}, but the {k} factors are "
                                 f"{letters[0]}..{letters[-1]}")
        if left in rules or len(set(right)) != len(right) or left in right:
            raise ValueError(f"generator {text!r}: each factor is generated once, from "
                             "distinct other factors")
        rules[left] = (sign, right)
    base = [x for x in letters if x not in rules]
    used = {x for _, right in rules.values() for x in right}
    if used & set(rules):
        raise ValueError(f"generators {list(generators)}: write every generator in the base "
                         f"factors {''.join(base)} only")
    runs = np.array(list(itertools.product([-1, 1], repeat=len(base))))[:, ::-1]
    columns = dict(zip(base, runs.T, strict=True))
    for left, (sign, right) in rules.items():
        columns[left] = sign * np.prod([columns[x] for x in right], axis=0)
    matrix = np.column_stack([columns[x] for x in letters]).astype(int)
    words = []
    items = [(sign, set(right) | {left}) for left, (sign, right) in rules.items()]
    for size in range(1, len(items) + 1):
        for subset in itertools.combinations(items, size):
            sign, word = 1, set[str]()
            for s, w in subset:
                sign, word = sign * s, word ^ w
            words.append(("-" if sign < 0 else "") + "".join(sorted(word)))
    resolution = min(len(w.lstrip("-")) for w in words) if words else None
    return Fraction(matrix, tuple(sorted(words, key=lambda w: (len(w.lstrip("-")), w.lstrip("-")))),
                    resolution)


def fraction_combos(factors: Mapping[str, Any], generators: list[str] | None,
                     fraction: int | None) -> list[dict[str, Any]]:
    """The designs (factor -> level) of a fraction of ``factors`` (each a list of two
    levels: the first coded -1, the second +1), by its generators or the standard ones."""
    for key, levels in factors.items():
        if not isinstance(levels, list) or len(levels) != 2:
            raise ValueError(f"a fractional factorial needs two levels per factor; {key!r} "
                             "has " + (f"{len(levels)}" if isinstance(levels, list)
                                       else "a range"))
    k = len(factors)
    if generators is None:
        if (k, fraction) not in STANDARD_GENERATORS:
            known = ", ".join(f"2^({a}-{b})" for a, b in STANDARD_GENERATORS)
            raise ValueError(f"no standard generators for 2^({k}-{fraction}) (known: {known}); "
                             "write generators: [D=ABC, ...]")
        generators = list(STANDARD_GENERATORS[(k, fraction or 0)])
    matrix = fractional_factorial(k, generators).matrix
    levels = list(factors.values())
    return [{key: levels[j][(row[j] + 1) // 2] for j, key in enumerate(factors)}
            for row in matrix]
