"""The report's body as HTML, streamed: findings come from the database in the
report's order and leave as chunks of about ``rows`` findings, so no format ever
holds the whole report in memory.

A section is a host (sort by host) or a vulnerability (sort by vulnerability),
within its network when the report is grouped by network. Each section is one
table whose header (the host or QID, then the column names) repeats on every
page it continues onto; a section longer than a chunk goes on in the next one
as "(continued)". Vulnerability details (threat, impact, solution, CVEs, CVSS)
print once per QID: inline the first time a QID shows (sort by vulnerability)
or in an appendix the rows link to (sort by host).

Rows are built here with f-strings rather than a template: tens of thousands of
them, and every value is escaped (``text``) or is a number Enclave wrote.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from scans.models import (
    Detection,
    DetectionStatus,
    KbSource,
    Vulnerability,
    VulnerabilityKind,
)

from ..models import Report, ReportSort

# Columns fetched per finding; the KB entry (title, details) comes from a dict
# keyed by QID, the KB being small and the findings many.
FINDING_FIELDS = (
    "host_id",
    "host__ip",
    "host__dns",
    "host__netbios",
    "host__os",
    "network_id",
    "network__name",
    "vulnerability_id",
    "severity",
    "status",
    "port",
    "protocol",
    "first_found",
    "last_found",
    "results",
)
FETCH_ROWS = 2000

STATUS_LABELS = dict(DetectionStatus.choices)
KIND_LABELS = dict(VulnerabilityKind.choices)
SEVERITY_LABELS = {5: "Urgent", 4: "Critical", 3: "Serious", 2: "Medium", 1: "Minimal"}


def text(value) -> str:
    """Text from a host or a user, safe inside an element."""
    return html.escape(str(value), quote=False) if value else ""


@dataclass(frozen=True)
class EvidenceLimit:
    """How much evidence one PDF row shows: a row never splits across pages, so
    it must fit on one; the CSV and HTML formats carry the evidence whole."""

    chars: int = 600
    lines: int = 10


@dataclass(frozen=True)
class TocEntry:
    level: int  # 1: a part; 2: a network or a section; 3: a section within a network
    label: str
    anchor: str


@dataclass(slots=True)
class Finding:
    host_id: int
    ip: str
    dns: str
    netbios: str
    os: str
    network_id: int
    network: str
    qid: int
    severity: int
    status: str
    port: int
    protocol: str
    first_found: datetime
    last_found: datetime
    results: str

    @property
    def port_display(self) -> str:
        if not self.port:
            return "-"
        return f"{self.port}/{self.protocol}" if self.protocol else str(self.port)


def iter_findings(detections: QuerySet[Detection]) -> Iterator[Finding]:
    for row in detections.values_list(*FINDING_FIELDS).iterator(chunk_size=FETCH_ROWS):
        yield Finding(*row)


def vulnerability_title(vulnerability: Vulnerability | None, qid: int) -> str:
    """The KB title; an imported entry's starts with its source ("[Nessus 19506] …")."""
    v = vulnerability
    if v is None:
        return f"QID {qid}"
    return v.title if v.source == KbSource.ENCLAVE else f"[{v.reference}] {v.title}"


def details_html(
    vulnerability: Vulnerability | None, qid: int, *, heading: bool, anchor: str = ""
) -> str:
    """Threat (diagnosis), impact (consequence), solution, type, category, CVSS
    and CVEs of one QID; ``heading`` adds its severity, QID and title on top."""
    v = vulnerability
    ident = f' id="{anchor}"' if anchor else ""
    parts = [f'<div class="vd"{ident}>']
    if heading:
        severity = v.severity if v else 0
        parts.append(
            f'<h3><span class="sv s{severity}">{severity}</span> QID {qid} · '
            f"{text(vulnerability_title(v, qid))}</h3>"
        )
    if v is None:
        parts.append('<p class="facts">Not in the KnowledgeBase.</p></div>')
        return "".join(parts)
    cves = ", ".join(text(c) for c in v.cves or []) or "none"
    cvss = f"{v.cvss}" if v.cvss is not None else "-"
    exploitation = ""
    if v.known_exploited:
        due = f", remediation due {v.kev_due_date:%Y-%m-%d}" if v.kev_due_date else ""
        exploitation += f" · <strong>Known exploited</strong> (CISA KEV{due})"
    if v.epss is not None:
        percentile = (
            f", percentile {v.epss_percentile:.2f}" if v.epss_percentile is not None else ""
        )
        exploitation += f" · EPSS: {v.epss:.3f}{percentile}"
    parts.append(
        f'<p class="facts">Type: {text(KIND_LABELS.get(v.kind, v.kind))} · Category: '
        f"{text(v.category) or '-'} · CVSS: {cvss}{exploitation} · CVEs: {cves}</p>"
    )
    for label, value in (
        ("Threat", v.diagnosis),
        ("Impact", v.consequence),
        ("Solution", v.solution),
    ):
        if value:
            parts.append(f'<h4>{label}</h4><p class="tx">{text(value)}</p>')
    parts.append("</div>")
    return "".join(parts)


