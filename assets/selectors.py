"""Read queries on hosts, asset groups, tags and network overlaps.

Every host query is per network: identity is (network, ip). Lists page by
keyset on the sortable IP key (``ip_key > last``), which costs the same at
any depth; OFFSET pagination reads and sorts the whole network (MEASURED.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from networks import iprange
from networks.models import AddressRange, Network, NetworkKind
from networks.selectors import networks_visible
from scans.models import Detection, Severity

from .models import AssetGroup, Host, NetworkOverlap, Tag

HOST_PAGE_SIZE = 50


# --- Hosts -------------------------------------------------------------------------


def ranges_q(ranges: list[iprange.IPRange], *, field_name: str = "ip_key") -> Q:
    """A filter matching keys inside any of the ranges: one indexed BETWEEN each.

    No ranges matches nothing.
    """
    query = Q(pk__in=[])
    for r in iprange.merge(ranges):
        query |= Q(**{f"{field_name}__range": (r.start_key, r.end_key)})
    return query


def hosts_of_network(*, network: Network) -> QuerySet[Host]:
    """The hosts of one network with what a table row shows, in IP order."""
    return (
        Host.objects.filter(network=network)
        .select_related("network")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .order_by("ip_key")
    )


def hosts_of_asset_group(*, group: AssetGroup) -> QuerySet[Host]:
    """Hosts of the group's network whose IP lies in one of the group's ranges."""
    return hosts_of_network(network=group.network).filter(ranges_q(group.ranges()))


def host_networks() -> QuerySet[Network]:
    """The networks Host Assets lists: every visible one (only Global Default
    when network support is off)."""
    return networks_visible().order_by("kind", "name")


def hosts_visible() -> QuerySet[Host]:
    if settings.ENCLAVE_NETWORKS_ENABLED:
        return Host.objects.all()
    return Host.objects.filter(network__kind=NetworkKind.GLOBAL_DEFAULT)


def host_same_ip_elsewhere(*, host: Host) -> list[Host]:
    """The hosts with this host's IP in the other networks (indexed on ip_key)."""
    return list(
        hosts_visible()
        .filter(ip_key=host.ip_key)
        .exclude(pk=host.pk)
        .select_related("network")
        .order_by("network__name")
    )


@dataclass
class SeverityGroup:
    severity: int
    label: str
    detections: list[Detection] = field(default_factory=list)


def host_findings_by_severity(*, host: Host) -> list[SeverityGroup]:
    """The host's findings as the latest scan left them, most severe first.

    One query; each detection carries its KB entry (title) and its evidence.
    """
    groups: dict[int, SeverityGroup] = {}
    detections = (
        Detection.objects.filter(host=host, network_id=host.network_id)
        .select_related("vulnerability")
        .order_by("-severity", "vulnerability_id", "port", "protocol")
    )
    for detection in detections:
        group = groups.get(detection.severity)
        if group is None:
            label = Severity(detection.severity).label
            group = groups[detection.severity] = SeverityGroup(detection.severity, label)
        group.detections.append(detection)
    return list(groups.values())


@dataclass
class KeysetPage:
    """One page of rows in key order, and the cursors to its neighbours."""

    rows: list
    size: int
    next_after: str | None = None  # the IP to pass as ``after`` for the next page
    previous_before: str | None = None  # the IP to pass as ``before`` for the previous one

    @property
    def has_next(self) -> bool:
        return self.next_after is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_before is not None


def keyset_page(
    queryset: QuerySet[Host],
    *,
    after: str | None = None,
    before: str | None = None,
    size: int = HOST_PAGE_SIZE,
) -> KeysetPage:
    """A page of hosts of one network after (or before) an IP, in IP order.

    ``after``/``before`` are IP addresses; one that does not parse is ignored
    (the first page). Two queries at most, whatever the depth.
    """
    after_key = _cursor_key(after)
    before_key = _cursor_key(before) if after_key is None else None
    if before_key is not None:
        rows = list(queryset.filter(ip_key__lt=before_key).order_by("-ip_key")[: size + 1])
        more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        page = KeysetPage(rows=rows, size=size)
        if rows:
            page.next_after = rows[-1].ip
            if more_before:
                page.previous_before = rows[0].ip
        return page
    if after_key is not None:
        queryset = queryset.filter(ip_key__gt=after_key)
    rows = list(queryset.order_by("ip_key")[: size + 1])
    page = KeysetPage(rows=rows[:size], size=size)
    if len(rows) > size:
        page.next_after = rows[size - 1].ip
    if after_key is not None and page.rows:
        page.previous_before = page.rows[0].ip
    return page


