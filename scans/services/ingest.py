# ruff: noqa: S608 -- every identifier put into SQL here is a constant of this module.
"""Ingest: what an appliance found becomes hosts, detections and progress.

Idempotent: the first result of a slice is recorded (``ingested_at``) under a
row lock and every repeat is ignored, so redelivery (``acks_late``), retries
and a slice run twice after a failover change nothing.

Detections are written set-based, per batch, under the network's row lock
(which every writer of detections takes): one read of the batch's hosts'
detections splits what was seen into new keys, which go straight in (binary
``COPY`` on PostgreSQL, ``executemany`` elsewhere) as New, and known ones,
staged and updated by primary key in one ``UPDATE … FROM`` (Active, or
Re-Opened after Fixed); one ``UPDATE`` marks Fixed what was looked for on a
host and no longer seen. No ``ON CONFLICT`` probe per row, no ``RETURNING``:
the read already knows each row's status and severity. The detection table's
indexes (the pages need them) cost more than all of that: bench_ingest.py
prints a raw ``COPY`` into a table with all of them beside the bare key's.

"Looked for" is a coverage row (host, KB source, check name) joined with the
KB: for Enclave's scans, a check that ran on the host covers the QIDs whose
``check_name`` it is; for an import, the file's source covers every entry of
that source on every host the file holds (their ``check_name`` is "").
Scans (``slice_ingest``) and imports (``scans.services.imports``) share
``hosts_ingest``.
"""

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from assets.models import Host
from assets.tasks import refresh_overlaps
from console.queueing import enqueue_on_commit
from core import iprange
from core.results import HostResult, Service, SliceResult
from networks.models import Network, NetworkKind
from networks.services import network_counters_add, network_counters_set

from ..models import (
    OPEN_STATUSES,
    Detection,
    DetectionStatus,
    HostService,
    KbSource,
    Scan,
    ScanHost,
    ScanSlice,
    ScanType,
    SliceStatus,
    Vulnerability,
)
from .kb import kb_ensure
from .lifecycle import scan_refresh_progress

logger = logging.getLogger(__name__)

DETECTION = Detection._meta.db_table
VULN = Vulnerability._meta.db_table
HOST = Host._meta.db_table
STAGE = "scans_stage_detection"
STAGE_HOSTS = "scans_stage_host"
SERVICE = HostService._meta.db_table
STAGE_SERVICES = "scans_stage_service"
SCAN_HOST = ScanHost._meta.db_table
STAGE_SCAN_HOSTS = "scans_stage_scan_host"
SERVICE_COLUMNS = [
    "host_id",
    "port",
    "protocol",
    "name",
    "product",
    "version",
    "extra",
    "tunnel",
    "cpes",
    "banner",
]
# A new detection's columns and their types (binary COPY needs them);
# ``fixed_at`` stays NULL.
NEW_COLUMNS = {
    "network_id": "int8",
    "host_id": "int8",
    "qid": "int4",
    "port": "int4",
    "protocol": "varchar",
    "severity": "int2",
    "status": "varchar",
    "first_found": "timestamptz",
    "last_found": "timestamptz",
    "times_found": "int4",
    "results": "text",
}
# A seen detection's staged changes, by primary key.
SEEN_COLUMNS = {
    "id": "int8",
    "status": "varchar",
    "severity": "int2",
    "last_found": "timestamptz",
    "results": "text",
}
NEW, ACTIVE, FIXED, REOPENED = (
    DetectionStatus.NEW.value,
    DetectionStatus.ACTIVE.value,
    DetectionStatus.FIXED.value,
    DetectionStatus.REOPENED.value,
)
OPEN = {s.value for s in OPEN_STATUSES}


@dataclass
class IngestOutcome:
    ingested: bool
    hosts: int = 0
    detections: int = 0


# (QID, port, protocol, results, first found, last found); None: the ingest's time.
FindingRow = tuple[int, int, str, str, datetime | None, datetime | None]


@dataclass
class IngestHost:
    """One host as ingest takes it, from a scan's slice or an import."""

    ip: str
    dns: str = ""
    netbios: str = ""
    os: str = ""
    services: list[Service] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    # (KB source, check name) pairs that looked at this host: their open
    # detections that are not in ``findings`` become Fixed.
    covered: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class BatchOutcome:
    hosts: int = 0
    new_hosts: int = 0
    detections: int = 0
    new_detections: int = 0
    open_delta: dict[str, int] = field(default_factory=dict)


