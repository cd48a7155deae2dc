"""run_slice end to end with real nmap against loopback, and the runner's rules."""

from __future__ import annotations

import socket
import time

import pytest

from core.results import HostResult, Service, SliceProgress, SliceResult, SliceSpec
from scans.engine import runner
from scans.engine.checks import CHECKS, ftp, http, info, redis, ssh, telnet, tls
from scans.engine.checks.base import Check
from scans.engine.kb import KB_BY_QID, KB_ENTRIES, QID_CHECK
from scans.engine.nmap import NmapHost

from . import test_engine_servers as servers
from .test_engine_servers import LOOPBACK, free_port

http_server = servers.http_server
expired_tls_server = servers.expired_tls_server
ssh_server = servers.ssh_server
ftp_server = servers.ftp_server
telnet_server = servers.telnet_server


def spec(**overrides) -> SliceSpec:
    values = {
        "scan_id": 7,
        "slice_id": 3,
        "scan_type": "vulnerability",
        "targets": ["127.0.0.1"],
        "host_timeout": 60,
    }
    return SliceSpec(**{**values, **overrides})


def findings_by_port(host: HostResult) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for finding in host.findings:
        out.setdefault(finding.port, set()).add(finding.qid)
    return out


@pytest.mark.e2e
def test_vulnerability_scan_of_loopback_services(
    http_server, expired_tls_server, ssh_server, ftp_server, telnet_server
):
    ports = [http_server, expired_tls_server, ssh_server, ftp_server, telnet_server, 6379]
    closed = free_port()
    calls: list[SliceProgress] = []
    result = runner.run_slice(
        spec(targets=["127.0.0.1-127.0.0.2"], tcp_ports=",".join(map(str, [*ports, closed]))),
        appliance="lab-1",
        progress=calls.append,
    )
    assert result.error == ""
    assert (result.scan_id, result.slice_id, result.appliance) == (7, 3, "lab-1")
    assert result.addresses_probed == 2
    # 127.0.0.2 answers like all of loopback, but none of the ports listens there.
    assert [h.ip for h in result.hosts] == ["127.0.0.1"]
    host = result.hosts[0]
    assert {s.port for s in host.services} == set(ports)
    by_port = findings_by_port(host)
    assert {info.QID_TCP_PORTS, info.QID_SCAN_INFO} <= by_port[0]
    web = {http.QID_SERVER_VERSION, http.QID_NO_FRAME_OPTIONS, http.QID_DIRECTORY_LISTING}
    assert web <= by_port[http_server]
    secure_web = {tls.QID_EXPIRED, tls.QID_SELF_SIGNED, tls.QID_TLS10, http.QID_NO_HSTS}
    assert secure_web <= by_port[expired_tls_server]
    # nmap names the fake server "OpenSSH 7.4": the KEXINIT findings plus version rules
    # (user enumeration before 7.8, ssh-agent before 9.3p2; regreSSHion starts at 8.5p1).
    assert {ssh.QID_VERSION, ssh.QID_WEAK_KEX, ssh.QID_CBC, 38701, 38703} <= by_port[ssh_server]
    assert not {38700, 38702} & by_port[ssh_server]
    assert {ftp.QID_ANONYMOUS, 27100, info.QID_SERVICE} <= by_port[ftp_server]  # vsftpd 2.3.4
    assert telnet.QID_TELNET in by_port[telnet_server]
    assert redis.QID_NO_AUTH in by_port[6379]
    assert closed not in by_port
    assert set(host.checks_run) == set(CHECKS)
    assert all(f.qid in KB_BY_QID for f in host.findings)
    keys = [(f.qid, f.port, f.protocol) for f in host.findings]
    assert len(keys) == len(set(keys))
    assert calls[0] == SliceProgress(0, 2, "discovery", 0)
    assert calls[-1] == SliceProgress(2, 2, "checks", 100)
    # Every phase in order; the down address is done after discovery, the host
    # once its checks ran; neither count nor percent ever goes back.
    phases = [c.phase for c in calls]
    assert sorted(set(phases), key=phases.index) == ["discovery", "services", "checks"]
    assert SliceProgress(1, 2, "services", 55) in calls
    assert [c.done for c in calls] == sorted(c.done for c in calls)
    assert [c.percent for c in calls] == sorted(c.percent for c in calls)
    assert SliceResult.from_dict(result.to_dict()) == result  # survives the broker


