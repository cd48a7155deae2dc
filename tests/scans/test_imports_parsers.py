"""The import parsers (scans/imports/): every field each format carries, mapped.

Pure: no database. Sample files are written by tests/scans/import_samples.py.
"""

import io
from datetime import UTC, datetime

import pytest

from scans.imports import PARSERS, ImportFormatError, detect_format
from scans.imports.base import ImportedHost, KbEntry
from tests.scans import import_samples as samples
from tests.scans.import_samples import Box, Vuln


def parse(fmt, data: bytes):
    items = list(PARSERS[fmt].parse(io.BytesIO(data)))
    hosts = [i for i in items if isinstance(i, ImportedHost)]
    entries = {e.external_id: e for e in items if isinstance(e, KbEntry)}
    return hosts, entries


def test_nessus_fields():
    data = samples.nessus(
        [
            Box(
                "10.0.0.5",
                name="web01.example.com",
                netbios="WEB01",
                os="Linux Kernel 5.4\nUbuntu",
                vulns=[
                    Vuln(
                        "90317",
                        title="SSH Weak Algorithms Supported",
                        severity=2,
                        port=22,
                        output="arcfour",
                        cves=("CVE-2008-5161",),
                        cvss=4.3,
                        cvss3=5.3,
                        family="Misc.",
                    ),
                    Vuln("19506", title="Nessus Scan Information", severity=0, port=0, cvss=None),
                    Vuln("11111", title="Critical thing", severity=4, port=443),
                ],
            ),
            Box("", name="printer.example.com", vulns=[Vuln("19506", severity=0, port=0)]),
        ]
    )
    hosts, entries = parse("nessus", data)
    host, printer = hosts
    assert (host.ip, host.dns, host.netbios, host.os) == (
        "10.0.0.5",
        "web01.example.com",
        "WEB01",
        "Linux Kernel 5.4",
    )
    assert [(f.external_id, f.port, f.protocol, f.results) for f in host.findings] == [
        ("90317", 22, "tcp", "arcfour"),
        ("19506", 0, "", "evidence"),
        ("11111", 443, "tcp", "evidence"),
    ]
    ssh = entries["90317"]
    assert (ssh.title, ssh.severity, ssh.kind, ssh.category, ssh.cvss) == (
        "SSH Weak Algorithms Supported",
        3,
        "confirmed",
        "Misc.",
        5.3,  # CVSS v3 preferred over v2
    )
    assert ssh.cves == ["CVE-2008-5161"]
    assert ssh.diagnosis == "The remote host is vulnerable.\n\nA long description."
    assert ssh.solution == "Upgrade." and ssh.consequence == "Nessus risk factor: Medium."
    assert (entries["19506"].severity, entries["19506"].kind) == (1, "info")
    assert entries["11111"].severity == 5
    assert (printer.ip, printer.address) == ("", "printer.example.com")
    assert printer.skip_reason == "host name only ('printer.example.com'), no IP address"


def test_nessus_severity_table():
    table = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}
    vulns = [Vuln(str(100 + s), severity=s) for s in table]
    _, entries = parse("nessus", samples.nessus([Box("10.0.0.1", vulns=vulns)]))
    assert {int(k) - 100: e.severity for k, e in entries.items()} == table


def test_openvas_fields():
    oid = "1.3.6.1.4.1.25623.1.0.108440"
    data = samples.openvas(
        [
            Box(
                "192.168.1.10",
                name="gw.example.com",
                os="Debian GNU/Linux 12",
                vulns=[
                    Vuln(
                        oid,
                        title="OpenSSH < 9.3p2 RCE",
                        cvss=9.8,
                        port=22,
                        cves=("CVE-2023-38408",),
                        output="Installed version: 8.0",
                        family="General",
                        solution="Update to 9.3p2.",
                        synopsis="Summary here",
                        description="Insight here",
                    ),
                    Vuln("1.3.6.1.4.1.25623.1.0.10330", title="Services", cvss=0.0, port=0),
                    Vuln("1.3.6.1.4.1.25623.1.0.2", title="Banner guess", cvss=5.0, qod=30),
                ],
            )
        ]
    )
    hosts, entries = parse("openvas", data)
    (host,) = hosts
    assert (host.ip, host.dns, host.os) == ("192.168.1.10", "gw.example.com", "Debian GNU/Linux 12")
    first = host.findings[0]
    assert (first.external_id, first.port, first.protocol) == (oid, 22, "tcp")
    assert first.results == "Installed version: 8.0\n\nQoD: 80% (remote_banner)"
    assert host.findings[1].port == 0
    e = entries[oid]
    assert (e.title, e.severity, e.kind, e.cvss, e.category) == (
        "OpenSSH < 9.3p2 RCE",
        5,
        "confirmed",
        9.8,
        "General",
    )
    assert e.cves == ["CVE-2023-38408"]
    assert e.diagnosis == "Summary here\n\nInsight here"
    assert (e.consequence, e.solution) == ("Attackers win.", "Update to 9.3p2.")
    log = entries["1.3.6.1.4.1.25623.1.0.10330"]
    assert (log.severity, log.kind) == (1, "info")
    assert entries["1.3.6.1.4.1.25623.1.0.2"].kind == "potential"  # QoD 30%