def _cursor_key(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return iprange.ip_key(value)
    except iprange.IPRangeError:
        return None


# --- Asset groups and tags -----------------------------------------------------------


def asset_group_list() -> QuerySet[AssetGroup]:
    groups = AssetGroup.objects.select_related("network")
    if not settings.ENCLAVE_NETWORKS_ENABLED:
        groups = groups.filter(network__kind=NetworkKind.GLOBAL_DEFAULT)
    return groups


def tag_list() -> QuerySet[Tag]:
    """Tags with how many hosts carry each (one grouped query)."""
    return Tag.objects.annotate(host_total=Count("hosts")).order_by(Lower("name"))


# --- Network overlaps ----------------------------------------------------------------


@dataclass
class Overlap:
    network_a: Network
    network_b: Network
    ranges: list[iprange.IPRange]
    ranges_text: str = ""
    # None until overlaps_refresh has counted this overlap.
    hosts_in_both: int | None = None
    counted_at: object = None


@lru_cache(maxsize=4096)
def _ranges_text(ranges: tuple[iprange.IPRange, ...]) -> str:
    return iprange.format_ranges(ranges)


def overlap_pairs() -> list[Overlap]:
    """Every pair of custom networks whose address spaces overlap, and where.

    Two queries (networks, ranges), then one sweep over all range rows sorted
    by start: each range meets only the ranges still open at its start, so
    the work grows with the overlaps, not with the square of the networks.
    Built-in networks have no address space, so they overlap nothing by space.
    """
    if not settings.ENCLAVE_NETWORKS_ENABLED:
        return []
    networks = {n.pk: n for n in Network.objects.custom()}
    rows = sorted(
        (iprange.from_key(start), iprange.from_key(end), network_id)
        for network_id, start, end in AddressRange.objects.filter(
            network__kind=NetworkKind.CUSTOM
        ).values_list("network_id", "start_key", "end_key")
    )
    pieces: dict[tuple[int, int], list[iprange.IPRange]] = defaultdict(list)
    open_rows: list[tuple[int, int, int]] = []
    for start, end, network_id in rows:
        open_rows = [r for r in open_rows if r[1] >= start]
        for _, other_end, other_id in open_rows:
            if other_id != network_id:
                pair = (min(network_id, other_id), max(network_id, other_id))
                pieces[pair].append(iprange.IPRange(start, min(end, other_end)))
        open_rows.append((start, end, network_id))
    out = []
    for (a, b), found in pieces.items():
        common = tuple(iprange.merge(found))
        out.append(
            Overlap(
                network_a=networks[a],
                network_b=networks[b],
                ranges=list(common),
                ranges_text=_ranges_text(common),
            )
        )
    out.sort(key=lambda o: (o.network_a.name.lower(), o.network_b.name.lower()))
    return out


def network_overlaps() -> list[Overlap]:
    """The overlapping pairs with the counted hosts that exist in both.

    Three queries whatever the number of networks or hosts. A pair whose
    overlap changed since it was counted shows no figure (None).
    """
    pairs = overlap_pairs()
    if not pairs:
        return pairs
    counted = {
        (a, b): (ranges, hosts, when)
        for a, b, ranges, hosts, when in NetworkOverlap.objects.values_list(
            "network_a_id", "network_b_id", "ranges", "hosts_in_both", "counted_at"
        )
    }
    for pair in pairs:
        stored = counted.get((pair.network_a.pk, pair.network_b.pk))
        if stored is not None and stored[0] == pair.ranges_text:
            pair.hosts_in_both, pair.counted_at = stored[1], stored[2]
    return pairs
