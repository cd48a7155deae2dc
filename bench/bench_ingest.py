"""Ingest throughput: 10,000 hosts x 30 detections through scans.services.slice_ingest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench \\
        .venv/bin/python bench/bench_ingest.py [--hosts 10000] [--per-host 30] [--slice 1000]

Runs in a throwaway test database (test_<name> on PostgreSQL, a temporary file
on SQLite), never in the real one. Two scans of the same hosts: the first
creates every detection (New), the second sees them again (Active) and so
updates every row. Then, in the same run, a raw binary COPY of the same rows into
a table of the detection table's shape and unique key: the limit. Aims: new
detections at 0.35x that raw COPY rate or better, updates at 0.25x (issue 12).
For context (PostgreSQL), the same COPY into the bare key's table with only the
three list indexes the Vulnerabilities pages cannot do without (issue 13's
aims: worst first across networks, in one network, for one QID), and into a
copy of the detection table with all its indexes and foreign keys: what index
upkeep costs any writer of these rows, however it writes them.
With --key-only, ingest itself writes into a detection table stripped to its
primary and unique key (in the throwaway database): ingest's own work, apart
from the upkeep of the indexes the pages read.
Each pass prints the CPU seconds of this process and of its PostgreSQL backend
(on a shared machine the wall clock alone misleads).
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
    parser.add_argument(
        "--key-only",
        action="store_true",
        help="ingest into a detection table with only its primary and unique key (PostgreSQL):"
        " ingest's own work, without the upkeep of the indexes the pages read",
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

    if args.key_only:
        if connection.vendor != "postgresql":
            sys.exit("--key-only is for PostgreSQL.")
        # In the throwaway database only: every index of the detection table
        # but its primary and unique key, and its foreign key, go.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'scans_detection'"
                " AND indexname NOT IN ('scans_detection_pkey', 'detection_unique')"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'scans_detection'::regclass"
                " AND contype = 'f'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE scans_detection DROP CONSTRAINT {name}")
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
        + (
            "; detection table with its primary and unique key only (--key-only)"
            if args.key_only
            else ""
        )
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
        cpu = cpu_seconds(connection)
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
            f"({args.hosts / elapsed:,.0f} hosts/s); {cpu_spent(connection, cpu)}"
        )
    copy = raw_copy_rates(connection, network, qids, args.per_host, full=not args.key_only)
    new_rate, update_rate = rates
    limit, cpu = copy["key"]
    print(
        f"  raw binary COPY of the same {total:,} rows into a detection-shaped table with its"
        f" unique key: {limit:10,.0f} rows/s; {cpu}"
    )
    print(
        f"  ratio to raw COPY: new {new_rate / limit:.2f}x (aim 0.35x), "
        f"updates {update_rate / limit:.2f}x (aim 0.25x)"
    )
    if "lists" in copy:
        # Context: the floor any design with the pages' list indexes stands on.
        lists, cpu = copy["lists"]
        print(
            f"  context: raw binary COPY into the bare key's table with the three list"
            f" indexes the Vulnerabilities pages read ({', '.join(LIST_INDEXES)}):"
            f" {lists:10,.0f} rows/s ({lists / limit:.2f}x the bare key's); {cpu}"
        )
    if "full" in copy:
        # Context: how much of the gap is index and foreign-key upkeep.
        full, cpu = copy["full"]
        print(
            f"  context: raw binary COPY into a table with every index and foreign key of"
            f" the detection table: {full:10,.0f} rows/s ({full / limit:.2f}x the bare"
            f" key's); {cpu}; ingest to it: new {new_rate / full:.2f}x,"
            f" updates {update_rate / full:.2f}x"
        )
    network.refresh_from_db()
    rows = Detection.objects.filter(network=network).count()
    statuses = set(Detection.objects.values_list("status", flat=True).distinct())
    print(
        f"  rows: {rows:,}, statuses: {sorted(statuses)}, network.host_count {network.host_count:,}"
    )
    assert rows == total and statuses == {"active"}, "ingest did not write what it was given"


def cpu_seconds(connection) -> tuple[float, float | None]:
    """CPU seconds used so far by this process and by its database server process
    (PostgreSQL on this machine: read from /proc; None elsewhere). The machine is
    shared with other benchmarks, so wall-clock rates alone are noisy."""
    server = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            server = None  # the server runs elsewhere
    return time.process_time(), server


def cpu_spent(connection, before: tuple[float, float | None]) -> str:
    python, server = cpu_seconds(connection)
    spent = f"CPU: Python {python - before[0]:.2f} s"
    if server is not None and before[1] is not None:
        spent += f", PostgreSQL {server - before[1]:.2f} s"
    return spent


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


RAW_TABLE = "bench_raw_detection"
RAW_COLUMNS = (
    "network_id, host_id, qid, port, protocol, severity, status, first_found, last_found,"
    " times_found, fixed_at, results"
)


def raw_copy_rates(
    connection, network, qids: list[int], per_host: int, *, full: bool = True
) -> dict[str, tuple[float, str]]:
    """Rows/s (and CPU seconds) of a raw binary COPY of the same rows (the hosts the
    scans made, the same QIDs, ports and evidence) into fresh tables, in the same run:

    * ``"key"``: the detection table's shape with only its primary and unique key,
      the limit issue 12 measures ingest against;
    * ``"lists"`` (PostgreSQL): the bare key's table plus LIST_INDEXES, as the
      detection table defines them;
    * ``"full"`` (PostgreSQL): ``LIKE scans_detection INCLUDING ALL`` plus its foreign
      keys, so every index and check the real table has: what any writer of these
      rows pays, however it writes them.

    On SQLite (no COPY, no LIKE) only ``"key"``, through executemany."""
    from django.utils import timezone

    from assets.models import Host

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
    kinds = ("key", "lists", "full") if full and connection.vendor == "postgresql" else ("key",)
    rates = {}
    for kind in kinds:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
            _raw_table(cursor, connection.vendor, full=kind == "full")
            if kind == "lists":
                _list_indexes(cursor)
        cpu = cpu_seconds(connection)
        rates[kind] = (len(rows) / _raw_copy(connection, rows), cpu_spent(connection, cpu))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {RAW_TABLE}")
    return rates


def _raw_table(cursor, vendor: str, *, full: bool) -> None:
    from scans.models import Detection

    table = Detection._meta.db_table
    if vendor != "postgresql":
        cursor.execute(
            f"CREATE TABLE {RAW_TABLE} (id integer PRIMARY KEY AUTOINCREMENT,"
            " network_id bigint, host_id bigint, qid integer, port integer,"
            " protocol varchar(8), severity smallint, status varchar(16),"
            " first_found datetime, last_found datetime, times_found integer,"
            " fixed_at datetime, results text)"
        )
    elif full:
        cursor.execute(f"CREATE TABLE {RAW_TABLE} (LIKE {table} INCLUDING ALL)")
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        for (definition,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {RAW_TABLE} ADD {definition}")
        return
    else:
        cursor.execute(
            f"CREATE TABLE {RAW_TABLE} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        cursor.execute(f"ALTER TABLE {RAW_TABLE} ADD PRIMARY KEY (id)")
    cursor.execute(
        f"CREATE UNIQUE INDEX {RAW_TABLE}_unique ON {RAW_TABLE} (host_id, qid, port, protocol)"
    )


# The detection table's indexes behind the Vulnerabilities list's default order
# (worst first, newest first) across networks, in one network and for one QID.
LIST_INDEXES = ("detection_open_by_severity", "detection_open_by_network", "detection_open_by_qid")


def _list_indexes(cursor) -> None:
    """Adds LIST_INDEXES to the raw table, each as the detection table defines it."""
    from scans.models import Detection

    table = Detection._meta.db_table
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname = ANY(%s)",
        [table, list(LIST_INDEXES)],
    )
    found = dict(cursor.fetchall())
    assert set(found) == set(LIST_INDEXES), f"the detection table has no {LIST_INDEXES}"
    for name, definition in found.items():
        definition = definition.replace(f" {name} ON ", f" {RAW_TABLE}_{name} ON ", 1)
        cursor.execute(definition.replace(f"public.{table} ", f"public.{RAW_TABLE} ", 1))


def _raw_copy(connection, rows: list[tuple]) -> float:
    """Seconds to write ``rows`` into the raw table in one transaction."""
    from django.db import transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            statement = f"COPY {RAW_TABLE} ({RAW_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(statement) as copy:
                copy.set_types(
                    ["int8", "int8", "int4", "int4", "varchar", "int2", "varchar"]
                    + ["timestamptz", "timestamptz", "int4", "timestamptz", "text"]
                )
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 12)
            cursor.executemany(f"INSERT INTO {RAW_TABLE} ({RAW_COLUMNS}) VALUES ({marks})", rows)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
