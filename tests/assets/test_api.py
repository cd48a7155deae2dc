import pytest
from rest_framework.test import APIClient

from assets import services
from assets.models import AssetGroup, Tag
from tests.factories import (
    AssetGroupFactory,
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    TagFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/"


@pytest.fixture
def acme():
    return NetworkFactory(name="Acme", space="10.0.0.0/16")


@pytest.fixture
def globex():
    return NetworkFactory(name="Globex", space="10.0.0.0/24")


def test_reads_need_auth(acme):
    anonymous = APIClient()
    for path in ("hosts/", "asset-groups/", "tags/", "networks/overlaps/"):
        assert anonymous.get(API + path).status_code == 401, path
    assert anonymous.post(API + "tags/", {"name": "x"}).status_code == 401
    body = {"title": "x", "network": acme.pk}
    assert anonymous.post(API + "asset-groups/", body).status_code == 401
    assert not Tag.objects.exists() and not AssetGroup.objects.exists()


@pytest.mark.parametrize("role", ["reader", "scanner", "manager"])
def test_every_role_reads(api_as, role, acme):
    HostFactory(network=acme, ip="10.0.0.1")
    api = api_as(role)
    for path in ("hosts/", "asset-groups/", "tags/", "networks/overlaps/"):
        response = api.get(API + path)
        assert response.status_code == 200, path
        assert set(response.json()) == {"count", "next", "previous", "results"}


def test_hosts_api_fields_filters_and_same_ip_twice(api_as, acme, globex):
    a = HostFactory(network=acme, ip="10.0.0.5", os="Debian 12", dns="a.test")
    b = HostFactory(network=globex, ip="10.0.0.5", os="Windows")
    HostFactory(network=acme, ip="10.0.0.50", os="Debian 12")
    tag = TagFactory(name="pci")
    a.tags.add(tag)
    api = api_as("reader")
    results = api.get(API + "hosts/", {"ip": "10.0.0.5"}).json()["results"]
    assert [(r["network_name"], r["ip"]) for r in results] == [
        ("Acme", "10.0.0.5"),
        ("Globex", "10.0.0.5"),
    ]
    first = results[0]
    assert set(first) == {
        "id", "network", "network_name", "ip", "dns", "netbios", "os",
        "first_found", "last_scanned", "tags",
    }  # fmt: skip
    assert first["tags"] == ["pci"] and first["network"] == acme.pk
    by_network = api.get(API + "hosts/", {"network": globex.pk}).json()["results"]
    assert [r["id"] for r in by_network] == [b.pk]
    assert api.get(API + "hosts/", {"tag": tag.pk}).json()["count"] == 1
    assert api.get(API + "hosts/", {"os": "debian"}).json()["count"] == 2
    assert api.get(API + "hosts/", {"range": "10.0.0.40-10.0.0.60"}).json()["count"] == 1
    bad = api.get(API + "hosts/", {"ip": "10.0.0.300"})
    assert bad.status_code == 400 and bad.json() == {"ip": ["'10.0.0.300' is not an IP address"]}


def test_host_detail_api_has_current_detections(api_as, acme):
    host = HostFactory(network=acme, ip="10.0.0.5")
    DetectionFactory(
        host=host,
        vulnerability=VulnerabilityFactory(qid=990100, title="Old SSH", severity=3),
        port=22,
        protocol="tcp",
        results="SSH-2.0-OpenSSH_7.4",
    )
    data = api_as("reader").get(f"{API}hosts/{host.pk}/").json()
    [detection] = data["detections"]
    assert detection["qid"] == 990100 and detection["title"] == "Old SSH"
    assert detection["port"] == 22 and detection["results"] == "SSH-2.0-OpenSSH_7.4"


def test_asset_group_api_create_patch_and_network_change_refused(api_as, acme, globex):
    api = api_as("scanner")
    response = api.post(
        API + "asset-groups/",
        {"title": "Web", "network": acme.pk, "ips": "10.0.0.1-10.0.0.9, 10.0.0.10"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["ips"] == "10.0.0.1-10.0.0.10" and data["network"] == acme.pk
    url = f"{API}asset-groups/{data['id']}/"
    refused = api.patch(url, {"network": globex.pk, "title": "Moved"}, format="json")
    assert refused.status_code == 400
    assert "network is fixed" in refused.json()["network"][0]
    group = AssetGroup.objects.get(pk=data["id"])
    assert (group.network, group.title) == (acme, "Web")
    same = api.patch(url, {"network": acme.pk, "domains": "example.com"}, format="json")
    assert same.status_code == 200 and same.json()["domains"] == "example.com"
    assert api.delete(url).status_code == 204


def test_asset_group_api_names_out_of_space_ranges(api_as, acme):
    response = api_as("manager").post(
        API + "asset-groups/",
        {"title": "Stray", "network": acme.pk, "ips": "10.0.0.1, 10.9.0.1-10.9.0.5"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "ips": ["'10.9.0.1-10.9.0.5' is outside the address space of network Acme"]
    }
    assert not AssetGroup.objects.exists()


def test_reader_may_not_write_through_api(api_as, acme):
    api = api_as("reader")
    group = AssetGroupFactory(network=acme)
    tag = TagFactory()
    assert api.post(API + "asset-groups/", {"title": "x", "network": acme.pk}).status_code == 403
    assert api.patch(f"{API}asset-groups/{group.pk}/", {"title": "x"}).status_code == 403
    assert api.delete(f"{API}asset-groups/{group.pk}/").status_code == 403
    assert api.post(API + "tags/", {"name": "x"}).status_code == 403
    assert api.delete(f"{API}tags/{tag.pk}/").status_code == 403
    assert AssetGroup.objects.filter(pk=group.pk).exists() and Tag.objects.count() == 1


def test_tags_api_create_assign_rename_delete(api_as, acme, globex):
    hosts = [HostFactory(network=acme, ip="10.0.0.5"), HostFactory(network=globex, ip="10.0.0.5")]
    api = api_as("scanner")
    created = api.post(API + "tags/", {"name": "dmz", "hosts": [hosts[0].pk]}, format="json")
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "name": "dmz", "hosts": [hosts[0].pk]}
    url = f"{API}tags/{created.json()['id']}/"
    patched = api.patch(url, {"name": "DMZ", "hosts": [h.pk for h in hosts]}, format="json")
    assert patched.status_code == 200
    assert patched.json()["name"] == "DMZ"
    assert sorted(patched.json()["hosts"]) == sorted(h.pk for h in hosts)
    assert api.post(API + "tags/", {"name": "dmz"}, format="json").status_code == 400
    unknown = api.patch(url, {"hosts": [987654]}, format="json")
    assert unknown.status_code == 400 and "987654" in unknown.json()["hosts"][0]
    assert api.delete(url).status_code == 204


def test_overlaps_api(api_as, acme, globex):
    HostFactory(network=acme, ip="10.0.0.7")
    HostFactory(network=globex, ip="10.0.0.7")
    services.overlaps_refresh()
    [row] = api_as("reader").get(API + "networks/overlaps/").json()["results"]
    assert {row["network_a"], row["network_b"]} == {acme.pk, globex.pk}
    assert row["ranges"] == ["10.0.0.0/24"] and row["hosts_in_both"] == 1
    # The networks' own routes still work beside it.
    assert api_as("reader").get(f"{API}networks/{acme.pk}/").status_code == 200


def test_asset_group_api_needs_a_network_unless_network_support_is_off(api_as, settings):
    api = api_as("scanner")
    missing = api.post(API + "asset-groups/", {"title": "Web"}, format="json")
    assert missing.status_code == 400 and "network" in missing.json()
    settings.ENCLAVE_NETWORKS_ENABLED = False
    created = api.post(API + "asset-groups/", {"title": "Web", "ips": "8.8.8.8"}, format="json")
    assert created.status_code == 201
    assert AssetGroup.objects.get(title="Web").network.kind == "global_default"
    other = NetworkFactory(name="Hidden", space="10.0.0.0/8")
    refused = api.post(API + "asset-groups/", {"title": "X", "network": other.pk}, format="json")
    assert refused.status_code == 400 and "Global Default" in refused.json()["network"][0]


def test_api_lists_have_bounded_queries(api_as, acme, django_assert_max_num_queries):
    tags = [TagFactory() for _ in range(3)]
    for i in range(40):
        host = HostFactory(network=acme, ip=f"10.0.0.{i + 1}")
        host.tags.add(*tags)
        AssetGroupFactory(network=acme, title=f"G{i}")
    api = api_as("reader")
    api.get(API + "hosts/")  # token lookup warmed
    for path in ("hosts/", "tags/", "asset-groups/", "networks/overlaps/"):
        with django_assert_max_num_queries(6):
            assert api.get(API + path).status_code == 200
    host = acme.hosts.first()
    for qid in range(5):
        DetectionFactory(host=host, vulnerability=VulnerabilityFactory(qid=990200 + qid))
    with django_assert_max_num_queries(6):
        assert len(api.get(f"{API}hosts/{host.pk}/").json()["detections"]) == 5


def test_host_list_counts_from_the_network_counters_unless_filtered(
    api_as, django_assert_max_num_queries
):
    """No COUNT over the hosts for the whole list or one network's: the networks'
    kept counters give it; a filtered list counts its rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from networks.services import network_counters_set

    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    for i in range(3):
        HostFactory(network=acme, ip=f"10.0.0.{i + 1}")
    network_counters_set(network_id=acme.pk, hosts=3)
    api = api_as("reader")
    with CaptureQueriesContext(connection) as queries:
        answer = api.get("/api/v1/hosts/", {"network": acme.pk}).json()
    assert answer["count"] == 3 and len(answer["results"]) == 3
    assert not any("COUNT(" in q["sql"].upper() and "assets_host" in q["sql"] for q in queries)
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/hosts/", {"ip": "10.0.0.2"}).json()["count"] == 1
    assert any("COUNT(" in q["sql"].upper() for q in queries)


def test_a_counter_that_drifted_never_hides_hosts(api_as):
    from networks.services import network_counters_set

    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    for i in range(3):
        HostFactory(network=acme, ip=f"10.0.0.{i + 1}")
    network_counters_set(network_id=acme.pk, hosts=1)  # wrong on purpose
    api = api_as("reader")
    first = api.get("/api/v1/hosts/", {"network": acme.pk, "page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert [h["ip"] for h in second["results"]] == ["10.0.0.3"] and second["next"] is None
    assert api.get("/api/v1/hosts/", {"network": acme.pk, "page": 5}).status_code == 404
