"""HTML reports: one self-contained file (stylesheet inline), written chunk by chunk.

The same parts as the PDF, in the same order; the contents link to every
section (no page numbers on a screen) and evidence is never shortened."""

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
    workdir = path.parent
    body_path = workdir / f".body-{path.name}"
    # The contents come before the findings but are known after them: the
    # findings go to a side file first, then everything is put in order.
    try:
        with open(body_path, "w", encoding="utf-8") as body:
            for html, rows in document.chunks(CHUNK_ROWS):
                body.write(html)
                done += rows
                progress(5 + 85 * done // total)
            for details in document.appendix():
                body.write(details)
        with open(path, "w", encoding="utf-8") as out:
            out.write(
                get_template("reports/document/report.html").render(
                    {"report": report, "generated_at": document.generated_at, "css": report_css()}
                )
            )
            out.write(document.cover_html)
            out.write(document.toc_html())
            out.write(document.networks_html)
            with open(body_path, encoding="utf-8") as body:
                while block := body.read(1 << 20):
                    out.write(block)
            out.write("</body>\n</html>\n")
    finally:
        body_path.unlink(missing_ok=True)
    return RenderCounts(hosts=document.summary.hosts, findings=done)
