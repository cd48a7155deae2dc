"""The KnowledgeBase ships with the engine (scans.engine.kb); this loads it."""

from decimal import Decimal

from django.db import transaction

from ..models import Vulnerability

_FIELDS = ("title", "severity", "kind", "category", "diagnosis", "consequence", "solution")


def _row(entry: dict) -> Vulnerability:
    cvss = entry.get("cvss")
    return Vulnerability(
        qid=int(entry["qid"]),
        cvss=Decimal(str(cvss)) if cvss not in (None, "") else None,
        cves=list(entry.get("cves") or []),
        check_name=entry.get("check") or "",
        **{f: entry.get(f) or ("" if f != "severity" else 1) for f in _FIELDS},
    )


@transaction.atomic
def kb_load(*, entries: list[dict] | None = None) -> int:
    """Creates or updates every KB entry the engine ships; idempotent.

    Returns how many entries it wrote. Entries no longer shipped are kept:
    detections may still point at them.
    """
    if entries is None:
        from scans.engine.kb import KB_ENTRIES

        entries = KB_ENTRIES
    rows = [_row(e) for e in entries]
    Vulnerability.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["qid"],
        update_fields=[*_FIELDS, "cvss", "cves", "check_name"],
    )
    return len(rows)


def kb_ensure(*, qids: set[int]) -> set[int]:
    """Loads the shipped KB when a result names QIDs the table lacks.

    Returns the QIDs still unknown afterwards (a newer engine than this platform).
    """
    known = set(Vulnerability.objects.filter(qid__in=qids).values_list("qid", flat=True))
    missing = qids - known
    if not missing:
        return set()
    kb_load()
    known = set(Vulnerability.objects.filter(qid__in=missing).values_list("qid", flat=True))
    return missing - known
