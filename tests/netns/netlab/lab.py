"""The lab itself: networks of namespaces, their services, the broker, Enclave processes."""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .services import SERVICE_PORTS, parse_nmap_open_ports, service_argv
from .system import (
    PREFIX,
    NetLabError,
    Proc,
    acquire_lock,
    cleanup_leftovers,
    delete_namespace,
    die_with_parent,
    in_namespace,
    release_lock,
    run,
    start_time,
    stop_all,
    try_connect,
    unavailable_reason,
    workdir_prefix,
)

DEFAULT_SUBNET = "10.77.0.0/24"
REPO_ROOT = Path(__file__).resolve().parents[3]
# The interpreter running the lab (the project venv under pytest and bench scripts).
VENV_PYTHON = Path(sys.executable)
# No TCP port, no persistence: a restart of the broker loses what was queued.
REDIS_ARGV = ["redis-server", "--port", "0", "--unixsocketperm", "700", "--save", "",
              "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
CENTRAL_WORKER_OPTIONS = ["--pool", "threads", "--loglevel", "INFO", "--without-gossip",
                          "--without-mingle"]  # fmt: skip


# --- the lab's shape --------------------------------------------------------------------


@dataclass(frozen=True)
class HostSpec:
    """A target machine: the last octet of its address and the services it runs."""

    octet: int
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkSpec:
    """One isolated network: its key ("a"), how many scanner machines, which hosts."""

    key: str
    scanners: int = 1
    hosts: tuple[HostSpec, ...] = ()


def standard_networks() -> list[NetworkSpec]:
    """The lab the tests use: two networks, same subnet, same 10.77.0.5, other services.

    * "a": two scanner machines; 10.77.0.5-.8 each run an HTTP server.
    * "b": one scanner machine; 10.77.0.5 runs SSH and a TLS service whose
      certificate has expired.
    """
    return [
        NetworkSpec(
            key="a",
            scanners=2,
            hosts=tuple(HostSpec(octet, ("http",)) for octet in (5, 6, 7, 8)),
        ),
        NetworkSpec(key="b", scanners=1, hosts=(HostSpec(5, ("ssh", "tls-expired")),)),
    ]


@dataclass
class Network:
    spec: NetworkSpec
    subnet: ipaddress.IPv4Network
    prefix: str = PREFIX
    services: dict[int, dict[str, Proc]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def switch_ns(self) -> str:
        return f"{self.prefix}{self.key}_sw"

    def scanner_ns(self, index: int = 1) -> str:
        return f"{self.prefix}{self.key}_s{index}"

    def scanner_ip(self, index: int = 1) -> str:
        return str(self.subnet.network_address + index)

    def host_ns(self, octet: int) -> str:
        return f"{self.prefix}{self.key}_h{octet}"

    def host_ip(self, octet: int) -> str:
        return str(self.subnet.network_address + octet)

    @property
    def namespaces(self) -> list[str]:
        return [
            self.switch_ns,
            *(self.scanner_ns(i) for i in range(1, self.spec.scanners + 1)),
            *(self.host_ns(h.octet) for h in self.spec.hosts),
        ]

    def expected_ports(self, octet: int) -> dict[int, str]:
        """port -> service kind, for the services the lab started on that host."""
        for host in self.spec.hosts:
            if host.octet == octet:
                return {SERVICE_PORTS[s]: s for s in host.services}
        return {}


@dataclass
class Broker:
    socket_path: Path
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket_path}"


class NetLab:
    """Builds the networks, runs their services, starts and stops processes inside them.

    ::

        with NetLab(standard_networks()) as lab:
            broker = lab.start_broker()
            lab.nmap("a", "10.77.0.5", "22,80,443")       # from encl_a_s1
    """

    def __init__(
        self,
        networks: list[NetworkSpec] | None = None,
        *,
        subnet: str = DEFAULT_SUBNET,
        keep_workdir: bool | None = None,
        lock_timeout: float = 600,
        prefix: str = PREFIX,
    ) -> None:
        self.subnet = ipaddress.ip_network(subnet)
        if not self.subnet.is_private or self.subnet.prefixlen < 16:
            raise NetLabError(f"refusing subnet {subnet}: use a small private block")
        specs = networks if networks is not None else standard_networks()
        self.networks = {s.key: Network(spec=s, subnet=self.subnet, prefix=prefix) for s in specs}
        self.keep_workdir = (
            keep_workdir
            if keep_workdir is not None
            else os.environ.get("ENCLAVE_NETLAB_KEEP") == "1"
        )
        self.lock_timeout = lock_timeout
        self.prefix = prefix
        self.workdir: Path | None = None
        self.broker: Broker | None = None
        self.procs: list[Proc] = []
        self._created_ns: list[str] = []
        self._lock_fd: int | None = None
        self._closed = True
        self._old_handlers: dict[int, object] = {}
        self.timings: dict[str, float] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> NetLab:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> NetLab:
        reason = unavailable_reason()
        if reason:
            raise NetLabError(reason)
        self._closed = False
        atexit.register(self.close)
        self._install_signal_handlers()
        try:
            self._acquire_lock()
            t0 = time.monotonic()
            cleanup_leftovers(self.prefix)
            self.workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix(self.prefix)))
            (self.workdir / "owner").write_text(f"{os.getpid()} {start_time(os.getpid())}\n")
            self.timings["cleanup_leftovers"] = time.monotonic() - t0
            t0 = time.monotonic()
            for net in self.networks.values():
                self._build_network(net)
            self._check_isolation()
            self.timings["namespaces"] = time.monotonic() - t0
            t0 = time.monotonic()
            for net in self.networks.values():
                for host in net.spec.hosts:
                    for service in host.services:
                        self.start_service(net.key, host.octet, service)
            for net in self.networks.values():
                for host in net.spec.hosts:
                    for service in host.services:
                        self.wait_port(
                            net.host_ns(host.octet), net.host_ip(host.octet), SERVICE_PORTS[service]
                        )
            self.timings["services"] = time.monotonic() - t0
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stops every process the lab started and deletes every namespace. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            stop_all(self.procs, timeout=3)
        for ns in reversed(self._created_ns):
            with contextlib.suppress(Exception):
                delete_namespace(ns)
        self._created_ns.clear()
        if self.workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self._release_lock()
        self._restore_signal_handlers()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum, frame):
            self._restore_signal_handlers()
            raise KeyboardInterrupt(f"signal {signum}: tearing the network lab down")

        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                self._old_handlers[sig] = signal.signal(sig, interrupt)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self._old_handlers.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, handler)
        self._old_handlers.clear()

    def _acquire_lock(self) -> None:
        self._lock_fd = acquire_lock(self.prefix, self.lock_timeout)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            release_lock(self._lock_fd)
            self._lock_fd = None

    # --- namespaces --------------------------------------------------------------------

    def _add_ns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self._created_ns.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def _build_network(self, net: Network) -> None:
        prefix = self.subnet.prefixlen
        sw = net.switch_ns
        self._add_ns(sw)
        run("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", sw, "link", "set", "br0", "type", "bridge", "stp_state", "0")
        run("ip", "-n", sw, "link", "set", "br0", "type", "bridge", "forward_delay", "0")
        run("ip", "-n", sw, "link", "set", "br0", "up")
        machines = [
            (f"s{i}", net.scanner_ns(i), net.scanner_ip(i)) for i in range(1, net.spec.scanners + 1)
        ] + [(f"h{h.octet}", net.host_ns(h.octet), net.host_ip(h.octet)) for h in net.spec.hosts]
        for port, ns, ip in machines:
            self._add_ns(ns)
            # Created inside the switch's namespace with the peer born in the
            # machine's: no link ever exists in the root namespace.
            run("ip", "-n", sw, "link", "add", port, "type", "veth",
                 "peer", "name", "eth0", "netns", ns)  # fmt: skip
            run("ip", "-n", sw, "link", "set", port, "master", "br0")
            run("ip", "-n", sw, "link", "set", port, "up")
            run("ip", "-n", ns, "addr", "add", f"{ip}/{prefix}", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")

    def _check_isolation(self) -> None:
        """Every namespace has only its own subnet: no default route, no other link."""
        for ns in self._created_ns:
            routes = run("ip", "-n", ns, "-4", "route", "show").stdout.strip().splitlines()
            for route in routes:
                if not route.startswith(str(self.subnet)):
                    raise NetLabError(f"namespace {ns} has an unexpected route: {route}")
            if run("ip", "-n", ns, "-6", "route", "show", "default").stdout.strip():
                raise NetLabError(f"namespace {ns} has an IPv6 default route")

    # --- processes ---------------------------------------------------------------------

    def spawn(
        self,
        argv: list[str],
        *,
        name: str,
        ns: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> Proc:
        """Starts ``argv`` (inside namespace ``ns`` when given) and tracks it for teardown.

        Call from the main thread: the child dies with the thread that started it.
        """
        if self._closed or self.workdir is None:
            raise NetLabError("the lab is not running")
        command = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            log_start = out.tell()
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        proc = Proc(name=name, ns=ns, popen=popen, log=log, log_start=log_start)
        self.procs.append(proc)
        with open(self.workdir / "pids", "a") as pids:
            pids.write(f"{popen.pid} {start_time(popen.pid)}\n")
        return proc

    def run_in(
        self, ns: str, argv: list[str], *, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """Runs a command to completion inside a namespace of this lab."""
        if ns not in self._created_ns:
            raise NetLabError(f"{ns} is not a namespace of this lab")
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
        )

    def wait_port(self, ns: str, ip: str, port: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                in_namespace(ns, try_connect, ip, port)
                return
            except OSError as error:
                if time.monotonic() > deadline:
                    raise NetLabError(f"{ip}:{port} in {ns} did not open: {error}") from None
                time.sleep(0.05)

    def connect(self, ns: str, ip: str, port: int, timeout: float = 5) -> socket.socket:
        """A TCP connection opened from inside namespace ``ns``."""
        return in_namespace(ns, socket.create_connection, (ip, port), timeout)

    # --- services ----------------------------------------------------------------------

    def start_service(self, key: str, octet: int, kind: str) -> Proc:
        """Starts a real service of ``kind`` (see SERVICE_PORTS) on a host of network ``key``."""
        net = self.networks[key]
        ns, ip = net.host_ns(octet), net.host_ip(octet)
        folder = self.workdir / f"{key}_h{octet}_{kind}"
        folder.mkdir()
        argv = service_argv(kind, folder, ip=ip, label=f"network {key} host {ip}")
        proc = self.spawn(argv, name=f"{key}_h{octet}_{kind}", ns=ns)
        net.services.setdefault(octet, {})[kind] = proc
        return proc

    # --- broker ------------------------------------------------------------------------

    def start_broker(self) -> Broker:
        """A private Redis on a Unix socket in the work folder, reachable from every namespace.

        No TCP port (``--port 0``), no persistence: a restart loses what was queued.
        """
        if self.broker and self.broker.proc and self.broker.proc.alive():
            return self.broker
        sock = self.workdir / "redis.sock"
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        proc = self.spawn(
            [*REDIS_ARGV, "--unixsocket", str(sock), "--dir", str(self.workdir)],
            name="redis",
        )
        self.broker = Broker(socket_path=sock, proc=proc)
        self._wait_redis(sock, proc)
        return self.broker

    def stop_broker(self) -> None:
        if self.broker and self.broker.proc:
            self.broker.proc.stop()
            with contextlib.suppress(FileNotFoundError):
                self.broker.socket_path.unlink()

    def restart_broker(self, down_for: float = 0.0) -> Broker:
        self.stop_broker()
        time.sleep(down_for)
        return self.start_broker()

    def flush_broker(self) -> None:
        import redis

        redis.Redis(unix_socket_path=str(self.broker.socket_path)).flushall()

    def _wait_redis(self, sock: Path, proc: Proc, timeout: float = 10) -> None:
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise NetLabError(f"redis-server exited: {proc.output()}")
            if sock.exists():
                with contextlib.suppress(redis.exceptions.ConnectionError):
                    if redis.Redis(unix_socket_path=str(sock)).ping():
                        return
            time.sleep(0.02)
        raise NetLabError(f"redis-server did not answer on {sock}: {proc.output()}")

    # --- scanning from inside a network ------------------------------------------------

    def nmap(
        self, key: str, target: str, ports: str, *, scanner: int = 1, service_detection=False
    ) -> dict[str, dict[int, str]]:
        """Runs real nmap from a scanner machine of network ``key``.

        Returns ``{ip: {port: service_name}}`` for open TCP ports. ``target``
        must be inside the lab's subnet: the lab scans nothing else.
        """
        for token in target.replace(",", " ").split():
            first = token.split("-")[0].split("/")[0]
            if ipaddress.ip_address(first) not in self.subnet:
                raise NetLabError(f"{token} is outside the lab's subnet {self.subnet}")
        argv = ["nmap", "-n", "-Pn", "-sT", "-p", ports, "-oX", "-", *target.split()]
        if service_detection:
            argv.insert(1, "-sV")
        result = self.run_in(self.networks[key].scanner_ns(scanner), argv)
        if result.returncode != 0:
            raise NetLabError(f"nmap failed: {result.stderr}")
        return parse_nmap_open_ports(result.stdout)

    # --- Enclave processes -------------------------------------------------------------

    def enclave_env(self, **extra: str) -> dict[str, str]:
        """The environment of an Enclave process of this lab (broker = the lab's Redis)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "DJANGO_", "CELERY_", "ENCLAVE_BROKER_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONUNBUFFERED="1",
            CELERY_BROKER_URL=self.broker.url if self.broker else "",
        )
        env.update(extra)
        return env

    def start_appliance(
        self,
        name: str,
        key: str,
        *,
        scanner: int = 1,
        heartbeat_interval: int = 1,
        extra_env: dict[str, str] | None = None,
    ) -> Proc:
        """``manage.py run_appliance NAME`` inside a scanner machine of network ``key``.

        The appliance gets a database URL that cannot be reached from inside the
        namespace: it must live on the broker alone, as a real one does.
        """
        env = self.enclave_env(
            # Nothing listens on port 1 of the namespace's own loopback.
            DATABASE_URL="postgres://appliance-has-no-database@127.0.0.1:1/none",
            ENCLAVE_HEARTBEAT_INTERVAL=str(heartbeat_interval),
            **(extra_env or {}),
        )
        return self.spawn(
            [str(VENV_PYTHON), str(REPO_ROOT / "manage.py"), "run_appliance", name],
            name=f"appliance_{name}",
            ns=self.networks[key].scanner_ns(scanner),
            env=env,
            cwd=REPO_ROOT,
        )

    repo_root = REPO_ROOT

    @staticmethod
    def central_argv(command: str) -> list[str]:
        """``celery -A config COMMAND`` with the lab's interpreter."""
        return [str(VENV_PYTHON), "-m", "celery", "-A", "config", command]

    def start_central_worker(
        self,
        database_url: str,
        *,
        queues: str = "ingest,central",
        name: str = "central_worker",
        concurrency: int = 4,
        **extra_env: str,
    ) -> Proc:
        """The central Celery worker (ingest and the rest), in the root namespace."""
        env = self.enclave_env(DATABASE_URL=database_url, **extra_env)
        return self.spawn(
            [
                *self.central_argv("worker"),
                *CENTRAL_WORKER_OPTIONS,
                "-Q",
                queues,
                "--concurrency",
                str(concurrency),
                "-n",
                f"{name}-{os.getpid()}@%h",
            ],  # fmt: skip
            name=name,
            env=env,
            cwd=REPO_ROOT,
        )

    def logs(self, tail: int = 3000) -> str:
        """The end of every log of the lab, for a failed test's report."""
        return "\n".join(
            f"----- {p.name} ({'running' if p.alive() else f'exit {p.popen.returncode}'})\n"
            f"{p.output(tail)}"
            for p in self.procs
        )
