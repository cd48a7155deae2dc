"""Imports: another scanner's result file into the network the user chose.

An import is a ``Scan`` of kind "import" with its ``ScanImport`` (the file): it
is listed with the scans, counts its hosts and findings the same way, and its
hosts and detections go through the same ingest (``ingest.hosts_ingest``):
hosts by (network, IP), detections New / Active / Re-Opened, and Fixed only
for the (host, vulnerability) pairs of the file's source on hosts the file
holds ("this source covered this host and did not report it").

``import_create`` stores the upload (streamed to MEDIA_ROOT/imports/, never
read into memory whole), detects or checks its format and queues
``import_run`` (Celery), which reads the file twice, streaming both times:

1. check: parse the whole file, count hosts and findings, list the hosts
   without a usable address (skipped, with the reason) and those outside the
   network's address space. A file that is not of the format, truncated or
   malformed, or any host outside the space, ends the import in error with a
   message naming the line or element (or the hosts), and nothing is written.
2. write: the source's KB entries, then the hosts in batches, each batch one
   transaction under the network's row lock that also records how far the
   import got: a redelivered task resumes after the batches written.

The same file (SHA-256) imported into the same network again changes nothing:
the second import ends at once, naming the first.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from console.queueing import enqueue_on_commit
from core import iprange
from networks.models import Network
from networks.selectors import network_is_visible, network_ranges
from scans.imports import FORMAT_LABELS, PARSERS, ImportFormatError, detect_format
from scans.imports.base import ImportedHost, KbEntry

from ..models import (
    IMPORTED_QID_BASE,
    ImportFormat,
    Scan,
    ScanImport,
    ScanKind,
    ScanStatus,
    ScanType,
    Vulnerability,
)
from ..signals import scan_finished
from .ingest import (
    BatchOutcome,
    IngestHost,
    hosts_ingest,
    network_counters_after,
    network_counters_refresh,
)
from .kb import kb_ensure

logger = logging.getLogger(__name__)

BATCH_HOSTS = 2_000
BATCH_FINDINGS = 25_000
CHECK_SHARE = 30  # per cent of the progress bar for the first (checking) pass
OUT_OF_SPACE_NAMED = 10
CHUNK = 1024 * 1024


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- Upload ---------------------------------------------------------------------------


def upload_store(
    upload: UploadedFile, *, folder: str = "imports", suffix: str = ".xml"
) -> tuple[Path, int, str]:
    """Copies an upload under MEDIA_ROOT/<folder>/ chunk by chunk: (path, size,
    sha256). Imports and feed files alike."""
    directory = Path(settings.MEDIA_ROOT) / folder
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}{suffix}"
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        for chunk in upload.chunks(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return path, size, digest.hexdigest()


def import_create(
    *, actor: User | None, network: Network | None, file: UploadedFile | None, format: str = ""
) -> Scan:
    """Stores an uploaded result file and queues its import into ``network``.

    Refuses (ValidationError naming the field): no network (it is never
    assumed), no file, an empty file or one over ENCLAVE_IMPORT_MAX_BYTES, a
    format that is not one Enclave reads, a file that is not one of the formats
    (naming its root element) or not the chosen one. Returns the import's scan
    at once; the file is read by the ``import_run`` task.
    """
    errors: dict[str, list[str]] = {}
    if network is None:
        errors["network"] = ["Choose the network these results belong to."]
    elif not network_is_visible(user=actor, network=network):
        # Outside the actor's grant (or Global Default's only, with networks off).
        errors["network"] = [f"No network with id {network.pk}."]
    if file is None:
        errors["file"] = ["Choose a result file to import."]
    if format and format not in PARSERS:
        errors["format"] = [
            f"'{format}' is not a format Enclave imports: choose one of {', '.join(PARSERS)}."
        ]
    limit = settings.ENCLAVE_IMPORT_MAX_BYTES
    if file is not None:
        if file.size == 0:
            errors["file"] = ["The file is empty."]
        elif file.size > limit:
            errors["file"] = [
                f"The file is {file.size:,} bytes; imports take files up to {limit:,} bytes "
                "(ENCLAVE_IMPORT_MAX_BYTES)."
            ]
    if errors:
        raise ValidationError(errors)
    path, size, sha256 = upload_store(file)
    try:
        with open(path, "rb") as stream:
            detected = detect_format(stream)
    except ImportFormatError as error:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": [str(error)]}) from None
    if format and format != detected:
        path.unlink(missing_ok=True)
        raise ValidationError(
            {
                "format": [
                    f"You chose {FORMAT_LABELS[format]}, but the file is "
                    f"{FORMAT_LABELS[detected]}. Choose that format, or let Enclave detect it."
                ]
            }
        )
    filename = Path(file.name or "upload.xml").name[:255]
    try:
        with transaction.atomic():
            scan = Scan.objects.create(
                title=f"Import of {filename}"[:200],
                kind=ScanKind.IMPORT,
                type=ScanType.VULNERABILITY,
                network=network,
                launched_by=actor if actor is not None and actor.pk else None,
            )
            ScanImport.objects.create(
                scan=scan,
                format=detected,
                filename=filename,
                size=size,
                sha256=sha256,
                file=str(path.relative_to(Path(settings.MEDIA_ROOT))),
            )
            audit_record(
                actor=actor,
                action=AuditEntry.Action.CREATE,
                instance=scan,
                changes={
                    "kind": "import",
                    "format": detected,
                    "file": filename,
                    "size": size,
                    "network": network.name,
                },
            )
            scan_id = scan.pk
            enqueue_on_commit(
                lambda: _queue(scan_id),
                what=f"import {scan_id}",
                failed=lambda reason: _end(Scan.objects.get(pk=scan_id), error=reason, path=path),
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return scan


def _queue(scan_id: int) -> None:
    from scans.tasks import import_run

    import_run.delay(scan_id)


# --- Reading -------------------------------------------------------------------------


class _Counting:
    """A binary file that counts the bytes read (progress of a pass)."""

    def __init__(self, stream, on_read):
        self.stream, self.on_read, self.done = stream, on_read, 0

    def read(self, size=-1):
        data = self.stream.read(size)
        self.done += len(data)
        self.on_read(self.done)
        return data

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        self.done = self.stream.seek(offset, whence)
        return self.done


class _Space:
    """Membership in a network's address space without enumerating it."""

    def __init__(self, network: Network):
        self.any = network.accepts_any_address
        ranges = [] if self.any else iprange.merge(network_ranges(network=network))
        self.starts = [iprange.from_key(r.start_key) for r in ranges]
        self.ends = [iprange.from_key(r.end_key) for r in ranges]

    def __contains__(self, ip: str) -> bool:
        if self.any:
            return True
        value = iprange.parse_address(ip)
        index = bisect.bisect_right(self.starts, value) - 1
        return index >= 0 and value <= self.ends[index]


