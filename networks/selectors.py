"""Read queries on networks and appliances that pages and the API share, and
the one scope gate: which networks a user may see.

Every page, API resource, task and service that reads or writes per-network
data asks ``networks_visible(user=...)`` or ``in_scope(queryset, user=...)``;
nothing else decides. ``user=None`` is the system (beat, workers, commands):
every network. Outside a user's networks an object does not exist for them:
lists leave it out and a detail answers 404, never 403.
"""

from django.conf import settings
from django.db.models import Model, Prefetch, QuerySet

from core import iprange

from .models import AddressRange, Network, NetworkAccess, NetworkKind, ScannerAppliance

# Cached on the user object: one query per request (request.user is new each request).
_CACHE = "_enclave_network_ids"


def granted_network_ids(*, user) -> frozenset[int] | None:
    """The ids of the networks granted to ``user``; None when they see every network
    (the system, Managers, and users granted all networks or never narrowed).
    A user who is not signed in, or inactive, is granted nothing."""
    if user is None:
        return None
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_manager:
        return None
    if hasattr(user, _CACHE):
        return getattr(user, _CACHE)
    access = NetworkAccess.objects.filter(user=user).only("id", "all_networks").first()
    ids = None
    if access is not None and not access.all_networks:
        ids = frozenset(access.networks.values_list("id", flat=True))
    setattr(user, _CACHE, ids)
    return ids


def forget_granted_networks(user) -> None:
    """Drops the grant cached on a user object (after the grant changed)."""
    if user is not None and hasattr(user, _CACHE):
        delattr(user, _CACHE)


def in_scope(queryset: QuerySet, *, user, field: str = "network") -> QuerySet:
    """``queryset`` narrowed to the rows whose network (at the path ``field``) the
    user may see; only Global Default's while network support is off."""
    if not settings.ENCLAVE_NETWORKS_ENABLED:
        queryset = queryset.filter(**{f"{field}__kind": NetworkKind.GLOBAL_DEFAULT})
    ids = granted_network_ids(user=user)
    if ids is not None:
        queryset = queryset.filter(**{f"{field}__in": sorted(ids)})
    return queryset


def networks_visible(*, user) -> QuerySet[Network]:
    """The networks ``user`` may see and pick: their grant (every network for
    Managers and the system), only Global Default while network support is off."""
    networks = Network.objects.all()
    if not settings.ENCLAVE_NETWORKS_ENABLED:
        networks = networks.filter(kind=NetworkKind.GLOBAL_DEFAULT)
    ids = granted_network_ids(user=user)
    if ids is not None:
        networks = networks.filter(pk__in=sorted(ids))
    return networks


def network_is_visible(*, user, network: Network | int | None) -> bool:
    if network is None:
        return False
    pk = network.pk if isinstance(network, Model) else network
    ids = granted_network_ids(user=user)
    if ids is not None and pk not in ids:
        return False
    if settings.ENCLAVE_NETWORKS_ENABLED:
        return True
    return networks_visible(user=None).filter(pk=pk).exists()


def sees_every_network(*, user) -> bool:
    """True when nothing is hidden from ``user`` (figures kept for all may be shown)."""
    return settings.ENCLAVE_NETWORKS_ENABLED and granted_network_ids(user=user) is None


def network_access_of(*, user) -> NetworkAccess | None:
    return NetworkAccess.objects.filter(user=user).prefetch_related("networks").first()


def network_list(*, user) -> QuerySet[Network]:
    return networks_visible(user=user).prefetch_related(
        Prefetch("appliances", queryset=ScannerAppliance.objects.order_by("name"))
    )


def appliances_visible(*, user) -> QuerySet[ScannerAppliance]:
    return in_scope(ScannerAppliance.objects.select_related("network"), user=user)


def network_ranges(*, network: Network) -> list[iprange.IPRange]:
    return [
        iprange.IPRange.from_keys(start, end)
        for start, end in AddressRange.objects.filter(network=network)
        .order_by("start_key")
        .values_list("start_key", "end_key")
    ]


def ranges_outside_space(
    *, network: Network, ranges: list[iprange.IPRange]
) -> list[iprange.IPRange]:
    """The parts of ``ranges`` outside the network's address space.

    Built-in networks accept any address (a custom network's too), so nothing
    is outside them.
    """
    if network.accepts_any_address:
        return []
    return iprange.subtract(ranges, network_ranges(network=network))


def network_access_labels(users) -> dict[int, str]:
    """{user id: what they see} for a page of users, in two queries: "All
    networks" (Managers, users never narrowed, users granted all), or the names
    of their networks ("No network" for none)."""
    users = list(users)
    access = {
        a.user_id: a
        for a in NetworkAccess.objects.filter(user__in=users).prefetch_related("networks")
    }
    labels = {}
    for user in users:
        grant = access.get(user.pk)
        if user.is_manager or grant is None or grant.all_networks:
            labels[user.pk] = "All networks"
        else:
            names = sorted((n.name for n in grant.networks.all()), key=str.lower)
            labels[user.pk] = ", ".join(names) if names else "No network"
    return labels
