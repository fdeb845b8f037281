"""The figures of a flow analysis: per stage, per end, for the process and per role.

:func:`fill_rows` turns the chains of :class:`salessim.analyse.Analysis` into the rows of
its table. Every row names its ``method`` (``flow rule``: an expectation over the chain;
``Little``; ``erlang_c`` / ``allen_cunneen``: a queueing formula; ``calendar approx``: a
calendar stretch) and whether it is ``exact`` for the scenario, i.e. whether a long
simulation in steady state must agree with it.
"""

from __future__ import annotations

import math
from typing import Any

from salessim.ends import WON, is_forward
from salessim.model.calendar import working_calendar
from salessim.model.kinds import kind_of, numeric
from salessim.model.kinds.flow import Context, Piece, Visit
from salessim.scenario.dists import Exponential
from salessim.scenario.schema import TERMINALS
from salessim.teaching.chain import Analysis, routing
from salessim.teaching.kinds import visit
from salessim.teaching.queueing import pooled_wait


def _flags(a: Analysis) -> dict[str, bool]:
    sc = a.scenario
    stages = sc.stages.values()
    return {
        "routing": not any(s.decay or s.score_odds or s.patience or not s.implied.exact
                           for s in stages),
        # queueing formulas hold for every kind's staff work (not for parallel tasks)
        "queues": all(kind_of(s).queue_exact for s in stages),
        # every kind's visit is exact (not a meeting with a capacity)
        "visits": all(v.exact for ch in a.chains for v in ch.fresh),
        "calendar": sc.calendar is not None or any(r.calendar for r in sc.roles.values()),
        "poisson": not any(s.profile for s in sc.sources.values()),
    }


def _pieces_by_role(a: Analysis) -> dict[str, list[tuple[float, Piece]]]:
    """Per role: (requests per lead, piece) of every piece of staff work that holds it."""
    out: dict[str, dict[str, tuple[float, Piece]]] = {r: {} for r in a.scenario.roles}
    for chain in a.chains:
        for i, v in enumerate(chain.fresh):
            for p in v.pieces:
                for role in p.roles:
                    key = f"{p.stage}|{'+'.join(p.roles)}|{p.work.model_dump_json()}"
                    n, _ = out[role].get(key, (0.0, p))
                    out[role][key] = (n + chain.share * chain.visits[i], p)
    return {r: list(d.values()) for r, d in out.items()}


def _role_rows(a: Analysis, rate: float, flags: dict[str, bool]) -> tuple[list, dict, set]:
    sc = a.scenario
    rows, waits, exact_roles = [], {}, set()
    window = sc.horizon - sc.warmup
    pieces = _pieces_by_role(a)
    for rid, role in sc.roles.items():
        items = pieces[rid]
        per_lead = sum(n * p.work.mean for n, p in items)
        # Staff time that does not scale with leads (a meeting's attendees), by the kinds.
        fixed = [kind_of(s).fixed_load(s, rid) for s in sc.stages.values()]
        load = rate * per_lead + sum(fixed)
        share = working_calendar(sc.calendar_of(rid), sc.time_unit).working_time(
            sc.warmup, sc.horizon) / window
        capacity = role.headcount * share
        rho = load / capacity
        util_exact = flags["routing"] and sc.learning is None and rho < 1 and not any(fixed)
        rows += [
            ("role", rid, "offered load (staff busy on average)", load, "staff", "flow rule",
             util_exact, ""),
            ("role", rid, "utilisation", rho, "share", "flow rule", util_exact,
             f"utilisation.{rid}"),
            ("role", rid, "capacity (lead arrival rate at saturation)",
             rate / rho if rho > 0 else math.inf, f"leads per {sc.time_unit}", "flow rule",
             flags["routing"], ""),
        ]
        if not items:
            continue
        stages = {p.stage for _, p in items}
        pooled = (role.assignment == "pool" and not flags["calendar"] and flags["poisson"]
                  and sc.learning is None and all(len(p.roles) == 1 for _, p in items)
                  and all(sc.stages[s].queue == "fifo" and sc.stages[s].patience is None
                          for s in stages))
        if not pooled or rho >= 1:
            continue
        requests = sum(n for n, _ in items)
        mean = per_lead / requests
        m2 = sum(n * numeric.second_moment(p.work) for n, p in items) / requests
        q = pooled_wait(role.headcount, rate * requests, mean, m2 / mean**2 - 1)
        means = {round(p.work.mean, 12) for _, p in items}
        exact = (flags["routing"] and flags["queues"] and len(means) == 1
                 and all(isinstance(p.work, Exponential) for _, p in items))
        if exact:
            exact_roles.add(rid)
        waits[rid] = q.wait
        rows += [
            ("role", rid, "P(wait)", q.p_wait, "share", q.method, exact, ""),
            ("role", rid, "time queued", q.wait, sc.time_unit, q.method, exact, ""),
        ]
    return rows, waits, exact_roles


