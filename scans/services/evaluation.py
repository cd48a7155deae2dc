"""Re-evaluation: the NVD knowledge matched against every network's stored inventory.

After an NVD feed import that changed records, ``feed_evaluation_queue`` makes,
for every network holding a service inventory, a ``Scan`` of kind "feed" (the
history then says why a finding appeared or went without a scan) and queues
``feed_evaluate`` for it (Celery), which:

* builds a ``MatchIndex`` of the CVEs (``FeedCve``) naming the products the
  network's services are identified as, and nothing else;
* reads the network's services host by host (``HostService``, in batches of
  ``BATCH_HOSTS`` hosts, with progress) and matches each host;
* moves the detections of the KB's NVD entries through the normal lifecycle:
  a match not open becomes New (Re-Opened after Fixed), an open NVD detection
  of an evaluated host no longer matched becomes Fixed (the feed changed, or a
  scan saw another version), a match still open is left as it is;
* leaves Enclave's own checks first: where an open detection of another source
  on the same host and port names the CVE (a check confirmed it), no
  "potential" NVD detection is made for it.

Hosts without services are not evaluated (a discovery, or a file without
services, says nothing of their software); their NVD detections stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from console.queueing import enqueue
from networks.models import Network
from scans.feeds.matcher import InventoryItem, MatchIndex, identify
from scans.feeds.nvd import CveRecord

from ..models import (
    IMPORTED_QID_BASE,
    OPEN_STATUSES,
    Detection,
    DetectionStatus,
    FeedCve,
    FeedImport,
    HostService,
    KbSource,
    Scan,
    ScanHost,
    ScanKind,
    ScanStatus,
    ScanType,
    Vulnerability,
)
from .ingest import (
    BatchOutcome,
    detections_upsert,
    network_counters_after,
    network_counters_refresh,
)

logger = logging.getLogger(__name__)

BATCH_HOSTS = 5_000
# New detections after which the table's statistics are taken again (see _analyze).
ANALYZE_AFTER = 250_000
IN_CHUNK = 900


def feed_evaluation_queue(
    *, feed: FeedImport | None, networks=None, queue: bool = True, title: str = ""
) -> list[Scan]:
    """Makes a run of kind "feed" per network with a service inventory (or per
    network of ``networks``) and queues its evaluation; returns the runs."""
    if networks is None:
        ids = HostService.objects.values_list("network_id", flat=True).distinct().order_by()
        networks = Network.objects.filter(pk__in=ids).order_by("pk")
    runs = []
    with transaction.atomic():
        for network in networks:
            label = f"Feed {feed.filename}" if feed is not None else "Feed knowledge"
            runs.append(
                Scan.objects.create(
                    title=(title or f"{label}: re-evaluation")[:200],
                    kind=ScanKind.FEED,
                    type=ScanType.VULNERABILITY,
                    network=network,
                    feed=feed,
                    launched_by=feed.created_by if feed is not None else None,
                )
            )
        ids = [run.pk for run in runs]
        if queue:
            transaction.on_commit(lambda: _queue(ids))
    return runs


def feed_evaluation_after_scan(*, scan_id: int, network_id: int) -> list[Scan]:
    """After a vulnerability scan or an import ended: when NVD knowledge was
    imported and the network holds services, its inventory is matched again (the
    scan may have seen new versions), as a run of kind "feed"."""
    scan = Scan.objects.filter(pk=scan_id).only("kind", "type", "title").first()
    if scan is None or scan.kind == ScanKind.FEED or scan.type != ScanType.VULNERABILITY:
        return []
    if (
        not FeedCve.objects.exists()
        or not HostService.objects.filter(network_id=network_id).exists()
    ):
        return []
    return feed_evaluation_queue(
        feed=None,
        networks=Network.objects.filter(pk=network_id),
        title=f"After {scan.title}: feed knowledge matched",
    )


def _queue(scan_ids: list[int]) -> None:
    from scans.tasks import feed_evaluate

    for scan_id in scan_ids:
        enqueue(
            lambda s=scan_id: feed_evaluate.delay(s),
            what=f"feed evaluation {scan_id}",
            failed=lambda reason, s=scan_id: _end(Scan.objects.get(pk=s), error=reason),
        )


def match_index(*, products: set[str]) -> tuple[MatchIndex, dict[str, tuple[int, int]]]:
    """The CVEs of these products (canonical names), as a match index, and each
    indexed CVE's KB entry: {CVE id: (QID, severity)}."""
    index = MatchIndex(products=products)
    entries: dict[str, tuple[int, int]] = {}
    if not products:
        return index, entries
    wanted = sorted(products)
    for start in range(0, len(wanted), IN_CHUNK):
        rows = (
            FeedCve.objects.filter(products__product__in=wanted[start : start + IN_CHUNK])
            .filter(rejected=False)
            .values_list("cve_id", "vulnerability_id", "vulnerability__severity", "record")
            .order_by()
            .iterator(chunk_size=2000)
        )
        for cve, qid, severity, record in rows:
            if cve not in entries:
                entries[cve] = (qid, severity)
                index.add(CveRecord.from_dict(record))
    return index, entries