@dataclass
class _Checked:
    """What the first pass learnt."""

    hosts: int = 0
    findings: int = 0
    skipped: list[dict] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    outside_count: int = 0
    repeated: set[str] = field(default_factory=set)  # IPs on more than one host element
    entries: dict[str, KbEntry] = field(default_factory=dict)


def _check(scan: Scan, path: Path) -> _Checked:
    parser = PARSERS[scan.import_file.format]
    space = _Space(scan.network)
    out = _Checked()
    seen: set[str] = set()
    size = max(scan.import_file.size, 1)
    progress = _Progress(scan, lambda done: CHECK_SHARE * min(done, size) // size)
    with open(path, "rb") as raw:
        for item in parser.parse(_Counting(raw, progress)):
            if isinstance(item, KbEntry):
                held = out.entries.get(item.external_id)
                if held is None or (item.detailed and not held.detailed):
                    out.entries[item.external_id] = item
                continue
            if not item.ip:
                out.skipped.append({"host": item.address[:255], "reason": item.skip_reason})
                continue
            if item.ip not in space:
                out.outside_count += 1
                if len(out.outside) < OUT_OF_SPACE_NAMED:
                    out.outside.append(item.ip)
                continue
            if item.ip in seen:
                out.repeated.add(item.ip)
            else:
                seen.add(item.ip)
                out.hosts += 1
            out.findings += len(item.findings) + len(item.engine_findings)
    return out


class _Progress:
    """Writes the import's progress when it moves by a whole per cent."""

    def __init__(self, scan: Scan, percent_of):
        self.scan, self.percent_of, self.last = scan, percent_of, -1

    def __call__(self, done: int) -> None:
        percent = int(self.percent_of(done))
        if percent > self.last:
            self.last = percent
            ScanImport.objects.filter(pk=self.scan.pk, progress__lt=percent).update(
                progress=percent
            )


# --- KB ----------------------------------------------------------------------------------


def kb_entries_upsert(*, source: str, entries: list[KbEntry]) -> dict[str, int]:
    """Creates or refreshes the KB entries of an import's source; returns
    {external id: QID}.

    A new entry gets the next free QID from IMPORTED_QID_BASE up (one writer at a
    time: a PostgreSQL advisory lock; SQLite writes one at a time anyway). An
    entry the file only names (``detailed`` False) never overwrites one the KB
    already holds.
    """
    if not entries:
        return {}
    with transaction.atomic():
        if _is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORTED_QID_BASE])
        ids = [e.external_id for e in entries]
        existing: dict[str, Vulnerability] = {}
        for start in range(0, len(ids), 900):
            for v in Vulnerability.objects.filter(
                source=source, external_id__in=ids[start : start + 900]
            ):
                existing[v.external_id] = v
        top = Vulnerability.objects.filter(qid__gte=IMPORTED_QID_BASE).aggregate(m=Max("qid"))["m"]
        next_qid = max(top + 1 if top is not None else IMPORTED_QID_BASE, IMPORTED_QID_BASE)
        new, changed = [], []
        for entry in entries:
            row = existing.get(entry.external_id)
            if row is None:
                row = Vulnerability(qid=next_qid, source=source, external_id=entry.external_id)
                next_qid += 1
                _fill(row, entry)
                new.append(row)
                existing[entry.external_id] = row
            elif entry.detailed:
                _fill(row, entry)
                changed.append(row)
        Vulnerability.objects.bulk_create(new, batch_size=500)
        Vulnerability.objects.bulk_update(
            changed,
            ["title", "severity", "kind", "category", "cvss", "cves", "diagnosis"]
            + ["consequence", "solution"],
            batch_size=500,
        )
    return {external_id: row.qid for external_id, row in existing.items()}


