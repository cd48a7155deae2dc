# ruff: noqa: S608 -- every identifier put into SQL here is a constant of this module.
"""Ingest: what an appliance found becomes hosts, detections and progress.

Idempotent: the first result of a slice is recorded (``ingested_at``) under a
row lock and every repeat is ignored, so redelivery (``acks_late``), retries
and a slice run twice after a failover change nothing.

Detections are written in one set-based pass per batch: the batch goes into a
temporary staging table (``COPY`` on PostgreSQL, ``executemany`` elsewhere),
then one ``INSERT … SELECT … ON CONFLICT`` moves statuses (New on first
sight, Active when seen again, Re-Opened when seen after Fixed) and one
``UPDATE`` marks Fixed what a check looked for on a host and no longer saw.
MEASURED.md: this is ~5x faster than Django's bulk_create on PostgreSQL.
"""

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from assets.models import Host
from networks import iprange
from networks.models import Network
from scans.engine.results import HostResult, SliceResult

from ..models import (
    OPEN_STATUSES,
    Detection,
    DetectionStatus,
    Scan,
    ScanHost,
    ScanSlice,
    ScanType,
    SliceStatus,
    Vulnerability,
)
from .kb import kb_ensure
from .launch import scan_refresh_progress

logger = logging.getLogger(__name__)

DETECTION = Detection._meta.db_table
VULN = Vulnerability._meta.db_table
HOST = Host._meta.db_table
STAGE = "scans_stage_detection"
STAGE_CHECKS = "scans_stage_check"
OPEN_SQL = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)


@dataclass
class IngestOutcome:
    ingested: bool
    hosts: int = 0
    detections: int = 0


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def hosts_upsert(*, network: Network, hosts: list[HostResult], now) -> dict[str, int]:
    """Creates or refreshes hosts by (network, IP); returns {ip_key: host id}.

    A blank name or OS in the result keeps what was known before.
    """
    rows = {}
    for h in hosts:
        ip = iprange.normalise_ip(h.ip)
        rows[iprange.ip_key(ip)] = (
            network.pk,
            ip,
            iprange.ip_key(ip),
            (h.dns or "")[:255],
            (h.netbios or "")[:64],
            (h.os or "")[:255],
            now,
            now,
        )
    if not rows:
        return {}
    keep = "CASE WHEN excluded.{f} <> '' THEN excluded.{f} ELSE {t}.{f} END"
    sql = (
        f"INSERT INTO {HOST} (network_id, ip, ip_key, dns, netbios, os, first_found, last_scanned)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (network_id, ip_key) DO UPDATE SET last_scanned = excluded.last_scanned, "
        + ", ".join(f"{f} = {keep.format(f=f, t=HOST)}" for f in ("dns", "netbios", "os"))
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, list(rows.values()))
    ids: dict[str, int] = {}
    keys = list(rows)
    for start in range(0, len(keys), 900):  # SQLite's bound-parameter limit
        ids.update(
            Host.objects.filter(network=network, ip_key__in=keys[start : start + 900]).values_list(
                "ip_key", "pk"
            )
        )
    return ids