def _inventory(network: Network) -> Iterator[tuple[int, list[InventoryItem]]]:
    """(host id, its services) of the network, host by host."""
    rows = (
        HostService.objects.filter(network=network)
        .order_by("host_id", "protocol", "port")
        .values_list("host_id", "port", "protocol", "product", "version", "extra", "cpes", "banner")
        .iterator(chunk_size=5000)
    )
    host, items = None, []
    for host_id, port, protocol, product, version, extra, cpes, banner in rows:
        if host_id != host:
            if host is not None:
                yield host, items
            host, items = host_id, []
        items.append(InventoryItem(port, protocol, product, version, extra, list(cpes), banner))
    if host is not None:
        yield host, items


def _products(network: Network) -> set[str]:
    distinct = (
        HostService.objects.filter(network=network)
        .values_list("product", "version", "cpes", "banner")
        .distinct()
        .order_by()
    )
    keys = set()
    for product, version, cpes, banner in distinct.iterator(chunk_size=5000):
        for software in identify(InventoryItem(0, "", product, version, "", list(cpes), banner)):
            keys.add(software.key)
    return keys


def _batches(pairs: Iterator, size: int) -> Iterator[list]:
    batch: list = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Knowledge:
    """The KB's NVD entries of the indexed CVEs, and which of those CVEs other
    sources' entries (Enclave's checks, imports) name."""

    def __init__(self, entries: dict[str, tuple[int, int]]):
        self.qids = {cve: qid for cve, (qid, _severity) in entries.items()}
        self.severity = dict(entries.values())
        # Imported QIDs known to be NVD's (``nvd``) or another source's.
        self.nvd: set[int] = set(self.severity)
        self.other: set[int] = set()
        self.confirming: dict[int, set[str]] = {}
        others = Vulnerability.objects.filter(
            Q(qid__lt=IMPORTED_QID_BASE)
            | Q(
                source__in=[s for s in KbSource.values if s not in (KbSource.NVD, KbSource.ENCLAVE)]
            )
        )
        for qid, names in others.values_list("qid", "cves"):
            named = {c.upper() for c in names or [] if isinstance(c, str)} & self.qids.keys()
            if named:
                self.confirming[qid] = named

    def learn(self, qids: set[int]) -> None:
        """Looks up which of these imported QIDs are NVD entries (once each)."""
        unknown = sorted(qids - self.nvd - self.other)
        for start in range(0, len(unknown), IN_CHUNK):
            chunk = unknown[start : start + IN_CHUNK]
            nvd = set(
                Vulnerability.objects.filter(qid__in=chunk, source=KbSource.NVD).values_list(
                    "qid", flat=True
                )
            )
            self.nvd |= nvd
            self.other |= set(chunk) - nvd


def feed_evaluate(*, scan_id: int) -> None:
    """Runs one network's re-evaluation (see the module's docstring); a repeat
    after it ended does nothing, a redelivery while running evaluates again
    (matching twice changes nothing)."""
    with transaction.atomic():
        scan = (
            Scan.objects.select_for_update(of=("self",))
            .select_related("network")
            .filter(pk=scan_id, kind=ScanKind.FEED)
            .first()
        )
        if scan is None or scan.is_done:
            return
        scan.status = ScanStatus.RUNNING
        scan.started = scan.started or timezone.now()
        scan.hosts_total = (
            HostService.objects.filter(network=scan.network).values("host_id").distinct().count()
        )
        scan.save(update_fields=["status", "started", "hosts_total"])
    network = scan.network
    try:
        index, entries = match_index(products=_products(network))
        knowledge = _Knowledge(entries)
        done = written = 0
        _analyze()
        for batch in _batches(_inventory(network), BATCH_HOSTS):
            matched = {host: index.match_host(items) for host, items in batch}
            done += len(batch)
            with transaction.atomic():
                locked = Scan.objects.select_for_update().get(pk=scan.pk)
                if locked.status != ScanStatus.RUNNING:
                    return
                network = Network.objects.select_for_update().get(pk=scan.network_id)
                outcome = _write(scan, network, matched, knowledge, now=timezone.now())
                written += outcome.detections
                Scan.objects.filter(pk=scan.pk).update(hosts_done=done, progress_points=100 * done)
                network_counters_after(network=network, outcome=outcome, done=False)
            if written >= ANALYZE_AFTER:
                _analyze()
                written = 0
    except Exception as error:  # noqa: BLE001 - the run ends in error with the reason
        logger.exception("Feed re-evaluation %s failed", scan.pk)
        _end(scan, error=f"The re-evaluation failed: {error}")
        return
    _end(scan)