# Column widths (mm) of the two tables; the remaining width goes to the wide column,
# so each narrow one is as wide as its longest value in DejaVu Sans 7.5 pt plus the
# cell's 2.1 mm of padding, and no wider: a ten-digit QID (imported entries count
# from 1,000,000,000) 18.95 mm, "Re-Opened" 16.9, a date 17.5, "443/tcp" 12.2.
HOST_COLUMNS = (
    ("Sev", 7),
    ("QID", 19.2),
    ("Vulnerability", None),
    ("Port", 15),
    ("Status", 17.2),
    ("First found", 17.7),
    ("Last found", 17.7),
)
VULNERABILITY_COLUMNS = (
    ("IP · Network", 44),
    ("Port", 15),
    ("Status", 17.2),
    ("First found", 17.7),
    ("Last found", 17.7),
    ("Evidence", None),
)


def _table_head(columns, caption: str) -> str:
    cols = "".join(f'<col style="width:{width}mm">' if width else "<col>" for _, width in columns)
    names = "".join(f"<th>{name}</th>" for name, _ in columns)
    return (
        f'<colgroup>{cols}</colgroup><thead><tr class="cap"><th colspan="{len(columns)}">'
        f"{caption}</th></tr><tr>{names}</tr></thead><tbody>"
    )


