"""Event logs: XES reading, life cycles, stage maps, and recovery of a known process."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests import loggen

from salessim.calibrate.durations import NONE, fit_stage
from salessim.calibrate.estimate import wilson
from salessim.calibrate.lifecycle import pair, resolution
from salessim.calibrate.pipeline import calibrate_file, read_history
from salessim.calibrate.readers import ExportError, read_table
from salessim.calibrate.stagemap import load_stage_map
from salessim.calibrate.xes import read_xes
from salessim.cli import main
from salessim.errors import ScenarioError

XES = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
<trace><string key="concept:name" value="c1"/><float key="AMOUNT" value="2500.5"/>
 <event><string key="concept:name" value="Submit"/><date key="time:timestamp"
   value="2025-03-01T23:30:00+02:00"/></event>
 <event><string key="concept:name" value="Check"/><string key="lifecycle:transition"
   value="START"/><string key="org:resource" value="ann"/><int key="prio" value="3"/>
   <boolean key="urgent" value="true"/>
   <date key="time:timestamp" value="2025-03-02T09:00:00+02:00"/></event>
 <event><string key="concept:name" value="Check"/><string key="lifecycle:transition"
   value="COMPLETE"/><list key="skipped"><string key="x" value="y"/></list>
   <date key="time:timestamp" value="2025-03-02T09:30:00+02:00"/></event>
</trace>
</log>
"""


def _write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_xes_plain_and_gzipped_give_the_same_typed_events(tmp_path):
    plain = read_xes(_write(tmp_path / "a.xes", XES))
    packed = read_xes(_write(tmp_path / "a.dat", XES, gz=True))  # by content, not by name
    pd.testing.assert_frame_equal(plain, packed)
    assert list(plain["activity"].astype(str)) == ["Submit", "Check", "Check"]
    assert plain["lifecycle"].isna().iloc[0]
    assert plain["lifecycle"].iloc[1:].tolist() == ["start", "complete"]
    assert plain["case:AMOUNT"].tolist() == [2500.5] * 3
    assert plain["prio"].tolist()[1] == 3.0 and plain["urgent"].tolist()[1] is True
    assert "skipped" not in plain.columns  # a list attribute is skipped
    # Local wall-clock time by default: 23:30 on Saturday stays Saturday 23:30.
    assert plain["time"].iloc[0] == pd.Timestamp("2025-03-01 23:30")
    utc = read_xes(tmp_path / "a.xes", timezone="UTC")
    assert utc["time"].iloc[0] == pd.Timestamp("2025-03-01 21:30")


def test_reading_in_chunks_gives_the_same_events(generated, monkeypatch):
    from salessim.calibrate import xes

    _, path, _, _ = generated
    whole = read_xes(path)
    monkeypatch.setattr(xes, "CHUNK", 997)  # many chunks, cut mid-way through the cases
    pd.testing.assert_frame_equal(read_xes(path), whole)


def test_xml_that_is_not_xes_and_broken_xml_are_named(tmp_path):
    other = _write(tmp_path / "b.xes", "<?xml version='1.0'?><rss><item/></rss>")
    with pytest.raises(ExportError, match=r"b\.xes: an XML file whose root is <rss>"):
        read_xes(other)
    broken = _write(tmp_path / "c.xes", XES[:300])
    with pytest.raises(ExportError, match=r"c\.xes: not well-formed XML"):
        read_xes(broken)


def test_the_csv_reader_given_xes_says_what_it_is(tmp_path):
    path = _write(tmp_path / "log.csv", XES, gz=True)
    with pytest.raises(ExportError, match=r"this is an XES event log; read it as an event log.*"
                                          r"--stages"):
        read_table(path)


def _events(rows):
    frame = pd.DataFrame(rows, columns=["case", "activity", "time", "lifecycle", "resource"])
    frame["time"] = pd.to_datetime(frame["time"])
    return frame.assign(row=np.arange(1, len(frame) + 1))


