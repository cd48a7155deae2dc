"""Builds the Host Assets benchmark inventory on PostgreSQL.

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
BENCH_QIDS = range(980001, 980021)


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
        network_services.network_counters_set(network_id=network_id, hosts=0, open_findings={})


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
                "INSERT INTO scans_vulnerability (qid, title, severity, kind, category, cves, "
                "check_name, diagnosis, consequence, solution) VALUES (%s, %s, %s, 'confirmed', "
                "'Bench', '[]', '', 'Bench finding.', '', 'Fix it.') ON CONFLICT (qid) DO NOTHING",
                [qid, f"Bench vulnerability {qid}", 1 + qid % 5],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts-per-network", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
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
        asset_services.host_counts_refresh()
        log("tags, findings and host counts")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    t = time.perf_counter()
    pairs = asset_services.overlaps_refresh()
    log(f"overlaps_refresh: {pairs} pairs counted in {time.perf_counter() - t:.1f} s")
    User.objects.filter(username="bench").delete()
    User.objects.create_user(username="bench", password="bench-password-1", role=Role.READER)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
