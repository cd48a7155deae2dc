"""The parts PDF and HTML reports share: the stylesheet, the cover, the body chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import mark_safe

from .. import selectors
from ..models import Report
from .chart import severity_chart_svg
from .content import iter_chunks, iter_findings, iter_sections

# Findings fetched per database round trip.
FETCH_ROWS = 2000


@cache
def report_css() -> str:
    """The print stylesheet, read from disk and handed to WeasyPrint as a string:
    the PDF renderer fetches nothing (see pdf_worker.InlineOnlyFetcher)."""
    path = finders.find("css/report.css")
    return Path(path).read_text(encoding="utf-8")


@dataclass
class Document:
    report: Report
    generated_at: object
    summary: selectors.ReportSummary
    cover_html: str
    detections: object
    vulnerabilities: dict

    def chunks(self, rows: int) -> Iterator[tuple[str, int]]:
        """The body as HTML fragments of about ``rows`` findings each (and their count)."""
        template = get_template("reports/document/sections.html")
        findings = iter_findings(self.detections, self.vulnerabilities, FETCH_ROWS)
        sort = self.report.sort
        for sections in iter_chunks(iter_sections(findings, sort), rows):
            pairs = [(s, s.lines(sort)) for s in sections]
            yield (
                template.render({"sections": pairs, "sort": sort}),
                sum(len(s.findings) for s in sections),
            )


def prepare(*, report: Report) -> Document:
    detections = selectors.report_detections(report=report)
    vulnerabilities = selectors.report_vulnerabilities(detections=detections)
    summary = selectors.report_summary(report=report, detections=detections)
    generated_at = timezone.localtime()
    cover_html = get_template("reports/document/cover.html").render(
        {
            "report": report,
            "summary": summary,
            "generated_at": generated_at,
            "target_lines": selectors.report_target_lines(report=report),
            "chart": mark_safe(severity_chart_svg(summary.by_severity)),  # noqa: S308 - built from ints
        }
    )
    return Document(
        report=report,
        generated_at=generated_at,
        summary=summary,
        cover_html=cover_html,
        detections=detections,
        vulnerabilities=vulnerabilities,
    )
