"""A forecast report that adds up: the waterfall reconciles to the unit, ``--until DATE``
takes in that whole day, one P50 with ``--booked``, per-deal chances with their Wilson
intervals, and every client table's number in its unit."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from tests.test_forecast_report import _files, _gap
from tests.test_report_browser import _BROKEN_FIGURES, _OVERFLOW
from tests.test_report_parameters import table_of

from conftest import headless_chromium
from salessim import cli
from salessim.api.forecasting import _timestamp
from salessim.calibrate.estimate import wilson
from salessim.forecast import parse_until, run_forecast, until_text
from salessim.forecast.gap import money, signed_money
from salessim.forecast.report import waterfall_steps
from salessim.forecast.simulate import _period_edges

#: Whole units of money with thousands separators, signed or not: 1,756; -918; +31,241.
MONEY = re.compile(r"[-+]?\d{1,3}(,\d{3})*")


def _amount(label: str) -> int:
    assert MONEY.fullmatch(label), label
    return int(label.replace(",", ""))


@pytest.mark.parametrize("change", [
    {},  # the numbers of the issue: 606,893 - 1,756 - 770.8 did not show 604,367
    {"weighted": 606893.4, "simulated_mean": 604366.2, "capacity": 1756.4},
    {"weighted": 2527.49, "simulated_mean": 3444.9, "capacity": -917.5},
    {"weighted": 10.5, "simulated_mean": 0.4, "capacity": float("nan")},
])
def test_the_waterfall_labels_add_up_to_the_unit(change):
    gap = _gap(**change)
    weighted, capacity, timing, simulated = gap.waterfall()
    assert weighted - capacity - timing == simulated
    assert simulated == round(gap.simulated_mean) and weighted == round(gap.weighted)
    steps = waterfall_steps(gap, pd.Timestamp("2026-10-01"))
    labels = [s[4] for s in steps]
    # The start, its signed changes, and the end: the printed numbers reconcile.
    assert _amount(labels[0]) + _amount(labels[1]) + _amount(labels[2]) == _amount(labels[3])
    assert labels[1][0] in "+-0" and labels[2][0] in "+-0"
    # Each bar ends where the next begins (bottom + height of the changes).
    assert steps[1][1] + steps[1][2] == steps[0][2]
    assert steps[2][1] == steps[3][2] and steps[3][1] == 0
    assert steps[3][0] == "simulated by 2026-09-30"


def test_money_is_whole_units_with_separators():
    assert [money(v) for v in (2527.4, -917.5, 606893.0, 0.2, 42070.0)] == [
        "2,527", "-918", "606,893", "0", "42,070"]
    assert [signed_money(v) for v in (1756.0, -917.5, 0.0)] == ["+1,756", "-918", "0"]


def test_until_a_date_takes_in_that_whole_day():
    assert parse_until("2026-09-30") == pd.Timestamp("2026-10-01")
    assert parse_until("2026-09-30T18:00") == pd.Timestamp("2026-09-30 18:00")
    assert parse_until("2026-09-30 00:00") == pd.Timestamp("2026-09-30")  # a time: itself
    assert _timestamp("2026-09-30", "--until") == pd.Timestamp("2026-10-01")
    assert _timestamp("2026-09-30", "--as-of") == pd.Timestamp("2026-09-30")
    assert until_text(pd.Timestamp("2026-10-01")) == "the end of 2026-09-30"
    assert until_text(pd.Timestamp("2026-09-30 18:00")) == "2026-09-30 18:00"
    # The window (2 July, end of 30 September] has July to September, no empty October.
    _, labels = _period_edges(pd.Timestamp("2026-07-02"), pd.Timestamp("2026-10-01"), "month")
    assert labels == ["2026-07", "2026-08", "2026-09"]


def test_the_help_says_until_takes_in_the_whole_day(capsys):
    with pytest.raises(SystemExit):
        cli.main(["forecast", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a date includes that whole day" in text


def test_a_deal_won_on_the_last_day_counts(tmp_path):
    scenario, snap = _files(tmp_path, "", 9)
    end = parse_until(f"{snap.as_of + pd.Timedelta(days=6):%Y-%m-%d}")
    whole = run_forecast(scenario, snap, end, 40, seed=3)
    midnight = run_forecast(scenario, snap, end - pd.Timedelta(days=1), 40, seed=3)
    # The same random numbers: the extra day only adds wins, and some fall in it.
    assert (whole.totals["won"] >= midnight.totals["won"]).all()
    assert whole.totals["won"].sum() > midnight.totals["won"].sum()


def test_each_deal_chance_has_its_wilson_interval(tmp_path):
    scenario, snap = _files(tmp_path, "", 12)
    forecast = run_forecast(scenario, snap, snap.as_of + pd.Timedelta(days=10), 20, seed=3)
    deals = forecast.deals_table()
    for d in deals.itertuples():
        k = round(d.p_win * 20)
        assert (d.p_win_low, d.p_win_high) == pytest.approx(wilson(k, 20))
        assert d.p_win_low <= d.p_win <= d.p_win_high
    # 20 runs make a chance of 1/2 no surer than about 30% to 70%.
    half = wilson(10, 20)
    assert half[0] < 0.31 and half[1] > 0.69


@pytest.fixture(scope="module")
def booked_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("booked")
    _files(root, "role: ae\n    work: {dist: exponential, mean: 1}", 15)
    (root / "two.yaml").write_text("extends: s.yaml\nname: a second AE\n"
                                   "roles: {ae: {headcount: 2}}\n", encoding="utf-8")
    out = root / "out"
    assert cli.main(["forecast", str(root / "s.yaml"), "--pipeline", str(root / "open.csv"),
                     "--until", "2026-04-30", "--quota", "40000", "--booked", "12345.6",
                     "--redesign", str(root / "two.yaml"), "-n", "30", "--workers", "1",
                     "--out", str(out)]) == 0
    return out


def test_one_p50_with_booked_and_it_says_what_it_includes(booked_out, capsys):
    page = (booked_out / "report.html").read_text(encoding="utf-8")
    table = pd.read_csv(booked_out / "forecast.csv").set_index("kpi")
    bookings = table.loc["bookings", "p50"]
    p50 = re.search(r"already booked plus the bookings from [\d-]+ [\d:]+: P10 [\d,]+, "
                    r"P50 (\d[\d,]*\d)", page)
    assert p50 is not None
    shown = table_of(page, "forecast")
    assert shown.iloc[0, 0] == "total with 12,346 already booked"
    # The summary's P50 is the table's first row, booked included; the window's own is
    # labelled as such beside it.
    assert p50.group(1) == shown.iloc[0]["P50"]
    assert shown.iloc[1, 0] == "bookings in the window"
    assert shown.iloc[1]["P50"] == money(bookings)
    assert abs(_amount(shown.iloc[0]["P50"]) - round(12345.6 + bookings)) <= 1


def test_client_tables_show_numbers_in_their_units(booked_out):
    page = (booked_out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"\d\.\d+e[+-]\d", page) and "True" not in page
    forecast = table_of(page, "forecast").set_index("")
    for label in ("bookings in the window", "from open deals", "from new leads"):
        assert all(MONEY.fullmatch(v) for v in forecast.loc[label]), forecast.loc[label]
    deals = table_of(page, "deals")
    chance = [c for c in deals.columns if c.startswith("chance won")]
    assert chance == ["chance won (95% CI, 30 runs)"]
    assert all(re.fullmatch(r"\d+% \(\d+%-\d+%\)", v) for v in deals[chance[0]])
    assert all(MONEY.fullmatch(v) for v in deals["amount"])
    redesigns = table_of(page, "redesigns").set_index("KPI")
    assert "bookings_from_open" not in set(redesigns.index)
    assert re.fullmatch(r"[\d.]+%", redesigns.loc["chance to reach the quota", "baseline"])
    assert MONEY.fullmatch(redesigns.loc["bookings in the window", "difference"])
    csv = pd.read_csv(booked_out / "deals.csv")
    assert {"p_win_low", "p_win_high"} <= set(csv.columns)
    assert np.all(csv["p_win_low"] <= csv["p_win"]) and np.all(csv["p_win"] <= csv["p_win_high"])


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1400])
def test_the_forecast_report_never_breaks_a_number(booked_out, width):
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto((booked_out / "report.html").as_uri())
        page.wait_for_load_state("load")
        assert page.locator("#deals tbody tr").count() == 15
        assert page.evaluate(_BROKEN_FIGURES) == []
        assert page.evaluate(_OVERFLOW) == []
