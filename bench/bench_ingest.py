"""Ingest throughput: 10,000 hosts x 30 detections through scans.services.slice_ingest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench \\
        .venv/bin/python bench/bench_ingest.py [--hosts 10000] [--per-host 30] [--slice 1000]

Runs in a throwaway test database (test_<name> on PostgreSQL, a temporary file
on SQLite), never in the real one. Two scans of the same hosts: the first
creates every detection (New), the second sees them again (Active) and so
updates every row. Aim (issue 4): 20,000 detections/s or more on PostgreSQL.
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
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, connection)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def results_for(scan, per_host: int, qids: list[int], checks: list[str]):
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
        f"detections = {total:,} rows, {args.slice:,} hosts per slice"
    )
    parts = max(1, args.hosts // args.slice)
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
        batches = results_for(scan, args.per_host, qids, checks)
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
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
        print(
            f"  {label}: {elapsed:6.2f} s  {total / elapsed:10,.0f} detections/s "
            f"({args.hosts / elapsed:,.0f} hosts/s)"
        )
    network.refresh_from_db()
    rows = Detection.objects.filter(network=network).count()
    statuses = set(Detection.objects.values_list("status", flat=True).distinct())
    print(
        f"  rows: {rows:,}, statuses: {sorted(statuses)}, network.host_count {network.host_count:,}"
    )
    assert rows == total and statuses == {"active"}, "ingest did not write what it was given"


if __name__ == "__main__":
    main()
