import re

import pytest
from django.test import override_settings
from django.urls import reverse

from assets import services
from assets.models import AssetGroup, Tag
from networks.models import Network
from tests.factories import (
    AssetGroupFactory,
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    TagFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ["reader", "scanner", "manager"]


@pytest.fixture
def two_networks():
    """Acme and Globex both hold 10.0.0.5: two hosts with their own findings."""
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/24")
    a = HostFactory(network=acme, ip="10.0.0.5", dns="web.acme.test", os="Debian 12")
    b = HostFactory(network=globex, ip="10.0.0.5", dns="db.globex.test", os="Windows")
    DetectionFactory(
        host=a,
        vulnerability=VulnerabilityFactory(qid=990001, title="Weak TLS", severity=4),
        port=443,
        protocol="tcp",
        results="TLSv1.0 accepted",
    )
    DetectionFactory(
        host=b, vulnerability=VulnerabilityFactory(qid=990002, title="Telnet open", severity=5)
    )
    return acme, globex, a, b


def _read_urls(two_networks):
    acme, globex, a, b = two_networks
    group = AssetGroupFactory(network=acme, title="Servers")
    return [
        reverse("assets:host_list"),
        reverse("assets:network_hosts", args=[acme.pk]),
        reverse("assets:host_detail", args=[a.pk]),
        reverse("assets:asset_group_list"),
        reverse("assets:asset_group_detail", args=[group.pk]),
        reverse("assets:tag_list"),
        reverse("assets:overlap_list"),
    ]


def test_read_pages_need_login(client, two_networks):
    for url in _read_urls(two_networks):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.parametrize("role", ROLES)
def test_read_pages_open_to_every_role(client_as, role, two_networks):
    client = client_as(role)
    for url in _read_urls(two_networks):
        assert client.get(url).status_code == 200, url


def _write_requests(two_networks):
    acme, globex, a, b = two_networks
    group = AssetGroupFactory(network=acme, title="Servers")
    tag = TagFactory(name="old")
    return [
        ("get", reverse("assets:asset_group_create"), {}),
        ("post", reverse("assets:asset_group_create"), {"title": "T", "network": acme.pk}),
        ("post", reverse("assets:asset_group_update", args=[group.pk]), {"title": "T2"}),
        ("post", reverse("assets:tag_create"), {"name": "new"}),
        ("post", reverse("assets:tag_update", args=[tag.pk]), {"name": "renamed"}),
        (
            "post",
            reverse("assets:host_tags"),
            {"tag": tag.pk, "hosts": [a.pk], "action": "assign"},
        ),
        ("post", reverse("assets:overlap_refresh"), {}),
        ("post", reverse("assets:asset_group_delete", args=[group.pk]), {}),
        ("post", reverse("assets:tag_delete", args=[tag.pk]), {}),
    ]


def test_writes_need_login(client, two_networks):
    for method, url, data in _write_requests(two_networks):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert not Tag.objects.filter(name="new").exists()


def test_reader_may_not_write(client_as, two_networks):
    client = client_as("reader")
    for method, url, data in _write_requests(two_networks):
        assert getattr(client, method)(url, data).status_code == 403, url
    assert not Tag.objects.filter(name__in=["new", "renamed"]).exists()
    assert AssetGroup.objects.filter(title="Servers").exists()
    assert not two_networks[2].tags.exists()


@pytest.mark.parametrize("role", ["scanner", "manager"])
def test_scanner_and_manager_write(client_as, role, two_networks):
    client = client_as(role)
    for method, url, data in _write_requests(two_networks):
        assert getattr(client, method)(url, data).status_code in (200, 302), url
    assert Tag.objects.filter(name="new").exists()
    assert AssetGroup.objects.filter(title="T").exists()
    assert not AssetGroup.objects.filter(title__in=["Servers", "T2"]).exists()  # deleted


def test_same_ip_in_two_networks_shows_separate_host_pages(client_as, two_networks):
    acme, globex, a, b = two_networks
    client = client_as("reader")
    page_a, page_b = _host_page(client, a), _host_page(client, b)
    assert "web.acme.test" in page_a and "db.globex.test" not in page_a
    assert "db.globex.test" in page_b and "web.acme.test" not in page_b
    assert "Weak TLS" in page_a and "Telnet open" not in page_a
    assert "Telnet open" in page_b and "Weak TLS" not in page_b
    assert "TLSv1.0 accepted" in page_a  # the detection's evidence
    assert "443/tcp" in page_a
    # Each links to the other network's host with the same IP.
    assert "The same IP also exists in" in page_a
    assert f'href="{b.get_absolute_url()}">Globex' in page_a
    assert f'href="{a.get_absolute_url()}">Acme' in page_b


def _host_page(client, host) -> str:
    """The host page as a browser shows it: the page, and the findings fragment
    (served by scans) that it loads into ``#host-findings``."""
    page = client.get(reverse("assets:host_detail", args=[host.pk])).content.decode()
    findings_url = reverse("scans:host_detections", args=[host.pk])
    assert f'hx-get="{findings_url}"' in page and f'href="{findings_url}"' in page
    fragment = client.get(findings_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment  # only the partial
    return page + fragment


def test_findings_grouped_by_severity_most_severe_first(client_as, two_networks):
    a = two_networks[2]
    DetectionFactory(host=a, vulnerability=VulnerabilityFactory(qid=990003, severity=1))
    page = _host_page(client_as("reader"), a)
    assert page.index("sev-group-4") < page.index("sev-group-1")
    # Each group is headed by its badge and its word, the number said once.
    assert '<span class="sev sev-1">1</span> Minimal <small' in page


def test_host_findings_without_javascript_are_a_page(client_as, two_networks):
    a = two_networks[2]
    page = client_as("reader").get(reverse("scans:host_detections", args=[a.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html
    assert "Weak TLS" in html and "TLSv1.0 accepted" in html


def test_host_list_shows_networks_with_counts_and_expands(client_as, two_networks):
    acme, globex, a, b = two_networks
    Network.objects.filter(pk=acme.pk).update(open_findings={"4": 7, "3": 1234567})
    client = client_as("reader")
    page = client.get(reverse("assets:host_list")).content.decode()
    assert "Acme" in page and "Globex" in page and "Global Default Network" in page
    assert "1,234,567" in page  # counts read like the host counts beside them
    assert f'hx-get="{reverse("assets:network_hosts", args=[acme.pk])}"' in page
    assert "web.acme.test" not in page  # closed until asked
    # Without JavaScript: ?open= renders the expansion in place.
    opened = client.get(reverse("assets:host_list"), {"open": acme.pk}).content.decode()
    assert "web.acme.test" in opened and "db.globex.test" not in opened
    # With htmx: only the partial.
    partial = client.get(
        reverse("assets:network_hosts", args=[globex.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert partial.lstrip().startswith(f'<div id="network-{globex.pk}-hosts"')
    assert "db.globex.test" in partial and "<html" not in partial


def test_network_hosts_sorted_numerically_and_filtered(client_as):
    net = NetworkFactory(name="Lab", space="10.0.0.0/24")
    for ip in ("10.0.0.10", "10.0.0.9", "10.0.0.100"):
        HostFactory(network=net, ip=ip, os="Linux" if ip != "10.0.0.9" else "Windows")
    tag = TagFactory(name="dmz")
    HostFactory(network=net, ip="10.0.0.2", dns="tagged.lab").tags.add(tag)
    client = client_as("reader")
    url = reverse("assets:network_hosts", args=[net.pk])
    page = client.get(url).content.decode()
    assert page.index("10.0.0.2<") < page.index("10.0.0.9<") < page.index("10.0.0.10<")
    assert page.index("10.0.0.10<") < page.index("10.0.0.100<")
    assert "10.0.0.9<" not in client.get(url, {"os": "linux"}).content.decode()
    ranged = client.get(url, {"range": "10.0.0.9-10.0.0.10"}).content.decode()
    assert "10.0.0.9<" in ranged and "10.0.0.100<" not in ranged
    tagged = client.get(url, {"tag": tag.pk}).content.decode()
    assert "tagged.lab" in tagged and "10.0.0.9<" not in tagged
    assert "10.0.0.10<" in client.get(url, {"ip": "10.0.0.10"}).content.decode()


def test_bad_ip_filter_shows_error_and_no_rows(client_as):
    net = NetworkFactory(name="Lab", space="10.0.0.0/24")
    HostFactory(network=net, ip="10.0.0.1")
    client = client_as("reader")
    url = reverse("assets:network_hosts", args=[net.pk])
    for params in ({"ip": "10.0.0.300"}, {"range": "10.0.0.1-banana"}):
        response = client.get(url, params)
        assert response.status_code == 200
        page = response.content.decode()
        assert "is not an IP address" in page and "10.0.0.1<" not in page
    # A cursor that is not an IP is ignored (first page), not a crash.
    assert client.get(url, {"after": "nope"}).status_code == 200


def test_keyset_next_link_reaches_deep_pages(client_as):
    net = NetworkFactory(name="Lab", space="10.0.0.0/16")
    for i in range(120):
        HostFactory(network=net, ip=f"10.0.{i // 100}.{i % 100}")
    client = client_as("reader")
    url = reverse("assets:network_hosts", args=[net.pk])
    page = client.get(url, {"os": ""}).content.decode()
    assert "10.0.0.49<" in page and "10.0.0.50<" not in page
    page2 = client.get(url, {"after": "10.0.0.49"}).content.decode()
    assert "10.0.0.50<" in page2 and "10.0.0.99<" in page2 and "10.0.1.0<" not in page2
    assert "after=10.0.0.99" in page2 and "before=10.0.0.50" in page2


def test_host_pages_have_bounded_queries(client_as, django_assert_max_num_queries):
    nets = [NetworkFactory(space="10.0.0.0/16") for _ in range(5)]
    tag = TagFactory()
    for net in nets:
        for i in range(60):
            HostFactory(network=net, ip=f"10.0.0.{i}").tags.add(tag)
    host = HostFactory(network=nets[0], ip="10.0.1.1")
    for qid in range(5):
        DetectionFactory(host=host, vulnerability=VulnerabilityFactory(qid=990010 + qid))
    client = client_as("scanner")
    with django_assert_max_num_queries(8):
        client.get(reverse("assets:host_list"))
    # A host table adds one query for its page's open findings by severity.
    with django_assert_max_num_queries(14):
        client.get(reverse("assets:host_list"), {"open": [n.pk for n in nets[:2]]})
    with django_assert_max_num_queries(11):
        client.get(reverse("assets:network_hosts", args=[nets[0].pk]), {"after": "10.0.0.5"})
    with django_assert_max_num_queries(10):
        client.get(reverse("assets:host_detail", args=[host.pk]))
    with django_assert_max_num_queries(8):
        client.get(reverse("scans:host_detections", args=[host.pk]), HTTP_HX_REQUEST="true")
    with django_assert_max_num_queries(8):
        client.get(reverse("assets:overlap_list"))  # live pairs
    services.overlaps_refresh()
    with django_assert_max_num_queries(8):
        client.get(reverse("assets:overlap_list"))  # stored figures
    with django_assert_max_num_queries(8):
        client.get(reverse("assets:tag_list"))
    group = AssetGroupFactory(network=nets[0])
    with django_assert_max_num_queries(8):
        client.get(reverse("assets:asset_group_list"))
    with django_assert_max_num_queries(11):
        client.get(reverse("assets:asset_group_detail", args=[group.pk]))


# --- Asset group forms ---------------------------------------------------------------


def test_asset_group_form_shows_network_read_only_and_ignores_a_posted_one(client_as):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/16")
    client = client_as("scanner")
    response = client.post(
        reverse("assets:asset_group_create"),
        {"title": "Web", "network": acme.pk, "ips": "10.0.0.1-10.0.0.20"},
    )
    group = AssetGroup.objects.get(title="Web")
    assert response.status_code == 302 and group.network == acme
    form = client.get(reverse("assets:asset_group_update", args=[group.pk])).content.decode()
    assert 'name="network"' in form and "disabled" in form.split('name="network"')[1][:200]
    client.post(
        reverse("assets:asset_group_update", args=[group.pk]),
        {"title": "Web", "network": globex.pk, "ips": "10.0.0.1"},
    )
    group.refresh_from_db()
    assert group.network == acme and group.ips == "10.0.0.1"


def test_asset_group_form_names_out_of_space_ranges(client_as):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    response = client_as("manager").post(
        reverse("assets:asset_group_create"),
        {"title": "Web", "network": acme.pk, "ips": "10.0.0.1, 10.9.0.1-10.9.0.5"},
    )
    assert response.status_code == 200
    assert (
        "&#x27;10.9.0.1-10.9.0.5&#x27; is outside the address space of network Acme"
        in response.content.decode()
    )
    assert not AssetGroup.objects.exists()


@override_settings(ENCLAVE_NETWORKS_ENABLED=False)
def test_networks_off_forces_global_default(client_as):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    client = client_as("scanner")
    page = client.get(reverse("assets:host_list")).content.decode()
    assert "Global Default Network" in page and "Acme" not in page
    client.post(
        reverse("assets:asset_group_create"),
        {"title": "Anything", "network": acme.pk, "ips": "8.8.8.8"},
    )
    assert AssetGroup.objects.get(title="Anything").network.kind == "global_default"
    assert client.get(reverse("assets:network_hosts", args=[acme.pk])).status_code == 404
    assert client.get(reverse("assets:overlap_list")).status_code == 404


def test_bulk_tag_from_host_table(client_as, two_networks):
    acme, globex, a, b = two_networks
    tag = TagFactory(name="pci")
    client = client_as("scanner")
    back = f"{reverse('assets:host_list')}?open={acme.pk}"
    response = client.post(
        reverse("assets:host_tags"),
        {"tag": tag.pk, "hosts": [a.pk, b.pk], "action": "assign", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert set(tag.hosts.all()) == {a, b}
    client.post(
        reverse("assets:host_tags"),
        {"tag": tag.pk, "hosts": [b.pk], "action": "remove", "next": "https://evil.example/"},
    )
    assert list(tag.hosts.all()) == [a]
    # Nothing ticked: a message, no change, no error page.
    response = client.post(
        reverse("assets:host_tags"), {"tag": tag.pk, "action": "assign"}, follow=True
    )
    assert "Select at least one host." in response.content.decode()


def test_overlap_page_lists_pairs_ranges_and_hosts_in_both(client_as, two_networks):
    services.overlaps_refresh()
    page = client_as("reader").get(reverse("assets:overlap_list")).content.decode()
    assert "Acme" in page and "Globex" in page and "10.0.0.0/24" in page
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*10\.0\.0\.0/24.*?</tr>", page, re.S).group(0)
    assert re.search(r"<td[^>]*>1</td>", row), row


def test_networks_tab_loads_the_overlap_section(client_as, two_networks):
    services.overlaps_refresh()
    client = client_as("reader")
    page = client.get(reverse("networks:network_list")).content.decode()
    assert f'hx-get="{reverse("assets:overlap_list")}"' in page
    assert f'href="{reverse("assets:overlap_list")}"' in page  # works without JavaScript
    partial = client.get(reverse("assets:overlap_list"), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="overlaps-panel">') and "<html" not in partial
    assert "10.0.0.0/24" in partial


def test_search_matches_dns_netbios_os_and_partial_ip_in_ip_order(client_as):
    net = NetworkFactory(name="Lab", space="10.0.0.0/16")
    HostFactory(network=net, ip="10.0.0.10", dns="Mail.lab", os="Debian")
    HostFactory(network=net, ip="10.0.0.9", netbios="MAILSRV", os="Windows Server")
    HostFactory(network=net, ip="10.0.1.1", dns="www.lab", os="windows 11")
    client = client_as("reader")
    url = reverse("assets:network_hosts", args=[net.pk])
    mail = client.get(url, {"q": "mail"}).content.decode()
    assert mail.index("10.0.0.9<") < mail.index("10.0.0.10<") and "10.0.1.1<" not in mail
    windows = client.get(url, {"os": "WINDOWS"}).content.decode()
    assert "10.0.0.9<" in windows and "10.0.1.1<" in windows and "10.0.0.10<" not in windows
    partial = client.get(url, {"q": "10.0.1."}).content.decode()
    assert "10.0.1.1<" in partial and "10.0.0.9<" not in partial
    exact = client.get(url, {"q": "10.0.0.9"}).content.decode()
    assert "10.0.0.9<" in exact and "10.0.0.10<" not in exact
