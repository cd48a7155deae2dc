import random
from itertools import combinations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import AuditEntry
from assets import selectors, services
from assets.models import AssetGroup, AssetGroupRange, Host
from core import iprange
from networks import services as network_services
from networks.models import Network
from tests.factories import HostFactory, NetworkFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return NetworkFactory(name="Acme", space="10.0.0.0/16")


@pytest.fixture
def globex():
    return NetworkFactory(name="Globex", space="10.0.0.0/24, 192.168.1.0/24")


# --- Hosts -------------------------------------------------------------------------


def test_same_ip_in_two_networks_is_two_hosts_one_network_holds_it_once(acme, globex):
    """Identity is (network, IP), kept by the database whatever wrote the row."""
    a = HostFactory(network=acme, ip="10.0.0.5")
    b = HostFactory(network=globex, ip="10.0.0.5")
    assert a.pk != b.pk and a.ip_key == b.ip_key
    with pytest.raises(IntegrityError), transaction.atomic():
        HostFactory(network=acme, ip="10.0.0.5")
    assert Host.objects.filter(network=acme).count() == 1


def test_host_counts_refresh_recounts_each_network(acme, globex):
    HostFactory(network=acme, ip="10.0.0.5")
    HostFactory(network=acme, ip="10.0.0.6")
    HostFactory(network=globex, ip="10.0.0.5")
    services.host_counts_refresh()
    acme.refresh_from_db()
    globex.refresh_from_db()
    assert (acme.host_count, globex.host_count) == (2, 1)


# --- Asset groups ------------------------------------------------------------------


def test_asset_group_create_merges_ranges_into_rows(acme, manager):
    group = services.asset_group_create(
        actor=manager,
        title="Servers",
        network=acme,
        ips="10.0.0.1-10.0.0.9, 10.0.0.10, 10.0.1.0/24",
        domains="Example.com, *.corp.example.com\nexample.com",
    )
    assert group.ips == "10.0.0.1-10.0.0.10, 10.0.1.0/24"
    assert AssetGroupRange.objects.filter(group=group).count() == 2
    assert group.domains.split() == ["*.corp.example.com", "example.com"]
    assert AuditEntry.objects.filter(object_type="asset group", action="create").exists()


def test_out_of_space_ips_are_refused_naming_each_range(acme, manager):
    with pytest.raises(ValidationError) as error:
        services.asset_group_create(
            actor=manager,
            title="Stray",
            network=acme,
            ips="10.0.0.1, 10.9.0.1-10.9.0.5, 172.16.0.0/24",
        )
    messages = error.value.message_dict["ips"]
    assert "'10.9.0.1-10.9.0.5' is outside the address space of network Acme" in messages
    assert "'172.16.0.0/24' is outside the address space of network Acme" in messages
    assert not AssetGroup.objects.exists()


def test_global_default_group_accepts_any_ip(manager):
    group = services.asset_group_create(
        actor=manager,
        title="Anything",
        network=Network.objects.global_default(),
        ips="8.8.8.8, 2001:db8::/64",
    )
    assert group.ranges()


def test_bad_tokens_are_all_named(acme, manager):
    with pytest.raises(ValidationError) as error:
        services.asset_group_create(
            actor=manager, title="", network=acme, ips="10.0.0.999", domains="bad_domain!"
        )
    errors = error.value.message_dict
    assert errors["title"] == ["An asset group needs a title."]
    assert errors["ips"] == ["'10.0.0.999' is not an IP address"]
    assert errors["domains"] == ["'bad_domain!' is not a domain name"]


def test_asset_group_network_change_is_refused_by_service(acme, globex, manager):
    group = services.asset_group_create(actor=manager, title="G", network=acme, ips="10.0.0.1")
    with pytest.raises(ValidationError) as error:
        services.asset_group_update(actor=manager, group=group, network=globex, title="New")
    assert "network is fixed" in error.value.message_dict["network"][0]
    group.refresh_from_db()
    assert (group.network, group.title) == (acme, "G")
    # Echoing the group's own network back is fine.
    services.asset_group_update(actor=manager, group=group, network=acme, title="Renamed")
    group.refresh_from_db()
    assert group.title == "Renamed"


def test_asset_group_update_keeps_space_rule_and_writes_nothing_half(acme, manager):
    group = services.asset_group_create(actor=manager, title="G", network=acme, ips="10.0.0.1")
    with pytest.raises(ValidationError, match="10.5.0.0/16"):
        services.asset_group_update(actor=manager, group=group, title="Other", ips="10.5.0.0/16")
    group.refresh_from_db()
    assert (group.title, group.ips) == ("G", "10.0.0.1")
    assert [str(r) for r in group.ranges()] == ["10.0.0.1"]


