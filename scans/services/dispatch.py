"""Sending slices to appliances, and taking them back.

A slice goes to the queue of its appliance (``appliance.<name>``) as
``scans.tasks.run_slice``, only once the transaction that assigned it
commits; a revocation tells appliances to drop or stop tasks.

Each appliance holds a bounded window of slices (what it runs at once, plus
a couple queued so it never waits for the next): a scan of a million
addresses is sixteen thousand slices, and they leave one window at a time.
``slices_fill`` tops the windows up; it runs at launch, after every ingest
(an appliance has room again) and on the beat (``slices_reassign``).
"""

import logging
import uuid

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from console.queueing import enqueue_on_commit
from core import iprange
from core.results import SliceSpec
from networks.models import ApplianceStatus, Network, ScannerAppliance

from ..models import (
    IN_FLIGHT_SLICE_STATUSES,
    OptionProfile,
    Scan,
    ScanSlice,
    ScanStatus,
    SliceStatus,
)

# Slices queued at an appliance beyond the ones it runs, so a thread that ends
# a slice picks up the next at once instead of waiting for ingest to send it.
QUEUED_AHEAD = 2

logger = logging.getLogger(__name__)


def waiting_reason(network: Network) -> str:
    return (
        f"Waiting: no scanner appliance of network '{network.name}' is online. "
        "The scan starts when one sends a heartbeat."
    )


def busy_reason(network: Network) -> str:
    return (
        f"Queued: the scanner appliances of network '{network.name}' are busy with "
        "other scans; this scan starts as soon as one has room."
    )


def offline_reason(appliance: ScannerAppliance) -> str:
    return (
        f"Waiting for scanner appliance '{appliance.name}', which is offline; "
        "the scan starts when it sends a heartbeat."
    )


def appliance_window() -> int:
    """Slices one appliance holds at most: the ones it runs, and a few queued."""
    return max(1, int(settings.ENCLAVE_APPLIANCE_SLICES)) + QUEUED_AHEAD


def scan_waiting_reason(scan: Scan) -> str:
    """Why a queued or running scan has no slice at an appliance, in words; ""
    when one has (or none is left to send)."""
    if scan.appliance_id is not None and scan.appliance.status == ApplianceStatus.OFFLINE:
        return offline_reason(scan.appliance)
    slices = scan.slices.all()
    if slices.filter(status__in=IN_FLIGHT_SLICE_STATUSES).exists():
        return ""
    if not slices.filter(status=SliceStatus.PENDING).exists():
        return ""
    if scan.appliance_id is None and not scan.network.appliances.online().exists():
        return waiting_reason(scan.network)
    return busy_reason(scan.network)


def slice_spec(scan_slice: ScanSlice, scan: Scan, profile: OptionProfile) -> SliceSpec:
    return SliceSpec(
        scan_id=scan.pk,
        slice_id=scan_slice.pk,
        scan_type=scan.type,
        targets=[str(r) for r in iprange.parse(scan_slice.targets)],
        tcp_ports=profile.nmap_tcp_ports,
        udp_ports=profile.udp_ports,
        service_detection=profile.service_detection,
        checks=list(profile.checks),
        max_parallel_hosts=profile.max_parallel_hosts,
        host_timeout=profile.host_timeout,
    )


def slice_dispatch(scan_slice: ScanSlice, appliance: ScannerAppliance) -> None:
    """Points a slice at an appliance and sends it once the transaction commits."""
    from scans.tasks import run_slice

    scan = scan_slice.scan
    spec = slice_spec(scan_slice, scan, scan.option_profile).to_dict()
    task_id = str(uuid.uuid4())
    scan_slice.appliance = appliance
    scan_slice.status = SliceStatus.DISPATCHED
    scan_slice.attempts += 1
    scan_slice.task_id = task_id
    scan_slice.dispatched_at = timezone.now()
    scan_slice.addresses_done = 0
    scan_slice.percent = 0
    scan_slice.phase = ""
    scan_slice.unheld_since = None
    scan_slice.save(
        update_fields=[
            "appliance",
            "status",
            "attempts",
            "task_id",
            "dispatched_at",
            "addresses_done",
            "percent",
            "phase",
            "unheld_since",
        ]
    )
    queue, slice_id = appliance.queue, scan_slice.pk
    enqueue_on_commit(
        lambda: run_slice.apply_async(args=[spec], queue=queue, task_id=task_id),
        what=f"slice {slice_id} for {queue}",
        failed=lambda reason: _undispatch(slice_id, task_id),
    )


def _undispatch(slice_id: int, task_id: str) -> None:
    """The broker did not take the slice: it waits again, and the next fill
    (the beat's, every heartbeat interval) sends it once the broker is back."""
    ScanSlice.objects.filter(pk=slice_id, task_id=task_id, status=SliceStatus.DISPATCHED).update(
        status=SliceStatus.PENDING,
        appliance=None,
        task_id="",
        dispatched_at=None,
        attempts=F("attempts") - 1,
    )


def tasks_revoke(task_ids: list[str]) -> None:
    """Tells appliances to drop (or stop) these slices; best effort."""
    if not task_ids:
        return
    try:
        current_app.control.revoke(task_ids)
    except Exception:  # a broker hiccup must not undo a committed cancel
        logger.exception("Could not broadcast the revocation of %s", task_ids)


def _waiting(network: Network):
    """Waiting slices of the network's live scans, in the order they go out:
    slice 1 of every scan before slice 2 of any, so a scan launched behind a
    long one starts at the next free place instead of after it."""
    return (
        ScanSlice.objects.filter(
            status=SliceStatus.PENDING,
            scan__network=network,
            scan__status__in=(ScanStatus.QUEUED, ScanStatus.RUNNING),
        )
        .select_related("scan__option_profile")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("number", "scan_id")
    )


@transaction.atomic
def slices_fill(*, network: Network) -> int:
    """Sends waiting slices of the network's scans to appliances with room.

    A scan that names an appliance goes only to it, online or not (its queue
    keeps them until it returns); "All Scanners in Network" goes only to the
    network's online appliances, the one with the most room first, so the
    first slices of a scan spread over them. No appliance ever holds more than
    ``appliance_window()`` slices. Returns the number sent (each leaves when
    the transaction commits).
    """
    # Fills of one network take turns: two at once would both count the same room.
    appliances = list(
        ScannerAppliance.objects.select_for_update().filter(network=network).order_by("name")
    )
    if not appliances:
        return 0
    held = dict(
        ScanSlice.objects.filter(appliance__in=appliances, status__in=IN_FLIGHT_SLICE_STATUSES)
        .values_list("appliance")
        .annotate(n=Count("pk"))
        .order_by()
    )
    window = appliance_window()
    room = {a.pk: window - held.get(a.pk, 0) for a in appliances}
    sent = 0
    for appliance in appliances:
        if room[appliance.pk] > 0:
            for scan_slice in _waiting(network).filter(scan__appliance=appliance)[
                : room[appliance.pk]
            ]:
                slice_dispatch(scan_slice, appliance)
                room[appliance.pk] -= 1
                sent += 1
    online = [a for a in appliances if a.status != ApplianceStatus.OFFLINE]
    free = sum(max(0, room[a.pk]) for a in online)
    if free:
        for scan_slice in _waiting(network).filter(scan__appliance__isnull=True)[:free]:
            target = max(online, key=lambda a: room[a.pk])  # ties: the first by name
            slice_dispatch(scan_slice, target)
            room[target.pk] -= 1
            sent += 1
    return sent
