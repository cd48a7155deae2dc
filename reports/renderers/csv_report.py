"""CSV reports: one row per finding, the network beside every IP.

Rows stream from the database through a server-side cursor (``iterator``) and
go straight to the file, so memory stays flat whatever the number of findings.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from django.utils import timezone

from .. import selectors
from ..models import Report
from . import RenderCounts
from .content import KIND_LABELS, STATUS_LABELS

HEADER = [
    "Network",
    "IP",
    "DNS",
    "NetBIOS",
    "OS",
    "QID",
    "Title",
    "Severity",
    "Type",
    "Status",
    "Port",
    "Protocol",
    "CVEs",
    "First found",
    "Last found",
    "Times found",
    "Results",
]
FIELDS = (
    "network__name",
    "host__ip",
    "host__dns",
    "host__netbios",
    "host__os",
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
FETCH_ROWS = 10_000
PROGRESS_EVERY = 50_000


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    detections = selectors.report_detections(report=report)
    total = max(detections.count(), 1)
    # The KB is small; a dict of it saves a join and a JSON decode per row.
    kb = {
        qid: (title, KIND_LABELS.get(kind, kind), " ".join(cves or []))
        for qid, title, kind, cves in (
            (v.qid, v.title, v.kind, v.cves)
            for v in selectors.report_vulnerabilities(detections=detections).values()
        )
    }
    unknown = ("", "", "")
    statuses = STATUS_LABELS
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        write = writer.writerow
        for (
            network,
            ip,
            dns,
            netbios,
            os_name,
            qid,
            severity,
            status,
            port,
            protocol,
            first_found,
            last_found,
            times_found,
            results,
        ) in detections.values_list(*FIELDS).iterator(chunk_size=FETCH_ROWS):
            title, kind, cves = kb.get(qid, unknown)
            write(
                (
                    network,
                    ip,
                    dns,
                    netbios,
                    os_name,
                    qid,
                    title,
                    severity,
                    kind,
                    statuses.get(status, status),
                    port or "",
                    protocol,
                    cves,
                    _when(first_found),
                    _when(last_found),
                    times_found,
                    results,
                )
            )
            rows += 1
            if rows % PROGRESS_EVERY == 0:
                progress(5 + 90 * rows // total)
    hosts_count = detections.order_by().values("host_id").distinct().count()
    return RenderCounts(hosts=hosts_count, findings=rows)