def _fill(row: Vulnerability, entry: KbEntry) -> None:
    row.title = entry.title[:255] or row.external_id
    row.severity = entry.severity
    row.kind = entry.kind
    row.category = entry.category[:64]
    row.cvss = Decimal(str(round(entry.cvss, 1))) if entry.cvss is not None else None
    row.cves = list(entry.cves)
    row.diagnosis = entry.diagnosis
    row.consequence = entry.consequence
    row.solution = entry.solution
    row.check_name = ""


# --- Writing -----------------------------------------------------------------------------


def _ingest_host(
    item: ImportedHost, source: str, qids: dict[str, int], engine_qids: set[int]
) -> IngestHost:
    findings = [
        (qids[f.external_id], f.port, f.protocol, f.results, f.first_found, f.last_found)
        for f in item.findings
    ]
    findings += [
        (f.qid, f.port, f.protocol, f.results, None, None)
        for f in item.engine_findings
        if f.qid in engine_qids
    ]
    covered = [(source, "")] + [("enclave", check) for check in item.engine_checks]
    return IngestHost(
        ip=item.ip,
        dns=item.dns,
        netbios=item.netbios,
        os=item.os,
        services=item.services,
        findings=findings,
        covered=covered,
    )


def _merge(held: IngestHost, more: IngestHost) -> None:
    """Two elements of one file about the same address: one host."""
    for name in ("dns", "netbios", "os"):
        setattr(held, name, getattr(held, name) or getattr(more, name))
    held.services += more.services
    held.findings += more.findings
    held.covered = list(dict.fromkeys(held.covered + more.covered))


