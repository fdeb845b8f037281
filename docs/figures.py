"""Rerun every figure quoted in README.md and docs/*.md, so none can silently go stale.

A quoted figure sits between two markers in the Markdown, ``<!-- fig:NAME -->`` and
``<!-- /fig:NAME -->`` (invisible when rendered); this script recomputes the text between
them from fresh runs. ``python docs/figures.py`` (or ``--check``) reports every figure
that differs, with exit status 1 if any; ``--write`` rewrites them (and the demo's forest
plot, docs/img/comparing_forest.png); ``--cheap`` limits it to the quick figures and those
of the demo's comparison (one run of ``make demo``'s scenarios, shared), which the test
suite checks on every run (tests/test_docs.py), so the README's demo excerpt cannot go
stale. ``make docs`` runs ``--write`` for all of them.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCENARIOS = ROOT / "scenarios"
FOREST_PNG = ROOT / "docs" / "img" / "comparing_forest.png"
MARKER = re.compile(r"<!-- fig:(?P<name>[a-z0-9-]+) -->(?P<body>.*?)<!-- /fig:(?P=name) -->",
                    re.S)
#: The seed of the independent-streams runs of the CRN table (the baseline's is 2026).
INDEPENDENT_SEED = 2027

#: Replications of the handbook funnel's quoted conversions (kept small: the tests rerun it).
HANDBOOK_REPLICATIONS = 10

#: name -> (function returning the text, cheap enough for the test suite).
FIGURES: dict[str, tuple[Callable[[], str], bool]] = {}


def figure(name: str, cheap: bool = False):
    """Register a function as the source of the figure ``name``."""
    def register(fn: Callable[[], str]) -> Callable[[], str]:
        FIGURES[name] = (fn, cheap)
        return fn
    return register


# --- runs, each done once per invocation -----------------------------------------------------


@functools.cache
def comparison(baseline: str, *redesigns: str):
    """A comparison of scenario files (relative to scenarios/) at their own replications."""
    from salessim import compare
    from salessim.experiments.executors import make_executor, ordered_map

    base, runs = compare.load_runs(SCENARIOS / baseline, [SCENARIOS / r for r in redesigns])
    with make_executor(None) as executor:
        return compare.compare(base, runs, mapper=ordered_map(executor))


def demo():
    """The comparison of ``make demo``."""
    files = sorted(p.name for p in (SCENARIOS / "redesigns").glob("*.yaml"))
    return comparison("b2b_baseline.yaml", *(f"redesigns/{f}" for f in files))


def row(c, label: str, kpi: str):
    t = c.table
    return t[(t["scenario"] == label) & (t["kpi"] == kpi)].iloc[0]


def pct(value: float, signed: bool = True) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{100 * value + 0.0:+.1f}%" if signed else f"{abs(100 * value):.1f}%"


def change_ci(c, label: str, kpi: str) -> str:
    """``+8.0%, CI +7.0% to +8.9%``."""
    r = row(c, label, kpi)
    return f"{pct(r['rel_change'])}, CI {pct(r['rel_ci_low'])} to {pct(r['rel_ci_high'])}"


def from_to(c, label: str, kpi: str) -> str:
    from salessim import kpis

    r = row(c, label, kpi)
    unit = c.baseline.scenario.time_unit
    return (f"from {kpis.format_value(kpi, r['baseline_mean'], unit)} to "
            f"{kpis.format_value(kpi, r['mean'], unit)}")


# --- the README ------------------------------------------------------------------------------


@figure("kpi-table", cheap=True)
def kpi_table() -> str:
    from salessim import kpis

    return "\n" + kpis.markdown_table() + "\n"


@figure("handbook-conversions", cheap=True)
def handbook_conversions() -> str:
    from salessim import diagnose, engine
    from salessim.scenario import load_scenario

    scenario = load_scenario(SCENARIOS / "handbook_funnel.yaml")
    fun = diagnose.funnel(engine.run(scenario, HANDBOOK_REPLICATIONS))
    shares = " / ".join(f"{100 * v:.0f}" for v in fun["conversion"])
    return f"{shares}% over {HANDBOOK_REPLICATIONS} replications"


@figure("forecast-sample")
def forecast_sample() -> str:
    """The README's forecast of the shipped sample, at the default replications."""
    import numpy as np

    from salessim.console import format_number as fmt
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.forecast import (
        DEFAULT_REPLICATIONS,
        paired,
        parse_date,
        read_pipeline,
        run_forecast,
    )
    from salessim.forecast.hire import hire_value
    from salessim.scenario import load_scenario

    crm = ROOT / "examples" / "crm"
    base = load_scenario(crm / "calibrated.yaml")
    more = load_scenario(crm / "one_more_owner.yaml")
    snap = read_pipeline(crm / "stage_history.csv", base)
    until = parse_date("2026-09-30", "--until")
    with make_executor(None) as executor:
        runs = [run_forecast(s, snap, until, DEFAULT_REPLICATIONS, seed=base.seed,
                             mapper=ordered_map(executor)) for s in (base, more)]
    b = runs[0].bookings
    p10, p50, p90 = (fmt(float(x)) for x in np.quantile(b, [0.1, 0.5, 0.9]))
    p, low, high = runs[0].quota(1_800_000)
    gains = paired(*runs, kpis=("bookings",)).set_index("kpi")
    gain = gains.loc["bookings"]
    with make_executor(None) as executor:  # the same replications again, with event logs
        split = hire_value(runs[0].scenario, runs[1].scenario, "one more owner",
                           DEFAULT_REPLICATIONS, base.seed, window=(0.0, runs[0].scenario.horizon),
                           cohort=False, mapper=ordered_map(executor)).estimates
    inc, pull = split["incremental.bookings"], split["pulled_forward.bookings"]
    from_open = np.median(runs[0].totals["bookings_from_open"])
    return (f"bookings to 30 September P10 {p10}, P50 {p50}, P90 {p90} (the chance to reach "
            f"1,800,000 is {p:.1%}, 95% CI {low:.1%} to {high:.1%}); the weighted pipeline of the "
            f"open deals is {fmt(runs[0].weighted_pipeline)} against a simulated P50 of "
            f"{fmt(float(from_open))} from them; one more owner books "
            f"{fmt(gain['difference'])} more (95% CI {fmt(gain['ci_low'])} to "
            f"{fmt(gain['ci_high'])}) on the same random numbers: {fmt(inc.mean)} incremental "
            f"(95% CI {fmt(inc.ci_low)} to {fmt(inc.ci_high)}) and {fmt(pull.mean)} pulled "
            f"forward (95% CI {fmt(pull.ci_low)} to {fmt(pull.ci_high)})")


