"""Load: gunicorn (4 workers, DEBUG off) on PostgreSQL with the 1,000,000-host
data set, 16 concurrent clients for 60 s.

    createdb -h 127.0.0.1 -U postgres enclave_load
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/enclave_load
    .venv/bin/python bench/assets_generate.py      # 1,000,000 hosts, detections, user "bench"
    .venv/bin/python bench/load_bench.py [--clients 16] [--seconds 60] [--workers 4]

It runs the web server as the README's Production section says: ``collectstatic``
(into a temporary folder), then ``gunicorn config.wsgi --workers 4`` with DEBUG
off, a secret key of this run and ``DATABASE_CONN_MAX_AGE=60``. If the database
has no scans it adds 2,000 finished ones (40 per network), so the scans list
has rows; it changes nothing else.

Each client is a thread with its own HTTP connection: it logs in through the
login form (CSRF token, then the session cookie) and gets an API token from
``/api/v1/auth/token/``; after one untimed round (templates compiled, database
connections open) all start together and, until the time is up, request in
turn: Host Assets, a network's hosts (a random network), a host page and its
findings fragment (a random host, half of them with findings), the scans list,
and the API's hosts and detections lists (with the token, no session). No
pause between requests. Latency is measured by the client, from sending the
request to the last byte, so it includes waiting for a free worker;
gunicorn's access log gives each request's time inside the server.

Prints, per URL and overall: requests, errors, median, p95 and max, and the
server time; then the CPU time the gunicorn workers and their database
backends used (from /proc; PostgreSQL's parallel workers are not counted), as
milliseconds a request, and what that means on this machine's CPUs alone: on
a shared machine, others' work is in every latency but not in that figure.
Aim: zero errors and p95 under 300 ms on every row; exit 1 when one is
missed. Anything but a 200 is an error (a page that sends the client to the
login form too).
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from assets.models import Host  # noqa: E402
from networks.models import Network  # noqa: E402
from scans.models import Detection, OptionProfile, Scan, ScanStatus, ScanType  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

AIM_P95_MS = 300.0
USERNAME, PASSWORD = "bench", "bench-password-1"  # made by bench/assets_generate.py
HOST = "127.0.0.1"


# --- The data set ---------------------------------------------------------------------


@dataclass
class DataSet:
    networks: list[int]
    hosts: list[int]
    counts: dict[str, int]


def ensure_scans(per_network: int = 40) -> int:
    if Scan.objects.exists():
        return 0
    profile = OptionProfile.objects.filter(is_default=True).first() or OptionProfile.objects.first()
    now = timezone.now()
    scans = [
        Scan(
            title=f"Load bench scan {n:02d}-{i:02d}",
            type=ScanType.VULNERABILITY if i % 3 else ScanType.DISCOVERY,
            network=network,
            targets=f"10.{n // 5}.0.0/16",
            option_profile=profile,
            status=ScanStatus.FINISHED,
            hosts_total=65534,
            hosts_done=65534,
            hosts_found=network.host_count,
            started=now - timedelta(days=i, hours=2),
            finished=now - timedelta(days=i),
        )
        for n, network in enumerate(Network.objects.custom().order_by("name"))
        for i in range(per_network)
    ]
    Scan.objects.bulk_create(scans, batch_size=1000)
    return len(scans)


def data_set(rng: random.Random) -> DataSet:
    networks = list(Network.objects.custom().values_list("pk", flat=True))
    with_findings = list(
        Detection.objects.values_list("host_id", flat=True).distinct().order_by("host_id")[:2000]
    )
    total = Host.objects.count()
    # Random hosts without reading a million ids: ids are dense after the COPY.
    ids = Host.objects.order_by("pk").values_list("pk", flat=True)
    sample = set(rng.sample(range(ids.first(), ids.last() + 1), 500))
    hosts = list(Host.objects.filter(pk__in=sample).values_list("pk", flat=True))
    hosts = rng.sample(with_findings, min(len(hosts), len(with_findings))) + hosts
    counts = {
        "hosts": total,
        "networks": len(networks),
        "detections": Detection.objects.count(),
        "scans": Scan.objects.count(),
    }
    if not networks or not with_findings or not counts["detections"]:
        sys.exit("No networks, hosts or detections: run bench/assets_generate.py first.")
    return DataSet(networks=networks, hosts=hosts, counts=counts)


# --- The web server -------------------------------------------------------------------


def database_url() -> str:
    s = connection.settings_dict
    user = urllib.parse.quote(s.get("USER") or "", safe="")
    password = f":{urllib.parse.quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or ''}{port}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(workers: int, workdir: Path) -> tuple[subprocess.Popen, int, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        DATABASE_URL=database_url(),
        DATABASE_CONN_MAX_AGE="60",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = free_port()
    access_log = workdir / "access.log"
    error_log = workdir / "gunicorn.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{HOST}:{port}"]
        + ["--workers", str(workers), "--access-logfile", str(access_log)]
        + [
            "--access-logformat",
            "%(U)s %(s)s %(D)s %({x-bench}i)s",
            "--error-logfile",
            str(error_log),
        ],
        cwd=ROOT,
        env=env,
    )

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {error_log.read_text()[-2000:]}")
        try:
            return Client(port).request("GET", "/accounts/login/")[0] == 200
        except OSError:
            return False

    wait_for(answers, timeout=120, what="gunicorn to answer")
    return proc, port, access_log


# --- A client -------------------------------------------------------------------------


class Client:
    """One HTTP connection (reopened when the server closes it) and a cookie jar."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(self, method, path, body=None, headers=None, *, session=True):
        """(status, headers, body); ``session=False`` as an API client: no cookies."""
        headers = dict(headers or {})
        if session and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        for value in (response.headers.get_all("Set-Cookie") or []) if session else []:
            cookie = http.cookies.SimpleCookie(value)
            self.cookies.update({k: morsel.value for k, morsel in cookie.items()})
        return response.status, response.headers, data

    def log_in(self) -> None:
        status, _, form = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        if status != 200 or not token:
            raise RuntimeError(f"login form: {status}")
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token.group(1).decode(), "username": USERNAME}
            | {"password": PASSWORD}
        ).encode()
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        status, headers, _ = self.request("POST", "/accounts/login/", body, form_type)
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login refused ({status}); is {USERNAME!r} in the database?")
        status, _, data = self.request(
            "POST",
            "/api/v1/auth/token/",
            json.dumps({"username": USERNAME, "password": PASSWORD}).encode(),
            {"Content-Type": "application/json"},
            session=False,
        )
        if status != 200:
            raise RuntimeError(f"API token: {status} {data[:200]!r}")
        self.token = json.loads(data)["token"]


