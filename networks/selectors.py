"""Read queries on networks and appliances that pages and the API share."""

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from core import iprange

from .models import AddressRange, Network, ScannerAppliance


def network_list() -> QuerySet[Network]:
    return Network.objects.prefetch_related(
        Prefetch("appliances", queryset=ScannerAppliance.objects.order_by("name"))
    )


def networks_visible() -> QuerySet[Network]:
    """The networks users may pick: all of them, or only Global Default when
    network support is switched off."""
    if settings.ENCLAVE_NETWORKS_ENABLED:
        return Network.objects.all()
    return Network.objects.filter(kind="global_default")


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
