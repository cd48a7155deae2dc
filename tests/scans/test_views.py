"""Pages of the Scans tab: the role matrix, launch and cancel, htmx partials, query budgets."""

import pytest
from django.urls import reverse
from django.utils import timezone

from scans import services
from scans.models import OptionProfile, Scan, ScanStatus
from tests.factories import ApplianceFactory, AssetGroupFactory, NetworkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scan(lab, online, sent):
    online("lab-a")
    return services.scan_launch(
        actor=None, title="Weekly", type="vulnerability", network=lab, targets="127.0.0.1"
    )


def pages(scan, kb):
    profile = services.option_profile_default()
    return [
        reverse("scans:scan_list"),
        reverse("scans:scan_detail", args=[scan.pk]),
        reverse("scans:scan_results", args=[scan.pk]),
        reverse("scans:option_profile_list"),
        reverse("scans:kb_list"),
        reverse("scans:kb_detail", args=[kb["cert"].qid]),
    ], [
        reverse("scans:scan_create"),
        reverse("scans:option_profile_create"),
        reverse("scans:option_profile_update", args=[profile.pk]),
    ]


def test_anonymous_users_are_sent_to_login(client, scan, kb):
    readable, writable = pages(scan, kb)
    for url in [*readable, *writable]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    response = client.post(reverse("scans:scan_cancel", args=[scan.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("reader", 200, 403), ("scanner", 200, 200), ("manager", 200, 200)],
)
def test_role_matrix(client_as, scan, kb, role, read, write):
    client = client_as(role)
    readable, writable = pages(scan, kb)
    for url in readable:
        assert client.get(url).status_code == read, url
    for url in writable:
        assert client.get(url).status_code == write, url


def test_reader_cannot_launch_or_cancel(client_as, lab, scan):
    client = client_as("reader")
    response = client.post(
        reverse("scans:scan_create"),
        {"title": "x", "type": "discovery", "network": lab.pk, "targets": "127.0.0.1"},
    )
    assert response.status_code == 403
    assert client.post(reverse("scans:scan_cancel", args=[scan.pk])).status_code == 403
    scan.refresh_from_db()
    assert scan.status == ScanStatus.QUEUED and Scan.objects.count() == 1


def test_scanner_launches_from_the_form_and_is_sent_to_the_scan(client_as, lab, online, sent):
    online("lab-a")
    response = client_as("scanner").post(
        reverse("scans:scan_create"),
        {
            "title": "From the form",
            "type": "discovery",
            "network": lab.pk,
            "appliance": "",
            "targets": "127.0.0.1-127.0.0.3",
            "option_profile": services.option_profile_default().pk,
        },
    )
    scan = Scan.objects.get(title="From the form")
    assert response.status_code == 302 and response["Location"] == scan.get_absolute_url()
    assert scan.hosts_total == 3 and scan.launched_by.username == "scanner-user"


def test_form_shows_the_services_refusals_by_field(client_as, lab, sent):
    other = NetworkFactory(name="Other", space="127.0.0.0/8")
    theirs = ApplianceFactory(name="theirs", network=other, last_seen=timezone.now())
    group = AssetGroupFactory(network=other, title="Their group")
    response = client_as("scanner").post(
        reverse("scans:scan_create"),
        {
            "title": "Bad",
            "type": "vulnerability",
            "network": lab.pk,
            "appliance": theirs.pk,
            "asset_groups": [group.pk],
            "targets": "10.1.2.3",
            "option_profile": services.option_profile_default().pk,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "belongs to network 'Other'" in errors["appliance"][0]
    assert "Their group" in errors["asset_groups"][0]
    assert not Scan.objects.exists()


def test_scanner_choices_follow_the_network_over_htmx(client_as, lab, online):
    online("lab-a")
    other = NetworkFactory(name="Other")
    ApplianceFactory(name="elsewhere", network=other)
    response = client_as("scanner").get(
        reverse("scans:scan_create"),
        {"network": lab.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="network-fields",
    )
    html = response.content.decode()
    assert "All Scanners in Network" in html and "lab-a" in html
    assert "elsewhere" not in html and "<form" not in html  # the partial only


def test_scanner_cancels(client_as, scan, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("scanner").post(reverse("scans:scan_cancel", args=[scan.pk]))
    assert response.status_code == 302
    scan.refresh_from_db()
    assert scan.status == ScanStatus.CANCELED


def test_detail_progress_partial_for_htmx(client_as, scan):
    response = client_as("reader").get(
        reverse("scans:scan_detail", args=[scan.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "0 of 1" in html and "<html" not in html


def test_waiting_scan_says_why_on_its_page(client_as, lab, sent):
    scan = services.scan_launch(
        actor=None, title="Waits", type="discovery", network=lab, targets="127.0.0.1"
    )
    html = client_as("reader").get(scan.get_absolute_url()).content.decode()
    assert "no scanner appliance of network" in html


def test_scan_list_query_budget(client_as, lab, online, sent, django_assert_max_num_queries):
    online("lab-a")
    for n in range(30):
        services.scan_launch(
            actor=None, title=f"s{n}", type="discovery", network=lab, targets="127.0.0.1"
        )
    client = client_as("reader")
    with django_assert_max_num_queries(12):
        response = client.get(reverse("scans:scan_list"))
    assert response.status_code == 200 and "s29" in response.content.decode()


def test_results_page_lists_hosts_and_severities(
    client_as, lab, online, sent, kb, django_assert_max_num_queries
):
    from core.results import Finding, HostResult, SliceResult

    online("lab-a")
    scan = services.scan_launch(
        actor=None, title="R", type="vulnerability", network=lab, targets="127.0.0.0/28"
    )
    piece = scan.slices.get()
    hosts = [
        HostResult(ip=f"127.0.0.{i}", findings=[Finding(qid=938001, port=8443, protocol="tcp")])
        for i in range(1, 15)
    ]
    services.slice_ingest(
        result=SliceResult(scan.pk, piece.pk, "lab-a", "", "", hosts=hosts, addresses_probed=16)
    )
    client = client_as("reader")
    with django_assert_max_num_queries(12):
        html = client.get(reverse("scans:scan_results", args=[scan.pk])).content.decode()
    assert "127.0.0.14" in html and "Lab" in html


def test_option_profile_form_refuses_bad_ports(client_as):
    response = client_as("scanner").post(
        reverse("scans:option_profile_create"),
        {
            "name": "Bad ports",
            "tcp_port_set": "custom",
            "tcp_ports": "22,80-70,99999",
            "max_parallel_hosts": 4,
            "host_timeout": 60,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["tcp_ports"]
    assert "'80-70' ends before it starts" in errors and "'99999' is outside 1-65535" in errors
    assert not OptionProfile.objects.filter(name="Bad ports").exists()


def test_kb_search(client_as, kb):
    html = client_as("reader").get(reverse("scans:kb_list"), {"q": "938002"}).content.decode()
    assert "938002" in html and "938001" not in html


def test_kb_list_shows_each_severity_in_its_colour_with_its_word(client_as, kb):
    html = client_as("reader").get(reverse("scans:kb_list")).content.decode()
    assert '<span class="sev sev-3">3 Serious</span>' in html
    assert '<span class="sev sev-2">2 Medium</span>' in html
    assert '<span class="sev sev-1">1 Minimal</span>' in html
    assert "sev-0" not in html and ">CVSS<" in html
    entry = client_as("reader").get(reverse("scans:kb_detail", args=[938002])).content.decode()
    assert '<dt>Severity</dt><dd><span class="sev sev-3">3 Serious</span></dd>' in entry


def test_with_network_support_off_scans_act_on_global_default(
    client_as, api_as, online, sent, settings
):
    from networks.models import Network

    settings.ENCLAVE_NETWORKS_ENABLED = False
    default = Network.objects.global_default()
    online("gd-1", network=default)
    client = client_as("scanner")
    form = client.get(reverse("scans:scan_create")).content.decode()
    assert f'<input type="hidden" name="network" value="{default.pk}">' in form
    assert '<select name="network"' not in form and "gd-1" in form
    response = client.post(
        reverse("scans:scan_create"),
        {
            "title": "No networks",
            "type": "discovery",
            "network": default.pk,
            "targets": "10.9.0.1",
            "option_profile": services.option_profile_default().pk,
        },
    )
    assert response.status_code == 302
    payload = {"title": "API", "type": "discovery", "targets": "10.9.0.2"}
    body = api_as("scanner").post("/api/v1/scans/", payload, format="json")
    assert body.status_code == 201, body.json()
    assert body.json()["network_name"] == default.name
    assert set(Scan.objects.values_list("network_id", flat=True)) == {default.pk}


def test_without_a_network_the_api_says_it_is_required(api_as, lab):
    payload = {"title": "API", "type": "discovery", "targets": "127.0.0.1"}
    body = api_as("scanner").post("/api/v1/scans/", payload, format="json")
    assert body.status_code == 400 and body.json()["network"] == ["This field is required."]