@figure("demo-excerpt", cheap=True)
def demo_excerpt() -> str:
    from salessim.reports.tables import comparison_frame, frame_text, verdicts_frame

    c = demo()
    frame = comparison_frame(c, ["won", "cycle_time_won_median", "selling_cost"])
    part = frame[frame["redesign"] == "electronic_contracts"].drop(
        columns=["redesign", "target", "verdict"])
    verdicts = verdicts_frame(c)
    verdicts = verdicts[verdicts["redesign"].isin(["combined", "crm_automation"])]
    return ("\n```text\nelectronic_contracts: B2B software - electronic contracts\n"
            f"{frame_text(part)}\n\n{frame_text(verdicts)}\n```\n")


def _walk(baseline: str, redesign: str):
    c = comparison(baseline, redesign)
    return c, c.redesigns[0].label


@figure("walk-speed")
def walk_speed() -> str:
    c, r = _walk("speed_to_lead.yaml", "speed_to_lead_extended_hours.yaml")
    return (f"On {c.replications} replications the share of leads called within an hour "
            f"goes {from_to(c, r, 'contacted_within_share')}, deals won "
            f"{from_to(c, r, 'won')} ({change_ci(c, r, 'won')}) and cost per win changes by "
            f"{pct(row(c, r, 'cost_per_win')['rel_change'])}, for "
            f"{pct(row(c, r, 'selling_cost')['rel_change'], False)} more selling cost.")


