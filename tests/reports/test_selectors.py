import pytest

from core import iprange
from reports import selectors
from tests.factories import HostFactory

pytestmark = pytest.mark.django_db


def hosts(queryset):
    return sorted((h.network.name, h.ip) for h in queryset.select_related("network"))


def test_asset_groups_of_one_network_report_on_that_network_only(twin_networks):
    t = twin_networks
    got = selectors.hosts_for_target(
        asset_groups=[t["alpha_group"]], ranges=[], network=None, tags=[]
    )
    assert hosts(got) == [("Alpha Corp", "10.0.0.5"), ("Alpha Corp", "10.0.0.9")]


def test_asset_groups_of_two_networks_keep_each_to_its_own_network(twin_networks):
    t = twin_networks
    HostFactory(network=t["alpha"], ip="10.0.1.5")  # outside both groups' /24
    got = selectors.hosts_for_target(
        asset_groups=[t["alpha_group"], t["beta_group"]], ranges=[], network=None, tags=[]
    )
    assert hosts(got) == [
        ("Alpha Corp", "10.0.0.5"),
        ("Alpha Corp", "10.0.0.9"),
        ("Beta Inc", "10.0.0.5"),
    ]


def test_ip_ranges_with_one_network_keep_that_network(twin_networks):
    t = twin_networks
    got = selectors.hosts_for_target(
        asset_groups=[], ranges=iprange.parse("10.0.0.5"), network=t["beta"], tags=[]
    )
    assert hosts(got) == [("Beta Inc", "10.0.0.5")]


def test_ip_ranges_with_all_networks_find_the_ip_in_every_network(twin_networks):
    got = selectors.hosts_for_target(
        asset_groups=[], ranges=iprange.parse("10.0.0.1-10.0.0.6, 10.9.9.9"), network=None, tags=[]
    )
    assert hosts(got) == [
        ("Alpha Corp", "10.0.0.5"),
        ("Beta Inc", "10.0.0.5"),
        ("Beta Inc", "10.9.9.9"),
    ]


def test_tags_span_networks_and_the_three_kinds_unite(twin_networks):
    t = twin_networks
    t["far"].tags.add(t["tag"])
    t["beta5"].tags.add(t["tag"])
    got = selectors.hosts_for_target(asset_groups=[], ranges=[], network=None, tags=[t["tag"]])
    assert hosts(got) == [("Beta Inc", "10.0.0.5"), ("Beta Inc", "10.9.9.9")]
    union = selectors.hosts_for_target(
        asset_groups=[t["alpha_group"]],
        ranges=iprange.parse("10.0.0.5"),
        network=t["beta"],
        tags=[t["tag"]],
    )
    assert hosts(union) == [
        ("Alpha Corp", "10.0.0.5"),
        ("Alpha Corp", "10.0.0.9"),
        ("Beta Inc", "10.0.0.5"),
        ("Beta Inc", "10.9.9.9"),
    ]
    assert union.count() == 4  # no duplicates from the tag join


def test_ipv6_ranges_compare_numerically(db):
    h1 = HostFactory(ip="2001:db8::9")
    HostFactory(ip="2001:db8::1:0", network=h1.network)
    got = selectors.hosts_for_target(
        asset_groups=[], ranges=iprange.parse("2001:db8::/112"), network=h1.network, tags=[]
    )
    assert [h.ip for h in got] == ["2001:db8::9"]