class DetectionsWritten(NamedTuple):
    """What one batch of detections did: findings written, rows inserted, and
    the change in open detections by severity ({"2": +3, "4": -1})."""

    written: int
    created: int
    open_delta: dict[str, int]


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def hosts_upsert(*, network: Network, hosts: list[HostResult], now) -> dict[str, int]:
    """Creates or refreshes hosts by (network, IP); returns {ip_key: host id}.

    A blank name or OS in the result keeps what was known before.
    """
    rows = {}
    for h in hosts:
        ip, key = iprange.ip_and_key(h.ip)
        rows[key] = (ip, key, (h.dns or "")[:255], (h.netbios or "")[:64], (h.os or "")[:255])
    if not rows:
        return {}
    keep = "CASE WHEN excluded.{f} <> '' THEN excluded.{f} ELSE {t}.{f} END"
    with connection.cursor() as cursor:
        _temp_table(
            cursor,
            STAGE_HOSTS,
            "ip varchar(45), ip_key varchar(32), dns varchar(255), netbios varchar(64),"
            " os varchar(255)",
        )
        _write_rows(cursor, STAGE_HOSTS, ["ip", "ip_key", "dns", "netbios", "os"], rows.values())
        cursor.execute(
            f"INSERT INTO {HOST} (network_id, ip, ip_key, dns, netbios, os, first_found,"
            f" last_scanned) SELECT %s, ip, ip_key, dns, netbios, os, %s, %s FROM {STAGE_HOSTS}"
            " WHERE true ORDER BY ip_key"
            " ON CONFLICT (network_id, ip_key) DO UPDATE SET last_scanned = excluded.last_scanned, "
            + ", ".join(f"{f} = {keep.format(f=f, t=HOST)}" for f in ("dns", "netbios", "os"))
            + " RETURNING ip_key, id",
            [network.pk, now, now],
        )
        ids = dict(cursor.fetchall())
        _drop_temp(cursor, STAGE_HOSTS)
    return ids


def _temp_table(cursor, name: str, columns: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    # PostgreSQL drops it at commit; SQLite has no such clause (_drop_temp does it).
    drop = "ON COMMIT DROP" if _is_postgres() else ""
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns}) {drop}")


def _drop_temp(cursor, name: str) -> None:
    if not _is_postgres():
        cursor.execute(f"DROP TABLE {name}")


def _write_rows(cursor, table: str, columns: list[str], rows, *, types=None) -> None:
    """Writes ``rows`` into ``table``: ``COPY`` on PostgreSQL (binary when the
    columns' ``types`` are given: less work on both sides), ``executemany``
    elsewhere."""
    if _is_postgres():
        binary = " (FORMAT BINARY)" if types else ""
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN{binary}"
        with cursor.cursor.copy(statement) as copy:
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def services_upsert(*, network: Network, services: dict[int, list[Service]], now) -> int:
    """Replaces the service inventory of the hosts in ``services`` ({host id: the
    services a scan or import reported}) with what was reported: one staged
    ``INSERT … ON CONFLICT`` refreshes the (host, port, protocol) rows seen
    (``first_seen`` kept), one ``DELETE`` drops the hosts' rows not seen now.
    Hosts absent from ``services`` keep theirs. Returns the rows written."""
    rows = {}
    for host_id, reported in services.items():
        for s in reported:
            rows[(host_id, s.port, (s.protocol or "tcp")[:8])] = (
                (s.name or "")[:64],
                (s.product or "")[:255],
                (s.version or "")[:255],
                (s.extrainfo or "")[:255],
                (s.tunnel or "")[:16],
                json.dumps(list(s.cpes or [])[:8]),
                (s.banner or "")[:4096],
            )
    if not rows:
        return 0
    cpes = "s.cpes::jsonb" if _is_postgres() else "s.cpes"
    with connection.cursor() as cursor:
        _temp_table(
            cursor,
            STAGE_SERVICES,
            "host_id bigint, port integer, protocol varchar(8), name varchar(64),"
            " product varchar(255), version varchar(255), extra varchar(255),"
            " tunnel varchar(16), cpes text, banner text",
        )
        _write_rows(cursor, STAGE_SERVICES, SERVICE_COLUMNS, [(*k, *v) for k, v in rows.items()])
        updated = ", ".join(f"{c} = excluded.{c}" for c in SERVICE_COLUMNS[3:] + ["last_seen"])
        cursor.execute(
            f"INSERT INTO {SERVICE} (network_id, host_id, port, protocol, name, product,"
            " version, extra, tunnel, cpes, banner, first_seen, last_seen)"
            " SELECT %s, s.host_id, s.port, s.protocol, s.name, s.product, s.version, s.extra,"
            f" s.tunnel, {cpes}, s.banner, %s, %s FROM {STAGE_SERVICES} s"
            " WHERE true ORDER BY s.host_id, s.port, s.protocol"
            f" ON CONFLICT (host_id, port, protocol) DO UPDATE SET {updated}",
            [network.pk, now, now],
        )
        hosts = sorted(services)
        for chunk in _chunks(hosts):
            cursor.execute(
                f"DELETE FROM {SERVICE} WHERE host_id IN ({', '.join(['%s'] * len(chunk))})"
                " AND last_seen <> %s",
                [*chunk, now],
            )
        _drop_temp(cursor, STAGE_SERVICES)
    return len(rows)


