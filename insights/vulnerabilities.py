"""The Vulnerabilities list: every detection across networks, one row per
(host, QID, port), filtered, sorted and paged by keyset so a deep page costs
what the first does; and the same findings grouped by QID.

The filters on the vulnerability itself (kind, CVE, text, source) are resolved
in the KnowledgeBase first, into a set of QIDs: the KB is small, the detections
are not. The grouped view reads the exposure the snapshot stored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import BooleanField, Expression, F, Q, QuerySet, Sum
from django.utils.dateparse import parse_datetime

from core.digits import ascii_digits
from core.spreadsheet import spreadsheet_safe
from networks.models import Network
from scans.models import OPEN_STATUSES, Detection, Vulnerability

from .models import Exposure

PAGE_SIZE = 50
# Up to this many QIDs from the KB filters go to the detections as values.
QIDS_AS_VALUES = 500

# Sort keys offered (the column, and whether a keyset on it is indexed).
SORTS = {
    "severity": "severity",
    "last_found": "last_found",
    "first_found": "first_found",
    "qid": "vulnerability_id",
    # Fixed findings only (the form refuses it for any other status).
    "fixed_at": "fixed_at",
}
DATE_SORTS = ("last_found", "first_found", "fixed_at")
DEFAULT_SORT = "-severity"


@dataclass
class Criteria:
    """What the user asked for, already validated (see filters.VulnerabilityListForm)."""

    networks: list[Network]
    severities: list[int]
    statuses: list[str]
    kind: str = ""
    qid: int | None = None
    cve: str = ""
    port: int | None = None
    tag: int | None = None
    q: str = ""
    source: str = ""
    # Prioritisation (feeds): only CVEs in CISA's KEV catalog; EPSS at least this.
    known_exploited: bool = False
    epss_min: float | None = None


def matching_qids(criteria: Criteria) -> QuerySet[Vulnerability] | None:
    """The KB entries the vulnerability filters allow, or None when none is set."""
    kb = Vulnerability.objects.all()
    narrowed = False
    if criteria.kind:
        kb, narrowed = kb.filter(kind=criteria.kind), True
    if criteria.source:
        kb, narrowed = kb.filter(source=criteria.source), True
    if criteria.known_exploited:
        kb, narrowed = kb.filter(known_exploited=True), True
    if criteria.epss_min is not None:
        kb, narrowed = kb.filter(epss__gte=criteria.epss_min), True
    if criteria.cve:
        # A text match on the JSON list of CVE ids: works on SQLite and PostgreSQL.
        kb, narrowed = kb.filter(cves__icontains=f'"{criteria.cve.upper()}"'), True
    if criteria.q:
        q = criteria.q
        text = Q(title__icontains=q) | Q(category__icontains=q) | Q(cves__icontains=q)
        if ascii_digits(q):
            text |= Q(qid=int(q))
        kb, narrowed = kb.filter(text), True
    return kb if narrowed else None


def detections(criteria: Criteria) -> QuerySet[Detection]:
    """The detections the criteria keep, with what a row shows (unsorted)."""
    rows = Detection.objects.filter(network__in=criteria.networks)
    if criteria.statuses:
        rows = rows.filter(status__in=criteria.statuses)
    if criteria.severities and len(criteria.severities) < 5:
        rows = rows.filter(severity__in=criteria.severities)
    if criteria.qid is not None:
        rows = rows.filter(vulnerability_id=criteria.qid)
    if criteria.port is not None:
        rows = rows.filter(port=criteria.port)
    if criteria.tag is not None:
        rows = rows.filter(host__tags=criteria.tag)
    kb = matching_qids(criteria)
    if kb is not None:
        # The KB's answer first, as values: a CVE names one QID or a few, and
        # "QID = x" lets the list read the (QID, severity, id) index in order,
        # where "QID IN (subquery)" would sort every open finding of the QID.
        qids = list(kb.values_list("qid", flat=True)[: QIDS_AS_VALUES + 1])
        if len(qids) > QIDS_AS_VALUES:
            rows = rows.filter(vulnerability_id__in=kb.values("qid"))
        elif len(qids) == 1:
            rows = rows.filter(vulnerability_id=qids[0])
        else:
            rows = rows.filter(vulnerability_id__in=qids)
    return rows.select_related("host", "network", "vulnerability")


class RowCompare(Expression):
    """``(a, b) < (x, y)`` (or ``>``): a keyset condition the index reads as one
    range, on SQLite and PostgreSQL alike."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, fields: list[str], values: list, *, less: bool):
        super().__init__()
        self.columns = [F(f) for f in fields]
        self.values, self.less = values, less

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def as_sql(self, compiler, connection):
        parts, params, values = [], [], []
        for column, value in zip(self.columns, self.values, strict=True):
            sql, column_params = compiler.compile(column)
            parts.append(sql)
            params.extend(column_params)
            # As the column stores it (a datetime's text form on SQLite, say).
            values.append(column.output_field.get_db_prep_value(value, connection))
        marks = ", ".join(["%s"] * len(values))
        operator = "<" if self.less else ">"
        return f"({', '.join(parts)}) {operator} ({marks})", [*params, *values]


