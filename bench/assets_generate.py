"""Builds the Host Assets benchmark inventory on PostgreSQL.

With ``--findings-per-host 30``: 30,000,000 findings, a year of daily trend
rows per network and today's snapshot (the dashboard's scale, issue #13).

50 custom networks in 10 "families" of 5 (a merger: the five share a /16),
every network also on 192.168.1.0/24 (cloned small offices) plus a private
/16 of its own; 20,000 hosts each, 1,000,000 in all; a few tags, and findings
on some hosts. So every pair of networks overlaps (1,225 pairs), and pairs
inside a family share thousands of IPs.

    createdb -h 127.0.0.1 -U postgres enclave_bench_assets
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench_assets \\
        .venv/bin/python bench/assets_generate.py [--hosts-per-network 20000]

It wipes the assets tables and custom networks of that database first: never
point it at a database you care about.
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from assets import services as asset_services  # noqa: E402
from core import iprange  # noqa: E402
from networks import services as network_services  # noqa: E402
from networks.models import Network  # noqa: E402

NETWORKS = 50
FAMILY = 5
OFFICE = 200  # hosts per network in the shared 192.168.1.0/24
OS_NAMES = ["Debian 12", "Ubuntu 22.04", "Windows Server 2019", "Windows 10", "RHEL 9", "Cisco IOS"]
BENCH_QIDS = range(980001, 980061)  # 60 made-up KB entries, each with its own CVE


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def v4_key(value: int) -> str:
    return iprange.to_key(iprange.V4_OFFSET + value)


def v4_text(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def wipe() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE assets_host, assets_host_tags, assets_tag, assets_assetgroup, "
            "assets_assetgrouprange, assets_networkoverlap, scans_detection CASCADE"
        )
    Network.objects.custom().delete()
    for network_id in Network.objects.values_list("pk", flat=True):
        network_services.network_counters_set(
            network_id=network_id, hosts=0, open_findings={}, detections=0
        )


def make_networks() -> list[Network]:
    networks = []
    for n in range(NETWORKS):
        family = n // FAMILY
        space = f"10.{family}.0.0/16, 100.{64 + n}.0.0/16, 192.168.1.0/24"
        networks.append(
            network_services.network_create(
                actor=None, name=f"Bench {n:02d} (family {family})", address_space=space
            )
        )
    return networks


def host_rows(network: Network, n: int, per_network: int, rng: random.Random):
    family = n // FAMILY
    shared = int((per_network - OFFICE) * 0.75)
    own = per_network - OFFICE - shared
    values = [(10 << 24) + (family << 16) + o for o in rng.sample(range(1, 65535), shared)]
    values += [(100 << 24) + ((64 + n) << 16) + o for o in rng.sample(range(1, 65535), own)]
    values += [(192 << 24) + (168 << 16) + (1 << 8) + o for o in rng.sample(range(1, 255), OFFICE)]
    now = datetime.now(UTC)
    for value in values:
        seen = now - timedelta(days=rng.randrange(0, 400))
        yield (
            network.pk,
            v4_text(value),
            v4_key(value),
            f"h{value & 0xFFFF}.net{n}.example",
            f"H{n}X{value & 0xFFFF}"[:15],
            rng.choice(OS_NAMES),
            seen,
            now - timedelta(hours=rng.randrange(0, 240)),
        )


def copy_hosts(networks: list[Network], per_network: int, rng: random.Random) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            "COPY assets_host (network_id, ip, ip_key, dns, netbios, os, first_found, "
            "last_scanned) FROM STDIN"
        ) as copy:
            for n, network in enumerate(networks):
                for row in host_rows(network, n, per_network, rng):
                    copy.write_row(row)


def add_tags_and_findings(rng: random.Random) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO assets_tag (name, created_at) VALUES "
            "('pci', now()), ('dmz', now()), ('crown-jewels', now()), ('decommission', now())"
        )
        # About 5% of hosts carry a tag.
        cursor.execute(
            "INSERT INTO assets_host_tags (host_id, tag_id) "
            "SELECT h.id, t.id FROM assets_host h JOIN assets_tag t "
            "ON t.id = (SELECT min(id) FROM assets_tag) + (h.id % 4) WHERE h.id % 20 = 0"
        )
        for qid in BENCH_QIDS:
            cursor.execute(
                "INSERT INTO scans_vulnerability (qid, source, external_id, title, severity, kind,"
                " category, cves, check_name, diagnosis, consequence, solution, known_exploited)"
                " VALUES (%s, 'enclave', '', %s, %s, 'confirmed', 'Bench', %s, '',"
                " 'Bench finding.', '', 'Fix it.', false) ON CONFLICT (qid) DO NOTHING",
                [qid, f"Bench vulnerability {qid}", 1 + qid % 5, f'["CVE-2099-{qid}"]'],
            )
        # 10 findings on every 500th host (2,000 hosts, 20,000 detections).
        cursor.execute(
            "INSERT INTO scans_detection (network_id, host_id, qid, port, protocol, severity, "
            "status, first_found, last_found, times_found, results) "
            "SELECT h.network_id, h.id, v.qid, 443, 'tcp', v.severity, "
            "(ARRAY['new','active','reopened','fixed'])[1 + (h.id + v.qid) %% 4], "
            "now() - interval '30 days', now(), 3, 'Evidence for ' || v.qid "
            "FROM assets_host h CROSS JOIN LATERAL (SELECT qid, severity FROM scans_vulnerability "
            "WHERE qid BETWEEN %s AND %s ORDER BY qid LIMIT 10 OFFSET (h.id %% 10)) v "
            "WHERE h.id %% 500 = 0",
            [BENCH_QIDS[0], BENCH_QIDS[-1]],
        )
        cursor.execute(
            "SELECT network_id, severity, count(*) FROM scans_detection "
            "WHERE status IN ('new','active','reopened') GROUP BY network_id, severity"
        )
        findings: dict[int, dict[str, int]] = {}
        for network_id, severity, total in cursor.fetchall():
            findings.setdefault(network_id, {})[str(severity)] = total
    for network_id, counts in findings.items():
        network_services.network_counters_set(network_id=network_id, open_findings=counts)


def add_many_findings(per_host: int) -> None:
    """``per_host`` findings on every host (30 x 1,000,000 = 30,000,000), written by
    the database in host order, network by network; the secondary indexes are
    dropped first and built again after (far faster than keeping them up)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'scans_detection' "
            "AND indexname NOT LIKE '%%pkey' AND indexdef NOT LIKE 'CREATE UNIQUE%%'"
        )
        secondary = cursor.fetchall()
        for name, _ in secondary:
            cursor.execute(f'DROP INDEX "{name}"')
        # The host foreign key is checked at commit: 30,000,000 queued checks of
        # rows made from assets_host itself. Bench data only: valid by construction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks queued so far run now
        cursor.execute("ALTER TABLE scans_detection DISABLE TRIGGER ALL")
        cursor.execute("SELECT id FROM networks_network ORDER BY id")
        for (network_id,) in cursor.fetchall():
            cursor.execute(
                "INSERT INTO scans_detection (network_id, host_id, qid, port, protocol, severity,"
                " status, first_found, last_found, times_found, fixed_at, results)"
                " SELECT h.network_id, h.id, v.qid, 443, 'tcp', v.severity,"
                " s.status, s.first_found, now() - (h.id %% 72) * interval '1 hour', 2,"
                " CASE WHEN s.status = 'fixed' THEN s.first_found + interval '5 days' END,"
                " 'Evidence for ' || v.qid"
                " FROM assets_host h CROSS JOIN LATERAL (SELECT qid, severity FROM"
                "  scans_vulnerability WHERE qid BETWEEN %s AND %s ORDER BY qid"
                "  LIMIT %s OFFSET (h.id %% (%s - %s))) v"
                " CROSS JOIN LATERAL (SELECT"
                "  (ARRAY['new','active','active','active','reopened','fixed'])"
                "   [1 + (h.id + v.qid) %% 6] AS status,"
                "  now() - ((h.id + v.qid) %% 365) * interval '1 day' AS first_found) s"
                " WHERE h.network_id = %s ORDER BY h.id, v.qid",
                [
                    BENCH_QIDS[0],
                    BENCH_QIDS[-1],
                    per_host,
                    len(BENCH_QIDS),
                    per_host,
                    network_id,
                ],
            )
            log(f"  network {network_id}: {cursor.rowcount:,} findings")
        cursor.execute("ALTER TABLE scans_detection ENABLE TRIGGER ALL")
        for _name, definition in secondary:
            cursor.execute(definition)
        log(f"  {len(secondary)} secondary indexes built again")


