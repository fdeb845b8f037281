"""The calibrated scenario as YAML with its provenance in comments, and as JSON evidence.

:func:`scenario_data` builds the scenario as plain data; :func:`scenario_yaml` writes the
same data as YAML whose comments say, for every number, where it came from (n, estimate,
95% CI, test, chosen family and runner-up with their AIC); :func:`check_scenario` loads it
with salessim's own loader, so what is written always validates and runs.
:func:`evidence` is ``calibration.json``: every estimate, interval, fit and assumption.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from salessim.calibrate.estimate import WEEKDAYS, Calibration
from salessim.calibrate.exitwriter import (
    exit_keys,
    exits_evidence,
    odds_lines,
    rewrites,
    stage_lines,
)
from salessim.calibrate.logevidence import log_evidence
from salessim.calibrate.profileyaml import profile_lines
from salessim.calibrate.readers import ExportError
from salessim.calibrate.staff import simulated_dates
from salessim.calibrate.visits import NURTURE
from salessim.ends import LOST, is_end
from salessim.errors import ScenarioError
from salessim.scenario import TERMINALS, Scenario, load_scenario

#: The staff role of a calibrated scenario: the deal owners.
ROLE = "owner"


def _g(x: float, digits: int = 4) -> str:
    return "inf" if math.isinf(x) else "nan" if math.isnan(x) else f"{x:.{digits}g}"


def _flow(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML's flow style


def routes(cal: Calibration, sid: str) -> dict[str, float]:
    """The stage's ``next``: shares rounded to 6 decimals, summing to exactly 1."""
    r = cal.routing.get(sid)
    if r is None or not r.shares:
        return {LOST.name: 1.0}
    shares = {t: round(s, 6) for t, s in sorted(r.shares.items(), key=lambda kv: -kv[1])}
    top = next(iter(shares))
    shares[top] = round(1 - sum(v for t, v in shares.items() if t != top), 6)
    return shares


def stage_delay(cal: Calibration, sid: str) -> dict[str, Any]:
    """The stage's customer-side delay: the chosen fit, less any staff work (``--touch``),
    or, from an event log, less the mean work and wait for staff per visit (the simulation
    makes its own queue)."""
    fit = cal.times[sid].chosen
    spec = fit.spec()
    queue = logged_queue(cal, sid)
    if queue is not None:
        left = fit.mean - queue.work_per_visit - queue.wait_per_visit
        if left <= 0 or fit.mean <= 0:
            return {"dist": "constant", "value": 0}
        return _scaled(spec, left / fit.mean)
    work = cal.touch.get(sid)
    if not work:
        return spec
    if work >= fit.mean:
        raise ExportError(f"--touch {sid}={work:g}: staff work must be shorter than the mean "
                          f"time in stage ({fit.mean:.3g} days)")
    return _scaled(spec, (fit.mean - work) / fit.mean)


def logged_queue(cal: Calibration, sid: str):
    """The event log's staff work in stage ``sid``, when there is some and the stage queues
    for it as it starts (work done on the side, later in the stage, stays in its delay:
    a stage is staff work, then customer-side time)."""
    staff = getattr(cal, "staff", None)
    # A nurture track holds a lost deal and has no staff work of its own (recycle).
    queue = staff.queues.get(sid) if staff is not None and sid != NURTURE else None
    ok = queue is not None and queue.work_per_visit > 0 and queue.in_scenario
    return queue if ok else None


def _scaled(spec: dict[str, Any], factor: float) -> dict[str, Any]:
    if spec["dist"] == "constant":
        spec["value"] = float(f"{spec['value'] * factor:.6g}")
    elif spec["dist"] == "empirical":
        spec["values"] = [float(f"{v * factor:.6g}") for v in spec["values"]]
    elif spec["dist"] == "weibull":
        spec["scale"] = float(f"{spec['scale'] * factor:.6g}")
    else:
        spec["mean"] = float(f"{spec['mean'] * factor:.6g}")
    return spec


def stages_kept(cal: Calibration) -> tuple[list[str], list[str]]:
    """Stages reachable from the entry by the routes seen; the others with a warning."""
    seen, todo = {cal.entry}, [cal.entry]
    while todo:
        for target in routes(cal, todo.pop()):
            if target not in TERMINALS and target not in seen:
                seen.add(target)
                todo.append(target)
    keep = [s for s in cal.times if s in seen]
    keep += sorted(t for t in seen if t not in cal.times)  # targets never seen as a visit
    dropped = [s for s in cal.times if s not in seen]
    return keep, [f"unreachable stage: no deal in the data moved from {cal.entry!r} to "
                  f"{s!r}; left out of the scenario" for s in dropped]