def _encode(value) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    return raw


def cursor_for(row: Detection, sort_field: str) -> str:
    value = getattr(row, sort_field)
    payload = json.dumps([_encode(value), row.pk])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(cursor: str, sort_field: str) -> list | None:
    """The (value, id) a cursor names, or None for a cursor that is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(pk, int) or isinstance(pk, bool):
        return None
    if sort_field in DATE_SORTS:
        value = parse_datetime(value) if isinstance(value, str) else None
        if value is None:
            return None
    elif not isinstance(value, int) or isinstance(value, bool):
        return None
    return [value, pk]


@dataclass
class Page:
    rows: list[Detection]
    next_cursor: str | None
    sort: str


def _sort_key(sort: str) -> tuple[str, bool]:
    """(key of SORTS, descending) for a ``sort`` parameter; worst first when unknown."""
    key = sort.lstrip("-")
    if key not in SORTS:
        return "severity", True
    return key, sort.startswith("-")


def page_query(rows: QuerySet[Detection], *, sort: str, after: str = "") -> QuerySet[Detection]:
    """``rows`` in ``sort`` order (``-field`` descending) by (field, id), after
    ``after``'s row: a deep page reads from its place in the index, as the first."""
    key, descending = _sort_key(sort)
    field = SORTS[key]
    if field == "fixed_at":
        # Said outright (Fixed rows have one): the keyset compares no NULL, and
        # the planner reads the fixed-date index in order.
        rows = rows.filter(fixed_at__isnull=False)
    rows = rows.order_by(*([f"-{field}", "-id"] if descending else [field, "id"]))
    position = _decode(after, field) if after else None
    if position is not None:
        rows = rows.filter(RowCompare([field, "id"], position, less=descending))
    return rows


# Orders indexed in each network only (by network, then the date): across
# networks a page is merged from each network's own first rows.
PER_NETWORK_SORTS = ("last_found", "first_found")


