"""What the platform sends an appliance, and what the appliance sends back.

Plain dataclasses that travel as JSON over the broker. The engine imports
nothing from Django, so an appliance can run anywhere it can reach the broker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class SliceSpec:
    """One appliance's share of a scan."""

    scan_id: int
    slice_id: int
    scan_type: str  # "discovery" or "vulnerability"
    targets: list[str]  # addresses, a-b ranges, CIDR blocks (already inside the network)
    tcp_ports: str = ""  # nmap port spec: "22,80,443", "1-1024", "" = nmap's default set
    udp_ports: str = ""  # nmap port spec, "" = no UDP scan
    service_detection: bool = True
    checks: list[str] = field(default_factory=list)  # check module names; [] = all
    max_parallel_hosts: int = 16
    host_timeout: int = 300  # seconds per host

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SliceSpec:
        return cls(**data)


# What an appliance is doing with a slice, in order. A discovery scan has only
# the first; a vulnerability scan all three.
PHASE_DISCOVERY = "discovery"  # which addresses answer
PHASE_SERVICES = "services"  # open ports and (nmap -sV) the services behind them
PHASE_CHECKS = "checks"  # the check modules, host by host
PHASES = (PHASE_DISCOVERY, PHASE_SERVICES, PHASE_CHECKS)


@dataclass
class SliceProgress:
    """How far an appliance is with one slice; sent while it runs.

    ``done`` counts addresses finished (found down, or up and checked), so it
    only grows; ``percent`` is the engine's estimate of the slice's whole work,
    which also moves while nmap runs and no host is finished yet.
    """

    done: int
    total: int
    phase: str = PHASE_DISCOVERY
    percent: int = 0


@dataclass
class Service:
    port: int
    protocol: str  # "tcp" / "udp"
    state: str = "open"
    name: str = ""  # nmap service name: "http", "ssh", ...
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""  # "ssl" when nmap saw TLS
    # nmap's CPEs for the service ("cpe:/a:openbsd:openssh:7.4"), and the banner a
    # check read from it ("SSH-2.0-OpenSSH_7.4"): with product and version, the
    # service inventory feeds are matched against (scans.feeds.matcher).
    cpes: list[str] = field(default_factory=list)
    banner: str = ""


@dataclass
class Finding:
    """One QID seen on a host (on a port, or port 0 for the host as a whole)."""

    qid: int
    port: int = 0
    protocol: str = ""
    results: str = ""  # the evidence: banner, certificate dates, missing headers, ...


@dataclass
class HostResult:
    ip: str
    dns: str = ""
    netbios: str = ""
    os: str = ""
    services: list[Service] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # Check modules that ran against this host: a missing finding of a QID whose
    # check ran means "Fixed"; of one whose check did not run, "not looked at".
    checks_run: list[str] = field(default_factory=list)


@dataclass
class SliceResult:
    scan_id: int
    slice_id: int
    appliance: str
    started: str  # ISO 8601
    finished: str
    hosts: list[HostResult] = field(default_factory=list)  # hosts found up
    addresses_probed: int = 0
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SliceResult:
        hosts = [
            HostResult(
                **{
                    **h,
                    "services": [Service(**s) for s in h.get("services", [])],
                    "findings": [Finding(**f) for f in h.get("findings", [])],
                }
            )
            for h in data.get("hosts", [])
        ]
        return cls(**{**data, "hosts": hosts})
