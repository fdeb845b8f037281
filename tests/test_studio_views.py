"""salessim studio in a real browser, the second folder: completion in the editor, the
calendar in the form, what-if sliders on a stage's mean and routing odds written back into
the YAML, a forecast back-test with its coverage, and a casebook case in the Classroom.

The folder holds the B2B baseline, the pooling case of the casebook and the CRM history.
With ``SALESSIM_STUDIO_SCREENSHOTS=docs/studio`` the screenshots of docs/studio.md are
written there (otherwise into a temporary folder).
"""

from __future__ import annotations

import difflib
import re
import shutil

import pytest
import yaml

from conftest import headless_chromium
from studio_page import REPO, get, running_studio, screenshots, studio_tab

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("studio-views")]
pytest.importorskip("starlette", reason="the studio extra is missing: pip install "
                    "'salessim[studio]'")


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshots(tmp_path_factory)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio-views") / "teacher"
    folder.mkdir()
    shutil.copy(REPO / "scenarios" / "b2b_baseline.yaml", folder)
    shutil.copytree(REPO / "cases" / "pooling", folder / "cases" / "pooling")
    (folder / "crm").mkdir()
    shutil.copy(REPO / "examples" / "crm" / "stage_history.csv", folder / "crm")
    with running_studio(folder) as running:
        yield running


@pytest.fixture(scope="module")
def page(studio):
    base, token, _ = studio
    with headless_chromium() as browser, studio_tab(browser, base, token) as tab:
        yield tab


def _editor(page) -> str:
    return page.locator("#editor").input_value()


def _changed(before: str, after: str) -> list[str]:
    return [x for x in difflib.ndiff(before.splitlines(), after.splitlines())
            if x.startswith(("+ ", "- "))]


def test_completion_and_the_calendar_form(page, studio, shots):
    base, _, folder = studio
    original = (folder / "b2b_baseline.yaml").read_text()
    page.goto(f"{base}/#edit/b2b_baseline.yaml")
    page.locator("#diagram svg").wait_for()
    # A new line in the discovery stage: typing a key offers the keys valid there, with
    # their help, and leaves out the keys the stage has already.
    lines = original.splitlines(keepends=True)
    at = lines.index("    role: ae\n") + 1
    page.locator("#editor").fill("".join([*lines[:at], "    \n", *lines[at:]]))
    caret = sum(len(x) for x in lines[:at]) + 4
    page.locator("#editor").evaluate(f"a => a.setSelectionRange({caret}, {caret})")
    page.keyboard.press("Control+Space")  # asks: every key a stage may have and lacks
    page.locator('#completion li[data-label="patience"]').wait_for()
    labels = page.locator("#completion li").evaluate_all("i => i.map(x => x.dataset.label)")
    assert {"patience", "queue", "only_if", "decay"} <= set(labels)
    assert not {"role", "work", "delay", "next"} & set(labels)  # written already
    page.screenshot(path=str(shots / "editor-completion.png"))
    page.keyboard.type("pa")
    page.wait_for_function("document.querySelectorAll('#completion li').length === 2")
    offered = dict(zip(page.locator("#completion li").evaluate_all(
        "items => items.map(i => i.dataset.label)"), page.locator("#completion li").all_inner_texts(),
        strict=True))
    assert set(offered) == {"patience", "parallel"}
    assert offered["patience"] == "patience a lead waiting longer than this for staff goes cold"
    page.keyboard.press("Enter")  # accepts patience, and writes "patience: "
    # Inside a distribution: after "dist: " the distributions' names (an enum) are offered.
    page.keyboard.type("{dist: ")
    page.locator('#completion li[data-label="exponential"]').wait_for()
    assert "description" not in page.locator("#completion").inner_text()
    page.keyboard.type("exp")
    page.wait_for_function("document.querySelectorAll('#completion li').length === 1")
    assert page.locator("#completion li").inner_text() == "exponential"
    page.keyboard.press("Tab")
    page.keyboard.type(", mean: 2}")
    page.locator("#problems li.ok").wait_for()
    assert "    patience: {dist: exponential, mean: 2}\n" in _editor(page)
    # The calendar in the form: one more hour a day and a holiday, written into its line.
    page.locator("#editor").fill(original)
    page.locator("#problems li.ok").wait_for()
    page.locator("#cal-end").fill("18")
    page.locator("#cal-add").fill("2026-12-25")
    page.locator("#cal-add").dispatch_event("change")
    assert page.locator("#cal-holidays").input_value() == "2026-12-25"
    page.locator('#calendar-form .cal-day[value="sat"]').check()
    page.click("#form-apply")
    page.wait_for_function("document.getElementById('editor').value.includes('2026-12-25')")
    assert _changed(original, _editor(page)) == [
        "- calendar: {workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}",
        "+ calendar: {workdays: [mon, tue, wed, thu, fri, sat], hours: [9, 18], "
        "holidays: [2026-12-25]}"]
    page.locator("#problems li.ok").wait_for()  # the loader reads it back
    page.locator("#form").screenshot(path=str(shots / "editor-calendar.png"))
    page.evaluate("state.dirty = false")


