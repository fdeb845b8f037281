"""docs/limits.md states every limit of this round with the value the code uses."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_limits_page_states_the_new_limits_in_the_code():
    from salessim.calibrate import bounds
    from salessim.experiments.spec import MAX_INT_LEVEL
    from salessim.forecast.backtest import MAX_FORECASTS
    from salessim.runlength import MIN_PRECISION
    from salessim.scenario import size, yamlread

    text = " ".join((ROOT / "docs" / "limits.md").read_text().split())
    for value in (yamlread.MAX_NODES, size.MAX_HEADCOUNT, size.MAX_CYCLES,
                  size.ZERO_TIME_TURNS, MAX_FORECASTS, MAX_INT_LEVEL, size.WAITING_LEAD_BYTES):
        assert f"{value:,}" in text, value
    assert "at most 1e15" in text and size.MAX_MEAN == 1e15
    assert "at most 1e15" in text and bounds.MAX_AMOUNT == 1e15
    assert f"{size.WARN_WAITING_BYTES // 1024**3} GiB" in text
    assert f"{MIN_PRECISION:.4%}" in text
    assert f"from {bounds.FIRST_DATE:%Y-%m-%d} to {bounds.LAST_DATE:%Y-%m-%d}" in text
    assert size.MIN_INTERVAL_HOURS == 1 / 60 and "at least a minute" in text
    assert "`.staging-<pid>-<random>-<name>`" in text
    assert "FUZZ_COUNTS" not in text  # the longer run's counts are filled in
