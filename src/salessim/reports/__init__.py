"""Reports: text tables, matplotlib figures and a self-contained HTML report."""

from salessim.reports.report import (
    FIGURE_CAPTIONS,
    REPORT_FILE,
    Report,
    comparison_report,
    run_report,
)

__all__ = ["FIGURE_CAPTIONS", "REPORT_FILE", "Report", "comparison_report", "run_report"]
