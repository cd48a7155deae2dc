# ruff: noqa: S608 -- every identifier put into SQL here is a constant of this module.
"""Feed imports: NVD CVE JSON 2.0, the CISA KEV catalog and EPSS scores, as files.

``feed_import_create`` stores an upload (streamed to MEDIA_ROOT/feeds/, never
read into memory whole), tells its kind from its content and queues
``feed_import_run`` (Celery); ``manage.py kb_import FILE...`` runs the same
import in its own process. The file is read twice, streaming both times:

1. check: parse every record (``scans.feeds``); a file that is not one of the
   formats, truncated or malformed ends the import in error with the parser's
   message (it names the record, line or byte) and nothing is written;
2. write, in batches of ``BATCH`` records, each one transaction that also
   records how far the import got (a redelivered task resumes after it):

   * NVD: one KB entry per CVE (source "nvd", external id the CVE id, QIDs from
     ``IMPORTED_QID_BASE`` up like imports' entries, kind "potential"), the
     record itself (``FeedCve``, what re-evaluation matches) and the products its
     criteria name (``FeedCveProduct``). A record whose fingerprint is unchanged
     is not written (re-importing a file changes nothing); a rejected record keeps
     its KB entry, titled so, and matches nothing any more;
   * KEV: known exploited, date added, due date per CVE (``CveIntel``);
   * EPSS: score and percentile per CVE (``CveIntel``).

   KEV and EPSS are then copied onto the KB entries that name the CVEs
   (``kb_intel_refresh``), so lists filter and sort without another join.

The same file (SHA-256) imported again ends at once, naming the first import.
An NVD import that added or changed records queues the re-evaluation of every
network's stored inventories (``scans.services.evaluation``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from console.queueing import enqueue_on_commit
from scans.feeds import FEEDS, FeedFormatError, detect_format, open_feed
from scans.feeds.epss import EpssScore
from scans.feeds.kev import KevEntry
from scans.feeds.matcher import canonical
from scans.feeds.nvd import CveRecord
from scans.imports.base import KbEntry

from ..models import (
    IMPORTED_QID_BASE,
    CveIntel,
    FeedCve,
    FeedCveProduct,
    FeedImport,
    FeedKind,
    KbSource,
    ScanStatus,
    VulnerabilityKind,
)
from .imports import upload_store
from .ingest import _drop_temp, _is_postgres, _temp_table, _write_rows

logger = logging.getLogger(__name__)

BATCH = 2_000
CHECK_SHARE = 30  # per cent of the progress bar for the checking pass
CHUNK = 1024 * 1024
IN_CHUNK = 900  # SQLite's bound-parameter limit
TITLE_LIMIT = 255
VULN = "scans_vulnerability"
INTEL = CveIntel._meta.db_table


# --- Upload ----------------------------------------------------------------------------------


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _detect(path: Path) -> str:
    """The feed kind of a stored file; ValidationError naming what it is otherwise."""
    try:
        return detect_format(path)
    except FeedFormatError as error:
        raise ValidationError({"file": [str(error)]}) from None
    except OSError as error:
        raise ValidationError({"file": [f"The file cannot be read: {error.strerror}."]}) from None


def feed_import_create(*, actor: User | None, file: UploadedFile | None) -> FeedImport:
    """Stores an uploaded feed file and queues its import.

    Refuses (ValidationError on ``file``): no file, an empty one, one over
    ENCLAVE_IMPORT_MAX_BYTES, or one that is not NVD CVE JSON 2.0, the KEV
    catalog or EPSS scores (the message says what it is). Returns at once; the
    ``feed_import_run`` task reads the file.
    """
    if file is None:
        raise ValidationError({"file": ["Choose a feed file to import."]})
    limit = settings.ENCLAVE_IMPORT_MAX_BYTES
    if file.size == 0:
        raise ValidationError({"file": ["The file is empty."]})
    if file.size > limit:
        raise ValidationError(
            {
                "file": [
                    f"The file is {file.size:,} bytes; feeds take files up to {limit:,} bytes "
                    "(ENCLAVE_IMPORT_MAX_BYTES)."
                ]
            }
        )
    path, size, sha256 = upload_store(file, folder="feeds", suffix=".feed")
    try:
        kind = _detect(path)
        filename = Path(file.name or "feed").name[:255]
        with transaction.atomic():
            feed = FeedImport.objects.create(
                kind=kind,
                filename=filename,
                size=size,
                sha256=sha256,
                file=str(path.relative_to(Path(settings.MEDIA_ROOT))),
                created_by=actor if actor is not None and actor.pk else None,
            )
            _audit(actor, feed)
            feed_id = feed.pk
            enqueue_on_commit(
                lambda: _queue(feed_id),
                what=f"feed import {feed_id}",
                failed=lambda reason: _end(
                    FeedImport.objects.get(pk=feed_id), error=reason, path=path
                ),
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return feed


def feed_import_file(*, path: Path, actor: User | None = None, evaluate: bool = True) -> FeedImport:
    """Imports a feed file from the local disk now, in this process (``kb_import``):
    the file stays where it is. Refuses what ``feed_import_create`` refuses;
    returns the finished (or failed) import."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError({"file": [f"{path}: no such file."]})
    size, sha256 = _digest(path)
    if size == 0:
        raise ValidationError({"file": [f"{path.name}: the file is empty."]})
    kind = _detect(path)
    with transaction.atomic():
        feed = FeedImport.objects.create(
            kind=kind, filename=path.name[:255], size=size, sha256=sha256, created_by=actor
        )
        _audit(actor, feed)
    feed_import_run(feed_id=feed.pk, path=path, evaluate=evaluate)
    feed.refresh_from_db()
    return feed


