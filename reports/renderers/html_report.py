"""HTML reports: one self-contained file (stylesheet inline), written chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.template.loader import get_template

from ..models import Report
from . import RenderCounts
from .document import prepare, report_css

CHUNK_ROWS = 2000


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    document = prepare(report=report)
    total = max(document.summary.findings, 1)
    done = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            get_template("reports/document/report.html").render(
                {"report": report, "generated_at": document.generated_at, "css": report_css()}
            )
        )
        out.write(document.cover_html)
        for html, rows in document.chunks(CHUNK_ROWS):
            out.write(html)
            done += rows
            progress(5 + 90 * done // total)
        out.write("</body>\n</html>\n")
    return RenderCounts(hosts=document.summary.hosts, findings=done)
