"""Information gathered: open ports, services, OS guess and host names, from nmap's
results (no network I/O)."""

from __future__ import annotations

from core.results import Finding, HostResult, Service

from .base import Check

QID_TCP_PORTS = 45001
QID_UDP_PORTS = 45002
QID_SERVICE = 45003
QID_OS = 45004
QID_HOSTNAMES = 45005
QID_SCAN_INFO = 45006  # written by the runner: it knows the scan's settings


def service_label(service: Service) -> str:
    """ "ssh: OpenSSH 7.4 (protocol 2.0)", "http over ssl: nginx 1.22.1"."""
    name = service.name or "unknown"
    if service.tunnel:
        name += f" over {service.tunnel}"
    product = " ".join(p for p in (service.product, service.version) if p)
    if service.extrainfo:
        product += f" ({service.extrainfo})"
    return f"{name}: {product.strip()}" if product.strip() else name


class InfoCheck(Check):
    name = "info"

    def check_host(self, host: HostResult) -> list[Finding]:
        findings: list[Finding] = []
        for protocol, qid in (("tcp", QID_TCP_PORTS), ("udp", QID_UDP_PORTS)):
            services = sorted(
                (s for s in host.services if s.protocol == protocol), key=lambda s: s.port
            )
            if services:
                lines = [f"{s.port}/{protocol} {s.name or 'unknown'}" for s in services]
                findings.append(Finding(qid, 0, "", "\n".join(lines)))
        for service in host.services:
            findings.append(
                Finding(QID_SERVICE, service.port, service.protocol, service_label(service))
            )
        if host.os:
            findings.append(Finding(QID_OS, 0, "", host.os))
        if host.dns or host.netbios:
            names = [
                f"DNS: {host.dns}" if host.dns else "",
                f"NetBIOS: {host.netbios}" if host.netbios else "",
            ]
            findings.append(Finding(QID_HOSTNAMES, 0, "", "\n".join(n for n in names if n)))
        return findings
