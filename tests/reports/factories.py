"""Report test helpers on top of the shared factories."""

from assets.models import AssetGroup, AssetGroupRange
from core import iprange
from networks.models import Network
from tests.factories import AssetGroupFactory


def asset_group_with_ranges(*, network: Network, title: str, ips: str) -> AssetGroup:
    """An asset group with its IP ranges stored as rows, the way assets' services keep them."""
    ranges = iprange.parse(ips)
    group = AssetGroupFactory(network=network, title=title, ips=iprange.format_ranges(ranges))
    AssetGroupRange.objects.bulk_create(
        AssetGroupRange(group=group, start_key=r.start_key, end_key=r.end_key) for r in ranges
    )
    return group