class Body:
    """Turns the report's findings into chunks of HTML and collects the table of
    contents on the way. ``ref`` prefixes links to anchors ("#" in one HTML
    file; the PDF's parts use ``pdf_worker.ANCHOR_SCHEME``)."""

    def __init__(
        self,
        *,
        report: Report,
        detections: QuerySet[Detection],
        vulnerabilities: dict[int, Vulnerability],
        section_sizes: dict,
        ref: str,
        evidence_limit: EvidenceLimit | None,
    ):
        self.report = report
        self.detections = detections
        self.vulnerabilities = vulnerabilities
        self.section_sizes = section_sizes
        self.ref = ref
        self.evidence_limit = evidence_limit
        self.by_host = report.sort != ReportSort.VULNERABILITY
        self.grouped = report.group_by_network
        self.toc: list[TocEntry] = []
        self.tz = timezone.get_current_timezone()
        # QID -> (anchor of its details, network name where they print), sort by vulnerability.
        self.details_at: dict[int, tuple[str, str]] = {}
        self.qids_seen: set[int] = set()

    @property
    def part_title(self) -> str:
        return "Findings by host" if self.by_host else "Findings by vulnerability"

    # --- cells -------------------------------------------------------------------------

    def _date(self, moment: datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d") if moment else "-"

    def _evidence(self, results: str) -> str:
        """The evidence, escaped, cut to the PDF's limit (saying how much is left out)."""
        if not results or not self.report.include_evidence:
            return ""
        limit = self.evidence_limit
        if limit and (len(results) > limit.chars or results.count("\n") >= limit.lines):
            shown = "\n".join(results[: limit.chars].split("\n")[: limit.lines])
            return (
                f'{text(shown)}<span class="cut"> … {len(results) - len(shown)} more '
                "characters (CSV and HTML reports show all)</span>"
            )
        return text(results)

    def _host_row(self, f: Finding, zebra: bool) -> str:
        title = text(vulnerability_title(self.vulnerabilities.get(f.qid), f.qid))
        evidence = self._evidence(f.results)
        if evidence:
            evidence = f'<p class="ev">{evidence}</p>'
        qid = (
            f'<a href="{self.ref}d{f.qid}">{f.qid}</a>'
            if self.report.include_details
            else str(f.qid)
        )
        return (
            f'<tr{" class=z" if zebra else ""}><td class="sv s{f.severity}">{f.severity}</td>'
            f"<td>{qid}</td><td>{title}{evidence}</td>"
            f"<td>{text(f.port_display)}</td><td>{STATUS_LABELS.get(f.status, text(f.status))}</td>"
            f"<td>{self._date(f.first_found)}</td><td>{self._date(f.last_found)}</td></tr>"
        )

    def _vulnerability_row(self, f: Finding, zebra: bool) -> str:
        return (
            f"<tr{' class=z' if zebra else ''}><td>{text(f.ip)} · {text(f.network)}</td>"
            f"<td>{text(f.port_display)}</td><td>{STATUS_LABELS.get(f.status, text(f.status))}</td>"
            f"<td>{self._date(f.first_found)}</td><td>{self._date(f.last_found)}</td>"
            f'<td class="ev">{self._evidence(f.results)}</td></tr>'
        )

    # --- section openings ------------------------------------------------------------------

    def _host_open(self, f: Finding, continued: bool) -> str:
        anchor = "" if continued else f' id="h{f.host_id}"'
        meta = " · ".join(
            f"{label} {text(value)}"
            for label, value in (("DNS", f.dns), ("NetBIOS", f.netbios), ("OS", f.os))
            if value
        )
        more = " (continued)" if continued else ""
        caption = f"{text(f.ip)} · {text(f.network)}{more} <span>{meta}</span>"
        if not continued:
            self.toc.append(
                TocEntry(3 if self.grouped else 2, f"{f.ip} · {f.network}", f"h{f.host_id}")
            )
        return f'<table class="f"{anchor}>' + _table_head(HOST_COLUMNS, caption)

    def _vulnerability_open(self, f: Finding, continued: bool) -> str:
        v = self.vulnerabilities.get(f.qid)
        title = text(vulnerability_title(v, f.qid))
        badge = f'<span class="sv s{f.severity}">{f.severity}</span>'
        size = self.section_sizes.get((f.network_id if self.grouped else None, f.qid), 0)
        more = " (continued)" if continued else f" — {size} finding{'s' if size != 1 else ''}"
        caption = f"{badge} QID {f.qid} · {title}{more}"
        table = '<table class="f">' + _table_head(VULNERABILITY_COLUMNS, caption)
        if continued:
            return table
        anchor = f"q{f.network_id}-{f.qid}" if self.grouped else f"q{f.qid}"
        self.toc.append(
            TocEntry(
                3 if self.grouped else 2,
                f"QID {f.qid} · {vulnerability_title(v, f.qid)}",
                anchor,
            )
        )
        # The table's caption names the QID (and repeats on every page it goes
        # on to); a heading above it only when the details come first.
        if self.report.include_details and f.qid not in self.details_at:
            self.details_at[f.qid] = (f"d{f.qid}", f.network)
            return (
                f'<h3 id="{anchor}">{badge} QID {f.qid} · {title}</h3>'
                + details_html(v, f.qid, heading=False, anchor=f"d{f.qid}")
                + table
            )
        if self.report.include_details:
            anchor_d, where = self.details_at[f.qid]
            return (
                f'<p class="ref" id="{anchor}">Details of QID {f.qid}: '
                f'<a href="{self.ref}{anchor_d}">under {text(where)}</a></p>' + table
            )
        return table.replace('<table class="f">', f'<table class="f" id="{anchor}">', 1)

    def _group_open(self, f: Finding, first: bool) -> str:
        self.toc.append(TocEntry(2, f.network, f"g{f.network_id}"))
        style = ' style="break-before:auto"' if first else ""
        return f'<h2 class="grp" id="g{f.network_id}"{style}>{text(f.network)}</h2>'

    # --- the stream -----------------------------------------------------------------------------

    def chunks(self, rows: int) -> Iterator[tuple[str, int]]:
        """The body as HTML fragments of about ``rows`` findings each (and their
        count). A chunk ends at a section's end once it holds ``rows`` findings,
        or inside a section once it holds half as many again."""
        rows = max(rows, 1)
        self.toc.append(TocEntry(1, self.part_title, "findings"))
        out = [f'<h1 class="part" id="findings">{self.part_title}</h1>']
        if self.by_host and self.report.include_details:
            out.append(
                '<p class="note">The threat, impact, solution, CVEs and CVSS of each QID are '
                "printed once, under <i>Vulnerability details</i> after the findings (by "
                "severity, then QID); the contents give each QID's page.</p>"
            )
        size = 0
        key = network = None
        open_table = False
        zebra = False
        first_group = True
        row = self._host_row if self.by_host else self._vulnerability_row
        opening = self._host_open if self.by_host else self._vulnerability_open
        for f in iter_findings(self.detections):
            section = f.host_id if self.by_host else (f.network_id if self.grouped else None, f.qid)
            if section != key:
                if open_table:
                    out.append("</tbody></table>")
                    open_table = False
                if size >= rows:
                    yield "".join(out), size
                    out, size = [], 0
                if self.grouped and f.network_id != network:
                    out.append(self._group_open(f, first_group))
                    first_group = False
                    network = f.network_id
                key = section
                out.append(opening(f, continued=False))
                open_table, zebra = True, False
            elif size >= rows + rows // 2:
                out.append("</tbody></table>")
                yield "".join(out), size
                out, size = [opening(f, continued=True)], 0
                zebra = False
            out.append(row(f, zebra))
            zebra = not zebra
            size += 1
        if open_table:
            out.append("</tbody></table>")
        if key is None:
            out.append('<p class="muted">No findings match this report\'s filters.</p>')
        if out:
            yield "".join(out), size

    def appendix(self, per_chunk: int = 60) -> Iterator[str]:
        """Vulnerability details once per QID (sort by host), worst first, in
        chunks of ``per_chunk`` QIDs; the rows' QIDs link here."""
        if not self.by_host or not self.report.include_details or not self.vulnerabilities:
            return
        self.toc.append(TocEntry(1, "Vulnerability details", "details"))
        ordered = sorted(self.vulnerabilities.values(), key=lambda v: (-v.severity, v.qid))
        out = ['<h1 class="part" id="details">Vulnerability details</h1>']
        for index, v in enumerate(ordered, start=1):
            self.toc.append(
                TocEntry(2, f"QID {v.qid} · {vulnerability_title(v, v.qid)}", f"d{v.qid}")
            )
            out.append(details_html(v, v.qid, heading=True, anchor=f"d{v.qid}"))
            if index % per_chunk == 0:
                yield "".join(out)
                out = []
        if out:
            yield "".join(out)