def detections_upsert(
    *,
    network: Network,
    findings: list[tuple[int, int, int, str, str, datetime | None, datetime | None]],
    covered: list[tuple[int, str, str]],
    severities: dict[int, int],
    now,
    new_hosts: Collection[int] = (),
) -> DetectionsWritten:
    """Writes one batch of detections and moves their statuses.

    ``findings``: (host id, qid, port, protocol, results, first found, last
    found), one per detection seen now; the two times are None for "now" (an
    import may say when its source first and last saw a finding).
    ``severities``: {QID: severity} as the caller read them from the KB; a QID
    not in it is skipped. ``covered``: (host id, KB source, check name) for
    everything that looked at a host; its open detections of that source and
    check that were not seen become Fixed. ``new_hosts``: hosts the batch
    created, which have no detections to read. Returns what the batch did, for
    the network's counters.

    The caller holds the network's row lock, which every writer of detections
    takes, so what one read of the hosts' detections finds stays true until
    commit: new keys go in with plain inserts (``COPY`` on PostgreSQL) and seen
    ones are updated by primary key, with no ``ON CONFLICT`` probe per row.
    """
    # One row per detection key: the last one given wins.
    unique = {(h, q, p, pr): (r, ff, lf) for h, q, p, pr, r, ff, lf in findings}
    # Hosts created now have nothing to read. They come in first scans and
    # imports, while the table grows fastest and its statistics lag: without
    # them, a read by host ids is planned as a scan of the whole table.
    hosts = ({key[0] for key in unique} | {h for h, _s, _c in covered}) - set(new_hosts)
    with connection.cursor() as cursor:
        existing = _detections_of(cursor, sorted(hosts))
        new, seen, delta = _split(network, unique, existing, severities, now)
        # New keys straight into the table: the cheapest way in.
        _write_rows(cursor, DETECTION, list(NEW_COLUMNS), new, types=list(NEW_COLUMNS.values()))
        _update_seen(cursor, seen)
        if covered:
            for severity, n in _fix_unseen(cursor, unique, existing, covered, now).items():
                delta[severity] = delta.get(severity, 0) - n
    return DetectionsWritten(len(new) + len(seen), len(new), {s: n for s, n in delta.items() if n})


# What ingest reads of a detection it may change: (id, status, severity) by key.
Existing = dict[tuple[int, int, int, str], tuple[int, str, int]]


def _detections_of(cursor, hosts: list[int]) -> Existing:
    """Every detection of ``hosts``: one read through the key's index (host id
    leads it), never a join the planner could turn into a scan of the table."""
    existing: Existing = {}
    for chunk in _chunks(hosts):
        cursor.execute(
            f"SELECT host_id, qid, port, protocol, id, status, severity FROM {DETECTION}"
            f" WHERE host_id IN ({', '.join(['%s'] * len(chunk))})",
            chunk,
        )
        existing.update((row[:4], row[4:]) for row in cursor.fetchall())
    return existing


