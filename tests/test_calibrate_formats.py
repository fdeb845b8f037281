"""Each input format, from a small hand-made file whose estimates are worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as st

from salessim.calibrate.estimate import calibrate, poisson_interval, wilson
from salessim.calibrate.funnel import calibrate_funnel, period_days
from salessim.calibrate.pipeline import calibrate_visits, read_visits
from salessim.calibrate.readers import detect_format, read_table, slug


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip())
    return path


HISTORY = """
deal_id,stage,entered_at,source,amount,owner
A,Qualify,2026-03-02 00:00,Web,1000,ann
A,Needs Analysis,2026-03-04 00:00,Web,1000,ann
A,Closed Won,2026-03-10 00:00,Web,1200,ann
B,Qualify,2026-03-03 00:00,Web,,bob
B,Closed Lost,2026-03-04 00:00,Web,,bob
C,Qualify,2026-03-05 00:00,Event,3000,ann
C,Needs Analysis,2026-03-06 00:00,Event,3000,ann
"""


def test_ids_are_crm_names_lowercased_with_runs_replaced():
    assert slug("Closed Won") == "closed_won"
    assert slug("Needs Analysis") == "needs_analysis"
    assert slug("Stage 2 -- Demo!") == "stage_2_demo"


def test_stage_history_by_hand(tmp_path):
    visits = read_visits(write(tmp_path, "h.csv", HISTORY))
    # Export date: the latest timestamp; period from midnight of the first creation: 8 days.
    assert visits.as_of == pd.Timestamp("2026-03-10") and visits.days == 8
    cal = calibrate(visits)
    assert cal.entry == "qualify"
    web, event = cal.arrivals["web"], cal.arrivals["event"]
    assert web.rate == 2 / 8 and event.rate == 1 / 8
    assert (web.low, web.high) == pytest.approx(poisson_interval(2, 8))
    assert (web.low * 8, web.high * 8) == pytest.approx((st.chi2.ppf(0.025, 4) / 2,
                                                         st.chi2.ppf(0.975, 6) / 2))
    q = cal.routing["qualify"]
    assert q.counts == {"needs_analysis": 2, "lost": 1} and q.open == 0
    assert q.intervals["lost"] == pytest.approx(wilson(1, 3))
    n = cal.routing["needs_analysis"]
    assert n.counts == {"won": 1} and n.open == 1
    # Qualify: 2, 1 and 1 days, all left: exponential (< 20 exits), mean 4/3, exact CI.
    t = cal.times["qualify"]
    assert t.chosen.family == "exponential" and t.mean == pytest.approx(4 / 3)
    assert t.mean_low == pytest.approx(2 * 4 / st.chi2.ppf(0.975, 6))
    assert t.median == 1.0
    # Needs analysis: one exit after 6 days and one still open after 4: mean (6 + 4) / 1.
    t = cal.times["needs_analysis"]
    assert (t.exits, t.censored) == (1, 1) and t.mean == pytest.approx(10.0)
    # Values: each deal's amount at its end (A: 1200); B has none; few amounts: empirical.
    assert cal.values["web"].spec == {"dist": "empirical", "values": [1200.0]}
    assert cal.values["event"].spec == {"dist": "empirical", "values": [3000.0]}
    assert cal.headcount == 2  # ann and bob in March
    assert any(w.startswith("amounts missing: 33%") for w in cal.warnings)


def test_stage_history_with_exits_and_next_stages(tmp_path):
    text = """