def test_life_cycles_pair_per_instance_with_suspended_time_left_out():
    ev = _events([
        ("c", "W", "2025-01-01 08:00", "schedule", None),
        ("c", "W", "2025-01-01 10:00", "start", "ann"),
        ("c", "W", "2025-01-01 10:30", "suspend", "ann"),
        ("c", "W", "2025-01-01 11:30", "resume", "ann"),
        ("c", "W", "2025-01-01 12:00", "complete", "ann"),
        ("c", "M", "2025-01-01 12:00", "complete", None),     # a milestone, not unpaired
        ("d", "W", "2025-01-01 09:00", "complete", "bob"),    # no start: unpaired
        ("d", "W", "2025-01-01 10:00", "start", "bob"),       # never completed, d ended
        ("e", "W", "2025-01-01 10:00", "start", "cy"),        # e is open: open work
    ])
    found = pair(ev, open_cases={"e"})
    f = found.frame.set_index(["case", "status"])
    done = f.loc[("c", "complete")]
    assert done["wait"] == pytest.approx(2 / 24) and done["work"] == pytest.approx(1 / 24)
    assert f.loc[("c", "milestone"), "activity"] == "M"
    assert ("e", "open") in f.index
    assert found.unpaired == {"complete without start": 1, "start never completed": 1}


def test_the_rate_interval_of_over_dispersed_days_covers_the_truth():
    """Gamma-Poisson days with a weekday shape: the interval's coverage over 400 series is
    within three binomial standard errors of 95%."""
    from scipy import stats as st

    from salessim.calibrate.arrivals import _relative_se

    rng = np.random.default_rng(5)
    days = np.arange(136) % 7
    truth = loggen.RATE * loggen.WEEKDAY[days].mean()
    hits, n = 0, 400
    for _ in range(n):
        x = rng.poisson(loggen.RATE * loggen.WEEKDAY[days] * rng.gamma(loggen.K, 1 / loggen.K,
                                                                      size=len(days)))
        shape = np.array([x[days == d].mean() for d in range(7)]) / x.mean()
        half = st.t.ppf(0.975, len(days) - 7) * _relative_se(x, shape[days], 7)
        rate = x.mean()
        hits += rate * math.exp(-half) <= truth <= rate * math.exp(half)
    assert abs(hits / n - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / n)


def test_durations_below_the_resolution_are_zero_and_a_zero_stage_has_no_delay():
    times = pd.Series(pd.to_datetime(["2025-01-01 10:00:01", "2025-01-01 10:00:02"]))
    assert resolution(times) == pytest.approx(1 / 86400)
    fit = fit_stage("system", np.zeros(40), np.zeros(40, bool), resolution=1 / 86400)
    assert fit.chosen.family == NONE and fit.mean == 0
    assert fit.chosen.spec() == {"dist": "constant", "value": 0}
    mixed = fit_stage("s", np.r_[np.zeros(10), np.linspace(1, 3, 30)], np.zeros(40, bool))
    assert mixed.chosen.family != NONE and mixed.mean > 0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xes")
    log = loggen.generate(seed=11, days=150)
    path = loggen.write_xes(log, tmp / "credit.xes.gz")
    stages = tmp / "stages.yaml"
    stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
    result = calibrate_file(path, stages=stages, run_backtest=False, report=False)
    return log, path, stages, result