def test_openvas_results_of_hosts_interleaved_come_back_host_by_host():
    """GMP sorts results by severity, not host: each host still gets its own
    findings, in file order, and a host with no result comes back empty."""
    oids = [f"1.3.6.1.4.1.25623.1.0.{n}" for n in range(1, 5)]
    data = samples.openvas(
        [
            Box("10.0.0.1", vulns=[Vuln(oids[0], port=22), Vuln(oids[1], port=80)]),
            Box("10.0.0.2", vulns=[Vuln(oids[2], port=443), Vuln(oids[3], port=0)]),
            Box("10.0.0.3", vulns=[]),
        ]
    )
    lines = data.decode().split("\n")
    results = [n for n, line in enumerate(lines) if line.startswith("<result ")]
    # 10.0.0.2's first result, 10.0.0.1's two, then 10.0.0.2's second.
    order = [results[2], results[0], results[1], results[3]]
    lines[results[0] : results[-1] + 1] = [lines[n] for n in order]
    hosts, _entries = parse("openvas", "\n".join(lines).encode())
    found = {h.ip: [(f.external_id, f.port) for f in h.findings] for h in hosts}
    assert found == {
        "10.0.0.2": [(oids[2], 443), (oids[3], 0)],
        "10.0.0.1": [(oids[0], 22), (oids[1], 80)],
        "10.0.0.3": [],
    }
    assert [h.ip for h in hosts] == ["10.0.0.2", "10.0.0.1", "10.0.0.3"]  # as first named


@pytest.mark.parametrize(
    "score, severity",
    [(0.0, 1), (0.1, 2), (3.9, 2), (4.0, 3), (6.9, 3), (7.0, 4), (8.9, 4), (9.0, 5)],
)
def test_openvas_severity_bands(score, severity):
    from scans.imports.openvas import severity_band

    assert severity_band(score) == severity


def test_qualys_scan_report_fields():
    data = samples.qualys_report(
        [
            Box(
                "10.1.1.1",
                name="db.example.com",
                netbios="DB01",
                os="Windows Server 2019",
                vulns=[
                    Vuln(
                        "38170",
                        title="SSL Certificate - Subject Common Name Does Not Match",
                        severity=2,
                        port=443,
                        output="CN=other",
                        cves=("CVE-2017-0001",),
                        cvss=9.4,
                        family="General remote services",
                    ),
                    Vuln("90001", severity=4, type="Practice", port=0),
                    Vuln("45038", severity=1, type="Ig", status="Fixed"),
                ],
            ),
            Box("192.168.1.1001", vulns=[Vuln("38170")]),
        ]
    )
    hosts, entries = parse("qualys", data)
    host, bad = hosts
    assert (host.ip, host.dns, host.netbios, host.os) == (
        "10.1.1.1",
        "db.example.com",
        "DB01",
        "Windows Server 2019",
    )
    assert [(f.external_id, f.port, f.protocol) for f in host.findings] == [
        ("38170", 443, "tcp"),
        ("90001", 0, ""),
    ]  # the Fixed one is not a finding
    first = host.findings[0]
    assert first.results == "CN=other"
    assert first.first_found == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.last_found == datetime(2024, 6, 7, 8, 9, 10, tzinfo=UTC)
    e = entries["38170"]
    assert (e.title, e.severity, e.kind, e.category, e.cvss) == (
        "SSL Certificate - Subject Common Name Does Not Match",
        2,
        "confirmed",
        "General remote services",
        9.4,
    )
    assert (e.diagnosis, e.consequence, e.solution, e.cves) == (
        "A long description.",
        "Attackers win.",
        "Upgrade.",
        ["CVE-2017-0001"],
    )
    assert (entries["90001"].severity, entries["90001"].kind) == (4, "potential")
    assert entries["45038"].kind == "info"
    assert bad.ip == "" and bad.skip_reason == "'192.168.1.1001' is not a valid IP address"


def test_qualys_detection_output_fields():
    data = samples.qualys_detections(
        [
            Box(
                "10.2.2.2",
                name="app.example.com",
                netbios="APP",
                os="Linux",
                vulns=[
                    Vuln("38170", severity=3, type="Confirmed", port=8443, output="x"),
                    Vuln("105000", severity=5, type="Potential", port=0, status="Re-Opened"),
                ],
            )
        ]
    )
    hosts, entries = parse("qualys", data)
    (host,) = hosts
    assert (host.ip, host.dns, host.netbios, host.os) == (
        "10.2.2.2",
        "app.example.com",
        "APP",
        "Linux",
    )
    assert [(f.external_id, f.port, f.results) for f in host.findings] == [
        ("38170", 8443, "x"),
        ("105000", 0, "evidence"),
    ]
    assert host.findings[0].first_found == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    e = entries["38170"]
    assert (e.title, e.severity, e.kind, e.detailed) == ("Qualys QID 38170", 3, "confirmed", False)
    assert (entries["105000"].severity, entries["105000"].kind) == (5, "potential")


