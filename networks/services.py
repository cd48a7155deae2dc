"""Every write to networks and scanner appliances, and the rules they keep."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record, user_create, user_update
from core import iprange

from .models import AddressRange, Network, NetworkAccess, NetworkKind, ScannerAppliance
from .selectors import forget_granted_networks, networks_visible
from .signals import address_space_changed, appliance_moved, network_access_lost


def parse_address_space(text: str, *, field: str = "address_space") -> list[iprange.IPRange]:
    """Parses an address-space string; a ValidationError names every bad token."""
    try:
        return iprange.parse(text or "")
    except iprange.IPRangeError as error:
        raise ValidationError({field: error.messages}) from None


def _set_ranges(network: Network, ranges: list[iprange.IPRange]) -> None:
    network.address_ranges.all().delete()
    AddressRange.objects.bulk_create(
        AddressRange(network=network, start_key=r.start_key, end_key=r.end_key) for r in ranges
    )
    network.address_space = iprange.format_ranges(ranges)


def _check_name(name: str, *, exclude_pk: int | None = None) -> None:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A network needs a name."})
    clash = Network.objects.filter(name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": f"A network named '{name}' already exists."})


def _announce_space_change(network: Network) -> None:
    """Tells the floors above (the assets app recounts overlaps) once this
    transaction commits."""
    transaction.on_commit(lambda: address_space_changed.send(sender=Network, network=network))


def _assign_appliances(
    *, actor: User | None, network: Network, appliances: list[ScannerAppliance]
) -> None:
    for appliance in appliances:
        if appliance.network_id != network.pk:
            appliance_move(actor=actor, appliance=appliance, network=network)


@transaction.atomic
def network_create(
    *,
    actor: User | None,
    name: str,
    description: str = "",
    address_space: str = "",
    appliances: list[ScannerAppliance] = (),
) -> Network:
    """Creates a custom network. Its space may overlap other networks' spaces.

    Refuses a name another network has (case-insensitive) and any token of the
    address space that is not an address, range or block, naming each.
    """
    errors = {}
    for check in (lambda: _check_name(name), lambda: parse_address_space(address_space)):
        try:
            check()
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    ranges = parse_address_space(address_space)
    network = Network.objects.create(
        name=name.strip(), description=description, kind=NetworkKind.CUSTOM
    )
    _set_ranges(network, ranges)
    network.save(update_fields=["address_space"])
    _assign_appliances(actor=actor, network=network, appliances=list(appliances))
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=network,
        changes={
            "address_space": network.address_space,
            "appliances": [a.name for a in appliances],
        },
    )
    return network


@transaction.atomic
def network_update(
    *,
    actor: User | None,
    network: Network,
    name: str | None = None,
    description: str | None = None,
    address_space: str | None = None,
    appliances: list[ScannerAppliance] | None = None,
) -> Network:
    """Edits a network. Built-in networks keep their name and have no address space."""
    network = Network.objects.select_for_update().get(pk=network.pk)
    changes = {}
    if name is not None and name.strip() != network.name:
        if network.is_built_in:
            raise ValidationError({"name": "Built-in networks cannot be renamed."})
        _check_name(name, exclude_pk=network.pk)
        changes["name"] = [network.name, name.strip()]
        network.name = name.strip()
    if description is not None and description != network.description:
        changes["description"] = [network.description, description]
        network.description = description
    if address_space is not None:
        ranges = parse_address_space(address_space)
        if network.is_built_in and ranges:
            raise ValidationError(
                {
                    "address_space": "Built-in networks accept any address (also the addresses of "
                    "custom networks, as separate hosts); they have no address space to set."
                }
            )
        if iprange.format_ranges(ranges) != network.address_space:
            old = network.address_space
            _set_ranges(network, ranges)
            changes["address_space"] = [old, network.address_space]
            _announce_space_change(network)
    network.save()
    if appliances is not None:
        _assign_appliances(actor=actor, network=network, appliances=list(appliances))
    if changes:
        audit_record(
            actor=actor, action=AuditEntry.Action.UPDATE, instance=network, changes=changes
        )
    return network


def network_delete_refusal(*, network: Network) -> str | None:
    """Why a network cannot be deleted now, or None when it can."""
    if network.is_built_in:
        return "Built-in networks cannot be deleted."
    used = []
    if network.hosts.exists():
        used.append(f"{network.hosts.count()} host(s)")
    if network.asset_groups.exists():
        used.append(f"{network.asset_groups.count()} asset group(s)")
    if network.appliances.exists():
        used.append(f"{network.appliances.count()} scanner appliance(s)")
    if used:
        return (
            f"Network '{network.name}' is still used by {', '.join(used)}; "
            "move or delete them first."
        )
    return None


@transaction.atomic
def network_delete(*, actor: User | None, network: Network) -> None:
    """Deletes a custom network that no host, asset group or appliance uses."""
    refusal = network_delete_refusal(network=network)
    if refusal:
        raise ValidationError(refusal)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=network,
        changes={"address_space": network.address_space},
    )
    network.delete()


def default_network() -> Network:
    return Network.objects.global_default()


# --- Scanner appliances ---------------------------------------------------------------


def _appliance_name_taken(appliance: ScannerAppliance) -> ValidationError | None:
    clash = (
        ScannerAppliance.objects.filter(name__iexact=appliance.name)
        .exclude(pk=appliance.pk)
        .first()
    )
    if clash is None:
        return None
    return ValidationError({"name": f"An appliance named '{clash.name}' already exists."})


def _save_appliance(appliance: ScannerAppliance) -> None:
    """Validates and saves; a name taken in any case is a clear error, even when a
    concurrent request took it between the check and the insert."""
    appliance.full_clean(validate_constraints=False)
    if error := _appliance_name_taken(appliance):
        raise error
    try:
        with transaction.atomic():
            appliance.save()
    except IntegrityError:
        if error := _appliance_name_taken(appliance):
            raise error from None
        raise


def _check_network_visible(network: Network) -> None:
    """While network support is off everything lives in the Global Default Network,
    so that turning it on finds every appliance there. (Only Managers, who see
    every network, register and move appliances.)"""
    if not networks_visible(user=None).filter(pk=network.pk).exists():
        raise ValidationError(
            {
                "network": "Network support is off: scanner appliances belong to the Global "
                "Default Network."
            }
        )


@transaction.atomic
def appliance_create(
    *, actor: User | None, name: str, network: Network, description: str = ""
) -> ScannerAppliance:
    """Registers an appliance in a network. It shows offline until its first heartbeat.

    Refuses a name that is not letters, digits, - and _ (it names the appliance's
    queue) and a name another appliance has, whatever its case.
    """
    _check_network_visible(network)
    appliance = ScannerAppliance(name=name.strip(), network=network, description=description)
    _save_appliance(appliance)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=appliance,
        changes={"network": network.name},
    )
    return appliance


@transaction.atomic
def appliance_update(
    *,
    actor: User | None,
    appliance: ScannerAppliance,
    name: str | None = None,
    description: str | None = None,
    network: Network | None = None,
) -> ScannerAppliance:
    """Renames, describes or moves an appliance.

    A move takes effect at once: from then on the appliance scans only its new
    network, and the slices it holds of the old network's scans are taken back
    in the same transaction (``appliance_moved``; scans.services.failover).
    """
    changes = {}
    old_network = None
    if network is not None and network.pk != appliance.network_id:
        _check_network_visible(network)
        old_network = appliance.network
        changes["network"] = [old_network.name, network.name]
        appliance.network = network
    if name is not None and name.strip() != appliance.name:
        changes["name"] = [appliance.name, name.strip()]
        appliance.name = name.strip()
    if description is not None and description != appliance.description:
        changes["description"] = [appliance.description, description]
        appliance.description = description
    _save_appliance(appliance)
    if old_network is not None:
        appliance_moved.send(sender=ScannerAppliance, appliance=appliance, old_network=old_network)
    if changes:
        audit_record(
            actor=actor, action=AuditEntry.Action.UPDATE, instance=appliance, changes=changes
        )
    return appliance


def appliance_move(
    *, actor: User | None, appliance: ScannerAppliance, network: Network
) -> ScannerAppliance:
    """Moves an appliance to another network; from then on it scans only there."""
    return appliance_update(actor=actor, appliance=appliance, network=network)


@transaction.atomic
def appliance_delete(*, actor: User | None, appliance: ScannerAppliance) -> None:
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=appliance,
        changes={"network": appliance.network.name},
    )
    appliance.delete()


# An appliance holds a window of slices (ENCLAVE_APPLIANCE_SLICES and a few)
# and those answered in the last minute; more is not a heartbeat's.
HELD_TASKS_MAX = 1000


def appliance_heartbeat(
    *,
    name: str,
    version: str = "",
    nmap_version: str = "",
    running_slices: int = 0,
    slices: list[str] | None = None,
    slots: int = 0,
    process: str = "",
    number: int = 0,
) -> bool:
    """Records that an appliance is alive. Unknown names are ignored (returns False).

    ``slices`` (the task ids it holds), ``slots`` (how many it runs at once),
    ``process`` (an id per appliance process) and ``number`` (the heartbeat's,
    counted in that process) come from appliances that say what they hold.
    What they say is kept when it comes from another process than the one
    kept, or from a later heartbeat of the same: one overtaken in the queue by
    a later one does not bring back an old list. Counting, not clocks: an
    appliance's clock may be off, or step back.
    """
    appliances = ScannerAppliance.objects.filter(name=name)
    alive = {
        "last_seen": timezone.now(),
        "version": version[:64],
        "nmap_version": nmap_version[:32],
    }
    if not (isinstance(slices, list) and process):
        return bool(appliances.update(**alive, running_slices=running_slices))
    if not appliances.update(**alive):
        return False
    process = str(process)[:64]
    number = number if isinstance(number, int) and 0 < number < 2**63 else 0
    appliances.filter(~Q(process=process) | Q(heartbeat_number__lt=number)).update(
        running_slices=running_slices,
        held_tasks=[str(task)[:64] for task in slices[:HELD_TASKS_MAX]],
        slots=slots if isinstance(slots, int) and 0 < slots < 2**31 else 0,
        process=process,
        heartbeat_number=number,
    )
    return True


# --- Counters ---------------------------------------------------------------------------
# Network.host_count, .open_findings and .detection_count are kept, not counted
# per page view (~110 ms at a million hosts, 1.5-1.9 s at 30,000,000 detections,
# MEASURED.md). These two functions are their only writers: host services and
# ingest move them, recounts set them.


def _by_severity(counts: dict | None) -> dict[str, int]:
    return {str(s): 0 for s in range(1, 6)} | {str(k): int(v) for k, v in (counts or {}).items()}


@transaction.atomic
def network_counters_add(
    *,
    network_id: int,
    hosts: int = 0,
    open_findings: dict[str, int] | None = None,
    detections: int = 0,
) -> None:
    """Moves a network's counters by deltas: ``hosts`` added (or removed, when
    negative), open findings by severity (``{"4": +2, "2": -1}``) and
    ``detections`` of any status added or removed.

    Locks the network's row for the read-modify-write, so concurrent writers
    add up; a counter never goes below zero.
    """
    if not hosts and not detections and not any((open_findings or {}).values()):
        return
    network = (
        Network.objects.select_for_update()
        .only("host_count", "open_findings", "detection_count")
        .get(pk=network_id)
    )
    counts = _by_severity(network.open_findings)
    for severity, delta in (open_findings or {}).items():
        counts[str(severity)] = max(0, counts.get(str(severity), 0) + delta)
    network.host_count = max(0, network.host_count + hosts)
    network.open_findings = counts
    network.detection_count = max(0, network.detection_count + detections)
    network.save(update_fields=["host_count", "open_findings", "detection_count"])


def network_counters_set(
    *,
    network_id: int,
    hosts: int | None = None,
    open_findings: dict[str, int] | None = None,
    detections: int | None = None,
) -> None:
    """Sets a network's counters to recounted figures (one given as None is
    left as it is)."""
    values: dict = {}
    if hosts is not None:
        values["host_count"] = hosts
    if open_findings is not None:
        values["open_findings"] = _by_severity(open_findings)
    if detections is not None:
        values["detection_count"] = detections
    if values:
        Network.objects.filter(pk=network_id).update(**values)


# --- Network access (grants) ------------------------------------------------------------


def _grant_text(all_networks: bool, networks) -> str:
    if all_networks:
        return "all networks"
    names = sorted(n.name for n in networks)
    return ", ".join(names) if names else "no network"


@transaction.atomic
def network_access_set(
    *, actor: User | None, user: User, networks: list[Network] | None
) -> NetworkAccess:
    """Grants ``user`` every network (``networks=None``) or exactly ``networks``
    (built-in ones included; an empty list: none). Audited on the user.

    The networks the user loses are announced (``network_access_lost``): the
    floors above stop that user's schedules there, saying why. A Manager's grant
    is kept but changes nothing while they are a Manager (they see everything).
    """
    access, _ = NetworkAccess.objects.select_for_update().get_or_create(user=user)
    before_all = access.all_networks
    before = {n.pk: n for n in access.networks.all()}
    all_networks = networks is None
    chosen = {n.pk: n for n in (networks or [])}
    access.all_networks = all_networks
    access.save()
    access.networks.set(list(chosen.values()))
    forget_granted_networks(user)
    old_text = _grant_text(before_all, before.values())
    new_text = _grant_text(all_networks, chosen.values())
    if old_text != new_text:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=user,
            changes={"networks": [old_text, new_text]},
        )
    # A Manager sees every network whatever the grant: nothing is lost (until a
    # demotion, which the schedules' own run-time check catches).
    if not all_networks and not user.is_manager:
        if before_all:
            lost = set(Network.objects.exclude(pk__in=list(chosen)).values_list("pk", flat=True))
        else:
            lost = set(before) - set(chosen)
        if lost:
            network_access_lost.send(sender=NetworkAccess, user=user, network_ids=sorted(lost))
    return access


_UNCHANGED = object()


@transaction.atomic
def user_create_with_access(
    *, actor: User | None, networks: list[Network] | None | object = _UNCHANGED, **fields
) -> User:
    """``accounts.services.user_create`` and, when ``networks`` is given, the
    user's grant, in one transaction (both or neither)."""
    user = user_create(actor=actor, **fields)
    if networks is not _UNCHANGED:
        network_access_set(actor=actor, user=user, networks=networks)
    return user


@transaction.atomic
def user_update_with_access(
    *,
    actor: User | None,
    user: User,
    networks: list[Network] | None | object = _UNCHANGED,
    **fields,
) -> User:
    """``accounts.services.user_update`` and, when ``networks`` is given, the grant."""
    user = user_update(actor=actor, user=user, **fields)
    if networks is not _UNCHANGED:
        network_access_set(actor=actor, user=user, networks=networks)
    return user
