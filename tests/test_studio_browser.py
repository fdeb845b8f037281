"""salessim studio in a real browser: headless Chromium, driven by Playwright.

The studio runs as the command starts it (a subprocess over a folder holding the B2B
baseline and two of its redesigns); the page is used as a consultant would: open a file,
break a key and see the error on its line, fix it, change a headcount in the form, save as
a redesign, save, meet a file changed on disk, run with progress, cancel a long run,
compare, move a what-if slider. With ``SALESSIM_STUDIO_SCREENSHOTS=docs/studio`` the
screenshots of docs/studio.md are written there (otherwise into a temporary folder).
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import headless_chromium
from salessim.output import process_running
from studio_page import REPO, get, running_studio, screenshots, studio_tab

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("studio")]
pytest.importorskip("starlette", reason="the studio extra is missing: pip install "
                    "'salessim[studio]'")

_get = get


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshots(tmp_path_factory)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The studio over a folder of the B2B baseline, two redesigns and the CRM example."""
    folder = tmp_path_factory.mktemp("studio") / "client"
    (folder / "redesigns").mkdir(parents=True)
    shutil.copy(REPO / "scenarios" / "b2b_baseline.yaml", folder)
    for name in ("one_more_se.yaml", "faster_first_response.yaml"):
        shutil.copy(REPO / "scenarios" / "redesigns" / name, folder / "redesigns")
    (folder / "crm").mkdir()
    for name in ("calibrated.yaml", "one_more_owner.yaml", "stage_history.csv"):
        shutil.copy(REPO / "examples" / "crm" / name, folder / "crm")
    with running_studio(folder) as running:
        yield running


@pytest.fixture(scope="module")
def page(studio):
    base, token, _ = studio
    with headless_chromium() as browser, studio_tab(browser, base, token) as tab:
        yield tab