@pytest.mark.e2e
def test_discovery_scan_reports_hosts_without_findings(ssh_server):
    result = runner.run_slice(
        spec(scan_type="discovery", targets=["127.0.0.1", "127.0.0.5"], tcp_ports=str(ssh_server)),
        appliance="lab-1",
    )
    assert result.error == ""
    assert [h.ip for h in result.hosts] == ["127.0.0.1"]
    assert result.hosts[0].findings == [] and result.hosts[0].checks_run == []
    assert result.addresses_probed == 2


@pytest.mark.e2e
def test_selected_checks_only(ssh_server):
    result = runner.run_slice(spec(tcp_ports=str(ssh_server), checks=["ssh"]), appliance="a")
    host = result.hosts[0]
    assert host.checks_run == ["info", "ssh"]  # info always runs
    found = {f.qid for f in host.findings}
    assert {ssh.QID_VERSION, ssh.QID_WEAK_KEX, info.QID_TCP_PORTS} <= found
    assert not found & {38700, 38703}  # version rules were not selected


@pytest.mark.e2e
def test_without_service_detection_unidentified_services_are_not_judged(ssh_server):
    result = runner.run_slice(
        spec(tcp_ports=str(ssh_server), service_detection=False), appliance="a"
    )
    host = result.hosts[0]
    # Without -sV a high port has no service name: no check applies, so none may
    # claim to have run (that would mark earlier SSH or version findings fixed).
    assert host.checks_run == ["info"]
    assert {f.qid for f in host.findings} == {
        info.QID_TCP_PORTS,
        info.QID_SERVICE,
        info.QID_SCAN_INFO,
    }


def test_check_that_cannot_reach_its_service_is_not_recorded_as_run():
    host = HostResult(ip=LOOPBACK, services=[Service(port=free_port(), protocol="tcp", name="ssh")])
    runner.check_host(host, [CHECKS["info"], CHECKS["ssh"]], deadline=time.monotonic() + 30)
    assert host.checks_run == ["info"]
    assert {f.qid for f in host.findings} == {info.QID_TCP_PORTS, info.QID_SERVICE}


def test_bad_input_is_reported_not_raised():
    assert "not an IP address" in runner.run_slice(spec(targets=["10.0.0.x"]), appliance="a").error
    assert "unknown checks" in runner.run_slice(spec(checks=["nessus"]), appliance="a").error
    assert "scan type" in runner.run_slice(spec(scan_type="map"), appliance="a").error


def test_missing_nmap_is_an_error_in_the_result(monkeypatch):
    monkeypatch.setattr(runner.nmap, "NMAP", "nmap-not-installed-here")
    result = runner.run_slice(spec(), appliance="a")
    assert result.error.startswith("nmap is not installed") and result.hosts == []
    assert result.started and result.finished


def test_cancel_stops_the_scan():
    result = runner.run_slice(spec(tcp_ports="1-1024"), appliance="a", should_cancel=lambda: True)
    assert result.error == "cancelled"


def test_version_rules():
    from scans.engine.checks.versions import service_findings, version_key

    assert version_key("9.3p2") > version_key("9.3p1") > version_key("9.3") > version_key("9.2p9")
    assert version_key("2.4.49") < version_key("2.4.50") and version_key("x") is None

    def rules(product, version):
        service = Service(port=80, protocol="tcp", product=product, version=version)
        return {f.qid for f in service_findings(service)}

    assert {86100, 86101} <= rules("Apache httpd", "2.4.49")
    assert 86100 not in rules("Apache httpd", "2.4.50") and 86101 in rules("Apache httpd", "2.4.50")
    assert rules("Apache httpd", "2.4.62") == set()
    assert 38700 in rules("OpenSSH", "8.5p1") and 38700 in rules("OpenSSH", "9.7p1")
    assert 38700 not in rules("OpenSSH", "9.8p1") and 38700 not in rules("OpenSSH", "8.4p1")
    assert 38701 in rules("OpenSSH", "9.3p1") and 38701 not in rules("OpenSSH", "9.3p2")
    assert 86200 in rules("nginx", "1.20.0") and 86200 not in rules("nginx", "1.20.1")
    assert 27100 in rules("vsftpd", "2.3.4") and 27100 not in rules("vsftpd", "2.3.5")
    assert rules("ProFTPD", "1.3.5") == set()


