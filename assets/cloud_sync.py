"""What a connector run found becomes hosts: the rules of cloud identity.

Host identity stays ``(network, ip)`` in the database (one row per address per
network, the unique ``(network, ip_key)`` constraint). An instance's cloud
identity (EC2 instance id, Azure vmId; ``CloudInstance``) decides *which* host
row it owns:

1. An instance that is not gone and has a private IP wants the host at that IP
   in its network: the custom network its VPC/VNet is mapped to, or else
   Global EC2 / Global Azure.
2. Its own row, in that network at that IP, stays. At another IP of that
   network, the row moves to the new IP: the same asset, with its findings,
   tags and history.
3. Its own row in another network (a mapping was added or changed) is deleted
   (its findings were made in that network, and findings belong to their
   network) and the instance gets a row in the new network.
4. An instance without a row of its own adopts the row already at its address
   when no instance owns it (a scan found the address first); otherwise it gets
   a fresh row.
5. An address holds one host. The row at an address that another instance now
   claims:
   * moves with its owner, when the owner claims another address of the same
     network in this run (rows that move are parked on a key no address has
     first, so swaps and chains in one run never meet the unique constraint);
   * is deleted otherwise: its owner is gone, lost its IP, or is elsewhere.
     The new instance does not inherit another machine's findings, and a
     machine that is no longer there cannot keep the address. The gone
     instance's record stays, without host, until the purge.
   * A row nobody owns at an address an instance claims while it moves its own
     row there is deleted the same way.
6. Two instances that claim the same address of the same network in one run
   (overlapping VPCs/VNets left unmapped) cannot both have it: the owner of the
   row keeps it (else the smaller cloud id); the other gets no host, and the run
   warns, naming both VPCs/VNets: map them to separate networks.
7. Gone: terminated (the cloud says so) or vanished (no longer listed by a
   region/subscription read completely). ``gone_at`` is set, the host row stays
   (its page says gone) and is purged with the record
   ``ENCLAVE_CLOUD_RETENTION_DAYS`` after. An instance listed again comes back.
8. Tags: the instance's tags become Enclave tags ``key:value``; a run adds and
   takes away only the tags the instance had in the cloud (the record keeps
   them), so tags users put on the host stay.

Set-based: a fixed number of queries per run plus one per 500 instances; the
whole run is one transaction, so a run that fails changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from console.queueing import enqueue_on_commit
from core import iprange
from networks.models import Network, NetworkKind
from networks.services import network_counters_add

from .connectors.base import DiscoveredInstance, Discovery
from .models import CloudInstance, Connector, ConnectorKind, Host, Tag
from .signals import hosts_deleting
from .tasks import refresh_overlaps

logger = logging.getLogger(__name__)

CHUNK = 500
GLOBAL_KIND = {
    ConnectorKind.AWS_EC2: NetworkKind.GLOBAL_EC2,
    ConnectorKind.AZURE: NetworkKind.GLOBAL_AZURE,
}
TAG_MAX = Tag._meta.get_field("name").max_length
RECORD_FIELDS = [
    "connector",
    "host",
    "name",
    "state",
    "region",
    "scope",
    "cloud_network",
    "subnet",
    "private_ip",
    "public_ip",
    "image",
    "os",
    "tags",
    "seen_at",
    "gone_at",
]
COMPARED = [
    "host_id",
    "name",
    "state",
    "region",
    "cloud_network",
    "subnet",
    "private_ip",
    "public_ip",
    "image",
    "os",
    "tags",
    "gone_at",
]


@dataclass
class SyncOutcome:
    seen: int = 0
    new: int = 0
    updated: int = 0
    gone: int = 0
    purged: int = 0
    hosts_created: int = 0
    hosts_moved: int = 0
    hosts_deleted: int = 0
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "seen": self.seen,
            "new": self.new,
            "updated": self.updated,
            "gone": self.gone,
            "purged": self.purged,
        }


@dataclass
class _Row:
    pk: int
    network_id: int
    ip_key: str
    owner: str | None  # cloud id of the owning instance, None for nobody


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _address(instance: DiscoveredInstance) -> tuple[str, str] | None:
    """(normalised ip, ip key) of the instance's private IP, None when it has none."""
    if instance.gone or not instance.private_ip:
        return None
    try:
        ip = iprange.normalise_ip(instance.private_ip)
        return ip, iprange.ip_key(ip)
    except iprange.IPRangeError:
        return None


def _parking_key(pk: int) -> str:
    # "z" is no hex digit: no address has this key, and it lives only inside the run.
    return f"z{pk:031d}"


