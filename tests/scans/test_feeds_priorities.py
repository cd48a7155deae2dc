"""Prioritisation from the feeds: known exploited (CISA KEV) and EPSS on the
Vulnerabilities list and its filters (page, API, CSV), host findings and the KB."""

import csv
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.results import HostResult, Service, SliceResult
from scans import services

from . import feed_samples as samples

pytestmark = pytest.mark.django_db


def service(port, product, version, cpe):
    return Service(port=port, protocol="tcp", product=product, version=version, cpes=[cpe])


@pytest.fixture
def estate(lab, online, sent, tmp_path):
    """One host with Apache 2.4.49 (CVE-2021-41773: KEV, EPSS 0.97), nginx 1.18.0
    (CVE-2021-23017: EPSS 0.60) and OpenSSH 9.6p1 (CVE-2024-6387: EPSS 0.94),
    matched by the NVD feed; KEV and EPSS imported too."""
    online("lab-a")
    launched = services.scan_launch(
        actor=None, title="t", type="vulnerability", network=lab, targets="127.0.0.2"
    )
    piece = launched.slices.get()
    host = HostResult(
        ip="127.0.0.2",
        services=[
            service(80, "Apache httpd", "2.4.49", "cpe:/a:apache:http_server:2.4.49"),
            service(8080, "nginx", "1.18.0", "cpe:/a:igor_sysoev:nginx:1.18.0"),
            service(22, "OpenSSH", "9.6p1", "cpe:/a:openbsd:openssh:9.6p1"),
        ],
    )
    services.slice_ingest(
        result=SliceResult(launched.pk, piece.pk, piece.appliance.name, "", "", hosts=[host])
    )
    files = [
        samples.write(tmp_path / "nvd.json", samples.nvd_bytes()),
        samples.write(tmp_path / "kev.json", samples.kev_bytes()),
        samples.write(tmp_path / "epss.csv", samples.epss_bytes()),
    ]
    call_command("kb_import", *map(str, files), stdout=StringIO())
    return lab


def cves(api, **params) -> set[str]:
    rows = api.get("/api/v1/vulnerabilities/", params).json()["results"]
    return {row["title"].split(":")[0] for row in rows}


def test_api_filters_known_exploited_epss_and_cve(api_as, estate):
    api = api_as("reader")
    assert cves(api) == {"CVE-2021-41773", "CVE-2021-23017", "CVE-2024-6387"}
    assert cves(api, known_exploited="true") == {"CVE-2021-41773"}
    assert cves(api, known_exploited="false") == cves(api)
    assert cves(api, known_exploited="1") == {"CVE-2021-41773"}
    # Another word is neither: refused, not read as "yes".
    refused = api.get("/api/v1/vulnerabilities/", {"known_exploited": "-58800"})
    assert refused.status_code == 400 and "is not true or false" in str(refused.json())
    assert cves(api, epss_min="0.9") == {"CVE-2021-41773", "CVE-2024-6387"}
    assert cves(api, epss_min="0.95") == {"CVE-2021-41773"}
    assert cves(api, cve="cve-2021-23017") == {"CVE-2021-23017"}
    row = api.get("/api/v1/vulnerabilities/", {"known_exploited": "true"}).json()["results"][0]
    assert row["known_exploited"] is True and row["kev_due_date"] == "2021-11-17"
    assert row["epss"] == pytest.approx(0.97471)
    refused = api.get("/api/v1/vulnerabilities/", {"epss_min": "2"})
    assert refused.status_code == 400 and "epss_min" in refused.json()


def test_the_page_csv_host_findings_and_kb_show_exploitation(client_as, estate):
    client = client_as("reader")
    page = client.get(reverse("insights:vulnerability_list"), {"known_exploited": "on"})
    html = page.content.decode()
    assert "Known exploited only" in html and "CVE-2021-41773" in html
    assert "CVE-2024-6387" not in html.split('id="results"')[1]
    export = client.get(reverse("insights:vulnerability_export"), {"epss_min": "0.9"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    by_cve = {r["CVEs"]: r for r in rows}
    assert set(by_cve) == {"CVE-2021-41773", "CVE-2024-6387"}
    assert by_cve["CVE-2021-41773"]["Known exploited (CISA KEV)"] == "yes"
    assert by_cve["CVE-2021-41773"]["KEV due date"] == "2021-11-17"
    assert by_cve["CVE-2024-6387"]["EPSS"] == "0.94406"
    assert by_cve["CVE-2024-6387"]["Known exploited (CISA KEV)"] == ""

    from scans.models import Detection

    detection = Detection.objects.get(vulnerability__external_id="CVE-2021-41773")
    fragment = client.get(
        reverse("scans:host_detections", args=[detection.host_id]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Known exploited" in fragment and "EPSS 0.97" in fragment
    kb = client.get(reverse("scans:kb_detail", args=[detection.vulnerability_id])).content
    assert b"remediation due 2021-11-17" in kb


def test_the_dashboards_top_vulnerabilities_sort_by_known_exploited_and_epss(client_as, estate):
    from insights.services import trends_snapshot

    trends_snapshot(network=estate)
    client = client_as("reader")

    def top(order):
        html = client.get(reverse("insights:dashboard"), {"top": order}).content.decode()
        tile = html.split("Top vulnerabilities by")[1].split("</table>")[0]
        return [c for c in ("CVE-2021-41773", "CVE-2024-6387", "CVE-2021-23017") if c in tile], tile

    found, tile = top("exploited")
    assert found == ["CVE-2021-41773"] and "known exploited" in tile
    found, tile = top("epss")
    assert sorted(found, key=tile.index) == ["CVE-2021-41773", "CVE-2024-6387", "CVE-2021-23017"]
    assert len(top("hosts")[0]) == 3 and len(top("nonsense")[0]) == 3