# --- The load -------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, ms: float, error: str | None) -> None:
        with self.lock:
            self.latencies[name].append(ms)
            if error:
                self.errors[name] += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{name}: {error}")


# The rows of the report: name, and the path pattern that finds its requests in
# gunicorn's access log.
ROWS = [
    ("Host Assets", r"/assets/hosts/"),
    ("a network's hosts", r"/assets/networks/\d+/hosts/"),
    ("host page", r"/assets/hosts/\d+/"),
    ("host page: findings (htmx)", r"/scans/hosts/\d+/findings/"),
    ("scans list", r"/scans/"),
    ("API hosts list", r"/api/v1/hosts/"),
    ("API detections list", r"/api/v1/detections/"),
]


def round_of_requests(data: DataSet, rng: random.Random):
    """What a client asks for, in turn: (row, path, API?, headers). A host page
    is followed by its findings fragment, as htmx loads it in a browser."""
    htmx = {"HX-Request": "true"}
    while True:
        host = rng.choice(data.hosts)
        yield "Host Assets", "/assets/hosts/", False, {}
        yield "a network's hosts", f"/assets/networks/{rng.choice(data.networks)}/hosts/", False, {}
        yield "host page", f"/assets/hosts/{host}/", False, {}
        yield "host page: findings (htmx)", f"/scans/hosts/{host}/findings/", False, htmx
        yield "scans list", "/scans/", False, {}
        yield "API hosts list", "/api/v1/hosts/", True, {}
        yield "API detections list", "/api/v1/detections/", True, {}


