"""Forecasting bookings from the open pipeline: ``salessim forecast``.

:func:`read_pipeline` takes the deals open at an as-of date from a file;
:func:`run_forecast` simulates the bookings to a date from them and the leads to come.
"""

from salessim.forecast.deals import Snapshot, parse_date, parse_until, read_pipeline, until_text
from salessim.forecast.simulate import (
    DEFAULT_REPLICATIONS,
    Forecast,
    forecast_scenario,
    paired,
    run_forecast,
    win_probability,
)

__all__ = ["DEFAULT_REPLICATIONS", "Forecast", "Snapshot", "forecast_scenario", "paired",
           "parse_date", "parse_until", "read_pipeline", "run_forecast", "until_text",
           "win_probability"]
