"""Feeds benchmark, the database half: import of an NVD-sized feed, and the
re-evaluation of a large estate's stored inventories against it.

    .venv/bin/python bench/feeds_generate.py --records 250000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench \\
        .venv/bin/python bench/feeds_db_bench.py [--hosts 100000] [--services 3]
            [--feed bench/out/feeds/nvdcve-2.0-bench-250000.json] [--stages import,evaluate]

Runs in a throwaway test database (test_<name> on PostgreSQL, a temporary file
on SQLite), never in the real one. Stages, each timed and printed:

* ``import``: ``scans.services.feeds.feed_import_file`` of the NVD file (the
  checking pass and the writing pass: KB entries, records, products), wall and
  CPU time, and the process's peak RSS (ru_maxrss: Django and all). Aims of
  issue #16: under 5 minutes and under 500 MB for 250,000 records;
* ``reimport``: the same records again from a copy of the file (another SHA-256,
  so every record is read and compared: all unchanged);
* ``evaluate``: ``--hosts`` hosts of ``--services`` services each
  (feeds_generate.inventory) written into one network's inventory, then one run
  of kind "feed" (``scans.services.evaluation.feed_evaluate``): hosts/s,
  detections made. Aim: 100,000 hosts under 2 minutes on PostgreSQL;
* ``reevaluate``: the same run again (nothing changes: every match still open).

The machine is shared: wall time counts other processes' turns, CPU time is
this process's (the database server's work is in the wall time only).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["ENCLAVE_VAR_DIR"] = tempfile.mkdtemp(prefix="enclave-bench-")

from feeds_generate import DEFAULT_OUT, inventory  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, work):
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"  {label}: {wall:,.1f} s wall, {cpu:,.1f} s CPU, peak RSS {rss_mb():,.0f} MB")
    return result, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, default=DEFAULT_OUT / "nvdcve-2.0-bench-250000.json")
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--stages", default="import,reimport,evaluate,reevaluate")
    args = parser.parse_args()
    if not args.feed.exists():
        sys.exit(f"{args.feed} is missing: run bench/feeds_generate.py first.")

    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, connection)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args, connection) -> None:
    from scans.models import Detection, FeedCve, FeedCveProduct, HostService, Vulnerability
    from scans.services.evaluation import feed_evaluate, feed_evaluation_queue
    from scans.services.feeds import feed_import_file

    stages = set(args.stages.split(","))
    size = args.feed.stat().st_size
    print(
        f"Feeds database benchmark on {connection.vendor}: {args.feed.name} "
        f"({size / 1e6:,.0f} MB), {args.hosts:,} hosts x {args.services} services; "
        f"RSS at start {rss_mb():,.0f} MB (shared machine: read CPU beside wall)"
    )
    feed, took = timed("import", lambda: feed_import_file(path=args.feed, evaluate=False))
    print(
        f"    {feed.status}: {feed.records:,} records, {feed.changed}; "
        f"{feed.records / took:,.0f} records/s; KB entries {Vulnerability.objects.count():,}, "
        f"records {FeedCve.objects.count():,}, product rows {FeedCveProduct.objects.count():,}"
    )
    if feed.status != "finished":
        sys.exit(f"import failed: {feed.error}")
    if "reimport" in stages:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "again.json"
            shutil.copyfile(args.feed, copy)
            with open(copy, "ab") as out:
                out.write(b"\n")  # another SHA-256: read and compared record by record
            again, _ = timed("reimport", lambda: feed_import_file(path=copy, evaluate=False))
        print(f"    {again.status}: {again.changed}")
    if "evaluate" not in stages:
        return
    network = estate(args)
    print(f"    inventory: {HostService.objects.count():,} services")
    runs, took = timed("evaluate", lambda: evaluate(network, feed_evaluation_queue, feed_evaluate))
    run = runs[0]
    print(
        f"    {run.status}: {run.hosts_done:,} hosts ({run.hosts_done / took:,.0f} hosts/s), "
        f"{Detection.objects.count():,} detections, {run.hosts_found:,} hosts changed"
    )
    if "reevaluate" in stages:
        runs, took = timed(
            "reevaluate", lambda: evaluate(network, feed_evaluation_queue, feed_evaluate)
        )
        print(f"    {runs[0].status}: {runs[0].hosts_found:,} hosts changed")


def evaluate(network, queue, evaluate_run):
    runs = queue(feed=None, networks=[network], queue=False)
    for run in runs:
        evaluate_run(scan_id=run.pk)
        run.refresh_from_db()
    return runs


def estate(args):
    """A network of ``--hosts`` hosts with their services, written as ingest writes them."""
    from django.db import transaction
    from django.utils import timezone

    from core import iprange
    from core.results import HostResult, Service
    from networks.models import Network
    from scans.services.ingest import hosts_upsert, services_upsert

    network = Network.objects.create(name="Estate", address_space="10.0.0.0/8")
    rng = random.Random(11)
    first = iprange.parse_address("10.0.0.1")
    started = time.perf_counter()
    batch = 5_000
    for start in range(0, args.hosts, batch):
        hosts = []
        for n in range(start, min(start + batch, args.hosts)):
            ip = iprange.key_to_ip(iprange.to_key(first + n))
            hosts.append(
                HostResult(
                    ip=ip,
                    services=[
                        Service(
                            port=item["port"],
                            protocol=item["protocol"],
                            product=item["product"],
                            version=item["version"],
                            cpes=item["cpes"],
                            banner=item["banner"],
                        )
                        for item in inventory(rng, args.services)
                    ],
                )
            )
        with transaction.atomic():
            now = timezone.now()
            ids = hosts_upsert(network=network, hosts=hosts, now=now)
            by_key = {iprange.ip_key(h.ip): h for h in hosts}
            services_upsert(
                network=network,
                services={ids[key]: h.services for key, h in by_key.items()},
                now=now,
            )
    print(f"  estate written: {args.hosts:,} hosts in {time.perf_counter() - started:,.1f} s")
    return network


if __name__ == "__main__":
    main()