def test_whatif_stage_sliders_rerun_and_write_into_the_yaml(page, studio, shots):
    base, token, folder = studio
    path = folder / "b2b_baseline.yaml"
    original = path.read_text()
    page.goto(f"{base}/#whatif/b2b_baseline.yaml")
    page.locator("#wi-n").fill("3")
    odds = page.locator('#sliders input[data-odds="qualify"]')
    odds.evaluate("s => { s.value = 0.4; s.dispatchEvent(new Event('input')); }")
    # A second move within the debounce: one run, with both values.
    mean = page.locator('#sliders input[data-key="stages.demo.work.mean"]')
    assert mean.get_attribute("data-unit") == "hours"
    mean.evaluate("s => { s.value = 4; s.dispatchEvent(new Event('input')); }")
    assert odds.locator("xpath=following-sibling::output").inner_text() == \
        "discovery 0.4 / lost 0.6"
    page.locator("#whatif").wait_for()
    job = get(base, f"/api/jobs/{page.evaluate('state.job.id')}", token)
    assert job["result"]["sets"] == ["stages.demo.work.mean=4 hours",
                                     "stages.qualify.next.discovery=0.4",
                                     "stages.qualify.next.lost=0.6"]
    rows = {r.locator("td").nth(0).inner_text(): r.locator("td").all_inner_texts()
            for r in page.locator("#whatif tr").all()[1:]}
    kpi, before, after, diff, ci, change = rows["Leads created (cohort)"]
    assert before == after and ci == "[0, 0]"  # same random numbers: the same leads
    # Into the file: only the two lines change, comments and alignment kept; a backup.
    page.click("#wi-write")
    page.locator("#wi-lines").wait_for()
    assert page.inner_text("#wi-lines").splitlines() == [
        "-     next: {discovery: 0.3, lost: 0.7}", "+     next: {discovery: 0.4, lost: 0.6}",
        '-     work: {dist: lognormal, mean: "5 hours", cv: 0.4}',
        '+     work: {dist: lognormal, mean: "4 hours", cv: 0.4}']
    page.screenshot(path=str(shots / "whatif-stages.png"), full_page=True)
    assert _changed(original, path.read_text()) == [
        "-     next: {discovery: 0.3, lost: 0.7}",
        "+     next: {discovery: 0.4, lost: 0.6}",
        '-     work: {dist: lognormal, mean: "5 hours", cv: 0.4}',
        '+     work: {dist: lognormal, mean: "4 hours", cv: 0.4}']
    assert list((folder / ".studio-backups").glob("b2b_baseline.yaml.*"))
    path.write_text(original)


def test_forecast_backtest_shows_each_window_and_the_coverage(page, studio, shots):
    base, _, folder = studio
    for every, horizon in (("soon", "30 days"), ("30 days", "-3 days")):
        answer = page.request.post(f"{base}/api/backtest", data={
            "history": "crm/stage_history.csv", "every": every, "horizon": horizon})
        bad = every if every == "soon" else horizon
        assert answer.status == 400 and answer.json()["error"].endswith(
            f"like '30 days', got '{bad}'")
    answer = page.request.post(f"{base}/api/backtest", data={
        "history": "../stage_history.csv", "every": "30 days", "horizon": "30 days"})
    assert answer.status == 403
    page.goto(f"{base}/#forecast")
    page.locator("#bt-history").select_option("crm/stage_history.csv")
    page.locator("#bt-every").fill("45 days")
    page.locator("#bt-horizon").fill("45 days")
    page.locator("#bt-n").fill("5")
    page.locator("#bt-uncertainty").uncheck()
    page.click("#bt-go")
    page.locator("#bt-coverage").wait_for()
    match = re.fullmatch(r"The P10-P90 band held the actual bookings in (\d+) of (\d+) windows "
                         r"\((\d+)%, 95% CI (\d+)% to (\d+)%; a right band holds about 80%\)",
                         page.inner_text("#bt-coverage"))
    assert match, page.inner_text("#bt-coverage")
    inside, windows, share, low, high = (int(x) for x in match.groups())
    rows = [r.locator("td").all_inner_texts() for r in page.locator("#bt-windows tr").all()[1:]]
    assert len(rows) == windows >= 2 and sum(r[-1] == "yes" for r in rows) == inside
    assert share == round(100 * inside / windows) and low <= share <= high
    for r in rows:  # each window: P10 <= P50 <= P90, and "in band" says where the actual is
        actual, p10, p50, p90 = (float(x.replace(",", "")) for x in r[3:7])
        assert p10 <= p50 <= p90 and (r[7] == "yes") == (p10 <= actual <= p90)
    assert page.evaluate("document.getElementById('bt-figure').naturalWidth") > 0
    page.locator("#bt-result").screenshot(path=str(shots / "forecast-backtest.png"))


def test_a_case_of_the_casebook_in_the_classroom(page, studio, shots):
    base, _, folder = studio
    page.goto(f"{base}/#files")
    row = page.locator('#files tr[data-path="cases/pooling/case.yaml"]')
    assert row.locator("td").nth(1).inner_text() == "case"
    assert row.locator("td").nth(2).inner_text() == "ok"
    row.locator("text=open the case").click()
    page.locator("#case-expected").wait_for()
    assert page.inner_text("h2") == "Case: Pooling versus specialisation"
    assert "## Questions" in page.inner_text("#case-story")
    case = yaml.safe_load((folder / "cases" / "pooling" / "case.yaml").read_text())
    expected = [r.locator("td").all_inner_texts()
                for r in page.locator("#case-expected tr").all()[1:]]
    assert len(expected) == 5 and ["after.yaml", "wait_mean.qualify_web", "met"] in expected
    page.click("#case-go")
    page.locator("#case-verdicts").wait_for()
    found = [r.locator("td").all_inner_texts() for r in page.locator("#case-verdicts tr").all()[1:]]
    # The case's own replications and seed: every verdict holds (as tests/test_cases.py
    # checks without the browser).
    assert [(r[0], r[2]) for r in found] == [(e[0], e[2]) for e in expected]
    assert all(r[3] == r[2] and r[4] == "as expected" for r in found), found
    assert page.inner_text("#case-score").startswith(
        f"5 of 5 verdicts as the case expects ({case['replications']} replications")
    page.screenshot(path=str(shots / "classroom-case.png"), full_page=True)