def test_knowledge_base_is_complete_and_consistent():
    assert len(KB_ENTRIES) >= 60
    assert len(KB_BY_QID) == len(KB_ENTRIES)  # no QID twice
    keys = {"qid", "title", "severity", "kind", "category", "cvss", "cves", "diagnosis",
            "consequence", "solution", "check"}  # fmt: skip
    for entry in KB_ENTRIES:
        assert set(entry) == keys, entry["qid"]
        assert 1 <= entry["severity"] <= 5 and entry["kind"] in {"confirmed", "potential", "info"}
        assert entry["check"] in CHECKS and entry["title"] and entry["diagnosis"]
        assert entry["solution"] and entry["category"]
        assert all(cve.startswith("CVE-") and cve.count("-") == 2 for cve in entry["cves"])
        assert entry["cvss"] is None or 0 < entry["cvss"] <= 10
        if entry["kind"] == "info":
            assert entry["severity"] == 1
    assert QID_CHECK[38100] == "tls" and QID_CHECK[27100] == "versions"


def test_every_qid_a_check_can_emit_is_in_the_kb():
    from scans.engine.checks import versions

    modules = [ftp, http, info, redis, ssh, telnet, tls]
    emitted = {v for m in modules for k, v in vars(m).items() if k.startswith("QID_")}
    emitted |= {rule.qid for rule in versions.RULES}
    assert emitted <= set(KB_BY_QID)
    # ...and the KB names the module that emits it, so "check ran" can mean "fixed".
    for module in modules:
        name = module.__name__.rsplit(".", 1)[1]
        for key, qid in vars(module).items():
            if key.startswith("QID_"):
                assert KB_BY_QID[qid]["check"] == name, (name, qid)
    assert all(KB_BY_QID[rule.qid]["check"] == "versions" for rule in versions.RULES)


def _redis_on_ipv6_loopback() -> bool:
    try:
        with socket.create_connection(("::1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.e2e
@pytest.mark.skipif(not _redis_on_ipv6_loopback(), reason="no Redis on [::1]:6379")
def test_ipv6_loopback_is_scanned_with_nmap_dash_6():
    result = runner.run_slice(
        spec(targets=["::1"], tcp_ports="6379", checks=["redis"], service_detection=False),
        appliance="a",
    )
    assert result.error == ""
    assert [h.ip for h in result.hosts] == ["::1"]
    assert redis.QID_NO_AUTH in {f.qid for f in result.hosts[0].findings}
    assert result.hosts[0].checks_run == ["info", "redis"]


@pytest.mark.e2e
def test_host_whose_port_scan_timed_out_gets_no_checks(monkeypatch, ssh_server):
    def timed_out(spec, ips, should_cancel=None, on_progress=None):
        return {ip: NmapHost(ip=ip, state="up", timed_out=True) for ip in ips}

    monkeypatch.setattr(runner, "scan_ports", timed_out)
    result = runner.run_slice(spec(tcp_ports=str(ssh_server)), appliance="a")
    host = result.hosts[0]
    assert host.checks_run == [] and host.services == []
    assert [f.qid for f in host.findings] == [info.QID_SCAN_INFO]
    assert "did not finish" in host.findings[0].results


def test_a_crashing_check_does_not_stop_the_others(caplog):
    class Broken(Check):
        name = "broken"

        def applies(self, service):
            return True

        def check_service(self, ip, service, *, timeout):
            raise IndexError("parser bug")

    host = HostResult(ip=LOOPBACK, services=[Service(port=1, protocol="tcp", name="x")])
    runner.check_host(host, [Broken(), CHECKS["info"]], deadline=time.monotonic() + 5)
    assert host.checks_run == ["info"]
    assert "check broken crashed" in caplog.text and "parser bug" in caplog.text
