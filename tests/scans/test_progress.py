"""Live progress: the engine reports every phase and host, the appliance throttles
the messages, the platform records them on the slice and sums them on the scan."""

from __future__ import annotations

import stat
import threading
import time

import pytest

from core.results import HostResult, SliceProgress, SliceResult, SliceSpec
from scans import services
from scans.appliance import ProgressReporter
from scans.engine import nmap, runner
from scans.engine.nmap import NmapHost
from scans.models import ScanStatus, SliceStatus

# --- The engine: phases, hosts, nmap's own progress -------------------------------------


def test_engine_reports_each_phase_each_host_and_nmap_progress(monkeypatch):
    """8 addresses, 3 up: discovery (nmap half way), 5 down are done, service
    detection (ports, then -sV half way), then each host as its checks end."""

    def discover(spec, ranges, should_cancel=None, on_progress=None):
        on_progress("Ping Scan", 50.0)
        return [NmapHost(ip=f"127.0.0.{n}", state="up") for n in (2, 4, 6)]

    def scan_ports(spec, ips, should_cancel=None, on_progress=None):
        on_progress("Connect Scan", 100.0)
        on_progress("Service scan", 50.0)
        return {ip: NmapHost(ip=ip, state="up") for ip in ips}

    monkeypatch.setattr(runner, "discover", discover)
    monkeypatch.setattr(runner, "scan_ports", scan_ports)
    monkeypatch.setattr(runner, "check_host", lambda host, checks, **kw: None)
    calls: list[SliceProgress] = []
    spec = SliceSpec(
        scan_id=1, slice_id=2, scan_type="vulnerability", targets=["127.0.0.1-127.0.0.8"]
    )
    result = runner.run_slice(spec, appliance="a", progress=calls.append)
    assert result.error == "" and len(result.hosts) == 3
    assert [(c.done, c.phase, c.percent) for c in calls] == [
        (0, "discovery", 0),
        (0, "discovery", 5),  # nmap at 50 % of discovery, a tenth of the work
        (5, "services", 66),  # 5 addresses did not answer: done
        (5, "services", 81),  # the port scan finished: half of detection
        (5, "services", 88),  # -sV half way
        (5, "checks", 96),
        (6, "checks", 97),
        (7, "checks", 98),
        (8, "checks", 100),
    ]
    assert {c.total for c in calls} == {8}


def test_discovery_scan_progress_is_discovery_alone(monkeypatch):
    def discover(spec, ranges, should_cancel=None, on_progress=None):
        on_progress("Ping Scan", 40.0)
        return [NmapHost(ip="127.0.0.1", state="up")]

    monkeypatch.setattr(runner, "discover", discover)
    calls: list[SliceProgress] = []
    spec = SliceSpec(scan_id=1, slice_id=2, scan_type="discovery", targets=["127.0.0.1-127.0.0.4"])
    runner.run_slice(spec, appliance="a", progress=calls.append)
    assert calls == [
        SliceProgress(0, 4, "discovery", 0),
        SliceProgress(0, 4, "discovery", 40),
        SliceProgress(4, 4, "discovery", 100),
    ]


