"""Ingest throughput: 10,000 hosts x 30 detections through scans.services.slice_ingest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench \\
        .venv/bin/python bench/bench_ingest.py [--hosts 10000] [--per-host 30] [--slice 1000]

Runs in a throwaway test database (test_<name> on PostgreSQL, a temporary file
on SQLite), never in the real one. Two scans of the same hosts: the first
creates every detection (New), the second sees them again (Active) and so
updates every row. Then, in the same run, a raw binary COPY of the same rows into
a table of the detection table's shape and unique key: the limit. Aims: new
detections at 0.35x that raw COPY rate or better, updates at 0.25x (issue 12).
Nothing is scanned: results are made up here and fed to ingest directly.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    # SQLite: keep the test database away from var/test.sqlite3 (pytest uses it).
    os.environ["ENCLAVE_VAR_DIR"] = tempfile.mkdtemp(prefix="enclave-bench-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--per-host", type=int, default=30)
    parser.add_argument("--slice", type=int, default=1_000, help="hosts per slice (batch)")
    parser.add_argument(
        "--services",
        type=int,
        default=0,
        help="open ports per host with nmap's service facts (the service inventory ingest keeps)",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, connection)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def bench_services(count: int, ip: str) -> list:
    """``count`` open ports with product, version, CPE and banner (as -sV and the
    checks report them)."""
    from core.results import Service

    products = [
        ("ssh", "OpenSSH", "8.9p1 Ubuntu 3ubuntu0.6", "cpe:/a:openbsd:openssh:8.9p1"),
        ("http", "nginx", "1.18.0", "cpe:/a:igor_sysoev:nginx:1.18.0"),
        ("mysql", "MySQL", "8.0.32-0ubuntu0.20.04.2", "cpe:/a:mysql:mysql:8.0.32"),
    ]
    out = []
    for n in range(count):
        name, product, version, cpe = products[n % len(products)]
        out.append(
            Service(
                port=1000 + n,
                protocol="tcp",
                name=name,
                product=product,
                version=version,
                extrainfo="protocol 2.0",
                cpes=[cpe],
                banner=f"{product} {version} on {ip}",
            )
        )
    return out


def results_for(scan, per_host: int, qids: list[int], checks: list[str], services: int = 0):
    from core import iprange
    from core.results import Finding, HostResult, SliceResult

    out = []
    for piece in scan.slices.order_by("number"):
        ips = iprange.iter_addresses(iprange.parse(piece.targets), limit=piece.addresses)
        hosts = [
            HostResult(
                ip=ip,
                os="Linux 5.x",
                findings=[
                    Finding(qid=qid, port=443, protocol="tcp", results=f"evidence {qid} on {ip}")
                    for qid in qids[:per_host]
                ],
                checks_run=checks,
                services=bench_services(services, ip),
            )
            for ip in ips
        ]
        out.append(SliceResult(scan.pk, piece.pk, "bench", "", "", hosts=hosts))
    return out


def run(args, connection) -> None:
    from django.utils import timezone

    from core import iprange
    from networks.models import Network, ScannerAppliance
    from scans import services
    from scans.models import Detection, ScanSlice, Vulnerability
    from scans.services.launch import split_ranges

    network = Network.objects.create(name="Bench", address_space="10.0.0.0/8")
    network.address_ranges.create(
        start_key=iprange.ip_key("10.0.0.0"), end_key=iprange.ip_key("10.255.255.255")
    )
    appliance = ScannerAppliance.objects.create(
        name="bench", network=network, last_seen=timezone.now()
    )
    kb = list(Vulnerability.objects.order_by("qid")[: args.per_host])
    if len(kb) < args.per_host:
        sys.exit(f"The KB has only {len(kb)} QIDs; ask for --per-host {len(kb)} or fewer.")
    qids = [v.qid for v in kb]
    checks = sorted({v.check_name for v in kb if v.check_name})
    first = iprange.IPRange(iprange.parse_address("10.0.0.1"), 0)
    targets = iprange.IPRange(first.start, first.start + args.hosts - 1)
    total = args.hosts * args.per_host
    print(
        f"Ingest benchmark on {connection.vendor}: {args.hosts:,} hosts x {args.per_host} "
        f"detections = {total:,} rows, {args.slice:,} hosts per slice, "
        f"{args.services} services per host"
    )
    parts = max(1, args.hosts // args.slice)
    rates: list[float] = []
    for label in ("first scan (all New: inserts)", "second scan (all Active: updates)"):
        # The slices are made here rather than by scan_launch: nothing is sent.
        scan = services.scan_launch(
            actor=None,
            title=label,
            type="vulnerability",
            network=network,
            appliance=appliance,
            targets="10.0.0.1",
        )
        scan.slices.all().delete()
        for number, chunk in enumerate(split_ranges([targets], parts), start=1):
            ScanSlice.objects.create(
                scan=scan,
                number=number,
                targets=iprange.format_ranges(chunk),
                addresses=iprange.count(chunk),
                appliance=appliance,
                status="dispatched",
            )
        batches = results_for(scan, args.per_host, qids, checks, args.services)
        started = time.perf_counter()
        if os.environ.get("BENCH_STATEMENTS"):
            with connection.execute_wrapper(statements):
                for result in batches:
                    services.slice_ingest(result=result)
            statements.report(time.perf_counter() - started)
        elif os.environ.get("BENCH_PROFILE"):
            import cProfile

            cProfile.runctx(
                "for r in batches: services.slice_ingest(result=r)",
                globals(),
                {"batches": batches, "services": services},
                sort=os.environ.get("BENCH_PROFILE_SORT", "cumtime"),
            )
        else:
            for result in batches:
                services.slice_ingest(result=result)
        elapsed = time.perf_counter() - started
        rates.append(total / elapsed)
        print(
            f"  {label}: {elapsed:6.2f} s  {total / elapsed:10,.0f} detections/s "
            f"({args.hosts / elapsed:,.0f} hosts/s)"
        )
    rates.append(raw_copy_rate(connection, network, qids, args.per_host))
    new_rate, update_rate, copy_rate = rates
    print(
        f"  raw binary COPY of the same {total:,} rows into a detection-shaped table with its"
        f" unique key: {copy_rate:10,.0f} rows/s"
    )
    print(
        f"  ratio to raw COPY: new {new_rate / copy_rate:.2f}x (aim 0.35x), "
        f"updates {update_rate / copy_rate:.2f}x (aim 0.25x)"
    )
    network.refresh_from_db()
    rows = Detection.objects.filter(network=network).count()
    statuses = set(Detection.objects.values_list("status", flat=True).distinct())
    print(
        f"  rows: {rows:,}, statuses: {sorted(statuses)}, network.host_count {network.host_count:,}"
    )
    assert rows == total and statuses == {"active"}, "ingest did not write what it was given"


class StatementTimes:
    """BENCH_STATEMENTS=1: time spent per kind of SQL statement (its first words)."""

    def __init__(self):
        self.times: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = " ".join(sql.split()[:6])[:70]
            self.times.setdefault(words, []).append(time.perf_counter() - started)

    def report(self, total: float) -> None:
        spent = sorted(self.times.items(), key=lambda kv: -sum(kv[1]))
        print(f"    statements: {sum(len(t) for _, t in spent):,} in {total:.2f} s")
        for words, times in spent[:14]:
            print(f"    {sum(times):7.2f} s {len(times):6,}x  {words}")
        self.times.clear()


statements = StatementTimes()


def raw_copy_rate(connection, network, qids: list[int], per_host: int) -> float:
    """Rows/s of a raw binary COPY of the same rows (the hosts the scans made, the same
    QIDs, ports and evidence) into a fresh table of the detection table's shape with
    its unique key: the limit ingest is measured against, in the same run. On SQLite
    (no COPY) the same rows go through executemany."""
    from django.db import transaction
    from django.utils import timezone

    from assets.models import Host
    from scans.models import Detection

    table = Detection._meta.db_table
    hosts = list(Host.objects.filter(network=network).values_list("id", "ip").order_by("id"))
    now = timezone.now()
    rows = [
        (
            network.pk,
            host_id,
            qid,
            443,
            "tcp",
            3,
            "new",
            now,
            now,
            1,
            None,
            f"evidence {qid} on {ip}",
        )
        for host_id, ip in hosts
        for qid in qids[:per_host]
    ]
    columns = (
        "network_id, host_id, qid, port, protocol, severity, status, first_found, last_found,"
        " times_found, fixed_at, results"
    )
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_detection")
        if postgres:
            cursor.execute(
                f"CREATE TABLE bench_raw_detection (LIKE {table} INCLUDING DEFAULTS"
                " INCLUDING IDENTITY)"
            )
            cursor.execute("ALTER TABLE bench_raw_detection ADD PRIMARY KEY (id)")
        else:
            cursor.execute(
                "CREATE TABLE bench_raw_detection (id integer PRIMARY KEY AUTOINCREMENT,"
                " network_id bigint, host_id bigint, qid integer, port integer,"
                " protocol varchar(8), severity smallint, status varchar(16),"
                " first_found datetime, last_found datetime, times_found integer,"
                " fixed_at datetime, results text)"
            )
        cursor.execute(
            "CREATE UNIQUE INDEX bench_raw_detection_unique ON bench_raw_detection"
            " (host_id, qid, port, protocol)"
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            statement = f"COPY bench_raw_detection ({columns}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(statement) as copy:
                copy.set_types(
                    ["int8", "int8", "int4", "int4", "varchar", "int2", "varchar"]
                    + ["timestamptz", "timestamptz", "int4", "timestamptz", "text"]
                )
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 12)
            cursor.executemany(
                f"INSERT INTO bench_raw_detection ({columns}) VALUES ({marks})", rows
            )
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_detection")
    return len(rows) / elapsed


if __name__ == "__main__":
    main()
