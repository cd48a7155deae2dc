"""Run one slice of a scan: discovery, then (vulnerability scans) ports, services and checks.

Plain Python, no Django: an appliance calls ``run_slice`` with a SliceSpec and
sends the SliceResult back over the broker.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime

from core import iprange
from core.results import (
    PHASE_CHECKS,
    PHASE_DISCOVERY,
    PHASE_SERVICES,
    Finding,
    HostResult,
    SliceProgress,
    SliceResult,
    SliceSpec,
)

from . import nmap
from .checks import CHECKS, Check, CheckError
from .checks.info import QID_SCAN_INFO
from .nmap import NmapError, NmapHost, nmap_version

ENGINE_VERSION = "1.0.0"
CHECK_TIMEOUT = 5.0  # seconds per network exchange of a check

__all__ = ["ENGINE_VERSION", "nmap_version", "run_slice"]

logger = logging.getLogger(__name__)

_IPV4 = iprange.parse("0.0.0.0/0")
# On loopback the kernel answers for every address, so nmap's -sn calls all of
# 127.0.0.0/8 "up" (reason "localhost-response"); there an open port is the sign of life.
_LOOPBACK = iprange.parse("127.0.0.0/8, ::1")

Progress = Callable[[SliceProgress], None]
ShouldCancel = Callable[[], bool]
TaskProgress = Callable[[str, float], None]  # nmap's (task, percent)

# The percent estimate: of an up host's work, discovery is this share and port
# and service detection the next; the checks are the rest. On a real network
# nmap's service detection is most of the time a host takes.
_DISCOVERY_SHARE = 0.1
_SERVICES_SHARE = 0.8


class Cancelled(Exception):
    pass


class _Tracker:
    """What the runner is doing, as SliceProgress reports that never go backwards.

    ``done`` counts finished addresses (down, or up and checked). The percent
    also credits the addresses still open with the part of their work behind
    them: nmap's own progress inside discovery and service detection, so it
    moves while nmap works on every host at once and none is finished yet.
    """

    def __init__(self, progress: Progress, total: int, *, discovery_only: bool) -> None:
        self.progress, self.total, self.discovery_only = progress, total, discovery_only
        self.done = 0
        self.phase = PHASE_DISCOVERY
        self.percent = 0

    def report(self, phase: str | None = None, *, done: int | None = None, part: float = 0.0):
        """``part``: how much of the current phase is behind the open addresses (0-1)."""
        if phase is not None:
            self.phase = phase
        if done is not None:
            self.done = max(self.done, min(done, self.total))
        part = min(max(part, 0.0), 1.0)
        if self.phase == PHASE_DISCOVERY:
            behind = part if self.discovery_only else _DISCOVERY_SHARE * part
        elif self.phase == PHASE_SERVICES:
            behind = _DISCOVERY_SHARE + _SERVICES_SHARE * part
        else:
            behind = _DISCOVERY_SHARE + _SERVICES_SHARE
        if self.total:
            share = (self.done + (self.total - self.done) * behind) / self.total
            self.percent = max(self.percent, min(100, int(100 * share)))
            if self.done >= self.total:
                self.percent = 100
        self.progress(SliceProgress(self.done, self.total, self.phase, self.percent))

    def nmap(self, *, services: bool = False, service_detection: bool = False) -> TaskProgress:
        """A callback for run_nmap: nmap's task percent as the current phase's part."""

        def on_progress(task: str, percent: float) -> None:
            part = percent / 100
            if services and service_detection:
                # Ports first, then -sV on what answered: each half of the phase.
                part = 0.5 + part / 2 if task.lower().startswith("service") else part / 2
            self.report(part=part)

        return on_progress


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _by_family(ranges: list[iprange.IPRange]) -> list[tuple[bool, list[str]]]:
    """(is IPv6, nmap targets) for each address family present: nmap scans one at a time."""
    out = []
    v4 = iprange.intersect(ranges, _IPV4)
    v6 = iprange.subtract(ranges, _IPV4)
    if v4:
        out.append((False, nmap.nmap_targets(v4)))
    if v6:
        out.append((True, nmap.nmap_targets(v6)))
    return out


def _is_ipv6(ip: str) -> bool:
    return ipaddress.ip_address(ip).version == 6


def _nmap_timeout(spec: SliceSpec, hosts: int) -> float:
    # nmap works on many hosts at once; allow a host timeout per "round" plus slack.
    rounds = math.ceil(max(hosts, 1) / max(spec.max_parallel_hosts, 1))
    return spec.host_timeout * rounds + 60


def _scan(
    cmd_for: Callable[[bool], list[str]],
    groups: list[tuple[bool, list[str]]],
    spec: SliceSpec,
    hosts: int,
    should_cancel: ShouldCancel | None,
    on_progress: TaskProgress | None = None,
) -> list[NmapHost]:
    found: list[NmapHost] = []
    for ipv6, targets in groups:
        xml = nmap.run_nmap(
            cmd_for(ipv6),
            targets,
            timeout=_nmap_timeout(spec, hosts),
            should_cancel=should_cancel,
            on_progress=on_progress,
        )
        found.extend(nmap.parse_xml(xml))
    return found


def discover(
    spec: SliceSpec,
    ranges: list[iprange.IPRange],
    should_cancel: ShouldCancel | None = None,
    on_progress: TaskProgress | None = None,
) -> list[NmapHost]:
    """Hosts that are up among ``ranges``: nmap -sn, or open ports on loopback."""
    loopback = iprange.intersect(ranges, _LOOPBACK)
    elsewhere = iprange.subtract(ranges, _LOOPBACK)
    hosts: list[NmapHost] = []
    if elsewhere:
        found = _scan(
            lambda ipv6: nmap.discovery_command(host_timeout=spec.host_timeout, ipv6=ipv6),
            _by_family(elsewhere),
            spec,
            iprange.count(elsewhere),
            should_cancel,
            on_progress,
        )
        hosts.extend(h for h in found if h.state == "up")
    if loopback:
        found = _scan(
            lambda ipv6: nmap.port_scan_command(
                tcp_ports=spec.tcp_ports,
                service_detection=False,
                host_timeout=spec.host_timeout,
                ipv6=ipv6,
                udp_allowed=False,
            ),
            _by_family(loopback),
            spec,
            iprange.count(loopback),
            should_cancel,
            on_progress,
        )
        hosts.extend(h for h in found if h.services)
    return hosts


def scan_ports(
    spec: SliceSpec,
    ips: list[str],
    should_cancel: ShouldCancel | None = None,
    on_progress: TaskProgress | None = None,
) -> dict[str, NmapHost]:
    """Open ports and (with service_detection) services of hosts known to be up."""
    if spec.udp_ports and os.geteuid() != 0:
        logger.warning("UDP ports %s skipped: nmap's UDP scan needs root", spec.udp_ports)
    groups = [
        (ipv6, [ip for ip in ips if _is_ipv6(ip) == ipv6])
        for ipv6 in (False, True)
        if any(_is_ipv6(ip) == ipv6 for ip in ips)
    ]
    found = _scan(
        lambda ipv6: nmap.port_scan_command(
            tcp_ports=spec.tcp_ports,
            udp_ports=spec.udp_ports,
            service_detection=spec.service_detection,
            host_timeout=spec.host_timeout,
            ipv6=ipv6,
        ),
        groups,
        spec,
        len(ips),
        should_cancel,
        on_progress,
    )
    return {h.ip: h for h in found}


def selected_checks(spec: SliceSpec) -> list[Check]:
    """The checks a spec asks for ([] = all); "info" always runs, it costs nothing."""
    names = spec.checks or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown checks: {', '.join(unknown)}")
    if not spec.service_detection:
        # Without -sV there are no product versions: the version rules cannot judge,
        # so they must not be recorded as run (that would mark their QIDs fixed).
        names = [n for n in names if n != "versions"]
    return [CHECKS[n] for n in dict.fromkeys(["info", *names])]


def check_host(
    host: HostResult,
    checks: list[Check],
    *,
    deadline: float,
    timeout: float = CHECK_TIMEOUT,
    identified: bool = True,
    should_cancel: ShouldCancel | None = None,
) -> None:
    """Run ``checks`` against ``host`` (in place): findings and checks_run.

    A check is recorded as run only if it reached a verdict on every service it
    applies to; a refused connection, a timeout or the host deadline leaves it out.
    ``identified`` says whether nmap's service detection named the services.
    """
    for check in checks:
        if time.monotonic() > deadline or (should_cancel is not None and should_cancel()):
            break
        findings: list[Finding] = list(check.check_host(host))
        complete = True
        applied = False
        for service in host.services:
            if service.state != "open" or not check.applies(service):
                continue
            applied = True
            if time.monotonic() > deadline:
                complete = False
                break
            try:
                findings.extend(check.check_service(host.ip, service, timeout=timeout))
            except CheckError as error:
                complete = False
                logger.info("check %s on %s:%s: %s", check.name, host.ip, service.port, error)
            except Exception:
                # A bug met an odd service: logged with its traceback, the check counts
                # as not run on this host, and the other hosts of the scan go on.
                complete = False
                logger.exception("check %s crashed on %s:%s", check.name, host.ip, service.port)
        host.findings.extend(findings)
        # Without -sV an unusual port has no service name, so "applies to nothing"
        # proves nothing: such a check is recorded only where it found work.
        judged = applied or identified or not _probes(check)
        if complete and judged:
            host.checks_run.append(check.name)
    host.findings = _unique(host.findings)


def _probes(check: Check) -> bool:
    """Whether the check judges individual services (overrides check_service)."""
    return type(check).check_service is not Check.check_service


def _unique(findings: list[Finding]) -> list[Finding]:
    """One finding per (qid, port, protocol), as the platform stores them."""
    seen: dict[tuple[int, int, str], Finding] = {}
    for finding in findings:
        key = (finding.qid, finding.port, finding.protocol)
        if key in seen:
            if finding.results and finding.results not in seen[key].results:
                seen[key].results += "\n" + finding.results
        else:
            seen[key] = finding
    return list(seen.values())


def _host_result(found: NmapHost) -> HostResult:
    return HostResult(
        ip=found.ip,
        dns=found.hostnames[0] if found.hostnames else "",
        os=found.os,
        services=list(found.services),
    )


def _scan_info(spec: SliceSpec, host: HostResult, nmap_text: str) -> Finding:
    lines = [
        f"Scan {spec.scan_id}, slice {spec.slice_id}: {spec.scan_type}",
        f"Engine {ENGINE_VERSION}, nmap {nmap_text or 'unknown'}",
        f"TCP ports: {spec.tcp_ports or 'nmap default'}; UDP ports: {spec.udp_ports or 'none'}",
        f"Service detection: {'on' if spec.service_detection else 'off'}",
        f"Checks run: {', '.join(host.checks_run) or 'none'}",
    ]
    return Finding(QID_SCAN_INFO, 0, "", "\n".join(lines))


def run_slice(
    spec: SliceSpec,
    *,
    appliance: str,
    progress: Progress | None = None,
    should_cancel: ShouldCancel | None = None,
) -> SliceResult:
    """Scan one slice and return what was found; never raises for scan failures.

    Discovery scans report the hosts that are up (no findings). Vulnerability
    scans add open ports, services and the findings of the selected checks.
    A failure (bad targets, nmap missing or failing, cancel) is reported in
    ``SliceResult.error`` with whatever hosts were complete by then.

    ``progress`` hears of every phase (discovery, services, checks), every
    host finished and nmap's own progress reports (about once a second while
    nmap runs): a caller that sends them on throttles them itself.
    """
    result = SliceResult(spec.scan_id, spec.slice_id, appliance, started=_now(), finished="")
    try:
        _run(spec, result, progress or (lambda update: None), should_cancel)
    except (NmapError, ValueError, Cancelled) as error:
        result.error = str(error) or type(error).__name__.lower()
    result.finished = _now()
    return result


def _run(
    spec: SliceSpec,
    result: SliceResult,
    progress: Progress,
    should_cancel: ShouldCancel | None,
) -> None:
    if spec.scan_type not in ("discovery", "vulnerability"):
        raise ValueError(f"unknown scan type {spec.scan_type!r}")
    ranges = iprange.parse(spec.targets)  # IPRangeError is a ValueError naming bad tokens
    checks = selected_checks(spec) if spec.scan_type == "vulnerability" else []
    total = iprange.count(ranges)
    result.addresses_probed = total
    discovery_only = spec.scan_type == "discovery"
    track = _Tracker(progress, total, discovery_only=discovery_only)
    track.report(PHASE_DISCOVERY, done=0)

    def stop_if_cancelled() -> None:
        if should_cancel is not None and should_cancel():
            raise Cancelled("cancelled")

    stop_if_cancelled()
    up = discover(spec, ranges, should_cancel, track.nmap())
    stop_if_cancelled()
    done = total - len(up)
    if discovery_only:
        result.hosts = [_host_result(h) for h in up]
        track.report(done=total)
        return
    if not up:
        track.report(done=total)
        return
    track.report(PHASE_SERVICES, done=done)

    scanned = scan_ports(
        spec,
        [h.ip for h in up],
        should_cancel,
        track.nmap(services=True, service_detection=spec.service_detection),
    )
    stop_if_cancelled()
    hosts, unfinished = [], set()
    for found in up:
        ports = scanned.get(found.ip)
        if ports is None or ports.timed_out:
            # An unfinished port scan proves no port closed: no checks, nothing "fixed".
            unfinished.add(found.ip)
            hosts.append(HostResult(ip=found.ip, os=found.os))
        else:
            hosts.append(_host_result(ports))
            hosts[-1].os = hosts[-1].os or found.os
    track.report(PHASE_CHECKS)
    version = nmap_version()

    def work(host: HostResult) -> HostResult:
        if host.ip in unfinished:
            note = f"Port scan did not finish within {spec.host_timeout} s; no checks ran"
            host.findings.append(Finding(QID_SCAN_INFO, 0, "", note))
            return host
        deadline = time.monotonic() + spec.host_timeout
        check_host(
            host,
            checks,
            deadline=deadline,
            identified=spec.service_detection,
            should_cancel=should_cancel,
        )
        host.findings.append(_scan_info(spec, host, version))
        return host

    workers = max(1, min(spec.max_parallel_hosts, len(hosts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="enclave-check") as pool:
        futures = [pool.submit(work, host) for host in hosts]
        for future in as_completed(futures):
            result.hosts.append(future.result())
            done += 1
            track.report(done=done)
    result.hosts.sort(key=lambda h: iprange.ip_key(h.ip))
    stop_if_cancelled()