def test_asset_group_title_unique_per_network_case_insensitive(acme, globex, manager):
    services.asset_group_create(actor=manager, title="Web", network=acme)
    with pytest.raises(ValidationError, match="already has an asset group 'WEB'"):
        services.asset_group_create(actor=manager, title="WEB", network=acme)
    services.asset_group_create(actor=manager, title="Web", network=globex)


def test_asset_group_hosts_are_its_networks_hosts_in_its_ranges(acme, globex, manager):
    for ip in ("10.0.0.1", "10.0.0.9", "10.0.0.10", "10.0.1.1"):
        HostFactory(network=acme, ip=ip)
    HostFactory(network=globex, ip="10.0.0.9")
    group = services.asset_group_create(
        actor=manager, title="G", network=acme, ips="10.0.0.5-10.0.0.10"
    )
    hosts = list(selectors.hosts_of_asset_group(group=group))
    assert [(h.network, h.ip) for h in hosts] == [(acme, "10.0.0.9"), (acme, "10.0.0.10")]


# --- Tags --------------------------------------------------------------------------


def test_tag_create_rename_delete(manager):
    tag = services.tag_create(actor=manager, name="PCI")
    with pytest.raises(ValidationError, match="already exists"):
        services.tag_create(actor=manager, name="pci")
    services.tag_update(actor=manager, tag=tag, name="PCI-DSS")
    tag.refresh_from_db()
    assert tag.name == "PCI-DSS"
    host = HostFactory()
    host.tags.add(tag)
    services.tag_delete(actor=manager, tag=tag)
    assert host.tags.count() == 0 and Host.objects.filter(pk=host.pk).exists()


def test_tag_assign_and_remove_on_many_hosts_across_networks(acme, globex, manager):
    tag = TagFactory(name="crown-jewels")
    hosts = [HostFactory(network=acme, ip="10.0.0.5"), HostFactory(network=globex, ip="10.0.0.5")]
    assert services.tag_assign(actor=manager, tag=tag, hosts=hosts) == 2
    assert services.tag_assign(actor=manager, tag=tag, hosts=hosts) == 0
    assert set(tag.hosts.all()) == set(hosts)
    assert services.tag_remove(actor=manager, tag=tag, hosts=[hosts[0].pk]) == 1
    assert list(tag.hosts.all()) == [hosts[1]]


def test_tag_assign_refuses_unknown_hosts_and_writes_nothing(manager):
    tag = TagFactory()
    host = HostFactory()
    with pytest.raises(ValidationError, match="No host with id 999999"):
        services.tag_assign(actor=manager, tag=tag, hosts=[host.pk, 999999])
    assert tag.hosts.count() == 0


# --- Overlaps ----------------------------------------------------------------------


def test_overlap_pairs_and_hosts_in_both(acme, globex):
    NetworkFactory(name="Initech", space="172.16.0.0/12")  # overlaps nothing
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.1.1"):
        HostFactory(network=acme, ip=ip)
    HostFactory(network=globex, ip="10.0.0.2")
    HostFactory(network=globex, ip="192.168.1.7")
    assert services.overlaps_refresh() == 1
    [overlap] = selectors.network_overlaps(user=None)
    assert {overlap.network_a, overlap.network_b} == {acme, globex}
    assert overlap.ranges_text == "10.0.0.0/24"
    assert overlap.hosts_in_both == 1


def test_changed_address_space_shows_no_stale_figure(acme, globex, manager):
    HostFactory(network=acme, ip="10.0.0.1")
    HostFactory(network=globex, ip="10.0.0.1")
    NetworkFactory(name="Initech", space="172.16.0.0/12")
    services.overlaps_refresh()
    assert [o.hosts_in_both for o in selectors.network_overlaps(user=None)] == [1]
    # Globex's space changes: the overlap moves, its old figure is not shown.
    network_services.network_update(actor=manager, network=globex, address_space="10.0.0.0/25")
    [moved] = selectors.network_overlaps(user=None)
    assert (moved.ranges_text, moved.hosts_in_both) == ("10.0.0.0/25", None)
    # A change elsewhere keeps the unchanged overlap's figure, live.
    network_services.network_update(actor=manager, network=globex, address_space="10.0.0.0/24")
    initech = Network.objects.get(name="Initech")
    network_services.network_update(actor=manager, network=initech, address_space="172.16.0.0/16")
    [same] = selectors.network_overlaps(user=None)
    assert isinstance(selectors.network_overlaps(user=None), list) and same.hosts_in_both == 1
    services.overlaps_refresh()
    assert not isinstance(selectors.network_overlaps(user=None), list)


