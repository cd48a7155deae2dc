"""Import end to end: a generated Nessus .nessus v2 file of 10,000 hosts x 10 findings
(100,000 findings) through the upload service, the import task and its two passes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench \\
        .venv/bin/python bench/bench_import.py [--hosts 10000] [--per-host 10] \\
        [--format nessus|openvas|qualys|qualys-detections]

Runs in a throwaway test database (test_<name> on PostgreSQL, a temporary file on
SQLite). The file is written to a temporary folder first (streamed, like a real
export), then handed to ``import_create`` as an upload on disk and run by the Celery
task's code (``scans.tasks.import_run.apply``: the worker's path without a broker).
Prints the time of each step and the peak memory of every process involved: this
one (upload and task), and the PostgreSQL backend serving it. Aims (issue 12): under
15 s end to end, under 300 MB peak.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["ENCLAVE_VAR_DIR"] = tempfile.mkdtemp(prefix="enclave-bench-")

PLUGINS = [
    (97833, "MS17-010: Security Update for Microsoft Windows SMB Server", 4, 445, "tcp"),
    (57608, "SMB Signing not required", 2, 445, "tcp"),
    (51192, "SSL Certificate Cannot Be Trusted", 2, 443, "tcp"),
    (42873, "SSL Medium Strength Cipher Suites Supported (SWEET32)", 2, 443, "tcp"),
    (90317, "SSH Weak Algorithms Supported", 2, 22, "tcp"),
    (70658, "SSH Server CBC Mode Ciphers Enabled", 1, 22, "tcp"),
    (10863, "SSL Certificate Information", 0, 443, "tcp"),
    (11219, "Nessus SYN scanner", 0, 80, "tcp"),
    (19506, "Nessus Scan Information", 0, 0, "tcp"),
    (45590, "Common Platform Enumeration (CPE)", 0, 0, "tcp"),
    (10287, "Traceroute Information", 0, 0, "udp"),
    (12053, "Host Fully Qualified Domain Name (FQDN) Resolution", 0, 0, "tcp"),
]
DESCRIPTION = (
    "The remote service is affected by the issue this plugin tests for. An "
    "unauthenticated, remote attacker can exploit it under the conditions the vendor "
    "advisory describes; see the references for details. " * 3
)


def write_nessus(path: Path, hosts: int, per_host: int) -> int:
    """Writes the file host by host (never whole in memory); returns its size."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" ?>\n<NessusClientData_v2>\n')
        out.write("<Policy><policyName>Advanced Scan</policyName></Policy>\n")
        out.write('<Report name="bench" xmlns:cm="http://www.nessus.org/cm">\n')
        for n in range(hosts):
            ip = f"10.{n // 65536}.{(n // 256) % 256}.{n % 256}"
            out.write(f'<ReportHost name="{ip}"><HostProperties>\n')
            out.write('<tag name="HOST_END">Tue Mar 12 11:02:00 2024</tag>\n')
            out.write(f'<tag name="host-ip">{ip}</tag>\n')
            out.write(f'<tag name="host-fqdn">host{n}.bench.example</tag>\n')
            out.write(f'<tag name="netbios-name">HOST{n}</tag>\n')
            out.write('<tag name="operating-system">Microsoft Windows Server 2019</tag>\n')
            out.write('<tag name="HOST_START">Tue Mar 12 10:58:00 2024</tag>\n')
            out.write("</HostProperties>\n")
            for plugin, name, severity, port, protocol in PLUGINS[:per_host]:
                risk = ["None", "Low", "Medium", "High", "Critical"][severity]
                out.write(
                    f'<ReportItem port="{port}" svc_name="cifs" protocol="{protocol}" '
                    f'severity="{severity}" pluginID="{plugin}" pluginName="{escape(name)}" '
                    'pluginFamily="Windows">\n'
                    f"<description>{DESCRIPTION}</description>\n"
                    f"<fname>plugin_{plugin}.nasl</fname>\n"
                    "<plugin_modification_date>2024/02/01</plugin_modification_date>\n"
                    f"<plugin_name>{escape(name)}</plugin_name>\n"
                    "<plugin_publication_date>2017/03/14</plugin_publication_date>\n"
                    "<plugin_type>remote</plugin_type>\n"
                    f"<risk_factor>{risk}</risk_factor>\n"
                    "<script_version>1.20</script_version>\n"
                    "<see_also>https://example.invalid/advisory</see_also>\n"
                    "<solution>Apply the vendor's security update.</solution>\n"
                    f"<synopsis>{escape(name)} on the remote host.</synopsis>\n"
                    f"<plugin_output>Port {port}/{protocol} on {ip}: evidence {plugin}"
                    "</plugin_output>\n"
                    "<cvss_base_score>7.5</cvss_base_score>\n"
                    "<cvss3_base_score>8.1</cvss3_base_score>\n"
                    "<cve>CVE-2017-0143</cve>\n"
                    "</ReportItem>\n"
                )
            out.write("</ReportHost>\n")
        out.write("</Report>\n</NessusClientData_v2>\n")
    return path.stat().st_size