def history() -> None:
    """A year of daily trend rows per network, and the stored exposure, as the
    hourly snapshot keeps them (the dashboard and the grouped view read these)."""
    from insights import services as insight_services

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM insights_networktrend")
        cursor.execute(
            "INSERT INTO insights_networktrend (network_id, date, hosts, open_by_severity,"
            " open_by_status, new, fixed, mttr_days_by_severity, backfilled, updated_at)"
            " SELECT n.id, d::date, n.host_count, n.open_findings, '{}', (n.id * 7 + x) %% 500,"
            " (n.id * 3 + x) %% 400, '{}', true, now()"
            " FROM networks_network n CROSS JOIN generate_series(0, 364) x"
            " CROSS JOIN LATERAL (SELECT current_date - x AS d) day",
            [],
        )
    started = time.perf_counter()
    for network in Network.objects.all():
        insight_services.trends_snapshot(network=network)
    log(f"  today's snapshot of every network in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts-per-network", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--findings-per-host",
        type=int,
        default=0,
        help="Findings on every host (30 makes 30,000,000); 0: 10 on every 500th host.",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (enclave_bench_assets).")
    log(f"database {settings.DATABASES['default']['NAME']}")
    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with transaction.atomic():
        wipe()
        networks = make_networks()
        log(f"{len(networks)} networks")
        copy_hosts(networks, args.hosts_per_network, rng)
        log(f"{len(networks) * args.hosts_per_network:,} hosts copied")
        add_tags_and_findings(rng)
        if args.findings_per_host:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM scans_detection")
            add_many_findings(args.findings_per_host)
        asset_services.host_counts_refresh()
        from scans.services.ingest import network_counters_refresh

        for network in Network.objects.all():
            network_counters_refresh(network=network)
        log("tags, findings and host counts")
    with connection.cursor() as cursor:
        # VACUUM too: with autovacuum off (as here) counts get no index-only scans.
        cursor.execute("VACUUM ANALYZE")
    history()
    t = time.perf_counter()
    pairs = asset_services.overlaps_refresh()
    log(f"overlaps_refresh: {pairs} pairs counted in {time.perf_counter() - t:.1f} s")
    User.objects.filter(username="bench").delete()
    User.objects.create_user(username="bench", password="bench-password-1", role=Role.READER)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