def _audit(actor: User | None, feed: FeedImport) -> None:
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=feed,
        changes={"kind": feed.kind, "file": feed.filename, "size": feed.size},
    )


def _queue(feed_id: int) -> None:
    from scans.tasks import feed_import_run as task

    task.delay(feed_id)


# --- Running ---------------------------------------------------------------------------------


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read (progress of the checking pass)."""

    def __init__(self, stream, on_read):
        self.stream, self.on_read, self.done = stream, on_read, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.done += len(data)
        self.on_read(self.done)
        return len(data)

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        self.done = self.stream.seek(offset, whence)
        return self.done


class _Progress:
    def __init__(self, feed: FeedImport, percent_of):
        self.feed, self.percent_of, self.last = feed, percent_of, -1

    def __call__(self, done: int) -> None:
        percent = int(self.percent_of(done))
        if percent > self.last:
            self.last = percent
            FeedImport.objects.filter(pk=self.feed.pk, progress__lt=percent).update(
                progress=percent
            )


@dataclass
class _Header:
    score_date: date | None = None


def _records(feed: FeedImport, path: Path, on_read=None) -> Iterator:
    with open(path, "rb") as raw:
        source = io.BufferedReader(_Counting(raw, on_read)) if on_read is not None else raw
        with open_feed(source) as stream:
            yield from FEEDS[feed.kind].parse(stream)


def _header(feed: FeedImport, path: Path) -> _Header:
    if feed.kind != FeedKind.EPSS:
        return _Header()
    with open_feed(path) as stream:
        header = FEEDS[feed.kind].read_header(stream)
    try:
        return _Header(score_date=date.fromisoformat(header.score_date[:10]))
    except ValueError:
        return _Header()


def feed_import_run(*, feed_id: int, path: Path | None = None, evaluate: bool = True) -> None:
    """Runs a feed import (see the module's docstring); a repeat (redelivery)
    resumes after the batches written, or does nothing once it ended."""
    with transaction.atomic():
        feed = FeedImport.objects.select_for_update().filter(pk=feed_id).first()
        if feed is None or feed.is_done:
            return
        twin = (
            FeedImport.objects.filter(
                kind=feed.kind, sha256=feed.sha256, status=ScanStatus.FINISHED
            )
            .exclude(pk=feed.pk)
            .order_by("pk")
            .first()
        )
        if twin is not None and feed.status == ScanStatus.QUEUED:
            _end(feed, path=None if path else _stored(feed), duplicate_of=twin)
            return
        if feed.status == ScanStatus.QUEUED:
            feed.status = ScanStatus.RUNNING
            feed.started = timezone.now()
            feed.save(update_fields=["status", "started"])
    owned = path is None
    path = Path(path) if path is not None else _stored(feed)
    if path is None or not path.exists():
        _end(feed, error="The uploaded file is gone; upload it again.")
        return
    size = max(feed.size, 1)
    try:
        check = _Progress(feed, lambda done: CHECK_SHARE * min(done, size) // size)
        total = sum(1 for _ in _records(feed, path, check))
        header = _header(feed, path)
    except FeedFormatError as error:
        _end(feed, error=str(error), path=path if owned else None)
        return
    FeedImport.objects.filter(pk=feed.pk).update(records=total)
    writer = WRITERS[feed.kind]
    changed = dict(feed.changed)
    done = 0
    for number, batch in enumerate(_batched(_records(feed, path), BATCH), start=1):
        done += len(batch)
        if number <= feed.batches_done:
            continue  # written before a redelivery
        with transaction.atomic():
            counts = writer(batch, header)
            for key, n in counts.items():
                changed[key] = changed.get(key, 0) + n
            FeedImport.objects.filter(pk=feed.pk).update(
                batches_done=number,
                changed=changed,
                progress=CHECK_SHARE + (100 - CHECK_SHARE) * done // max(total, 1) - 1,
            )
    kb_intel_refresh()
    _end(feed, path=path if owned else None)
    feed.refresh_from_db()
    if evaluate and feed.kind == FeedKind.NVD and feed.changed_total:
        from .evaluation import feed_evaluation_queue

        feed_evaluation_queue(feed=feed)


def _stored(feed: FeedImport) -> Path | None:
    return Path(settings.MEDIA_ROOT) / feed.file.name if feed.file else None


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _end(
    feed: FeedImport,
    *,
    error: str = "",
    path: Path | None = None,
    duplicate_of: FeedImport | None = None,
) -> None:
    now = timezone.now()
    update: dict = {
        "status": ScanStatus.ERROR if error else ScanStatus.FINISHED,
        "error": error,
        "finished": now,
        "file": "",
    }
    if not error:
        update["progress"] = 100
    if duplicate_of is not None:
        update["duplicate_of"] = duplicate_of
        update["error"] = ""
        update["records"] = duplicate_of.records
        update["changed"] = {"unchanged": duplicate_of.records}
        update["started"] = now
    FeedImport.objects.filter(pk=feed.pk, finished__isnull=True).update(**update)
    if path is not None:
        path.unlink(missing_ok=True)
    if error:
        logger.info("Feed import %s refused: %s", feed.pk, error)


# --- Writing: NVD ----------------------------------------------------------------------------


def cvss_severity(score: float | None) -> int:
    """Enclave's severity (1-5) of a CVSS base score: 9.0+ 5, 7.0+ 4, 4.0+ 3, above
    0 2, 0 1; no score 3 (NVD has not scored it yet: not hidden as minimal)."""
    if score is None:
        return 3
    for floor, severity in ((9.0, 5), (7.0, 4), (4.0, 3)):
        if score >= floor:
            return severity
    return 2 if score > 0 else 1


def _kb_entry(record: CveRecord) -> KbEntry:
    cvss = record.cvss
    description = record.description or "No description in the NVD record."
    if record.rejected:
        title = f"{record.cve_id} (rejected by NVD)"
    else:
        first = description.split(". ", 1)[0].rstrip(".")
        title = f"{record.cve_id}: {first}"
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    consequence = []
    if cvss is not None:
        consequence.append(f"CVSS {cvss.version} {cvss.score} {cvss.severity} ({cvss.vector})")
    if record.cwes:
        consequence.append(f"Weakness: {', '.join(record.cwes)}")
    solution = [
        "Upgrade to a version outside the affected ranges NVD lists, or apply the vendor's fix."
    ]
    if record.references:
        solution.append("References:\n" + "\n".join(record.references))
    return KbEntry(
        external_id=record.cve_id,
        title=title,
        severity=cvss_severity(cvss.score if cvss else None),
        kind=VulnerabilityKind.POTENTIAL,
        category=(record.cwes[0] if record.cwes else "CVE")[:64],
        cvss=cvss.score if cvss else None,
        cves=[record.cve_id],
        diagnosis=description,
        consequence="\n".join(consequence),
        solution="\n\n".join(solution),
    )


def _existing(model, ids: list[str], *fields: str) -> dict[str, tuple]:
    found: dict[str, tuple] = {}
    for start in range(0, len(ids), IN_CHUNK):
        for row in model.objects.filter(cve_id__in=ids[start : start + IN_CHUNK]).values_list(
            "cve_id", *fields
        ):
            found[row[0]] = row[1:]
    return found


STAGE_CVES = "scans_stage_cve"
STAGE_PRODUCTS = "scans_stage_cve_product"
FEED_CVE = FeedCve._meta.db_table
FEED_PRODUCT = FeedCveProduct._meta.db_table
CVE_COLUMNS = [
    "qid", "cve_id", "title", "severity", "category", "cvss", "diagnosis", "consequence",
    "solution", "fingerprint", "last_modified", "rejected", "record",
]  # fmt: skip


def _qids(cves: list[str]) -> dict[str, int]:
    """The KB's QIDs of these CVEs, new ones numbered after the highest imported QID
    (one writer at a time: imports' advisory lock on PostgreSQL)."""
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORTED_QID_BASE])
        found: dict[str, int] = {}
        for start in range(0, len(cves), IN_CHUNK):
            chunk = cves[start : start + IN_CHUNK]
            cursor.execute(
                f"SELECT external_id, qid FROM {VULN} WHERE source = %s"
                f" AND external_id IN ({', '.join(['%s'] * len(chunk))})",
                [KbSource.NVD.value, *chunk],
            )
            found.update(cursor.fetchall())
        cursor.execute(f"SELECT MAX(qid) FROM {VULN} WHERE qid >= %s", [IMPORTED_QID_BASE])
        top = cursor.fetchone()[0]
    next_qid = max(top + 1 if top is not None else IMPORTED_QID_BASE, IMPORTED_QID_BASE)
    for cve in cves:
        if cve not in found:
            found[cve] = next_qid
            next_qid += 1
    return found