def _ip(n: int) -> str:
    return f"10.{n // 65536}.{(n // 256) % 256}.{n % 256}"


def write_openvas(path: Path, hosts: int, per_host: int) -> int:
    """A Greenbone GMP ``get_reports`` response: one <result> per finding, then the
    hosts' details (as gvmd writes it), streamed; returns its size."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('<get_reports_response status="200" status_text="OK">\n')
        out.write('<report id="r1" format_id="a994b278-1f62-11e1-96ac-406186ea4fc5">\n')
        out.write(f'<report id="r1"><hosts><count>{hosts}</count></hosts><results>\n')
        for n in range(hosts):
            ip = _ip(n)
            for plugin, name, severity, port, protocol in PLUGINS[:per_host]:
                cvss = (0.0, 2.6, 5.0, 7.5, 9.8)[severity]
                where = f"{port}/{protocol}" if port else "general/tcp"
                out.write(
                    f'<result id="{n}-{plugin}"><name>{escape(name)}</name>'
                    f"<host>{ip}<hostname>host{n}.bench.example</hostname></host>"
                    f"<port>{where}</port>"
                    f'<nvt oid="1.3.6.1.4.1.25623.1.0.{plugin}"><type>nvt</type>'
                    f"<name>{escape(name)}</name><family>Windows</family>"
                    f"<cvss_base>{cvss}</cvss_base>"
                    f"<tags>summary={escape(name)} on the remote host.|insight={DESCRIPTION}"
                    "|solution=Apply the vendor's security update.|solution_type=VendorFix</tags>"
                    '<refs><ref type="cve" id="CVE-2017-0143"/></refs></nvt>'
                    f"<severity>{cvss}</severity><qod><value>80</value><type>remote_banner</type>"
                    f"</qod><description>Port {where} on {ip}: evidence {plugin}</description>"
                    "</result>\n"
                )
        out.write("</results>\n")
        for n in range(hosts):
            out.write(
                f"<host><ip>{_ip(n)}</ip><detail><name>best_os_txt</name>"
                "<value>Microsoft Windows Server 2019</value></detail></host>\n"
            )
        out.write("</report></report></get_reports_response>\n")
    return path.stat().st_size


def write_qualys(path: Path, hosts: int, per_host: int, *, detections: bool = False) -> int:
    """A Qualys scan report (ASSET_DATA_REPORT, its glossary describing each QID) or
    host list detection output, with the DOCTYPE line real exports carry, streamed;
    returns its size."""
    root = "HOST_LIST_VM_DETECTION_OUTPUT" if detections else "ASSET_DATA_REPORT"
    item, items = ("DETECTION", "DETECTION_LIST") if detections else ("VULN_INFO", "VULN_INFO_LIST")
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8" ?>\n')
        out.write(f'<!DOCTYPE {root} SYSTEM "https://qualysguard.qualys.com/{root.lower()}.dtd">\n')
        out.write(f"<{root}><HOST_LIST>\n")
        for n in range(hosts):
            ip = _ip(n)
            out.write(
                f"<HOST><IP>{ip}</IP><DNS>host{n}.bench.example</DNS><NETBIOS>HOST{n}</NETBIOS>"
                f"<OS>Microsoft Windows Server 2019</OS><{items}>\n"
            )
            for plugin, _name, severity, port, protocol in PLUGINS[:per_host]:
                out.write(
                    f"<{item}><QID>{plugin}</QID><TYPE>Confirmed</TYPE>"
                    f"<SEVERITY>{severity + 1}</SEVERITY><PORT>{port or ''}</PORT>"
                    f"<PROTOCOL>{protocol}</PROTOCOL>"
                    f"<RESULT><![CDATA[Port {port}/{protocol} on {ip}: evidence {plugin}]]>"
                    "</RESULT>"
                    "<FIRST_FOUND>2024-03-01T10:00:00Z</FIRST_FOUND>"
                    "<LAST_FOUND>2024-03-12T10:00:00Z</LAST_FOUND>"
                    f"<STATUS>Active</STATUS></{item}>\n"
                )
            out.write(f"</{items}></HOST>\n")
        out.write("</HOST_LIST>\n")
        if not detections:
            out.write("<GLOSSARY><VULN_DETAILS_LIST>\n")
            for plugin, name, severity, _port, _protocol in PLUGINS[:per_host]:
                out.write(
                    f"<VULN_DETAILS><QID>{plugin}</QID><TITLE>{escape(name)}</TITLE>"
                    f"<SEVERITY>{severity + 1}</SEVERITY><CATEGORY>Windows</CATEGORY>"
                    f"<THREAT>{DESCRIPTION}</THREAT><IMPACT>Attackers win.</IMPACT>"
                    "<SOLUTION>Apply the vendor's security update.</SOLUTION>"
                    "<CVSS_SCORE><CVSS_BASE>7.5</CVSS_BASE></CVSS_SCORE>"
                    "<CVE_ID_LIST><CVE_ID><ID>CVE-2017-0143</ID></CVE_ID></CVE_ID_LIST>"
                    "</VULN_DETAILS>\n"
                )
            out.write("</VULN_DETAILS_LIST></GLOSSARY>\n")
        out.write(f"</{root}>\n")
    return path.stat().st_size


WRITERS = {
    "nessus": (write_nessus, "bench.nessus"),
    "openvas": (write_openvas, "bench-openvas.xml"),
    "qualys": (write_qualys, "bench-qualys.xml"),
    "qualys-detections": (
        lambda path, hosts, per_host: write_qualys(path, hosts, per_host, detections=True),
        "bench-qualys-detections.xml",
    ),
}


class Peak:
    """Samples the resident memory of processes every 20 ms; keeps the peak of each."""

    def __init__(self, pids: dict[str, int]):
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while self.running:
            for name, process in self.processes.items():
                with contextlib.suppress(Exception):  # a process that went away
                    self.peak[name] = max(self.peak[name], process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--per-host", type=int, default=10)
    parser.add_argument(
        "--format",
        choices=sorted(WRITERS),
        default="nessus",
        help="the file to generate: the issue's aim is for .nessus; the others, for comparison",
    )
    args = parser.parse_args()
    if not 1 <= args.per_host <= len(PLUGINS):
        sys.exit(f"--per-host must be 1-{len(PLUGINS)}")

    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with tempfile.TemporaryDirectory(prefix="enclave-import-bench-") as folder:
            run(args, connection, Path(folder))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args, connection, folder: Path) -> None:
    import resource

    from django.conf import settings
    from django.core.files.uploadedfile import UploadedFile

    from core import iprange
    from networks.models import Network
    from scans import tasks
    from scans.models import Detection, Scan
    from scans.services import kb_load
    from scans.services.imports import import_create

    settings.MEDIA_ROOT = folder / "media"
    kb_load()
    network = Network.objects.create(name="Bench", address_space="10.0.0.0/8")
    network.address_ranges.create(
        start_key=iprange.ip_key("10.0.0.0"), end_key=iprange.ip_key("10.255.255.255")
    )
    write, name = WRITERS[args.format]
    path = folder / name
    started = time.perf_counter()
    size = write(path, args.hosts, args.per_host)
    findings = args.hosts * args.per_host
    print(
        f"Import benchmark on {connection.vendor}: {args.hosts:,} hosts x {args.per_host} "
        f"findings = {findings:,} findings, {args.format} file of {size / 1e6:,.1f} MB "
        f"(written in {time.perf_counter() - started:.1f} s)"
    )
    connection.ensure_connection()
    pids = {"this process (upload + task)": os.getpid()}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids["PostgreSQL backend"] = cursor.fetchone()[0]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with Peak(pids) as peak:
        started = time.perf_counter()
        with open(path, "rb") as handle:
            upload = UploadedFile(handle, name=path.name, size=size)
            scan = import_create(actor=None, network=network, file=upload)
        uploaded = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            cProfile.runctx(
                "tasks.import_run.apply(args=[scan.pk])",
                globals(),
                {"tasks": tasks, "scan": scan},
                sort=os.environ.get("BENCH_PROFILE_SORT", "cumtime"),
            )
        else:
            tasks.import_run.apply(args=[scan.pk])
        done = time.perf_counter()
    scan = Scan.objects.select_related("import_file").get(pk=scan.pk)
    rows = Detection.objects.filter(network=network).count()
    print(f"  upload service (stream to disk, SHA-256, format): {uploaded - started:6.2f} s")
    print(f"  import task (check pass + write pass):            {done - uploaded:6.2f} s")
    total = done - started
    print(
        f"  end to end: {total:.2f} s ({findings / total:,.0f} findings/s); aim < 15 s: "
        f"{'met' if total < 15 else 'MISSED'}"
    )
    print(f"  peak memory before the import (Django loaded): {baseline / 2**20:,.0f} MB")
    for name, value in peak.peak.items():
        print(f"  peak memory, {name}: {value / 2**20:,.0f} MB")
    worst = sum(peak.peak.values())
    print(
        f"  peak memory, all processes together: {worst / 2**20:,.0f} MB; aim < 300 MB: "
        f"{'met' if worst < 300 * 2**20 else 'MISSED'}"
    )
    print(
        f"  status {scan.status}, hosts {scan.import_file.hosts:,}, findings "
        f"{scan.import_file.findings:,}, detections in the network {rows:,}"
    )
    assert scan.status == "finished" and rows == findings, scan.status_reason


if __name__ == "__main__":
    main()