def page(
    rows: QuerySet[Detection], *, sort: str, after: str = "", networks: Sequence[Network] = ()
) -> Page:
    """One page in ``sort`` order, after ``after``'s row, of ``rows`` (the
    detections of ``networks``); one query of PAGE_SIZE + 1 rows whatever the
    depth (equal values still page exactly), or two when merged across networks."""
    key, descending = _sort_key(sort)
    if key in PER_NETWORK_SORTS and len(networks) > 1 and _merges():
        found = _merged(rows, sort=sort, after=after, networks=networks)
    else:
        found = list(page_query(rows, sort=sort, after=after)[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return Page(
        rows=found,
        next_cursor=cursor_for(found[-1], SORTS[key]) if more and found else None,
        sort=("-" if descending else "") + key,
    )


def _merges() -> bool:
    """Whether ``_merged`` can run: LATERAL over an array is PostgreSQL's (SQLite,
    for development, reads the one sorting query instead)."""
    return connection.vendor == "postgresql"


_MARKER = -7_310_442_911  # no network's id


def _merged(
    rows: QuerySet[Detection], *, sort: str, after: str, networks: Sequence[Network]
) -> list[Detection]:
    """The page's rows across ``networks`` in an order each network's index
    holds but no index across them does (sorting every open finding by date cost
    1.6 s at 3,000,000): PostgreSQL reads each network's first PAGE_SIZE + 1
    after the cursor in order from its index (a LATERAL join over the networks'
    ids) and merges them; then the winners' rows.

    The per-network query is the ORM's, its network a marker parameter that
    becomes the LATERAL's column (it falls back to sorting across networks if
    the SQL does not hold the marker once)."""
    key, descending = _sort_key(sort)
    field = SORTS[key]
    branch = page_query(rows.filter(network_id=_MARKER), sort=sort, after=after)
    sql, params = branch.values_list(field, "id")[: PAGE_SIZE + 1].query.sql_with_params()
    pieces = sql.split("%s")
    if "%%" in sql or len(pieces) != len(params) + 1 or list(params).count(_MARKER) != 1:
        return list(page_query(rows, sort=sort, after=after)[: PAGE_SIZE + 1])
    where = list(params).index(_MARKER)
    inner = "".join(
        piece + ("" if n == len(params) else "n.network_id" if n == where else "%s")
        for n, piece in enumerate(pieces)
    )
    direction = "DESC" if descending else "ASC"
    statement = (
        "SELECT b.id FROM unnest(%s::bigint[]) AS n(network_id)"  # noqa: S608 -- the ORM's SQL, bound
        f" CROSS JOIN LATERAL ({inner}) AS b(value, id)"
        f" ORDER BY b.value {direction}, b.id {direction} LIMIT {PAGE_SIZE + 1}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [[network.pk for network in networks], *params[:where], *params[where + 1 :]],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    by_id = rows.filter(pk__in=ids).in_bulk()
    return [by_id[pk] for pk in ids if pk in by_id]


@dataclass
class QidGroup:
    vulnerability: Vulnerability
    hosts: int
    detections: int
    by_network: list[tuple[Network, int]]


def grouped_by_qid(criteria: Criteria, *, limit: int = 200) -> list[QidGroup]:
    """The open findings per QID, with the affected hosts in each network, from
    the exposure stored at the last snapshot (most affected hosts first)."""
    exposure = Exposure.objects.filter(network__in=criteria.networks)
    if criteria.severities and len(criteria.severities) < 5:
        exposure = exposure.filter(severity__in=criteria.severities)
    if criteria.qid is not None:
        exposure = exposure.filter(qid=criteria.qid)
    kb = matching_qids(criteria)
    if kb is not None:
        exposure = exposure.filter(qid__in=kb.values("qid"))
    top = list(
        exposure.values("qid")
        .annotate(hosts=Sum("hosts"), detections=Sum("detections"))
        .order_by("-hosts", "qid")[:limit]
    )
    qids = [row["qid"] for row in top]
    networks = {n.pk: n for n in criteria.networks}
    per_network: dict[int, list[tuple[Network, int]]] = {}
    for qid, network_id, hosts in (
        exposure.filter(qid__in=qids)
        .order_by("qid", "-hosts")
        .values_list("qid", "network_id", "hosts")
    ):
        per_network.setdefault(qid, []).append((networks[network_id], hosts))
    kb_rows = Vulnerability.objects.in_bulk(qids)
    return [
        QidGroup(
            kb_rows[row["qid"]], row["hosts"], row["detections"], per_network.get(row["qid"], [])
        )
        for row in top
        if row["qid"] in kb_rows
    ]


OPEN = [s.value for s in OPEN_STATUSES]


CSV_HEADER = [
    "Network",
    "IP",
    "DNS",
    "QID",
    "Source",
    "Reference",
    "Title",
    "Severity",
    "Status",
    "Port",
    "Protocol",
    "CVEs",
    "Known exploited (CISA KEV)",
    "KEV due date",
    "EPSS",
    "EPSS percentile",
    "First found (UTC)",
    "Last found (UTC)",
    "Times found",
    "Fixed (UTC)",
]


def csv_rows(criteria: Criteria):
    """The header, then one list of cells per detection the criteria keep, in
    the list's default order, read in chunks; text cells spreadsheet-safe."""
    yield CSV_HEADER
    rows = (
        detections(criteria)
        .order_by("-severity", "-id")
        .values_list(
            "network__name",
            "host__ip",
            "host__dns",
            "vulnerability_id",
            "vulnerability__source",
            "vulnerability__external_id",
            "vulnerability__title",
            "severity",
            "status",
            "port",
            "protocol",
            "vulnerability__cves",
            "vulnerability__known_exploited",
            "vulnerability__kev_due_date",
            "vulnerability__epss",
            "vulnerability__epss_percentile",
            "first_found",
            "last_found",
            "times_found",
            "fixed_at",
        )
    )
    safe = spreadsheet_safe
    for (
        network,
        ip,
        dns,
        qid,
        source,
        external,
        title,
        severity,
        status,
        port,
        protocol,
        cves,
        known_exploited,
        kev_due,
        epss,
        percentile,
        first,
        last,
        times,
        fixed,
    ) in rows.iterator(chunk_size=5000):
        yield [
            safe(network),
            ip,
            safe(dns),
            qid,
            source,
            safe(external),
            safe(title),
            severity,
            status,
            port,
            safe(protocol),
            safe(", ".join(cves or [])),
            "yes" if known_exploited else "",
            kev_due.isoformat() if kev_due else "",
            f"{epss:.5f}" if epss is not None else "",
            f"{percentile:.5f}" if percentile is not None else "",
            _utc(first),
            _utc(last),
            times,
            _utc(fixed),
        ]


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""