def _period_days(cal: Calibration) -> float:
    """The export's period, ended at an extraction cut when there is one (the back-test
    simulates what the export could show)."""
    win = getattr(cal, "window", None)
    if win is not None and win.cut is not None:
        return (win.end - cal.visits.start).total_seconds() / 86400
    return cal.visits.days


def scenario_data(cal: Calibration, name: str, replications: int = 20, seed: int = 1
                  ) -> dict[str, Any]:
    """The calibrated scenario as plain data (what :func:`scenario_yaml` writes)."""
    keep, _ = stages_kept(cal)
    data: dict[str, Any] = {"name": name, "time_unit": "day",
                            "horizon": max(1, math.ceil(_period_days(cal))),
                            "replications": replications, "seed": seed}
    staff = getattr(cal, "staff", None)
    if staff is not None:
        data["roles"] = {r.name: {"headcount": r.headcount, "calendar": {
            "workdays": r.workdays, "hours": list(r.hours),
            **({"holidays": simulated_dates(r.holidays, cal.visits.start)} if r.holidays
               else {}),
            **({"finish_same_day": True} if r.finish_same_day else {})}}
            for r in staff.roles.values()}
    elif cal.headcount is not None or cal.touch:
        data["roles"] = {ROLE: {"headcount": cal.headcount or 1}}
    sources = {}
    for sid, a in cal.arrivals.items():
        src: dict[str, Any] = {"rate": float(f"{a.rate:.6g}"),
                               "deal_value": cal.values[sid].spec}
        profile = {k: v for k, v in (("weekly", a.weekly), ("monthly", a.monthly),
                                     ("hourly", getattr(a, "hour_profile", None))) if v}
        if a.day_effect is not None and a.dispersion is not None and a.dispersion.rejects:
            profile["day_effect"] = {"shape": float(f"{a.day_effect:.4g}")}
        if profile:
            src["profile"] = profile
        sources[sid] = src
    data["sources"] = sources
    data["entry"] = cal.entry
    stages = {}
    for sid in keep:
        if sid not in cal.times:
            stages[sid] = {"next": {LOST.name: 1.0}}
            continue
        stage: dict[str, Any] = {}
        queue = logged_queue(cal, sid)
        if queue is not None:
            stage["role"] = queue.role
            stage["work"] = ({"dist": "gamma", "mean": float(f"{queue.work_per_visit:.6g}"),
                              "cv": float(f"{queue.work_cv:.4g}")} if queue.work_cv > 0 else
                             {"dist": "exponential",
                              "mean": float(f"{queue.work_per_visit:.6g}")})
        elif sid in cal.touch:
            stage["role"] = ROLE
            stage["work"] = {"dist": "exponential", "mean": cal.touch[sid]}
        delay = stage_delay(cal, sid)
        if delay != {"dist": "constant", "value": 0}:  # no delay at all: the key is left out
            stage["delay"] = delay
            if queue is not None and queue.order == "customer_first":
                stage["order"] = "customer_first"
        if sid == NURTURE:  # lost deals that came back: a nurture track (lead recycling)
            odds = routes(cal, sid)
            back = {t: p for t, p in odds.items() if not is_end(t)}
            rest = max((t for t in odds if is_end(t)), key=odds.__getitem__, default=LOST.name)
            stage["recycle"] = {"back": back, "rest": rest}
        else:
            stage["next"] = routes(cal, sid)
        exit_keys(cal, sid, stage)  # competing exits, a time-out, odds: where the data say
        stages[sid] = stage
    data["stages"] = stages
    return data


