"""The service inventory: nmap's service facts per host and port, kept by ingest,
shown on the host page and in hosts/{id}/."""

from pathlib import Path

import pytest
from django.urls import reverse

from core.results import HostResult, Service, SliceResult
from scans import services
from scans.engine import nmap
from scans.models import HostService

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).parent / "samples"


def test_nmap_parser_reads_the_cpes_of_each_service():
    hosts = nmap.parse_xml((SAMPLES / "nmap_services.xml").read_text())
    by_product = {s.product: s for s in hosts[0].services}
    assert by_product["OpenSSH"].cpes == ["cpe:/a:openbsd:openssh:7.4"]
    assert by_product["vsftpd"].cpes == ["cpe:/a:vsftpd:vsftpd:2.3.4"]


def test_a_service_result_from_an_older_appliance_without_cpes_still_reads():
    data = SliceResult(1, 2, "a", "", "", hosts=[HostResult(ip="127.0.0.2")]).to_dict()
    data["hosts"][0]["services"] = [{"port": 22, "protocol": "tcp", "product": "OpenSSH"}]
    service = SliceResult.from_dict(data).hosts[0].services[0]
    assert service.cpes == [] and service.banner == ""


def ssh(version="7.4p1", banner="SSH-2.0-OpenSSH_7.4"):
    return Service(
        port=22,
        protocol="tcp",
        name="ssh",
        product="OpenSSH",
        version=version,
        extrainfo="protocol 2.0",
        cpes=[f"cpe:/a:openbsd:openssh:{version}"],
        banner=banner,
    )


def http(server="<script>alert(1)</script>"):
    return Service(
        port=80,
        protocol="tcp",
        name="http",
        product="nginx",
        version="1.18.0",
        banner=f"Server: {server}",
    )


def scan(lab, *hosts):
    launched = services.scan_launch(
        actor=None, title="t", type="vulnerability", network=lab, targets="127.0.0.1-127.0.0.4"
    )
    piece = launched.slices.get()
    result = SliceResult(launched.pk, piece.pk, piece.appliance.name, "", "", hosts=list(hosts))
    services.slice_ingest(result=result)


def inventory(lab):
    return {
        (s.host.ip, s.port, s.protocol): (s.product, s.version, s.extra, s.cpes, s.banner)
        for s in HostService.objects.filter(network=lab).select_related("host")
    }


def test_ingest_keeps_each_hosts_services_and_replaces_them_with_the_next_scans(
    lab, online, sent, kb
):
    online("lab-a")
    scan(
        lab,
        HostResult(ip="127.0.0.2", services=[ssh(), http()]),
        HostResult(ip="127.0.0.3", services=[ssh()]),
    )
    assert inventory(lab) == {
        ("127.0.0.2", 22, "tcp"): (
            "OpenSSH",
            "7.4p1",
            "protocol 2.0",
            ["cpe:/a:openbsd:openssh:7.4p1"],
            "SSH-2.0-OpenSSH_7.4",
        ),
        ("127.0.0.2", 80, "tcp"): ("nginx", "1.18.0", "", [], "Server: <script>alert(1)</script>"),
        ("127.0.0.3", 22, "tcp"): (
            "OpenSSH",
            "7.4p1",
            "protocol 2.0",
            ["cpe:/a:openbsd:openssh:7.4p1"],
            "SSH-2.0-OpenSSH_7.4",
        ),
    }
    first_seen = HostService.objects.get(host__ip="127.0.0.2", port=22).first_seen
    # Upgraded SSH, port 80 closed; .3 reported without services keeps its inventory.
    scan(
        lab,
        HostResult(ip="127.0.0.2", services=[ssh("9.8p1", "SSH-2.0-OpenSSH_9.8")]),
        HostResult(ip="127.0.0.3"),
    )
    now = inventory(lab)
    assert set(now) == {("127.0.0.2", 22, "tcp"), ("127.0.0.3", 22, "tcp")}
    assert now[("127.0.0.2", 22, "tcp")][1] == "9.8p1"
    assert now[("127.0.0.3", 22, "tcp")][1] == "7.4p1"
    kept = HostService.objects.get(host__ip="127.0.0.2", port=22)
    assert kept.first_seen == first_seen and kept.last_seen > first_seen


def test_the_host_page_and_the_api_show_the_inventory_escaped(
    lab, online, sent, kb, client_as, api_as
):
    online("lab-a")
    scan(lab, HostResult(ip="127.0.0.2", services=[ssh(), http()]))
    host = HostService.objects.filter(port=80).get().host
    fragment = (
        client_as("reader")
        .get(reverse("scans:host_detections", args=[host.pk]), HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "cpe:/a:openbsd:openssh:7.4p1" in fragment and "SSH-2.0-OpenSSH_7.4" in fragment
    assert "<script>alert(1)" not in fragment and "&lt;script&gt;alert(1)" in fragment
    data = api_as("reader").get(f"/api/v1/hosts/{host.pk}/").json()
    assert [(s["port"], s["product"], s["version"], s["cpes"]) for s in data["services"]] == [
        (22, "OpenSSH", "7.4p1", ["cpe:/a:openbsd:openssh:7.4p1"]),
        (80, "nginx", "1.18.0", []),
    ]
