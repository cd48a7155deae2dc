"""The whole scan pipeline against plain nmap, on the same loopback target.

    .venv/bin/python bench/bench_pipeline.py [--runs 3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_bench \\
        CELERY_BROKER_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_pipeline.py

One run of each, alternating, ``--runs`` times:

* plain nmap: ``nmap -n -Pn -sT -sV -p <ports> <ip>``, what one would type to
  learn the same ports and services by hand;
* the pipeline: scans.services.scan_launch -> broker -> a real appliance
  process (manage.py run_appliance: nmap discovery, nmap -sV, the checks) ->
  broker -> a real central worker (celery -A config worker) -> ingest ->
  the scan row says finished. Timed from the launch call to that row.

Prints each pair and the median ratio (aim: 1.3x or less). The target is a
web server and a TLS service with an expired certificate on a random
127.x.y.z address made here; nothing leaves loopback. A throwaway database
and a private broker are used, never the real ones.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["ENCLAVE_VAR_DIR"] = tempfile.mkdtemp(prefix="enclave-bench-")
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if BROKER_URL.startswith("redis"):
    # Redis database 3 under a key prefix of this run: apart from everything else.
    BROKER_URL = BROKER_URL.rsplit("/", 1)[0] + "/3" if BROKER_URL.count("/") > 2 else BROKER_URL
    os.environ["CELERY_BROKER_URL"] = BROKER_URL
    os.environ["ENCLAVE_BROKER_PREFIX"] = f"enclave-bench-{uuid.uuid4().hex[:8]}:"
else:
    os.environ["ENCLAVE_BROKER_DIR"] = tempfile.mkdtemp(prefix="enclave-bench-broker-")
    os.environ.setdefault("ENCLAVE_BROKER_POLL", "0.05")
os.environ.setdefault("ENCLAVE_HEARTBEAT_INTERVAL", "1")


def database_url(connection) -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
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
    from tests.scans.servers import BannerServer, Server, expired_self_signed, loopback_ip
    from tests.waiting import wait_for

    ip = loopback_ip()
    workdir = Path(tempfile.mkdtemp(prefix="enclave-bench-target-"))
    http = Server(ip, ports=(8080,)).start()
    tls = BannerServer(ip, ports=(8443,), tls=expired_self_signed(workdir, ip)).start()
    ports = f"{http.port},{tls.port}"

    network = network_create(actor=None, name="Bench lab", address_space="127.0.0.0/8")
    name = f"bench-{uuid.uuid4().hex[:6]}"
    appliance = ScannerAppliance.objects.create(name=name, network=network)
    profile = services.option_profile_create(
        actor=None, name="bench", tcp_port_set="custom", tcp_ports=ports, host_timeout=60
    )
    connection.close()  # commit-visible to the workers; nothing held open

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
        f"Pipeline vs plain nmap on {ip} ports {ports} ({connection.vendor}, broker {BROKER_URL})"
    )
    nmap_cmd = ["nmap", "-n", "-Pn", "-sT", "-sV", "-p", ports, ip, "-oX", "-"]
    pairs = []
    for n in range(1, args.runs + 1):
        started = time.perf_counter()
        subprocess.run(nmap_cmd, check=True, capture_output=True)
        plain = time.perf_counter() - started

        started = time.perf_counter()
        scan = services.scan_launch(
            actor=None,
            title=f"bench {n}",
            type="vulnerability",
            network=Network.objects.get(pk=network.pk),
            targets=ip,
            option_profile=profile,
        )
        wait_for(
            lambda s=scan: s.refresh_from_db() or s.is_done,
            timeout=120,
            what=f"scan {n} to finish",
            every=0.02,  # the pipeline's time is read here: poll finely
        )
        pipeline = time.perf_counter() - started
        if scan.status != "finished":
            raise SystemExit(f"scan {n} ended {scan.status}: {scan.status_reason}")
        findings = sum(h.findings_total for h in scan.scan_hosts.all())
        pairs.append((plain, pipeline))
        print(
            f"  run {n}: nmap {plain:6.2f} s   pipeline {pipeline:6.2f} s   "
            f"ratio {pipeline / plain:5.2f}x   ({scan.hosts_found} host, {findings} findings)"
        )
    ratio = statistics.median(p / n for n, p in pairs)
    print(f"  median ratio pipeline / plain nmap: {ratio:.2f}x (aim: <= 1.30x)")
    http.stop()
    tls.stop()


if __name__ == "__main__":
    main()