def test_stage_map_errors_are_located_with_did_you_mean(generated, tmp_path):
    _, path, _, _ = generated
    events = read_xes(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  application:\n    starts: [A_SUBMITED]\n"
                   "ends:\n  A_APPROVED: win\nvalue: case:AMOUNT\nextra: 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_stage_map(bad, events)
    text = str(err.value)
    assert "bad.yaml:3: stages.application.starts.0: no such activity in the log (did you " \
           "mean 'A_SUBMITTED'?)" in text
    assert "bad.yaml:5: ends.A_APPROVED: must be one of won, lost, no_decision" in text
    assert "bad.yaml:6: value: no such attribute in the log (did you mean 'case:AMOUNT_REQ'?)" \
        in text
    assert "bad.yaml:7: extra: unknown key" in text


def test_a_bad_stage_map_on_the_command_line_exits_2(generated, tmp_path, capsys):
    _, path, _, _ = generated
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  offer:\n    starts: [O_SENDT]\nends: {A_APPROVED: won}\n",
                   encoding="utf-8")
    assert main(["calibrate", str(path), "--stages", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.yaml:3: stages.offer.starts.0: no such activity in the log (did you mean " \
           "'O_SENT'?)" in capsys.readouterr().err


def test_the_proposal_groups_automatic_steps_and_finds_the_ends(generated, tmp_path, capsys):
    _, path, _, _ = generated
    out = tmp_path / "proposed.yaml"
    assert main(["calibrate", str(path), "--propose-stages", str(out)]) == 0
    smap = load_stage_map(out, read_xes(path))  # what it writes reads back
    stage_of = smap.stage_of()
    assert stage_of["A_SUBMITTED"] == stage_of["A_PARTLYSUBMITTED"]
    assert stage_of["A_PREACCEPTED"] == stage_of["O_SENT"]
    assert smap.ends == {"A_APPROVED": "won", "A_DECLINED": "lost", "A_CANCELLED": "no_decision"}
    assert smap.work_stage()["W_Validate"] == stage_of["O_SENT_BACK"]
    assert smap.value == "case:AMOUNT_REQ"


def test_roles_headcounts_and_calendars_are_recovered(generated):
    _, _, _, result = generated
    roles = {tuple(r.hours): r for r in result.calibration.staff.roles.values()}
    front, back = roles[loggen.FRONT_HOURS], roles[loggen.BACK_HOURS]
    assert (front.headcount, back.headcount) == (loggen.FRONT, loggen.BACK)
    assert front.workdays == back.workdays == ["mon", "tue", "wed", "thu", "fri"]
    assert set(back.activities) == {"W_Validate"}
    assert result.scenario.roles[back.name].headcount == loggen.BACK
    assert result.scenario.stages["validation"].role == back.name


def test_waits_for_staff_match_the_generated_waits_within_their_intervals(generated):
    log, _, _, result = generated
    q = result.calibration.staff.queues["validation"]
    true = np.asarray([w for w, start in log.waits["validation"] if start <= log.end])
    assert q.wait_median_ci[0] <= np.median(true) <= q.wait_median_ci[1]
    assert q.wait_p90_ci[0] <= np.quantile(true, 0.9) <= q.wait_p90_ci[1]
    assert q.wait_median > 0.1  # a back-office queue: hours, not zero


def test_arrivals_rate_day_effect_cut_and_night_share_are_recovered(generated):
    log, _, _, result = generated
    a = result.calibration.arrivals["all"]
    assert a.low <= loggen.RATE <= a.high
    assert a.dispersion.rejects and a.day_effect_ci[0] <= loggen.K <= a.day_effect_ci[1]
    win = result.calibration.window
    last = max(t for c, act, t, life, _ in log.events if act == "A_SUBMITTED")
    assert win.cut == last and win.end == last.floor("D") + pd.Timedelta(days=1)
    night = np.asarray(a.hourly).sum(axis=0)[:7].sum()
    n = a.n - int(a.daily.iloc[[0, -1]].sum())
    low, high = wilson(round(night * n), n, 0.99)
    assert low <= loggen.HOURS[:7].sum() <= high
    assert a.monthly is None  # five months cannot tell a season


def test_warnings_name_the_cut_the_time_out_and_the_dispersion(generated):
    _, _, _, result = generated
    text = "\n".join(result.warnings)
    assert "extraction cut: no case starts after" in text
    assert "over-dispersed arrivals: source 'all'" in text
    jump = [w for w in result.warnings if w.startswith("jump in the Kaplan-Meier curve: "
                                                     "stage 'offer'")]
    assert jump
    age = float(jump[0].split("age of ")[1].split(" ")[0])
    assert abs(age - loggen.TIMEOUT_DAYS) < 0.5
    assert result.evidence["warnings"] == result.warnings
    assert result.evidence["event_log"]["ends_by_activity"]["A_CANCELLED"] > 0


def test_as_of_leaves_later_events_unseen(generated):
    _, path, stages, _ = generated
    visits, log = read_history(path, stages=stages, as_of="2025-03-01")
    assert visits.as_of == pd.Timestamp("2025-03-01")
    assert visits.visits["entered_at"].max() <= visits.as_of
    assert not (log.instances.frame["completed"] > visits.as_of).any()
    assert visits.visits["exited_at"].isna().sum() > 0  # open then: censored


def test_lost_reasons_are_kept_per_deal(generated):
    _, path, stages, _ = generated
    visits, _ = read_history(path, stages=stages)
    ended = visits.deals.dropna(subset=["outcome"])
    kinds = ended.groupby("end")["outcome"].agg(set).to_dict()
    assert kinds == {"A_APPROVED": {"won"}, "A_DECLINED": {"lost"},
                     "A_CANCELLED": {"no_decision"}}


def test_an_event_log_gives_the_deals_open_at_an_as_of_date(generated):
    from salessim.forecast import read_pipeline

    _, path, stages, result = generated
    when = pd.Timestamp("2025-03-03")
    snapshot = read_pipeline(path, result.scenario, when, stages=stages)
    visits, _ = read_history(path, stages=stages, as_of="2025-03-03")
    assert snapshot.as_of == when
    assert len(snapshot.deals) == len(visits.open_deals()) > 0


def test_run_refuses_stages_without_a_pipeline(capsys):
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "b2b_baseline.yaml"
    assert main(["run", str(scenario), "--stages", "map.yaml"]) == 2
    assert "--stages groups into stages the event log of --pipeline FILE: give --pipeline too" in capsys.readouterr().err


def test_simulated_waits_pair_queued_and_started_per_lead_and_stage():
    from salessim.calibrate.backtest import _waits

    log = pd.DataFrame({
        "lead": ["a", "a", "a", "a", "b", "b"],
        "event": ["queued", "started", "queued", "started", "queued", "started"],
        "stage": ["s", "s", "s", "s", "s", "t"],
        "time": [1.0, 1.5, 3.0, 5.0, 2.0, 9.0],
    })
    waits = _waits(log, "day")
    assert sorted(waits["s"]) == [0.5, 2.0] and "t" not in waits  # b never started in s
    assert _waits(log, "hour")["s"] == pytest.approx(np.array([0.5, 2.0]) / 24)


def test_the_back_test_scores_the_waits_of_simulated_queues():
    root = Path(__file__).resolve().parents[1] / "examples" / "xes"
    result = calibrate_file(root / "credit.xes.gz", stages=root / "stages.yaml",
                            replications=2, report=False)
    lines = {line.kpi: line for line in result.backtest.lines}
    q = result.calibration.staff.queues["validation"]
    assert lines["wait.validation.p50"].data == q.wait_median
    assert lines["wait.validation.p90"].data == q.wait_p90
    assert lines["wait.validation.p50"].mean > 0
    assert "wait.offer.p50" not in lines  # side work: no simulated queue to compare


def test_the_back_test_turns_staff_calendars_with_the_export_s_first_weekday():
    from salessim.calibrate.backtest import aligned
    from salessim.scenario import load_scenario

    root = Path(__file__).resolve().parents[1] / "scenarios" / "b2b_baseline.yaml"
    from salessim.scenario.schema import Calendar

    scenario = load_scenario(root)
    office = Calendar(workdays=["mon", "tue", "wed", "thu", "fri"], hours=(9, 17))
    with_calendar = scenario.model_copy(update={"roles": {
        rid: role.model_copy(update={"calendar": office})
        for rid, role in scenario.roles.items()}})
    turned = aligned(with_calendar, pd.Timestamp("2025-01-11"))  # a Saturday
    for role in turned.roles.values():  # the export's Monday is simulated day 2 (Wed)
        assert role.calendar.workdays == ["wed", "thu", "fri", "sat", "sun"]
    same = aligned(with_calendar, pd.Timestamp("2025-01-06"))  # a Monday: unchanged
    assert [r.calendar.workdays for r in same.roles.values()] == \
        [r.calendar.workdays for r in with_calendar.roles.values()]


def _arrival_visits(created: pd.DatetimeIndex, end: pd.Timestamp):
    from salessim.calibrate.visits import Visits

    deals = pd.DataFrame({"created_at": created, "source": "all"})
    return Visits(pd.DataFrame(), deals, {}, created.min().normalize(), end)


@pytest.mark.slow
@pytest.mark.parametrize("k", [loggen.K, math.inf], ids=["gamma-Poisson days", "Poisson days"])
def test_the_arrival_rate_interval_covers_the_truth_at_its_level(k):
    """Through the whole estimator (window and extraction cut, partial days, weekday shape,
    dispersion test, interval) on 200 series of the generator's arrivals: the share of
    intervals holding the true rate is 95%, within the 99% Wilson interval of that share."""
    from scipy.stats import binom

    from salessim.calibrate.arrivals import ALPHA, fit_arrivals, window

    rng = np.random.default_rng(23)
    truth = loggen.window_rate()
    n = 200
    hits = over = 0
    for _ in range(n):
        visits = _arrival_visits(*loggen.arrivals(rng, k=k))
        a = fit_arrivals(visits, window(visits))["all"]
        hits += a.low <= truth <= a.high
        over += a.dispersion.rejects
    low, high = wilson(hits, n, 0.99)
    assert low <= 0.95 <= high
    # The right interval was used: the sandwich for over-dispersed days (every series is
    # found over-dispersed), Garwood for Poisson days (found so only at the test's level).
    if k == loggen.K:
        assert over == n
    else:
        assert over <= binom.ppf(0.999, n, ALPHA)


def test_crm_exports_keep_each_time_s_wall_clock_or_take_a_timezone(tmp_path):
    from salessim.calibrate.pipeline import read_visits

    # Web leads at 23:30 on a Friday, written with their office's offset: a Friday there,
    # a Saturday in UTC (issue 23: weekday profiles of UTC days).
    history = ("deal_id,stage,entered_at\n"
               "A,Qualify,2025-03-07T23:30:00-02:00\nA,Closed Won,2025-03-10T10:00:00-02:00\n"
               "B,Qualify,2025-03-10T11:00:00-02:00\nB,Closed Lost,2025-03-11T10:00:00-02:00\n")
    path = tmp_path / "h.csv"
    path.write_text(history, encoding="utf-8")
    local = read_visits(path).visits["entered_at"].min()
    assert local == pd.Timestamp("2025-03-07 23:30") and local.day_name() == "Friday"
    utc = read_visits(path, timezone="UTC").visits["entered_at"].min()
    assert utc == pd.Timestamp("2025-03-08 01:30")
    hubspot = ("hs_object_id,dealstage,hs_date_entered_qualify,hs_date_exited_qualify,"
               "hs_date_entered_closedwon,createdate\n"
               "1,closedwon,2025-03-07T23:30:00-02:00,2025-03-10T10:00:00-02:00,"
               "2025-03-10T10:00:00-02:00,2025-03-07T23:30:00-02:00\n"
               "2,qualify,2025-03-10T11:00:00-02:00,,,2025-03-10T11:00:00-02:00\n")
    path = tmp_path / "deals.csv"
    path.write_text(hubspot, encoding="utf-8")
    for zone, first in ((None, "2025-03-07 23:30"), ("UTC", "2025-03-08 01:30")):
        deals = read_visits(path, timezone=zone)
        assert deals.visits["entered_at"].min() == pd.Timestamp(first)
        assert deals.deals["created_at"].min() == pd.Timestamp(first)
