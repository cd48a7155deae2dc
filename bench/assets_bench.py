"""Server time of the Host Assets pages on the 1,000,000-host inventory.

Run bench/assets_generate.py first, then:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench_assets \\
        .venv/bin/python bench/assets_bench.py [--runs 30]

Each page is requested in-process through Django's test client (the whole
request: middleware, session, view, queries, template), after warm-up; it
prints the median and 95th percentile of the wall time, the median CPU time
of the process and time spent in SQL, and the SQL queries of one request;
it fails (exit 1) when a median passes the 150 ms budget.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The test suite's settings: production's (DEBUG off), with a fixed secret key
# and static URLs that need no collectstatic, as pages render in this process.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import User  # noqa: E402
from assets.models import Host, NetworkOverlap  # noqa: E402
from networks.models import Network  # noqa: E402

BUDGET_MS = 150.0
BUDGETED = (
    "Host Assets page",
    "expansion, first page",
    "expansion, deep page",
    "host detail",
    "overlap view (",
    # Issue #13: at 1,000,000 hosts and 30,000,000 findings.
    "dashboard",
    "Vulnerabilities",
    "search",
)


def pages() -> list[tuple[str, str, dict]]:
    network = Network.objects.custom().order_by("name")[10]
    keys = Host.objects.filter(network=network).order_by("ip_key").values_list("ip", flat=True)
    total = network.host_count
    deep = keys[total - 60]  # the last page but one: the deepest a user can page to
    middle = keys[total // 2]
    host = Host.objects.filter(network=network, detections__isnull=False).first()
    twin = Host.objects.filter(ip_key=host.ip_key).exclude(pk=host.pk).first()
    expand = reverse("assets:network_hosts", args=[network.pk])
    return [
        ("Host Assets page (53 networks)", reverse("assets:host_list"), {}),
        ("expansion, first page (htmx)", expand, {"HTTP_HX_REQUEST": "true"}),
        (
            f"expansion, middle page (after {middle})",
            f"{expand}?after={middle}",
            {"HTTP_HX_REQUEST": "true"},
        ),
        (
            f"expansion, deep page (after {deep})",
            f"{expand}?after={deep}",
            {"HTTP_HX_REQUEST": "true"},
        ),
        (
            "expansion, filtered by range /24",
            f"{expand}?range={middle}/24",
            {"HTTP_HX_REQUEST": "true"},
        ),
        (
            "expansion, filtered by OS (deep)",
            f"{expand}?os=windows&after={middle}",
            {"HTTP_HX_REQUEST": "true"},
        ),
        (
            "Host Assets with the network open (no JS)",
            f"{reverse('assets:host_list')}?open={network.pk}",
            {},
        ),
        (
            "host detail (findings, same IP elsewhere)",
            reverse("assets:host_detail", args=[host.pk]),
            {},
        ),
        (
            "host detail (no findings)",
            reverse("assets:host_detail", args=[twin.pk]) if twin else "",
            {},
        ),
        ("overlap view (1,225 pairs)", reverse("assets:overlap_list"), {}),
        ("overlap view, live pairs (spaces changed)", "live:" + reverse("assets:overlap_list"), {}),
        ("overlap API (first 50 pairs)", "/api/v1/networks/overlaps/", {}),
        *insight_pages(network, host),
    ]


def insight_pages(network: Network, host: Host) -> list[tuple[str, str, dict]]:
    """The dashboard, the Vulnerabilities list and the global search."""
    from django.db.models import Count

    from insights import vulnerabilities
    from scans.models import Detection

    findings = Detection.objects.count()
    vulns = reverse("insights:vulnerability_list")
    # A cursor a million rows into the default order (found once, here, by OFFSET).
    deep_row = (
        Detection.objects.filter(status__in=vulnerabilities.OPEN)
        .order_by("-severity", "-id")
        .only("id", "severity")[min(1_000_000, max(findings // 2, 0))]
    )
    deep = vulnerabilities.cursor_for(deep_row, "severity")
    # Halfway through the findings of the QID found most.
    top = (
        Detection.objects.filter(status__in=vulnerabilities.OPEN)
        .values("vulnerability_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    qid_row = (
        Detection.objects.filter(
            status__in=vulnerabilities.OPEN, vulnerability_id=top["vulnerability_id"]
        )
        .order_by("-severity", "-id")
        .only("id", "severity", "vulnerability_id")[top["n"] // 2]
    )
    cve = "CVE-2099-980007"
    dns = (host.dns or "")[:6] or "h"
    return [
        (f"dashboard, all networks ({findings:,} findings)", reverse("insights:dashboard"), {}),
        ("dashboard, one network", f"{reverse('insights:dashboard')}?network={network.pk}", {}),
        ("Vulnerabilities, first page", vulns, {}),
        ("Vulnerabilities, deep page (1,000,000 rows in)", f"{vulns}?after={deep}", {}),
        ("Vulnerabilities, filtered by CVE", f"{vulns}?cve={cve}", {}),
        ("Vulnerabilities, one network (dashboard's link)", f"{vulns}?network={network.pk}", {}),
        (
            "Vulnerabilities, one network by last found",
            f"{vulns}?network={network.pk}&sort=-last_found",
            {},
        ),
        ("Vulnerabilities, all networks by first found", f"{vulns}?sort=-first_found", {}),
        ("Vulnerabilities, Fixed in one network", f"{vulns}?network={network.pk}&status=fixed", {}),
        ("Vulnerabilities, Fixed, all networks", f"{vulns}?status=fixed", {}),
        (
            "Vulnerabilities, Fixed in one network by fix date",
            f"{vulns}?network={network.pk}&status=fixed&sort=-fixed_at",
            {},
        ),
        ("Vulnerabilities, Fixed, filtered by CVE", f"{vulns}?cve={cve}&status=fixed", {}),
        # As a Reader granted two of the networks (a page of theirs, worst first).
        ("Vulnerabilities, a Reader of two networks", f"granted:{vulns}", {}),
        ("Vulnerabilities, any status, all networks", f"{vulns}?status=any", {}),
        (
            "Vulnerabilities, any status by last found",
            f"{vulns}?status=any&sort=-last_found",
            {},
        ),
        ("Vulnerabilities, by QID", f"{vulns}?sort=qid", {}),
        (
            "Vulnerabilities, by QID, deep in a QID",
            f"{vulns}?sort=qid&after={vulnerabilities.cursor_for(qid_row, 'qid')}",
            {},
        ),
        ("Vulnerabilities, any status by QID", f"{vulns}?status=any&sort=-qid", {}),
        ("Vulnerabilities, grouped by QID", f"{vulns}?group=qid", {}),
        ("Vulnerabilities API, first page", "/api/v1/vulnerabilities/", {}),
        ("search, an IP in many networks", f"{reverse('insights:search')}?q={host.ip}", {}),
        ("search, a DNS name's beginning", f"{reverse('insights:search')}?q={dns}", {}),
        ("search, a name's first two letters", f"{reverse('insights:search')}?q={dns[:2]}", {}),
        ("search, a /24", f"{reverse('insights:search')}?q={host.ip}/24", {}),
        ("search, a CVE", f"{reverse('insights:search')}?q={cve}", {}),
    ]


def reader_of_two_networks() -> User:
    """A Reader granted two of the networks (made once, kept in the bench database)."""
    from networks.models import NetworkAccess

    user, _ = User.objects.get_or_create(username="bench-reader", defaults={"role": "reader"})
    access, _ = NetworkAccess.objects.get_or_create(user=user, defaults={"all_networks": False})
    access.networks.set(Network.objects.custom().order_by("name")[10:12])
    return user


class SQLTimer:
    """Wall time spent inside the database driver (an execute_wrapper)."""

    def __init__(self):
        self.total = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.total += time.perf_counter() - start


def measure(client: Client, url: str, headers: dict, runs: int):
    """Per run: wall time, this process's CPU time, time in SQL (ms)."""
    for _ in range(3):
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
    walls, cpus, sqls = [], [], []
    for _ in range(runs):
        timer = SQLTimer()
        with connection.execute_wrapper(timer):
            cpu, start = time.process_time(), time.perf_counter()
            response = client.get(url, **headers)
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        sqls.append(timer.total * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    return walls, cpus, sqls, len(queries), len(response.content)


def snapshot_timing(*, runs: int) -> None:
    """The trend snapshot of one network (its day's row and stored exposure),
    as the hourly beat task and every finished scan take it; rolled back."""
    from insights import services as insight_services

    network = Network.objects.custom().order_by("name")[10]
    times, queries = [], 0
    for _ in range(max(runs, 1)):
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            insight_services.trends_snapshot(network=network)
            times.append((time.perf_counter() - start) * 1000)
            transaction.set_rollback(True)
        queries = len(captured)
    open_total = sum((network.open_findings or {}).values())
    name = f"trend snapshot, one network ({open_total:,} open)"
    print(
        f"{name:<52} {statistics.median(times):6.1f}ms {max(times):6.1f}ms "
        f"{'':>7} {'':>7} {queries:7d}      (not a page: every network hourly; max, not p95)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Host Assets page timings")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to the benchmark database (enclave_bench_assets).")
    hosts = Host.objects.count()
    networks = Network.objects.custom().count()
    load = os.getloadavg()[0]
    print(f"{hosts:,} hosts in {networks} custom networks; {args.runs} runs per page")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (others' work slows every figure)\n")
    client = Client()
    client.force_login(User.objects.get(username="bench"))
    granted = Client()
    granted.force_login(reader_of_two_networks())
    failed = False
    print(f"{'page':<52} {'median':>8} {'p95':>8} {'cpu':>7} {'sql':>7} {'queries':>7} {'KB':>4}")
    for name, url, headers in pages():
        if not url:
            continue
        if url.startswith("live:"):
            # As after an address-space change: the stored figures no longer
            # match the spaces, so the view computes the pairs live.
            with transaction.atomic():
                NetworkOverlap.objects.update(space_fingerprint="stale")
                walls, cpus, sqls, queries, size = measure(client, url[5:], headers, args.runs)
                transaction.set_rollback(True)
        elif url.startswith("granted:"):
            walls, cpus, sqls, queries, size = measure(granted, url[8:], headers, args.runs)
        else:
            walls, cpus, sqls, queries, size = measure(client, url, headers, args.runs)
        median = statistics.median(walls)
        p95 = sorted(walls)[int(len(walls) * 0.95) - 1]
        flag = "" if median < BUDGET_MS else "  OVER BUDGET"
        # The budget covers the pages named in it; the rest inform.
        failed |= bool(flag) and name.startswith(BUDGETED)
        print(
            f"{name:<52} {median:6.1f}ms {p95:6.1f}ms {statistics.median(cpus):5.1f}ms "
            f"{statistics.median(sqls):5.1f}ms {queries:7d} {size / 1024:4.0f}{flag}"
        )
    snapshot_timing(runs=min(args.runs, 5))
    print(
        "\nmedian: wall time of the whole request in this process; cpu: this process's "
        "CPU time;\nsql: wall time inside the database driver. Budget: median < 150 ms for "
        "the Host Assets page,\nthe expansion's first and deep pages, host detail and the "
        "overlap view (exit 1 when one passes it)."
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