def _stage_rows(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    if _is_postgres():
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def detections_upsert(
    *,
    network: Network,
    findings: list[tuple[int, int, int, str, str]],
    checks_run: list[tuple[int, str]],
    now,
) -> int:
    """Writes one batch of detections and moves their statuses.

    ``findings``: (host id, qid, port, protocol, results), one per detection
    seen now. ``checks_run``: (host id, check name) for every check that looked
    at a host; its open detections that were not seen become Fixed.
    Returns the number of findings written.
    """
    # One row per detection key: ON CONFLICT may not touch a row twice.
    unique = {(h, q, p, pr): r for h, q, p, pr, r in findings}
    with connection.cursor() as cursor:
        temp = "ON COMMIT DROP" if _is_postgres() else ""
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_CHECKS}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE} (host_id bigint, qid integer, port integer,"
            f" protocol varchar(8), results text) {temp}"
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE_CHECKS} (host_id bigint, check_name varchar(64)) {temp}"
        )
        _stage_rows(
            cursor,
            STAGE,
            ["host_id", "qid", "port", "protocol", "results"],
            [(*key, results) for key, results in unique.items()],
        )
        _stage_rows(cursor, STAGE_CHECKS, ["host_id", "check_name"], list(set(checks_run)))
        if unique:
            cursor.execute(
                f"INSERT INTO {DETECTION} (network_id, host_id, qid, port, protocol, severity,"
                " status, first_found, last_found, times_found, fixed_at, results)"
                f" SELECT %s, s.host_id, s.qid, s.port, s.protocol, v.severity, %s, %s, %s, 1,"
                f" NULL, s.results FROM {STAGE} s JOIN {VULN} v ON v.qid = s.qid WHERE true"
                " ON CONFLICT (host_id, qid, port, protocol) DO UPDATE SET"
                f" status = CASE WHEN {DETECTION}.status = %s THEN %s ELSE %s END,"
                " last_found = excluded.last_found,"
                f" times_found = {DETECTION}.times_found + 1,"
                " fixed_at = NULL, results = excluded.results, severity = excluded.severity",
                [
                    network.pk,
                    DetectionStatus.NEW.value,
                    now,
                    now,
                    DetectionStatus.FIXED.value,
                    DetectionStatus.REOPENED.value,
                    DetectionStatus.ACTIVE.value,
                ],
            )
        if checks_run:
            cursor.execute(
                f"UPDATE {DETECTION} SET status = %s, fixed_at = %s"
                f" WHERE status IN ({OPEN_SQL})"
                f" AND host_id IN (SELECT host_id FROM {STAGE_CHECKS})"
                f" AND EXISTS (SELECT 1 FROM {STAGE_CHECKS} c JOIN {VULN} v"
                f"  ON v.check_name = c.check_name"
                f"  WHERE c.host_id = {DETECTION}.host_id AND v.qid = {DETECTION}.qid)"
                f" AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.host_id = {DETECTION}.host_id"
                f"  AND s.qid = {DETECTION}.qid AND s.port = {DETECTION}.port"
                f"  AND s.protocol = {DETECTION}.protocol)",
                [DetectionStatus.FIXED.value, now],
            )
        if not _is_postgres():
            cursor.execute(f"DROP TABLE {STAGE}")
            cursor.execute(f"DROP TABLE {STAGE_CHECKS}")
    return len(unique)


def network_counters_refresh(*, network: Network) -> None:
    """Recounts Network.host_count and open_findings (kept so pages need not count)."""
    open_by_severity = {str(s): 0 for s in range(1, 6)}
    for row in (
        Detection.objects.filter(network=network, status__in=OPEN_STATUSES)
        .values("severity")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        open_by_severity[str(row["severity"])] = row["n"]
    Network.objects.filter(pk=network.pk).update(
        host_count=Host.objects.filter(network=network).count(), open_findings=open_by_severity
    )


def _inside(ranges: list[iprange.IPRange], ip: str) -> bool:
    try:
        value = iprange.parse_address(ip)
    except iprange.IPRangeError:
        return False
    return any(value in r for r in ranges)


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
        network = scan.network
        now = timezone.now()
        ranges = iprange.parse(scan_slice.targets)
        hosts = [h for h in result.hosts if _inside(ranges, h.ip)]
        host_ids = hosts_upsert(network=network, hosts=hosts, now=now)
        by_host = {iprange.ip_key(h.ip): h for h in hosts}
        written = 0
        severities: dict[int, int] = {}
        if scan.type == ScanType.VULNERABILITY:
            qids = {f.qid for h in hosts for f in h.findings}
            unknown = kb_ensure(qids=qids) if qids else set()
            if unknown:
                logger.warning("Scan %s: QIDs not in the KB, skipped: %s", scan.pk, unknown)
            severities = dict(
                Vulnerability.objects.filter(qid__in=qids - unknown).values_list("qid", "severity")
            )
            findings = [
                (host_ids[key], f.qid, f.port, f.protocol or "", f.results or "")
                for key, h in by_host.items()
                for f in h.findings
                if f.qid in severities
            ]
            checks = [(host_ids[key], c) for key, h in by_host.items() for c in h.checks_run]
            written = detections_upsert(
                network=network, findings=findings, checks_run=checks, now=now
            )
        scan_hosts = []
        for key, h in by_host.items():
            counts = {str(s): 0 for s in range(1, 6)}
            for f in h.findings:
                if f.qid in severities:
                    counts[str(severities[f.qid])] += 1
            scan_hosts.append(
                ScanHost(
                    scan=scan,
                    host_id=host_ids[key],
                    findings=counts,
                    findings_total=sum(counts.values()),
                    services=[
                        {
                            "port": s.port,
                            "protocol": s.protocol,
                            "name": s.name,
                            "product": " ".join(p for p in (s.product, s.version) if p),
                        }
                        for s in h.services
                    ],
                )
            )
        ScanHost.objects.bulk_create(scan_hosts, ignore_conflicts=True, batch_size=500)
        scan_slice.ingested_at = now
        scan_slice.ingested_from = (result.appliance or "")[:64]
        scan_slice.hosts_found = len(hosts)
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
        network_counters_refresh(network=network)
    return IngestOutcome(ingested=True, hosts=len(hosts), detections=written)