def _stage_rows(a: Analysis, waited: list[list[Visit]] | None, exact_wait: set[str],
                flow: bool) -> list[tuple[Any, ...]]:
    sc = a.scenario
    rows = []
    unit = sc.time_unit
    ctx = Context(sc, a.waits)
    for sid, stage in sc.stages.items():
        def served(v, state, sid=sid):
            return float(state[0] == sid and not v.skipped)

        arrivals = a.sum(lambda v, s, sid=sid: float(s[0] == sid))
        n = a.sum(served)
        rows.append(("stage", sid, "visits per lead", n, "visits", "flow rule", flow,
                     f"visits_per_lead.{sid}"))
        if stage.only_if is not None:
            rows.append(("stage", sid, "share skipping (only_if)",
                         1 - n / arrivals if arrivals else math.nan, "share", "flow rule",
                         flow, ""))
        if n == 0:
            continue
        fwd = 0.0
        for chain in a.chains:
            on = sum(p for t, p in routing(stage, sc.sources[chain.source], sc.progress).items()
                     if is_forward(t, sc.progress))
            fwd += chain.share * sum(chain.visits[i] * on for i, st in enumerate(chain.states)
                                     if st[0] == sid and not chain.fresh[i].skipped)
        rows.append(("stage", sid, "conversion", fwd / n, "share", "flow rule", flow,
                     f"conversion.{sid}"))
        k = a.sum(lambda v, s, sid=sid: len(v.pieces) if s[0] == sid else 0.0)
        if k > 0:
            work = a.sum(lambda v, s, sid=sid: sum(p.work.mean for p in v.pieces)
                         if s[0] == sid else 0.0)
            rows.append(("stage", sid, "work per piece of staff work", work / k, unit,
                         "flow rule", flow, f"work_mean.{sid}"))
            if waited is not None:
                roles = {r for ch, vs in zip(a.chains, waited, strict=True) for i, v in
                         enumerate(vs) if ch.states[i][0] == sid for p in v.pieces
                         for r in p.roles}
                wq = a.sum(lambda v, s, sid=sid: sum(ctx.wait(p.roles) for p in v.pieces)
                           if s[0] == sid else 0.0)
                rows.append(("stage", sid, "time queued per piece", wq / k, unit,
                             _method(a, roles), roles <= exact_wait, f"wait_mean.{sid}"))
        d = a.sum(lambda v, s, sid=sid: v.delays if s[0] == sid else 0.0)
        if d > 0:
            delay = a.sum(lambda v, s, sid=sid: v.delay if s[0] == sid else 0.0)
            rows.append(("stage", sid, "customer-side time per delay", delay / d, unit,
                         "flow rule", flow, f"delay_mean.{sid}"))
        rows.append(("stage", sid, "time per visit, no queues",
                     a.sum(lambda v, s, sid=sid: v.duration if s[0] == sid else 0.0) / n,
                     unit, "flow rule", False, ""))
        for cut, who in kind_of(stage).value_cuts(stage):  # approval levels
            share = sum(ch.share * sum(ch.visits[i] for i, st in enumerate(ch.states)
                                       if st[0] == sid and ch.value > cut)
                        for ch in a.chains) / n
            rows.append(("stage", sid, f"share above {cut:g} ({who})", share, "share",
                         "flow rule", flow, ""))
    return rows


def _method(a: Analysis, roles: set[str]) -> str:
    t = [r for r in a.rows if r[0] == "role" and r[1] in roles and r[2] == "time queued"]
    methods = {r[5] for r in t}
    return methods.pop() if len(methods) == 1 else "allen_cunneen"