def client_loop(client: Client, data: DataSet, seed: int, start, stop, results: Results):
    rng = random.Random(seed)
    todo = round_of_requests(data, rng)
    # One round untimed (each worker compiles its templates, opens its database
    # connection), then clients start at different places in the round.
    for _ in range(len(ROWS) + rng.randrange(len(ROWS))):
        name, path, api, headers = next(todo)
        if api:
            headers = {**headers, "Authorization": f"Token {client.token}"}
        client.request("GET", path, headers={**headers, "X-Bench": "warm-up"}, session=not api)
    start.wait()
    while not stop.is_set():
        name, path, api, headers = next(todo)
        if api:
            headers = {**headers, "Authorization": f"Token {client.token}"}
        began = time.perf_counter()
        error = None
        try:
            status, _, _ = client.request("GET", path, headers=headers, session=not api)
            if status != 200:
                error = f"{status} for {path}"
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc} for {path}"
        elapsed = (time.perf_counter() - began) * 1000
        if not stop.is_set():  # one that ends after the time is up is not counted
            results.add(name, elapsed, error)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def server_times(lines: list[str]) -> dict[str, list[float]]:
    """Time inside gunicorn per row (ms), from access-log lines "path status
    microseconds phase"; the warm-up round is left out."""
    patterns = [(name, re.compile(f"^{path}$")) for name, path in ROWS]
    times: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        path, _, micros, phase = line.split()
        if phase == "warm-up":
            continue
        for name, pattern in patterns:
            if pattern.match(path):
                times[name].append(int(micros) / 1000)
                break
    return times


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes so far (Linux /proc)."""
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return times


def server_pids(gunicorn: subprocess.Popen) -> tuple[list[int], list[int]]:
    """gunicorn's workers, and the database backends of this database's other clients
    (the workers' persistent connections; parallel query workers are not among them).
    Keeps the calling thread's database connection open."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == gunicorn.pid:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    return workers, backends


class CpuWatch:
    """CPU seconds gunicorn's workers and their database backends use while the
    clients run, read every half second.

    A worker closes its connection once it is older than DATABASE_CONN_MAX_AGE
    (60 s, about a run) and opens another: its backend process ends and a new
    one starts, so readings at the start and the end alone miss what the first
    used. Each process counts from its reading at the start (or from nothing,
    when it appeared during the run) to its last reading.
    """

    def __init__(self, gunicorn: subprocess.Popen):
        self.gunicorn = gunicorn
        self.seen: tuple[dict, dict] = ({}, {})  # pid: (CPU at its first reading, at its last)
        self.started, self.done = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._watch)

    def start(self) -> None:
        self.thread.start()
        self.started.wait()

    def stop(self) -> tuple[float, float]:
        """(workers', backends') CPU seconds between start() and now."""
        self.done.set()
        self.thread.join()
        return tuple(sum(last - first for first, last in seen.values()) for seen in self.seen)

    def _watch(self) -> None:
        # One thread reads throughout, so its own database backend is the one
        # server_pids leaves out.
        self._read(first=True)
        self.started.set()
        while not self.done.wait(0.5):
            self._read()
        self._read()
        connection.close()

    def _read(self, *, first: bool = False) -> None:
        for seen, pids in zip(self.seen, server_pids(self.gunicorn), strict=True):
            for pid, used in cpu_seconds(pids).items():
                seen[pid] = (seen[pid][0] if pid in seen else used if first else 0.0, used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to the PostgreSQL database of bench/assets_generate.py.")

    added = ensure_scans()
    data = data_set(random.Random(args.seed))
    connection.close()
    workdir = Path(tempfile.mkdtemp(prefix="enclave-load-"))
    proc, port, access_log = start_gunicorn(args.workers, workdir)
    try:
        clients = [Client(port) for _ in range(args.clients)]
        for client in clients:
            client.log_in()
        results = Results()
        start, stop = threading.Barrier(args.clients + 1), threading.Event()
        threads = [
            threading.Thread(
                target=client_loop, args=(c, data, args.seed + i, start, stop, results)
            )
            for i, c in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        load_before = os.getloadavg()[0]
        start.wait()
        watch = CpuWatch(proc)
        watch.start()
        time.sleep(args.seconds)
        stop.set()
        cpu = watch.stop()
        for thread in threads:
            thread.join()
        load_after = os.getloadavg()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    server = server_times(access_log.read_text().splitlines())
    shutil.rmtree(workdir)  # the collected static files and the logs
    report(args, data, added, results, server, load_before, load_after, cpu)


def report(args, data, added, results, server, load_before, load_after, cpu) -> None:
    c = data.counts
    print(
        f"gunicorn config.wsgi --workers {args.workers} (DEBUG off), PostgreSQL "
        f"{connection.cursor().connection.info.server_version / 10000:.0f}; "
        f"{c['hosts']:,} hosts in {c['networks']} custom networks, {c['detections']:,} "
        f"detections, {c['scans']:,} scans{f' ({added:,} added now)' if added else ''}"
    )
    print(
        f"{args.clients} clients for {args.seconds:.0f} s on {os.cpu_count()} CPUs; load average "
        f"{load_before:.1f} before, {load_after[0]:.1f} after (others' work slows every figure)\n"
    )
    header = f"{'URL':<28} {'requests':>8} {'errors':>6} {'median':>8} {'p95':>8} {'max':>8}"
    print(f"{header}   {'server median':>13} {'server p95':>10}")
    missed = []
    everything: list[float] = []
    all_server: list[float] = []
    for name in [*(name for name, _ in ROWS if name in results.latencies), "overall"]:
        if name == "overall":
            values, errors, srv = everything, sum(results.errors.values()), all_server
            print("-" * 90)
        else:
            values, errors, srv = results.latencies[name], results.errors[name], server[name]
            everything += values
            all_server += srv
        p95 = percentile(values, 0.95)
        flag = ""
        if errors or p95 >= AIM_P95_MS:
            missed.append(name)
            flag = "  MISSED"
        server_cols = (
            f"{statistics.median(srv):11.1f}ms {percentile(srv, 0.95):8.1f}ms" if srv else ""
        )
        print(
            f"{name:<28} {len(values):8d} {errors:6d} {statistics.median(values):6.1f}ms "
            f"{p95:6.1f}ms {max(values):6.1f}ms   {server_cols}{flag}"
        )
    rate = len(everything) / args.seconds
    per_request = sum(cpu) / max(1, len(everything)) * 1000
    print(
        f"\n{rate:.1f} requests/s. CPU used: gunicorn workers {cpu[0]:.1f} s, their database "
        f"backends {cpu[1]:.1f} s,\nso {per_request:.0f} ms of CPU a request: on "
        f"{os.cpu_count()} CPUs of its own this server would do at most "
        f"{os.cpu_count() * 1000 / per_request:.0f} requests/s, and\n{args.clients} clients "
        f"that never pause would then wait about {args.clients * per_request / os.cpu_count():.0f}"
        " ms a request on average."
    )
    for sample in results.error_samples:
        print(f"error: {sample}")
    print(
        f"\nAim: zero errors and p95 < {AIM_P95_MS:.0f} ms on every row. Latency is the "
        "client's (queueing for a\nworker included); server times are gunicorn's, "
        "request read to response written."
    )
    if missed:
        print(f"MISSED: {', '.join(missed)}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
