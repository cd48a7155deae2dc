"""The cover pages of a PDF report: the organisation's name and logo, an executive
summary per network with new and fixed findings since the period's start, and
contents whose page numbers lead to the right pages (one document and parts)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from reports import services
from reports.models import ReportStatus

from .helpers import RecordingHTTPServer, pdf_pages

pytestmark = pytest.mark.django_db

ALL = ["new", "active", "reopened", "fixed"]


@pytest.fixture
def history(twin_networks):
    """Alpha Corp's findings are old and one was fixed two days ago; Beta Inc's are new."""
    t = twin_networks
    now = timezone.now()
    t["alpha5"].detections.update(first_found=now - timedelta(days=60))
    t["alpha9"].detections.update(first_found=now - timedelta(days=90))
    t["alpha9"].detections.filter(status="fixed").update(fixed_at=now - timedelta(days=2))
    return t


def summary_of(text: str, network: str) -> dict[str, int]:
    part = text[text.index(f"\n{network}\n") :]
    figures = {}
    for name, label in (
        ("hosts", r"Hosts in scope"),
        ("open", r"Open findings"),
        ("new", r"New since \d{4}-\d\d-\d\d"),
        ("fixed", r"Fixed since \d{4}-\d\d-\d\d"),
    ):
        figures[name] = int(re.search(label + r"\s+(\d+)", part).group(1))
    return figures


@pytest.mark.parametrize("chunk_rows", [500, 1], ids=["one document", "parts"])
def test_cover_summary_per_network_and_contents(history, reader, settings, tmp_path, chunk_rows):
    settings.ENCLAVE_REPORT_PDF_CHUNK_ROWS = chunk_rows
    settings.ENCLAVE_REPORT_PDF_PROCESSES = 1
    settings.ENCLAVE_ORG_NAME = "Example Holdings"
    logo = tmp_path / "logo.png"
    logo.write_bytes(RecordingHTTPServer.PNG)
    settings.ENCLAVE_ORG_LOGO = str(logo)
    report = services.report_create(
        actor=reader,
        title="Quarterly",
        targets="10.0.0.0/24",
        statuses=ALL,
        period_start=timezone.now() - timedelta(days=30),
    )
    report = services.report_generate(report=report)
    assert report.status == ReportStatus.FINISHED, report.error
    pages = pdf_pages(report.file.path)
    text = "\n".join(pages)

    # The organisation: its name on the cover and atop every other page, its logo drawn.
    assert "Example Holdings" in pages[0]
    assert all("Example Holdings" in page for page in pages[1:])
    assert len(PdfReader(report.file.path).pages[0].images) == 1

    # An executive summary per network, after the one of all networks on the cover.
    assert "Summary · all networks" in pages[0]
    assert summary_of(text, "Alpha Corp") == {"hosts": 2, "open": 2, "new": 0, "fixed": 1}
    assert summary_of(text, "Beta Inc") == {"hosts": 1, "open": 2, "new": 2, "fixed": 0}
    for heading in ("Top vulnerabilities", "Most vulnerable hosts"):
        assert text.count(heading) == 3  # all networks, Alpha Corp, Beta Inc

    # Contents: each host's page number is the page its table starts on.
    contents = next(page for page in pages if "Contents" in page)
    entries = re.findall(r"(10\.0\.0\.\d · (?:Alpha Corp|Beta Inc))\s*(\d+)", contents)
    assert len(entries) == 3
    for host, number in entries:
        page = pages[int(number) - 1]
        assert re.search(re.escape(host) + r".*\n?.*Sev\s*QID", page), (host, number)
    details = int(re.search(r"Vulnerability details\s*(\d+)", contents).group(1))
    assert "Vulnerability details" in pages[details - 1]
    assert "Renew the certificate." in "\n".join(pages[details - 1 :])
