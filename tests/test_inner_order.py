"""A stage's inner order: staff work then the customer's side (a customer-facing stage), or
the customer's side, then the queue for staff and their work, then the decision
(``order: customer_first``, a back-office stage)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import OFFICE, const, expo, scenario_of
from salessim import engine
from salessim.errors import ScenarioError
from salessim.scenario.load import load_scenario


def _office_stage(order: str, **extra) -> dict:
    return {"horizon": 2000, "replications": 1, "calendar": OFFICE,
            "roles": {"bo": {"headcount": 3}},
            "sources": {"web": {"rate": 0.2}}, "entry": "check",
            "stages": {"check": {"role": "bo", "work": const(0.25), "delay": expo(10),
                                 "order": order, "next": {"won": 0.5, "lost": 0.5},
                                 **extra}}}


def _exits(log):
    """Per lead, the time it left the stage (its end)."""
    return log[log.event.isin(["won", "lost"])].set_index("lead").time


def _in_office_hours(t: np.ndarray) -> np.ndarray:
    """Mon-Fri 9-17 in hours from Monday 00:00 (time 0), end of a shift included."""
    week = np.mod(t, 168.0)
    day, hour = np.floor_divide(week, 24.0), np.mod(week, 24.0)
    # a finish at 17:00 is at the end of the shift (rounding allowed for)
    return (day < 5) & (hour >= 9 - 1e-6) & (hour <= 17 + 1e-6)


def test_customer_first_decides_in_office_hours_work_first_does_not():
    """The decision of a back-office stage comes right after its staff work, so always in
    working hours; after a customer-side delay it comes at any hour."""
    back = engine.run(scenario_of(_office_stage("customer_first")), event_log=True).event_log()
    front = engine.run(scenario_of(_office_stage("work_first")), event_log=True).event_log()
    back_exits = _exits(back).to_numpy()
    front_exits = _exits(front).to_numpy()
    assert len(back_exits) > 300 and len(front_exits) > 300
    assert _in_office_hours(back_exits).all()
    # 40 of 168 hours a week are office hours: an exponential delay of 10 h ends outside
    # them most of the time
    assert _in_office_hours(front_exits).mean() < 0.6


def test_customer_first_event_order_and_same_draws():
    """Each lead's customer side ends before its staff work starts; the delays drawn are
    the same numbers in either order (the stage's streams do not depend on it)."""
    sc = scenario_of(_office_stage("customer_first"))
    log = engine.run(sc, event_log=True).event_log()
    first = log.groupby(["lead", "event"]).time.first().unstack()
    done = first.dropna(subset=["started"])
    assert len(done) > 300
    assert (done.started >= done.delay_finished).all()
    assert (done.delay_started <= done.queued).all()
    other = engine.run(scenario_of(_office_stage("work_first")), event_log=True).event_log()

    def delays(lg):
        return (lg[lg.event == "delay_finished"].set_index("lead").time
                - lg[lg.event == "delay_started"].set_index("lead").time)

    both = delays(log).to_frame("back").join(delays(other).to_frame("front"), how="inner")
    assert len(both) > 100
    assert np.allclose(both.back, both.front)


def test_without_calendar_or_queue_the_cycle_time_is_the_same_sum():
    """Around the clock with staff always free, a visit lasts delay + work in either order."""
    parts = {"horizon": 500, "replications": 1, "roles": {"bo": {"headcount": 50}},
             "sources": {"web": {"rate": 0.5}}, "entry": "check"}
    for order in ("work_first", "customer_first"):
        sc = scenario_of({**parts, "stages": {"check": {
            "role": "bo", "work": const(2.0), "delay": const(3.0), "order": order,
            "next": {"won": 1.0}}}})
        log = engine.run(sc, event_log=True).event_log()
        entered = log[log.event == "entered"].set_index("lead").time
        won = log[log.event == "won"].set_index("lead").time
        spans = (won - entered).dropna()
        assert len(spans) > 100
        assert np.allclose(spans, 5.0)


def test_warm_start_customer_first():
    """An open deal whose work is done only waits to be routed; one whose work is not done
    waits out the rest of its customer side, then the work."""
    data = _office_stage("customer_first")
    data["sources"] = {"web": {"rate": 1e-6}}
    data["pipeline"] = [{"id": "done", "stage": "check", "age": 5, "work_done": True},
                        {"id": "open", "stage": "check", "age": 5}]
    log = engine.run(scenario_of(data), event_log=True).event_log()
    done = log[log.lead == "done"]
    assert done[done.event.isin(["won", "lost"])].time.iloc[0] == 0
    assert "started" not in set(done.event)
    opened = log[log.lead == "open"].set_index("event").time
    assert opened["started"] >= opened["delay_finished"] > 0


@pytest.mark.parametrize("stage", [
    {"role": "bo", "work": {"dist": "constant", "value": 1}, "order": "customer_first",
     "next": {"won": 1.0}},
    {"delay": {"dist": "constant", "value": 1}, "order": "customer_first",
     "next": {"won": 1.0}},
])
def test_customer_first_needs_work_and_delay(stage, tmp_path):
    text = ("name: t\nhorizon: 10\nroles: {bo: {headcount: 1}}\nsources: {web: {rate: 1}}\n"
            "entry: check\nstages:\n  check: " + repr(stage).replace("'", '"') + "\n")
    with pytest.raises(ScenarioError, match="customer_first"):
        _load(tmp_path, text)


def test_order_refuses_an_unknown_value(tmp_path):
    text = ("name: t\nhorizon: 10\nroles: {bo: {headcount: 1}}\nsources: {web: {rate: 1}}\n"
            "entry: check\nstages:\n  check: {role: bo, work: 1, delay: 1, "
            "order: customer_last, next: {won: 1.0}}\n")
    with pytest.raises(ScenarioError, match="order"):
        _load(tmp_path, text)


def _load(folder, text: str):
    path = folder / "order.yaml"
    path.write_text(text)
    return load_scenario(path)
