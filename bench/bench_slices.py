"""A wide loopback scan through the whole pipeline: time, and whether progress moves.

    .venv/bin/python bench/bench_slices.py [--addresses 256] [--servers 8] [--runs 3]

bench_pipeline.py times one address; this one times a range that the platform
cuts into several slices (ENCLAVE_SLICE_MAX_ADDRESSES, 64 by default), so the
cost of slicing shows: more nmap runs, more broker hops, more ingests. One
appliance process (manage.py run_appliance, its default concurrency) and one
central worker, as in bench_pipeline.py.

Per run it prints plain nmap on the same range (``nmap -n -Pn -sT -sV -p
<ports> <range>``), the pipeline's time from launch to "finished", and the
progress the scan row showed while it ran, sampled every 0.2 s: how many
different "hosts done" values and percentages a user polling the page saw,
and the CPU time the appliance (with its nmap runs) and the central worker
used: unlike the wall time, that does not depend on what else the machine does.
HTTP servers listen on ``--servers`` addresses spread over a random
127.x.y.0/24-sized block made here; nothing leaves loopback. A throwaway
database and a private broker are used, never the real ones.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pipeline import database_url  # noqa: E402  (sets the environment up first)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and the children it waited for (its nmap runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addresses", type=int, default=256)
    parser.add_argument("--servers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeline", action="store_true", help="when each slice went and came")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    processes: list[subprocess.Popen] = []
    try:
        with contextlib.ExitStack() as logs:
            run(args, connection, processes, logs)
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args, connection, processes, files: contextlib.ExitStack) -> None:
    from networks.models import Network, ScannerAppliance
    from networks.services import network_create
    from scans import services
    from tests.scans.servers import Server
    from tests.waiting import wait_for

    first = ipaddress.ip_address(f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.0")
    last = first + args.addresses - 1
    targets = f"{first}-{last}"
    step = max(1, args.addresses // max(1, args.servers))
    servers = [
        Server(str(first + 1 + n * step), ports=(8080,)).start() for n in range(args.servers)
    ]
    ports = ",".join(sorted({str(s.port) for s in servers}))

    network = network_create(actor=None, name="Bench lab", address_space="127.0.0.0/8")
    name = f"bench-{uuid.uuid4().hex[:6]}"
    appliance = ScannerAppliance.objects.create(name=name, network=network)
    profile = services.option_profile_create(
        actor=None, name="bench", tcp_port_set="custom", tcp_ports=ports, host_timeout=60
    )
    connection.close()

    env = {**os.environ, "DATABASE_URL": database_url(connection), "PYTHONUNBUFFERED": "1"}
    logs = Path(tempfile.mkdtemp(prefix="enclave-bench-logs-"))

    def log(name: str):
        return files.enter_context((logs / name).open("w"))

    celery = str(Path(sys.executable).with_name("celery"))
    processes.append(
        subprocess.Popen(
            [celery, "-A", "config", "worker", "-Q", "ingest,central", "--pool", "solo",
             "--without-gossip", "--without-mingle", "-l", "WARNING", "-n", f"central-{name}@%h"],
            cwd=ROOT, env=env, stdout=log("central.log"), stderr=subprocess.STDOUT,
        )
    )  # fmt: skip
    appliance_env = {**env, "DATABASE_URL": "sqlite:////nonexistent/appliance-has-no-db.sqlite3"}
    central = processes[-1]
    processes.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "run_appliance", name, "--loglevel", "WARNING"],
            cwd=ROOT, env=appliance_env, stdout=log("appliance.log"),
            stderr=subprocess.STDOUT,
        )
    )  # fmt: skip
    wait_for(
        lambda: ScannerAppliance.objects.get(pk=appliance.pk).status != "offline",
        timeout=60,
        what=f"appliance {name} to come online (logs in {logs})",
    )
    print(
        f"{args.addresses} addresses ({targets}), {len(servers)} HTTP servers on port {ports}, "
        f"{connection.vendor}"
    )
    nmap_cmd = [
        "nmap",
        "-n",
        "-Pn",
        "-sT",
        "-sV",
        "-p",
        ports,
        f"{first}/{32 - (args.addresses - 1).bit_length()}",
        "-oX",
        "-",
    ]  # noqa: E501
    times = []
    for n in range(1, args.runs + 1):
        started = time.perf_counter()
        subprocess.run(nmap_cmd, check=True, capture_output=True)
        plain = time.perf_counter() - started

        cpu = cpu_seconds(processes[-1].pid), cpu_seconds(central.pid)
        started = time.perf_counter()
        scan = services.scan_launch(
            actor=None,
            title=f"wide {n}",
            type="vulnerability",
            network=Network.objects.get(pk=network.pk),
            targets=targets,
            option_profile=profile,
        )
        seen_done, seen_percent = set(), set()

        def finished(s=scan, done=seen_done, percent=seen_percent):
            s.refresh_from_db()
            done.add(s.hosts_done)
            percent.add(s.progress)
            return s.is_done

        wait_for(finished, timeout=600, what=f"scan {n} to finish", every=0.2)
        pipeline = time.perf_counter() - started
        time.sleep(1)  # the last heartbeats and progress messages
        used = (cpu_seconds(processes[-1].pid) - cpu[0], cpu_seconds(central.pid) - cpu[1])
        if scan.status != "finished":
            raise SystemExit(f"scan {n} ended {scan.status}: {scan.status_reason}")
        times.append(pipeline)
        print(
            f"  run {n}: nmap {plain:6.2f} s   pipeline {pipeline:6.2f} s   "
            f"CPU appliance {used[0]:5.2f} s, central {used[1]:5.2f} s   "
            f"{scan.slices.count()} slices, {scan.hosts_found} hosts found; progress seen: "
            f"{len(seen_done)} host counts {sorted(seen_done)}, "
            f"{len(seen_percent)} percentages {sorted(seen_percent)}"
        )
        if args.timeline:
            for piece in scan.slices.order_by("number"):
                marks = [
                    (label, (when - scan.created_at).total_seconds())
                    for label, when in (
                        ("sent", piece.dispatched_at),
                        ("started", piece.started),
                        ("ingested", piece.ingested_at),
                    )
                    if when is not None
                ]
                times_text = ", ".join(f"{k} {v:5.2f} s" for k, v in marks)
                print(f"    slice {piece.number}: {times_text}")
    print(f"  median pipeline time: {statistics.median(times):.2f} s")
    for server in servers:
        server.stop()


if __name__ == "__main__":
    main()
