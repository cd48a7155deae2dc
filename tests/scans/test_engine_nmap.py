"""nmap command lines and the XML parser, against XML real nmap wrote (samples/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import iprange
from scans.engine import nmap

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def services_sample():
    ports = json.loads((SAMPLES / "nmap_services.json").read_text())
    return nmap.parse_xml((SAMPLES / "nmap_services.xml").read_text()), ports


def test_parser_reads_open_services_with_products_and_tunnel(services_sample):
    hosts, meta = services_sample
    assert len(hosts) == 1 and hosts[0].ip == "127.0.0.1" and hosts[0].state == "up"
    services = {s.port: s for s in hosts[0].services}
    ports = meta["ports"]
    assert set(services) == set(ports.values())  # the closed port is left out
    assert meta["closed"] not in services
    ssh = services[ports["ssh"]]
    assert (ssh.name, ssh.product, ssh.version, ssh.extrainfo) == (
        "ssh",
        "OpenSSH",
        "7.4",
        "protocol 2.0",
    )
    assert (services[ports["ftp"]].product, services[ports["ftp"]].version) == ("vsftpd", "2.3.4")
    https = services[ports["https"]]
    assert https.name == "http" and https.tunnel == "ssl"
    assert services[ports["http"]].tunnel == ""
    assert services[ports["telnet"]].name == "telnet"
    assert services[ports["redis"]].name == "redis"
    assert all(s.protocol == "tcp" and s.state == "open" for s in services.values())
    # No -O: the OS guess comes from a service's ostype hint (vsftpd says "Unix").
    assert hosts[0].os == "Unix"


def test_parser_reads_discovery_hosts():
    hosts = nmap.parse_xml((SAMPLES / "nmap_discovery.xml").read_text())
    assert [h.ip for h in hosts] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert all(h.state == "up" and h.reason == "localhost-response" for h in hosts)
    assert all(h.services == [] for h in hosts)


def test_parser_reads_os_match_hostnames_and_timeouts():
    xml = """<?xml version="1.0"?><nmaprun scanner="nmap">
    <host><status state="up" reason="echo-reply"/><address addr="fd00::5" addrtype="ipv6"/>
    <address addr="00:11:22:33:44:55" addrtype="mac"/>
    <hostnames><hostname name="db.example.internal" type="user"/></hostnames>
    <ports><port protocol="udp" portid="161"><state state="open"/>
    <service name="snmp"/></port>
    <port protocol="udp" portid="53"><state state="open|filtered"/></port></ports>
    <os><osmatch name="Linux 5.0 - 5.14" accuracy="96"/></os></host>
    <host timedout="true"><status state="up" reason="user-set"/>
    <address addr="10.0.0.9" addrtype="ipv4"/></host></nmaprun>"""
    first, second = nmap.parse_xml(xml)
    assert first.ip == "fd00::5" and first.hostnames == ["db.example.internal"]
    assert first.os == "Linux 5.0 - 5.14 (96%)"
    assert [(s.port, s.protocol, s.name) for s in first.services] == [(161, "udp", "snmp")]
    assert not first.timed_out and second.timed_out and second.services == []


@pytest.mark.parametrize("text", ["", "<html></html>", "<nmaprun><host>"])
def test_parser_rejects_what_is_not_nmap_xml(text):
    with pytest.raises(nmap.NmapError):
        nmap.parse_xml(text)


def test_commands_are_unprivileged_without_dns_and_read_targets_from_stdin():
    discovery = nmap.discovery_command(host_timeout=30)
    assert discovery[:3] == ["nmap", "-n", "-sn"] and "--host-timeout" in discovery
    assert discovery[discovery.index("--host-timeout") + 1] == "30s"
    assert discovery[-2:] == ["-iL", "-"] and "-6" not in discovery
    ports = nmap.port_scan_command(tcp_ports="22,80", host_timeout=60, ipv6=True)
    assert {"-n", "-sT", "-sV", "-Pn", "-6"} <= set(ports)
    assert ports[ports.index("-p") + 1] == "22,80" and "-sU" not in ports
    assert ports[ports.index("-oX") + 1] == "-"
    quick = nmap.port_scan_command(service_detection=False, udp_ports="53", udp_allowed=False)
    assert "-sV" not in quick and "-sU" not in quick and "-p" not in quick
    udp = nmap.port_scan_command(tcp_ports="", udp_ports="53,161", udp_allowed=True)
    assert "-sU" in udp and udp[udp.index("-p") + 1] == "T:1-1024,U:53,161"


def test_targets_become_cidr_blocks_nmap_understands():
    ranges = iprange.parse("10.0.0.1-10.0.0.6, 192.168.1.0/24, fd00::1")
    assert nmap.nmap_targets(ranges) == [
        "10.0.0.1",
        "10.0.0.2/31",
        "10.0.0.4/31",
        "10.0.0.6",
        "192.168.1.0/24",
        "fd00::1",
    ]


def test_run_nmap_reports_missing_binary_and_failures(monkeypatch):
    assert nmap.nmap_version().startswith("7.")
    with pytest.raises(nmap.NmapError, match="exited with status"):
        nmap.run_nmap(["nmap", "--no-such-option"], ["127.0.0.1"], timeout=10)
    monkeypatch.setattr(nmap, "NMAP", "nmap-not-installed-here")
    with pytest.raises(nmap.NmapError, match="not installed"):
        nmap.run_nmap(["nmap", "-sn"], ["127.0.0.1"], timeout=10)
    assert nmap.nmap_version() == ""


def test_run_nmap_honours_cancel():
    cmd = nmap.port_scan_command(tcp_ports="1-65535", host_timeout=60)
    with pytest.raises(nmap.NmapError, match="cancelled"):
        nmap.run_nmap(cmd, ["127.0.0.1"], timeout=60, should_cancel=lambda: True)