def _analyze() -> None:
    """Fresh statistics of the detection table (PostgreSQL): a batch reads
    detections by host ids, and with statistics taken while the table was small
    (a first feed adds millions of rows) the planner reads the whole table for
    each batch instead of the key's index (1.2 s a batch at 1.6 million rows)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Detection._meta.db_table}")


def _write(scan: Scan, network: Network, matched: dict, knowledge: _Knowledge, *, now):
    hosts = sorted(matched)
    current: dict[tuple[int, int, int, str], tuple[int, str]] = {}
    confirmed: set[tuple[int, int, str]] = set()  # (host, port, CVE) a check confirmed
    for start in range(0, len(hosts), IN_CHUNK):
        chunk = hosts[start : start + IN_CHUNK]
        # By host ids alone: the detection key's index. A condition on the QID (a
        # range, or a join with a KB of 250,000 rows) lets PostgreSQL read every
        # feed detection of the table per chunk instead (1.6 s a chunk at 1.6
        # million). Which imported QIDs are NVD's is known or looked up once.
        rows = [
            row
            for row in Detection.objects.filter(host_id__in=chunk)
            .values_list("id", "host_id", "vulnerability_id", "port", "protocol", "status")
            .order_by()
            if row[2] >= IMPORTED_QID_BASE
        ]
        knowledge.learn({row[2] for row in rows})
        for pk, host, qid, port, protocol, status in rows:
            if qid in knowledge.nvd:
                current[(host, qid, port, protocol)] = (pk, status)
        if knowledge.confirming:
            for host, qid, port in (
                Detection.objects.filter(
                    host_id__in=chunk,
                    vulnerability_id__in=list(knowledge.confirming),
                    status__in=OPEN_STATUSES,
                )
                .values_list("host_id", "vulnerability_id", "port")
                .order_by()
            ):
                for cve in knowledge.confirming[qid]:
                    confirmed.add((host, port, cve))
    findings = []
    seen = set()
    changed_hosts: dict[int, dict[str, int]] = {}
    for host, matches in matched.items():
        for m in matches:
            qid = knowledge.qids.get(m.cve_id)
            if qid is None or (host, m.port, m.cve_id) in confirmed:
                continue
            key = (host, qid, m.port, m.protocol)
            seen.add(key)
            held = current.get(key)
            if held is not None and held[1] in OPEN_STATUSES:
                continue  # still matched: left as it is
            findings.append((host, qid, m.port, m.protocol, m.results(), None, None))
            counts = changed_hosts.setdefault(host, {str(s): 0 for s in range(1, 6)})
            counts[str(knowledge.severity[qid])] += 1
    outcome = BatchOutcome(hosts=len(hosts))
    if findings:
        outcome.detections, outcome.new_detections, outcome.open_delta = detections_upsert(
            network=network,
            findings=findings,
            covered=[],
            severities=knowledge.severity,
            now=now,
        )
    cve_of = {qid: cve for cve, qid in knowledge.qids.items()}
    gone = [
        (pk, key[0])
        for key, (pk, status) in current.items()
        if status in OPEN_STATUSES
        and key not in seen
        # A check confirmed it: the potential finding stays as it is.
        and (key[0], key[2], cve_of.get(key[1])) not in confirmed
    ]
    if gone:
        fixed = _fix(gone, now=now)
        for severity, n in fixed.items():
            outcome.open_delta[severity] = outcome.open_delta.get(severity, 0) - n
        for _pk, host in gone:
            changed_hosts.setdefault(host, {str(s): 0 for s in range(1, 6)})
    ScanHost.objects.bulk_create(
        [
            ScanHost(scan=scan, host_id=host, findings=counts, findings_total=sum(counts.values()))
            for host, counts in changed_hosts.items()
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    return outcome


def _fix(gone: list[tuple[int, int]], *, now) -> dict[str, int]:
    fixed: dict[str, int] = {}
    ids = [pk for pk, _host in gone]
    with connection.cursor() as cursor:
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            cursor.execute(
                f"UPDATE {Detection._meta.db_table} SET status = %s, fixed_at = %s"  # noqa: S608
                f" WHERE id IN ({', '.join(['%s'] * len(chunk))}) RETURNING severity",
                [DetectionStatus.FIXED.value, now, *chunk],
            )
            for (severity,) in cursor.fetchall():
                fixed[str(severity)] = fixed.get(str(severity), 0) + 1
    return fixed


def _end(scan: Scan, *, error: str = "") -> None:
    with transaction.atomic():
        locked = Scan.objects.select_for_update().get(pk=scan.pk)
        if locked.is_done:
            return
        network = Network.objects.select_for_update().get(pk=scan.network_id)
        now = timezone.now()
        locked.status = ScanStatus.ERROR if error else ScanStatus.FINISHED
        locked.status_reason = error[:500]
        locked.finished = now
        locked.hosts_found = locked.scan_hosts.count()
        locked.save(update_fields=["status", "status_reason", "finished", "hosts_found"])
        if not error:
            network_counters_refresh(network=network)


__all__ = ["feed_evaluate", "feed_evaluation_queue", "match_index"]
