"""A Reader runs a PDF report across two networks in a real browser, watches its
progress and downloads the file.

The Celery task runs in a real worker started in this process
(``celery.contrib.testing.worker.start_worker``, in-memory broker, solo pool):
the page is redirected while the report is still queued and sees it through
htmx polling to "Finished", as with a production worker.
"""

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from reports.models import ReportTemplate
from tests.brokers import celery_broker
from tests.factories import (
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    UserFactory,
    VulnerabilityFactory,
)

from .factories import asset_group_with_ranges
from .helpers import pdf_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker():
    with (
        celery_broker("memory://"),
        start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING") as w,
    ):
        yield w


@pytest.fixture
def report_tmp_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_reader_runs_a_pdf_report_and_downloads_it(
    page, login, celery_worker, report_tmp_media, tmp_path
):
    alpha = NetworkFactory(name="Alpha Corp", space="10.0.0.0/16")
    beta = NetworkFactory(name="Beta Inc", space="10.0.0.0/16")
    ssl = VulnerabilityFactory(qid=38170, title="SSL Certificate Expired", severity=4)
    telnet = VulnerabilityFactory(qid=38001, title="Telnet Service Enabled", severity=3)
    DetectionFactory(host=HostFactory(network=alpha, ip="10.0.0.5"), vulnerability=ssl)
    DetectionFactory(host=HostFactory(network=beta, ip="10.0.0.5"), vulnerability=telnet)
    asset_group_with_ranges(network=alpha, title="Alpha LAN", ips="10.0.0.0/24")
    asset_group_with_ranges(network=beta, title="Beta LAN", ips="10.0.0.0/24")
    # Transactional tests flush the data migration's defaults after the first test.
    ReportTemplate.objects.get_or_create(
        title="Host-based findings, by host", defaults={"is_builtin": True}
    )

    login(UserFactory(username="rex", role="reader"))
    page.goto("/reports/")
    page.click("text=New report")
    page.fill("input[name=title]", "Both companies")
    page.select_option("select[name=format]", "pdf")
    page.select_option(
        "select[name=asset_groups]", label=["Alpha LAN (Alpha Corp)", "Beta LAN (Beta Inc)"]
    )
    page.click("button:has-text('Run report')")
    page.wait_for_url("**/reports/*/")

    # htmx polls the progress partial until the worker has finished.
    page.wait_for_selector("[data-status=finished]", timeout=60000)
    with page.expect_download() as download_info:
        page.click("#download")
    target = tmp_path / "report.pdf"
    download_info.value.save_as(target)
    pages = pdf_pages(target)
    body = "\n".join(pages)
    assert "Both companies" in pages[0] and "Alpha Corp, Beta Inc" in pages[0]
    assert "10.0.0.5 · Alpha Corp" in body and "10.0.0.5 · Beta Inc" in body
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]

    page.goto("/reports/")
    row = page.locator("tr", has_text="Both companies")
    assert "Finished" in row.inner_text() and row.locator("a[download]").count() == 1