def _split(network: Network, unique: dict, existing: Existing, severities: dict, now):
    """Sorts the batch's findings into rows to insert (New, in NEW_COLUMNS'
    order) and rows to update (Active, or Re-Opened when they were Fixed, in
    SEEN_COLUMNS' order), both in key order, and counts the newly open ones
    (New and Re-Opened) by severity. Once per finding: written for speed."""
    new: list[tuple] = []
    seen: list[tuple] = []
    opened = [0] * 6  # by severity, 1-5
    network_id = network.pk
    held_of, severity_of = existing.get, severities.get
    add_new, add_seen = new.append, seen.append
    for key in sorted(unique):
        severity = severity_of(key[1])
        if severity is None:
            continue
        results, first_found, last_found = unique[key]
        held = held_of(key)
        if held is None:
            host, qid, port, protocol = key
            add_new(
                (network_id, host, qid, port, protocol, severity, NEW)
                + (first_found or now, last_found or now, 1, results)
            )
            opened[severity] += 1
        elif held[1] == FIXED:
            add_seen((held[0], REOPENED, severity, last_found or now, results))
            opened[severity] += 1
        else:
            add_seen((held[0], ACTIVE, severity, last_found or now, results))
    return new, seen, {str(s): n for s, n in enumerate(opened) if n}


def _update_seen(cursor, rows: list[tuple]) -> None:
    """Detections seen again, by primary key: the rows are staged and one
    ``UPDATE … FROM`` writes them (measured at 3,000,000 detections: a nested
    loop probing the primary key per staged row; arrays of ids instead reach
    the planner as literals, and it hashed the whole table). ``last_found``
    changes on every row and the Vulnerabilities list's index holds it, so
    these can never be HOT updates: each writes a new row version into every
    index, whatever else it sets."""
    if not rows:
        return
    _temp_table(
        cursor,
        STAGE,
        "id bigint, status varchar(16), severity smallint,"
        " last_found timestamp with time zone, results text",
    )
    _write_rows(cursor, STAGE, list(SEEN_COLUMNS), rows, types=list(SEEN_COLUMNS.values()))
    cursor.execute(
        f"UPDATE {DETECTION} SET status = s.status, severity = s.severity,"
        f" last_found = s.last_found, times_found = {DETECTION}.times_found + 1,"
        f" fixed_at = NULL, results = s.results FROM {STAGE} s WHERE {DETECTION}.id = s.id"
    )
    _drop_temp(cursor, STAGE)


def _fix_unseen(cursor, unique: dict, existing: Existing, covered: list, now) -> dict:
    """Marks Fixed the open detections of covered hosts that this batch did not
    see, where what covered the host (a check, or an import's whole source) looks
    for that QID. Returns the fixed detections by severity.

    The candidates come from the read the batch already made (usually none
    after a rescan); which of them were looked for is decided here on those few.
    """
    cover: dict[int, set[tuple[str, str]]] = {}
    for host_id, source, check in covered:
        cover.setdefault(host_id, set()).add((source, check))
    candidates = []
    for key in existing.keys() - unique.keys():  # a set difference: usually empty
        pk, status, severity = existing[key]
        if status in OPEN and key[0] in cover:
            candidates.append((key, pk, severity))
    if not candidates:
        return {}
    kinds = {}
    for chunk in _chunks(sorted({key[1] for key, _pk, _severity in candidates})):
        cursor.execute(
            f"SELECT qid, source, check_name FROM {VULN}"
            f" WHERE qid IN ({', '.join(['%s'] * len(chunk))})",
            chunk,
        )
        kinds.update({qid: (source, check) for qid, source, check in cursor.fetchall()})
    fixed: dict[str, int] = {}
    gone = []
    for (host, qid, _port, _protocol), pk, severity in candidates:
        kind = kinds.get(qid)
        if kind and (kind in cover[host] or (kind[0], "") in cover[host]):
            gone.append(pk)
            fixed[str(severity)] = fixed.get(str(severity), 0) + 1
    for chunk in _chunks(sorted(gone)):
        cursor.execute(
            f"UPDATE {DETECTION} SET status = %s, fixed_at = %s"
            f" WHERE id IN ({', '.join(['%s'] * len(chunk))})",
            [FIXED, now, *chunk],
        )
    return fixed


