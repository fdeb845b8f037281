"""Hires (people who join a role during a run) and the split of a change in wins into
incremental and pulled forward (docs/hires.md)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from conftest import cpu_limit, refused, scenario_of
from salessim import engine
from salessim.api import evolve
from salessim.forecast.hire import hire_value, staffing_change, waiting_losses
from salessim.metrics import staff_cost_of
from salessim.model.hires import Hired
from salessim.scenario.hires import Ramp


def _const(x: float) -> dict:
    return {"dist": "constant", "value": x}


# --- the key ---------------------------------------------------------------------------------


def test_from_reads_a_date_or_a_time(tiny):
    s = tiny(roles={"rep": {"headcount": 1, "hires": [
        {"count": 2, "from": "2026-01-15"}, {"from": "3 days"}, {"from": 1.5}]}})
    at = [h.at("hour") for h in s.roles["rep"].hires]
    assert at == [240.0, 72.0, 1.5]  # time 0 is Monday 5 January 2026; the unit is hours
    assert s.roles["rep"].hires[0].count == 2


@pytest.mark.parametrize("hire, needle", [
    ({"from": "2026-13-01"}, "from is a date like 2026-03-01"),
    ({"from": -1}, "from must be 0 or later"),
    ({"from": 5, "count": 0}, "count"),
    ({"from": 5, "ramp": {"start": 0, "over": 5}}, "ramp.start"),
])
def test_a_bad_hire_is_refused_with_file_line_and_field(tmp_path, capsys, hire, needle):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({
        "horizon": 10, "roles": {"rep": {"headcount": 1, "hires": [hire]}},
        "sources": {"web": {"rate": 1}}, "entry": "call",
        "stages": {"call": {"role": "rep", "work": 1, "next": {"won": 1.0}}}}))
    refused(capsys, ["validate", str(path)], "bad.yaml:", "roles.rep.hires.0", needle)


# --- the model -------------------------------------------------------------------------------


def test_a_hire_at_time_zero_is_one_more_head(tiny):
    """A pool's member who joins at 0 is a member from the start: every KPI is equal."""
    more = tiny(roles={"rep": {"headcount": 2, "cost_per_hour": 10}})
    hired = tiny(roles={"rep": {"headcount": 1, "cost_per_hour": 10, "hires": [{"from": 0}]}})
    a, b = engine.run_replication(more, 0).kpis, engine.run_replication(hired, 0).kpis
    assert a == pytest.approx(b, rel=1e-12, nan_ok=True)


def test_a_huge_headcount_with_hires_costs_no_memory_per_member(tiny):
    """The KPIs of a role of a billion (the largest headcount allowed) and a billion hires
    are computed per group of members, not per member (once a list of a billion)."""
    big = tiny(roles={"rep": {"headcount": 10**9, "cost_per_hour": 10,
                              "hires": [{"from": 5, "count": 10**9}]}})
    with cpu_limit(10):
        assert "utilisation.rep" in engine.kpi_names(big)


def test_a_hire_after_the_horizon_changes_nothing(tiny):
    base = tiny(sources={"web": {"rate": 2.0, "deal_value": 1000}})
    later = evolve(base, {"roles.rep.hires": [{"from": 500}]})
    a, b = engine.run_replication(base, 0), engine.run_replication(later, 0)
    assert a.kpis == pytest.approx(b.kpis, rel=0, abs=0, nan_ok=True)


def test_the_new_member_adds_capacity_from_the_hire_on(tiny):
    """Constant work of 1 a lead at 1.5 leads a day: one member is overloaded, two are not.
    Hired at day 100 of 200, the second member halves the backlog's growth from then."""
    base = tiny(sources={"web": {"rate": 1.5, "deal_value": 1000}},
                stages={"call": {"role": "rep", "work": _const(1.0), "next": {"won": 1.0}}})
    hired = evolve(base, {"roles.rep.hires": [{"from": 100}]})
    b, h = engine.run_replication(base, 0).kpis, engine.run_replication(hired, 0).kpis
    assert b["utilisation.rep"] == pytest.approx(1.0, abs=0.01)
    # Busy all the time, both members from day 100: the utilisation is busy / present time.
    assert h["utilisation.rep"] <= 1.0 + 1e-9
    assert h["won"] > b["won"] + 30  # about 0.5 a day more for 100 days


