"""A back-test a client can read: it warns when it has fewer than 4 windows, says nothing
of overlap for a single window, and draws its windows on an axis of their own dates."""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd
import pytest
from tests.forecast_histories import history, truth

from salessim.api.backtesting import backtest_text
from salessim.forecast.backtest import MIN_WINDOWS, run_backtest


@pytest.fixture(scope="module")
def short_history():
    return history(truth(), 150.0, seed=4)


def _few(bt) -> list[str]:
    return [w for w in bt.warnings if "cannot be judged" in w]


def test_fewer_than_four_windows_are_warned_of(short_history):
    three = run_backtest(None, 30.0, 30.0, 4, visits=short_history, scenario=truth())
    assert len(three.windows) == 3 < MIN_WINDOWS
    (note,) = _few(three)
    # Even 3 of 3 inside leaves a Wilson interval from 44% (a right band holds 80%).
    assert note.startswith("only 3 windows: the coverage of the P10-P90 band cannot be "
                           "judged from fewer than 4 (even 3 of 3 inside leaves a 95% "
                           "interval of 44% to 100%)")
    assert "--every (now 30 days for a 30-day horizon)" in note
    text = backtest_text(three.table(), three.summary(), None, three.warnings)
    assert "Warnings\n- " in text and note in text
    four = run_backtest(None, 20.0, 20.0, 4, visits=short_history, scenario=truth())
    assert len(four.windows) >= MIN_WINDOWS and _few(four) == []


def test_one_window_says_so_and_nothing_of_overlap(short_history):
    one = run_backtest(None, 30.0, 85.0, 4, visits=short_history, scenario=truth())
    assert len(one.windows) == 1
    assert not one.summary()["overlapping"]
    text = backtest_text(one.table(), one.summary(), one.horizon_scores(), one.warnings)
    assert "overlap" not in text
    assert "only 1 window: " in text


def test_the_plot_spans_the_windows_not_years(short_history):
    one = run_backtest(None, 30.0, 85.0, 4, visits=short_history, scenario=truth())
    end = one.windows[0].until
    low, high = (pd.Timestamp(mdates.num2date(x)).tz_localize(None)
                 for x in one.figure().axes[0].get_xlim())
    # A tenth of the horizon either side of the one window's end.
    assert (low, high) == (end - pd.Timedelta(days=8.5), end + pd.Timedelta(days=8.5))
    many = run_backtest(None, 20.0, 20.0, 4, visits=short_history, scenario=truth())
    low, high = many.date_span()
    ends = [w.until for w in many.windows]
    assert low == min(ends) - pd.Timedelta(days=2) and high == max(ends) + pd.Timedelta(days=2)


def test_the_long_example_history_is_what_its_script_generates():
    # examples/crm/long_history.csv: eighteen months of the sample's known process, for a
    # back-test of several windows; generated, not a real log, the same file every time.
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "crm" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = (script.parent / "long_history.csv").read_text(encoding="utf-8")
    assert module.sample(module.LONG_DAYS, module.LONG_SEED).to_csv(index=False) == shipped
    assert module.LONG_SEED != module.SEED  # other random numbers than the short sample's


def test_warnings_of_one_kind_are_said_once():
    from salessim.api.backtesting import _grouped

    notes = ["partial periods: the months 2026-01 are partly in the data (as-of 2026-03-06)",
             "partial periods: the months 2026-04 are partly in the data (as-of 2026-04-05)",
             "only 2 windows: the coverage cannot be judged",
             "partial periods: the months 2026-05 are partly in the data (as-of 2026-05-05)"]
    assert _grouped(notes) == [
        "partial periods: the months 2026-01 are partly in the data (as-of 2026-03-06) (and 2 "
        "more like it at other as-of dates)", "only 2 windows: the coverage cannot be judged"]
