"""Event logs: holidays found and simulated, headcounts given for the log's roles."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from tests import loggen

from salessim import engine
from salessim.calibrate.backtest import aligned
from salessim.calibrate.pipeline import calibrate_file
from salessim.calibrate.readers import ExportError
from salessim.calibrate.staff import simulated_dates
from salessim.cli import main
from salessim.clock import LOG_EPOCH

#: A Wednesday and Easter Monday: no one works, leads still arrive.
HOLIDAYS = ("2025-03-05", "2025-04-21")


@pytest.fixture(scope="module")
def with_holidays(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("holidays")
    log = loggen.generate(seed=11, days=150, holidays=HOLIDAYS)
    path = loggen.write_xes(log, tmp / "credit.xes.gz")
    stages = tmp / "stages.yaml"
    stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
    result = calibrate_file(path, stages=stages, run_backtest=False, report=False)
    return path, stages, result


def test_holidays_of_the_log_are_found_for_every_role(with_holidays):
    _, _, result = with_holidays
    for role in result.calibration.staff.roles.values():
        # Exactly the two: not the quiet days after the extraction cut, not the weekends.
        assert role.holidays == list(HOLIDAYS)


def test_a_log_without_holidays_gives_none(tmp_path):
    log = loggen.generate(seed=11, days=150)
    path = loggen.write_xes(log, tmp_path / "credit.xes.gz")
    stages = tmp_path / "stages.yaml"
    stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
    result = calibrate_file(path, stages=stages, run_backtest=False, report=False)
    assert [r.holidays for r in result.calibration.staff.roles.values()] == [[], []]
    assert all(r.calendar.holidays == [] for r in result.scenario.roles.values())


def test_holidays_keep_their_weekday_as_simulated_dates():
    start = pd.Timestamp("2025-01-08 10:00")  # a Wednesday: its week's Monday is day 0
    assert simulated_dates(["2025-01-06", "2025-03-05"], start) == ["2026-01-05", "2026-03-04"]
    for log_day, day in zip(HOLIDAYS, simulated_dates(list(HOLIDAYS), start), strict=True):
        assert pd.Timestamp(day).day_of_week == pd.Timestamp(log_day).day_of_week


def test_the_scenario_s_calendars_carry_the_holidays_and_no_one_works_on_them(with_holidays):
    _, _, result = with_holidays
    days = [(pd.Timestamp(d) - pd.Timestamp(loggen.START)).days for d in HOLIDAYS]
    expected = [f"{LOG_EPOCH + pd.Timedelta(days=n):%Y-%m-%d}" for n in days]  # START: Monday
    for role in result.scenario.roles.values():
        assert [f"{d:%Y-%m-%d}" for d in role.calendar.holidays] == expected
    log = engine.run(result.scenario, replications=2, seed=5, event_log=True).event_log()
    started = log[log["event"] == "started"]
    day = np.floor(started["time"].to_numpy(float)).astype(int)  # time unit: day
    for n in days:
        assert not (day == n).any()
        # The working days on either side are worked (day 0 is a Monday): the test sees work.
        before = next(m for m in range(n - 1, 0, -1) if m % 7 < 5)
        after = next(m for m in range(n + 1, n + 8) if m % 7 < 5)
        assert (day == before).any()
        assert (day == after).any()


def test_the_back_test_moves_holidays_with_the_export_s_first_weekday(with_holidays):
    _, _, result = with_holidays
    turned = aligned(result.scenario, pd.Timestamp("2025-01-08"))  # export starts Wednesday
    for rid, role in turned.roles.items():
        before = result.scenario.roles[rid].calendar.holidays
        assert [d + timedelta(days=2) for d in role.calendar.holidays] == before


def test_headcount_replaces_a_log_role_s_and_says_so(with_holidays):
    path, stages, _ = with_holidays
    result = calibrate_file(path, stages=stages, run_backtest=False, report=False,
                            headcount=["validation_staff=9"])
    roles = result.calibration.staff.roles
    assert roles["validation_staff"].headcount == 9
    assert roles["validation_staff"].measured == loggen.BACK
    assert roles["application_staff"].headcount == loggen.FRONT  # untouched
    assert result.scenario.roles["validation_staff"].headcount == 9
    assert any(w.startswith("headcount given: role 'validation_staff' has 9 "
                            "(--headcount validation_staff=9) where the log shows 5")
               for w in result.warnings)
    evidence = result.evidence["staff_from_log"]["roles"]["validation_staff"]
    assert (evidence["headcount"], evidence["headcount_source"],
            evidence["headcount_in_log"]) == (9, "given", loggen.BACK)
    with pytest.raises(ExportError, match=r"--headcount owner: no such role; the event log's "
                                          r"roles are application_staff, validation_staff"):
        calibrate_file(path, stages=stages, run_backtest=False, report=False,
                       headcount=["owner=3"])
    with pytest.raises(ExportError, match=r"--headcount validation_staff with --holdout: a "
                                          r"held-out calibration of an event log finds no "
                                          r"roles"):
        calibrate_file(path, stages=stages, run_backtest=False, report=False, holdout=0.25,
                       headcount=["validation_staff=9"])


def test_headcount_of_a_log_role_on_the_command_line(with_holidays, tmp_path, capsys):
    path, stages, _ = with_holidays
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--stages", str(stages), "--headcount",
                 "application_staff=2", "--no-backtest", "--out", str(out)]) == 0
    assert "headcount given: role 'application_staff' has 2" in capsys.readouterr().err
    text = (out / "scenario.yaml").read_text(encoding="utf-8")
    assert "headcount given by --headcount application_staff=2, the log's 6" in text
    assert "holidays: the log's 2025-03-05, 2025-04-21 (no one worked)" in text
    assert '"holidays": ["2026-03-04", "2026-04-20"]' in text
    evidence = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert evidence["staff_from_log"]["roles"]["application_staff"]["headcount"] == 2


#: The generator's offer and validation as one stage: the customer's side, then the
#: back office's queue and work, then the decision.
MERGED_MAP = loggen.STAGE_MAP.replace(
    "    work: [W_Call]\n  validation:\n    starts: [O_SENT_BACK]\n    work: [W_Validate]",
    "    work: [W_Call, W_Validate]")


@pytest.mark.slow  # a calibration and a back-test of six replications: handed out first
def test_a_queue_after_the_customer_s_side_makes_the_stage_customer_first(tmp_path):
    assert MERGED_MAP != loggen.STAGE_MAP
    log = loggen.generate(seed=11, days=150)
    path = loggen.write_xes(log, tmp_path / "credit.xes.gz")
    stages = tmp_path / "stages.yaml"
    stages.write_text(MERGED_MAP, encoding="utf-8")
    result = calibrate_file(path, stages=stages, replications=6, report=False)
    queue = result.calibration.staff.queues["offer"]
    # W_Call (side work two days in) is not the queue; W_Validate, ready days in and
    # followed at once by the decision, is.
    assert (queue.order, queue.activities) == ("customer_first", ["W_Validate"])
    assert queue.lag > 1
    stage = result.scenario.stages["offer"]
    assert stage.order == "customer_first" and stage.role == queue.role
    assert stage.delay is not None and stage.work.mean == pytest.approx(queue.work_per_visit,
                                                                        rel=1e-5)
    back = result.calibration.staff.roles[queue.role]
    assert set(back.activities) == {"W_Validate"}
    true = np.asarray([w for w, start in log.waits["validation"] if start <= log.end])
    assert queue.wait_median_ci[0] <= np.median(true) <= queue.wait_median_ci[1]
    assert queue.wait_p90_ci[0] <= np.quantile(true, 0.9) <= queue.wait_p90_ci[1]
    # The back-test simulates that queue (after the simulated customer's side) and scores
    # its waits against the log's: the median and P90 are in the simulation's prediction
    # intervals. (They were not while the simulated back office started work it could not
    # finish before closing and had the suspended spans for other work: its median wait
    # was 13 hours [11, 15] against the log's 16.)
    lines = {line.kpi: line for line in result.backtest.lines}
    assert lines["wait.offer.p50"].data == queue.wait_median
    assert lines["wait.offer.p90"].data == queue.wait_p90
    assert lines["wait.offer.p50"].consistent and lines["wait.offer.p90"].consistent
    assert result.calibration.staff.queues["application"].order == "work_first"
    assert result.evidence["staff_from_log"]["queues"]["offer"]["order"] == "customer_first"


def test_a_queue_as_the_stage_starts_stays_work_first(with_holidays):
    _, _, result = with_holidays
    queue = result.calibration.staff.queues["validation"]
    assert queue.order == "work_first" and queue.at_entry
    assert result.scenario.stages["validation"].order == "work_first"


def _hours(day: int, hour: float) -> float:
    return 24.0 * day + hour   # hours since time 0, a Monday 00:00


@pytest.mark.parametrize(("t", "work", "start"), [
    pytest.param(_hours(0, 10), 2, _hours(0, 10), id="fits-now"),
    pytest.param(_hours(0, 16), 1, _hours(0, 16), id="ends-at-closing"),
    pytest.param(_hours(0, 16.5), 1, _hours(1, 9), id="next-morning"),
    pytest.param(_hours(4, 16.5), 1, _hours(7, 9), id="after-the-weekend"),
    pytest.param(_hours(0, 20), 1, _hours(1, 9), id="at-night"),
    pytest.param(_hours(0, 12), 8, _hours(0, 12), id="longer-than-a-day-starts-at-once"),
    pytest.param(_hours(2, 16.5), 1, _hours(4, 9), id="over-a-holiday"),
])
def test_finish_same_day_starts_work_only_where_it_fits(t, work, start):
    from salessim.model.calendar import WorkCalendar
    from salessim.scenario.parts import Calendar

    holiday = f"{LOG_EPOCH + pd.Timedelta(days=3):%Y-%m-%d}"  # the first Thursday
    for unit, per in (("hour", 1.0), ("day", 24.0)):
        cal = WorkCalendar(Calendar(finish_same_day=True, holidays=[holiday]), unit)
        assert cal.fitting(cal.next_working(t / per), work / per) == pytest.approx(
            start / per, abs=1e-9)


def test_finish_same_day_in_a_run_no_work_spans_a_closing():
    from conftest import OFFICE, const, scenario_of

    def spans(same_day: bool) -> tuple[int, int]:
        sc = scenario_of({"horizon": 4000, "replications": 1,
                          "roles": {"bo": {"headcount": 2, "calendar": {
                              **OFFICE, "finish_same_day": same_day}}},
                          "sources": {"web": {"rate": 0.1}}, "entry": "check",
                          "stages": {"check": {"role": "bo", "work": const(3.0),
                                               "next": {"won": 1.0}}}})
        log = engine.run(sc, event_log=True).event_log()
        started = log[log.event == "started"].set_index("lead").time
        finished = log[log.event == "finished"].set_index("lead").time
        both = pd.concat([started, finished], axis=1, keys=["s", "f"]).dropna()
        crossing = (both.f - both.s > 3.0 + 1e-9).sum()  # work resumed after a closing
        return int(crossing), len(both)

    crossing, n = spans(True)
    assert n > 300 and crossing == 0
    crossing, n = spans(False)
    assert crossing > 0.1 * n  # a 3-hour item started after 14:00 runs into the next day


def test_the_log_s_roles_finish_the_same_day_and_suspended_work_keeps_them_busy(
        with_holidays):
    path, _, result = with_holidays
    staff = result.calibration.staff
    for role in staff.roles.values():
        past, done = role.past_closing
        assert past == 0 and done > 1000 and role.finish_same_day
        assert result.scenario.roles[role.name].calendar.finish_same_day
    back, front = staff.roles["validation_staff"], staff.roles["application_staff"]
    # The generator's suspended validations keep their worker; nothing else is suspended.
    used, spans = back.suspended
    assert used == 0 and spans > 400 and back.held_while_suspended
    assert front.suspended == (0, 0) and not front.held_while_suspended
    # So a validation's work in the scenario is its whole span, suspensions included.
    from salessim.calibrate.xes import read_xes

    events = read_xes(path)
    events = events[events["activity"] == "W_Validate"]
    starts = events[events["lifecycle"] == "start"].sort_values(["case", "time"])
    ends = events[events["lifecycle"] == "complete"].sort_values(["case", "time"])
    assert len(starts) == len(ends)
    span = (ends["time"].to_numpy() - starts["time"].to_numpy()) / np.timedelta64(1, "D")
    queue = staff.queues["validation"]
    visits = result.calibration.visits.visits
    n_visits = int((visits["stage"] == "validation").sum())
    assert queue.work_per_visit == pytest.approx(span.sum() / n_visits, rel=1e-6)
