"""Failover: slices of appliances that went offline (or moved to another
network) go to another online appliance of the scan's own network, never to
another network's; with none left they end in error and the scan with them.
Waiting slices go to an appliance that came online.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from networks.models import Network, ScannerAppliance

from ..models import OPEN_SLICE_STATUSES, ScanSlice, ScanStatus, SliceStatus
from .dispatch import slice_dispatch, tasks_revoke, waiting_reason
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


def slices_reassign() -> int:
    """Sends waiting slices to online appliances, and takes slices away from
    appliances that went offline (or moved to another network): to another
    online appliance of the scan's network or, with none, into error with
    the reason (the scan then ends in error, keeping what other slices found).

    Only "All Scanners in Network" scans move between appliances, and only to
    an online appliance of the scan's own network; a scan that names an
    appliance waits for it while it is offline (a move ends its slices:
    ``slices_withdraw``). Returns how many slices were sent.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER)
    sent = 0
    candidates = (
        ScanSlice.objects.filter(
            status__in=OPEN_SLICE_STATUSES,
            scan__status__in=(ScanStatus.QUEUED, ScanStatus.RUNNING),
            scan__appliance__isnull=True,
        )
        .select_related("appliance", "scan__network", "scan__option_profile")
        .order_by("scan_id", "number")
    )
    for scan_slice in candidates:
        if scan_slice.status != SliceStatus.PENDING and not _appliance_gone(scan_slice, cutoff):
            continue
        with transaction.atomic():
            locked = (
                ScanSlice.objects.select_for_update(of=("self",))
                .select_related("appliance", "scan__network", "scan__option_profile")
                .get(pk=scan_slice.pk)
            )
            if locked.status not in OPEN_SLICE_STATUSES:
                continue
            if locked.status != SliceStatus.PENDING and not _appliance_gone(locked, cutoff):
                continue
            network = locked.scan.network
            previous = locked.appliance
            online = [
                a
                for a in ScannerAppliance.objects.filter(network=network, last_seen__gte=cutoff)
                .annotate(
                    load=Count(
                        "slices",
                        filter=Q(slices__status__in=(SliceStatus.DISPATCHED, SliceStatus.RUNNING)),
                    )
                )
                .order_by("load", "name")
                if previous is None or a.pk != previous.pk
            ]
            old_task = locked.task_id
            if online:
                slice_dispatch(locked, online[0])
                sent += 1
                logger.info(
                    "Slice %s of scan %s sent to %s (attempt %s)",
                    locked.number,
                    locked.scan_id,
                    online[0].name,
                    locked.attempts,
                )
                if old_task and previous is not None:
                    transaction.on_commit(lambda t=old_task: tasks_revoke([t]))
            elif locked.status != SliceStatus.PENDING:
                # Its appliance died mid-slice and the network has no other: the
                # scan ends in error (with what other slices found) instead of
                # waiting for an appliance that may never return. Never another
                # network's appliance: its targets mean other machines there.
                locked.status = SliceStatus.ERROR
                locked.error = _orphaned_reason(previous, network)
                locked.save(update_fields=["status", "error"])
                if old_task:
                    transaction.on_commit(lambda t=old_task: tasks_revoke([t]))
                logger.warning(
                    "Slice %s of scan %s: %s", locked.number, locked.scan_id, locked.error
                )
            scan = locked.scan
            waiting = scan.slices.filter(status=SliceStatus.PENDING).exists()
            reason = waiting_reason(network) if waiting else ""
            if scan.status_reason != reason and scan.status in (
                ScanStatus.QUEUED,
                ScanStatus.RUNNING,
            ):
                scan.status_reason = reason
                scan.save(update_fields=["status_reason"])
            scan_refresh_progress(scan=scan)
    return sent
