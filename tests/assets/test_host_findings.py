"""Host tables show each host's open findings by severity, with the words: one
grouped query per page of hosts (the detections are the scans app's)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scans.models import DetectionStatus
from tests.factories import DetectionFactory, HostFactory, NetworkFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db


def cells(html: str, ip: str) -> list[str]:
    row = re.search(rf">{re.escape(ip)}</a></td>(.*?)</tr>", html, re.S).group(1)
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[-5:]  # the five severities, 5 first


def test_each_host_shows_its_open_findings_by_severity(client_as):
    net = NetworkFactory(name="Acme", space="10.0.0.0/24")
    twin = NetworkFactory(name="Twin", space="10.0.0.0/24")
    web, db = HostFactory(network=net, ip="10.0.0.5"), HostFactory(network=net, ip="10.0.0.6")
    urgent, serious, low = (VulnerabilityFactory(qid=q, severity=s) for q, s in
                            ((991005, 5), (991003, 3), (991001, 1)))  # fmt: skip
    DetectionFactory(host=web, vulnerability=urgent)
    DetectionFactory(host=web, vulnerability=serious, port=80)
    DetectionFactory(host=web, vulnerability=serious, port=443, status=DetectionStatus.REOPENED)
    DetectionFactory(host=web, vulnerability=low, status=DetectionStatus.FIXED)  # not open
    DetectionFactory(host=db, vulnerability=low, status=DetectionStatus.ACTIVE)
    # The same address in another network is another host.
    DetectionFactory(host=HostFactory(network=twin, ip="10.0.0.6"), vulnerability=urgent)
    html = client_as("reader").get(reverse("assets:network_hosts", args=[net.pk])).content.decode()
    assert '<span class="sev sev-5">5 Urgent</span>' in html  # the column says which
    assert cells(html, "10.0.0.5") == ["1", "—", "2", "—", "—"]
    assert cells(html, "10.0.0.6") == ["—", "—", "—", "—", "1"]


def test_one_query_for_the_findings_of_a_page_whatever_its_size(client_as):
    def queries(hosts: int) -> int:
        net = NetworkFactory(space="10.1.0.0/16")
        vuln = VulnerabilityFactory()
        for n in range(hosts):
            DetectionFactory(host=HostFactory(network=net, ip=f"10.1.{n // 250}.{n % 250 + 1}"),
                             vulnerability=vuln)  # fmt: skip
        client = client_as("reader")
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("assets:network_hosts", args=[net.pk]))
        detections = [q for q in ctx.captured_queries if "scans_detection" in q["sql"]]
        assert len(detections) == 1
        return len(ctx.captured_queries)

    assert queries(3) == queries(45)
