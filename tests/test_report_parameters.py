"""The HTML reports of run and compare on a calibrated scenario show each KPI's interval
with the parameters' uncertainty beside the simulation's, under headings that say which is
which, with the numbers of parameters.csv."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
from tests.forecast_histories import history, truth

from conftest import headless_chromium
from salessim import api
from salessim import kpis as registry
from salessim.calibrate.pipeline import calibrate_file
from salessim.calibrate.visits import to_history
from salessim.reports.tables import SIMULATION_ONLY, WITH_PARAMETERS


class _Table(HTMLParser):
    """The header and the cells' text of the table with a given id."""

    def __init__(self, ident: str):
        super().__init__()
        self.ident, self.inside, self.cell = ident, False, None
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.ident:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table_of(page: str, ident: str) -> pd.DataFrame:
    parser = _Table(ident)
    parser.feed(page)
    assert parser.rows, f"no table {ident!r}"
    return pd.DataFrame(parser.rows[1:], columns=parser.rows[0])


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibrated")
    to_history(history(truth(), 123.0, seed=11)).to_csv(folder / "history.csv", index=False)
    calibrate_file(folder / "history.csv", run_backtest=False, report=False).write(
        folder / "cal")
    return folder / "cal"


@pytest.fixture(scope="module")
def run_out(calibrated, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    report = api.run(calibrated / "scenario.yaml", 4, sets=["horizon=150"], resamples=2)
    assert report.parameters is not None
    report.write(out, report=True)
    return out


def test_the_run_report_shows_both_intervals_from_parameters_csv(run_out):
    page = (run_out / "report.html").read_text(encoding="utf-8")
    csv = pd.read_csv(run_out / "parameters.csv").set_index("kpi")
    shown = table_of(page, "parameters").set_index("name")
    sim, both = f"95% CI, {SIMULATION_ONLY}", f"95% CI, {WITH_PARAMETERS}"
    assert list(shown.columns) == ["KPI", "mean", sim, both]
    assert {"won", "win_rate"} <= set(shown.index)
    for kpi, row in shown.iterrows():
        want = csv.loc[kpi]

        def f(v, k=kpi):
            return registry.format_value(k, v, "day")

        assert row["mean"] == f(want["mean"])
        assert row[sim] == f"[{f(want['sim_low'])}, {f(want['sim_high'])}]"
        assert row[both] == f"[{f(want['low'])}, {f(want['high'])}]"
    # The two differ where the parameters matter (the resamples' spread is not all noise).
    assert (shown[sim] != shown[both]).any()
    # The text says what each covers, and the KPI table says its intervals are the simulation's.
    assert "the calibrated parameters taken as true" in page
    assert "also the error of parameters estimated from" in page
    # Every KPI's row of the KPI table has both intervals, parameters.csv's numbers.
    every = table_of(page, "kpis").set_index("name")
    assert [sim, both] == [c for c in every.columns if "CI" in c]
    for kpi in ("won", "revenue", "cycle_time_won_median"):
        want = csv.loc[kpi]

        def g(v, k=kpi):
            return registry.format_value(k, v, "day")

        assert every.loc[kpi, both] == f"[{g(want['low'])}, {g(want['high'])}]"


def test_the_comparison_report_shows_paired_differences_with_both_intervals(calibrated,
                                                                            tmp_path):
    (calibrated / "quicker.yaml").write_text(
        "extends: scenario.yaml\nname: quicker\nstages:\n  proposal:\n"
        "    delay: {dist: exponential, mean: 3}\n", encoding="utf-8")
    report = api.compare(calibrated / "scenario.yaml", calibrated / "quicker.yaml",
                         replications=4, sets=["horizon=150"], resamples=2)
    report.write(tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    csv = pd.read_csv(tmp_path / "parameters.csv").set_index("kpi")
    shown = table_of(page, "parameters").set_index("name")
    both = f"95% CI, {WITH_PARAMETERS}"
    assert list(shown.columns) == ["redesign", "KPI", "difference",
                                   f"95% CI, {SIMULATION_ONLY}", both]
    assert set(shown["redesign"]) == {"quicker"}
    for kpi, row in shown.iterrows():
        want = csv.loc[kpi]

        def f(v, k=kpi):
            return registry.format_difference(k, v, "day")

        assert row["difference"] == f(want["mean"])
        assert row[both] == f"[{f(want['low'])}, {f(want['high'])}]"
    assert "(paired)" in page or "bootstrap" in page


# Without a history (an uncalibrated scenario) the reports have no such table: the exact
# table sets of tests/test_reports.py hold that.


@pytest.mark.browser
def test_the_parameter_table_reads_in_a_browser(run_out, tmp_path):
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        page.goto((run_out / "report.html").as_uri())
        page.wait_for_load_state("load")
        table = page.locator("#parameters")
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        assert box is not None and box["width"] <= 1024
        # Every interval on one line: a row is one line high.
        heights = page.evaluate("() => Array.from(document.querySelectorAll("
                                "'#parameters tbody tr'), r => r.getBoundingClientRect().height)")
        assert heights and max(heights) < 1.6 * min(heights)
        page.screenshot(path=str(tmp_path / "parameters.png"))
        assert (tmp_path / "parameters.png").stat().st_size > 0
