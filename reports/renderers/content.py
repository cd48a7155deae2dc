"""The report's content as plain data: findings streamed from the database in the
report's order, grouped into sections (a host, or a vulnerability) and cut into
bounded chunks, so no format ever holds the whole report in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.html import escape
from django.utils.safestring import mark_safe

from scans.models import (
    Detection,
    DetectionStatus,
    KbSource,
    Vulnerability,
    VulnerabilityKind,
)

from ..models import ReportSort

# Columns fetched per finding; the KB entry (title, CVEs, solution) comes from a
# dict keyed by QID, the KB being small and the findings many.
FINDING_FIELDS = (
    "host_id",
    "host__ip",
    "host__dns",
    "host__netbios",
    "host__os",
    "network__name",
    "vulnerability_id",
    "severity",
    "status",
    "port",
    "protocol",
    "first_found",
    "last_found",
    "times_found",
    "results",
)

STATUS_LABELS = dict(DetectionStatus.choices)
KIND_LABELS = dict(VulnerabilityKind.choices)


@dataclass(slots=True)
class Finding:
    host_id: int
    ip: str
    dns: str
    netbios: str
    os: str
    network: str
    qid: int
    severity: int
    status: str
    port: int
    protocol: str
    first_found: object
    last_found: object
    times_found: int
    results: str
    vulnerability: Vulnerability | None = None

    @property
    def title(self) -> str:
        """The KB title; an imported entry's starts with its source ("[Nessus 19506] …")."""
        v = self.vulnerability
        if v is None:
            return f"QID {self.qid}"
        return v.title if v.source == KbSource.ENCLAVE else f"[{v.reference}] {v.title}"

    @property
    def port_display(self) -> str:
        if not self.port:
            return "-"
        return f"{self.port}/{self.protocol}" if self.protocol else str(self.port)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        kind = self.vulnerability.kind if self.vulnerability else ""
        return KIND_LABELS.get(kind, kind)

    # A printed line is plain monospaced text, the severity its one coloured run:
    # WeasyPrint's time grows with boxes, so no box per cell (see bench/).
    @property
    def host_line(self) -> str:
        return (
            f'<span class="s{self.severity}">{self.severity}</span> {self.qid:<8}'
            f"{self.status_label:<10}{self.port_display:<10}{escape(self.title)}"
        )

    @property
    def vulnerability_line(self) -> str:
        return (
            f"{self.status_label:<10}{self.port_display:<10}"
            f"{escape(self.ip)} · {escape(self.network)}"
        )


@dataclass(slots=True)
class Section:
    """One host (sort by host) or one vulnerability (sort by vulnerability)."""

    key: int
    first: Finding
    findings: list[Finding] = field(default_factory=list)
    continued: bool = False

    def lines(self, sort: str) -> str:
        """The section's findings as the inside of one ``<pre>``, already escaped."""
        if sort == ReportSort.VULNERABILITY:
            header = "Status    Port      IP · Network"
            body = "\n".join(f.vulnerability_line for f in self.findings)
        else:
            header = "S QID     Status    Port      Title"
            body = "\n".join(f.host_line for f in self.findings)
        return mark_safe(f'<b class="cols">{header}</b>\n{body}')  # noqa: S308 - parts escaped


def iter_findings(
    detections: QuerySet[Detection], vulnerabilities: dict[int, Vulnerability], chunk_size: int
) -> Iterator[Finding]:
    for row in detections.values_list(*FINDING_FIELDS).iterator(chunk_size=chunk_size):
        finding = Finding(*row)
        finding.vulnerability = vulnerabilities.get(finding.qid)
        yield finding


def iter_sections(findings: Iterator[Finding], sort: str) -> Iterator[Section]:
    by_host = sort != ReportSort.VULNERABILITY
    section = None
    for finding in findings:
        key = finding.host_id if by_host else finding.qid
        if section is None or section.key != key:
            if section is not None:
                yield section
            section = Section(key=key, first=finding)
        section.findings.append(finding)
    if section is not None:
        yield section


def iter_chunks(sections: Iterator[Section], rows: int) -> Iterator[list[Section]]:
    """Lists of sections holding about ``rows`` findings each; a section longer
    than that is split, its later parts marked ``continued``."""
    rows = max(rows, 1)
    chunk: list[Section] = []
    size = 0
    for section in sections:
        while section.findings:
            room = rows - size
            if len(section.findings) <= room:
                chunk.append(section)
                size += len(section.findings)
                break
            if room > 0 and (size == 0 or room >= 5):
                head = Section(
                    section.key, section.first, section.findings[:room], section.continued
                )
                chunk.append(head)
                section = Section(section.key, section.first, section.findings[room:], True)
                size = rows
            if chunk:
                yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
