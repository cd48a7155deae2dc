"""A Scanner imports a Nessus file through the page in a real browser, into the
network chosen, and watches it through htmx polling to the summary; a real Celery
worker runs the import. Set ENCLAVE_SHOTS=/some/dir to keep screenshots."""

import os
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from assets.models import Host
from config.celery import app
from tests.brokers import celery_broker
from tests.factories import NetworkFactory, UserFactory
from tests.scans import import_samples as samples
from tests.scans.import_samples import Box, Vuln

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


def test_scanner_imports_a_nessus_file_into_the_chosen_network(
    page, login, celery_worker, tmp_path
):
    NetworkFactory(name="Plant A", space="10.77.0.0/24")
    NetworkFactory(name="Plant B", space="10.77.0.0/24")
    path = tmp_path / "plant-b-weekly.nessus"
    path.write_bytes(
        samples.nessus(
            [
                Box(
                    "10.77.0.5",
                    name="hmi.plant-b.example",
                    os="Windows 10",
                    vulns=[
                        Vuln("97833", title="MS17-010: SMB RCE", severity=4, port=445),
                        Vuln("57608", title="SMB Signing not required", severity=2, port=445),
                        Vuln("19506", title="Nessus Scan Information", severity=0, port=0),
                    ],
                ),
                Box("10.77.0.9", vulns=[Vuln("57608", title="SMB Signing not required", port=445)]),
                Box("", name="plc-7.plant-b.example", vulns=[Vuln("19506", severity=0, port=0)]),
                Box("10.77.0.1001", vulns=[Vuln("19506", severity=0, port=0)]),
            ]
        )
    )
    login(UserFactory(username="sam", role="scanner"))
    page.goto("/scans/imports/")
    page.click("text=Import results")
    page.set_input_files("input[name=file]", str(path))
    page.select_option("select[name=network]", label="Plant B")
    shot(page, "import_form")
    page.click("button:has-text('Upload and import')")
    page.wait_for_url("**/scans/imports/*/")
    page.wait_for_selector("[data-status=finished]", timeout=60000)
    text = page.inner_text("main")
    assert "Plant B" in text and "plc-7.plant-b.example" in text and "10.77.0.1001" in text
    shot(page, "import_detail")
    page.click("text=see the findings, host by host")
    page.wait_for_selector("text=10.77.0.5")
    page.goto("/scans/imports/")
    assert "plant-b-weekly.nessus" in page.inner_text("main")
    shot(page, "import_list")
    page.goto("/scans/kb/?source=nessus")
    assert "MS17-010: SMB RCE" in page.inner_text("main")
    shot(page, "kb_nessus")
    host = Host.objects.get(network__name="Plant B", ip="10.77.0.5")
    page.goto(reverse("assets:host_detail", args=[host.pk]))
    page.wait_for_selector("td.source")
    assert "Nessus 97833" in page.inner_text("main")
    shot(page, "host_findings")
