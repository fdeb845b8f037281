"""Which KPIs to show: the headline set, the busiest role, names and globs.

Pure functions over KPI names (and means), shared by the comparison, the reports and the
command line; labels and units are :mod:`salessim.kpis`'s.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Sequence

from salessim import kpis as registry


def split_patterns(options: Iterable[str]) -> list[str]:
    """``--kpis`` values, each one or several comma-separated names or globs."""
    return [p.strip() for option in options for p in option.split(",") if p.strip()]


def select_kpis(names: Sequence[str], patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The KPI names matching any pattern (a name or a glob like ``utilisation.*``).

    Returns:
        The matching names in the order of ``names``, and the patterns matching none.
    """
    chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    return chosen, unmatched


def busiest_role(means: dict[str, float]) -> str | None:
    """The ``utilisation.<role>`` KPI with the highest mean (members left out), if any."""
    roles = {k: v for k, v in means.items()
             if k.startswith("utilisation.") and k.count(".") == 1 and not math.isnan(v)}
    return max(roles, key=roles.__getitem__) if roles else None


def default_kpis(means: dict[str, float], also: Iterable[str] = ()) -> list[str]:
    """The headline KPIs present in ``means`` (a KPI -> mean map), the busiest role's
    utilisation and ``also`` (KPIs with targets), in the order of ``means``."""
    wanted = {*registry.HEADLINE_KPIS, *also}
    busiest = busiest_role(means)
    if busiest is not None:
        wanted.add(busiest)
    return [k for k in means if k in wanted]