deal_id,stage,entered_at,exited_at,next_stage
X,Lead,2026-01-01,2026-01-03,Closed Lost
Y,Lead,2026-01-02,2026-01-03,Lead
Y,Lead,2026-01-03,,
Z,Lead,2026-01-02,2026-01-07,Closed Won
"""
    visits = read_visits(write(tmp_path, "h.csv", text))
    cal = calibrate(visits)
    assert visits.as_of == pd.Timestamp("2026-01-07")
    assert cal.routing["lead"].counts == {"lost": 1, "lead": 1, "won": 1}
    # Exits after 2, 1 and 5 days, one visit open for 4 days: mean (2 + 1 + 5 + 4) / 3.
    assert cal.times["lead"].mean == pytest.approx(4.0)
    assert set(visits.deals.set_index("deal_id")["outcome"].dropna()) == {"won", "lost"}
    assert cal.arrivals["all"].n == 3


SF_HISTORY = """
OpportunityId,StageName,Amount,Probability,CreatedDate
006A,Prospecting,500,10,2026-02-02T09:00:00Z
006A,Prospecting,700,10,2026-02-03T09:00:00Z
006A,Negotiation,700,60,2026-02-05T09:00:00Z
006A,Signed,800,100,2026-02-09T09:00:00Z
006B,Prospecting,100,10,2026-02-04T09:00:00Z
006B,Closed Lost,100,0,2026-02-06T09:00:00Z
006C,Prospecting,900,10,2026-02-05T09:00:00Z
"""
SF_OPPORTUNITY = """
Id,LeadSource,OwnerId,IsWon,IsClosed,CreatedDate
006A,Web,005X,true,true,2026-02-02T09:00:00Z
006B,Partner,005Y,false,true,2026-02-04T09:00:00Z
006C,Web,005X,false,false,2026-02-05T09:00:00Z
"""


def test_salesforce_opportunity_history_by_hand(tmp_path):
    path = write(tmp_path, "opp_history.csv", SF_HISTORY)
    assert detect_format(read_table(path), str(path)) == "salesforce"
    visits = read_visits(path, opportunities=write(tmp_path, "opp.csv", SF_OPPORTUNITY))
    # "Signed" is won because the Opportunity says IsWon, not because of its name.
    assert visits.ends == {"Signed": "won", "Closed Lost": "lost"}
    cal = calibrate(visits)
    p = cal.routing["prospecting"]
    # The amount-only change on 02-03 is no new visit: prospecting lasted 3 days for 006A.
    assert p.counts == {"negotiation": 1, "lost": 1} and p.open == 1
    assert cal.times["prospecting"].mean == pytest.approx((3 + 2 + 4) / 2)
    assert cal.times["negotiation"].mean == pytest.approx(4.0)
    assert set(cal.arrivals) == {"web", "partner"}
    deals = visits.deals.set_index("deal_id")
    assert deals.loc["006A", "amount"] == 800 and deals.loc["006A", "outcome"] == "won"


HUBSPOT = """
hs_object_id,dealstage,amount,hubspot_owner_id,source,createdate,hs_date_entered_appointmentscheduled,hs_date_exited_appointmentscheduled,hs_date_entered_contractsent,hs_date_exited_contractsent,hs_date_entered_closedwon,hs_date_entered_closedlost
1,closedwon,5000,11,Organic,2026-04-01,2026-04-01,2026-04-03,2026-04-03,2026-04-08,2026-04-08,
2,contractsent,2000,12,Organic,2026-04-02,2026-04-02,2026-04-06,2026-04-06,,,
3,closedlost,1000,11,Paid,2026-04-03,2026-04-03,2026-04-04,,,,2026-04-04
"""


def test_hubspot_deals_export_by_hand(tmp_path):
    path = write(tmp_path, "deals.csv", HUBSPOT)
    assert detect_format(read_table(path), str(path)) == "hubspot"
    visits = read_visits(path)
    assert visits.ends == {"closedwon": "won", "closedlost": "lost"}
    cal = calibrate(visits)
    a = cal.routing["appointmentscheduled"]
    assert a.counts == {"contractsent": 2, "lost": 1}
    assert cal.times["appointmentscheduled"].mean == pytest.approx((2 + 4 + 1) / 3)
    # Deal 2 is still in contract sent at the export date (04-08): open for 2 days.
    c = cal.times["contractsent"]
    assert (c.exits, c.censored) == (1, 1) and c.mean == pytest.approx((5 + 2) / 1)
    assert cal.arrivals["organic"].n == 2 and cal.arrivals["paid"].n == 1


EVENT_LOG = """
case:concept:name,concept:name,time:timestamp,lifecycle:transition,org:resource
c1,Lead,2026-05-04T08:00:00,start,ann
c1,Lead,2026-05-04T10:00:00,complete,ann
c1,Offer,2026-05-05T08:00:00,start,bob
c1,won,2026-05-07T08:00:00,complete,
c2,Lead,2026-05-04T12:00:00,start,ann
c2,lost,2026-05-06T12:00:00,complete,
c3,Lead,2026-05-05T00:00:00,entered,
c3,Lead,2026-05-05T12:00:00,some_new_kind,ann
c3,Lead,2026-05-06T00:00:00,entered,
"""


def test_event_log_by_hand(tmp_path):
    visits = read_visits(write(tmp_path, "log.csv", EVENT_LOG))
    cal = calibrate(visits)
    assert visits.as_of == pd.Timestamp("2026-05-07T08:00")
    # c3 enters Lead twice (a loop onto itself, told apart by the entered events).
    assert cal.routing["lead"].counts == {"offer": 1, "lost": 1, "lead": 1}
    # Lead exits: 1 day (c1), 2 days (c2), 1 day (c3's first visit); open: 1 1/3 days.
    assert cal.times["lead"].mean == pytest.approx((1 + 2 + 1 + 4 / 3) / 3)
    assert cal.times["offer"].mean == pytest.approx(2.0)
    assert list(cal.arrivals) == ["all"]


def test_salessim_event_log_with_replication_in_the_case_id(tmp_path):
    text = """
