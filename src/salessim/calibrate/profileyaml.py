"""The ``profile`` of a calibrated source as written in the scenario, with its evidence.

Each shape test (weekday, month, hour of day) is a comment: the shape's line when the test
rejects flat, a "no profile" comment when it does not; an over-dispersed source's
``day_effect`` comes with its index of dispersion and the bootstrap interval of k.
"""

from __future__ import annotations

import json
import math
from typing import Any

from salessim.calibrate.arrivals import Arrivals
from salessim.calibrate.estimate import ALPHA

#: What the entries of a written profile stand for.
ORDER = {"weekly": "; Mon..Sun", "monthly": "; Jan..Dec, 1 where unobserved",
         "hourly": "; hours 0..23 local time, mean 1"}


def _g(x: float, digits: int = 4) -> str:
    return "inf" if math.isinf(x) else "nan" if math.isnan(x) else f"{x:.{digits}g}"


def profile_lines(a: Arrivals, profile: dict[str, Any]) -> list[str]:
    """The YAML lines of ``profile`` (under a source, indented 4) with their comments."""
    lines, opened = [], False
    for kind, test in (("weekly", a.weekly_test), ("monthly", a.monthly_test),
                       ("hourly", a.hourly_test)):
        if test is None:
            continue
        verdict = "not flat" if test.rejects else "flat"
        line = (f"{test.name}: {_g(test.statistic)} on {test.df} df, p = {_g(test.p, 2)} "
                f"({verdict} at level {ALPHA:g})")
        if kind in profile:
            if not opened:
                lines.append("    profile:")
                opened = True
            lines.append(f"      {kind}: {json.dumps(profile[kind])}   # {line}{ORDER[kind]}")
        else:
            indent = "      " if opened else "    "
            lines.append(f"{indent}# {kind} shape: {line}; no profile")
    if "day_effect" in profile:
        if not opened:
            lines.append("    profile:")
        lo, hi = a.day_effect_ci or (math.nan, math.nan)  # set with the day effect
        lines.append(f"      day_effect: {json.dumps(profile['day_effect'])}   # daily counts "
                     f"vary {_g(a.index)} times as much as Poisson; gamma shape k by moments, "
                     f"95% CI [{_g(lo)}, {_g(hi)}] (bootstrap over days)")
    return lines
