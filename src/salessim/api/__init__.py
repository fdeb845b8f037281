"""The public Python API: what ``import salessim`` gives a notebook.

Each entry point takes Scenario objects (or files) and returns a report object with
``summary()`` (text), ``to_frame()`` (a pandas DataFrame) and ``plot()`` (a matplotlib
Figure, never shown); the ``salessim`` command is a thin shell over the same functions.
See docs/python.md for a walk-through.

The names load on first use (``salessim.run`` imports the engine, not ``salessim --help``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module of this package that defines it.
ENTRY_POINTS: dict[str, str] = {
    "load": "scenarios", "save": "scenarios", "run": "runs", "RunReport": "runs",
    "compare": "comparing", "ComparisonReport": "comparing",
    "analyse": "analysis", "AnalysisReport": "analysis",
    "optimise": "studies", "OptimisationReport": "studies",
    "calibrate": "studies", "CalibrationReport": "studies",
    "forecast": "forecasting", "ForecastReport": "forecasting",
    "backtest": "backtesting", "BacktestReport": "backtesting",
}

__all__ = ["Scenario", "ScenarioError", "SalessimError", "evolve", *ENTRY_POINTS]


def entry_point(name: str) -> Any:
    """The public object ``name`` (an entry point, a report class, Scenario or an error)."""
    if name in ENTRY_POINTS:
        return getattr(importlib.import_module(f"salessim.api.{ENTRY_POINTS[name]}"), name)
    if name in ("Scenario", "evolve"):
        from salessim import scenario

        return getattr(scenario, name)
    if name in ("ScenarioError", "SalessimError"):
        from salessim import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'salessim' has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    return entry_point(name)