def _batches(items: Iterator, checked: _Checked, convert) -> Iterator[list[IngestHost]]:
    """Hosts in batches of whole hosts; hosts the file names more than once are
    merged and come last."""
    batch: list[IngestHost] = []
    findings = 0
    repeated: dict[str, IngestHost] = {}
    for item in items:
        if isinstance(item, KbEntry) or not item.ip:
            continue
        host = convert(item)
        if item.ip in checked.repeated:
            if item.ip in repeated:
                _merge(repeated[item.ip], host)
            else:
                repeated[item.ip] = host
            continue
        batch.append(host)
        findings += len(host.findings)
        if len(batch) >= BATCH_HOSTS or findings >= BATCH_FINDINGS:
            yield batch
            batch, findings = [], 0
    batch += repeated.values()
    if batch:
        yield batch


def import_run(*, scan_id: int) -> None:
    """Runs an import queued by ``import_create``; a repeat (redelivery) resumes or
    does nothing. See the module docstring for what it writes and refuses."""
    with transaction.atomic():
        scan = (
            Scan.objects.select_for_update(of=("self",))
            .select_related("import_file", "network")
            .filter(pk=scan_id, kind=ScanKind.IMPORT)
            .first()
        )
        if scan is None or scan.is_done:
            return
        Network.objects.select_for_update().get(pk=scan.network_id)
        twin = (
            Scan.objects.filter(
                kind=ScanKind.IMPORT,
                network_id=scan.network_id,
                import_file__sha256=scan.import_file.sha256,
                status__in=(ScanStatus.RUNNING, ScanStatus.FINISHED),
            )
            .exclude(pk=scan.pk)
            .order_by("pk")
            .first()
        )
        if twin is not None and scan.status == ScanStatus.QUEUED:
            _end_duplicate(scan, twin)
            return
        if scan.status == ScanStatus.QUEUED:
            scan.status = ScanStatus.RUNNING
            scan.started = timezone.now()
            scan.save(update_fields=["status", "started"])
    record = scan.import_file
    path = Path(settings.MEDIA_ROOT) / record.file.name if record.file else None
    if path is None or not path.exists():
        _end(scan, error="The uploaded file is gone; upload it again.")
        return
    try:
        checked = _check(scan, path)
    except ImportFormatError as error:
        _end(scan, error=str(error), path=path)
        return
    if checked.outside_count:
        _end(scan, error=_outside_message(scan.network, checked), path=path, checked=checked)
        return
    ScanImport.objects.filter(pk=scan.pk).update(skipped=checked.skipped)
    Scan.objects.filter(pk=scan.pk).update(hosts_total=checked.hosts)
    source = record.format
    qids = kb_entries_upsert(source=source, entries=list(checked.entries.values()))
    try:
        _write(scan, path, checked, source, qids)
    except _Canceled:
        path.unlink(missing_ok=True)
        return
    _end(scan, path=path, checked=checked)


class _Canceled(Exception):
    pass