def _delete_hosts(host_ids: set[int], outcome: SyncOutcome) -> dict[int, int]:
    """Deletes hosts (their findings cascade); returns the hosts removed per network."""
    removed: dict[int, int] = {}
    ids = sorted(host_ids)
    if not ids:
        return removed
    hosts_deleting.send(sender=Host, host_ids=ids)
    for chunk in _chunks(ids):
        for network_id in Host.objects.filter(pk__in=chunk).values_list("network_id", flat=True):
            removed[network_id] = removed.get(network_id, 0) + 1
        Host.objects.filter(pk__in=chunk).delete()
    outcome.hosts_deleted += len(ids)
    return removed


def _sync_tags(pairs: list[tuple[int, dict, dict]]) -> None:
    """``pairs``: (host id, tags before, tags now) of each instance with a host.
    Adds the tags it has now and removes those it had and no longer has."""
    wanted: dict[int, set[str]] = {}
    dropped: dict[int, set[str]] = {}
    for host_id, before, now in pairs:
        new_names = {f"{k}:{v}"[:TAG_MAX] for k, v in now.items()}
        old_names = {f"{k}:{v}"[:TAG_MAX] for k, v in before.items()}
        wanted[host_id] = new_names
        dropped[host_id] = old_names - new_names
    names = {n for group in (*wanted.values(), *dropped.values()) for n in group}
    if not names:
        return
    tags: dict[str, int] = {}
    lowered = sorted({n.lower() for n in names})

    def load():
        # Tag names are unique regardless of case (an index on Lower(name)).
        for chunk in _chunks(lowered):
            rows = (
                Tag.objects.annotate(lowered=Lower("name"))
                .filter(lowered__in=chunk)
                .values_list("lowered", "pk")
            )
            tags.update(dict(rows))

    load()
    missing = {n.lower(): n for n in sorted(names) if n.lower() not in tags}
    if missing:
        Tag.objects.bulk_create([Tag(name=n) for n in missing.values()], ignore_conflicts=True)
        load()
    through = Host.tags.through
    through.objects.bulk_create(
        [
            through(host_id=host_id, tag_id=tags[name.lower()])
            for host_id, group in wanted.items()
            for name in group
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    removals = Q()
    for host_id, group in dropped.items():
        ids = [tags[n.lower()] for n in group if n.lower() in tags]
        if ids:
            removals |= Q(host_id=host_id, tag_id__in=ids)
    if removals:
        through.objects.filter(removals).delete()


@transaction.atomic
def cloud_instances_sync(
    *, connector: Connector, discovery: Discovery, now: datetime | None = None
) -> SyncOutcome:
    """Makes the hosts and instance records agree with what a run read (rules
    in the module's docstring). One transaction; returns the counts."""
    now = now or timezone.now()
    outcome = SyncOutcome()
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    provider = connector.kind
    global_network = Network.objects.get(kind=GLOBAL_KIND[provider])
    mapping = {
        m.cloud_network.lower(): m.network_id
        for m in connector.mappings.all().only("cloud_network", "network_id")
    }
    network_ids = sorted({global_network.pk, *mapping.values()})
    # The counters' writers lock networks too; the same order avoids deadlocks.
    list(Network.objects.select_for_update().filter(pk__in=network_ids).order_by("pk"))

    seen: dict[str, DiscoveredInstance] = {}
    for instance in discovery.instances:
        seen[instance.cloud_id] = instance
    outcome.seen = len(seen)

    records: dict[str, CloudInstance] = {}
    for chunk in _chunks(sorted(seen)):
        for record in CloudInstance.objects.filter(provider=provider, cloud_id__in=chunk):
            records[record.cloud_id] = record

    # --- what each instance claims ---------------------------------------------------
    claims: dict[tuple[int, str], str] = {}  # (network, ip key) -> cloud id
    wants: dict[str, tuple[int, str, str]] = {}  # cloud id -> (network, ip, key)
    # A custom network holds only its address space: an instance mapped to one
    # at an address outside it gets no host there (a wrong mapping, said once per run).
    spaces = {
        n.pk: (n.name, n.ranges())
        for n in Network.objects.filter(pk__in=set(mapping.values())).prefetch_related(
            "address_ranges"
        )
        if not n.accepts_any_address
    }
    for cloud_id in sorted(seen):
        instance = seen[cloud_id]
        address = _address(instance)
        if address is None:
            continue
        network_id = mapping.get(instance.network_id.lower(), global_network.pk)
        if network_id in spaces:
            name, ranges = spaces[network_id]
            value = iprange.parse_address(address[0])
            if not any(r.start <= value <= r.end for r in ranges):
                outcome.warnings.append(
                    f"{cloud_id} ({instance.network_id}) is at {address[0]}, outside the "
                    f"address space of {name}, the network its {connector.cloud_network_noun}"
                    " is mapped to: it gets no host. Correct the mapping or the network's"
                    " address space."
                )
                continue
        wants[cloud_id] = (network_id, *address)

    own: dict[str, _Row] = {}
    owned_ids = {r.host_id: r.cloud_id for r in records.values() if r.host_id}
    for chunk in _chunks(sorted(owned_ids)):
        for pk, network_id, key in Host.objects.filter(pk__in=chunk).values_list(
            "pk", "network_id", "ip_key"
        ):
            own[owned_ids[pk]] = _Row(pk, network_id, key, owned_ids[pk])

    at: dict[tuple[int, str], _Row] = {}
    by_network: dict[int, list[str]] = {}
    for network_id, _, key in wants.values():
        by_network.setdefault(network_id, []).append(key)
    for network_id, keys in by_network.items():
        for chunk in _chunks(sorted(set(keys))):
            rows = Host.objects.filter(network_id=network_id, ip_key__in=chunk).values_list(
                "pk", "ip_key", "cloud__cloud_id"
            )
            for pk, key, owner in rows:
                at[(network_id, key)] = _Row(pk, network_id, key, owner)

    def priority(cloud_id: str) -> tuple:
        network_id, _, key = wants[cloud_id]
        row = at.get((network_id, key))
        return (0 if row is not None and row.owner == cloud_id else 1, cloud_id)

    for cloud_id in sorted(wants, key=priority):
        network_id, ip, key = wants[cloud_id]
        holder = claims.get((network_id, key))
        if holder is None:
            claims[(network_id, key)] = cloud_id
            continue
        network = Network.objects.filter(pk=network_id).values_list("name", flat=True).first()
        outcome.warnings.append(
            f"{ip} in {network}: {holder} ({seen[holder].network_id or 'no VPC/VNet'}) and "
            f"{cloud_id} ({seen[cloud_id].network_id or 'no VPC/VNet'}) both have it; "
            f"{cloud_id} gets no host. Map the two {connector.cloud_network_noun}s to "
            "separate networks."
        )

    # --- the plan -------------------------------------------------------------------
    final: dict[str, int] = {}  # cloud id -> host row it owns after the run
    moves: dict[int, tuple[str, str]] = {}  # host pk -> (ip, key)
    create: dict[tuple[int, str], tuple[str, str]] = {}  # address -> (ip, cloud id)
    delete: set[int] = set()
    moving_owners: set[str] = set()
    for (network_id, key), cloud_id in claims.items():
        ip = wants[cloud_id][1]
        mine = own.get(cloud_id)
        if mine is not None and mine.network_id == network_id:
            if mine.ip_key != key:
                moves[mine.pk] = (ip, key)
                moving_owners.add(cloud_id)
            final[cloud_id] = mine.pk
            continue
        if mine is not None:  # rule 3: its row is in another network
            delete.add(mine.pk)
        row = at.get((network_id, key))
        if row is not None and row.owner is None:
            final[cloud_id] = row.pk  # rule 4: adopt
        else:
            create[(network_id, key)] = (ip, cloud_id)
    for address, row in at.items():
        claimant = claims.get(address)
        if claimant is None or final.get(claimant) == row.pk:
            continue
        if row.owner is not None and row.owner in moving_owners and row.pk in moves:
            continue  # rule 5: it moves with its owner
        delete.add(row.pk)
    # A deleted row no longer belongs to anyone.
    for cloud_id, row in own.items():
        if row.pk in delete and final.get(cloud_id) == row.pk:
            del final[cloud_id]

    # --- the writes -----------------------------------------------------------------
    hosts_delta: dict[int, int] = {}
    touched: set[int] = set()
    for network_id, count in _delete_hosts(delete, outcome).items():
        hosts_delta[network_id] = hosts_delta.get(network_id, 0) - count
        touched.add(network_id)
    if moves:
        parked = [Host(pk=pk, ip_key=_parking_key(pk)) for pk in moves]
        Host.objects.bulk_update(parked, ["ip_key"], batch_size=CHUNK)
        moved = [Host(pk=pk, ip=ip, ip_key=key) for pk, (ip, key) in moves.items()]
        Host.objects.bulk_update(moved, ["ip", "ip_key"], batch_size=CHUNK)
        outcome.hosts_moved = len(moves)
        touched.update(wants[c][0] for c in moving_owners)
    if create:
        Host.objects.bulk_create(
            [
                Host(network_id=network_id, ip=ip, ip_key=key, first_found=now)
                for (network_id, key), (ip, _) in sorted(create.items())
            ],
            ignore_conflicts=True,
            batch_size=CHUNK,
        )
        created_by_network: dict[int, list[str]] = {}
        for network_id, key in create:
            created_by_network.setdefault(network_id, []).append(key)
        for network_id, keys in created_by_network.items():
            for chunk in _chunks(sorted(keys)):
                rows = Host.objects.filter(network_id=network_id, ip_key__in=chunk).values_list(
                    "pk", "ip_key", "first_found"
                )
                for pk, key, first_found in rows:
                    final[create[(network_id, key)][1]] = pk
                    if first_found == now:  # ours, not a row a concurrent scan made
                        hosts_delta[network_id] = hosts_delta.get(network_id, 0) + 1
                        outcome.hosts_created += 1
            touched.add(network_id)

    # --- the records ----------------------------------------------------------------
    tag_pairs: list[tuple[int, dict, dict]] = []
    rows: list[CloudInstance] = []
    for cloud_id, instance in sorted(seen.items()):
        record = records.get(cloud_id)
        host_id = final.get(cloud_id)
        if host_id is None and record is not None and record.host_id not in delete:
            host_id = record.host_id  # no claim (gone, no IP, lost a tie): it keeps its row
        gone_at = (record.gone_at if record and record.gone_at else now) if instance.gone else None
        row = CloudInstance(
            provider=provider,
            cloud_id=cloud_id,
            connector=connector,
            host_id=host_id,
            name=instance.name[:255],
            state=instance.state[:32],
            region=instance.region[:64],
            scope=instance.scope[:128],
            cloud_network=instance.network_id[:400],
            subnet=instance.subnet_id[:500],
            private_ip=instance.private_ip[:45],
            public_ip=instance.public_ip[:45],
            image=instance.image[:255],
            os=instance.os[:64],
            tags=dict(instance.tags),
            first_seen=record.first_seen if record else now,
            seen_at=now,
            gone_at=gone_at,
        )
        if record is None:
            outcome.new += 1
        elif any(getattr(record, f) != getattr(row, f) for f in COMPARED):
            outcome.updated += 1
        if instance.gone and (record is None or record.gone_at is None):
            outcome.gone += 1
        rows.append(row)
        if host_id is not None and not instance.gone:
            before = record.tags if record and record.host_id == host_id else {}
            tag_pairs.append((host_id, before, dict(instance.tags)))
    CloudInstance.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["provider", "cloud_id"],
        update_fields=RECORD_FIELDS,
        batch_size=CHUNK,
    )
    _sync_tags(tag_pairs)

    # --- vanished and purged --------------------------------------------------------
    vanished = (
        CloudInstance.objects.filter(
            connector=connector, scope__in=discovery.scopes, gone_at__isnull=True
        )
        .exclude(provider=provider, cloud_id__in=list(seen))
        .update(gone_at=now, state="vanished")
        if len(seen) <= 900
        else _vanish_many(connector, discovery.scopes, set(seen), now)
    )
    outcome.gone += vanished
    cutoff = now - timedelta(days=settings.ENCLAVE_CLOUD_RETENTION_DAYS)
    expired = CloudInstance.objects.filter(connector=connector, gone_at__lt=cutoff)
    purged_hosts = set(expired.exclude(host=None).values_list("host_id", flat=True))
    outcome.purged = expired.count()
    for network_id, count in _delete_hosts(purged_hosts, outcome).items():
        hosts_delta[network_id] = hosts_delta.get(network_id, 0) - count
        touched.add(network_id)
    expired.delete()

    for network_id, delta in sorted(hosts_delta.items()):
        network_counters_add(network_id=network_id, hosts=delta)
    custom = set(
        Network.objects.filter(pk__in=touched, kind=NetworkKind.CUSTOM).values_list("pk", flat=True)
    )
    for network_id in sorted(custom):
        # New or moved hosts may be twins of hosts in overlapping networks (as ingest).
        enqueue_on_commit(
            lambda n=network_id: refresh_overlaps.delay(network_id=n), what="overlap recount"
        )
    return outcome


def _vanish_many(connector: Connector, scopes: list[str], seen: set[str], now: datetime) -> int:
    """Marks vanished the records of the scopes read that were not seen, when
    too many were seen for one NOT IN."""
    candidates = CloudInstance.objects.filter(
        connector=connector, scope__in=scopes, gone_at__isnull=True
    ).values_list("pk", "cloud_id")
    ids = [pk for pk, cloud_id in candidates if cloud_id not in seen]
    for chunk in _chunks(ids):
        CloudInstance.objects.filter(pk__in=chunk).update(gone_at=now, state="vanished")
    return len(ids)