def test_without_the_token_everything_is_refused(studio):
    base, token, _ = studio
    for path in ("/", "/api/files", "/api/file?path=b2b_baseline.yaml",
                 "/files/b2b_baseline.yaml", "/static/studio.js"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=30)
        assert err.value.code == 403, path
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(base, "/api/files", token + "x")
    assert err.value.code == 403
    assert err.value.read() == b'{"error":"the studio\'s token is required"}'
    request = urllib.request.Request(base + "/api/run", method="POST",
                                     data=b'{"path": "b2b_baseline.yaml"}')
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 403
    request = urllib.request.Request(base + "/", headers={"X-Studio-Token": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert [f["path"] for f in _get(base, "/api/files", token)["files"]] == [
        "b2b_baseline.yaml", "crm/calibrated.yaml", "crm/one_more_owner.yaml",
        "redesigns/faster_first_response.yaml", "redesigns/one_more_se.yaml"]


def test_the_files_page_lists_each_file_with_its_state(page, studio, shots):
    page.goto(f"{studio[0]}/#files")
    rows = page.locator("#files tr[data-path]")
    rows.first.wait_for()
    states = {r.get_attribute("data-path"): r.locator("td").nth(2).inner_text()
              for r in rows.all()}
    assert states == {"b2b_baseline.yaml": "ok", "redesigns/faster_first_response.yaml": "ok",
                      "redesigns/one_more_se.yaml": "ok", "crm/calibrated.yaml": "ok",
                      "crm/one_more_owner.yaml": "ok"}
    page.screenshot(path=str(shots / "files.png"), full_page=True)
    # A new redesign of the baseline, opened in the editor.
    page.locator("#new-name").fill("redesigns/blank.yaml")
    page.locator("#new-as").select_option("redesign")
    page.locator("#new-from").select_option("b2b_baseline.yaml")
    page.click("#new-go")
    page.locator("#problems li.ok").wait_for()
    assert "extends: ../b2b_baseline.yaml" in page.locator("#editor").input_value()
    assert (studio[2] / "redesigns" / "blank.yaml").is_file()


def test_paths_outside_the_folder_are_refused(page, studio, tmp_path):
    base, _, folder = studio
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: secret\n")
    (folder / "escape.yaml").symlink_to(secret)
    try:
        for path in ("../secret.yaml", str(secret), "escape.yaml"):
            answer = page.request.get(f"{base}/api/file?path={path}")
            assert answer.status == 403, path
            assert "secret" not in answer.json().get("text", "")
        answer = page.request.post(f"{base}/api/save", data={
            "path": "../written.yaml", "text": "name: x\n", "version": None})
        assert answer.status == 403 and "'..' are refused" in answer.json()["error"]
        assert not (folder.parent / "written.yaml").exists()
        page.goto(f"{base}/files/%2e%2e%2fsecret.yaml")
        assert "403" in page.inner_text("body")
        # /files/ serves the studio's outputs only; the scenarios go through the API.
        answer = page.request.get(f"{base}/files/b2b_baseline.yaml")
        assert answer.status == 403 and "only the studio's outputs" in answer.text()
    finally:
        (folder / "escape.yaml").unlink()


def _editor_text(page) -> str:
    return page.locator("#editor").input_value()


def test_edit_break_fix_form_and_save_as_redesign(page, studio, shots):
    base, _, folder = studio
    original = (folder / "b2b_baseline.yaml").read_text()
    page.goto(f"{base}/#edit/b2b_baseline.yaml")
    page.locator("#diagram svg").wait_for()
    assert "valid" in page.inner_text("#problems")
    # Break a key: the loader's message shows on its line, and in the list as validate says it.
    broken = original.replace("horizon: 365", "horizn: 365")
    line = broken.splitlines().index("horizn: 365") + 1
    page.locator("#editor").fill(broken)
    marked = page.locator(f'.line-error[data-line="{line}"]')
    marked.wait_for()
    assert "horizn" in marked.inner_text() and "unknown key" in marked.inner_text()
    assert f"b2b_baseline.yaml:{line}: horizn: unknown key (did you mean 'horizon'?)" in \
        page.inner_text("#problems")
    assert page.inner_text("#dirty") == "unsaved changes"
    page.screenshot(path=str(shots / "editor-error.png"), full_page=False)
    # Fix it: the marks go, the diagram is redrawn.
    page.locator("#editor").fill(original)
    page.locator("#problems li.ok").wait_for()
    assert page.locator(".line-error").count() == 0
    # The form: one more solutions engineer, written into the YAML with comments kept.
    page.locator('#form input[data-group="roles"][data-name="se"]').fill("3")
    page.click("#form-apply")
    page.wait_for_function("document.getElementById('editor').value.includes('headcount: 3, "
                           "cost_per_hour: 80')")
    edited = _editor_text(page)
    changed = [x for x in difflib.ndiff(original.splitlines(), edited.splitlines())
               if x.startswith(("+ ", "- "))]
    assert changed == [
        "-   se:    {headcount: 2, cost_per_hour: 80, description: solutions engineers}",
        "+   se:    {headcount: 3, cost_per_hour: 80, description: solutions engineers}"]
    assert "rate: 8            # leads per day" in edited  # comments and alignment kept
    page.screenshot(path=str(shots / "editor.png"), full_page=False)
    # Save as redesign: only the difference, read back from the disk.
    page.locator("#redesign-name").fill("redesigns/third_se.yaml")
    page.click("#redesign-save")
    page.locator("#redesign-text").wait_for()
    written = folder / "redesigns" / "third_se.yaml"
    assert yaml.safe_load(written.read_text()) == {"extends": "../b2b_baseline.yaml",
                                                   "roles": {"se": {"headcount": 3}}}
    assert page.inner_text("#redesign-text").strip() == written.read_text().strip()
    assert (folder / "b2b_baseline.yaml").read_text() == original  # the base is not saved
    # The stage form: routing odds are written into their line, comments kept.
    page.locator('#stage-form input[data-stage="qualify"][data-target="discovery"]').fill("0.35")
    page.locator('#stage-form input[data-stage="qualify"][data-target="lost"]').fill("0.65")
    page.locator('#stage-form input[data-stage="discovery"][data-field="delay.mean"]').fill("4")
    page.click("#form-apply")
    page.wait_for_function("document.getElementById('editor').value.includes("
                           "'next: {discovery: 0.35, lost: 0.65}')")
    text = _editor_text(page)
    assert "    delay: {dist: lognormal, mean: 4, cv: 1.0}      # finding a slot with the buyer" \
        in text.splitlines()
    page.locator("#problems li.ok").wait_for()
    page.evaluate("state.dirty = false")  # leave without saving (the next test saves)
    page.goto(f"{base}/#files")


def test_save_keeps_a_backup_and_never_overwrites_another_editor(page, studio):
    base, _, folder = studio
    path = folder / "b2b_baseline.yaml"
    original = path.read_text()
    page.goto(f"{base}/#edit/b2b_baseline.yaml")
    page.locator("#diagram svg").wait_for()
    page.locator("#editor").fill(original.replace("seed: 2026", "seed: 2027"))
    page.click("#save")
    page.wait_for_function("document.getElementById('dirty').textContent === 'saved'")
    assert "seed: 2027" in path.read_text()
    backups = list((folder / ".studio-backups").glob("b2b_baseline.yaml.*"))
    assert [b.read_text() for b in backups] == [original]
    # Another editor saves the file: the page says so, and its save does not overwrite.
    theirs = original.replace("seed: 2026", "seed: 99")
    path.write_text(theirs)
    page.locator("#changed-on-disk").wait_for()
    page.locator("#editor").fill(original.replace("seed: 2026", "seed: 5"))
    page.click("#save")
    page.locator("#conflict").wait_for()
    assert "changed on disk" in page.inner_text("#conflict")
    assert path.read_text() == theirs
    path.write_text(original)  # as it was, for the runs below
    page.evaluate("state.dirty = false")


def test_run_shows_estimates_while_it_runs_and_links_the_report(page, studio, shots):
    base, _, folder = studio
    page.goto(f"{base}/#run/b2b_baseline.yaml")
    page.locator("#run-n").fill("6")
    page.click("#run-go")
    # Estimates with intervals appear before the run ends.
    page.wait_for_function("(() => { const s = document.getElementById('job-state');"
                           " return s && s.dataset.state === 'running' &&"
                           " document.querySelector('#kpis tr[data-kpi]'); })()")
    page.locator('#job-state[data-state="done"]').wait_for()
    page.locator("#report-link").wait_for()
    rows = {r.get_attribute("data-kpi"): r.locator("td").all_inner_texts()
            for r in page.locator("#kpis tr[data-kpi]").all()}
    label, mean, ci, unit = rows["win_rate"]
    assert label == "Win rate" and unit == "share" and mean.endswith("%")
    assert re.fullmatch(r"\[\d+\.\d%, \d+\.\d%\]", ci), ci
    assert rows["cycle_time_won_median"][3] == "days"
    page.screenshot(path=str(shots / "run.png"), full_page=True)
    href = page.get_attribute("#report-link", "href")
    report = page.request.get(base + href)
    assert report.status == 200 and "<html" in report.text()
    out = folder / Path(href.removeprefix("/files/")).parent
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "run" and record["replications"] == 6
    assert record["seed"] == 2026 and "report.html" in record["files"]
    # The same run again: from the cache, at once.
    page.click("#run-go")
    page.locator("#job-state", has_text="from the cache").wait_for()
    assert page.get_attribute("#report-link", "href") == href


def test_cancel_a_long_run_leaves_no_worker(page, studio):
    base, token, _ = studio
    page.goto(f"{base}/#run/b2b_baseline.yaml")
    page.locator("#run-n").fill("1000")
    page.click("#run-go")
    page.wait_for_function("(() => { const s = document.getElementById('job-state');"
                           " return s && s.dataset.state === 'running' &&"
                           " Number(document.getElementById('progress').value) >= 1; })()")
    job = page.evaluate("state.job.id")
    pid = _get(base, f"/api/jobs/{job}", token)["worker_pid"]
    assert process_running(pid)
    page.click("#run-cancel")
    page.locator('#job-state[data-state="cancelled"]').wait_for()
    assert not process_running(pid)
    assert _get(base, f"/api/jobs/{job}", token)["state"] == "cancelled"
    fresh = _get(base, "/api/status", token)["worker_pid"]
    assert fresh != pid and process_running(fresh)  # a new worker for the next run


def test_compare_shows_the_verdicts_and_the_forest_plot(page, studio, shots):
    base, _, folder = studio
    third = folder / "redesigns" / "third_se.yaml"  # written by the editor's test, if it ran
    if not third.exists():
        third.write_text("extends: ../b2b_baseline.yaml\nroles:\n  se: {headcount: 3}\n",
                         encoding="utf-8")
    page.goto(f"{base}/#compare")
    page.locator("#cmp-baseline").select_option("b2b_baseline.yaml")
    page.check('.cmp-redesign[value="redesigns/one_more_se.yaml"]')
    page.check('.cmp-redesign[value="redesigns/third_se.yaml"]')
    page.locator("#cmp-n").fill("5")
    page.click("#cmp-go")
    page.locator("#verdicts").wait_for()
    rows = [r.locator("td").all_inner_texts() for r in page.locator("#verdicts tr").all()[1:]]
    targets = {(r[0], r[2]): r[5] for r in rows}
    assert set(targets) == {("one_more_se", "-30%"), ("one_more_se", "<= 0.60")}
    assert set(targets.values()) <= {"met", "missed", "unsure"}
    # The two redesigns add the same third SE: every difference between them and the
    # baseline is the same, on common random numbers.
    diffs = {}
    for r in page.locator("#differences tr").all()[1:]:
        cells = r.locator("td").all_inner_texts()
        diffs.setdefault(cells[1], []).append(cells[5])
    assert diffs and all(len(set(v)) == 1 for v in diffs.values()), diffs
    assert page.evaluate("document.getElementById('forest').naturalWidth") > 0
    page.screenshot(path=str(shots / "compare.png"), full_page=True)
    href = page.get_attribute("#report-link", "href")
    record = folder / Path(href.removeprefix("/files/")).parent / "compare.json"
    assert json.loads(record.read_text())["command"] == "compare"


def test_whatif_slider_reruns_on_common_random_numbers(page, studio, shots):
    base, token, _ = studio
    page.goto(f"{base}/#whatif/b2b_baseline.yaml")
    page.locator("#wi-n").fill("3")
    slider = page.locator('#sliders input[data-key="roles.se.headcount"]')
    slider.evaluate("s => { s.value = 3; s.dispatchEvent(new Event('input')); }")
    page.locator("#whatif").wait_for()
    rows = {r.locator("td").nth(0).inner_text(): r.locator("td").all_inner_texts()
            for r in page.locator("#whatif tr").all()[1:]}
    kpi, before, after, diff, ci, change = rows["Leads created (cohort)"]
    assert before == after and ci == "[0, 0]"  # same random numbers: the same leads
    # The role the slider moved: a third SE is less busy, and the paired interval says so.
    kpi, before, after, diff, ci, change = rows["Utilisation of se"]
    low, high = (float(x.split()[0]) for x in ci.strip("[]").split(", "))
    assert diff.startswith("-") and low < high < 0, ci
    # The next move runs only the changed scenario: the baseline's replications are kept.
    first = page.evaluate("state.job.id")
    slider.evaluate("s => { s.value = 4; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function(f"state.job.id !== '{first}'")
    job = {"state": "queued", "id": page.evaluate("state.job.id")}
    while job["state"] in ("queued", "running"):
        page.wait_for_timeout(100)
        job = _get(base, f"/api/jobs/{job['id']}", token)
    assert job["result"]["baseline_reused"] and job["result"]["sets"] == [
        "roles.se.headcount=4"]
    page.screenshot(path=str(shots / "whatif.png"), full_page=True)


def test_classroom_puts_the_formulas_beside_the_simulation(page, studio, shots):
    base, _, folder = studio
    page.goto(f"{base}/#classroom/b2b_baseline.yaml")
    page.locator("#cls-n").fill("2")
    page.click("#cls-go")
    page.locator("#versus").wait_for()
    versus = page.inner_text("#versus").splitlines()
    assert versus[0] == "Formulas against the simulation (salessim analyse):"
    rows = [line.split() for line in versus[3:]]
    assert rows and all(r[-1] in ("yes", "no") for r in rows)
    assert any(r[0] == "conversion.qualify" and r[1] == "0.3" for r in rows)
    assert re.match(r"(inbound|events)-1: created by source (inbound|events) at day ",
                    page.inner_text("#trace"))
    href = page.get_attribute("#animation-link", "href")
    assert page.request.get(base + href).status == 200
    assert (folder / href.removeprefix("/files/")).is_file()
    page.screenshot(path=str(shots / "classroom.png"), full_page=False)


def test_forecast_gives_the_chance_to_reach_the_quota_and_a_redesign_value(page, studio, shots):
    base, _, folder = studio
    page.goto(f"{base}/#forecast")
    page.locator("#fc-scenario").select_option("crm/calibrated.yaml")
    page.locator("#fc-pipeline").select_option("crm/stage_history.csv")
    page.locator("#fc-until").fill("2026-09-30")
    page.locator("#fc-quota").fill("1800000")
    page.locator("#fc-redesign").select_option("crm/one_more_owner.yaml")
    page.locator("#fc-n").fill("5")
    page.click("#fc-go")
    page.locator("#fc-summary").wait_for()
    chance = page.inner_text("#fc-quota-chance")
    match = re.fullmatch(r"Chance to reach 1,800,000: (\d+\.\d)% \(95% CI (\d+\.\d)% to "
                         r"(\d+\.\d)%\)", chance)
    assert match, chance
    p, low, high = (float(x) for x in match.groups())
    assert low <= p <= high
    summary = page.inner_text("#fc-summary")
    assert "chance to reach the quota of 1,800,000" in summary
    assert "one_more_owner" in summary and "deals that matter most" in summary
    assert page.evaluate("document.getElementById('fan').naturalWidth") > 0
    page.screenshot(path=str(shots / "forecast.png"), full_page=False)
    href = page.get_attribute("#report-link", "href")
    record = json.loads((folder / href.removeprefix("/files/")).with_name("run.json").read_text())
    assert record["command"] == "forecast" and record["quota"] == 1800000
