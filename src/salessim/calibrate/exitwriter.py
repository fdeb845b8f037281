"""The exits analysis in the calibrated scenario, its YAML comments and calibration.json.

A stage whose form is ``exits`` gets ``exits: {target: {time: Dist}}`` in place of its
``delay`` and ``next``; a time-out found in it is written as ``timeout`` in either form
(with ``next``, the delay and the shares are then those fitted with the time-outs
censored); ``value_odds`` and ``visit_odds`` where their test rejects. A stage with staff
work (a ``role``: ``--touch``, or a queue from an event log) keeps its current form and
gets none of these keys: its time in stage is work and customer-side time together, and
the race of the latent times would be run after the work as well.
"""

from __future__ import annotations

import json
import math
from typing import Any

from salessim.calibrate.estimate import wilson
from salessim.calibrate.exits import ALPHA, DELTA_AIC, StageExits


def _g(x: float, digits: int = 4) -> str:
    return "inf" if math.isinf(x) else "nan" if math.isnan(x) else f"{x:.{digits}g}"


def _flow(value: Any) -> str:
    return json.dumps(value)


def analysis(cal, sid: str) -> StageExits | None:
    """The stage's exits analysis when the scenario uses it (a stage without staff work;
    :func:`exit_keys` records which, from the stage's ``role``)."""
    found = (getattr(cal, "exits", None) or {}).get(sid)
    return None if found is None or found.staffed else found


def _shares(s: StageExits) -> dict[str, float]:
    shares = {t: round(p, 6) for t, p in sorted(s.shares.items(), key=lambda kv: -kv[1])}
    top = next(iter(shares))
    shares[top] = round(1 - sum(v for t, v in shares.items() if t != top), 6)
    return shares


def exit_keys(cal, sid: str, stage: dict[str, Any]) -> None:
    """Put the stage's exits, time-out and odds into its scenario data (in place)."""
    found = (getattr(cal, "exits", None) or {}).get(sid)
    if found is not None:
        found.staffed = "role" in stage
    s = analysis(cal, sid)
    if s is None:
        return
    if s.form == "exits":
        stage.pop("delay", None)
        stage.pop("next", None)
        stage["exits"] = {c: {"time": f.spec} for c, f in s.fits.items()}
    elif s.timeout is not None and s.current is not None:
        stage["delay"] = s.current.chosen.spec()
        stage["next"] = _shares(s)
    if s.timeout is not None:
        stage["timeout"] = {"after": f"{s.timeout.after:.4g} days", "to": s.timeout.to}
    if s.value_odds is not None:
        stage["value_odds"] = s.value_odds
    if s.visit_odds is not None:
        stage["visit_odds"] = s.visit_odds


def rewrites(stage: dict[str, Any]) -> bool:
    """Does the stage's time and routing come from the exits analysis (not the plain fit)?"""
    return "exits" in stage or "timeout" in stage


def stage_lines(cal, sid: str, stage: dict[str, Any]) -> list[str]:
    """YAML lines of a stage that :func:`rewrites`: its time and routing with evidence."""
    s = analysis(cal, sid)
    if s is None:  # the writer rewrites only the stages it analysed
        raise ValueError(f"stage {sid!r} has no exits analysis to write")
    lines = [f"    # {s.visits} visits; form: {s.form}, by the {s.why}"]
    if s.timeout is not None:
        lines.append(f"    # time-out: {s.timeout.words()}; its {s.timeout.count} exits are "
                     "censored at their age in every fit below")
    if "exits" in stage:
        lines.append("    exits:   # each exit's latent time, censored by the other exits, "
                     "the open visits and the time-outs")
        for cause, item in stage["exits"].items():
            f = s.fits[cause]
            t = f.times
            runner = f"; runner-up {t.runner_up.family}" if t.runner_up else ""
            form = (f"{t.chosen.family} AIC {t.chosen.aic:.1f}{runner}" if
                    item["time"]["dist"] != "empirical" else
                    f"empirical (Kaplan-Meier quantiles: {t.chosen.family} is outside the "
                    f"Kaplan-Meier band at {f.misfit:.0%} of the exit ages)")
            lines.append(f"      {cause}: {{\"time\": {_flow(item['time'])}}}   # {f.exits} "
                         f"exits; {form}; median {_g(f.median)} days, 95% CI "
                         f"[{_g(f.median_low)}, {_g(f.median_high)}] ({f.median_from})")
    elif s.current is not None:
        t = s.current
        lines.append(f"    delay: {_flow(stage['delay'])}   # time in stage with the "
                     f"time-outs censored: {t.chosen.family} AIC {t.chosen.aic:.1f}")
        lines.append("    next:   # shares of the exits before the time-out")
        n = sum(s.counts.values())
        for target, share in stage["next"].items():
            low, high = wilson(s.counts[target], n)
            lines.append(f"      {target}: {share}   # {s.counts[target]} of {n} exits, 95% "
                         f"Wilson CI [{low:.3f}, {high:.3f}]")
    if "timeout" in stage:
        lines.append(f"    timeout: {_flow(stage['timeout'])}")
    return lines + odds_lines(cal, sid, stage)


