"""The headcount of the staff role when the export names no owners.

A CRM export without owners cannot count the people who work its deals. With staff work
given per stage (``--touch``) the scenario still needs a headcount, so it comes from
``--headcount ROLE=N`` or, failing that, from the data by Little's law and Erlang C:

- offered load a = sum over stages of (visits entering the stage per day x its staff work
  in days): the mean number of people busy at any moment (in Erlangs);
- the time in stage of the export already holds any wait for staff (the scenario's delay
  is the time in stage less the work), so the simulation must add almost no queue of its
  own: the headcount is the smallest c > a whose M/M/c mean wait,
  C(c, a) x w / (c - a) with w the mean work per visit, is at most :data:`WAIT_SHARE` of w.

Which of the two was used is said in the YAML, ``calibration.json`` and the terminal.

An event log names the people who did the work: its roles and their headcounts come from
the log (:mod:`salessim.calibrate.staff`), and ``--headcount ROLE=N`` replaces the
headcount of a role found there (:func:`override_roles`), said the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from salessim.calibrate.readers import ExportError
from salessim.calibrate.staff import Staff
from salessim.calibrate.visits import Visits
from salessim.teaching.queueing import erlang_c

#: The simulated mean wait for staff may be at most this share of the mean work.
WAIT_SHARE = 0.05


@dataclass(frozen=True)
class Headcount:
    """A role's headcount and where it came from.

    Attributes:
        value: the headcount.
        source: ``owners`` (distinct owners per month), ``given`` (``--headcount``) or
            ``estimated`` (from the offered load, see the module).
        load: the offered load in Erlangs (NaN unless estimated).
        note: how it was obtained, in words.
    """

    value: int
    source: str
    load: float = math.nan
    note: str = ""


def parse_headcount(items: Sequence[str]) -> dict[str, int]:
    """``--headcount ROLE=N`` options as {role: N}."""
    out = {}
    for item in items:
        role, sep, text = item.partition("=")
        if not sep or not role.strip():
            raise ExportError(f"--headcount: give ROLE=N, got {item!r}")
        try:
            n = int(text)
        except ValueError:
            raise ExportError(f"--headcount {item}: N must be a whole number, got "
                              f"{text!r}") from None
        if n < 1:
            raise ExportError(f"--headcount {item}: N must be at least 1, got {n}")
        out[role.strip()] = n
    return out


def estimate_headcount(visits: Visits, touch: dict[str, float]) -> Headcount:
    """The smallest headcount that adds almost no queue to the stages' staff work."""
    counts = visits.visits["stage"].map(visits.target).value_counts()
    rates = {sid: int(counts.get(sid, 0)) / visits.days for sid in touch}
    load = sum(rates[sid] * work for sid, work in touch.items())
    per_day = sum(rates.values())
    work = load / per_day if per_day > 0 else 0.0
    c = max(1, math.floor(load) + 1)
    while load > 0 and erlang_c(c, load) * work / (c - load) > WAIT_SHARE * work:
        c += 1
    note = (f"estimated: no owners in the data; offered load {load:.3g} people busy on "
            f"average (visits per day x --touch work per stage), the smallest headcount "
            f"whose M/M/c mean wait is at most {WAIT_SHARE:.0%} of the mean work "
            f"({work * 24:.3g} h), since the export's time in stage already holds any wait; "
            "give --headcount owner=N if you know it")
    return Headcount(c, "estimated", load, note)


def choose_headcount(visits: Visits, owners: dict[str, int], touch: dict[str, float],
                     given: dict[str, int] | None, role: str = "owner") -> Headcount | None:
    """The role's headcount: given, else the median of distinct owners per month, else
    estimated when there is staff work (``touch``), else None (no staff role).

    Raises:
        ExportError: ``given`` names a role other than ``role``.
    """
    given = dict(given or {})
    unknown = sorted(set(given) - {role})
    if unknown:
        raise ExportError(f"--headcount {unknown[0]}: no such role; a CRM export's staff "
                          f"role is {role!r} (--headcount {role}=N)")
    if role in given:
        return Headcount(given[role], "given", note=f"given: --headcount {role}={given[role]}")
    if owners:
        months = sorted(owners.values())
        value = int(round((months[(len(months) - 1) // 2] + months[len(months) // 2]) / 2))
        return Headcount(value, "owners", note="median of distinct owners active per month")
    if touch:
        return estimate_headcount(visits, touch)
    return None


def override_roles(staff: Staff, given: dict[str, int]) -> list[str]:
    """Set the headcounts ``--headcount`` gives to roles found in an event log (each keeps
    the log's own in ``measured``) and return the warnings that say so.

    Raises:
        ExportError: ``given`` names a role the log does not have.
    """
    unknown = sorted(set(given) - set(staff.roles))
    if unknown:
        raise ExportError(f"--headcount {unknown[0]}: no such role; the event log's roles are "
                          f"{', '.join(sorted(staff.roles))} (--headcount ROLE=N)")
    warnings = []
    for name, n in sorted(given.items()):
        role = staff.roles[name]
        role.measured, role.headcount = role.headcount, n
        warnings.append(f"headcount given: role {name!r} has {n} (--headcount {name}={n}) "
                        f"where the log shows {role.measured} active in a typical week "
                        f"({role.weekly_active[0]}-{role.weekly_active[1]} a week, "
                        f"{len(role.members)} members in all)")
    return warnings
