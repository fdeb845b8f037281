"""Reports: text tables, the plain-words summary and warnings, matplotlib figures and a
self-contained HTML report.

The HTML report and its figures (matplotlib) load on first use, so the tables and the
summary serve the terminal without importing a plotting library.
"""

from __future__ import annotations

import importlib

__all__ = ["FIGURE_CAPTIONS", "REPORT_FILE", "Report", "comparison_report", "run_report"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("salessim.reports.report"), name)
    raise AttributeError(f"module 'salessim.reports' has no attribute {name!r}")
