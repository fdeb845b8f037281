"""The classroom animation in headless Chromium: the dots in every box, the staff and the
clock against the simulated state at a chosen time (hand-offs included), the charts, the
controls, and a page that fits a 1280x720 projector. One page load per scenario."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import headless_chromium
from salessim.engine import run
from salessim.scenario import load_scenario
from salessim.teaching.animation import STATES, animation_data, animation_html, charts

ROOT = Path(__file__).resolve().parents[1]
T = 240.3  # IBM Credit at hour 240: most open deals are in hand-off between desks


def expected_state(log, t: float) -> tuple[dict, dict, dict, int]:
    """From the event log alone: per (stage, state) the deals in it at ``t``, the deals at
    each end, per role the staff busy, and the deals open. Intervals: queued to started,
    started to finished, delay_started to delay_finished, handoff to the next queued."""
    log = log[log.replication == log.replication.min()]
    places: dict[tuple[str, str], int] = {}
    ended: dict[str, int] = {}
    busy: dict[str, int] = {}
    open_deals = 0
    by_lead: dict[str, list] = {}
    for r in log[["lead", "event", "stage", "time", "resource"]].itertuples(index=False):
        by_lead.setdefault(r.lead, []).append(r)
    for rows in by_lead.values():
        if rows[0].time > t:
            continue
        ends = [r for r in rows if r.event in ("won", "lost", "no_decision") and r.time <= t]
        if ends:
            ended[ends[0].event] = ended.get(ends[0].event, 0) + 1
        else:
            open_deals += 1
        stage = None
        for k, r in enumerate(rows):
            stage = r.stage if isinstance(r.stage, str) else stage
            closing = {"queued": "started", "started": "finished",
                       "delay_started": "delay_finished", "handoff": "queued"}.get(r.event)
            if closing is None or r.time > t:
                continue
            until = next((s.time for s in rows[k + 1:] if s.event == closing), math.inf)
            if t < until:
                state = {"queued": "queue", "started": "work", "delay_started": "customer",
                         "handoff": "handoff"}[r.event]
                places[(stage, state)] = places.get((stage, state), 0) + 1
                if r.event == "started":
                    for role in r.resource.split("+"):
                        busy[role] = busy.get(role, 0) + 1
    return places, ended, busy, open_deals


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as b:
        yield b


def open_page(browser, html: str, tmp_path: Path):
    path = tmp_path / "animation.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    return page, errors


def test_ibm_credit_dots_staff_and_clock_match_the_simulation(browser, tmp_path):
    sc = load_scenario(ROOT / "cases" / "ibm_credit" / "before.yaml", ["horizon=400"])
    log = run(sc, replications=1, event_log=True).event_log()
    places, ended, busy, open_deals = expected_state(log, T)
    assert sum(n for (_, s), n in places.items() if s == "handoff") > open_deals / 2
    page, errors = open_page(browser, animation_html(sc, log, 0.0, 400.0), tmp_path)
    page.evaluate(f"seek({T})")
    drawn = page.evaluate("""() => {
      const out = {};
      for (const box of document.querySelectorAll('.stage:not(.end)'))
        for (const k of ['queue', 'work', 'customer', 'handoff'])
          out[box.id.slice(6) + '|' + k] = [box.querySelectorAll('.d-' + k + ' .dot').length,
            +box.querySelector('.n-' + k).textContent];
      return out; }""")
    for sid in sc.stages:
        for state in STATES:
            want = places.get((sid, state), 0)
            assert drawn[f"{sid}|{state}"] == [want, want], (sid, state)
    assert sum(d for d, _ in drawn.values()) == open_deals  # every open deal is one dot
    for end in ("won", "lost"):
        assert int(page.inner_text(f"#end-{end} .n-end")) == ended.get(end, 0)
    for role in sc.roles:
        assert page.locator(f"#staff-{role} .person.busy").count() == busy.get(role, 0)
        assert page.locator(f"#staff-{role} .person").count() == sc.roles[role].headcount
    assert page.locator("#staff .person.off").count() == 0  # this clock counts working time only
    # 240.3 working hours: the 31st working day of 8 hours, 18 minutes in.
    assert page.inner_text("#clock") == "working day 31, hour 0:18"
    # The charts are drawn up to the clock: one point per slice end passed.
    points = page.evaluate("document.querySelector('#chart-wip polyline').getAttribute('points')"
                           ".trim().split(' ').length")
    assert points == math.floor(T / (400 / 120)) + 1
    # Projector: nothing scrolls at 1280x720, and no text is under 12 px.
    size = page.evaluate("[document.documentElement.scrollWidth, "
                         "document.documentElement.scrollHeight]")
    assert size[0] <= 1280 and size[1] <= 720, size
    smallest = page.evaluate("Math.min(...[...document.querySelectorAll('body *')]"
                             ".filter(e => e.childNodes.length && [...e.childNodes].some("
                             "n => n.nodeType === 3 && n.textContent.trim()))"
                             ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
    assert smallest >= 12
    page.screenshot(path=str(tmp_path / "ibm.png"))
    # Play, pause and speed still drive the clock.
    page.evaluate("seek(100)")
    page.select_option("#speed", "16")
    page.click("#play")
    page.wait_for_timeout(500)
    page.click("#pause")
    moved = page.evaluate("t")
    assert moved > 100.0
    page.wait_for_timeout(300)
    assert page.evaluate("t") == moved
    page.close()
    assert errors == []


def test_staff_off_duty_on_a_calendar(browser, tmp_path):
    """The tutorial's staff work 9 to 17 on weekdays: Saturday noon shows everybody off
    duty, Monday 10:00 shows them on duty, and the clock reads as a calendar date."""
    sc = load_scenario(ROOT / "scenarios" / "tutorial.yaml", ["horizon=30", "warmup=0"])
    log = run(sc, replications=1, event_log=True).event_log()
    page, errors = open_page(browser, animation_html(sc, log, 0.0, 30.0), tmp_path)
    page.evaluate("seek(5.5)")  # Saturday 10 Jan, 12:00
    assert page.inner_text("#clock") == "day 6, Sat 10 Jan 12:00"
    people = sum(r.headcount for r in sc.roles.values())
    assert page.locator("#staff .person.off").count() == people
    page.evaluate(f"seek({7 + 10 / 24})")  # Monday 12 Jan, 10:00
    assert page.locator("#staff .person.off").count() == 0
    _, _, busy, _ = expected_state(log, 7 + 10 / 24)
    assert page.locator("#staff .person.busy").count() == sum(
        min(n, sc.roles[r].headcount) for r, n in busy.items())
    page.close()
    assert errors == []


def test_charts_count_open_deals_and_utilisation_so_far():
    """The WIP series equals the open deals counted from the log at each slice end; the
    utilisation so far at the window's end equals busy time over staff time, computed
    here from the started/finished pairs (IBM Credit: no calendar, one person a role)."""
    sc = load_scenario(ROOT / "cases" / "ibm_credit" / "before.yaml", ["horizon=200", "warmup=0"])
    log = run(sc, replications=1, event_log=True).event_log()
    data = animation_data(sc, log, 0.0, 200.0)
    wip = data["charts"]["wip"]
    for k in (30, 77, 120):
        t = data["charts"]["times"][k]
        assert sum(wip[s][k] for s in STATES) == expected_state(log, t)[3]
    started = log[log.event == "started"].set_index(["lead", "stage"]).time
    finished = log[log.event == "finished"].set_index(["lead", "stage"]).time
    roles = log[log.event == "started"].set_index(["lead", "stage"]).resource
    spans = (finished.reindex(started.index).fillna(200.0).clip(upper=200.0) - started)
    for role in sc.roles:
        exact = spans[roles == role].sum() / 200.0
        assert data["charts"]["util"][role][-1] == pytest.approx(exact, abs=0.01)
    empty = charts([], {"r": []}, {"r": [[1.0, 2.0]]}, {"r": 1}, 0.0, 3.0)
    assert empty["util"]["r"][1] is None and empty["util"]["r"][-1] == 0.0
