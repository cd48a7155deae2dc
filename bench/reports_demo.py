"""Demo reports: made-up findings in two overlapping networks, rendered as real
PDF (and CSV/HTML) reports, for looking at the layout and for the README's images.

Nothing here is scanned: the hosts, addresses and evidence are invented
(documentation-style names under ``example``), the vulnerabilities are the
KnowledgeBase Enclave ships. Runs on a throw-away SQLite database of its own.

    .venv/bin/python bench/reports_demo.py --out /tmp/demo            # PDFs, both sorts
    .venv/bin/python bench/reports_demo.py --out /tmp/demo --png      # and pages as PNG
    .venv/bin/python bench/reports_demo.py --out docs --readme        # the README's images
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Hosts per network: (last octets of 10.0.x.y, DNS name, NetBIOS, OS). 10.0.0.5 and
# 10.0.0.7 are in both networks: two hosts each, reported apart.
ACME = [
    ("0.5", "web.acme.example", "ACME-WEB", "Ubuntu 22.04"),
    ("0.6", "mail.acme.example", "", "Debian 12"),
    ("0.7", "files.acme.example", "ACME-FS01", "Windows Server 2019"),
    ("0.12", "intranet.acme.example", "", "Ubuntu 20.04"),
    ("1.20", "vpn.acme.example", "", "FreeBSD 13"),
    ("1.21", "build.acme.example", "", "Debian 11"),
]
GLOBEX = [
    ("0.5", "db.globex.example", "GLOBEX-DB", "CentOS 7"),
    ("0.7", "intranet.globex.example", "GLOBEX-WWW", "Windows Server 2012"),
    ("0.9", "legacy-ftp.globex.example", "", "Debian 8"),
    ("0.14", "printers.globex.example", "", "Embedded Linux"),
]

EVIDENCE = {
    "tls": "Certificate subject: CN={dns}\nNot after: 2026-03-01 00:00:00 UTC\n"
    "Protocols accepted: TLSv1.0, TLSv1.1, TLSv1.2",
    "ssh": "SSH-2.0-OpenSSH_7.4\nKey exchange: diffie-hellman-group1-sha1, "
    "diffie-hellman-group14-sha1",
    "web": "GET / HTTP/1.1 -> 200 OK\nServer: Apache/2.4.29 (Ubuntu)\n"
    "Missing headers: Strict-Transport-Security, Content-Security-Policy",
    "default": "Banner: {dns} service answered on port {port}",
    "info": "Seen on {dns}: OpenSSH 7.4, Apache 2.4.29, vsftpd 3.0.3",
}


def setup(workdir: Path, org: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'demo.sqlite3'}"
    os.environ["ENCLAVE_MEDIA_ROOT"] = str(workdir / "media")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["ENCLAVE_ORG_NAME"] = org
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_data(seed: int = 7):
    """Two overlapping networks, their hosts and findings, a month of history."""
    from django.utils import timezone

    from accounts.models import Role, User
    from assets.models import Host
    from networks.models import Network
    from scans.models import Detection, Vulnerability
    from scans.services import kb_load

    kb_load()
    rng = random.Random(seed)
    now = timezone.now()
    kb = [
        v
        for v in Vulnerability.objects.order_by("qid")
        if v.diagnosis and v.solution and v.severity >= 2
    ]
    info = list(Vulnerability.objects.filter(kind="info").order_by("qid"))[:3]
    user, _ = User.objects.get_or_create(
        username="auditor", defaults={"role": Role.MANAGER, "email": "auditor@example.com"}
    )
    for name, hosts in (("Acme Corp", ACME), ("Globex (acquired)", GLOBEX)):
        network = Network.objects.create(
            name=name, address_space="10.0.0.0/16", description="Demo network (made up)"
        )
        for octets, dns, netbios, os_name in hosts:
            host = Host(network=network, ip=f"10.0.{octets}", dns=dns, netbios=netbios, os=os_name)
            host.ip_key = __import__("core.iprange", fromlist=["ip_key"]).ip_key(host.ip)
            host.save()
            chosen = rng.sample(kb, k=rng.randint(5, 9)) + info[: rng.randint(1, 3)]
            for v in chosen:
                port = rng.choice([22, 80, 443, 445, 3389, 8443]) if v.kind != "info" else 0
                kind = (
                    "info"
                    if not port
                    else "tls"
                    if "TLS" in v.title or "SSL" in v.title or "ertificate" in v.title
                    else "ssh"
                    if "SSH" in v.title
                    else "web"
                    if "HTTP" in v.title or "header" in v.title.lower()
                    else "default"
                )
                status = rng.choices(["new", "active", "reopened", "fixed"], weights=[3, 6, 1, 2])[
                    0
                ]
                first = now - timedelta(days=rng.randint(2, 120))
                Detection.objects.create(
                    network=network,
                    host=host,
                    vulnerability=v,
                    severity=v.severity,
                    port=port,
                    protocol="tcp" if port else "",
                    status=status,
                    first_found=first,
                    last_found=now - timedelta(days=rng.randint(0, 2)),
                    times_found=rng.randint(1, 30),
                    fixed_at=now - timedelta(days=rng.randint(1, 20))
                    if status == "fixed"
                    else None,
                    results=EVIDENCE[kind].format(dns=dns, port=port),
                )
    return user


def render_all(user, out: Path, *, formats: list[str]) -> dict[str, Path]:
    from django.utils import timezone

    from reports import services
    from reports.models import ReportStatus

    made = {}
    variants = [
        ("host", False),
        ("vulnerability", False),
        ("host", True),
        ("vulnerability", True),
    ]
    for fmt in formats:
        for sort, grouped in variants:
            report = services.report_create(
                actor=user,
                title=f"Quarterly vulnerability report ({'by ' + sort})",
                format=fmt,
                sort=sort,
                targets="10.0.0.0/16",
                network="all",
                statuses=["new", "active", "reopened", "fixed"],
                group_by_network=grouped,
                period_start=timezone.now() - timedelta(days=30),
            )
            report = services.report_generate(report=report)
            assert report.status == ReportStatus.FINISHED, report.error
            name = f"demo-by-{sort}{'-grouped' if grouped else ''}.{fmt}"
            shutil.copy(report.file.path, out / name)
            made[name] = out / name
            print(f"{out / name}: {report.findings_count} findings, {report.size:,} bytes")
    return made


def pages_png(pdf: Path, prefix: Path, *, dpi: int, first: int = 1, last: int | None = None):
    command = ["pdftoppm", "-png", "-r", str(dpi), "-f", str(first)]
    if last:
        command += ["-l", str(last)]
    subprocess.run([*command, str(pdf), str(prefix)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--png", action="store_true", help="every page of every PDF as PNG")
    parser.add_argument("--dpi", type=int, default=60)
    parser.add_argument(
        "--readme",
        action="store_true",
        help="only the README's images: docs/report-by-host.png, docs/report-by-vulnerability.png",
    )
    parser.add_argument("--formats", default="pdf", help="comma separated: pdf,csv,html")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="enclave-demo-reports-"))
    try:
        setup(workdir, org="Example Holdings (demo data)")
        user = make_data()
        if args.readme:
            pdfs = render_all(user, workdir, formats=["pdf"])
            for sort in ("host", "vulnerability"):
                pdf = pdfs[f"demo-by-{sort}-grouped.pdf"]
                # The first page of findings: after the cover, the contents and the summaries.
                from pypdf import PdfReader

                reader = PdfReader(pdf)
                wanted = next(
                    i
                    for i, page in enumerate(reader.pages, start=1)
                    if "Findings by" in (page.extract_text() or "")
                    and "Contents" not in (page.extract_text() or "")
                )
                prefix = workdir / f"page-{sort}"
                pages_png(pdf, prefix, dpi=args.dpi, first=wanted, last=wanted)
                png = next(workdir.glob(f"page-{sort}*.png"))
                shutil.copy(png, args.out / f"report-by-{sort}.png")
                print(f"{args.out / f'report-by-{sort}.png'}: page {wanted} of {pdf.name}")
            cover = pdfs["demo-by-host-grouped.pdf"]
            pages_png(cover, workdir / "cover", dpi=args.dpi, first=1, last=1)
            shutil.copy(next(workdir.glob("cover*.png")), args.out / "report-cover.png")
            print(f"{args.out / 'report-cover.png'}: page 1")
            return
        made = render_all(user, args.out, formats=args.formats.split(","))
        if args.png:
            for name, path in made.items():
                if name.endswith(".pdf"):
                    pages_png(path, args.out / path.stem, dpi=args.dpi)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
