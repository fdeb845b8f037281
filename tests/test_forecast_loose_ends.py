"""Loose ends of the forecast found on a real log (issue 22, item 7): end names as
``calibrate`` takes them, an as-of date after a history's end, the event log's dates, the
overlap note of a single window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.forecast_histories import history, truth

from salessim import cli
from salessim.forecast.backtest import as_of_dates, run_backtest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "crm" / "stage_history.csv"
CALIBRATED = ROOT / "examples" / "crm" / "calibrated.yaml"


@pytest.fixture(scope="module")
def renamed(tmp_path_factory) -> Path:
    """The sample export with its ends called what no default recognises."""
    path = tmp_path_factory.mktemp("ends") / "renamed.csv"
    text = SAMPLE.read_text(encoding="utf-8")
    path.write_text(text.replace("Closed Won", "Signed").replace("Closed Lost", "Dropped"),
                    encoding="utf-8")
    return path


def _forecast(pipeline: Path, out: Path, *extra: str) -> int:
    return cli.main(["forecast", str(CALIBRATED), "--pipeline", str(pipeline), "--as-of",
                     "2026-05-01", "--until", "2026-06-15", "-n", "4", "--workers", "1",
                     "--out", str(out), *extra])


def test_forecast_reads_the_end_names_calibrate_takes(renamed, tmp_path):
    assert _forecast(SAMPLE, tmp_path / "original") == 0
    assert _forecast(renamed, tmp_path / "named", "--won", "Signed", "--lost", "Dropped") == 0
    original = pd.read_csv(tmp_path / "original" / "deals.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "named" / "deals.csv"), original)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "named" / "forecast.csv"),
                                  pd.read_csv(tmp_path / "original" / "forecast.csv"))


def test_backtest_reads_the_end_names_calibrate_takes(renamed, tmp_path, capsys):
    def backtest(path: Path, out: str, *extra: str) -> int:
        return cli.main(["forecast", "--backtest", str(path), "--every", "60 days",
                         "--horizon", "30 days", "-n", "4", "--no-parameter-uncertainty",
                         "--workers", "1", "--out", str(tmp_path / out), *extra])

    assert backtest(SAMPLE, "original") == 0
    assert backtest(renamed, "named", "--won", "Signed", "--lost", "Dropped") == 0
    original = pd.read_csv(tmp_path / "original" / "backtest.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "named" / "backtest.csv"), original)
    assert original["actual"].gt(0).all()
    assert "parameters as calibrated" in capsys.readouterr().out  # the band said so
    # Without the names no deal of the history is ever won: nothing booked to score.
    assert backtest(renamed, "unnamed") == 0
    assert pd.read_csv(tmp_path / "unnamed" / "backtest.csv")["actual"].eq(0).all()


def test_an_end_name_not_in_the_export_is_named(renamed, tmp_path, capsys):
    code = _forecast(renamed, tmp_path / "bad", "--won", "Closed Won")
    assert code == 2
    assert "--won Closed Won: no such stage in the data" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_a_single_window_is_not_said_to_overlap():
    visits = history(truth(), 150.0, seed=4)
    # 150 days: the first as-of date 60 days in, the last 80 days before the end.
    assert len(as_of_dates(visits, 20.0, 80.0, min_exits=0)) == 1
    one = run_backtest(None, 20.0, 80.0, 2, visits=visits, scenario=truth())
    assert one.summary()["overlapping"] is False
    two = run_backtest(None, 5.0, 80.0, 2, visits=visits, scenario=truth())
    assert len(two.windows) > 1 and two.summary()["overlapping"] is True


def test_a_warm_started_run_stamps_its_event_log_from_the_as_of_date(tmp_path):
    import xml.etree.ElementTree as ET

    from salessim.records import LOG_EPOCH

    scenario = tmp_path / "s.yaml"
    scenario.write_text(CALIBRATED.read_text(encoding="utf-8").replace("horizon: ", "horizon: 9"
                        "  # was ", 1), encoding="utf-8")
    out = tmp_path / "run"
    assert cli.main(["run", str(scenario), "--pipeline", str(SAMPLE), "--as-of",
                     "2026-05-01 09:30", "-n", "1", "--workers", "1", "--event-log",
                     "csv,xes", "--out", str(out)]) == 0
    log = pd.read_csv(out / "event_log.csv", parse_dates=["time:timestamp"])
    as_of = pd.Timestamp("2026-05-01 09:30")
    # time 0 is the as-of date: each stamp is it plus the simulated time (days here).
    expected = as_of + pd.to_timedelta(log["time"], unit="D")
    assert (log["time:timestamp"] - expected).abs().max() < pd.Timedelta(microseconds=1)
    # So an open deal's entry into its stage is stamped when the export says it entered.
    raw = pd.read_csv(SAMPLE, parse_dates=["entered_at", "exited_at"])
    open_then = raw[(raw["entered_at"] <= as_of)
                    & ~(raw["exited_at"] <= as_of)].set_index("deal_id")["entered_at"]
    entered = log[(log["event"] == "entered") & (log["time"] < 0)].set_index("lead")
    assert len(entered) == len(open_then) > 10
    gap = (entered["time:timestamp"] - open_then.reindex(entered.index)).abs()
    assert gap.max() < pd.Timedelta(milliseconds=1)
    assert log.loc[log["time"] >= 0, "time:timestamp"].min() == as_of
    stamps = [e.get("value") for e in ET.parse(out / "event_log.xes").iter()
              if e.get("key") == "time:timestamp"][1:]  # the first is the global default
    xes = pd.to_datetime(pd.Series(sorted(stamps))).dt.tz_localize(None)
    both = xes - log["time:timestamp"].sort_values().reset_index(drop=True)
    assert both.abs().max() < pd.Timedelta(milliseconds=2)  # XES keeps milliseconds
    # A run from an empty pipeline keeps the fixed epoch.
    assert cli.main(["run", str(scenario), "-n", "1", "--workers", "1", "--event-log", "csv",
                     "--out", str(tmp_path / "cold")]) == 0
    cold = pd.read_csv(tmp_path / "cold" / "event_log.csv", parse_dates=["time:timestamp"])
    assert cold["time:timestamp"].min() >= pd.Timestamp(LOG_EPOCH)
    assert cold["time:timestamp"].min() < pd.Timestamp(LOG_EPOCH) + pd.Timedelta(days=2)


def test_amounts_of_zero_give_their_share_and_a_lognormal_of_the_rest():
    from scipy import integrate
    from scipy import stats as st

    from salessim.calibrate.estimate import fit_values
    from salessim.calibrate.pipeline import calibrate_visits
    from salessim.calibrate.values import VALUE_BINS
    from salessim.scenario.dists import Empirical

    visits = history(truth(), 150.0, seed=8)
    d = visits.deals
    web = d.index[d["source"] == "web"]
    zero = web[::3]  # a third of the web deals booked at 0
    d.loc[zero, "amount"] = 0.0
    fit = fit_values(visits)["web"]
    spec = fit.spec
    assert spec["dist"] == "empirical" and len(spec["values"]) == VALUE_BINS + 1
    assert spec["values"][0] == 0.0 and spec["weights"][0] == len(zero)
    positive = d.loc[web, "amount"].to_numpy(float)
    positive = positive[positive > 0]
    assert sum(spec["weights"][1:]) == pytest.approx(len(positive), rel=1e-6)
    # The bins' means, by numerical integration of the fitted lognormal's density.
    mu, s = np.log(positive).mean(), np.log(positive).std()
    dist = st.lognorm(s, scale=np.exp(mu))
    for i in (0, 9, VALUE_BINS - 1):
        a, b = dist.ppf(i / VALUE_BINS), dist.ppf((i + 1) / VALUE_BINS)
        mass = integrate.quad(lambda x: x * dist.pdf(x), a, b, limit=200)[0]
        assert spec["values"][i + 1] == pytest.approx(mass * VALUE_BINS, rel=1e-5)
    # The mean: the share of positive amounts x the lognormal's mean.
    share = len(positive) / (len(positive) + len(zero))
    values = Empirical(**spec)
    assert values.mean == pytest.approx(share * dist.mean(), rel=1e-5)
    assert "are 0" in fit.note
    # And what calibrate writes: a short list, not every distinct amount.
    written = calibrate_visits(visits, "<history>", run_backtest=False, report=False)
    deal_value = written.scenario.sources["web"].deal_value
    assert len(deal_value.values) == VALUE_BINS + 1 and deal_value.mean == values.mean
    assert "are 0" in written.yaml


def test_the_week_of_quarter_view_books_the_quarter_as_it_goes():
    from salessim.forecast.quarters import WEEKS, quarter_view

    visits = history(truth(), 200.0, seed=6)  # from Monday 5 January 2026 to 24 July
    view = quarter_view(visits, 8, seed=3, scenario=truth())
    assert list(view["quarter"]) == ["2026Q2"] * WEEKS and list(view["week"]) == [
        *range(1, WEEKS + 1)]
    start, end = pd.Timestamp("2026-04-01"), pd.Timestamp("2026-07-01")
    assert (view["as_of"] == [start + pd.Timedelta(days=7 * k) for k in range(WEEKS)]).all()
    assert (view["until"] == end).all()
    d = visits.deals
    won = d[d["outcome"] == "won"]

    def booked(a, b):
        return won.loc[(won["closed_at"] > a) & (won["closed_at"] <= b), "amount"].sum()

    assert view["actual"].eq(booked(start, end)).all() and view["actual"].iloc[0] > 0
    for row in view.itertuples():
        assert row.booked == pytest.approx(booked(start, row.as_of), rel=1e-12)
        assert row.booked <= row.p10 <= row.p50 <= row.p90  # bookings are never negative
        assert row.error_p50 == pytest.approx(row.p50 - row.actual, rel=1e-12)
        assert row.inside == (row.p10 <= row.actual <= row.p90)
    assert view["booked"].iloc[0] == 0 and view["booked"].is_monotonic_increasing
    # What the command prints of it: per week, the P50's error as a share of the actual.
    from salessim.api.backtesting import quarters_text

    text = quarters_text(view)
    share = view["error_share"].iloc[12]
    assert f"week 13: mean error {share:+.0%}, mean absolute {abs(share):.0%}" in text


def test_quarters_belong_to_the_backtest(tmp_path, capsys):
    from conftest import refused

    refused(capsys, ["forecast", str(CALIBRATED), "--pipeline", str(SAMPLE), "--until",
                     "2026-09-01", "--quarters", "--out", str(tmp_path / "q")],
            "--quarters belongs to --backtest HISTORY")
    assert not (tmp_path / "q").exists()


def test_over_dispersed_arrivals_are_calibrated_simulated_and_kept_by_the_bootstrap():
    import math

    from salessim.calibrate.pipeline import calibrate_visits
    from salessim.forecast.bootstrap import _calibrate_resample, band_name, bootstrap_scenarios
    from salessim.forecast.deals import snapshot_from_visits
    from salessim.forecast.simulate import OVERDISPERSED, PLAIN_BAND, run_forecast

    visits = history(truth(1.0), 150.0, seed=12)
    cal = calibrate_visits(visits, "<history>", run_backtest=False, report=False)
    original = cal.scenario
    effects = {sid: s.profile.day_effect for sid, s in original.sources.items()}
    assert effects["web"] is not None  # the day effect of shape 1 is found ...
    snap = snapshot_from_visits(visits, original)
    until = visits.as_of + pd.Timedelta(days=30)
    fc = run_forecast(original, snap, until, 4, seed=1)
    assert fc.band == PLAIN_BAND + OVERDISPERSED  # ... and the band says it carries it
    assert band_name(3, True) == ("process randomness" + OVERDISPERSED + " and parameter "
                                  "uncertainty (bootstrap, 3 resamples)")
    families = {sid: t.chosen for sid, t in cal.calibration.times.items()}
    scenarios, _ = bootstrap_scenarios(visits, original, 2, 5, "<history>", cal.calibration.touch,
                                       families)
    for b, scenario in enumerate(scenarios):
        raw = _calibrate_resample((visits, b, 5, "<history>", cal.calibration.touch, families))
        for sid, source in scenario.sources.items():
            # The original's day effect (or none), not the resample's own.
            assert source.profile.day_effect == effects[sid] if effects[sid] else (
                source.profile is None or source.profile.day_effect is None)
            r0 = original.sources[sid].rate
            if effects[sid] is None:
                assert source.rate == raw["sources"][sid]["rate"]
                continue
            # The rate's bootstrap deviation widened by sqrt(D), D = 1 + m / k per day.
            d = 1 + r0 / effects[sid].shape
            assert source.rate == pytest.approx(r0 + (raw["sources"][sid]["rate"] - r0)
                                                * math.sqrt(d), rel=1e-12)