def fill_rows(a: Analysis, rate: float) -> None:
    """Compute every figure of ``a`` into ``a.rows``."""
    sc = a.scenario
    flags = _flags(a)
    flow = flags["routing"]
    unit = sc.time_unit
    role_rows, waits, exact_roles = _role_rows(a, rate, flags)
    a.waits = waits
    a.rows = list(role_rows)
    working = {r for r, items in _pieces_by_role(a).items() if items}
    waited: list[list[Visit]] | None = None
    if working <= set(waits):
        ctx = Context(sc, waits)
        waited = [[visit(sc.stages[s], s, ch.value, last, ctx) for s, last in ch.states]
                  for ch in a.chains]
    a.rows = _stage_rows(a, waited, exact_roles, flow) + a.rows

    ends = {t: sum(ch.share * ch.p_end[i] for ch in a.chains) for i, t in enumerate(TERMINALS)}
    rows = [("end", t, "share of leads", p, "share", "flow rule", flow,
             "close_rate" if t == WON.name else "") for t, p in ends.items()]
    rows.append(("end", WON.name, "win rate", ends[WON.name] / sum(ends.values()), "share",
                 "flow rule", flow, "win_rate"))
    for kind in dict.fromkeys(kind_of(stage) for stage in sc.stages.values()):
        rows += kind.analysis_rows(a, flow)  # a kind's own figures of the process

    def hand(v, s):
        return sum(v.handoffs.values())

    proc = [
        ("hand-offs per lead", a.sum(hand), "hand-offs", ""),
        ("hand-offs per won deal", a.sum(hand, won=True), "hand-offs", "handoffs_mean"),
        ("hand-off time per lead", a.sum(lambda v, s: v.handoff_time), unit, ""),
    ]
    rows += [("process", "all", m, x, u, "flow rule", flow, k) for m, x, u, k in proc]
    share = a.hours_per_day / 24
    no_queue_exact = flow and not working and flags["visits"]
    for label, won in (("won deals", True), ("all leads", False)):
        cycle = a.sum(lambda v, s: v.duration, won=won)
        processing = a.sum(lambda v, s: v.processing, won=won)
        method = "calendar approx" if flags["calendar"] else "flow rule"
        rows += [
            ("process", label, "cycle time, no queues", cycle, unit, method, no_queue_exact,
             ""),
            ("process", label, "processing time", processing, unit, "flow rule", flow, ""),
            ("process", label, "cycle-time efficiency", processing / (cycle * share)
             if cycle > 0 else math.nan, "share", method, False, ""),
        ]
    rows.append(("process", "all", "working hours per day (stated)", a.hours_per_day, "hours",
                 "stated", True, ""))
    if waited is not None:
        exact = flow and flags["queues"] and flags["visits"] and working <= exact_roles
        method = _method(a, working) if working else "flow rule"
        won_cycle = a.sum(lambda v, s: v.duration, won=True, visits=waited)
        every = a.sum(lambda v, s: v.duration, visits=waited)
        rows += [
            ("process", "won deals", "cycle time with queues", won_cycle, unit, method, exact,
             "cycle_time_won_mean"),
            ("process", "all leads", "cycle time with queues", every, unit, method, exact,
             "time_in_process_mean"),
            ("process", "all", "WIP (Little: rate x time in process)", rate * every, "leads",
             method, exact, "wip_mean"),
            ("process", "won deals", "cycle-time efficiency with queues",
             a.sum(lambda v, s: v.processing, won=True) / (won_cycle * share)
             if won_cycle > 0 else math.nan,
             "share", method, False, ""),
        ]
    rows.append(("process", "all", "won per time unit", rate * ends[WON.name],
                 f"won per {unit}", "flow rule", False, "throughput"))
    util = {r[1]: r[3] for r in a.rows if r[0] == "role" and r[2] == "utilisation"}
    if util and max(util.values()) > 0:
        neck = max(util, key=util.__getitem__)
        top = rate / util[neck]
        rows += [
            ("process", neck, "bottleneck (highest utilisation)", util[neck], "share",
             "flow rule", flow, ""),
            ("process", "all", "max lead arrival rate", top, f"leads per {unit}", "flow rule",
             flow, ""),
            ("process", "all", "max throughput (won)", top * ends[WON.name], f"won per {unit}",
             "flow rule", flow, ""),
        ]
    a.rows = [r for r in a.rows if r[0] == "stage"] + rows + \
        [r for r in a.rows if r[0] == "role"]