@figure("walk-role")
def walk_role() -> str:
    c, r = _walk("role_based.yaml", "role_based_pooled.yaml")
    x = row(c, r, "cycle_time_won_median")
    settle = x["replications_to_settle"]
    tail = (f", and the report says about {int(settle)} replications would settle it"
            if x["verdict"] == "unsure" and math.isfinite(settle) else "")
    return (f"changes the median cycle time by {change_ci(c, r, 'cycle_time_won_median')}: "
            f"the target of {x['target']} is \"{x['verdict']}\"{tail}.")


SALES_KPIS = ("leads", "won", "lost", "win_rate", "cycle_time_won_median", "revenue")


@figure("walk-o2c")
def walk_o2c() -> str:
    c, r = _walk("order_to_cash.yaml", "order_to_cash_e_invoicing.yaml")
    zero = all(row(c, r, k)["diff"] == 0 and row(c, r, k)["diff_ci_high"] == 0
               for k in SALES_KPIS)
    sales = ("every sales KPI differs by exactly zero: common random numbers" if zero else
             "the sales KPIs differ slightly")
    return (f"leaves sales untouched ({sales}) and changes DSO {from_to(c, r, 'dso')} "
            f"({pct(row(c, r, 'dso')['rel_change'])}) and bad debt by "
            f"{pct(row(c, r, 'bad_debt')['rel_change'])}, with the utilisation of finance "
            f"{pct(row(c, r, 'utilisation.finance')['rel_change'])}.")


@figure("walk-quarter")
def walk_quarter() -> str:
    c, r = _walk("quarter_end.yaml", "quarter_end_new_crm.yaml")
    return (f"in month 2 the mean cycle time of won deals changes by "
            f"{change_ci(c, r, 'cycle_time_won_mean_by_period.2')}, in month 4 by "
            f"{change_ci(c, r, 'cycle_time_won_mean_by_period.4')}, and over the year the "
            f"median by {change_ci(c, r, 'cycle_time_won_median')}.")


@figure("walk-saas")
def walk_saas() -> str:
    c, r = _walk("saas_renewals.yaml", "saas_renewals_csm_program.yaml")
    x = row(c, r, "net_revenue_retention")
    return (f"lift net revenue retention from {x['baseline_mean']:.2f} to {x['mean']:.2f} "
            f"({change_ci(c, r, 'net_revenue_retention')}), and with it the CLV per channel, "
            f"for {pct(row(c, r, 'selling_cost')['rel_change'], False)} more selling cost.")


# --- docs/comparing.md -----------------------------------------------------------------------


@figure("comparing-excerpt", cheap=True)
def comparing_excerpt() -> str:
    from salessim.reports.tables import comparison_frame, frame_text, verdicts_frame

    c = demo()
    kpis = ["won", "went_cold", "cycle_time_won_median", "wip_mean", "revenue", "selling_cost"]
    frame = comparison_frame(c, kpis)
    part = frame[frame["redesign"] == "electronic_contracts"].drop(
        columns=["redesign", "target", "verdict"])
    return ("\n```text\nelectronic_contracts: B2B software - electronic contracts\n"
            f"{frame_text(part)}\n\n{c.significance_note()}\n\n"
            "Targets (met: the whole CI satisfies it; missed: the whole CI fails it; unsure: "
            f"the CI straddles it)\n{frame_text(verdicts_frame(c))}\n```\n")


@figure("comparing-reading", cheap=True)
def comparing_reading() -> str:
    c = demo()
    e, k = "electronic_contracts", "combined"
    rev = row(c, e, "revenue")
    revenue = ("is significant after Holm's adjustment" if rev["significant"] else
               f"is not yet distinguishable from zero with {c.replications} replications")
    verdicts: dict[str, list[str]] = {}
    for kpi in c.redesigns[[r.label for r in c.redesigns].index(k)].targets:
        verdicts.setdefault(row(c, k, kpi)["verdict"], []).append(kpi)
    said = "; ".join(f"{v}: {', '.join(f'`{n}`' for n in names)}"
                     for v, names in sorted(verdicts.items()))
    return (f"Electronic contracts change the median cycle time of won deals by "
            f"{change_ci(c, e, 'cycle_time_won_median')} and deals won by "
            f"{change_ci(c, e, 'won')}; the change in revenue ({change_ci(c, e, 'revenue')}) "
            f"{revenue}. The combined redesign's targets read {said}; it costs "
            f"{pct(row(c, k, 'selling_cost')['rel_change'], False)} more, since it adds two "
            "people.")


