"""Range filters hold for any number of ranges: an asset group, a host filter
and a report target of 100,000 separate ranges (SQLite once refused more than
about 1,000 with "Expression tree is too large", and both databases cap the
bound parameters of one query)."""

import pytest
from django.urls import reverse

from assets import selectors, services
from assets.models import Host
from core import iprange
from reports.selectors import hosts_for_target
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db

RANGES = 100_000
V4 = iprange.V4_OFFSET
BASE = int.from_bytes(bytes([10, 0, 0, 0]), "big")


def address(n: int) -> str:
    return str(iprange.IPRange(V4 + BASE + n, V4 + BASE + n)).split("/")[0]


@pytest.fixture
def spread():
    """100,000 single addresses two apart (never merging), as text; and hosts
    on both sides: inside (even offsets) and outside (odd offsets), in the
    network and in a twin network with the same addresses."""
    network = NetworkFactory(name="Spread", space="10.0.0.0/8")
    twin = NetworkFactory(name="Twin", space="10.0.0.0/8")
    inside = [0, 2, 1000, 77_776, 2 * (RANGES - 1)]  # first, some, the very last
    outside = [1, 3, 999, 77_777, 2 * RANGES]  # between ranges, and just past the end
    for net in (network, twin):
        Host.objects.bulk_create(
            Host(network=net, ip=address(n), ip_key=iprange.ip_key(address(n)))
            for n in inside + outside
        )
    text = "\n".join(address(2 * i) for i in range(RANGES))
    return network, twin, text, {address(n) for n in inside}


def test_an_asset_group_of_100000_ranges_shows_exactly_its_hosts(spread, client_as):
    network, twin, text, expected = spread
    group = services.asset_group_create(actor=None, title="Spread", network=network, ips=text)
    assert group.ip_ranges.count() == RANGES
    hosts = selectors.hosts_of_asset_group(group=group)
    assert {h.ip for h in hosts} == expected
    assert {h.network_id for h in hosts} == {network.pk}
    page = client_as("reader").get(group.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert all(f">{ip}<" in html for ip in expected)
    assert f">{address(1)}<" not in html and f">{address(2 * RANGES)}<" not in html
    # A report on the group: the same hosts, of that network only.
    found = hosts_for_target(asset_groups=[group], ranges=[], network=None, tags=[])
    assert {(h.ip, h.network_id) for h in found} == {(ip, network.pk) for ip in expected}


def test_a_report_target_of_100000_ranges_in_one_network_or_all(spread):
    network, twin, text, expected = spread
    ranges = iprange.parse(text)
    assert len(ranges) == RANGES
    one = hosts_for_target(asset_groups=[], ranges=ranges, network=network, tags=[])
    assert {(h.ip, h.network_id) for h in one} == {(ip, network.pk) for ip in expected}
    every = hosts_for_target(asset_groups=[], ranges=ranges, network=None, tags=[])
    assert {(h.ip, h.network_id) for h in every} == {
        (ip, n.pk) for ip in expected for n in (network, twin)
    }


def test_a_host_filter_of_100000_ranges_on_the_page_and_the_api(spread, client_as, api_as):
    network, twin, text, expected = spread
    ranges = ",".join(text.split())
    page = client_as("reader").get(
        reverse("assets:network_hosts", args=[network.pk]), {"range": ranges}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert all(f">{ip}<" in html for ip in expected)
    assert f">{address(3)}<" not in html
    listing = api_as("reader").get("/api/v1/hosts/", {"range": ranges, "page_size": 100})
    assert listing.status_code == 200
    assert sorted((h["ip"], h["network"]) for h in listing.json()["results"]) == sorted(
        (ip, n.pk) for ip in expected for n in (network, twin)
    )
    detections = api_as("reader").get("/api/v1/detections/", {"ip": ranges})
    assert detections.status_code == 200


@pytest.mark.parametrize("count", [1, 64, 65, 1500])
def test_few_and_many_ranges_select_the_same_hosts(count):
    """Both forms of the filter (inline BETWEENs, the joined JSON list) agree."""
    network = NetworkFactory(name="Small", space="10.0.0.0/16")
    Host.objects.bulk_create(
        Host(network=network, ip=address(n), ip_key=iprange.ip_key(address(n)))
        for n in range(0, 4000, 3)
    )
    ranges = [iprange.IPRange(V4 + BASE + 2 * i, V4 + BASE + 2 * i) for i in range(count)]
    expected = {address(n) for n in range(0, 4000, 3) if n % 2 == 0 and n < 2 * count}
    found = Host.objects.filter(selectors.ip_ranges_q(ranges), network=network)
    assert {h.ip for h in found} == expected
