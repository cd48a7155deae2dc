"""Launching scans: validate, split into slices, send each to an appliance.

A slice goes to the queue ``appliance.<name>`` as ``scans.tasks.run_slice``
after the transaction that created it commits. "All Scanners in Network"
spreads the targets over the network's online appliances; a slice whose
appliance goes offline is sent again to another online appliance of the same
network (``slices_reassign``), never to another network's, and ends in error
when the network has none left.
"""

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from assets.models import AssetGroup
from core import iprange
from core.results import SliceSpec
from networks.models import Network, ScannerAppliance
from networks.selectors import ranges_outside_space

from ..models import (
    DONE_SCAN_STATUSES,
    OPEN_SLICE_STATUSES,
    OptionProfile,
    Scan,
    ScanSlice,
    ScanStatus,
    ScanType,
    SliceStatus,
)
from .profiles import option_profile_default

logger = logging.getLogger(__name__)

# A /12 of IPv4. The engine probes addresses one by one; a bigger target is a
# typo far more often than a plan.
MAX_SCAN_ADDRESSES = 1 << 20


def split_ranges(ranges: list[iprange.IPRange], parts: int) -> list[list[iprange.IPRange]]:
    """Cuts merged ranges into at most ``parts`` runs of nearly equal address counts."""
    total = iprange.count(ranges)
    parts = max(1, min(parts, total))
    out: list[list[iprange.IPRange]] = []
    remaining = list(iprange.merge(ranges))
    left_total = total
    for index in range(parts):
        want = -(-left_total // (parts - index))  # ceiling: the last part is never empty
        chunk: list[iprange.IPRange] = []
        while want and remaining:
            first = remaining[0]
            if first.size <= want:
                chunk.append(first)
                remaining.pop(0)
                want -= first.size
                left_total -= first.size
            else:
                chunk.append(iprange.IPRange(first.start, first.start + want - 1))
                remaining[0] = iprange.IPRange(first.start + want, first.end)
                left_total -= want
                want = 0
        if chunk:
            out.append(chunk)
    return out


def _online_appliances(network: Network) -> list[ScannerAppliance]:
    return list(network.appliances.online().order_by("name"))


def _waiting_reason(network: Network) -> str:
    return (
        f"Waiting: no scanner appliance of network '{network.name}' is online. "
        "The scan starts when one sends a heartbeat."
    )


def _orphaned_reason(appliance: ScannerAppliance | None, network: Network) -> str:
    name = f"'{appliance.name}'" if appliance is not None else "of this slice"
    return (
        f"Appliance {name} went offline mid-scan and no other scanner appliance of "
        f"network '{network.name}' is online; its addresses were not scanned."
    )


def scan_fields_errors(
    *,
    noun: str,
    title: str,
    type: str,
    network: Network,
    appliance: ScannerAppliance | None,
    targets: str,
    asset_groups: list[AssetGroup],
) -> tuple[dict[str, list[str]], list[iprange.IPRange]]:
    """What a launch and a schedule both check: (errors by field, the target ranges)."""
    errors: dict[str, list[str]] = {}
    if not (title or "").strip():
        errors["title"] = [f"A {noun} needs a title."]
    if type not in ScanType.values:
        errors["type"] = [f"'{type}' is not a scan type (discovery or vulnerability)."]
    if appliance is not None and appliance.network_id != network.pk:
        errors["appliance"] = [
            f"Scanner appliance '{appliance.name}' belongs to network "
            f"'{appliance.network}', not to '{network.name}'."
        ]
    ranges: list[iprange.IPRange] = []
    try:
        ranges = _target_ranges(network=network, targets=targets, asset_groups=asset_groups)
    except ValidationError as error:
        errors.update(error.message_dict)
    return errors, ranges


def _target_ranges(
    *, network: Network, targets: str, asset_groups: Iterable[AssetGroup]
) -> list[iprange.IPRange]:
    errors: dict[str, list[str]] = {}
    ranges: list[iprange.IPRange] = []
    try:
        ranges = iprange.parse(targets or "")
    except iprange.IPRangeError as error:
        errors["targets"] = error.messages
    for group in asset_groups:
        if group.network_id != network.pk:
            errors.setdefault("asset_groups", []).append(
                f"Asset group '{group.title}' belongs to network '{group.network}', "
                f"not to '{network.name}'."
            )
        else:
            ranges.extend(group.ranges())
    if errors:
        raise ValidationError(errors)
    ranges = iprange.merge(ranges)
    if not ranges:
        raise ValidationError({"targets": ["Give IPs or ranges to scan, or asset groups."]})
    outside = ranges_outside_space(network=network, ranges=ranges)
    if outside:
        raise ValidationError(
            {
                "targets": [
                    f"{iprange.format_ranges(outside)} is outside the address space of "
                    f"network '{network.name}' ({network.address_space or 'empty'})."
                ]
            }
        )
    total = iprange.count(ranges)
    if total > MAX_SCAN_ADDRESSES:
        raise ValidationError(
            {
                "targets": [
                    f"The targets hold {total:,} addresses; a scan may cover at most "
                    f"{MAX_SCAN_ADDRESSES:,}. Split it into several scans."
                ]
            }
        )
    return ranges


def _slice_spec(scan_slice: ScanSlice, scan: Scan, profile: OptionProfile) -> SliceSpec:
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


def _dispatch(scan_slice: ScanSlice, appliance: ScannerAppliance) -> None:
    """Points a slice at an appliance and sends it once the transaction commits."""
    from scans.tasks import run_slice

    scan = scan_slice.scan
    spec = _slice_spec(scan_slice, scan, scan.option_profile).to_dict()
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


def _revoke(task_ids: list[str]) -> None:
    """Tells appliances to drop (or stop) these slices; best effort."""
    if not task_ids:
        return
    try:
        current_app.control.revoke(task_ids)
    except Exception:  # a broker hiccup must not undo a committed cancel
        logger.exception("Could not broadcast the revocation of %s", task_ids)


@transaction.atomic
def scan_launch(
    *,
    actor: User | None,
    title: str,
    type: str,
    network: Network,
    appliance: ScannerAppliance | None = None,
    targets: str = "",
    asset_groups: Iterable[AssetGroup] = (),
    option_profile: OptionProfile | None = None,
    schedule=None,
) -> Scan:
    """Creates a scan and its slices, and sends them once the transaction commits.

    Refuses (ValidationError naming the field): a missing title, an unknown
    type, targets that are not addresses or lie outside the network's address
    space, asset groups of another network, an appliance of another network.
    With ``appliance=None`` ("All Scanners in Network") the targets are spread
    over the network's online appliances; with none online the scan waits,
    queued, and says why. Returns at once: scanning happens on the appliances.
    """
    asset_groups = list(asset_groups)
    title = (title or "").strip()
    errors, ranges = scan_fields_errors(
        noun="scan",
        title=title,
        type=type,
        network=network,
        appliance=appliance,
        targets=targets,
        asset_groups=asset_groups,
    )
    if errors:
        raise ValidationError(errors)
    profile = option_profile or option_profile_default()
    typed = iprange.format_ranges(iprange.parse(targets or ""))
    scan = Scan.objects.create(
        title=title,
        type=type,
        network=network,
        appliance=appliance,
        targets=typed,
        option_profile=profile,
        schedule=schedule,
        hosts_total=iprange.count(ranges),
        launched_by=actor if actor is not None and actor.pk else None,
    )
    scan.asset_groups.set(asset_groups)
    if appliance is not None:
        appliances: list[ScannerAppliance | None] = [appliance]
    else:
        appliances = _online_appliances(network) or [None]
    slices = []
    for number, chunk in enumerate(split_ranges(ranges, len(appliances)), start=1):
        slices.append(
            ScanSlice.objects.create(
                scan=scan,
                number=number,
                targets=iprange.format_ranges(chunk),
                addresses=iprange.count(chunk),
            )
        )
    for scan_slice, target in zip(slices, appliances, strict=False):
        if target is not None:
            _dispatch(scan_slice, target)
    if appliance is not None and appliance.status == "offline":
        scan.status_reason = (
            f"Waiting for scanner appliance '{appliance.name}', which is offline; "
            "the scan starts when it sends a heartbeat."
        )
    elif appliances == [None]:
        scan.status_reason = _waiting_reason(network)
    if scan.status_reason:
        scan.save(update_fields=["status_reason"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=scan,
        changes={
            "type": type,
            "network": network.name,
            "scanner": scan.scanner_display,
            "targets": typed,
            "asset_groups": [g.title for g in asset_groups],
        },
    )
    return scan


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
    transaction.on_commit(lambda: _revoke(task_ids))
    return scan


def slice_progress_record(*, slice_id: int, appliance: str, done: int, total: int = 0) -> bool:
    """An appliance reports how many addresses of a slice it has finished.

    Ignored (returns False) for unknown, finished or canceled slices, and for
    reports from an appliance the slice was taken away from.
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
        scan_slice.status = SliceStatus.RUNNING
        scan_slice.started = scan_slice.started or now
        scan_slice.addresses_done = max(
            scan_slice.addresses_done, min(int(done), scan_slice.addresses)
        )
        scan_slice.save(update_fields=["status", "started", "addresses_done"])
        scan_refresh_progress(scan=scan, now=now)
    return True


def scan_refresh_progress(*, scan: Scan, now=None) -> None:
    """Recounts a scan's progress from its slices, and ends it when they all have."""
    now = now or timezone.now()
    totals = scan.slices.aggregate(
        done=Sum("addresses_done"),
        open=Count("pk", filter=Q(status__in=OPEN_SLICE_STATUSES)),
        running=Count("pk", filter=Q(status=SliceStatus.RUNNING)),
        errors=Count("pk", filter=Q(status=SliceStatus.ERROR)),
        ingested=Count("pk", filter=Q(ingested_at__isnull=False)),
    )
    fields = ["hosts_done"]
    scan.hosts_done = min(totals["done"] or 0, scan.hosts_total)
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
    scan.save(update_fields=list(dict.fromkeys(fields)))


def _appliance_gone(scan_slice: ScanSlice, cutoff) -> bool:
    appliance = scan_slice.appliance
    return (
        appliance is None
        or appliance.network_id != scan_slice.scan.network_id
        or appliance.last_seen is None
        or appliance.last_seen < cutoff
    )


def slices_reassign() -> int:
    """Sends waiting slices to online appliances, and takes slices away from
    appliances that went offline (or moved to another network): to another
    online appliance of the scan's network or, with none, into error with
    the reason (the scan then ends in error, keeping what other slices found).

    Only "All Scanners in Network" scans move between appliances, and only to
    an online appliance of the scan's own network; a scan that names an
    appliance waits for it. Returns how many slices were sent.
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
                _dispatch(locked, online[0])
                sent += 1
                logger.info(
                    "Slice %s of scan %s sent to %s (attempt %s)",
                    locked.number,
                    locked.scan_id,
                    online[0].name,
                    locked.attempts,
                )
                if old_task and previous is not None:
                    transaction.on_commit(lambda t=old_task: _revoke([t]))
            elif locked.status != SliceStatus.PENDING:
                # Its appliance died mid-slice and the network has no other: the
                # scan ends in error (with what other slices found) instead of
                # waiting for an appliance that may never return. Never another
                # network's appliance: its targets mean other machines there.
                locked.status = SliceStatus.ERROR
                locked.error = _orphaned_reason(previous, network)
                locked.save(update_fields=["status", "error"])
                if old_task:
                    transaction.on_commit(lambda t=old_task: _revoke([t]))
                logger.warning(
                    "Slice %s of scan %s: %s", locked.number, locked.scan_id, locked.error
                )
            scan = locked.scan
            waiting = scan.slices.filter(status=SliceStatus.PENDING).exists()
            reason = _waiting_reason(network) if waiting else ""
            if scan.status_reason != reason and scan.status in (
                ScanStatus.QUEUED,
                ScanStatus.RUNNING,
            ):
                scan.status_reason = reason
                scan.save(update_fields=["status_reason"])
            scan_refresh_progress(scan=scan)
    return sent