def _chunks(values: list, size: int = 900):
    """Slices of at most ``size`` values (SQLite's bound-parameter limit)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _hosts_known(*, network: Network, keys: list[str]) -> set[str]:
    """The IP keys among ``keys`` that are hosts of the network already."""
    known: set[str] = set()
    for chunk in _chunks(keys):
        known.update(
            Host.objects.filter(network=network, ip_key__in=chunk).values_list("ip_key", flat=True)
        )
    return known


def network_counters_refresh(*, network: Network) -> None:
    """Recounts the network's hosts, its detections and its open ones by
    severity, the figures its counters keep: a full count, once a scan (not per
    page view), of the open ones by severity and of the Fixed ones, each from
    its own partial index alone."""
    rows = Detection.objects.filter(network=network)
    open_by_severity = dict(
        rows.filter(status__in=OPEN_STATUSES)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    fixed = rows.filter(status=DetectionStatus.FIXED).count()
    detections = sum(open_by_severity.values()) + fixed
    network_counters_set(
        network_id=network.pk,
        hosts=Host.objects.filter(network=network).count(),
        open_findings=open_by_severity,
        detections=detections,
    )


def _inside(ranges: list[iprange.IPRange], ip: str) -> bool:
    try:
        value = iprange.parse_address(ip)
    except iprange.IPRangeError:
        return False
    return any(value in r for r in ranges)


def hosts_ingest(
    *,
    scan: Scan,
    network: Network,
    hosts: list[IngestHost],
    severities: dict[int, int],
    now,
    detections: bool = True,
) -> BatchOutcome:
    """Writes one batch of hosts of a scan or an import: hosts by (network, IP),
    their detections (when ``detections``) and what the scan saw on each host.

    The caller holds the network's row lock and a transaction, and adds the
    outcome to the network's counters. ``severities`` has the severity of every
    QID in the findings (they are all in the KB).
    """
    by_key: dict[str, IngestHost] = {}
    for h in hosts:
        by_key[iprange.ip_key(h.ip)] = h
    keys = list(by_key)
    outcome = BatchOutcome(hosts=len(keys))
    known = _hosts_known(network=network, keys=keys)
    outcome.new_hosts = len(keys) - len(known)
    host_ids = hosts_upsert(network=network, hosts=list(by_key.values()), now=now)
    services_upsert(
        network=network,
        services={host_ids[key]: h.services for key, h in by_key.items() if h.services},
        now=now,
    )
    if detections:
        findings = [(host_ids[key], *f) for key, h in by_key.items() for f in h.findings]
        covered = [
            (host_ids[key], source, check)
            for key, h in by_key.items()
            for source, check in h.covered
        ]
        outcome.detections, outcome.new_detections, outcome.open_delta = detections_upsert(
            network=network,
            findings=findings,
            covered=covered,
            severities=severities,
            now=now,
            new_hosts={host_ids[key] for key in keys if key not in known},
        )
    scan_hosts = []
    for key, h in by_key.items():
        by_severity = [0] * 6
        if detections:
            for f in h.findings:
                by_severity[severities[f[0]]] += 1
        counts = {str(s): by_severity[s] for s in range(1, 6)}
        services = [
            {
                "port": s.port,
                "protocol": s.protocol,
                "name": s.name,
                "product": " ".join(p for p in (s.product, s.version) if p),
            }
            for s in h.services
        ]
        scan_hosts.append(
            (host_ids[key], json.dumps(counts), sum(counts.values()), json.dumps(services))
        )
    _scan_hosts_insert(scan_id=scan.pk, rows=scan_hosts)
    return outcome


def _scan_hosts_insert(*, scan_id: int, rows: list[tuple[int, str, int, str]]) -> None:
    """Records what the scan saw on each host (ScanHost rows: host id, findings
    by severity and services as JSON text, findings total), staged and inserted
    in one statement; a host the scan already recorded keeps its row."""
    as_json = "::jsonb" if _is_postgres() else ""
    with connection.cursor() as cursor:
        _temp_table(
            cursor,
            STAGE_SCAN_HOSTS,
            "host_id bigint, findings text, findings_total integer, services text",
        )
        _write_rows(
            cursor, STAGE_SCAN_HOSTS, ["host_id", "findings", "findings_total", "services"], rows
        )
        cursor.execute(
            f"INSERT INTO {SCAN_HOST} (scan_id, host_id, findings, findings_total, services)"
            f" SELECT %s, host_id, findings{as_json}, findings_total, services{as_json}"
            f" FROM {STAGE_SCAN_HOSTS} WHERE true ON CONFLICT (scan_id, host_id) DO NOTHING",
            [scan_id],
        )
        _drop_temp(cursor, STAGE_SCAN_HOSTS)


def network_counters_after(*, network: Network, outcome: BatchOutcome, done: bool) -> None:
    """Adds a batch to the network's counters (a full recount once the scan or
    import is done, healing any drift), and recounts overlaps after new hosts."""
    if done:
        network_counters_refresh(network=network)
    else:
        network_counters_add(
            network_id=network.pk,
            hosts=outcome.new_hosts,
            open_findings=outcome.open_delta,
            detections=outcome.new_detections,
        )
    if outcome.new_hosts and network.kind == NetworkKind.CUSTOM:
        # New hosts may be twins of hosts in overlapping networks: recount
        # this network's pairs (bulk writes skip the per-host bookkeeping).
        network_id = network.pk
        enqueue_on_commit(
            lambda: refresh_overlaps.delay(network_id=network_id), what="overlap recount"
        )


def _engine_host(h: HostResult, severities: dict[int, int]) -> IngestHost:
    return IngestHost(
        ip=h.ip,
        dns=h.dns,
        netbios=h.netbios,
        os=h.os,
        services=h.services,
        findings=[
            (f.qid, f.port, f.protocol or "", f.results or "", None, None)
            for f in h.findings
            if f.qid in severities
        ],
        covered=[(KbSource.ENCLAVE.value, c) for c in h.checks_run],
    )


def slice_ingest(*, result: SliceResult) -> IngestOutcome:
    """Records what an appliance found in one slice; a repeat changes nothing.

    Hosts are upserted by (network, IP); a vulnerability scan also upserts
    detections by (host, QID, port, protocol) and marks Fixed the open ones a
    check looked for and no longer saw. Addresses outside the slice's targets
    are ignored: an appliance reports only what it was asked to probe.
    """
    with transaction.atomic():
        scan_slice = (
            ScanSlice.objects.select_for_update(of=("self",))
            .select_related("scan__network")
            .filter(pk=result.slice_id, scan_id=result.scan_id)
            .first()
        )
        if scan_slice is None or scan_slice.ingested_at is not None:
            return IngestOutcome(ingested=False)
        scan: Scan = scan_slice.scan
        if scan.is_done or scan_slice.status == SliceStatus.CANCELED:
            return IngestOutcome(ingested=False)
        # One ingest per network at a time: the counters it adds up stay exact.
        network = Network.objects.select_for_update().get(pk=scan.network_id)
        now = timezone.now()
        ranges = iprange.parse(scan_slice.targets)
        hosts = [h for h in result.hosts if _inside(ranges, h.ip)]
        severities: dict[int, int] = {}
        vulnerability_scan = scan.type == ScanType.VULNERABILITY
        if vulnerability_scan:
            qids = {f.qid for h in hosts for f in h.findings}
            unknown = kb_ensure(qids=qids) if qids else set()
            if unknown:
                logger.warning("Scan %s: QIDs not in the KB, skipped: %s", scan.pk, unknown)
            severities = dict(
                Vulnerability.objects.filter(qid__in=qids - unknown).values_list("qid", "severity")
            )
        outcome = hosts_ingest(
            scan=scan,
            network=network,
            hosts=[_engine_host(h, severities) for h in hosts],
            severities=severities,
            now=now,
            detections=vulnerability_scan,
        )
        scan_slice.ingested_at = now
        scan_slice.ingested_from = (result.appliance or "")[:64]
        scan_slice.hosts_found = outcome.hosts
        scan_slice.addresses_done = scan_slice.addresses
        scan_slice.error = result.error or ""
        scan_slice.status = SliceStatus.ERROR if result.error else SliceStatus.DONE
        scan_slice.save(
            update_fields=[
                "ingested_at",
                "ingested_from",
                "hosts_found",
                "addresses_done",
                "error",
                "status",
            ]
        )
        Scan.objects.filter(pk=scan.pk).update(hosts_found=scan.scan_hosts.count())
        scan.refresh_from_db()
        scan_refresh_progress(scan=scan, now=now)
        network_counters_after(network=network, outcome=outcome, done=scan.is_done)
    return IngestOutcome(ingested=True, hosts=outcome.hosts, detections=outcome.detections)
