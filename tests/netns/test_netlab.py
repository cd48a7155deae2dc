"""The network lab itself: two networks on the same subnet really are two networks.

Real nmap from inside each network's scanner namespace sees that network's
10.77.0.5 and nothing of the other's; a Celery worker inside a namespace gets
tasks over the Redis Unix socket; nothing can leave; teardown leaves nothing.
"""

import datetime
import gc
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from .netlab import REPO_ROOT, lab_namespaces, namespace_pids

pytestmark = [pytest.mark.netns, pytest.mark.xdist_group("netns")]

TARGET = "10.77.0.5"
LAB_PORTS = "22,80,443"


def test_same_address_in_two_networks_shows_each_network_only_its_own_services(lab):
    seen_from_a = lab.nmap("a", TARGET, LAB_PORTS)
    seen_from_b = lab.nmap("b", TARGET, LAB_PORTS)

    assert seen_from_a == {TARGET: {80: "http"}}
    assert seen_from_b == {TARGET: {22: "ssh", 443: "https"}}


def test_the_services_are_the_real_ones(lab):
    with lab.connect("encl_a_s1", TARGET, 80) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = _read_all(conn)
    assert b"network a host 10.77.0.5" in page

    with lab.connect("encl_b_s1", TARGET, 22) as conn:
        assert conn.recv(64).startswith(b"SSH-2.0-OpenSSH")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with lab.connect("encl_b_s1", TARGET, 443) as raw, context.wrap_socket(raw) as conn:
        der = conn.getpeercert(binary_form=True)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    assert cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC)


def test_more_hosts_of_network_a_and_its_second_scanner(lab):
    seen = lab.nmap("a", "10.77.0.5-8", "80", scanner=2)
    assert seen == {f"10.77.0.{n}": {80: "http"} for n in (5, 6, 7, 8)}


def test_no_namespace_has_a_way_out(lab):
    for net in lab.networks.values():
        for ns in net.namespaces:
            routes = lab.run_in(ns, ["ip", "-4", "route", "show"]).stdout.splitlines()
            assert all(r.startswith("10.77.0.0/24") for r in routes), (ns, routes)
            assert not lab.run_in(ns, ["ip", "-6", "route", "show", "default"]).stdout.strip()
            # A routing-table question: no packet is sent to ask it.
            probe = lab.run_in(ns, ["ip", "route", "get", "192.0.2.1"])
            assert probe.returncode != 0 and "unreachable" in probe.stderr.lower(), (ns, probe)
    # No link of the lab exists in the machine's own namespace.
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "encl_" not in root_links


def test_a_celery_worker_inside_each_network_gets_tasks_over_the_unix_socket(lab):
    # Not CELERY_BROKER_URL: Celery would take it over the app's own broker.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env.update(PROBE_BROKER_URL=lab.broker.url, PYTHONPATH=str(REPO_ROOT))
    for key in ("a", "b"):
        lab.spawn(
            [sys.executable, "-m", "celery", "-A", "tests.netns.probe_app", "worker",
             "-Q", f"probe.{key}", "--pool", "solo", "--without-gossip", "--without-mingle",
             "-n", f"probe-{key}@%h", "--loglevel", "WARNING"],
            name=f"probe_{key}", ns=lab.networks[key].scanner_ns(), env=env, cwd=REPO_ROOT,
        )  # fmt: skip

    from tests.netns import probe_app

    url = lab.broker.url
    probe_app.app.conf.update(
        broker_url=url, broker_read_url=url, broker_write_url=url, result_backend=url
    )
    probe_app.app._pool = None
    from_a = probe_app.look.apply_async(args=[TARGET, 80, "HEAD / HTTP/1.0\r\n\r\n"],
                                        queue="probe.a")  # fmt: skip
    from_b = probe_app.look.apply_async(args=[TARGET, 22], queue="probe.b")
    a, b = from_a.get(timeout=30), from_b.get(timeout=30)
    # Let go of the results while the lab's Redis is up: their finalisers unsubscribe
    # there, and after the test they would retry against a closed socket for 20 s.
    del from_a, from_b
    gc.collect()
    probe_app.app.backend.result_consumer.stop()

    assert a["banner"].startswith("HTTP/1.0 200") and "SimpleHTTP" in a["banner"]
    assert b["banner"].startswith("SSH-2.0-OpenSSH")
    own = os.stat("/proc/self/ns/net").st_ino
    assert len({own, a["netns"], b["netns"]}) == 3  # three different network namespaces


TEARDOWN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.netns.netlab import HostSpec, NetLab, NetworkSpec
    lab = NetLab([NetworkSpec("z", hosts=(HostSpec(5, ("http", "ssh")),))], prefix="enclt_")
    {enter}
    lab.start_broker()
    print("ready", lab.workdir, flush=True)
    time.sleep(120)
    """
)


def _start_throwaway_lab(enter: str) -> tuple[subprocess.Popen, str]:
    script = TEARDOWN_SCRIPT.format(root=str(REPO_ROOT), enter=enter)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    assert line.startswith("ready"), proc.stderr.read() if proc.poll() is not None else line
    workdir = line.split()[1]
    assert set(lab_namespaces("enclt_")) == {"enclt_z_sw", "enclt_z_s1", "enclt_z_h5"}
    return proc, workdir


def _lab_pids(workdir: str) -> list[int]:
    return [int(line.split()[0]) for line in Path(workdir, "pids").read_text().splitlines()]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # dead, waiting for its parent (or init) to reap it


def test_sigterm_tears_a_lab_down_completely(lab):
    proc, workdir = _start_throwaway_lab("lab.start()")
    pids = _lab_pids(workdir) + namespace_pids("enclt_z_h5")
    assert pids

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)

    assert lab_namespaces("enclt_") == []
    assert all(_gone(pid) for pid in pids)
    assert not os.path.exists(workdir)


def test_after_kill_9_children_die_and_the_next_lab_removes_the_leftovers(lab):
    from .netlab import NetLab, NetworkSpec

    proc, workdir = _start_throwaway_lab("lab.start()")
    pids = _lab_pids(workdir)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in pids)  # PR_SET_PDEATHSIG
    assert lab_namespaces("enclt_")  # the namespaces outlive a kill -9 ...

    with NetLab([NetworkSpec("y")], prefix="enclt_"):  # ... until the next lab starts
        assert set(lab_namespaces("enclt_")) == {"enclt_y_sw", "enclt_y_s1"}
        assert not os.path.exists(workdir)
    assert lab_namespaces("enclt_") == []
    leftovers = [p for p in os.listdir(tempfile.gettempdir()) if p.startswith("enclt_")]
    assert leftovers == []


def _read_all(conn) -> bytes:
    chunks = []
    while chunk := conn.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)
