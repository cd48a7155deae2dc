"""Scans of two overlapping networks, end to end, on real namespaces (root only).

Builds the network lab of tests/netns (two networks on 10.77.0.0/24, the same
10.77.0.5 in both with other services; network "a" has four hosts and two
scanner machines), starts the platform around it (private Redis on a Unix
socket, central worker, scheduler, one appliance per scanner machine inside
its namespace), runs a vulnerability scan of each network through the REST
API at the same time, prints where the time went, and tears everything down.

    sudo .venv/bin/python bench/netns_lab.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench_netns \\
        .venv/bin/python bench/netns_lab.py --runs 3

The database is migrated first; without DATABASE_URL a SQLite file
var/bench-netns.sqlite3 is used. Every run adds two networks named with the
time, so runs do not collide. Nothing leaves the namespaces the lab makes.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-netns.sqlite3'}")

from tests.netns.netlab import NetLab, standard_networks, unavailable_reason  # noqa: E402
from tests.netns.stack import HEARTBEAT_INTERVAL, OFFLINE_AFTER  # noqa: E402

os.environ["ENCLAVE_APPLIANCE_OFFLINE_AFTER"] = str(OFFLINE_AFTER)
os.environ["ENCLAVE_HEARTBEAT_INTERVAL"] = str(HEARTBEAT_INTERVAL)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from tests.netns.stack import Stack, broker_for_this_process, database_url  # noqa: E402

A_TARGETS, B_TARGETS = "10.77.0.5-10.77.0.8", "10.77.0.5"


class Clock:
    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []
        self.last = time.monotonic()

    def mark(self, what: str) -> float:
        now = time.monotonic()
        took = now - self.last
        self.marks.append((what, took))
        self.last = now
        print(f"  {what:<52} {took:7.2f} s", flush=True)
        return took


def manager_api() -> APIClient:
    user, _ = User.objects.get_or_create(
        username="bench-netns", defaults={"role": Role.MANAGER, "is_active": True}
    )
    api = APIClient()
    api.force_authenticate(user)
    return api


def one_run(lab: NetLab, run: int) -> dict[str, float]:
    clock = Clock()
    stack = Stack(lab=lab, api=manager_api(), db_url=database_url())
    stamp = time.strftime("%H%M%S")
    try:
        stack.start_central()
        net_a = stack.network(f"Bench A {stamp}-{run}")
        net_b = stack.network(f"Bench B {stamp}-{run}")
        for name, net, key, scanner in (
            ("a1", net_a, "a", 1),
            ("a2", net_a, "a", 2),
            ("b1", net_b, "b", 1),
        ):
            stack.appliance(f"bench-{stamp}-{run}-{name}", net, key, scanner=scanner)
        stack.wait_online(*stack.appliance_ids)
        clock.mark("platform up: worker, beat, 3 appliances online")
        profile = stack.option_profile(name=f"bench {stamp}-{run}")
        started = time.monotonic()
        scan_a = stack.launch("Bench A", net_a, A_TARGETS, profile)
        scan_b = stack.launch("Bench B", net_b, B_TARGETS, profile)
        ends = {}
        while len(ends) < 2:
            for key, scan_id in (("a", scan_a), ("b", scan_b)):
                if key not in ends and stack.scan(scan_id)["status"] in ("finished", "error"):
                    ends[key] = time.monotonic() - started
            time.sleep(0.1)
        clock.mark("both scans done (launched together)")
        results = {}
        for key, scan_id, net in (("a", scan_a, net_a), ("b", scan_b, net_b)):
            body = stack.scan(scan_id)
            findings = len(stack.detections(network=net))
            results[key] = ends[key]
            print(
                f"    network {key}: {body['status']}, {body['hosts_found']} host(s), "
                f"{findings} detection(s), {ends[key]:.2f} s from launch"
            )
        results["total"] = sum(t for _, t in clock.marks)
        return results
    finally:
        for proc in [*stack.appliances.values(), *stack.central]:
            proc.stop(timeout=2)
        lab.stop_broker()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"cannot build the network lab: {reason}", file=sys.stderr)
        return 2
    print(f"database: {database_url()}")
    t0 = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  {'migrate':<52} {time.monotonic() - t0:7.2f} s")
    t0 = time.monotonic()
    runs = []
    with NetLab(standard_networks()) as lab:
        print(f"  {'lab up (namespaces, links, services)':<52} {time.monotonic() - t0:7.2f} s")
        for name, took in lab.timings.items():
            print(f"    {name:<50} {took:7.2f} s")
        for target, key in ((A_TARGETS, "a"), (B_TARGETS, "b")):
            t1 = time.monotonic()
            lab.nmap(key, target, "22,80,443", service_detection=True)
            what = f"plain nmap -sT -sV, network {key}, {target}"
            print(f"    {what:<50} {time.monotonic() - t1:7.2f} s")
        for run in range(1, args.runs + 1):
            print(f"run {run}:")
            lab.start_broker()
            with broker_for_this_process(lab.broker.url):
                runs.append(one_run(lab, run))
        t1 = time.monotonic()
    print(f"  {'lab down':<52} {time.monotonic() - t1:7.2f} s")
    if len(runs) > 1:
        for key in ("a", "b", "total"):
            values = [r[key] for r in runs]
            print(f"median {key}: {statistics.median(values):.2f} s over {len(values)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