def test_nmap_fields_scripts_and_version_rules():
    data = samples.nmap_xml(
        [
            {
                "ip": "10.0.0.7",
                "name": "ssh.example.com",
                "os": "Linux 4.15 - 5.8",
                "ports": [
                    (22, "tcp", "ssh", "OpenSSH", "7.4", [("ssh-hostkey", "2048 aa:bb (RSA)")]),
                    (80, "tcp", "http", "", "", [("http-title", "Welcome")]),
                ],
                "hostscripts": [("smb-os-discovery", "OS: Windows")],
            },
            {"ip": "10.0.0.8", "state": "down"},
        ]
    )
    hosts, entries = parse("nmap", data)
    (host,) = hosts  # the down host is not a host found
    assert (host.ip, host.dns, host.os) == ("10.0.0.7", "ssh.example.com", "Linux 4.15 - 5.8 (96%)")
    assert [(s.port, s.name, s.product, s.version) for s in host.services] == [
        (22, "ssh", "OpenSSH", "7.4"),
        (80, "http", "", ""),
    ]
    assert [(f.external_id, f.port, f.protocol, f.results) for f in host.findings] == [
        ("ssh-hostkey", 22, "tcp", "2048 aa:bb (RSA)"),
        ("http-title", 80, "tcp", "Welcome"),
        ("smb-os-discovery", 0, "", "OS: Windows"),
    ]
    assert set(entries) == {"ssh-hostkey", "http-title", "smb-os-discovery"}
    e = entries["http-title"]
    assert (e.title, e.severity, e.kind, e.category) == ("nmap http-title", 1, "info", "NSE script")
    # OpenSSH 7.4 through the engine's own version rules: Enclave QIDs.
    from scans.engine.checks.versions import RULES

    expected = {r.qid for r in RULES if r.matches("OpenSSH", "7.4")}
    assert {38703, 38709} <= expected and 38700 not in expected
    assert {f.qid for f in host.engine_findings} == expected
    assert all((f.port, f.protocol) == (22, "tcp") for f in host.engine_findings)
    assert host.engine_checks == ["versions"]


def test_nmap_without_version_detection_covers_no_versions():
    data = samples.nmap_xml(
        [{"ip": "10.0.0.7", "ports": [(22, "tcp", "ssh", "", "", [])]}], args="nmap -sT 10.0.0.7"
    )
    (host,), _ = parse("nmap", data)
    assert host.engine_checks == [] and host.engine_findings == []


@pytest.mark.parametrize(
    "builder, fmt",
    [
        (lambda: samples.nessus([]), "nessus"),
        (lambda: samples.openvas([]), "openvas"),
        (lambda: samples.qualys_report([]), "qualys"),
        (lambda: samples.qualys_detections([]), "qualys"),
        (lambda: samples.nmap_xml([]), "nmap"),
    ],
)
def test_format_detected_from_the_content(builder, fmt):
    assert detect_format(io.BytesIO(builder())) == fmt


def test_a_file_of_no_known_format_names_its_root_element():
    with pytest.raises(ImportFormatError, match=r"root element is <catalog>"):
        detect_format(io.BytesIO(b"<?xml version='1.0'?><catalog><book/></catalog>"))
    with pytest.raises(ImportFormatError, match=r"line 1, column 0"):
        detect_format(io.BytesIO(b"ip,port\n10.0.0.1,22\n"))


def test_truncated_file_names_the_line():
    data = samples.nessus([Box("10.0.0.5", vulns=[Vuln("1")])])
    cut = data[: len(data) // 2]
    with pytest.raises(ImportFormatError, match=r"Not well-formed XML at line \d+.*truncated"):
        parse("nessus", cut)


def test_malformed_values_name_the_element():
    data = samples.nessus([Box("10.0.0.5", vulns=[Vuln("abc")])])
    with pytest.raises(ImportFormatError, match=r"<ReportHost> 1 \('10.0.0.5'\), <ReportItem> 1"):
        parse("nessus", data)
    data = samples.nessus([Box("10.0.0.5", vulns=[Vuln("1", port=70000)])])
    with pytest.raises(ImportFormatError, match=r"port '70000' is not a port number"):
        parse("nessus", data)


def test_a_parser_refuses_another_format():
    with pytest.raises(
        ImportFormatError, match=r"Not a Nessus .nessus v2 file: the root element is <nmaprun>"
    ):
        parse("nessus", samples.nmap_xml([]))


@pytest.mark.parametrize("value", ["²", "٨٠", "８０"])
def test_a_port_of_non_ascii_digits_is_named_not_a_crash(value):
    from scans.imports.base import port_number

    with pytest.raises(ImportFormatError, match=f"port '{value}' is not a port number"):
        port_number(value, "<ReportItem> 1")
