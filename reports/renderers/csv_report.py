"""CSV reports: one row per finding, the network beside every IP.

Rows stream from the database straight to the file, so memory stays flat
whatever the number of findings:

* on PostgreSQL, the ORM's query runs inside ``COPY (...) TO STDOUT (FORMAT csv)``:
  the database streams finished CSV and Python only moves bytes (about ten times
  the rows per second of formatting rows in Python; see bench/reports_csv.py);
* elsewhere (SQLite), a server-side cursor (``iterator(chunk_size=...)``) feeds
  ``csv.writer``; per row Python only unpacks a tuple of strings and numbers
  (timestamps come as text from the database, KB fields from a dict).

Both write the same columns and values (tests compare them on PostgreSQL).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.db.models import Case, CharField, F, Func, Value, When
from django.db.models.functions import Cast

from .. import selectors
from ..models import Report
from . import RenderCounts
from .content import KIND_LABELS, STATUS_LABELS

logger = logging.getLogger(__name__)

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
    "First found (UTC)",
    "Last found (UTC)",
    "Times found",
    "Results",
]
FETCH_ROWS = 10_000
PROGRESS_EVERY = 50_000


@contextmanager
def _sort_memory():
    """On PostgreSQL, room to sort a big report in memory instead of on disk,
    for this connection and only while the report is read."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET work_mem")


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    detections = selectors.report_detections(report=report)
    total = max(detections.count(), 1)
    if connection.vendor == "postgresql" and not getattr(
        settings, "ENCLAVE_REPORT_CSV_NO_COPY", False
    ):
        rows = _copy_out(detections, path, total, progress)
    else:
        rows = _write_rows(detections, path, total, progress)
    hosts_count = detections.order_by().values("host_id").distinct().count()
    return RenderCounts(hosts=hosts_count, findings=rows)


def _labels(field: str, labels: dict[str, str]) -> Case:
    return Case(
        *(When(**{field: value}, then=Value(label)) for value, label in labels.items()),
        default=F(field),
        output_field=CharField(),
    )


def _copy_out(detections, path: Path, total: int, progress: Callable[[int], None]) -> int:
    """PostgreSQL: the database formats the rows (same columns as ``_write_rows``)."""
    import psycopg

    query = detections.annotate(
        csv_title=F("vulnerability__title"),
        csv_kind=_labels("vulnerability__kind", KIND_LABELS),
        csv_status=_labels("status", STATUS_LABELS),
        csv_port=Case(When(port=0, then=Value("")), default=Cast("port", CharField())),
        csv_cves=Func(
            F("vulnerability__cves"),
            template=_CVES_TEXT,
            output_field=CharField(),
        ),
        csv_first=Func(F("first_found"), template=_UTC_TEXT, output_field=CharField()),
        csv_last=Func(F("last_found"), template=_UTC_TEXT, output_field=CharField()),
    ).values_list(
        "network__name",
        "host__ip",
        "host__dns",
        "host__netbios",
        "host__os",
        "vulnerability_id",
        "csv_title",
        "severity",
        "csv_kind",
        "csv_status",
        "csv_port",
        "protocol",
        "csv_cves",
        "csv_first",
        "csv_last",
        "times_found",
        "results",
    )
    sql, params = query.query.sql_with_params()
    connection.ensure_connection()
    # COPY takes no parameters: psycopg quotes them into the statement.
    statement = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    rows = 0
    # Progress goes through a thread of its own, hence a connection of its own:
    # on this one, busy streaming the COPY, an UPDATE would wait for the COPY
    # to end while the COPY waits for this loop to read (a deadlock).
    side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-progress")
    try:
        with _sort_memory(), open(path, "wb") as out:
            out.write((",".join(HEADER) + "\n").encode())
            with connection.connection.cursor() as cursor:
                with cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                    seen = 0
                    for block in copy:
                        out.write(block)
                        seen += bytes(block).count(b"\n")
                        if seen - rows >= PROGRESS_EVERY:
                            rows = seen
                            side.submit(_quietly, progress, 5 + 90 * min(rows, total) // total)
                rows = cursor.rowcount
    finally:
        side.submit(connections.close_all)  # that thread's connection
        side.shutdown(wait=True)
    return rows


def _quietly(call: Callable[[int], None], value: int) -> None:
    try:
        call(value)
    except Exception:  # progress is a courtesy; the report goes on
        logger.exception("Report progress not recorded")


_CVES_TEXT = "array_to_string(ARRAY(SELECT jsonb_array_elements_text(%(expressions)s)), ' ')"
_UTC_TEXT = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"


def _write_rows(detections, path: Path, total: int, progress: Callable[[int], None]) -> int:
    # The KB is small; a dict of it saves a join and a JSON decode per row.
    kb = {
        v.qid: (v.title, KIND_LABELS.get(v.kind, v.kind), " ".join(v.cves or []))
        for v in selectors.report_vulnerabilities(detections=detections).values()
    }
    unknown = ("", "", "")
    statuses = STATUS_LABELS
    rows_query = detections.annotate(
        # Text from the database ("YYYY-MM-DD HH:MM:SS..." in UTC on both
        # backends): parsing and formatting a datetime per row would cost more
        # than everything else in the loop.
        first_text=Cast("first_found", CharField()),
        last_text=Cast("last_found", CharField()),
    ).values_list(
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
        "first_text",
        "last_text",
        "times_found",
        "results",
    )
    rows = 0
    with _sort_memory(), open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
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
        ) in rows_query.iterator(chunk_size=FETCH_ROWS):
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
                    first_found[:19],
                    last_found[:19],
                    times_found,
                    results,
                )
            )
            rows += 1
            if rows % PROGRESS_EVERY == 0:
                progress(5 + 90 * rows // total)
    return rows