@figure("crn-table")
def crn_table() -> str:
    from salessim import kpis
    from salessim.compare import crn_variance_reduction
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.scenario import load_scenario

    base = load_scenario(SCENARIOS / "b2b_baseline.yaml")
    names = ["won", "win_rate", "cycle_time_won_mean", "cycle_time_won_median", "wip_mean",
             "revenue"]
    with make_executor(None) as executor:
        tables = [crn_variance_reduction(
            base, load_scenario(SCENARIOS / "redesigns" / f), names, base.replications,
            base.seed, INDEPENDENT_SEED, mapper=ordered_map(executor)).set_index("kpi")
            for f in ("electronic_contracts.yaml", "one_more_se.yaml")]
    lines = [f"\nThe same redesign run on the baseline's seed ({base.seed}, CRN) and on seed "
             f"{INDEPENDENT_SEED} (independent streams), B2B baseline, {base.replications} "
             "replications, half-width of the 95% interval of the difference "
             "(`salessim.compare.crn_variance_reduction`):\n",
             "| KPI | electronic contracts: CRN | independent | narrower by | "
             "one more SE: narrower by |", "|---|---|---|---|---|"]
    def width(name: str, value: float) -> str:
        if kpis.unit(name) == "share":  # half-widths of shares are small: in points
            return f"{100 * value:.2f} pts"
        return kpis.format_value(name, value, base.time_unit)

    for name in names:
        e, s = tables[0].loc[name], tables[1].loc[name]
        lines.append(f"| {name} | {width(name, e['half_width_crn'])} | "
                     f"{width(name, e['half_width_independent'])} | "
                     f"{e['ratio']:.1f}x | {s['ratio']:.1f}x |")
    return "\n".join(lines) + "\n"


def write_forest() -> None:
    """The demo's forest plot, docs/img/comparing_forest.png."""
    from salessim.compare import headline_kpis
    from salessim.reports import figures

    c = demo()
    FOREST_PNG.write_bytes(figures.png_bytes(figures.forest_figure(c, headline_kpis(c))))


# --- the script ------------------------------------------------------------------------------


def quoted() -> dict[str, tuple[Path, str]]:
    """Every figure the documents quote: name -> (document, current text)."""
    out = {}
    for doc in DOCUMENTS:
        for m in MARKER.finditer(doc.read_text(encoding="utf-8")):
            out[m.group("name")] = (doc, m.group("body"))
    return out


def check(names: list[str]) -> list[str]:
    """The names among ``names`` whose quoted text differs from a fresh computation."""
    found = quoted()
    return [n for n in names if FIGURES[n][0]() != found[n][1]]


def write(names: list[str]) -> None:
    """Rewrite the quoted text of ``names`` in place."""
    fresh = {n: FIGURES[n][0]() for n in names}
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        new = MARKER.sub(lambda m: (
            f"<!-- fig:{m['name']} -->{fresh[m['name']]}<!-- /fig:{m['name']} -->"
            if m["name"] in fresh else m.group(0)), text)
        if new != text:
            doc.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the documents")
    parser.add_argument("--check", action="store_true",
                        help="report stale figures, exit status 1 if any (the default)")
    parser.add_argument("--cheap", action="store_true",
                        help="only the figures the test suite checks (the demo's and the "
                             "quick ones)")
    parser.add_argument("names", nargs="*", help="figures to rerun (default: all)")
    args = parser.parse_args(argv)
    names = args.names or [n for n, (_, cheap) in FIGURES.items() if cheap or not args.cheap]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {unknown[0]!r}; figures: {', '.join(FIGURES)}")
    if args.write:
        write(names)
        if not args.cheap and not args.names:
            write_forest()
        print(f"rewrote {len(names)} figure(s)")
        return 0
    stale = check(names)
    for n in stale:
        print(f"stale: {n} ({quoted()[n][0].relative_to(ROOT)})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
