"""In a real browser, with a real appliance process and the central worker: the scan
page's progress moves while the appliance works, and when the scan ends the page
swaps its buttons and says so, without a reload. Cancel asks first. Set
ENCLAVE_SHOTS=/some/dir to keep screenshots (mid-scan, results, appliance)."""

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse

from networks.models import ScannerAppliance
from scans import services
from tests.factories import UserFactory
from tests.waiting import wait_for

from .servers import BannerServer, Server, expired_self_signed, loopback_ip

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def shot(page, name):
    folder = os.environ.get("ENCLAVE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_scan_page_moves_while_the_appliance_works_and_changes_when_it_ends(
    page, login, lab, ingest_worker, appliance_process, tmp_path
):
    base = loopback_ip().rsplit(".", 1)[0]
    servers = [Server(f"{base}.{n}", ports=(8080,)).start() for n in (2, 5, 11)]
    servers.append(
        BannerServer(f"{base}.7", ports=(8443,), tls=expired_self_signed(tmp_path, f"{base}.7"))
        .start()
    )  # fmt: skip
    name = f"e2e-browser-{base.replace('.', '-')}"
    appliance = ScannerAppliance.objects.create(name=name, network=lab, description="Lab rack 2")
    profile = services.option_profile_create(
        actor=None, name="web", tcp_port_set="custom", tcp_ports="8080,8443", host_timeout=60
    )
    proc = appliance_process(name)
    try:
        wait_for(
            lambda: ScannerAppliance.objects.get(pk=appliance.pk).status != "offline",
            timeout=30,
            what="the appliance's first heartbeat",
        )
        scan = services.scan_launch(
            actor=None,
            title="Lab web servers",
            type="vulnerability",
            network=lab,
            targets=f"{base}.1-{base}.16",
            option_profile=profile,
        )
        login(UserFactory(username="sam", role="scanner"))
        page.goto(scan.get_absolute_url())
        assert page.locator("#scan-actions >> text=Cancel scan…").count() == 1
        seen = set()

        def moved():
            text = page.inner_text("#scan-progress")
            match = re.search(r"(\d+) %", text)
            if match and "Running" in text:
                seen.add(match.group(1))
            return 0 < int(match.group(1) if match else 0) < 100 and "Running" in text

        wait_for(moved, timeout=60, what="the page to show the scan part way", every=0.2)
        shot(page, "scan_running")
        page.wait_for_selector(".outcome-finished", timeout=90_000)
        # The buttons were swapped out of band: no cancel once it has ended.
        assert page.locator("#scan-actions >> text=Cancel scan…").count() == 0
        assert "Scan finished" in page.inner_text("#scan-progress")
        assert "4 hosts found" in page.inner_text("#scan-progress")
        shot(page, "scan_finished")

        page.click("#scan-actions >> text=Results")
        page.wait_for_selector("section.findings")
        assert page.locator("text=2 Medium").count() >= 1  # the expired certificate's
        qid_link = page.locator("section.findings a[href^='/scans/kb/']").first
        assert qid_link.count() == 1
        shot(page, "scan_results")

        page.goto(reverse("networks:appliance_detail", args=[appliance.pk]))
        page.wait_for_selector("#appliance-slices h2:has-text('History')")
        text = page.inner_text("main")
        assert "run_appliance " + name in text and "No database" in text
        assert "Lab web servers" in page.inner_text("#appliance-slices")
        shot(page, "appliance_detail")
    except AssertionError:
        print(proc.log_path.read_text())
        raise
    finally:
        for server in servers:
            server.stop()


def test_cancel_asks_first_in_the_browser(page, login, lab, sent):
    ScannerAppliance.objects.create(name="lab-quiet", network=lab)
    scan = services.scan_launch(
        actor=None, title="Too wide", type="discovery", network=lab, targets="127.0.0.0/24"
    )
    login(UserFactory(username="sam", role="scanner"))
    page.goto(scan.get_absolute_url())
    page.click("text=Cancel scan…")
    page.wait_for_selector("text=Cancel scan “Too wide”?")
    shot(page, "scan_cancel")
    page.click("text=Keep it running")
    page.wait_for_selector("#scan-actions")
    scan.refresh_from_db()
    assert scan.status == "queued"
    page.click("text=Cancel scan…")
    page.click("button:has-text('Cancel the scan')")
    page.wait_for_selector(".outcome-canceled")
    scan.refresh_from_db()
    assert scan.status == "canceled"
    page.goto(reverse("scans:scan_list"))
    page.wait_for_selector(".badge.scan-canceled")
    shot(page, "scan_list")


def test_the_form_warns_before_a_launch_that_would_wait(page, login, lab):
    """The warning follows the network and the appliance chosen (htmx)."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import NetworkFactory

    ScannerAppliance.objects.create(
        name="lab-quiet", network=lab, last_seen=timezone.now() - timedelta(minutes=40)
    )
    plant = NetworkFactory(name="Plant", space="10.9.0.0/24")
    ScannerAppliance.objects.create(name="plant-1", network=plant, last_seen=timezone.now())
    login(UserFactory(username="sam", role="scanner"))
    page.goto(reverse("scans:scan_create"))
    page.select_option("select[name=network]", label="Lab")
    page.wait_for_selector("#launch-warning:has-text('lab-quiet')")
    shot(page, "scan_form_warning")
    page.select_option("select[name=network]", label="Plant")
    page.wait_for_selector("select[name=appliance] >> text=plant-1 (online)", state="attached")
    assert page.locator("#launch-warning").count() == 0
