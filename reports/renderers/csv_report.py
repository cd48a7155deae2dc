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

Every text cell is made safe for spreadsheets (OWASP, "CSV Injection"): a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a ``'``
in front, so Excel, LibreOffice or Google Sheets show it as text instead of
running it as a formula. Scanned hosts choose much of what lands here (the OS
nmap read from a service's banner, DNS names, a check's evidence), users the rest
(network names, KB titles from feeds). ``spreadsheet_safe`` is the rule in Python;
``_spreadsheet_safe_sql`` (and ``_spreadsheet_safe_sql_once``) the same rule in
SQL, inside the COPY.

Numbers Enclave writes itself (QID, severity, port, times found) are left alone:
they come from integer columns, are never negative, and a ``'`` would make them
text a spreadsheet cannot sort or sum. A text cell that merely looks like a
negative number ("-1" as a NetBIOS name) is prefixed like any other: it is text
in a text column anyway, and an exception for number-like text would need a
number parser exactly as lenient as every spreadsheet's ("-1+cmd|..." is not a
number).
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
from django.db.models import Case, CharField, F, Func, IntegerField, Value, When
from django.db.models.functions import Cast, Concat
from django.db.models.lookups import In, LessThanOrEqual

from core.spreadsheet import FORMULA_TRIGGERS, spreadsheet_safe
from scans.models import KbSource

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
    "Source",
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
# Columns of the report options: the evidence ("Results", above) and the details.
DETAIL_HEADER = ["CVSS", "Known exploited", "EPSS", "Threat", "Impact", "Solution"]
FETCH_ROWS = 10_000
PROGRESS_EVERY = 50_000

_TRIGGER_CODES = sorted(ord(trigger) for trigger in FORMULA_TRIGGERS)


def _spreadsheet_safe_sql(expression) -> Case:
    """``spreadsheet_safe`` in SQL (PostgreSQL), for a column: the first character's
    code (``ascii``, no substring made per cell) against the triggers' codes. Every
    trigger sorts before the letters, so most cells are passed by one comparison."""
    code = Func(expression, function="ASCII", output_field=IntegerField())
    return Case(
        When(
            LessThanOrEqual(code, _TRIGGER_CODES[-1]) & In(code, _TRIGGER_CODES),
            then=Concat(Value("'"), expression, output_field=CharField()),
        ),
        default=expression,
        output_field=CharField(),
    )


# The same rule as one regexp_replace, for a value computed per row (the CVE
# list): a CASE would compute it twice, once to test and once to write.
_FORMULA_START = "^([" + "".join(sorted(FORMULA_TRIGGERS, key=lambda c: c != "-")) + "])"


def _spreadsheet_safe_sql_once(expression) -> Func:
    return Func(
        expression,
        Value(_FORMULA_START),
        Value("'\\1"),
        function="regexp_replace",
        output_field=CharField(),
    )


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


def header(report: Report) -> list[str]:
    """The columns: without "Results" when the report omits evidence, with the
    vulnerability details (CVSS, threat, impact, solution) when it includes them."""
    columns = HEADER if report.include_evidence else HEADER[:-1]
    return columns + (DETAIL_HEADER if report.include_details else [])


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    detections = selectors.report_detections(report=report)
    total = max(detections.count(), 1)
    if connection.vendor == "postgresql" and not getattr(
        settings, "ENCLAVE_REPORT_CSV_NO_COPY", False
    ):
        rows = _copy_out(report, detections, path, total, progress)
    else:
        rows = _write_rows(report, detections, path, total, progress)
    hosts_count = detections.order_by().values("host_id").distinct().count()
    return RenderCounts(hosts=hosts_count, findings=rows)


def _labels(field: str, labels: dict[str, str]) -> Case:
    """The label of each known value, else the value itself; spreadsheet-safe."""
    return Case(
        *(
            When(**{field: value}, then=Value(spreadsheet_safe(label)))
            for value, label in labels.items()
        ),
        default=_spreadsheet_safe_sql(F(field)),
        output_field=CharField(),
    )


