"""Report renderers: one module per format, each writing the report's file to a path.

``render_report`` is the one entry point (``services.report_generate`` calls it);
every renderer streams findings from the database, so memory does not grow with
the size of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pdf_worker runs in processes without Django: import nothing here
    from ..models import Report


@dataclass(frozen=True)
class RenderCounts:
    hosts: int
    findings: int


def render_report(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    from ..models import ReportFormat
    from . import csv_report, html_report, pdf_report

    renderer = {
        ReportFormat.PDF: pdf_report.render,
        ReportFormat.CSV: csv_report.render,
        ReportFormat.HTML: html_report.render,
    }[ReportFormat(report.format)]
    return renderer(report=report, path=path, progress=progress)
