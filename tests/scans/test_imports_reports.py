"""Reports say where a finding comes from: the CSV's Source column (both writers), the
HTML/PDF lines' "[Nessus 90317]" prefix; a source id from a file cannot become a formula."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from reports import services as reports
from reports.models import ReportStatus
from scans.services.imports import import_create, import_run
from tests.factories import NetworkFactory, VulnerabilityFactory
from tests.reports.helpers import csv_rows
from tests.scans import import_samples as samples
from tests.scans.import_samples import Box, Vuln

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def imported(reader):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    data = samples.nessus([Box("10.0.0.5", vulns=[Vuln("90317", title="SSH weak", port=22)])])
    scan = import_create(actor=None, network=acme, file=SimpleUploadedFile("a.nessus", data))
    import_run(scan_id=scan.pk)
    nmap = samples.nmap_xml(
        [{"ip": "10.0.0.5", "ports": [(80, "tcp", "http", "", "", [("=HYPERLINK(1)", "x")])]}]
    )
    scan = import_create(actor=None, network=acme, file=SimpleUploadedFile("n.xml", nmap))
    import_run(scan_id=scan.pk)
    enclave = VulnerabilityFactory(qid=38170, title="Cert expired", severity=2)
    from scans.models import Detection

    host = Detection.objects.get(vulnerability__external_id="90317").host
    Detection.objects.create(network=acme, host=host, vulnerability=enclave, severity=2)
    return acme


def report(reader, fmt):
    made = reports.report_create(
        actor=reader, title="t", format=fmt, targets="10.0.0.5", network="all"
    )
    made = reports.report_generate(report=made)
    assert made.status == ReportStatus.FINISHED, made.error
    return made


@pytest.mark.parametrize("copy", [True, False], ids=["copy", "python"])
def test_csv_has_a_source_column(imported, reader, settings, copy):
    if copy and connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    settings.ENCLAVE_REPORT_CSV_NO_COPY = not copy
    rows = csv_rows(report(reader, "csv").file.path)
    assert {r["Source"] for r in rows} == {"Nessus 90317", "nmap =HYPERLINK(1)", "Enclave"}
    assert {r["Source"]: r["Title"] for r in rows}["Nessus 90317"] == "SSH weak"


def test_html_lines_name_the_source(imported, reader):
    made = report(reader, "html")
    with open(made.file.path, encoding="utf-8") as handle:
        text = handle.read()
    assert "[Nessus 90317] SSH weak" in text and "[nmap =HYPERLINK(1)] nmap =HYPERLINK(1)" in text
    assert "] Cert expired" not in text and "Cert expired" in text
