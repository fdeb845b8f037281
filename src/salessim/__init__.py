"""salessim: simulate, compare and optimise sales processes.

Leads flow through the stages of a sale as SimPy processes; sales staff are SimPy
resources; a scenario is a YAML file. The library is usable from a notebook with one
import; the ``salessim`` command is a thin shell over it::

    import salessim
    base = salessim.load("scenarios/tutorial.yaml")
    more = salessim.evolve(base, {"roles.ae.headcount": 3})
    print(salessim.compare(base, more, replications=5).summary())

Entry points: :func:`load`, :func:`evolve`, :func:`run`, :func:`compare`, :func:`analyse`,
:func:`optimise`, :func:`calibrate`, :func:`forecast`, :func:`backtest` (see
:mod:`salessim.api` and docs/python.md). They load on first use, so ``import salessim``
and ``salessim --help`` stay fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = [
    "AnalysisReport", "BacktestReport", "CalibrationReport", "ComparisonReport",
    "ForecastReport", "OptimisationReport", "RunReport", "SalessimError", "Scenario",
    "ScenarioError", "__version__", "analyse", "backtest", "calibrate", "compare", "evolve",
    "forecast",
    "load", "optimise", "run", "save",
]


def __getattr__(name: str) -> Any:
    """``__version__`` and the public API, each loaded when first asked for (importing
    importlib.metadata alone costs a tenth of a second that ``salessim --help`` need not
    pay)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("salessim")
        except PackageNotFoundError:  # running from a source tree that was never installed
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    if name in ENTRY_MODULES:  # importing it sets the attribute (see _Package)
        return importlib.import_module(f"{__name__}.{name}")
    if name not in __all__:
        raise AttributeError(f"module 'salessim' has no attribute {name!r}")
    from salessim.api import entry_point

    value = entry_point(name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


#: Entry points that share their name with a module of the library (``salessim.compare``
#: is the comparison module and the function a notebook calls): such a module is made
#: callable when it is imported, and calling it calls the entry point.
ENTRY_MODULES = ("analyse", "calibrate", "compare", "forecast", "optimise")


class _EntryModule(types.ModuleType):
    """A library module that is also an entry point: ``salessim.compare(base, other)``
    calls :func:`salessim.api.comparing.compare`, while ``salessim.compare.Comparison``
    and ``from salessim.compare import ...`` are the module's as ever."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from salessim.api import entry_point

        return entry_point(self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    """This package: it makes the modules named in :data:`ENTRY_MODULES` callable as the
    import system sets them on it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ENTRY_MODULES and type(value) is types.ModuleType:
            value.__class__ = _EntryModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
