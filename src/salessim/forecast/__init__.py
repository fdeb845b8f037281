"""Forecasting bookings from the open pipeline: ``salessim forecast``.

:func:`read_pipeline` takes the deals open at an as-of date from a file;
:func:`run_forecast` simulates the bookings to a date from them and the leads to come.

The names below load on first use: ``compare`` imports :mod:`salessim.forecast.hire`,
and this package's first import must not bring in the calibration and scipy.stats with it.
"""

from __future__ import annotations

import importlib

_FROM = {"Snapshot": "deals", "parse_date": "deals", "parse_until": "deals",
         "read_pipeline": "deals", "until_text": "deals",
         "DEFAULT_REPLICATIONS": "simulate", "Forecast": "simulate",
         "forecast_scenario": "simulate", "paired": "simulate", "run_forecast": "simulate",
         "win_probability": "simulate"}

__all__ = ["DEFAULT_REPLICATIONS", "Forecast", "Snapshot", "forecast_scenario", "paired",
           "parse_date", "parse_until", "read_pipeline", "run_forecast", "until_text",
           "win_probability"]


def __getattr__(name: str):
    if name in _FROM:
        return getattr(importlib.import_module(f"salessim.forecast.{_FROM[name]}"), name)
    raise AttributeError(f"module 'salessim.forecast' has no attribute {name!r}")