def nvd_write(records: list[CveRecord], _header: _Header) -> dict[str, int]:
    """Writes one batch of NVD records; returns the counts it changed.

    Set-based, like ingest: the changed records are staged (``COPY`` on
    PostgreSQL) and moved by one ``INSERT … ON CONFLICT`` each into the KB, the
    records and their products (Django's bulk_create spent most of an import
    building its arrays)."""
    latest: dict[str, tuple[CveRecord, str, str]] = {}
    for record in records:  # a file may hold a CVE twice: the last one counts
        text = json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"))
        latest[record.cve_id] = (record, text, hashlib.sha256(text.encode()).hexdigest())
    known = _existing(FeedCve, list(latest), "fingerprint")
    counts = {"added": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    changed = []
    for cve, (record, text, fingerprint) in latest.items():
        held = known.get(cve)
        if held is not None and held[0] == fingerprint:
            counts["unchanged"] += 1
            continue
        counts["added" if held is None else "updated"] += 1
        if record.rejected:
            counts["rejected"] += 1
        changed.append((record, text, fingerprint))
    if not changed:
        return counts
    qids = _qids([record.cve_id for record, _t, _f in changed])
    rows, products = [], []
    for record, text, fingerprint in changed:
        entry = _kb_entry(record)
        cvss = Decimal(str(round(entry.cvss, 1))) if entry.cvss is not None else None
        rows.append(
            (
                qids[record.cve_id], record.cve_id, entry.title, entry.severity, entry.category,
                cvss, entry.diagnosis, entry.consequence, entry.solution, fingerprint,
                record.last_modified, record.rejected, text,
            )
        )  # fmt: skip
        if not record.rejected:
            names = {canonical(f"{c.cpe.vendor}:{c.cpe.product}") for c in record.criteria}
            products.extend((record.cve_id, name[:255]) for name in sorted(names))
    postgres = _is_postgres()
    cves_json = "jsonb_build_array(s.cve_id)" if postgres else "json_array(s.cve_id)"
    record_json = "s.record::jsonb" if postgres else "s.record"
    with connection.cursor() as cursor:
        _temp_table(
            cursor,
            STAGE_CVES,
            "qid bigint, cve_id varchar(32), title varchar(255), severity smallint,"
            " category varchar(64), cvss numeric(3,1), diagnosis text, consequence text,"
            " solution text, fingerprint varchar(64), last_modified timestamp with time zone,"
            " rejected boolean, record text",
        )
        _write_rows(cursor, STAGE_CVES, CVE_COLUMNS, rows)
        kb_fields = ("title", "severity", "category", "cvss", "cves", "diagnosis")
        kb_fields += ("consequence", "solution")
        cursor.execute(
            f"INSERT INTO {VULN} (qid, source, external_id, title, severity, kind, category,"
            " cvss, cves, diagnosis, consequence, solution, check_name, known_exploited)"
            f" SELECT s.qid, %s, s.cve_id, s.title, s.severity, %s, s.category, s.cvss,"
            f" {cves_json}, s.diagnosis, s.consequence, s.solution, '', false"
            f" FROM {STAGE_CVES} s WHERE true ORDER BY s.qid ON CONFLICT (qid) DO UPDATE SET "
            + ", ".join(f"{f} = excluded.{f}" for f in kb_fields),
            [KbSource.NVD.value, VulnerabilityKind.POTENTIAL.value],
        )
        cursor.execute(
            f"DELETE FROM {FEED_PRODUCT} WHERE cve_id IN (SELECT f.id FROM {FEED_CVE} f"
            f" JOIN {STAGE_CVES} s ON s.cve_id = f.cve_id)"
        )
        cursor.execute(
            f"INSERT INTO {FEED_CVE} (cve_id, qid, fingerprint, last_modified, rejected, record)"
            f" SELECT s.cve_id, s.qid, s.fingerprint, s.last_modified, s.rejected, {record_json}"
            f" FROM {STAGE_CVES} s WHERE true ORDER BY s.cve_id ON CONFLICT (cve_id) DO UPDATE"
            " SET qid = excluded.qid, fingerprint = excluded.fingerprint,"
            " last_modified = excluded.last_modified, rejected = excluded.rejected,"
            " record = excluded.record"
        )
        if products:
            _temp_table(cursor, STAGE_PRODUCTS, "cve_id varchar(32), product varchar(255)")
            _write_rows(cursor, STAGE_PRODUCTS, ["cve_id", "product"], products)
            cursor.execute(
                f"INSERT INTO {FEED_PRODUCT} (cve_id, product) SELECT f.id, p.product"
                f" FROM {STAGE_PRODUCTS} p JOIN {FEED_CVE} f ON f.cve_id = p.cve_id"
            )
            _drop_temp(cursor, STAGE_PRODUCTS)
        _drop_temp(cursor, STAGE_CVES)
    return counts


# --- Writing: KEV and EPSS -------------------------------------------------------------------


def kev_write(entries: list[KevEntry], _header: _Header) -> dict[str, int]:
    latest = {e.cve_id: e for e in entries}
    known = _existing(
        CveIntel, list(latest), "kev_date_added", "kev_due_date", "kev_ransomware", "kev_name"
    )
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    rows = []
    for cve, entry in latest.items():
        values = (
            entry.date_added,
            entry.due_date,
            entry.ransomware,
            entry.vulnerability_name[:300],
        )
        held = known.get(cve)
        if held == values:
            counts["unchanged"] += 1
            continue
        counts["added" if held is None or held[0] is None else "updated"] += 1
        rows.append(
            CveIntel(
                cve_id=cve,
                kev_date_added=values[0],
                kev_due_date=values[1],
                kev_ransomware=values[2],
                kev_name=values[3],
            )
        )
    CveIntel.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["cve_id"],
        update_fields=["kev_date_added", "kev_due_date", "kev_ransomware", "kev_name"],
        batch_size=1000,
    )
    return counts