def scenario_yaml(cal: Calibration, data: dict[str, Any], origin: str) -> str:
    """``data`` as YAML, every number with its provenance in a comment."""
    v = cal.visits
    lines = [
        f"# Calibrated by salessim calibrate from {origin}",
        f"# {len(v.deals)} deals, {len(v.visits)} stage visits, period {v.start:%Y-%m-%d} to "
        f"{v.as_of:%Y-%m-%d %H:%M} ({v.days:.1f} days); open visits are right-censored.",
        *(f"# Assumed: {a}." for a in cal.assumptions),
        *(f"# Warning: {w}" for w in cal.warnings),
        f"name: {_flow(data['name'])}",
        "time_unit: day",
        f"horizon: {data['horizon']}   # the export's period, for the back-test"
        + (" (to the extraction cut)" if (window := getattr(cal, "window", None)) is not None
           and window.cut is not None else ""),
        f"replications: {data['replications']}",
        f"seed: {data['seed']}",
    ]
    staff = getattr(cal, "staff", None)
    if staff is not None and "roles" in data and ROLE not in data["roles"]:
        lines.append("roles:   # resources clustered by what they do; headcount: median of "
                     "distinct members active per full week; calendar: where work starts and "
                     "completes")
        for rid, role in data["roles"].items():
            r = staff.roles[rid]
            off = ("" if not r.holidays else
                   f"; holidays: the log's {', '.join(r.holidays)} (no one worked), as "
                   "simulated dates: time 0 is the Monday of the log's first week")
            given = ("" if r.measured is None else
                     f"; headcount given by --headcount {rid}={r.headcount}, the log's "
                     f"{r.measured}")
            whole = ("" if not r.finish_same_day else
                     f"; finish_same_day: {r.past_closing[0]} of {r.past_closing[1]} work "
                     "items ran past closing")
            held = ("" if not r.held_while_suspended else
                    f"; suspended work keeps them busy (other work started in "
                    f"{r.suspended[0]} of {r.suspended[1]} suspended spans): counted as work")
            lines.append(f"  {rid}: {_flow(role)}   # {len(r.members)} members, "
                         f"{r.weekly_active[0]}-{r.weekly_active[1]} active a week, "
                         f"availability {_g(r.availability, 2)}{given}{off}{whole}{held}")
    elif "roles" in data:
        months = ", ".join(f"{m}: {n}" for m, n in cal.owners_per_month.items())
        how = getattr(cal, "staffing", None)
        lines += ["roles:", f"  {ROLE}: {_flow(data['roles'][ROLE])}   # "
                  + (how.note if how is not None and how.source != "owners" else
                     f"distinct owners active per month, median of {{{months}}}" if months
                     else "assumed: no owners in the data")]
    lines.append("sources:")
    for sid, src in data["sources"].items():
        a, val = cal.arrivals[sid], cal.values[sid]
        lines.append(f"  {sid}:")
        disp = (f"; {a.dispersion.name} {_g(a.dispersion.statistic)} on {a.dispersion.df} df, "
                f"p = {_g(a.dispersion.p, 2)}" if a.dispersion else "")
        lines.append(f"    rate: {src['rate']}   # leads per day: n = {a.n} in {a.days:.1f} "
                     f"days, 95% CI [{_g(a.low)}, {_g(a.high)}]{disp}")
        lines.append(f"    deal_value: {_flow(src['deal_value'])}   # n = {val.n} amounts, "
                     f"mean {_g(val.mean)}, 95% CI [{_g(val.low)}, {_g(val.high)}]; {val.note}")
        lines += profile_lines(a, src.get("profile", {}))
    lines.append(f"entry: {data['entry']}   # the stage most deals start in")
    lines.append("stages:")
    for sid, stage in data["stages"].items():
        lines.append(f"  {sid}:")
        if sid not in cal.times:
            lines.append("    # never seen as a visit, only as a target: assumed to end lost")
            lines.append("    next: {\"lost\": 1.0}")
            continue
        t = cal.times[sid]
        lines.append(f"    # {t.visits} visits: {t.exits} left, {t.censored} still open "
                     "(censored)")
        best, second = t.chosen, t.runner_up
        runner = (f"; runner-up {second.family} AIC {second.aic:.1f}" if second else "")
        lines.append(f"    # time in stage (days): {best.family} AIC {best.aic:.1f}{runner}; "
                     f"mean {_g(t.mean)}, 95% CI [{_g(t.mean_low)}, {_g(t.mean_high)}]; "
                     f"Kaplan-Meier median {_g(t.median)} [{_g(t.median_low)}, "
                     f"{_g(t.median_high)}]")
        if t.note:
            lines.append(f"    # {t.note}")
        if rewrites(stage):
            lines += stage_lines(cal, sid, stage)
            continue
        queue = logged_queue(cal, sid)
        if queue is not None:
            lines.append(f"    role: {stage['role']}")
            lines.append(f"    work: {_flow(stage['work'])}   # logged work per visit; "
                         f"{queue.items} items waited a median {_g(queue.wait_median * 24)} h "
                         f"(95% CI [{_g(queue.wait_median_ci[0] * 24)}, "
                         f"{_g(queue.wait_median_ci[1] * 24)}]), P90 {_g(queue.wait_p90 * 24)} h")
            lines.append(f"    delay: {_flow(stage['delay'])}   # time in stage less the mean "
                         "work and wait for staff per visit, same shape" if "delay" in stage
                         else "    # no delay: the work and the wait for staff fill the stage")
            if "order" in stage:
                lines.append(f"    order: {stage['order']}   # the log: the customer's side, "
                             f"then the work is ready (median {_g(queue.lag)} days in), waits "
                             "for staff, and the decision follows its completion")
        elif "role" in stage:
            lines.append(f"    role: {ROLE}")
            lines.append(f"    work: {_flow(stage['work'])}   # staff work per visit "
                         "(--touch or logged)")
            lines.append(f"    delay: {_flow(stage['delay'])}   # time in stage less the staff "
                         "work, same shape")
        elif "delay" in stage:
            lines.append(f"    delay: {_flow(stage['delay'])}")
        else:
            lines.append("    # no delay: every visit left at once (below the timestamps' "
                         "resolution)")
        recycle = stage.get("recycle")
        lines += ["    recycle:", "      back:"] if recycle else ["    next:"]
        pad = "  " if recycle else ""
        r = cal.routing.get(sid)
        for target, share in (recycle["back"] if recycle else stage["next"]).items():
            if r is None or not r.shares:
                lines.append(f"{pad}      {target}: {share}   # assumed: the stage is never left")
                continue
            if r.exits == 0:
                lines.append(f"{pad}      {target}: {share}   # prior, not data: {r.prior}")
                continue
            low, high = r.intervals[target]
            lines.append(f"{pad}      {target}: {share}   # {r.counts[target]} of {r.exits} "
                         f"exits, 95% Wilson CI [{low:.3f}, {high:.3f}]")
        if recycle:
            lines.append(f"      rest: {recycle['rest']}   # the deals that did not come back")
        lines += odds_lines(cal, sid, stage)
    return "\n".join(lines) + "\n"


