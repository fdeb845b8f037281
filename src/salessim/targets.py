"""Targets: goals a redesign states on its KPIs, and their verdicts.

A target is a goal stated in a redesign file (``targets:``) or on the command line:

- ``-20%``: the relative change must be at most -20% (a cut of at least a fifth);
- ``+5%``: the relative change must be at least +5%;
- ``<= -10%`` / ``>= 3%``: the same with the direction written out;
- ``<= 0.85`` / ``>= 0.3``: a bound on the redesign's mean.

Its verdict is ``met`` when the whole confidence interval satisfies it, ``missed`` when
the whole interval fails it and ``unsure`` when the interval straddles it; an unsure
target also gets the number of replications that would likely settle it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from salessim import stats
from salessim.engine import kpi_names
from salessim.errors import Problem, ScenarioError
from salessim.kpis import verdict
from salessim.scenario import Scenario
from salessim.scenario.load import read_document

TARGET_FILE = "--target"

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TARGET = re.compile(rf"^\s*(?P<op><=|>=|<|>|=)?\s*(?P<num>{_NUMBER})\s*(?P<pct>%)?\s*$")
_SYNTAX = ("a target is a signed relative change like -20% or +5%, or a bound on the "
           "redesign's mean like '<= 0.85' or '>= 0.3'")


@dataclass(frozen=True)
class Target:
    """A goal on one KPI of a redesign.

    Attributes:
        kpi: KPI name, as in :data:`salessim.kpis.REGISTRY`.
        op: ``"<="`` (at most) or ``">="`` (at least).
        value: the bound: a share (-0.2 for -20%) when ``relative``, else in the KPI's unit.
        relative: whether the bound is on the relative change or on the redesign's mean.
        text: the target as written.
    """

    kpi: str
    op: str
    value: float
    relative: bool
    text: str

    def describe(self) -> str:
        """The target in words, e.g. ``change <= -20%`` or ``mean <= 0.85``."""
        if self.relative:
            return f"change {self.op} {100 * self.value:+.4g}%"
        return f"mean {self.op} {self.value:.4g}"

    def satisfied_by(self, value: float) -> bool:
        """Whether one value (a relative change or a mean) satisfies the target."""
        return value <= self.value if self.op == "<=" else value >= self.value

    def verdict(self, estimate: stats.Estimate) -> str:
        """met / missed / unsure from the interval of the quantity the target bounds
        (:func:`salessim.kpis.verdict`)."""
        return verdict(estimate.ci_low, estimate.ci_high, self.op, self.value)


def parse_target(
    kpi: str,
    spec: object,
    known_kpis: Iterable[str] | None = None,
    file: str | None = None,
    line: int | None = None,
) -> Target:
    """Read one target, e.g. ``parse_target("win_rate", "+5%")``.

    Args:
        kpi: the KPI the target is about.
        spec: what was written: ``"-20%"``, ``"+5%"``, ``"<= -10%"``, ``"<= 0.85"``.
        known_kpis: KPI names the scenario produces; an unknown ``kpi`` is an error.
        file: where the target was written, for the error message.
        line: the line in that file.

    Raises:
        ScenarioError: naming file, line, field ``targets.<kpi>``, the rule and the value.
    """

    def fail(rule: str, value: object = spec) -> ScenarioError:
        return ScenarioError([Problem(f"targets.{kpi}", rule, value, file, line)])

    if known_kpis is not None:
        known = list(known_kpis)
        if kpi not in known:
            raise fail(unknown_kpi(kpi, known), kpi)
    if not isinstance(spec, str):
        # A bare YAML number is ambiguous: 0.85 could be a bound or a change of 85%.
        raise fail(_SYNTAX)
    match = _TARGET.match(spec)
    if match is None:
        raise fail(_SYNTAX)
    op, number, pct = match.group("op"), float(match.group("num")), match.group("pct")
    if op in ("<", ">", "="):
        raise fail(f"use <= or >= (a confidence interval cannot meet {op!r} exactly); {_SYNTAX}")
    if op is None:
        if pct is None:
            raise fail(_SYNTAX)
        sign = match.group("num").lstrip()[0]
        if sign not in "+-":
            raise fail("a relative target needs its sign: -20% (at most -20%) or +20% "
                       "(at least +20%)")
        op = "<=" if sign == "-" else ">="
    value = number / 100 if pct else number
    if not math.isfinite(value):
        raise fail("the bound must be a finite number")
    return Target(kpi, op, value, pct is not None, spec.strip())


def unknown_kpi(kpi: str, known: Sequence[str]) -> str:
    """The rule an unknown KPI breaks: the closest name first, then the KPIs in short.

    Per-stage, per-role and per-source KPIs are shown once as a pattern
    (``conversion.<stage>``), so the list stays a line or two long whatever the scenario.
    """
    close = difflib.get_close_matches(kpi, known, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    plain = [k for k in known if "." not in k]
    families = dict.fromkeys(k.split(".", 1)[0] + ".<name>" for k in known if "." in k)
    listed = ", ".join([*plain, *families])
    return f"unknown KPI{hint}; the KPIs: {listed} (<name>: a stage, role or source)"


def scenario_targets(scenario: Scenario, path: str | Path | None = None) -> dict[str, Target]:
    """The targets a scenario file states, checked against the KPIs it produces.

    Args:
        scenario: the loaded scenario.
        path: its file, to name the file and line of a bad target in the error.

    Raises:
        ScenarioError: a target names an unknown KPI or cannot be read.
    """
    if not scenario.targets:
        return {}
    known = kpi_names(scenario)
    doc = read_document(path) if path is not None else None
    targets = {}
    for kpi, spec in scenario.targets.items():
        file, line = doc.locate(("targets", kpi)) if doc is not None else (None, None)
        targets[kpi] = parse_target(kpi, spec, known, file, line)
    return targets


def parse_target_options(options: Sequence[str], known_kpis: Iterable[str]) -> dict[str, Target]:
    """Targets given as ``KPI=SPEC`` on the command line (``--target win_rate=+5%``).

    Raises:
        ScenarioError: naming ``--target``, its position, the field and the value.
    """
    known = list(known_kpis)
    targets = {}
    for i, text in enumerate(options, start=1):
        kpi, sep, spec = text.partition("=")
        kpi = kpi.strip()
        if not sep or not kpi:
            raise ScenarioError([Problem(
                "targets", "a target option is KPI=SPEC, like cycle_time_won_median=-20% or "
                "'utilisation.se=<= 0.85'", text, TARGET_FILE, i)])
        targets[kpi] = parse_target(kpi, spec, known, TARGET_FILE, i)
    return targets