def odds_lines(cal, sid: str, stage: dict[str, Any]) -> list[str]:
    """YAML lines of the stage's value and visit factors, with their tests."""
    s = analysis(cal, sid)
    if s is None:
        return []
    out = []
    tested = sum(x.value is not None for x in cal.exits.values()) or 1
    rule = f"written when p < {ALPHA:g} / {tested} stages tested"
    how = ("odds of moving on, logistic in log2(value / reference)" if s.form == "next" else
           "forward exits' latent times divided by the factor, censored fit")
    if "value_odds" in stage and s.value is not None:
        out.append(f"    value_odds: {_flow(stage['value_odds'])}   # {how}: "
                   f"{s.value.words()}; {rule}")
    elif s.value is not None:
        out.append(f"    # value: no effect shown ({s.value.words()}; {rule})")
    if "visit_odds" in stage and s.visit is not None:
        out.append(f"    visit_odds: {_flow(stage['visit_odds'])}   # second and later visits: "
                   f"{s.visit.words()}; {rule}")
    elif s.visit is not None:
        out.append(f"    # visits: no effect shown ({s.visit.words()}; {rule})")
    return out


def exits_evidence(cal) -> dict[str, Any]:
    """The ``exits`` section of calibration.json: per stage, the form chosen and why, the
    Aalen-Johansen check, time-out, latent-time fits and odds with their tests."""
    found = getattr(cal, "exits", None) or {}
    out = {}
    for sid, s in found.items():
        used = analysis(cal, sid) is not None
        out[sid] = {
            "form": s.form if used else "next",
            "why": s.why if used else "staff work in the stage: its current form is kept",
            "rule": f"exits when its AIC is lower than next's by more than {DELTA_AIC:g}",
            "loglik": s.loglik, "aic": s.aic,
            "aalen_johansen_check": {"max_abs_z": s.check, "bonferroni_bound": s.check_bound},
            "timeout": None if s.timeout is None else {
                "to": s.timeout.to, "after_days": s.timeout.after, "count": s.timeout.count,
                "share_of_exits": s.timeout.share, "expected": s.timeout.expected,
                "p": s.timeout.p, "bins": s.timeout.bins, "window": list(s.timeout.window)},
            "exits": {c: {"exits": f.exits, "spec": f.spec, "family": f.times.chosen.family,
                          "fits": [{"family": x.family, "params": x.params, "aic": x.aic}
                                   for x in f.times.fits],
                          "median": f.median, "median_ci": [f.median_low, f.median_high],
                          "median_from": f.median_from, "misfit": f.misfit}
                      for c, f in s.fits.items()},
            "shares_before_timeout": s.shares,
            "incidence_at_deciles": _deciles(s),
            "value_odds": _factor(s.value, s.reference, s.written.get("value")),
            "visit_odds": _factor(s.visit, None, s.written.get("visit")),
            "odds_rule": f"written when p < {ALPHA:g} / stages tested",
        }
    return out


def _factor(f, reference, written) -> dict[str, Any] | None:
    if f is None:
        return None
    out = {"factor": f.factor, "ci": [f.low, f.high], "lr": f.lr, "p": f.p, "n": f.n,
           "written": bool(written)}
    if reference is not None:
        out["reference"] = reference
    return out


def _deciles(s: StageExits) -> dict[str, Any]:
    inc = s.incidence
    if not len(inc.times):
        return {}
    import numpy as np

    ages = np.quantile(inc.times, np.linspace(0.1, 0.9, 9))
    return {"ages": ages.tolist(), **{c: {"cif": inc.at(c, ages)[0].tolist(),
                                          "se": inc.at(c, ages)[1].tolist()}
                                      for c in inc.causes}}
