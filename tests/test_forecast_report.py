"""The forecast's report: the weighted pipeline's gap (formula, capacity, timing), the
figures' data, and the page in headless Chromium."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import pytest
from tests.test_report_browser import _OVERFLOW, VIEWPORT

from conftest import headless_chromium
from salessim import cli
from salessim.forecast import read_pipeline, run_forecast
from salessim.forecast.gap import STAFF_FACTOR, PipelineGap, pipeline_gap, unlimited_staff
from salessim.forecast.report import fan_figure, forecast_report
from salessim.scenario import load_scenario

#: qualify -> pitch (1/2); pitch -> won (1/2), back to qualify (1/5), lost: so the chance to
#: be won is 0.5 / 0.9 from pitch and half that from qualify.
ROUTED = textwrap.dedent("""\
    name: report check
    time_unit: day
    horizon: 90
    seed: 11
    roles:
      ae: {headcount: 1}
    sources:
      web: {rate: 0.000001, deal_value: 1000}
    entry: qualify
    stages:
      qualify:
        delay: {dist: exponential, mean: 2}
        next: {pitch: 0.5, lost: 0.5}
      pitch:
        STAFF
        delay: {dist: lognormal, mean: 3, cv: 0.8}
        next: {won: 0.5, qualify: 0.2, lost: 0.3}
    """)


def _files(tmp_path, staff: str, deals: int):
    text = ROUTED.replace("STAFF", staff or "description: customer time only")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    rows = ["deal_id,stage,entered_stage_at,amount,source"]
    rows += [f"D{i},{'pitch' if i % 3 else 'qualify'},2026-03-0{1 + i % 5},{1000 * (1 + i)},web"
             for i in range(deals)]
    (tmp_path / "open.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    scenario = load_scenario(tmp_path / "s.yaml")
    return scenario, read_pipeline(tmp_path / "open.csv", scenario)


def test_without_staff_and_time_enough_the_simulation_expects_the_weighted_pipeline(tmp_path):
    scenario, snap = _files(tmp_path, "", 12)
    forecast = run_forecast(scenario, snap, snap.as_of + pd.Timedelta(days=400), 400, seed=3)
    exact = sum(d["value"] * (0.5 / 0.9 if d["stage"] == "pitch" else 0.25 / 0.9)
                for d in snap.deals)
    gap = pipeline_gap(forecast)
    assert math.isclose(gap.weighted, exact, rel_tol=1e-12)
    # No deal is still open after 400 days of stages lasting days: the mean bookings of the
    # open deals estimate the weighted pipeline itself.
    assert gap.still_open == 0 and gap.capacity == 0 and not gap.staffed
    assert abs(gap.simulated_mean - exact) <= 4 * gap.standard_error
    assert "no stage needs staff" in gap.sentence(forecast.until)


def test_a_short_handed_team_shows_as_capacity(tmp_path):
    scenario, snap = _files(tmp_path, "role: ae\n    work: {dist: exponential, mean: 3}", 21)
    until = snap.as_of + pd.Timedelta(days=20)
    forecast = run_forecast(scenario, snap, until, 60, seed=5)
    more = unlimited_staff(scenario)
    assert more.roles["ae"].headcount == STAFF_FACTOR and more.stages == scenario.stages
    uncapped = run_forecast(more, snap, until, 30, seed=5)
    gap = pipeline_gap(forecast, uncapped)
    # One AE works about 7 deals in 20 days, ten work them all: far outside the interval.
    assert gap.staffed and gap.capacity_low > 0.1 * gap.weighted
    assert math.isclose(gap.weighted - gap.simulated_mean, gap.capacity + gap.timing)
    assert f"with {STAFF_FACTOR} times the staff" in gap.sentence(until)


def _gap(**change) -> PipelineGap:
    base = dict(weighted=1000.0, simulated_mean=700.0, simulated_p50=690.0, still_open=400.0,
                capacity=100.0, capacity_low=50.0, capacity_high=150.0, staffed=True,
                standard_error=10.0)
    return PipelineGap(**{**base, **change})


def test_the_sentence_names_each_cause():
    until = pd.Timestamp("2026-10-01")  # --until 2026-09-30: that whole day
    text = _gap().sentence(until)
    assert "is 1,000;" in text and "300 less" in text  # amounts of 1,000 and up: separators
    assert "bring 100 more by the end of 2026-09-30 (95% CI 50 to 150)" in text
    assert "the other 200 is mostly deals that close after the end of 2026-09-30" in text
    assert "400 of value is still open" in text
    text = _gap(capacity=5.0, capacity_low=-20.0, capacity_high=30.0).sentence(until)
    assert "the staff keep up" in text
    # Timing within twice the standard error is called noise, not timing.
    assert "within the simulation's noise (+/- 20)" in _gap(
        simulated_mean=885.0).sentence(until)
    assert "more than timing and capacity explain" in _gap(simulated_mean=950.0).sentence(until)


def test_the_fan_ends_at_the_bookings_and_its_line_is_the_median(tmp_path):
    scenario, snap = _files(tmp_path, "", 9)
    forecast = run_forecast(scenario, snap, snap.as_of + pd.Timedelta(days=30.5), 50, seed=2)
    assert np.array_equal(forecast.cumulative[:, -1], forecast.bookings)
    fig = fan_figure(forecast, quota=5000.0, booked=250.0)
    line = fig.axes[0].lines[0].get_ydata()
    cum = 250.0 + np.hstack([np.zeros((50, 1)), forecast.cumulative])
    assert np.allclose(line, np.quantile(cum, 0.5, axis=0))
    # A redesign adds its own median line (here the same forecast: the same line).
    lines = fan_figure(forecast, booked=250.0, others=[("again", forecast)]).axes[0].lines
    assert len(lines) == 2 and np.array_equal(lines[1].get_ydata(), line)
    page = forecast_report(forecast, quota=5000.0, booked=250.0)
    assert set(page.pngs) == {"forecast_fan", "forecast_distribution", "forecast_split",
                              "forecast_deals", "forecast_weighted"}
    assert page.html.count("data:image/png;base64,") == 5


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast-browser")
    _files(root, "role: ae\n    work: {dist: exponential, mean: 1}", 15)
    (root / "two.yaml").write_text("extends: s.yaml\nname: a second AE\n"
                                   "roles: {ae: {headcount: 2}}\n", encoding="utf-8")
    out = root / "out"
    assert cli.main(["forecast", str(root / "s.yaml"), "--pipeline", str(root / "open.csv"),
                     "--until", "2026-04-30", "--quota", "40000", "--redesign",
                     str(root / "two.yaml"), "-n", "30", "--workers", "1",
                     "--out", str(out)]) == 0
    return out / "report.html"


@pytest.mark.browser
def test_forecast_report_in_a_headless_browser(report_path):
    with headless_chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(report_path.as_uri())
        page.wait_for_load_state("load")
        box = page.locator("#summary").bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
        text = page.locator("#summary").inner_text()
        assert "P10" in text and "P90" in text and "Chance to reach the quota" in text
        assert "weighted pipeline" in text
        headings = page.locator("h2").all_inner_texts()
        assert headings[0] == "Summary" and headings[-1].startswith("Appendix")
        assert "Redesigns on the same random numbers" in headings
        images = page.evaluate(
            "() => Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth])")
        assert len(images) == 5
        for ident, complete, width in images:
            assert complete and width > 0, ident
        assert page.locator("#redesigns tbody tr").count() == 4
        assert page.evaluate(_OVERFLOW) == []
