"""A Reader in Paris walks the console in a real browser: dashboard -> the top
vulnerability's affected hosts (Vulnerabilities) -> one host -> its KB entry,
reading on each page what they came for, times in their zone. Set
ENCLAVE_SHOTS=/some/dir to keep screenshots."""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets.models import Connector, ConnectorRun
from insights import services
from networks.services import network_counters_set
from scans.models import Scan, ScanImport
from tests.factories import (
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    UserFactory,
    VulnerabilityFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WINTER = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def shot(page, name):
    folder = os.environ.get("ENCLAVE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def exposure():
    """10.0.0.5 in two overlapping networks, both open to the same weak TLS."""
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/16")
    a = HostFactory(network=acme, ip="10.0.0.5", dns="web.acme.test", last_scanned=WINTER)
    b = HostFactory(network=globex, ip="10.0.0.5", dns="db.globex.test", last_scanned=WINTER)
    tls = VulnerabilityFactory(
        qid=992001,
        severity=4,
        title="Weak TLS protocols (POODLE)",
        cves=["CVE-2014-3566"],
        solution="Disable SSLv3 and TLS 1.0 on the service.",
    )
    telnet = VulnerabilityFactory(qid=992002, severity=5, title="Telnet service open")
    for host in (a, b):
        DetectionFactory(host=host, vulnerability=tls, port=443, protocol="tcp", first_found=WINTER)
    DetectionFactory(host=b, vulnerability=telnet, port=23, protocol="tcp", first_found=WINTER)
    network_counters_set(network_id=acme.pk, hosts=1, open_findings={"4": 1})
    network_counters_set(network_id=globex.pk, hosts=1, open_findings={"5": 1, "4": 1})
    for network in (acme, globex):
        services.trends_snapshot(network=network)
    scan = Scan.objects.create(
        title="acme.nessus", kind="import", type="vulnerability", network=acme, status="finished"
    )
    ScanImport.objects.create(
        scan=scan, format="nessus", filename="acme-weekly.nessus", size=1, sha256="0" * 64
    )
    connector = Connector.objects.create(name="aws-prod", kind="aws_ec2", scopes=["eu-west-1"])
    connector.last_run = ConnectorRun.objects.create(
        connector=connector, status="finished", counts={"seen": 4, "new": 1}
    )
    connector.save(update_fields=["last_run"])
    return acme, globex, a, b, tls


def current_link(page) -> str:
    return page.inner_text("nav.subnav [aria-current=page]")


def test_dashboard_to_vulnerability_to_host_to_kb_entry(page, login, exposure):
    acme, globex, a, b, tls = exposure
    login(UserFactory(username="paul", role="reader", timezone="Europe/Paris"))

    # The landing page: the top vulnerability, on both hosts.
    page.wait_for_url("**/dashboard/")
    assert current_link(page) == "Dashboard"
    top = page.locator("section.tile", has_text="Top vulnerabilities by affected hosts")
    row = top.locator("tbody tr").first
    assert "Weak TLS protocols (POODLE)" in row.inner_text()
    assert row.locator("td").nth(3).inner_text() == "2"  # QID, title, exploitation, hosts
    runs = page.inner_text("main")
    assert "acme-weekly.nessus" in runs and "aws-prod" not in runs  # Readers: imports only
    assert page.locator("#connectors-tile").count() == 0
    shot(page, "1_dashboard")

    # Its affected hosts: one row per network, the same IP twice.
    row.locator("td").nth(3).locator("a").click()
    page.wait_for_url(re.compile(r"/vulnerabilities/\?qid=992001"))
    assert current_link(page) == "Vulnerabilities"
    table = page.inner_text("main table")
    assert "10.0.0.5 · Acme" in table and "10.0.0.5 · Globex" in table
    assert "Telnet service open" not in table
    assert "2026-12-01 09:30 CET" in table  # first found, in Paris
    shot(page, "2_vulnerabilities")

    # One of them: the host in Globex, with its findings (an htmx fragment).
    page.click("text=10.0.0.5 · Globex")
    page.wait_for_url(f"**{b.get_absolute_url()}")
    assert current_link(page) == "Host Assets"
    head = page.inner_text("main h1")
    assert "10.0.0.5" in head and "Globex" in head
    page.wait_for_selector("#host-findings table.detections")
    findings = page.inner_text("#host-findings")
    assert "Weak TLS protocols (POODLE)" in findings and "Telnet service open" in findings
    assert "2026-12-01 09:30 CET" in page.inner_text("main")
    shot(page, "3_host")

    # The KB entry behind the finding: what it is and how to fix it.
    page.locator("#host-findings a", has_text="992001").click()
    page.wait_for_url("**/scans/kb/992001/")
    assert current_link(page) == "KnowledgeBase"
    text = page.inner_text("main")
    assert "Weak TLS protocols (POODLE)" in text and "CVE-2014-3566" in text
    assert "Disable SSLv3 and TLS 1.0 on the service." in text
    shot(page, "4_kb_entry")


def test_a_user_changes_their_time_zone_and_every_page_follows(page, login, exposure):
    acme, globex, a, b, tls = exposure
    login(UserFactory(username="tess", role="manager"))
    page.goto(b.get_absolute_url())
    assert "2026-12-01 08:30 UTC" in page.inner_text("main")
    runs = page.goto("/dashboard/") and page.inner_text("#connectors-tile")
    assert "aws-prod" in runs and "4 read, 1 new" in runs  # Managers: connectors too
    shot(page, "5_dashboard_manager")
    page.click("header .whoami a[href='/accounts/profile/']")
    assert current_link(page) == "Your settings"
    page.select_option("select[name=timezone]", "Asia/Tokyo")
    shot(page, "6_profile")
    page.click("button:has-text('Save')")
    assert "times are shown in Asia/Tokyo" in page.inner_text("main")
    assert "Asia/Tokyo" in page.inner_text("header")
    page.goto(b.get_absolute_url())
    assert "2026-12-01 17:30 JST" in page.inner_text("main")
    # A Manager sets another user's zone on the user form.
    other = UserFactory(username="uma", role="scanner", timezone="America/New_York")
    page.goto(f"/accounts/users/{other.pk}/edit/")
    assert page.input_value("select[name=timezone]") == "America/New_York"
    shot(page, "7_user_form")