def _copy_out(
    report: Report, detections, path: Path, total: int, progress: Callable[[int], None]
) -> int:
    """PostgreSQL: the database formats the rows (same columns as ``_write_rows``)."""
    import psycopg

    safe = _spreadsheet_safe_sql
    cves = Func(F("vulnerability__cves"), template=_CVES_TEXT, output_field=CharField())
    columns = [
        "csv_network",
        "csv_ip",
        "csv_dns",
        "csv_netbios",
        "csv_os",
        "vulnerability_id",
        "csv_source",
        "csv_title",
        "severity",
        "csv_kind",
        "csv_status",
        "csv_port",
        "csv_protocol",
        "csv_cves",
        "csv_first",
        "csv_last",
        "times_found",
    ]
    if report.include_evidence:
        columns.append("csv_results")
    if report.include_details:
        columns += ["csv_cvss", "csv_kev", "csv_epss", "csv_threat", "csv_impact", "csv_solution"]
    query = detections.annotate(
        csv_network=safe(F("network__name")),
        csv_ip=safe(F("host__ip")),
        csv_dns=safe(F("host__dns")),
        csv_netbios=safe(F("host__netbios")),
        csv_os=safe(F("host__os")),
        csv_source=_source_sql(),
        csv_title=safe(F("vulnerability__title")),
        csv_kind=_labels("vulnerability__kind", KIND_LABELS),
        csv_status=_labels("status", STATUS_LABELS),
        csv_port=Case(When(port=0, then=Value("")), default=Cast("port", CharField())),
        csv_protocol=safe(F("protocol")),
        csv_cves=_spreadsheet_safe_sql_once(cves),
        csv_first=Func(F("first_found"), template=_UTC_TEXT, output_field=CharField()),
        csv_last=Func(F("last_found"), template=_UTC_TEXT, output_field=CharField()),
        csv_results=safe(F("results")),
        csv_cvss=Cast("vulnerability__cvss", CharField()),
        csv_kev=Case(
            When(vulnerability__known_exploited=True, then=Value("yes")),
            default=Value(None),
            output_field=CharField(),
        ),
        csv_epss=Cast("vulnerability__epss", CharField()),
        csv_threat=safe(F("vulnerability__diagnosis")),
        csv_impact=safe(F("vulnerability__consequence")),
        csv_solution=safe(F("vulnerability__solution")),
    ).values_list(*columns)
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
            out.write((",".join(header(report)) + "\n").encode())
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


def _source_text(vulnerability) -> str:
    """Who found it: "Enclave", or the import's source and its own id ("Nessus 19506")."""
    if vulnerability.source == KbSource.ENCLAVE:
        return KbSource.ENCLAVE.label
    return f"{vulnerability.get_source_display()} {vulnerability.external_id}"


def _source_sql() -> Case:
    """``_source_text`` in SQL. The cell starts with the source's label, a letter,
    so the external id (from an imported file) cannot make it a formula."""
    return Case(
        When(vulnerability__source=KbSource.ENCLAVE, then=Value(KbSource.ENCLAVE.label)),
        *(
            When(
                vulnerability__source=value,
                then=Concat(Value(f"{label} "), F("vulnerability__external_id")),
            )
            for value, label in KbSource.choices
            if value != KbSource.ENCLAVE
        ),
        default=Value(""),
        output_field=CharField(),
    )


def _write_rows(
    report: Report, detections, path: Path, total: int, progress: Callable[[int], None]
) -> int:
    # The KB is small; a dict of it saves a join and a JSON decode per row.
    safe = spreadsheet_safe
    vulnerabilities = selectors.report_vulnerabilities(detections=detections).values()
    kb = {
        v.qid: (
            safe(_source_text(v)),
            safe(v.title),
            safe(KIND_LABELS.get(v.kind, v.kind)),
            safe(" ".join(v.cves or [])),
        )
        for v in vulnerabilities
    }
    unknown = ("", "", "", "")
    evidence = report.include_evidence
    # CVSS, known exploited (CISA KEV), EPSS, threat, impact and solution per QID,
    # or nothing when the report omits them.
    details = {
        v.qid: (
            "" if v.cvss is None else str(v.cvss),
            "yes" if v.known_exploited else "",
            "" if v.epss is None else str(v.epss),
            safe(v.diagnosis),
            safe(v.consequence),
            safe(v.solution),
        )
        for v in (vulnerabilities if report.include_details else ())
    }
    no_details = ("",) * len(DETAIL_HEADER) if report.include_details else ()
    statuses = {status: safe(label) for status, label in STATUS_LABELS.items()}
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
        writer.writerow(header(report))
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
            source, title, kind, cves = kb.get(qid, unknown)
            write(
                (
                    safe(network),
                    safe(ip),
                    safe(dns),
                    safe(netbios),
                    safe(os_name),
                    qid,
                    source,
                    title,
                    severity,
                    kind,
                    statuses.get(status) or safe(status),
                    port or "",
                    safe(protocol),
                    cves,
                    first_found[:19],
                    last_found[:19],
                    times_found,
                    *((safe(results),) if evidence else ()),
                    *details.get(qid, no_details),
                )
            )
            rows += 1
            if rows % PROGRESS_EVERY == 0:
                progress(5 + 90 * rows // total)
    return rows