def test_built_in_networks_overlap_nothing(acme):
    HostFactory(network=Network.objects.global_default(), ip="10.0.0.1")
    HostFactory(network=acme, ip="10.0.0.1")
    assert selectors.overlap_pairs() == []


# --- Keyset pages ------------------------------------------------------------------


def test_keyset_pages_walk_a_network_in_numeric_ip_order(acme):
    ips = [f"10.0.{i // 20}.{i % 20}" for i in range(120)]
    for ip in ips:
        HostFactory(network=acme, ip=ip)
    HostFactory(network=NetworkFactory(space="10.0.0.0/8"), ip="10.0.0.3")  # another network
    queryset = selectors.hosts_of_network(network=acme)
    seen, page = [], selectors.keyset_page(queryset, size=50)
    assert not page.has_previous
    while True:
        seen.extend(h.ip for h in page.rows)
        if not page.has_next:
            break
        page = selectors.keyset_page(queryset, after=page.next_after, size=50)
    expected = sorted(ips, key=lambda ip: tuple(int(p) for p in ip.split(".")))
    assert seen == expected
    assert seen.index("10.0.0.9") < seen.index("10.0.0.10")
    back = selectors.keyset_page(queryset, before=page.rows[0].ip, size=50)
    assert [h.ip for h in back.rows] == expected[50:100]
    assert back.has_previous and back.next_after == expected[99]


def test_overlap_sweep_matches_pairwise_intersection():
    """The sweep in overlap_pairs finds exactly what intersecting every pair finds."""
    base = iprange.parse_address("10.0.0.0")
    rng = random.Random(5)
    networks = []
    for _ in range(12):
        blocks = []
        for _ in range(rng.randrange(1, 5)):
            start = base + rng.randrange(0, 4000)
            blocks.append(iprange.IPRange(start, start + rng.randrange(0, 600)))
        networks.append(NetworkFactory(space=iprange.format_ranges(blocks)))
    expected = {}
    for a, b in combinations(networks, 2):
        common = iprange.intersect(a.ranges(), b.ranges())
        if common:
            expected[(a.pk, b.pk)] = iprange.format_ranges(common)
    found = {(o.network_a.pk, o.network_b.pk): o.ranges_text for o in selectors.overlap_pairs()}
    assert found == expected and len(expected) > 10


def test_overlaps_refresh_for_one_network_recounts_only_its_pairs(acme, globex):
    initech = NetworkFactory(name="Initech", space="10.0.0.0/8")
    services.overlaps_refresh()
    # Hosts loaded in bulk (as ingest does) bypass the host services.
    HostFactory(network=acme, ip="10.0.0.9")
    HostFactory(network=globex, ip="10.0.0.9")
    HostFactory(network=initech, ip="10.0.0.9")
    figures = {
        (o.network_a.name, o.network_b.name): o.hosts_in_both
        for o in selectors.network_overlaps(user=None)
    }
    assert set(figures.values()) == {0}
    assert services.overlaps_refresh(network=globex) == 2
    figures = {
        (o.network_a.name, o.network_b.name): o.hosts_in_both
        for o in selectors.network_overlaps(user=None)
    }
    assert figures == {("Acme", "Globex"): 1, ("Acme", "Initech"): 0, ("Globex", "Initech"): 1}
    from assets.tasks import refresh_overlaps

    assert refresh_overlaps(network_id=None) == 3
    assert {o.hosts_in_both for o in selectors.network_overlaps(user=None)} == {1}


def test_changing_an_address_space_recounts_overlaps_after_commit(
    acme, globex, manager, monkeypatch, django_capture_on_commit_callbacks
):
    """networks announces the change (it imports nothing above it); assets recounts."""
    from assets import tasks

    HostFactory(network=acme, ip="10.0.0.9")
    HostFactory(network=globex, ip="10.0.0.9")
    sent = []
    monkeypatch.setattr(tasks.refresh_overlaps, "delay", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        network_services.network_update(actor=manager, network=globex, address_space="10.0.0.0/16")
    assert sent == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert sent == [{}]
    # Same space again: no change, nothing to recount.
    with django_capture_on_commit_callbacks(execute=True):
        network_services.network_update(actor=manager, network=globex, address_space="10.0.0.0/16")
    assert sent == [{}]
