"""Sending slices to appliances, and taking them back.

A slice goes to the queue of its appliance (``appliance.<name>``) as
``scans.tasks.run_slice``, only once the transaction that assigned it
commits; a revocation tells appliances to drop or stop tasks.
"""

import logging
import uuid

from celery import current_app
from django.db import transaction
from django.utils import timezone

from core import iprange
from core.results import SliceSpec
from networks.models import Network, ScannerAppliance

from ..models import OptionProfile, Scan, ScanSlice, SliceStatus

logger = logging.getLogger(__name__)


def waiting_reason(network: Network) -> str:
    return (
        f"Waiting: no scanner appliance of network '{network.name}' is online. "
        "The scan starts when one sends a heartbeat."
    )


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
    scan_slice.save(
        update_fields=[
            "appliance",
            "status",
            "attempts",
            "task_id",
            "dispatched_at",
            "addresses_done",
        ]
    )
    queue = appliance.queue
    transaction.on_commit(lambda: run_slice.apply_async(args=[spec], queue=queue, task_id=task_id))


def tasks_revoke(task_ids: list[str]) -> None:
    """Tells appliances to drop (or stop) these slices; best effort."""
    if not task_ids:
        return
    try:
        current_app.control.revoke(task_ids)
    except Exception:  # a broker hiccup must not undo a committed cancel
        logger.exception("Could not broadcast the revocation of %s", task_ids)
