"""Failover: slices of appliances that went offline (or moved to another
network) go to another online appliance of the scan's own network, never to
another network's; with none left they end in error and the scan with them.
Waiting slices go to appliances with room (``dispatch.slices_fill``).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from networks.models import Network, ScannerAppliance

from ..models import (
    IN_FLIGHT_SLICE_STATUSES,
    OPEN_SLICE_STATUSES,
    FailoverWatch,
    Scan,
    ScanSlice,
    ScanStatus,
    SliceStatus,
)
from .dispatch import scan_waiting_reason, slices_fill, tasks_revoke
from .lifecycle import scan_refresh_progress

logger = logging.getLogger(__name__)


def _orphaned_reason(appliance: ScannerAppliance | None, network: Network) -> str:
    name = f"'{appliance.name}'" if appliance is not None else "of this slice"
    return (
        f"Appliance {name} went offline mid-scan and no other scanner appliance of "
        f"network '{network.name}' is online; its addresses were not scanned."
    )


def _appliance_gone(scan_slice: ScanSlice, cutoff) -> bool:
    appliance = scan_slice.appliance
    return (
        appliance is None
        or appliance.network_id != scan_slice.scan.network_id
        or appliance.last_seen is None
        or appliance.last_seen < cutoff
    )


def slices_withdraw(*, appliance: ScannerAppliance, old_network: Network) -> int:
    """An appliance moved out of ``old_network`` mid-scan: it can no longer reach
    that network's machines, so the open slices it holds of its scans are
    revoked now. An "All Scanners in Network" scan gets them back through
    ``slices_reassign`` (another online appliance of that network, or an error
    when none is left); a scan that named this appliance ends those slices in
    error, since no other appliance may run them. Returns the slices withdrawn.
    """
    held = list(
        ScanSlice.objects.select_for_update(of=("self",))
        .select_related("scan")
        .filter(appliance=appliance, status__in=OPEN_SLICE_STATUSES, scan__network=old_network)
    )
    task_ids = [s.task_id for s in held if s.task_id]
    for scan_slice in held:
        if scan_slice.scan.appliance_id == appliance.pk:
            scan_slice.status = SliceStatus.ERROR
            scan_slice.error = (
                f"Scanner appliance '{appliance.name}' was moved to network "
                f"'{appliance.network.name}' mid-scan; its addresses were not scanned."
            )
            scan_slice.save(update_fields=["status", "error"])
            scan_refresh_progress(scan=scan_slice.scan)
    if task_ids:
        transaction.on_commit(lambda: tasks_revoke(task_ids))
    return len(held)


def _take_back(scan_slice_id: int, cutoff) -> int | None:
    """A slice whose appliance went offline (or moved away) goes back to
    waiting, for another online appliance of the scan's network; with none
    online it ends in error, and so do the scan's slices still waiting (the
    scan ends in error with what other slices found, instead of waiting for an
    appliance that may never return). Returns the network to fill, or None."""
    with transaction.atomic():
        locked = (
            ScanSlice.objects.select_for_update(of=("self",))
            .select_related("appliance", "scan__network")
            .filter(pk=scan_slice_id, status__in=IN_FLIGHT_SLICE_STATUSES)
            .first()
        )
        if locked is None or not _appliance_gone(locked, cutoff):
            return None
        scan = locked.scan
        network = scan.network
        previous = locked.appliance
        others = ScannerAppliance.objects.filter(network=network, last_seen__gte=cutoff)
        if previous is not None:
            others = others.exclude(pk=previous.pk)
        if locked.task_id:
            transaction.on_commit(lambda t=locked.task_id: tasks_revoke([t]))
        if others.exists():
            _wait_again(locked)
            logger.info("Slice %s of scan %s taken back from %s", locked.number, scan.pk, previous)
        else:
            # Never another network's appliance: its targets mean other machines there.
            reason = _orphaned_reason(previous, network)
            locked.status = SliceStatus.ERROR
            locked.error = reason
            locked.save(update_fields=["status", "error"])
            scan.slices.filter(status=SliceStatus.PENDING).update(
                status=SliceStatus.ERROR, error=reason
            )
            logger.warning("Slice %s of scan %s: %s", locked.number, scan.pk, reason)
        scan_refresh_progress(scan=scan)
    return network.pk


def _wait_again(scan_slice: ScanSlice) -> None:
    """A slice taken back waits to be sent again, from the start."""
    scan_slice.status = SliceStatus.PENDING
    scan_slice.appliance = None
    scan_slice.addresses_done = 0
    scan_slice.percent = 0
    scan_slice.phase = ""
    scan_slice.unheld_since = None
    scan_slice.save(
        update_fields=["status", "appliance", "addresses_done", "percent", "phase", "unheld_since"]
    )


def _unheld(scan_slice: ScanSlice, cutoff) -> bool:
    """Its appliance is alive, says what it holds, and does not hold this
    slice: while it runs, or, sent, while the appliance has a free slot (it
    would have taken the slice from its queue, so the message is gone)."""
    appliance = scan_slice.appliance
    if (
        appliance is None
        or appliance.last_seen is None
        or appliance.last_seen < cutoff
        or appliance.held_tasks is None
        or scan_slice.task_id in appliance.held_tasks
    ):
        return False
    if scan_slice.status == SliceStatus.RUNNING:
        return True
    return appliance.slots > 0 and appliance.running_slices < appliance.slots


def _slices_unheld_check(now, cutoff) -> set[int]:
    """Takes back slices that their appliance, alive, has not held for the
    offline limit (``_unheld``): its process died mid-slice and a new one
    took its place (a crash, an upgrade) within the limit; the broker lost
    the messages in its queue (a restart of a broker that keeps nothing);
    the central worker died while ingesting the slice's result. The broker
    gives a dead process's message back only after its visibility timeout,
    hours later, and the appliance never looked offline: the scan stood still
    meanwhile. The slice waits again, for any appliance of the scan's network
    (the same one included: it is alive), or for the one the scan names.
    Returns the networks to fill."""
    limit = timedelta(seconds=settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER)
    sent = ScanSlice.objects.filter(
        status__in=IN_FLIGHT_SLICE_STATUSES,
        scan__status__in=(ScanStatus.QUEUED, ScanStatus.RUNNING),
        appliance__last_seen__gte=cutoff,
        appliance__held_tasks__isnull=False,
    ).select_related("appliance")
    touched: set[int] = set()
    for scan_slice in sent:
        if not _unheld(scan_slice, cutoff):
            if scan_slice.unheld_since is not None:
                ScanSlice.objects.filter(pk=scan_slice.pk).update(unheld_since=None)
        elif scan_slice.unheld_since is None:
            ScanSlice.objects.filter(pk=scan_slice.pk, unheld_since=None).update(unheld_since=now)
        elif now - scan_slice.unheld_since >= limit:
            network_id = _take_back_unheld(scan_slice.pk, now - limit, cutoff)
            if network_id is not None:
                touched.add(network_id)
    return touched


def _take_back_unheld(scan_slice_id: int, unheld_before, cutoff) -> int | None:
    with transaction.atomic():
        locked = (
            ScanSlice.objects.select_for_update(of=("self",))
            .select_related("appliance", "scan")
            .filter(
                pk=scan_slice_id,
                status__in=IN_FLIGHT_SLICE_STATUSES,
                scan__status__in=(ScanStatus.QUEUED, ScanStatus.RUNNING),
                unheld_since__lte=unheld_before,
            )
            .first()
        )
        if locked is None or not _unheld(locked, cutoff):
            return None
        logger.warning(
            "Slice %s of scan %s: appliance %s is alive but does not hold it "
            "(restarted mid-slice, or its message was lost); it is sent again",
            locked.number,
            locked.scan_id,
            locked.appliance,
        )
        if locked.task_id:
            transaction.on_commit(lambda t=locked.task_id: tasks_revoke([t]))
        _wait_again(locked)
        scan_refresh_progress(scan=locked.scan)
        return locked.scan.network_id


def _reasons_refresh(network_ids: set[int]) -> None:
    """Each live scan of these networks says why it waits, or nothing while it runs."""
    live = (ScanStatus.QUEUED, ScanStatus.RUNNING)
    scans = Scan.objects.filter(network_id__in=network_ids, status__in=live).select_related(
        "network", "appliance"
    )
    for scan in scans:
        reason = scan_waiting_reason(scan)
        if reason != scan.status_reason:
            Scan.objects.filter(pk=scan.pk, status__in=live).update(status_reason=reason)


def _failover_watch(now) -> FailoverWatch:
    """Records the failover check at ``now`` (``FailoverWatch``). A check
    coming more than ``FailoverWatch.break_after()`` after the one before
    starts a new unbroken run: so long without a check means the broker, the
    beat or the central worker was away, and heartbeats went unheard as well.
    So does the first check of all: heartbeats sent before it may still wait
    in the queue."""
    gap = FailoverWatch.break_after()
    with transaction.atomic():
        watch, created = FailoverWatch.objects.select_for_update().get_or_create(
            pk=1, defaults={"checked_at": now, "listening_since": now}
        )
        if not created and now > watch.checked_at:  # two checks at once: the later one counts
            if now - watch.checked_at > gap:
                logger.warning(
                    "No failover check for %s: appliances get %ss of heartbeats "
                    "before any is judged offline",
                    now - watch.checked_at,
                    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER,
                )
                watch.listening_since = now
            watch.checked_at = now
            watch.save(update_fields=["checked_at", "listening_since"])
    return watch


def slices_reassign() -> int:
    """Takes slices away from appliances that went offline (or moved to
    another network), and tops every appliance's window up with waiting slices.

    A slice taken back waits for another online appliance of the scan's own
    network, never another network's; with none online it ends in error with
    the reason, and so does the rest of its scan (which keeps what other
    slices found). Only "All Scanners in Network" scans move between
    appliances; a scan that names an appliance waits for it while it is
    offline (a move ends its slices: ``slices_withdraw``). Runs on the beat;
    ingest tops windows up too. Returns how many slices were sent.

    A slice that its appliance, alive, does not hold (it restarted mid-slice,
    or the broker lost the message) is taken back too, for a scan of either
    kind (``_slices_unheld_check``).

    Nothing is taken back until the platform has listened for heartbeats
    without a break for the whole offline limit (``_failover_watch``): after
    a broker restart, a stopped beat or a stalled central worker, an
    appliance's last heartbeat is old because nobody heard it, not because it
    stopped; its heartbeats since then may even still be queued behind this
    check.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER)
    live = (ScanStatus.QUEUED, ScanStatus.RUNNING)
    touched: set[int] = set()
    if now >= _failover_watch(now).judging_from:
        # Held slices are bounded (a window per appliance): checking each is cheap.
        held = (
            ScanSlice.objects.filter(
                status__in=IN_FLIGHT_SLICE_STATUSES,
                scan__status__in=live,
                scan__appliance__isnull=True,
            )
            .select_related("appliance", "scan")
            .order_by("scan_id", "number")
        )
        for scan_slice in held:
            if _appliance_gone(scan_slice, cutoff):
                network_id = _take_back(scan_slice.pk, cutoff)
                if network_id is not None:
                    touched.add(network_id)
        touched |= _slices_unheld_check(now, cutoff)
    waiting = set(
        ScanSlice.objects.filter(status=SliceStatus.PENDING, scan__status__in=live)
        .values_list("scan__network_id", flat=True)
        .distinct()
    )
    sent = 0
    for network in Network.objects.filter(pk__in=waiting | touched).order_by("pk"):
        sent += slices_fill(network=network)
    _reasons_refresh(waiting | touched)
    return sent
