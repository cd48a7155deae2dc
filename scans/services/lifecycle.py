"""A scan's life after launch: progress reported by appliances, its end, cancel."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, F, Q, Sum, When
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record

from ..models import (
    DONE_SCAN_STATUSES,
    OPEN_SLICE_STATUSES,
    Scan,
    ScanSlice,
    ScanStatus,
    SlicePhase,
    SliceStatus,
)
from ..signals import scan_finished
from .dispatch import tasks_revoke


@transaction.atomic
def scan_cancel(*, actor: User | None, scan: Scan) -> Scan:
    """Stops a scan: waiting slices are dropped, running ones told to stop.

    Results that arrive afterwards are ignored. Refuses a scan that already ended.
    """
    scan = Scan.objects.select_for_update().get(pk=scan.pk)
    if scan.status in DONE_SCAN_STATUSES:
        raise ValidationError(f"Scan '{scan.title}' has already ended ({scan.status}).")
    open_slices = scan.slices.filter(status__in=OPEN_SLICE_STATUSES)
    task_ids = [t for t in open_slices.values_list("task_id", flat=True) if t]
    open_slices.update(status=SliceStatus.CANCELED)
    scan.status = ScanStatus.CANCELED
    scan.finished = timezone.now()
    who = actor.get_username() if actor is not None and actor.pk else "the system"
    scan.status_reason = f"Canceled by {who}."
    scan.save(update_fields=["status", "finished", "status_reason"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=scan,
        changes={"status": ["running", "canceled"]},
    )
    transaction.on_commit(lambda: tasks_revoke(task_ids))
    return scan


def slice_progress_record(
    *,
    slice_id: int,
    appliance: str,
    done: int,
    total: int = 0,
    phase: str = "",
    percent: int | None = None,
) -> bool:
    """An appliance reports how far it is with a slice: addresses finished, the
    phase it is in (discovery, services, checks) and its estimate of the work
    done (0-100; an older appliance sends none and the count stands for it).

    The slice keeps the report and its scan the sums (hosts done, the progress
    estimate) and the phase; a queued scan becomes running. Neither number goes
    back for a late or repeated report. Ignored (returns False) for unknown,
    finished or canceled slices, and for reports from an appliance the slice
    was taken away from.
    """
    with transaction.atomic():
        scan_slice = (
            ScanSlice.objects.select_for_update(of=("self",))
            .select_related("appliance", "scan")
            .filter(pk=slice_id)
            .first()
        )
        if scan_slice is None or scan_slice.status not in OPEN_SLICE_STATUSES:
            return False
        if scan_slice.appliance is None or scan_slice.appliance.name != appliance:
            return False
        scan = scan_slice.scan
        if scan.is_done:
            return False
        now = timezone.now()
        size = scan_slice.addresses
        new_done = max(scan_slice.addresses_done, min(max(int(done), 0), size))
        counted = (100 * new_done // size) if size else 0
        reported = counted if percent is None else min(max(int(percent), 0), 100)
        new_percent = max(scan_slice.percent, reported, counted)
        points = (new_percent - scan_slice.percent) * size
        hosts = new_done - scan_slice.addresses_done
        scan_slice.status = SliceStatus.RUNNING
        scan_slice.started = scan_slice.started or now
        scan_slice.addresses_done = new_done
        scan_slice.percent = new_percent
        if phase in SlicePhase.values:
            scan_slice.phase = phase
        scan_slice.save(update_fields=["status", "started", "addresses_done", "percent", "phase"])
        # Sums by increments: many slices report at once, and a recount over a
        # scan's thousands of slices per report would cost more than the report.
        live = Scan.objects.filter(pk=scan.pk, status__in=(ScanStatus.QUEUED, ScanStatus.RUNNING))
        live.update(
            hosts_done=F("hosts_done") + hosts,
            progress_points=F("progress_points") + points,
            phase=scan_slice.phase,
        )
        live.filter(status=ScanStatus.QUEUED).update(
            status=ScanStatus.RUNNING, started=now, status_reason=""
        )
    return True


def scan_refresh_progress(*, scan: Scan, now=None) -> None:
    """Recounts a scan's progress from its slices, and ends it when they all have."""
    now = now or timezone.now()
    totals = scan.slices.aggregate(
        done=Sum("addresses_done"),
        points=Sum(
            Case(
                When(
                    Q(status=SliceStatus.DONE) | Q(ingested_at__isnull=False),
                    then=F("addresses") * 100,
                ),
                default=F("addresses") * F("percent"),
            )
        ),
        open=Count("pk", filter=Q(status__in=OPEN_SLICE_STATUSES)),
        running=Count("pk", filter=Q(status=SliceStatus.RUNNING)),
        errors=Count("pk", filter=Q(status=SliceStatus.ERROR)),
        ingested=Count("pk", filter=Q(ingested_at__isnull=False)),
    )
    fields = ["hosts_done", "progress_points"]
    scan.hosts_done = min(totals["done"] or 0, scan.hosts_total)
    scan.progress_points = min(totals["points"] or 0, 100 * scan.hosts_total)
    if scan.status == ScanStatus.QUEUED and (totals["running"] or totals["ingested"]):
        scan.status = ScanStatus.RUNNING
        scan.started = scan.started or now
        scan.status_reason = ""
        fields += ["status", "started", "status_reason"]
    if not totals["open"] and scan.status in (ScanStatus.QUEUED, ScanStatus.RUNNING):
        scan.started = scan.started or now
        scan.finished = now
        if totals["errors"]:
            scan.status = ScanStatus.ERROR
            errors = scan.slices.filter(status=SliceStatus.ERROR).values_list("error", flat=True)
            scan.status_reason = "; ".join(sorted(set(errors)))[:500]
        else:
            scan.status = ScanStatus.FINISHED
            scan.status_reason = ""
        fields += ["status", "started", "finished", "status_reason"]
        scan_id, network_id = scan.pk, scan.network_id
        transaction.on_commit(
            lambda: scan_finished.send(sender=Scan, scan_id=scan_id, network_id=network_id)
        )
    scan.save(update_fields=list(dict.fromkeys(fields)))
