"""Read queries on hosts, asset groups, tags and network overlaps.

Every host query is per network: identity is (network, ip). Lists page by
keyset on the sortable IP key (``ip_key > last``), which costs the same at
any depth; OFFSET pagination reads and sorts the whole network (MEASURED.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db.models import BigIntegerField, Count, Expression, Q, QuerySet
from django.db.models.functions import Lower

from core import iprange
from networks.models import AddressRange, Network, NetworkKind
from networks.selectors import granted_network_ids, in_scope, networks_visible

from .models import AssetGroup, CloudInstance, Connector, ConnectorRun, Host, NetworkOverlap, Tag

HOST_PAGE_SIZE = 50


# --- Hosts -------------------------------------------------------------------------


# Up to this many ranges a filter is one indexed BETWEEN per range, which the
# planner reads straight from the index. Beyond it one OR per range would pass
# SQLite's expression depth (1,000) and the databases' bound-parameter limits,
# so the ranges travel as one JSON parameter and are joined with the key index.
INLINE_RANGES = 64


class HostsInRanges(Expression):
    """``(SELECT id FROM hosts JOIN <ranges> ...)``: the ids of the hosts whose IP
    lies in any of the ranges, for an ``__in`` filter. The ranges are the
    outer loop, each an index range read on the IP key: any number of ranges
    costs one query, and time grows with the ranges and the hosts found."""

    output_field = BigIntegerField()

    def __init__(self, ranges: list[iprange.IPRange], network_id: int | None = None):
        super().__init__()
        self.ranges_json = json.dumps([[r.start_key, r.end_key] for r in ranges])
        self.network_id = network_id

    def _sql(self, elements: str, low: str, high: str, fence: str) -> tuple[str, list]:
        params: list = [self.ranges_json]
        # Only this class's constants and the table name go into the text.
        table = Host._meta.db_table
        sql = f"SELECT h.id FROM {elements} JOIN {table} h ON h.ip_key BETWEEN {low} AND {high}"  # noqa: S608, E501
        if self.network_id is not None:
            sql += " WHERE h.network_id = %s"
            params.append(self.network_id)
        return f"({sql}{fence})", params

    def as_sql(self, compiler, connection):
        return self._sql(
            "json_each(%s) r", "json_extract(r.value, '$[0]')", "json_extract(r.value, '$[1]')", ""
        )

    def as_postgresql(self, compiler, connection):
        # OFFSET 0 keeps the join as written: pulled up into the outer query,
        # PostgreSQL would scan every range for every host instead.
        return self._sql(
            "jsonb_array_elements(%s::jsonb) r", "r.value ->> 0", "r.value ->> 1", " OFFSET 0"
        )


def ip_ranges_q(
    ranges: list[iprange.IPRange], *, host: str = "", network_id: int | None = None
) -> Q:
    """Rows whose host's IP lies in any of the ranges, for any number of ranges.

    ``host`` is the path from the filtered model to its host ("" for Host,
    "host" for a Detection); ``network_id`` narrows the many-ranges join to
    one network's hosts (the caller still filters the network). No ranges
    match nothing.
    """
    merged = iprange.merge(ranges)
    prefix = f"{host}__" if host else ""
    if not merged:
        return Q(pk__in=[])
    if len(merged) > INLINE_RANGES:
        return Q(**{f"{host or 'pk'}__in": HostsInRanges(merged, network_id)})
    query = Q()
    for r in merged:
        query |= Q(**{f"{prefix}ip_key__range": (r.start_key, r.end_key)})
    return query


def hosts_of_network(*, network: Network) -> QuerySet[Host]:
    """The hosts of one network in IP order (not their network: the page around
    them names it once; their tags: ``tag_names_by_host`` for a page of them)."""
    return Host.objects.filter(network=network).order_by("ip_key")


def tag_names_by_host(host_ids: list[int]) -> dict[int, list[str]]:
    """{host id: its tags' names, by name} for a page of hosts, in one query
    (prefetch_related built a manager and a queryset for every host: ~1 ms a page of 50)."""
    names: dict[int, list[str]] = {}
    rows = (
        Host.tags.through.objects.filter(host_id__in=host_ids)
        .values_list("host_id", "tag__name")
        .order_by("tag__name")
    )
    for host_id, name in rows:
        names.setdefault(host_id, []).append(name)
    return names


def hosts_of_asset_group(*, group: AssetGroup) -> QuerySet[Host]:
    """Hosts of the group's network whose IP lies in one of the group's ranges."""
    return hosts_of_network(network=group.network).filter(
        ip_ranges_q(group.ranges(), network_id=group.network_id)
    )


def host_networks(*, user) -> QuerySet[Network]:
    """The networks Host Assets lists: every one the user may see (only Global
    Default when network support is off)."""
    return networks_visible(user=user).order_by("kind", "name")


def hosts_visible(*, user) -> QuerySet[Host]:
    """Hosts in the user's networks."""
    return in_scope(Host.objects.all(), user=user)


def host_same_ip_elsewhere(*, host: Host, user) -> list[Host]:
    """The hosts with this host's IP in the user's other networks (indexed on ip_key)."""
    return list(
        hosts_visible(user=user)
        .filter(ip_key=host.ip_key)
        .exclude(pk=host.pk)
        .select_related("network")
        .order_by("network__name")
    )


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


def asset_group_list(*, user) -> QuerySet[AssetGroup]:
    """Asset groups in the user's networks."""
    return in_scope(AssetGroup.objects.select_related("network"), user=user)


def tag_list(*, user) -> QuerySet[Tag]:
    """Tags (they span networks, every user sees them) with how many hosts carry
    each, counting only the hosts in the user's networks (one grouped query)."""
    ids = granted_network_ids(user=user)
    counted = Q()
    if not settings.ENCLAVE_NETWORKS_ENABLED:
        counted &= Q(hosts__network__kind=NetworkKind.GLOBAL_DEFAULT)
    if ids is not None:
        counted &= Q(hosts__network__in=sorted(ids))
    if not counted:
        return Tag.objects.annotate(host_total=Count("hosts")).order_by(Lower("name"))
    return Tag.objects.annotate(host_total=Count("hosts", filter=counted)).order_by(Lower("name"))


def tag_hosts_visible(*, user) -> QuerySet[Host]:
    """The hosts whose tags a user sees and changes: those in their networks."""
    return hosts_visible(user=user).only("id").order_by("id")


# --- Network overlaps ----------------------------------------------------------------


@dataclass
class Overlap:
    """One overlapping pair, computed live from the address ranges."""

    network_a: Network
    network_b: Network
    ranges_text: str
    # None until overlaps_refresh has counted this overlap.
    hosts_in_both: int | None = None


@lru_cache(maxsize=4096)
def _ranges_text(ranges: tuple[iprange.IPRange, ...]) -> str:
    return iprange.format_ranges(ranges)


def custom_space_rows() -> list[tuple[int, str, str]]:
    """(network id, start key, end key) of every custom network's ranges, in order."""
    if not settings.ENCLAVE_NETWORKS_ENABLED:
        return []
    return list(
        AddressRange.objects.filter(network__kind=NetworkKind.CUSTOM)
        .order_by("network_id", "start_key")
        .values_list("network_id", "start_key", "end_key")
    )


def space_fingerprint(rows: list[tuple[int, str, str]]) -> str:
    """A digest of every custom network's address space: the overlap figures
    are current while the digest they were counted under still matches."""
    digest = hashlib.sha256()
    for network_id, start, end in rows:
        digest.update(f"{network_id}:{start}-{end};".encode())
    return digest.hexdigest()


def overlap_pairs(rows: list[tuple[int, str, str]] | None = None) -> list[Overlap]:
    """Every pair of custom networks whose address spaces overlap, and where.

    Two queries (ranges, network names), then one sweep over all range rows
    sorted by start: each range meets only the ranges still open at its
    start, so the work grows with the overlaps, not with the square of the
    networks. Built-in networks have no address space: they overlap nothing.
    """
    if rows is None:
        rows = custom_space_rows()
    ordered = sorted((iprange.from_key(s), iprange.from_key(e), n) for n, s, e in rows)
    pieces: dict[tuple[int, int], list[iprange.IPRange]] = defaultdict(list)
    open_rows: list[tuple[int, int, int]] = []
    for start, end, network_id in ordered:
        open_rows = [r for r in open_rows if r[1] >= start]
        for _, other_end, other_id in open_rows:
            if other_id != network_id:
                pair = (min(network_id, other_id), max(network_id, other_id))
                pieces[pair].append(iprange.IPRange(start, min(end, other_end)))
        open_rows.append((start, end, network_id))
    if not pieces:
        return []
    networks = {n.pk: n for n in Network.objects.custom().only("id", "name", "kind")}
    out = [
        Overlap(
            network_a=networks[a],
            network_b=networks[b],
            ranges_text=_ranges_text(tuple(iprange.merge(found))),
        )
        for (a, b), found in pieces.items()
    ]
    out.sort(key=lambda o: (o.network_a.name.lower(), o.network_b.name.lower()))
    return out


def network_overlaps(*, user) -> QuerySet[NetworkOverlap] | list[Overlap]:
    """The overlapping pairs of which the user holds both networks (nothing
    about a network outside their grant is shown, not even its name), where
    they overlap, and the hosts in both.

    While the address spaces are those the figures were counted under, the
    stored rows are the answer: a queryset that pages in the database (a
    count and one page), whatever the number of pairs. Otherwise the pairs
    are computed live, each with its stored figure when its overlap is
    unchanged, or None ("not counted yet").
    """
    rows = custom_space_rows()
    if not rows:
        return []
    stored = in_scope(
        in_scope(
            NetworkOverlap.objects.filter(space_fingerprint=space_fingerprint(rows)),
            user=user,
            field="network_a",
        ),
        user=user,
        field="network_b",
    )
    stored = stored.select_related("network_a", "network_b").order_by(
        Lower("network_a__name"), Lower("network_b__name")
    )
    if NetworkOverlap.objects.filter(space_fingerprint=space_fingerprint(rows)).exists():
        return stored
    ids = granted_network_ids(user=user)
    pairs = [
        pair
        for pair in overlap_pairs(rows)
        if ids is None or (pair.network_a.pk in ids and pair.network_b.pk in ids)
    ]
    counted = {
        (a, b): (ranges, hosts)
        for a, b, ranges, hosts in NetworkOverlap.objects.values_list(
            "network_a_id", "network_b_id", "ranges", "hosts_in_both"
        )
    }
    for pair in pairs:
        found = counted.get((pair.network_a.pk, pair.network_b.pk))
        if found is not None and found[0] == pair.ranges_text:
            pair.hosts_in_both = found[1]
    return pairs


# --- Cloud connectors ------------------------------------------------------------------


def connector_list() -> QuerySet[Connector]:
    """Connectors with their latest run (Managers only: callers check the role)."""
    return Connector.objects.select_related("last_run")


def connector_runs(*, connector: Connector) -> QuerySet[ConnectorRun]:
    return connector.runs.order_by("-created_at", "-pk")


def connector_instances(*, connector: Connector) -> QuerySet[CloudInstance]:
    """The instances a connector has read, with their hosts, by name."""
    return connector.instances.select_related("host__network").order_by(
        "gone_at", "name", "cloud_id"
    )
