"""Launching scans: validate, cut into slices, send the first ones to appliances.

Slices hold at most ENCLAVE_SLICE_MAX_ADDRESSES addresses (64), and at least
one per online appliance, so "All Scanners in Network" spreads even a small
scan over them. Each appliance gets a window of slices and the next as one
ends (``dispatch.slices_fill``); with none online the scan waits, queued.
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timesince import timesince

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from assets.models import AssetGroup
from core import iprange
from networks.models import ApplianceStatus, Network, ScannerAppliance
from networks.selectors import network_is_visible, networks_visible, ranges_outside_space

from ..models import OptionProfile, Scan, ScanSlice, ScanType
from .dispatch import scan_waiting_reason, slices_fill
from .profiles import option_profile_default

# A /12 of IPv4. The engine probes addresses one by one; a bigger target is a
# typo far more often than a plan.
MAX_SCAN_ADDRESSES = 1 << 20
# ScanSlice.number is a small integer; a scan never needs more slices than this
# (MAX_SCAN_ADDRESSES / 64 is 16,384), but a smaller slice setting could ask for it.
MAX_SLICES = 32_767


def slice_count(total: int, *, appliances: int) -> int:
    """How many slices a scan of ``total`` addresses gets: at most
    ENCLAVE_SLICE_MAX_ADDRESSES addresses each, and one per appliance at least
    (so they share the work), never more than addresses or MAX_SLICES."""
    most = max(1, int(settings.ENCLAVE_SLICE_MAX_ADDRESSES))
    return max(1, min(total, MAX_SLICES, max(-(-total // most), appliances)))


def split_ranges(ranges: list[iprange.IPRange], parts: int) -> list[list[iprange.IPRange]]:
    """Cuts merged ranges into at most ``parts`` runs of nearly equal address counts."""
    total = iprange.count(ranges)
    parts = max(1, min(parts, total))
    out: list[list[iprange.IPRange]] = []
    remaining = list(iprange.merge(ranges))
    position = 0  # remaining[position:] is still to cut (an index: pop(0) is quadratic)
    left_total = total
    for index in range(parts):
        want = -(-left_total // (parts - index))  # ceiling: the last part is never empty
        chunk: list[iprange.IPRange] = []
        while want and position < len(remaining):
            first = remaining[position]
            if first.size <= want:
                chunk.append(first)
                position += 1
                want -= first.size
                left_total -= first.size
            else:
                chunk.append(iprange.IPRange(first.start, first.start + want - 1))
                remaining[position] = iprange.IPRange(first.start + want, first.end)
                left_total -= want
                want = 0
        if chunk:
            out.append(chunk)
    return out


def _last_heard(appliance: ScannerAppliance) -> str:
    if appliance.last_seen is None:
        return "it has never sent a heartbeat"
    return f"its last heartbeat was {timesince(appliance.last_seen)} ago"


def launch_warning(*, network: Network, appliance: ScannerAppliance | None) -> str:
    """Why a scan launched now would wait, said on the form before launch; ""
    when an appliance can start it at once. The launch itself still queues
    the scan and waits (``scan_launch``); an appliance of another network is
    refused there, not warned about here."""
    if appliance is not None:
        if appliance.network_id != network.pk or appliance.status != ApplianceStatus.OFFLINE:
            return ""
        return (
            f"Scanner appliance '{appliance.name}' is offline ({_last_heard(appliance)}). "
            "The scan will be queued and start when it sends a heartbeat."
        )
    appliances = list(network.appliances.order_by("name"))
    if not appliances:
        return (
            f"Network '{network.name}' has no scanner appliance. The scan will be queued "
            "and start once one is registered in this network and sends a heartbeat."
        )
    if any(a.status != ApplianceStatus.OFFLINE for a in appliances):
        return ""
    offline = "; ".join(f"'{a.name}': {_last_heard(a)}" for a in appliances[:5])
    more = f" and {len(appliances) - 5} more" if len(appliances) > 5 else ""
    return (
        f"No scanner appliance of network '{network.name}' is online ({offline}{more}). "
        "The scan will be queued and start when one sends a heartbeat."
    )


def scan_fields_errors(
    *,
    actor: User | None,
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
    if not networks_visible(user=None).filter(pk=network.pk).exists():
        # Off, everything is in Global Default: turning support on finds it there.
        errors["network"] = [
            f"Network support is off: a {noun} runs in the Global Default Network."
        ]
    elif not network_is_visible(user=actor, network=network):
        # Outside the actor's grant the network does not exist for them.
        errors["network"] = [f"No network with id {network.pk}."]
        return errors, []
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
    The targets become slices of at most ENCLAVE_SLICE_MAX_ADDRESSES
    addresses. With ``appliance=None`` ("All Scanners in Network") they are
    spread over the network's online appliances, each getting a window of
    slices and the next as one ends; with none online (or all busy with other
    scans) the scan waits, queued, and says why. A named appliance gets its
    window even while offline (its queue keeps them). Returns at once:
    scanning happens on the appliances.
    """
    asset_groups = list(asset_groups)
    title = (title or "").strip()
    errors, ranges = scan_fields_errors(
        actor=actor,
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
    sharing = 1 if appliance is not None else network.appliances.online().count()
    parts = slice_count(scan.hosts_total, appliances=sharing)
    ScanSlice.objects.bulk_create(
        (
            ScanSlice(
                scan=scan,
                number=number,
                targets=iprange.format_ranges(chunk),
                addresses=iprange.count(chunk),
            )
            for number, chunk in enumerate(split_ranges(ranges, parts), start=1)
        ),
        batch_size=1000,
    )
    slices_fill(network=network)
    scan.status_reason = scan_waiting_reason(scan)
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