def test_staff_cost_counts_the_hire_from_its_date(tiny):
    s = tiny(roles={"rep": {"headcount": 2, "cost_per_hour": 10, "hires": [
        {"count": 3, "from": 50}, {"from": 150, "cost_per_hour": 40}]}})
    # Every hour is paid without a calendar (the unit is hours).
    expected = 2 * 10 * 200 + 3 * 10 * 150 + 40 * 50
    assert staff_cost_of(s, 0.0, 200.0) == pytest.approx(expected)
    assert engine.run_replication(s, 0).kpis["staff_cost"] == pytest.approx(expected)


def test_a_pool_ramp_is_the_harmonic_mean_of_the_members():
    hired = Hired(headcount=1, ramping=True)
    hired.joined.append((0.0, Ramp(start=3.0, end=3.0, over=1.0)))
    assert hired.pool_factor(10.0) == pytest.approx(2 / (1 + 1 / 3))
    ramp = Ramp(start=2.0, over=10.0)
    assert [ramp.factor(t) for t in (0.0, 5.0, 10.0, 20.0)] == [2.0, 1.5, 1.0, 1.0]


def test_a_ramping_member_slows_the_pools_work_by_that_factor(tiny):
    """Constant work 0.2; a member who joins at 0 three times slower: every task takes
    0.2 x 2 / (1 + 1/3) = 0.3 (the pool's capacity with the new member slower)."""
    work = {"call": {"role": "rep", "work": _const(0.2), "next": {"won": 1.0}}}
    s = tiny(stages=work, roles={"rep": {"headcount": 1, "hires": [
        {"from": 0, "ramp": {"start": 3, "end": 3, "over": 1}}]}})
    assert engine.run_replication(s, 0).kpis["work_mean.call"] == pytest.approx(0.3)


def test_an_owner_who_joins_takes_deals_and_ramps(tiny):
    work = {"call": {"role": "rep", "work": _const(0.5), "next": {"won": 1.0}}}
    s = tiny(stages=work, sources={"web": {"rate": 1.0, "deal_value": 1000}},
             roles={"rep": {"headcount": 1, "assignment": "owner", "hires": [
                 {"from": 100, "ramp": {"start": 2, "end": 2, "over": 1}}]}})
    k = engine.run_replication(s, 0).kpis
    assert k["utilisation.rep.2"] > 0  # the new member worked, from the hire on
    assert 0.5 < k["work_mean.call"] < 1.0  # the new member's deals took twice as long
    assert set(engine.kpi_names(s)) == set(k)  # the KPIs named before the run


# --- the split -------------------------------------------------------------------------------


def _queue(patience: bool) -> object:
    stage = {"role": "rep", "work": {"dist": "exponential", "mean": 1.0},
             "next": {"won": 0.5, "lost": 0.5}}
    if patience:
        stage["patience"] = {"dist": "exponential", "mean": 2.0}
    return scenario_of({"horizon": 60, "warmup": 10, "replications": 5,
                        "roles": {"rep": {"headcount": 1, "cost_per_hour": 10}},
                        "sources": {"web": {"rate": 1.3, "deal_value": 1000}},
                        "entry": "call", "stages": {"call": stage}})


def test_the_parts_add_up_to_the_change_of_revenue():
    base = _queue(patience=True)
    more = evolve(base, {"roles.rep.hires": [{"from": 20}]})
    value = hire_value(base, more, "more", 4, base.seed)
    plain = [engine.run_replication(s, r).kpis for r in range(4) for s in (base, more)]
    for r, rep in enumerate(value.per_replication):
        assert rep["change.bookings"] == pytest.approx(
            plain[2 * r + 1]["revenue"] - plain[2 * r]["revenue"], abs=1e-6)
        assert rep["change.won"] == plain[2 * r + 1]["won"] - plain[2 * r]["won"]
        assert rep["incremental.won"] + rep["pulled_forward.won"] == rep["change.won"]


def test_without_waiting_losses_or_loops_nothing_is_incremental():
    base = _queue(patience=False)
    more = evolve(base, {"roles.rep.headcount": 2})
    value = hire_value(base, more, "more", 4, base.seed)
    assert waiting_losses(base) == []
    assert [r["incremental.bookings"] for r in value.per_replication] == [0.0] * 4
    assert value.estimates["pulled_forward.won"].mean > 0
    assert "waiting never loses a deal" in "\n".join(value.headline())


