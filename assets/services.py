"""Every write to hosts, asset groups, tags and overlap figures, and their rules."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from core import iprange
from networks.models import Network
from networks.selectors import in_scope, networks_visible, ranges_outside_space, sees_every_network
from networks.services import network_counters_set

from . import selectors
from .models import AssetGroup, AssetGroupRange, Host, NetworkOverlap, Tag

# --- Hosts -------------------------------------------------------------------------


def host_counts_refresh(*, networks: Iterable[Network] | None = None) -> None:
    """Recounts Network.host_count, for loaders that add hosts in bulk."""
    targets = list(networks) if networks is not None else list(Network.objects.all())
    for network in targets:
        network_counters_set(network_id=network.pk, hosts=network.hosts.count())


# --- Asset groups ------------------------------------------------------------------

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_SPLIT = re.compile(r"[,\s]+")


def parse_domains(text: str) -> list[str]:
    """Domain names from a comma/newline list, lowercased, sorted, unique.

    A ValidationError names every token that is not a domain name.
    """
    tokens = [t.strip().lower().rstrip(".") for t in _SPLIT.split(text or "") if t.strip()]
    bad = [t for t in tokens if not _DOMAIN.match(t)]
    if bad:
        raise ValidationError({"domains": [f"'{token}' is not a domain name" for token in bad]})
    return sorted(set(tokens))


def _parse_group_ips(*, network: Network, ips: str) -> list[iprange.IPRange]:
    try:
        ranges = iprange.parse(ips or "")
    except iprange.IPRangeError as error:
        raise ValidationError({"ips": error.messages}) from None
    outside = ranges_outside_space(network=network, ranges=ranges)
    if outside:
        raise ValidationError(
            {
                "ips": [
                    f"'{r}' is outside the address space of network {network.name}" for r in outside
                ]
            }
        )
    return ranges


def _check_title(*, network: Network, title: str, exclude_pk: int | None = None) -> str:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "An asset group needs a title."})
    if len(title) > AssetGroup._meta.get_field("title").max_length:
        raise ValidationError({"title": "The title is too long (128 characters at most)."})
    clash = AssetGroup.objects.filter(network=network, title__iexact=title)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError(
            {"title": f"Network {network.name} already has an asset group '{title}'."}
        )
    return title


def _set_group_ranges(group: AssetGroup, ranges: list[iprange.IPRange]) -> None:
    group.ip_ranges.all().delete()
    AssetGroupRange.objects.bulk_create(
        (AssetGroupRange(group=group, start_key=r.start_key, end_key=r.end_key) for r in ranges),
        batch_size=10_000,
    )
    group.ips = iprange.format_ranges(ranges)


def _collect(*checks) -> list:
    """Runs every check, gathering all their errors into one ValidationError."""
    errors: dict[str, list[str]] = {}
    results = []
    for check in checks:
        try:
            results.append(check())
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            results.append(None)
    if errors:
        raise ValidationError(errors)
    return results


@transaction.atomic
def asset_group_create(
    *,
    actor: User | None,
    title: str,
    network: Network,
    ips: str = "",
    domains: str = "",
    description: str = "",
) -> AssetGroup:
    """Creates an asset group in ``network``; the network is fixed from now on.

    Refuses a network users may not pick (anything but Global Default while
    network support is off), a title the network already uses, IPs that do
    not parse or lie outside a custom network's address space (naming each
    offending range), and tokens that are not domain names.
    """
    if not networks_visible(user=None).filter(pk=network.pk).exists():
        raise ValidationError(
            {
                "network": "Network support is off: asset groups belong to the Global Default "
                "Network."
            }
        )
    if not networks_visible(user=actor).filter(pk=network.pk).exists():
        # Outside the actor's grant the network does not exist for them.
        raise ValidationError({"network": f"No network with id {network.pk}."})
    title, ranges, domain_list = _collect(
        lambda: _check_title(network=network, title=title),
        lambda: _parse_group_ips(network=network, ips=ips),
        lambda: parse_domains(domains),
    )
    group = AssetGroup(
        title=title, network=network, domains="\n".join(domain_list), description=description
    )
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        raise ValidationError(
            {"title": f"Network {network.name} already has an asset group '{title}'."}
        ) from None
    _set_group_ranges(group, ranges)
    group.save(update_fields=["ips"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=group,
        changes={"network": network.name, "ips": group.ips, "domains": domain_list},
    )
    return group


@transaction.atomic
def asset_group_update(
    *,
    actor: User | None,
    group: AssetGroup,
    title: str | None = None,
    ips: str | None = None,
    domains: str | None = None,
    description: str | None = None,
    network: Network | None = None,
) -> AssetGroup:
    """Edits an asset group's title, IPs, domains or description.

    Refuses any change of network: a group's network is fixed when it is
    created. Passing the group's own network is allowed (a form or API
    client may echo it back). The IP and domain rules are asset_group_create's.
    """
    group = AssetGroup.objects.select_for_update().select_related("network").get(pk=group.pk)
    if network is not None and network.pk != group.network_id:
        raise ValidationError(
            {
                "network": f"An asset group's network is fixed when it is created; "
                f"'{group.title}' stays in {group.network.name}. Create a new group in "
                f"{network.name} instead."
            }
        )
    changes: dict[str, list] = {}

    def skip():
        return None

    new_title, ranges, domain_list = _collect(
        (lambda: _check_title(network=group.network, title=title, exclude_pk=group.pk))
        if title is not None
        else skip,
        (lambda: _parse_group_ips(network=group.network, ips=ips)) if ips is not None else skip,
        (lambda: parse_domains(domains)) if domains is not None else skip,
    )
    if new_title is not None and new_title != group.title:
        changes["title"] = [group.title, new_title]
        group.title = new_title
    if ranges is not None and iprange.format_ranges(ranges) != group.ips:
        old = group.ips
        _set_group_ranges(group, ranges)
        changes["ips"] = [old, group.ips]
    if domain_list is not None and "\n".join(domain_list) != group.domains:
        changes["domains"] = [group.domains, "\n".join(domain_list)]
        group.domains = "\n".join(domain_list)
    if description is not None and description != group.description:
        changes["description"] = [group.description, description]
        group.description = description
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        raise ValidationError(
            {"title": f"Network {group.network.name} already has an asset group '{group.title}'."}
        ) from None
    if changes:
        audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=group, changes=changes)
    return group


@transaction.atomic
def asset_group_delete(*, actor: User | None, group: AssetGroup) -> None:
    """Deletes an asset group; its hosts stay (they belong to the network)."""
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=group,
        changes={"network": group.network.name, "ips": group.ips},
    )
    group.delete()


# --- Tags --------------------------------------------------------------------------


def _check_tag_name(name: str, *, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A tag needs a name."})
    if len(name) > Tag._meta.get_field("name").max_length:
        raise ValidationError({"name": "The name is too long (64 characters at most)."})
    clash = Tag.objects.filter(name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": f"A tag named '{name}' already exists."})
    return name


@transaction.atomic
def tag_create(*, actor: User | None, name: str, hosts: Iterable[Host | int] | None = None) -> Tag:
    """Creates a tag, on ``hosts`` if given; names are unique regardless of case.

    All or nothing: an unknown host id refuses the whole tag.
    """
    name = _check_tag_name(name)
    try:
        with transaction.atomic():
            tag = Tag.objects.create(name=name)
    except IntegrityError:
        raise ValidationError({"name": f"A tag named '{name}' already exists."}) from None
    audit_record(actor=actor, action=AuditEntry.Action.CREATE, instance=tag)
    if hosts:
        tag_assign(actor=actor, tag=tag, hosts=hosts)
    return tag


@transaction.atomic
def tag_update(
    *,
    actor: User | None,
    tag: Tag,
    name: str | None = None,
    hosts: Iterable[Host | int] | None = None,
) -> Tag:
    """Renames a tag and/or makes ``hosts`` exactly the hosts carrying it; all or
    nothing (a refused host list leaves the name as it was)."""
    if name is not None:
        _tag_rename(actor=actor, tag=tag, name=name)
    if hosts is not None:
        tag_set_hosts(actor=actor, tag=tag, hosts=hosts)
    return tag


def _check_tag_whole(*, actor: User | None, tag: Tag, verb: str) -> None:
    """A tag spans networks: renaming or deleting it changes it on every host, so a
    user who does not see every network may do it only while the tag is on no
    host outside their networks."""
    if sees_every_network(user=actor):
        return
    beyond = Host.tags.through.objects.filter(tag=tag).exclude(
        host__in=in_scope(Host.objects.all(), user=actor)
    )
    if beyond.exists():
        raise ValidationError(
            {"name": f"Only a user who sees every network can {verb} tag '{tag.name}'."}
        )


def _tag_rename(*, actor: User | None, tag: Tag, name: str) -> None:
    _check_tag_whole(actor=actor, tag=tag, verb="rename")
    name = _check_tag_name(name, exclude_pk=tag.pk)
    if name != tag.name:
        old = tag.name
        tag.name = name
        try:
            with transaction.atomic():
                tag.save(update_fields=["name"])
        except IntegrityError:
            raise ValidationError({"name": f"A tag named '{name}' already exists."}) from None
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=tag,
            changes={"name": [old, name]},
        )


@transaction.atomic
def tag_delete(*, actor: User | None, tag: Tag) -> None:
    """Deletes a tag and takes it off every host (the hosts stay). A user who
    does not see every network may not delete a tag carried by hosts they cannot see."""
    _check_tag_whole(actor=actor, tag=tag, verb="delete")
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=tag)
    tag.delete()


def _host_ids(hosts: Iterable[Host | int]) -> list[int]:
    return sorted({h if isinstance(h, int) else h.pk for h in hosts})


@transaction.atomic
def tag_assign(*, actor: User | None, tag: Tag, hosts: Iterable[Host | int]) -> int:
    """Puts ``tag`` on every given host (any networks); returns how many were new.

    Hosts that already carry it are left alone; unknown host ids are refused.
    """
    ids = _host_ids(hosts)
    if not ids:
        raise ValidationError({"hosts": "Select at least one host."})
    existing = set(
        in_scope(Host.objects.filter(pk__in=ids), user=actor).values_list("pk", flat=True)
    )
    missing = [str(i) for i in ids if i not in existing]
    if missing:
        raise ValidationError({"hosts": f"No host with id {', '.join(missing)}."})
    through = Host.tags.through
    already = set(
        through.objects.filter(tag=tag, host_id__in=ids).values_list("host_id", flat=True)
    )
    new = [through(tag=tag, host_id=i) for i in ids if i not in already]
    through.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=tag,
            # A count, and the first ids: a bulk assignment may touch thousands.
            changes={"assigned": len(new), "hosts": [t.host_id for t in new[:100]]},
        )
    return len(new)


@transaction.atomic
def tag_remove(*, actor: User | None, tag: Tag, hosts: Iterable[Host | int]) -> int:
    """Takes ``tag`` off every given host; returns how many carried it."""
    ids = _host_ids(hosts)
    if not ids:
        raise ValidationError({"hosts": "Select at least one host."})
    visible = in_scope(Host.objects.filter(pk__in=ids), user=actor).values("pk")
    removed, _ = Host.tags.through.objects.filter(tag=tag, host_id__in=visible).delete()
    if removed:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=tag,
            changes={"removed": removed, "hosts": ids[:100]},
        )
    return removed


@transaction.atomic
def tag_set_hosts(*, actor: User | None, tag: Tag, hosts: Iterable[Host | int]) -> Tag:
    """Makes ``hosts`` exactly the hosts carrying ``tag`` (the API's PATCH), among
    the hosts the actor sees: hosts in other networks keep their tag."""
    ids = set(_host_ids(hosts))
    current = set(
        Host.tags.through.objects.filter(
            tag=tag, host__in=in_scope(Host.objects.all(), user=actor)
        ).values_list("host_id", flat=True)
    )
    if ids - current:
        tag_assign(actor=actor, tag=tag, hosts=ids - current)
    if current - ids:
        tag_remove(actor=actor, tag=tag, hosts=current - ids)
    return tag


# --- Network overlaps --------------------------------------------------------------


def _count_hosts_in_both(*, a: int, b: int, ranges: list[iprange.IPRange]) -> int:
    """Hosts of A inside the overlap whose IP also exists in B: one query, an
    indexed BETWEEN on (network, ip_key) with an index probe per host."""
    inside = selectors.ip_ranges_q(ranges, network_id=a)
    twin = Host.objects.filter(network_id=b, ip_key=OuterRef("ip_key"))
    return Host.objects.filter(inside, network_id=a).filter(Exists(twin)).count()


@transaction.atomic
def overlaps_refresh(*, network: Network | None = None) -> int:
    """Recounts the hosts in both networks of overlapping pairs.

    With ``network``, only the pairs that involve it (what an ingest into
    that network can change), as long as the other figures were counted
    under the current address spaces; otherwise, and without ``network``,
    every pair. Bulk loaders (scan ingest) call it after loading, and
    address-space changes call it without ``network``; the host services
    keep the figures in step one host at a time. Returns the pairs counted.
    """
    rows = selectors.custom_space_rows()
    fingerprint = selectors.space_fingerprint(rows)
    pairs = selectors.overlap_pairs(rows)
    current = NetworkOverlap.objects.filter(space_fingerprint=fingerprint)
    if network is not None and current.exists():
        pairs = [p for p in pairs if network.pk in (p.network_a.pk, p.network_b.pk)]
        current.filter(Q(network_a=network) | Q(network_b=network)).delete()
    else:
        NetworkOverlap.objects.all().delete()
    now = timezone.now()
    NetworkOverlap.objects.bulk_create(
        NetworkOverlap(
            network_a=pair.network_a,
            network_b=pair.network_b,
            ranges=pair.ranges_text,
            hosts_in_both=_count_hosts_in_both(
                a=pair.network_a.pk, b=pair.network_b.pk, ranges=iprange.parse(pair.ranges_text)
            ),
            counted_at=now,
            space_fingerprint=fingerprint,
        )
        for pair in pairs
    )
    return len(pairs)