def epss_write(scores: list[EpssScore], header: _Header) -> dict[str, int]:
    latest = {s.cve_id: s for s in scores}
    known = _existing(CveIntel, list(latest), "epss", "epss_percentile", "epss_date")
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    rows = []
    for cve, score in latest.items():
        values = (score.epss, score.percentile, header.score_date)
        held = known.get(cve)
        if held == values:
            counts["unchanged"] += 1
            continue
        counts["added" if held is None or held[0] is None else "updated"] += 1
        rows.append(
            CveIntel(cve_id=cve, epss=values[0], epss_percentile=values[1], epss_date=values[2])
        )
    CveIntel.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["cve_id"],
        update_fields=["epss", "epss_percentile", "epss_date"],
        batch_size=1000,
    )
    return counts


WRITERS = {FeedKind.NVD: nvd_write, FeedKind.KEV: kev_write, FeedKind.EPSS: epss_write}


# --- KEV and EPSS onto the KB ----------------------------------------------------------------


def kb_intel_refresh() -> None:
    """Copies KEV and EPSS onto the KB: an NVD entry takes its CVE's, any other
    entry the strongest of its CVEs' (known exploited if any is, the earliest
    date added and due date, the highest EPSS and percentile)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {VULN} AS v SET known_exploited = (c.kev_date_added IS NOT NULL),"
            " kev_date_added = c.kev_date_added, kev_due_date = c.kev_due_date,"
            " epss = c.epss, epss_percentile = c.epss_percentile"
            f" FROM {INTEL} c WHERE v.source = %s AND v.external_id = c.cve_id",
            [KbSource.NVD.value],
        )
    from ..models import Vulnerability

    entries = [
        v
        for v in Vulnerability.objects.exclude(source=KbSource.NVD).only(
            "qid",
            "cves",
            "known_exploited",
            "kev_date_added",
            "kev_due_date",
            "epss",
            "epss_percentile",
        )
        if v.cves
    ]
    cves = sorted({c.upper() for v in entries for c in v.cves if isinstance(c, str)})
    intel: dict[str, CveIntel] = {}
    for start in range(0, len(cves), IN_CHUNK):
        for row in CveIntel.objects.filter(cve_id__in=cves[start : start + IN_CHUNK]):
            intel[row.cve_id] = row
    names = ("known_exploited", "kev_date_added", "kev_due_date", "epss", "epss_percentile")
    changed = []
    for v in entries:
        rows = [intel[c.upper()] for c in v.cves if isinstance(c, str) and c.upper() in intel]
        kev = [r for r in rows if r.kev_date_added]
        scored = [r for r in rows if r.epss is not None]
        values = (
            bool(kev),
            min((r.kev_date_added for r in kev), default=None),
            min((r.kev_due_date for r in kev if r.kev_due_date), default=None),
            max((r.epss for r in scored), default=None),
            max((r.epss_percentile for r in scored if r.epss_percentile is not None), default=None),
        )
        if tuple(getattr(v, n) for n in names) != values:
            for name, value in zip(names, values, strict=True):
                setattr(v, name, value)
            changed.append(v)
    Vulnerability.objects.bulk_update(changed, list(names), batch_size=500)


__all__ = ["feed_import_create", "feed_import_file", "feed_import_run", "kb_intel_refresh"]