def test_with_patience_the_hire_wins_new_business():
    """Leads go cold after about 2 days in a queue a single member cannot keep short: a
    second one saves many of them (the interval of the incremental part is above 0)."""
    base = _queue(patience=True)
    more = evolve(base, {"roles.rep.headcount": 2, "roles.rep.cost_per_hour": 10})
    value = hire_value(base, more, "more", 5, base.seed)
    inc = value.estimates["incremental.won"]
    assert inc.ci_low > 0
    assert waiting_losses(base) == ["patience at call"]
    assert value.cost == pytest.approx(10 * 50)  # one more head over the 50-hour window
    assert "payback" in value.headline()[0]


def test_the_change_in_words(tiny):
    base = tiny()
    assert staffing_change(base, evolve(base, {"roles.rep.headcount": 3})) == "2 more rep"
    hired = evolve(base, {"roles.rep.hires": [{"from": "2026-03-02"}, {"from": "50 hours"}]})
    assert staffing_change(base, hired) == ("one more rep from 2026-03-02, one more rep from "
                                            "2026-01-07")
    assert staffing_change(base, base) == ""


def test_compare_leads_with_the_split_and_its_table():
    import salessim

    base = _queue(patience=True)
    more = evolve(base, {"roles.rep.hires": [{"from": 20}]})
    report = salessim.compare(base, more, replications=3, labels=["base", "more"])
    assert report.summary().splitlines()[0].startswith("one more rep from 2026-01-05 (more): ")
    table = report.hire_table()  # hires.csv (the write itself costs the HTML report)
    assert set(table["part"]) == {"change", "incremental", "pulled_forward"}
    change = table[(table["part"] == "change") & (table["measure"] == "bookings")]["mean"]
    revenue = report.to_frame().set_index("kpi").loc["revenue", "diff"]
    assert float(change.iloc[0]) == pytest.approx(float(revenue))
    assert not salessim.compare(base, more, replications=2, hire_split=False).hires
    assert np.isfinite(table["ci_low"]).all()
    # Money in whole units with separators (no "-917.2" beside "+51,658").
    assert re.fullmatch(r"one more rep from 2026-01-05 \(more\): [-+][\d,]+ \[[-+][\d,]+, "
                        r"[-+][\d,]+\] incremental .*", report.hire_lines()[0]), \
        report.hire_lines()[0]
    # The HTML report's summary leads with the same line, before the redesigns' sentences.
    page = report.html().html
    summary = page.split('id="summary"', 1)[1]
    first = report.hire_lines()[0].strip()
    assert html.escape(first, quote=False) in summary
    assert summary.index(html.escape(first, quote=False)) < summary.index("Each redesign against")


def test_compare_refuses_a_follow_up_that_is_not_a_positive_duration(capsys):
    from pathlib import Path

    tutorial = str(Path(__file__).resolve().parents[1] / "scenarios" / "tutorial.yaml")
    refused(capsys, ["compare", tutorial, tutorial, "--follow-up", "x days"],
            "--follow-up: a duration is a number")
    refused(capsys, ["compare", tutorial, tutorial, "--follow-up", "0 days"],
            "--follow-up must be a positive duration")


def test_an_owner_hired_off_duty_works_office_hours_only():
    """Office hours, a hire on Saturday 10 January: the new owner's deals are worked in
    office hours from Monday 12 January on, as the others' are."""
    office = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]}
    s = scenario_of({
        "horizon": 24 * 14, "calendar": office,
        "roles": {"rep": {"headcount": 1, "assignment": "owner",
                          "hires": [{"from": "2026-01-10"}]}},
        "sources": {"web": {"rate": 0.5, "deal_value": 1000}}, "entry": "call",
        "stages": {"call": {"role": "rep", "work": _const(0.5), "next": {"won": 1.0}}}})
    rep = engine.run_replication(s, 0, event_log=True)
    frame = rep.log.plain_frame()
    started = frame[frame["event"] == "started"]["time"].to_numpy()
    day, hour = started // 24, started % 24
    assert ((day % 7 < 5) & (hour >= 9 - 1e-9) & (hour < 17)).all()
    assert rep.kpis["utilisation.rep.2"] > 0  # the new owner worked from Monday 12 January