def _write(scan: Scan, path: Path, checked: _Checked, source: str, qids: dict[str, int]) -> None:
    parser = PARSERS[source]
    engine_seen: set[int] = set()
    engine_qids: set[int] = set()
    severities = dict(
        Vulnerability.objects.filter(qid__in=list(qids.values())).values_list("qid", "severity")
    )

    def convert(item: ImportedHost) -> IngestHost:
        wanted = {f.qid for f in item.engine_findings} - engine_seen
        if wanted:
            engine_seen.update(wanted)
            unknown = kb_ensure(qids=wanted)
            known = wanted - unknown
            engine_qids.update(known)
            severities.update(
                Vulnerability.objects.filter(qid__in=known).values_list("qid", "severity")
            )
        return _ingest_host(item, source, qids, engine_qids)

    done_hosts = 0
    with open(path, "rb") as raw:
        batches = _batches(parser.parse(raw), checked, convert)
        for number, batch in enumerate(batches, start=1):
            done_hosts += len(batch)
            if number <= scan.import_file.batches_done:
                continue  # written before a redelivery
            with transaction.atomic():
                locked = Scan.objects.select_for_update().get(pk=scan.pk)
                if locked.status != ScanStatus.RUNNING:
                    raise _Canceled
                network = Network.objects.select_for_update().get(pk=scan.network_id)
                outcome: BatchOutcome = hosts_ingest(
                    scan=scan,
                    network=network,
                    hosts=batch,
                    severities=severities,
                    now=timezone.now(),
                )
                findings = sum(len(h.findings) for h in batch)
                share = 100 - CHECK_SHARE
                ScanImport.objects.filter(pk=scan.pk).update(
                    batches_done=number,
                    hosts=done_hosts,
                    findings=F("findings") + findings,
                    progress=CHECK_SHARE + share * done_hosts // max(checked.hosts, 1),
                )
                Scan.objects.filter(pk=scan.pk).update(hosts_done=done_hosts)
                network_counters_after(network=network, outcome=outcome, done=False)


def _outside_message(network: Network, checked: _Checked) -> str:
    named = ", ".join(checked.outside)
    more = checked.outside_count - len(checked.outside)
    extra = f" and {more:,} more" if more > 0 else ""
    return (
        f"{checked.outside_count:,} host(s) of the file lie outside the address space of "
        f"network '{network.name}' ({network.address_space or 'empty'}): {named}{extra}. "
        "Nothing was imported: choose the network these results belong to, or widen its "
        "address space."
    )


def _end_duplicate(scan: Scan, twin: Scan) -> None:
    now = timezone.now()
    scan.status = ScanStatus.FINISHED
    scan.started = scan.started or now
    scan.finished = now
    scan.status_reason = (f"Same file as import #{twin.pk} into this network: nothing changed.")[
        :500
    ]
    scan.save(update_fields=["status", "started", "finished", "status_reason"])
    ScanImport.objects.filter(pk=scan.pk).update(duplicate_of=twin, progress=100)
    record = scan.import_file
    if record.file:
        (Path(settings.MEDIA_ROOT) / record.file.name).unlink(missing_ok=True)
        ScanImport.objects.filter(pk=scan.pk).update(file="")


def _end(
    scan: Scan, *, error: str = "", path: Path | None = None, checked: _Checked | None = None
) -> None:
    """Ends the import (finished, or in error with the reason) and drops the file."""
    with transaction.atomic():
        locked = Scan.objects.select_for_update().get(pk=scan.pk)
        if locked.is_done:
            return
        network = Network.objects.select_for_update().get(pk=scan.network_id)
        now = timezone.now()
        locked.status = ScanStatus.ERROR if error else ScanStatus.FINISHED
        locked.status_reason = error[:500]
        locked.started = locked.started or now
        locked.finished = now
        locked.hosts_found = locked.scan_hosts.count()
        locked.save(update_fields=["status", "status_reason", "started", "finished", "hosts_found"])
        update = {"file": ""}
        if not error:
            update["progress"] = 100
        if checked is not None:
            update["skipped"] = checked.skipped
        ScanImport.objects.filter(pk=scan.pk).update(**update)
        if not error:
            # Once an import: a full recount heals any drift.
            network_counters_refresh(network=network)
            scan_id, network_id = scan.pk, scan.network_id
            transaction.on_commit(
                lambda: scan_finished.send(sender=Scan, scan_id=scan_id, network_id=network_id)
            )
    if path is not None:
        path.unlink(missing_ok=True)
    if error:
        logger.info("Import %s refused: %s", scan.pk, error)


__all__ = ["ImportFormat", "import_create", "import_run", "kb_entries_upsert"]
