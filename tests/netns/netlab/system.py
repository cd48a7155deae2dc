"""The lab's plumbing: namespaces, processes, the lock, and cleanup of aborted runs."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# Every namespace, work folder and lock of a lab starts with its prefix; the
# next lab with the same prefix removes what an aborted one left.
PREFIX = "encl_"
LOCK_DIR = Path("/run/lock")
SSHD = "/usr/sbin/sshd"

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


class NetLabError(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """Why this machine cannot build a lab, or None when it can."""
    if os.geteuid() != 0:
        return "network-namespace tests need root (os.geteuid() != 0)"
    for tool in ("ip", "nmap", "redis-server", "ssh-keygen"):
        if not shutil.which(tool):
            return f"'{tool}' is not installed (apt-get install iproute2 nmap redis-server)"
    if not os.path.exists(SSHD):
        return f"{SSHD} is missing (apt-get install openssh-server)"
    return None


# --- small helpers --------------------------------------------------------------------


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise NetLabError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def die_with_parent() -> None:  # runs in the child between fork and exec
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start_time(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/PID/stat), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def lock_path(prefix: str) -> Path:
    return LOCK_DIR / f"{prefix}netlab.lock"


def workdir_prefix(prefix: str) -> str:
    return f"{prefix}lab_"


def lab_namespaces(prefix: str = PREFIX) -> list[str]:
    """Every namespace whose name has the lab's prefix (ours or left by an aborted run)."""
    out = run("ip", "netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def namespace_pids(ns: str) -> list[int]:
    result = run("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in result.stdout.split()]


def in_namespace(ns: str, fn, *args, **kwargs):
    """Calls ``fn`` in a fresh thread that has joined namespace ``ns``; returns its result.

    Only that short-lived thread changes namespace (setns applies per thread),
    so sockets it opens belong to ``ns`` while the caller stays where it is.
    """
    box: dict = {}

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn(*args, **kwargs)
        except BaseException as error:  # handed to the caller below
            box["error"] = error

    thread = threading.Thread(target=run, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


# --- processes ------------------------------------------------------------------------


@dataclass
class Proc:
    """A process the lab started (in its own session, so its group is its pid)."""

    name: str
    ns: str | None
    popen: subprocess.Popen
    log: Path
    # Where this process's lines start: a log name is reused by later
    # processes of the same name (the file is opened for append).
    log_start: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def group_pids(self) -> list[int]:
        """Live processes of this process's group (its children: celery pool, nmap, ...)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == self.pid and fields[0] != "Z":
                pids.append(int(entry.name))
        return pids

    def children_named(self, comm: str) -> list[int]:
        found = []
        for pid in self.group_pids():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                    found.append(pid)
            except OSError:
                continue
        return found

    def kill9(self) -> None:
        """What a crash looks like: SIGKILL to the process and everything it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM to the group, then SIGKILL to whatever is left."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def output(self, tail: int = 4000) -> str:
        try:
            with self.log.open("rb") as log:
                log.seek(self.log_start)
                data = log.read()
        except OSError:
            return ""
        return data[-tail:].decode(errors="replace")


def stop_all(procs: list[Proc], timeout: float = 5) -> None:
    """Stops several processes at once: SIGTERM to every group, then SIGKILL to the rest."""
    for proc in procs:
        if proc.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        proc.kill9()


def try_connect(ip: str, port: int) -> None:
    with socket.create_connection((ip, port), timeout=0.5):
        pass


def delete_namespace(ns: str) -> None:
    for _ in range(3):
        pids = namespace_pids(ns)
        if not pids:
            break
        for pid in pids:
            _kill(pid)
        time.sleep(0.05)
    run("ip", "netns", "del", ns, check=False)


def cleanup_leftovers(prefix: str = PREFIX) -> list[str]:
    """Removes what an aborted lab left behind. Call with the lab lock held.

    Deletes every ``encl_*`` namespace (after killing the processes inside it),
    kills the recorded root-namespace processes of dead labs (matching pid *and*
    start time, so a reused pid is left alone) and removes their work folders.
    Returns what it removed.
    """
    removed = []
    for ns in lab_namespaces(prefix):
        delete_namespace(ns)
        removed.append(f"netns {ns}")
    for folder in Path(tempfile.gettempdir()).glob(f"{workdir_prefix(prefix)}*"):
        owner = _read_pid_line(folder / "owner")
        if owner and start_time(owner[0]) == owner[1]:
            continue  # its lab is alive (it would hold the lock; be careful anyway)
        pids_file = folder / "pids"
        if pids_file.exists():
            for line in pids_file.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and start_time(int(parts[0])) == parts[1]:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(int(parts[0]), signal.SIGKILL)
                    _kill(int(parts[0]))
                    removed.append(f"pid {parts[0]}")
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    return removed


def _read_pid_line(path: Path) -> tuple[int, str] | None:
    try:
        pid, start = path.read_text().split()
        return int(pid), start
    except (OSError, ValueError):
        return None


def acquire_lock(prefix: str, timeout: float) -> int:
    """One lab per prefix at a time (the namespace names are fixed). Returns the lock's fd."""
    path = lock_path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                os.close(fd)
                raise NetLabError(f"another network lab holds {path}: {error}") from None
            time.sleep(0.2)


def release_lock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
