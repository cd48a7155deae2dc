"""The parts PDF and HTML reports share: the stylesheet, the cover with the
executive summary, the table of contents, the body and the appendix.

Order of a document: cover (the summary of all networks), contents, the
executive summary per network (when there are several), the findings, and the
vulnerability details (sort by host, when included).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.models import Count
from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import mark_safe

from .. import selectors
from ..models import Report, ReportSort
from .chart import severity_chart_svg
from .content import SEVERITY_LABELS, Body, EvidenceLimit, TocEntry

logger = logging.getLogger(__name__)

# Logo files bigger than this are left out (the logo is inlined in every report).
LOGO_MAX_BYTES = 1_000_000
_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@cache
def report_css() -> str:
    """The print stylesheet, read from disk and handed to WeasyPrint as a string:
    the PDF renderer fetches nothing (see pdf_worker.InlineOnlyFetcher)."""
    path = finders.find("css/report.css")
    return Path(path).read_text(encoding="utf-8")


@cache
def stamp_css() -> str:
    """The stylesheet of the running header and footer laid over big PDF reports."""
    path = finders.find("css/report-stamp.css")
    return Path(path).read_text(encoding="utf-8")


def organisation_logo() -> str:
    """``ENCLAVE_ORG_LOGO`` (a PNG, JPEG, GIF or SVG file) as a ``data:`` URL, read
    from disk here because the renderer fetches no ``file:`` URL; "" when unset,
    unreadable, too big or not an image (logged: the report goes on without it)."""
    path = getattr(settings, "ENCLAVE_ORG_LOGO", "")
    if not path:
        return ""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        logger.warning("ENCLAVE_ORG_LOGO %s cannot be read: %s", path, error)
        return ""
    if len(data) > LOGO_MAX_BYTES:
        logger.warning("ENCLAVE_ORG_LOGO %s is over %d bytes; left out", path, LOGO_MAX_BYTES)
        return ""
    kind = next((kind for magic, kind in _IMAGE_TYPES if data.startswith(magic)), None)
    if kind is None and b"<svg" in data[:2048]:
        kind = "image/svg+xml"
    if kind is None:
        logger.warning("ENCLAVE_ORG_LOGO %s is not a PNG, JPEG, GIF or SVG; left out", path)
        return ""
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _chart(by_severity: dict[int, int], width: int = 300) -> str:
    return mark_safe(severity_chart_svg(by_severity, width=width))  # noqa: S308 - built from ints


def _severity_rows(by_severity: dict[int, int]) -> list[tuple[int, str, int]]:
    return [(s, SEVERITY_LABELS[s], by_severity.get(s, 0)) for s in range(5, 0, -1)]


@dataclass
class Document:
    report: Report
    generated_at: object
    summary: selectors.ReportSummary
    cover_html: str
    networks_html: str
    body: Body
    front_toc: list[TocEntry] = field(default_factory=list)

    def link_with(self, prefix: str) -> None:
        """How links to anchors start: "#" within one document, or
        ``pdf_worker.ANCHOR_SCHEME`` between the parts of a big PDF."""
        self.body.ref = prefix

    def chunks(self, rows: int) -> Iterator[tuple[str, int]]:
        """The findings as HTML fragments of about ``rows`` findings each (and their count)."""
        return self.body.chunks(rows)

    def appendix(self) -> Iterator[str]:
        return self.body.appendix()

    def toc_entries(self) -> list[TocEntry]:
        """Every entry, once the body and the appendix have been produced."""
        return self.front_toc + self.body.toc

    def toc_html(self, pages: dict[str, int] | None = None, *, counters: bool = False) -> str:
        """The table of contents; with ``pages`` (anchor -> page number) the
        numbers too, with ``counters`` the numbers WeasyPrint's ``target-counter()``
        puts there (one document). Every entry is one line whatever its number, so
        the number of pages it takes does not depend on the numbers."""
        groups: list[tuple[TocEntry, list[TocEntry]]] = []
        for entry in self.toc_entries():
            if entry.level == 1 or not groups:
                groups.append((entry, []))
            else:
                groups[-1][1].append(entry)
        return get_template("reports/document/toc.html").render(
            {
                "groups": [
                    (
                        self._toc_item(top, pages),
                        [self._toc_item(entry, pages) for entry in entries],
                    )
                    for top, entries in groups
                ],
                "counters": counters,
            }
        )

    def _toc_item(self, entry: TocEntry, pages: dict[str, int] | None) -> dict:
        return {
            "entry": entry,
            "href": f"{self.body.ref}{entry.anchor}",
            "page": pages.get(entry.anchor, "") if pages is not None else None,
        }


def prepare(
    *, report: Report, ref: str = "#", evidence_limit: EvidenceLimit | None = None
) -> Document:
    """Everything a PDF or HTML report needs before its body streams: the figures,
    the cover and the executive summary, and the body's generator."""
    detections = selectors.report_detections(report=report)
    vulnerabilities = selectors.report_vulnerabilities(detections=detections)
    generated_at = timezone.localtime()
    summary = selectors.report_summary(report=report, detections=detections)
    by_vulnerability = report.sort == ReportSort.VULNERABILITY
    section_sizes = {}
    if by_vulnerability:
        group = (
            ["network_id", "vulnerability_id"] if report.group_by_network else ["vulnerability_id"]
        )
        for row in detections.order_by().values(*group).annotate(n=Count("pk")):
            network = row["network_id"] if report.group_by_network else None
            section_sizes[(network, row["vulnerability_id"])] = row["n"]
    body = Body(
        report=report,
        detections=detections,
        vulnerabilities=vulnerabilities,
        section_sizes=section_sizes,
        ref=ref,
        evidence_limit=evidence_limit,
    )
    several = len(summary.per_network) > 1
    front_toc = [TocEntry(1, "Summary", "summary")]
    if several:
        front_toc.append(TocEntry(1, "Executive summary by network", "networks"))
        front_toc.extend(TocEntry(2, n.name, n.anchor) for n in summary.per_network)
    overall = summary.overall
    cover_html = get_template("reports/document/cover.html").render(
        {
            "report": report,
            "summary": summary,
            "overall": overall,
            "severity_rows": _severity_rows(overall.open_by_severity),
            "chart": _chart(overall.open_by_severity),
            "generated_at": generated_at,
            "target_lines": selectors.report_target_lines(report=report),
            "org_name": getattr(settings, "ENCLAVE_ORG_NAME", ""),
            "org_logo": organisation_logo(),
            "single_network": summary.per_network[0] if len(summary.per_network) == 1 else None,
        }
    )
    networks_html = ""
    if several:
        networks_html = get_template("reports/document/networks.html").render(
            {
                "summary": summary,
                "networks": [
                    {
                        "network": n,
                        "severity_rows": _severity_rows(n.open_by_severity),
                        "chart": _chart(n.open_by_severity, width=260),
                    }
                    for n in summary.per_network
                ],
            }
        )
    return Document(
        report=report,
        generated_at=generated_at,
        summary=summary,
        cover_html=cover_html,
        networks_html=networks_html,
        body=body,
        front_toc=front_toc,
    )
