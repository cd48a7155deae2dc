"""A Manager imports an NVD feed through the page in a real browser and watches
it (htmx polling) to the re-evaluation of the stored services, which a real
Celery worker runs; the host page then shows the service inventory and the new
"potential" finding with its exploitation. ENCLAVE_SHOTS=/some/dir keeps
screenshots."""

import os
from io import StringIO
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command

from config.celery import app
from core.results import HostResult, Service, SliceResult
from scans import services
from scans.models import Detection, KbSource
from tests.brokers import celery_broker
from tests.factories import ApplianceFactory, NetworkFactory, UserFactory
from tests.scans import feed_samples as samples

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker():
    with (
        celery_broker("memory://"),
        start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING") as w,
    ):
        yield w


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def shot(page, name):
    folder = os.environ.get("ENCLAVE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_manager_imports_an_nvd_feed_and_finds_the_exposure_without_a_scan(
    page, login, celery_worker, tmp_path, monkeypatch
):
    from scans import tasks

    monkeypatch.setattr(tasks.run_slice, "apply_async", lambda *a, **k: None)
    plant = NetworkFactory(name="Plant A", space="10.77.0.0/24")
    appliance = ApplianceFactory(name="plant-a-1", network=plant)
    from django.utils import timezone

    appliance.last_seen = timezone.now()
    appliance.save()
    scan = services.scan_launch(
        actor=None, title="weekly", type="vulnerability", network=plant, targets="10.77.0.5"
    )
    piece = scan.slices.get()
    host = HostResult(
        ip="10.77.0.5",
        services=[
            Service(
                port=80,
                protocol="tcp",
                name="http",
                product="Apache httpd",
                version="2.4.49",
                extrainfo="(Debian)",
                cpes=["cpe:/a:apache:http_server:2.4.49"],
                banner="Server: Apache/2.4.49 (Debian)",
            ),
            Service(
                port=22,
                protocol="tcp",
                name="ssh",
                product="OpenSSH",
                version="7.4",
                extrainfo="protocol 2.0",
                cpes=["cpe:/a:openbsd:openssh:7.4"],
                banner="SSH-2.0-OpenSSH_7.4",
            ),
        ],
    )
    services.slice_ingest(
        result=SliceResult(scan.pk, piece.pk, appliance.name, "", "", hosts=[host])
    )
    for name, content in (("kev.json", samples.kev_bytes()), ("epss.csv", samples.epss_bytes())):
        call_command("kb_import", str(samples.write(tmp_path / name, content)), stdout=StringIO())
    feed = samples.write(tmp_path / "nvdcve-2.0-2021.json.gz", samples.nvd_bytes(), gz=True)

    login(UserFactory(username="mia", role="manager"))
    page.goto("/scans/feeds/")
    page.click("text=Import a feed file")
    page.set_input_files("input[name=file]", str(feed))
    shot(page, "feed_form")
    page.click("button:has-text('Upload and import')")
    page.wait_for_url("**/scans/feeds/*/")
    page.wait_for_selector("#feed-summary [data-status=finished]", timeout=60000)
    page.wait_for_selector(
        "#feed-summary td:has-text('Plant A') + td .scan-finished", timeout=60000
    )
    text = page.inner_text("main")
    assert "5 added" in text and "Plant A" in text
    shot(page, "feed_detail")
    page.goto("/scans/feeds/")
    shot(page, "feed_list")

    detection = Detection.objects.get(vulnerability__source=KbSource.NVD)
    assert detection.vulnerability.external_id == "CVE-2021-41773"  # not OpenSSH 7.4's
    page.goto(detection.host.get_absolute_url())
    page.wait_for_selector("#host-findings .services")
    findings = page.inner_text("#host-findings")
    assert "CVE-2021-41773" in findings and "Known exploited" in findings
    assert "SSH-2.0-OpenSSH_7.4" in findings and "cpe:/a:apache:http_server:2.4.49" in findings
    shot(page, "host_services")
    page.goto("/vulnerabilities/?known_exploited=on")
    assert "CVE-2021-41773" in page.inner_text("#results")
    shot(page, "vulnerabilities_known_exploited")
