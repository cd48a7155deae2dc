"""Shared set-up for the report benchmarks: their own PostgreSQL database
(``enclave_bench_reports``), data made with COPY, and a peak-memory sampler that
counts the benchmark process and its worker processes together."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A database of the report benchmarks' own (BENCH_REPORTS_DB to choose another).
BENCH_DB = os.environ.get("BENCH_REPORTS_DB", "enclave_bench_reports")
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def setup_django(media_root: str) -> None:
    """Points Django at the benchmark database (created and migrated if needed)."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DB}"
    os.environ["ENCLAVE_MEDIA_ROOT"] = media_root
    # report_create enqueues the Celery task on commit; the benchmark renders in
    # this process instead, so that message goes to a broker that forgets it.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def reset_data() -> None:
    """Empties what the benchmarks fill (this database is theirs alone)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reports_report, scans_detection, assets_host_tags, assets_host "
            "RESTART IDENTITY CASCADE"
        )
        cursor.execute("DELETE FROM assets_assetgrouprange")
        cursor.execute("DELETE FROM assets_assetgroup")
        cursor.execute("DELETE FROM scans_vulnerability WHERE qid >= 800000 AND qid < 900000")
        cursor.execute("DELETE FROM networks_network WHERE name LIKE 'Bench %%'")


# Details and evidence of the lengths real checks write (the shipped KB's
# threat texts run to 300-500 characters; evidence is a few lines of banner,
# certificate or header facts), so the benchmark lays out what reports print.
DIAGNOSIS = (
    "The service announced a version of the component that is affected by this issue: "
    "a crafted request to the listening port makes it read past the end of a buffer. "
    "The version was read from the service banner. Linux distributions often fix such "
    "issues in their packages without changing the upstream version, so confirm with "
    "the package's changelog or security tracker before acting."
)
CONSEQUENCE = (
    "A remote attacker who can reach the port may crash the service or read memory "
    "holding credentials of other sessions."
)
SOLUTION = (
    "Upgrade the component to the fixed release (or later), or install your "
    "distribution's security update; restrict the port to the hosts that need it."
)
# COPY text: a backslash-n is a newline inside the value.
EVIDENCE = (
    "Banner: bench-httpd/2.4.29 (Unix) OpenSSL/1.0.2k\\n"
    "Certificate subject: CN=host.bench.example, not after 2026-03-01 00:00:00 UTC\\n"
    "Missing headers: Strict-Transport-Security, Content-Security-Policy"
)


# Changed whenever the data changes shape, so an older data set is made again.
DATA_VERSION = "Bench v2"


def _qid_index(host: int, finding: int, vulns: int) -> int:
    """Which QID a host's finding is, as in real networks: most of a host's
    findings come from a small pool every host shares (the same builds and
    services everywhere), the rest from a long tail. So ten hosts' 200 findings
    cover some 80 QIDs, and a thousand hosts cover all of them."""
    if finding < 14:
        return (finding + host % 5) % 30
    return 30 + (host * 7 + finding * 13) % (vulns - 30)


def make_data(*, networks: int, hosts_per_network: int, findings_per_host: int, vulns: int = 400):
    """Hosts with the same IPs in every network (the overlap the product is about),
    ``findings_per_host`` detections each, written with COPY. Returns the networks."""
    from django.db import connection
    from django.utils import timezone

    from core import iprange
    from networks.models import Network
    from scans.models import Vulnerability

    expected = networks * hosts_per_network * findings_per_host
    existing = list(Network.objects.filter(name__startswith="Bench ").order_by("name"))
    if (
        len(existing) == networks
        and Vulnerability.objects.filter(
            qid__gte=800000, qid__lt=800000 + vulns, category=DATA_VERSION
        ).count()
        == vulns
        and connection.cursor().execute("SELECT count(*) FROM scans_detection").fetchone()[0]
        == expected
        and connection.cursor().execute("SELECT count(*) FROM assets_host").fetchone()[0]
        == networks * hosts_per_network
    ):
        print(f"data: reusing {expected:,} detections already in {BENCH_DB}")
        return existing
    reset_data()
    now = timezone.now().isoformat()
    nets = [
        Network.objects.create(name=f"Bench {chr(65 + i)} Corp", address_space="10.0.0.0/8")
        for i in range(networks)
    ]
    Vulnerability.objects.bulk_create(
        Vulnerability(
            qid=800000 + q,
            title=f"Benchmark vulnerability {q} in a network service component",
            severity=1 + q % 5,
            kind=("confirmed", "potential", "info")[q % 3],
            category=DATA_VERSION,
            cvss=round(2 + (q * 37 % 80) / 10, 1),
            cves=[f"CVE-2024-{10000 + q + k * 1000}" for k in range(1 + q % 3)],
            diagnosis=DIAGNOSIS,
            consequence=CONSEQUENCE,
            solution=SOLUTION,
        )
        for q in range(vulns)
    )
    started = time.perf_counter()
    raw = connection.connection  # psycopg 3
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY assets_host (network_id, ip, ip_key, dns, netbios, os, first_found, "
            "last_scanned) FROM STDIN"
        ) as copy:
            for net in nets:
                lines = []
                for h in range(hosts_per_network):
                    ip = f"10.{h // 65536}.{h // 256 % 256}.{h % 256}"
                    lines.append(
                        f"{net.pk}\t{ip}\t{iprange.ip_key(ip)}\th{h}.bench.example\t\t"
                        f"Linux\t{now}\t{now}\n"
                    )
                copy.write("".join(lines))
        cursor.execute("SELECT id, network_id FROM assets_host ORDER BY id")
        hosts = cursor.fetchall()
        statuses = ("new", "active", "reopened", "fixed")
        # COPY text, a block of lines per write; the indexes are built after.
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'scans_detection' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"  # keys stay
        )
        index_defs = [row[0] for row in cursor.fetchall()]
        for definition in index_defs:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        with cursor.copy(
            "COPY scans_detection (network_id, host_id, qid, port, protocol, severity, status, "
            "first_found, last_found, times_found, results) FROM STDIN"
        ) as copy:
            lines = []
            for n, (host_id, network_id) in enumerate(hosts):
                for f in range(findings_per_host):
                    q = _qid_index(n, f, vulns)
                    lines.append(
                        f"{network_id}\t{host_id}\t{800000 + q}\t{443 + f}\ttcp\t{1 + q % 5}\t"
                        f"{statuses[(n + f) % 4]}\t{now}\t{now}\t{1 + f % 3}\t{EVIDENCE}\n"
                    )
                if len(lines) >= 50_000:
                    copy.write("".join(lines))
                    lines = []
            copy.write("".join(lines))
        for definition in index_defs:
            cursor.execute(definition)
        cursor.execute("ANALYZE assets_host")
        cursor.execute("ANALYZE scans_detection")
    raw.commit()
    elapsed = time.perf_counter() - started
    count = len(hosts) * findings_per_host
    print(f"data: {len(hosts):,} hosts, {count:,} detections by COPY in {elapsed:.1f} s")
    return nets


def bench_user():
    from accounts.models import Role, User

    user, _ = User.objects.get_or_create(username="bench", defaults={"role": Role.MANAGER})
    return user


class CpuClock:
    """CPU seconds of this process and of its reaped children (the pool's workers),
    and the load average: on a shared machine, wall time alone misleads."""

    def __enter__(self):
        import resource

        self._self = time.process_time()
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.load_before = os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.parent = time.process_time() - self._self
        self.children = (children.ru_utime + children.ru_stime) - (
            self._children.ru_utime + self._children.ru_stime
        )
        self.load_after = os.getloadavg()[0]

    def describe(self) -> str:
        return (
            f"CPU {self.parent + self.children:.1f} s (this process {self.parent:.1f} s, "
            f"workers {self.children:.1f} s); load average {self.load_before:.1f} -> "
            f"{self.load_after:.1f} on {os.cpu_count()} cores"
        )


class PeakMemory:
    """Samples the resident memory of this process plus its descendants every 50 ms
    (the PDF workers are children of a fork server: grandchildren of this one),
    and the CPU time each of them used (``cpu_seconds``: all processes together,
    what ``CpuClock`` cannot see of processes this one does not reap)."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._cpu_start: dict[int, int] = {}
        self._cpu: dict[int, int] = {}

    @staticmethod
    def _ticks(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            return 0

    @property
    def cpu_seconds(self) -> float:
        ticks = sum(t - self._cpu_start.get(pid, 0) for pid, t in self._cpu.items())
        return ticks / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (FileNotFoundError, ProcessLookupError):
            return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        found = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    found.extend(int(c) for c in f.read().split())
        except FileNotFoundError:
            pass
        return found

    def now(self) -> int:
        todo, total = [os.getpid()], 0
        while todo:
            pid = todo.pop()
            total += self._rss(pid)
            ticks = self._ticks(pid)
            if ticks:
                self._cpu[pid] = max(self._cpu.get(pid, 0), ticks)
            todo.extend(self._children(pid))
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.05)

    def __enter__(self):
        self.peak = self.now()
        self._cpu_start = dict(self._cpu)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.now()  # the last CPU figures