replication,case:concept:name,concept:name,time:timestamp,lifecycle:transition,org:resource
0,0:web-1,created,2026-01-05T00:00:00,complete,
0,0:web-1,qualify,2026-01-05T00:00:00,start,
0,0:web-1,qualify,2026-01-06T00:00:00,skipped,
0,0:web-1,won,2026-01-07T00:00:00,complete,
0,0:fair-1,created,2026-01-05T06:00:00,complete,
0,0:fair-1,qualify,2026-01-05T06:00:00,start,
"""
    cal = calibrate(read_visits(write(tmp_path, "log.csv", text)))
    assert set(cal.arrivals) == {"web", "fair"}
    assert cal.routing["qualify"].counts == {"won": 1}
    assert cal.times["qualify"].mean == pytest.approx(2 + 1.75)


def test_map_renames_columns(tmp_path):
    text = HISTORY.replace("deal_id,stage,entered_at", "Deal,Phase,Since")
    visits = read_visits(write(tmp_path, "h.csv", text),
                         mapping=["Deal=deal_id", "Phase=stage", "Since=entered_at"])
    assert len(visits.deals) == 3


def test_touch_takes_staff_work_out_of_the_delay(tmp_path):
    text = "deal_id,stage,entered_at,owner\n" + "\n".join(
        f"D{i},Demo,2026-01-{1 + i % 20:02d}T00:00:00,o{i % 3}\n"
        f"D{i},Closed Won,2026-01-{1 + i % 20:02d}T{6 + i % 12:02d}:00:00,o{i % 3}"
        for i in range(30))
    visits = read_visits(write(tmp_path, "h.csv", text))
    plain = calibrate_visits(visits, "h.csv", run_backtest=False, report=False)
    touched = calibrate_visits(visits, "h.csv", {"demo": 0.1}, run_backtest=False, report=False)
    stage = touched.scenario.stages["demo"]
    assert stage.role == "owner" and stage.work.mean == pytest.approx(0.1)
    assert stage.delay.mean == pytest.approx(plain.scenario.stages["demo"].delay.mean - 0.1,
                                             rel=1e-4)
    assert touched.scenario.roles["owner"].headcount == 3


FUNNEL = """
stage,count,target
Lead,1000,45%
MQL,400,
SQL,150,0.25
Closed Won,30,
"""


def test_funnel_by_hand(tmp_path):
    assert period_days("1 year") == 365.25 and period_days("6 months") == 182.625
    result = calibrate_funnel(write(tmp_path, "f.csv", FUNNEL), "1 year")
    e = result.evidence
    assert e["arrivals"]["rate"] == 1000 / 365.25
    assert e["routing"]["lead"]["mql"] == 0.4 and e["routing"]["sql"]["won"] == 0.2
    assert "stage_times" in e["not_estimated"]
    out = result.write(tmp_path / "out")
    from salessim.scenario import load_scenario

    scenario = load_scenario(out[-1])
    assert scenario.stages["mql"].next == {"sql": 0.375, "lost": 0.625}
    assert scenario.stages["lead"].target == 0.45 and scenario.stages["sql"].target == 0.25
    assert scenario.stages["mql"].target is None
    assert math.isclose(scenario.sources["funnel"].rate, 1000 / 365.25, rel_tol=1e-5)


DOC = Path(__file__).resolve().parents[1] / "docs" / "calibration.md"


@pytest.mark.slow  # long: handed out first
def test_docs_blocks_run(tmp_path, monkeypatch, capsys):
    import re
    import shlex

    from salessim.cli import main

    monkeypatch.chdir(DOC.parents[1])
    text = DOC.read_text(encoding="utf-8")
    for code in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(code, "docs/calibration.md", "exec"), {})
    lines = [line for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
             for line in block.splitlines() if line.startswith("salessim ")]
    assert lines
    for line in lines:
        args = [a.replace("out/", f"{tmp_path}/") for a in shlex.split(line)[1:]]
        assert main(args) == 0, line
    assert (tmp_path / "crm-holdout" / "scenario.yaml").is_file()


def test_shipped_sample_is_what_its_script_generates():
    import importlib.util

    script = DOC.parents[1] / "examples" / "crm" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = (script.parent / "stage_history.csv").read_text(encoding="utf-8")
    assert module.sample().to_csv(index=False) == shipped


def test_parquet_and_time_zones_read_like_csv(tmp_path):
    csv = read_visits(write(tmp_path, "h.csv", HISTORY))
    frame = pd.read_csv(tmp_path / "h.csv")
    frame["entered_at"] = pd.to_datetime(frame["entered_at"])
    frame.to_parquet(tmp_path / "h.parquet")
    parquet = read_visits(tmp_path / "h.parquet")
    pd.testing.assert_frame_equal(parquet.visits, csv.visits, check_dtype=False)
    # The same instants written in another zone are the same UTC times.
    shifted = HISTORY.replace("2026-03-02 00:00", "2026-03-02T01:00:00+01:00")
    zoned = read_visits(write(tmp_path, "z.csv", shifted))
    assert zoned.visits["entered_at"].min() == pd.Timestamp("2026-03-02")


def test_open_deals_with_their_stage_and_age(tmp_path):
    visits = read_visits(write(tmp_path, "h.csv", HISTORY))
    open_now = visits.open_deals()
    assert list(open_now["deal_id"]) == ["C"] and open_now["stage"].iloc[0] == "Needs Analysis"
    assert open_now["age"].iloc[0] == 4.0
    # As known on 03-05: A was in Needs Analysis for a day, C had just entered Qualify.
    earlier = visits.open_deals(pd.Timestamp("2026-03-05"))
    assert dict(zip(earlier["deal_id"], earlier["age"], strict=True)) == {"A": 1.0, "C": 0.0}


def test_logged_activity_time_sets_staff_work(tmp_path):
    text = "deal_id,stage,entered_at,owner,touch_hours\n" + "\n".join(
        f"D{i},Demo,2026-01-{1 + i % 20:02d}T00:00:00,o{i % 3},{1 + i % 3}\n"
        f"D{i},Closed Won,2026-01-{1 + i % 20:02d}T{6 + i % 12:02d}:00:00,o{i % 3},"
        for i in range(30))
    result = calibrate_visits(read_visits(write(tmp_path, "h.csv", text)), "h.csv",
                              run_backtest=False, report=False)
    # Logged 1, 2 and 3 hours in equal shares: a mean of 2 hours of staff work per visit.
    assert result.scenario.stages["demo"].work.mean == pytest.approx(2 / 24)
    assert any("logged activity time" in a for a in result.calibration.assumptions)


def test_backtest_turns_profiles_to_the_export_start():
    from salessim.calibrate.backtest import aligned
    from salessim.scenario import load_scenario

    truth = load_scenario(Path(__file__).parent / "data" / "calibration_truth.yaml")
    turned = aligned(truth, pd.Timestamp("2026-03-07"))  # a Saturday
    assert turned.sources["partner"].profile.weekly == [0.25, 0.25, 1.3, 1.3, 1.3, 1.3, 1.3]
    assert aligned(truth, pd.Timestamp("2026-01-05")) == truth