def _fake_nmap(tmp_path, body: str) -> str:
    """An executable standing in for nmap: it writes XML where -oX says."""
    script = tmp_path / "fake-nmap"
    script.write_text(
        "#!/bin/sh\n"
        'out=-; prev=""\n'
        'for a in "$@"; do [ "$prev" = "-oX" ] && out="$a"; prev="$a"; done\n' + body
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_run_nmap_reports_nmaps_progress_while_it_runs(tmp_path, monkeypatch):
    """nmap flushes <taskprogress> into an XML file (not into a pipe): run_nmap
    reads the file as it grows and reports each while nmap still runs."""
    monkeypatch.setattr(
        nmap,
        "NMAP",
        _fake_nmap(
            tmp_path,
            'echo \'<?xml version="1.0"?><nmaprun>\' > "$out"\n'
            'echo \'<taskprogress task="Connect Scan" time="1" percent="12.50"/>\' >> "$out"\n'
            "sleep 1.5\n"
            'echo \'<taskprogress task="Service scan" time="2" percent="60.00" remaining="3"/>\''
            ' >> "$out"\n'
            "sleep 1.5\n"
            'echo \'<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/>'
            '</host></nmaprun>\' >> "$out"\n',
        ),
    )
    heard: list[tuple[str, float, float]] = []
    started = time.monotonic()
    xml = nmap.run_nmap(
        ["nmap", "-n", "-sn", "-oX", "-", "-iL", "-"],
        ["127.0.0.1"],
        timeout=30,
        on_progress=lambda task, percent: heard.append((task, percent, time.monotonic() - started)),
    )
    ended = time.monotonic() - started
    assert [h.ip for h in nmap.parse_xml(xml)] == ["127.0.0.1"]
    assert [(task, percent) for task, percent, _ in heard] == [
        ("Connect Scan", 12.5),
        ("Service scan", 60.0),
    ]
    assert heard[0][2] < ended - 1  # heard while nmap was still at work


def test_run_nmap_with_progress_asks_nmap_for_it_and_reads_the_same_hosts(tmp_path, monkeypatch):
    """With real nmap: the command gets --stats-every and an XML file; the hosts
    read back are the ones plain run_nmap reads from stdout."""
    if nmap.nmap_path() is None:
        pytest.skip("nmap is not installed")
    seen_args: list[list[str]] = []
    real_popen = nmap.subprocess.Popen

    def popen(args, **kwargs):
        seen_args.append(list(args))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(nmap.subprocess, "Popen", popen)
    cmd = nmap.port_scan_command(tcp_ports="1-200", service_detection=False, host_timeout=30)
    plain = nmap.parse_xml(nmap.run_nmap(cmd, ["127.0.0.1"], timeout=60))
    watched = nmap.parse_xml(
        nmap.run_nmap(cmd, ["127.0.0.1"], timeout=60, on_progress=lambda *a: None)
    )
    assert [(h.ip, h.state) for h in watched] == [(h.ip, h.state) for h in plain]
    first, second = seen_args
    assert "--stats-every" not in first and first[first.index("-oX") + 1] == "-"
    assert second[second.index("-oX") + 1].endswith("scan.xml")
    assert second[second.index("--stats-every") + 1] == nmap.STATS_EVERY


# --- The appliance: at most one message a second, never holding the latest ---------------


def test_reporter_sends_the_first_at_once_then_at_most_one_per_interval():
    sent: list[tuple[float, SliceProgress]] = []
    lock = threading.Lock()

    def send(*, slice_id, appliance, update):
        with lock:
            sent.append((time.monotonic(), update))

    reporter = ProgressReporter(scan_id=1, slice_id=9, every=0.3, send=send)
    started = time.monotonic()
    for done in range(50):  # fifty hosts finishing within a few milliseconds
        reporter(SliceProgress(done, 64, "checks", 50 + done))
    assert [u.done for _, u in sent] == [0]  # the first at once, the rest held
    time.sleep(0.5)
    assert [u.done for _, u in sent] == [0, 49]  # then only the latest
    assert sent[1][0] - started >= 0.29
    time.sleep(0.35)  # an interval after that second message
    reporter(SliceProgress(49, 64, "checks", 99))  # a repeat of the last: nothing new
    assert len(sent) == 2
    reporter(SliceProgress(49, 64, "checks", 100))  # the interval is up: sent at once
    assert [(u.done, u.percent) for _, u in sent] == [(0, 50), (49, 99), (49, 100)]
    gaps = [b[0] - a[0] for a, b in zip(sent, sent[1:], strict=False)]
    assert all(gap >= 0.29 for gap in gaps), gaps


def test_reporter_sends_nothing_after_close():
    sent = []
    reporter = ProgressReporter(
        scan_id=1, slice_id=9, every=0.2, send=lambda **kw: sent.append(kw["update"])
    )
    reporter(SliceProgress(0, 8, "discovery", 0))
    reporter(SliceProgress(3, 8, "services", 40))  # held for the timer
    reporter.close()
    time.sleep(0.4)
    reporter(SliceProgress(8, 8, "checks", 100))
    assert sent == [SliceProgress(0, 8, "discovery", 0)]


def test_reporter_survives_a_broker_that_refuses():
    def refuse(**kwargs):
        raise ConnectionError("broker away")

    reporter = ProgressReporter(scan_id=1, slice_id=9, every=0.01, send=refuse)
    reporter(SliceProgress(0, 8))  # logged, not raised: a scan never fails for progress


# --- The platform: slices keep reports, scans the sums ------------------------------------


def _launch(lab, targets):
    return services.scan_launch(
        actor=None, title="t", type="vulnerability", network=lab, targets=targets
    )


@pytest.mark.django_db
def test_progress_is_recorded_per_slice_and_summed_on_the_scan(lab, online, sent):
    online("lab-a")
    online("lab-b")
    scan = _launch(lab, "127.0.0.1-127.0.0.100")  # 2 slices of 50
    one, two = scan.slices.order_by("number")
    assert services.slice_progress_record(
        slice_id=one.pk, appliance="lab-a", done=0, total=50, phase="discovery", percent=4
    )
    scan.refresh_from_db()
    assert scan.status == ScanStatus.RUNNING and scan.phase == "discovery"
    assert (scan.hosts_done, scan.progress) == (0, 2)  # 4 % of half the scan
    services.slice_progress_record(
        slice_id=two.pk, appliance="lab-b", done=40, total=50, phase="services", percent=85
    )
    one.refresh_from_db()
    two.refresh_from_db()
    scan.refresh_from_db()
    assert (one.phase, one.percent, one.addresses_done, one.status) == (
        "discovery",
        4,
        0,
        "running",
    )
    assert (two.phase, two.percent, two.addresses_done) == ("services", 85, 40)
    assert scan.hosts_done == 40 and scan.phase == "services"
    assert scan.progress == (4 * 50 + 85 * 50) // 100  # 44
    # A late report (sent before the last one, delivered after) moves nothing back.
    services.slice_progress_record(
        slice_id=two.pk, appliance="lab-b", done=10, total=50, phase="discovery", percent=20
    )
    two.refresh_from_db()
    scan.refresh_from_db()
    assert (two.percent, two.addresses_done) == (85, 40) and scan.progress == 44


@pytest.mark.django_db
def test_reports_of_an_older_appliance_count_hosts_and_bad_phases_are_dropped(lab, online, sent):
    online("lab-a")
    scan = _launch(lab, "127.0.0.1-127.0.0.10")
    piece = scan.slices.get()
    services.slice_progress_record(slice_id=piece.pk, appliance="lab-a", done=4, total=10)
    services.slice_progress_record(
        slice_id=piece.pk, appliance="lab-a", done=5, total=10, phase="<script>", percent=500
    )
    piece.refresh_from_db()
    scan.refresh_from_db()
    assert (piece.addresses_done, piece.percent, piece.phase) == (5, 100, "")
    assert scan.progress == 100 and scan.hosts_done == 5
    assert not services.slice_progress_record(
        slice_id=piece.pk, appliance="lab-b", done=9, total=10
    )


@pytest.mark.django_db
def test_ingest_makes_a_slice_whole_and_a_resend_starts_it_over(lab, online, sent, listening):
    online("lab-a")
    online("lab-b")
    scan = _launch(lab, "127.0.0.1-127.0.0.8")
    one, two = scan.slices.order_by("number")
    services.slice_progress_record(
        slice_id=one.pk, appliance="lab-a", done=1, total=4, phase="checks", percent=70
    )
    services.slice_result_record(
        result=SliceResult(scan.pk, two.pk, "lab-b", "", "", hosts=[HostResult(ip="127.0.0.6")])
    )
    scan.refresh_from_db()
    assert scan.progress == (70 * 4 + 100 * 4) // 8 and scan.status == ScanStatus.RUNNING
    # lab-a goes silent: its slice is sent again from the start.
    from datetime import timedelta

    from django.utils import timezone

    one.appliance.__class__.objects.filter(name="lab-a").update(
        last_seen=timezone.now() - timedelta(hours=1)
    )
    assert services.slices_reassign() == 1
    one.refresh_from_db()
    scan.refresh_from_db()
    assert (one.appliance.name, one.status, one.percent, one.phase) == (
        "lab-b",
        SliceStatus.DISPATCHED,
        0,
        "",
    )
    assert scan.progress == 50 and scan.hosts_done == 4


# --- End to end: a real appliance process, progress seen before the end -----------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_running_scan_shows_progress_before_it_ends(lab, ingest_worker, appliance_process):
    """The complaint: "a 32-address scan sits at 0 of 32 and then jumps to 100 %".
    12 loopback addresses, two of them serving HTTP (nmap's service detection
    of them takes seconds): the scan row shows the phases and numbers between."""
    from networks.models import ScannerAppliance
    from tests.waiting import wait_for

    from .servers import Server, loopback_ip

    base = loopback_ip().rsplit(".", 1)[0]
    web = [Server(f"{base}.{n}", ports=(8080,)).start() for n in (3, 9)]
    name = f"e2e-progress-{base.replace('.', '-')}"
    ScannerAppliance.objects.create(name=name, network=lab)
    profile = services.option_profile_create(
        actor=None, name="progress", tcp_port_set="custom", tcp_ports="8080", host_timeout=60
    )
    proc = appliance_process(name)
    try:
        wait_for(
            lambda: ScannerAppliance.objects.get(name=name).status != "offline",
            timeout=30,
            what="the appliance's first heartbeat",
        )
        scan = services.scan_launch(
            actor=None,
            title="progress",
            type="vulnerability",
            network=lab,
            targets=f"{base}.1-{base}.12",
            option_profile=profile,
        )
        seen = []

        def ended():
            scan.refresh_from_db()
            piece = scan.slices.get()
            seen.append((scan.status, scan.hosts_done, scan.progress, scan.phase, piece.phase))
            return scan.is_done

        wait_for(ended, timeout=90, what="the scan to finish", every=0.05)
        assert scan.status == ScanStatus.FINISHED, scan.status_reason
        assert scan.hosts_found == 2
        running = [s for s in seen if s[0] == ScanStatus.RUNNING]
        # The 10 silent addresses are done while nmap still looks at the two servers.
        assert any(s[1] == 10 and s[3] == "services" for s in running), seen
        middle = {s[2] for s in running if 0 < s[2] < 100}
        assert middle, seen
        assert [s[2] for s in seen] == sorted(s[2] for s in seen)  # never backwards
        assert seen[-1][1:3] == (12, 100)
    except AssertionError:
        print(proc.log_path.read_text())
        raise
    finally:
        for server in web:
            server.stop()


def test_an_appliance_keeps_a_slice_result_until_the_broker_takes_it(monkeypatch):
    """A result ready while the broker is away is sent once it is back, not
    dropped when Celery's publish gives up."""
    from kombu.exceptions import OperationalError

    from core.results import SliceResult
    from scans import tasks

    attempts, sent, waits = [], [], []

    def delay(payload):
        attempts.append(payload)
        if len(attempts) < 4:
            raise OperationalError("Error 111 connecting to broker. Connection refused.")
        sent.append(payload)

    monkeypatch.setattr(tasks.ingest_slice, "delay", delay)
    monkeypatch.setattr(tasks.time, "sleep", waits.append)
    tasks._send_result(SliceResult(7, 8, "lab-a", "", ""))
    assert len(attempts) == 4 and sent == [attempts[0]] and sent[0]["slice_id"] == 8
    assert waits == [0.5, 1.0, 2.0]
