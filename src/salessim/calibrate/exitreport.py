"""The report's section on exits: the form per stage and why, time-outs, odds, and each
exit's cumulative incidence (Aalen-Johansen, with its band) against what each form implies."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from salessim.calibrate.exits import ALPHA, DELTA_AIC, exits_cif, next_cif
from salessim.calibrate.exitwriter import analysis


def incidence_figure(cal, figure) -> Figure | None:
    """One panel per stage with competing exits: each exit's Aalen-Johansen incidence and
    95% band (steps), the exits form's (solid) and the current form's (dashed) curves."""
    found = getattr(cal, "exits", None) or {}
    if not found:
        return None
    fig: Figure = figure(8, 2.6 * len(found))
    axes = fig.subplots(len(found), 1, squeeze=False)[:, 0]
    for ax, (sid, s) in zip(axes, found.items(), strict=True):
        inc = s.incidence
        if not len(inc.times):
            continue
        top = float(np.quantile(inc.times, 0.98))
        if s.timeout is not None:  # show the jump and what follows it
            top = max(top, s.timeout.after * 1.15)
        ages = np.linspace(0, top, 300)
        exits = exits_cif({c: f.spec for c, f in s.fits.items()}, s.timeout)
        nxt = next_cif(s.current.chosen, s.shares, s.timeout)
        for i, cause in enumerate(inc.causes):
            colour = f"C{i}"
            low, high = inc.band(cause, ages)
            ax.step(ages, inc.at(cause, ages)[0], where="post", color=colour, lw=1,
                    label=f"{cause} (data)")
            ax.fill_between(ages, low, high, step="post", color=colour, alpha=0.2, lw=0)
            if cause in s.fits:
                ax.plot(ages, exits(cause, ages), color=colour, lw=1.5, label=f"{cause} exits")
            ax.plot(ages, nxt(cause, ages), color=colour, lw=1, ls="--",
                    label=f"{cause} next")
        ax.set_title(f"{sid}: cumulative incidence by exit (form written: {s.form})",
                     fontsize=9)
        ax.set_xlabel("age in stage (days)")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, ncol=3)
    return fig


def exits_part(cal, table) -> list[str]:
    """The HTML of the section (tables built with the report's ``table``)."""
    found = getattr(cal, "exits", None) or {}
    if not found:
        return []
    rows, causes, odds = [], [], []
    for sid, s in found.items():
        used = analysis(cal, sid) is not None
        to = s.timeout
        rows.append([sid, s.form if used else "next (staff work)", s.aic["next"], s.aic["exits"],
                     s.check["next"], s.check["exits"], s.check_bound,
                     "" if to is None else f"{to.after:.4g} days to {to.to}",
                     "" if to is None else f"{to.count} ({to.share:.0%}), p = {to.p:.2g}"])
        for c, f in s.fits.items():
            causes.append([sid, c, f.exits, f.spec["dist"], f.times.chosen.aic,
                           f.times.runner_up.family if f.times.runner_up else "", f.median,
                           f.median_low, f.median_high, f.median_from])
        for name, factor in (("value (per doubling)", s.value), ("second visit", s.visit)):
            if factor is not None:
                key = "value" if factor is s.value else "visit"
                odds.append([sid, name, factor.factor, factor.low, factor.high, factor.lr,
                             factor.p, "yes" if s.written.get(key) and used else "no"])
    tested = sum(s.value is not None for s in found.values()) or 1
    return [
        "<h2>Exits: competing risks, time-outs and odds that depend on the deal</h2>",
        "<p>Per stage, the current form (one time in stage, then shares) against the exits "
        "form (a latent time per exit, the first decides), by the AIC of the joint likelihood "
        f"of (time, exit); exits is written when lower by more than {DELTA_AIC:g}. The check: "
        "each form's implied cumulative incidence against the Aalen-Johansen estimate at the "
        "deciles of the exit ages, as the largest |z| (a form passes below the Bonferroni "
        "bound).</p>",
        table(["stage", "form", "AIC next", "AIC exits", "|z| next", "|z| exits", "bound",
               "time-out", "time-out exits"], rows),
        "<h3>Latent time of each exit (censored by the other exits, open visits and "
        "time-outs)</h3>",
        table(["stage", "exit", "exits", "written as", "AIC", "runner-up", "median",
               "95% low", "95% high", "median from"], causes),
        "<h3>Odds that depend on the deal</h3>",
        f"<p>Likelihood-ratio tests; a factor is written when p &lt; {ALPHA:g} / {tested} "
        "(the stages tested).</p>" if odds else "<p>No stage has both forward and other "
        "exits with deal values.</p>",
        *([table(["stage", "factor", "estimate", "95% low", "95% high", "LR", "p", "written"],
                 odds)] if odds else []),
    ]