def check_scenario(text: str) -> Scenario:
    """Load the written YAML with salessim's loader; a rejection is the data's fault."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_scenario(path)
        except ScenarioError as exc:
            raise ExportError("the data give a process salessim cannot run: "
                              + "; ".join(f"{p.field}: {p.rule}" for p in exc.problems)) from None


def evidence(cal: Calibration, data: dict[str, Any], origin: str) -> dict[str, Any]:
    """``calibration.json``: every estimate, interval, test, fit and assumption."""
    v = cal.visits

    def test(t):
        return None if t is None else {"test": t.name, "statistic": t.statistic, "df": t.df,
                                       "p": t.p, "rejects_at": t.p < 0.01}

    return {
        "source_file": origin,
        "period": {"start": v.start.isoformat(), "as_of": v.as_of.isoformat(), "days": v.days},
        "deals": len(v.deals), "visits": len(v.visits), "open_visits":
            int(v.visits["exited_at"].isna().sum()),
        "ends": v.ends, "entry": cal.entry,
        "arrivals": {sid: {
            "n": a.n, "days": a.days, "rate": a.rate, "ci": [a.low, a.high],
            "dispersion": test(a.dispersion), "weekly_test": test(a.weekly_test),
            "monthly_test": test(a.monthly_test), "weekly": a.weekly,
            "weekday_rate_ratio": dict(zip(WEEKDAYS, a.weekly_ci or [], strict=False)),
            "monthly": a.monthly, "drift": test(a.drift)} for sid, a in cal.arrivals.items()},
        "routing": {sid: {"exits": r.exits, "open": r.open, "counts": r.counts,
                          "shares": r.shares, "ci": r.intervals,
                          **({"prior": r.prior} if r.prior else {})}
                    for sid, r in cal.routing.items()},
        "stage_times": {sid: {
            "visits": t.visits, "exits": t.exits, "censored": t.censored,
            "mean": t.mean, "mean_ci": [t.mean_low, t.mean_high],
            "median_km": t.median, "median_ci": [t.median_low, t.median_high],
            "chosen": t.chosen.family, "runner_up": t.runner_up and t.runner_up.family,
            "fits": [{"family": f.family, "params": f.params, "loglik": f.loglik,
                      "aic": f.aic, "mean": f.mean, "median": f.median, "spec": f.spec()}
                     for f in t.fits], "note": t.note} for sid, t in cal.times.items()},
        "deal_values": {sid: {"n": x.n, "spec": x.spec, "mean": x.mean, "ci": [x.low, x.high],
                              "note": x.note} for sid, x in cal.values.items()},
        "staff": {"owners_per_month": cal.owners_per_month, "headcount": cal.headcount,
                  "touch": cal.touch, **_staffing(cal)},
        "drift": [{"stage": d.stage, "kind": d.kind, "date": d.date.isoformat(), "p": d.p,
                   "size": d.size} for d in getattr(cal, "drift", [])],
        "exits": exits_evidence(cal),
        "assumptions": cal.assumptions, "warnings": cal.warnings, "scenario": data,
        **log_evidence(cal),
    }


def _staffing(cal: Calibration) -> dict[str, Any]:
    """Where the owner role's headcount came from (owners, given or estimated)."""
    how = getattr(cal, "staffing", None)
    if how is None:
        return {"headcount_source": None}
    out: dict[str, Any] = {"headcount_source": how.source, "headcount_note": how.note}
    if how.source == "estimated":
        out["offered_load"] = how.load
    return out
