"""Build nmap command lines, run nmap, and parse its XML into engine dataclasses.

Every scan uses ``-n`` (no reverse DNS: inside an isolated network there is no
resolver to ask, and waiting for one costs ~13 s a scan), ``-oX -`` (XML on
stdout) and, for ports, ``-sT`` (a connect scan, which needs no privileges).
Targets go to nmap on stdin (``-iL -``) so a long target list never hits the
command-line length limit.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# nmap's XML comes from the nmap binary we just ran, never from the network
# directly: banners inside it are escaped by nmap, and nmap never writes a DTD
# with entities, so the standard parser is safe here (defusedxml is optional).
from xml.etree import ElementTree  # noqa: S405

from core import iprange
from core.results import Service

NMAP = "nmap"
# nmap writes its progress (--stats-every) into the XML as <taskprogress>; it
# flushes an XML *file* when it does, not a pipe, so a run that reports progress
# writes its XML to a temporary file that is read as it grows.
STATS_EVERY = "1s"
_TASK_PROGRESS = re.compile(r'<taskprogress task="([^"]*)"[^>]*? percent="([0-9.]+)"')

TaskProgress = Callable[[str, float], None]


class NmapError(RuntimeError):
    """nmap is missing, failed, timed out, was cancelled, or wrote unreadable XML."""


@dataclass
class NmapHost:
    """One host as nmap reported it."""

    ip: str
    state: str  # "up" / "down"
    reason: str = ""  # "localhost-response", "syn-ack", "echo-reply", ...
    hostnames: list[str] = field(default_factory=list)
    os: str = ""  # best guess: nmap -O match if present, else services' ostype
    services: list[Service] = field(default_factory=list)  # open ports only
    timed_out: bool = False  # nmap gave up on it (--host-timeout)


def nmap_path() -> str | None:
    return shutil.which(NMAP)


_VERSIONS: dict[str, str] = {}


def nmap_version() -> str:
    """nmap's version number ("7.93"), or "" when nmap is not installed or broken.

    Asked once per binary and process (every slice prints it in its scan info);
    a failed answer is asked again next time.
    """
    path = nmap_path()
    if not path:
        return ""
    if path not in _VERSIONS:
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
        match = re.search(r"Nmap version (\S+)", out)
        if not match:
            return ""
        _VERSIONS[path] = match.group(1)
    return _VERSIONS[path]


def nmap_targets(ranges: Iterable[iprange.IPRange]) -> list[str]:
    """Ranges as CIDR blocks nmap accepts (it has no syntax for ``a.b.c.d-e.f.g.h``)."""
    out: list[str] = []
    for r in iprange.merge(ranges):
        first = ipaddress.ip_address(iprange.key_to_ip(r.start_key))
        last = ipaddress.ip_address(iprange.key_to_ip(r.end_key))
        for block in ipaddress.summarize_address_range(first, last):
            out.append(str(block.network_address) if block.num_addresses == 1 else str(block))
    return out


def discovery_command(*, host_timeout: int, ipv6: bool = False) -> list[str]:
    """Host discovery only (``-sn``): which addresses answer."""
    cmd = [NMAP, "-n", "-sn", "-oX", "-", "--host-timeout", f"{host_timeout}s"]
    if ipv6:
        cmd.append("-6")
    return [*cmd, "-iL", "-"]


def _port_spec(tcp_ports: str, udp_ports: str) -> list[str]:
    tcp, udp = tcp_ports.replace(" ", ""), udp_ports.replace(" ", "")
    if not udp:
        return ["-p", tcp] if tcp else []
    if not tcp:
        # nmap cannot combine "its default TCP set" with an explicit UDP list in one
        # -p option, so a UDP scan without TCP ports gets the well-known TCP ports.
        tcp = "1-1024"
    return ["-p", f"T:{tcp},U:{udp}"]


def port_scan_command(
    *,
    tcp_ports: str = "",
    udp_ports: str = "",
    service_detection: bool = True,
    host_timeout: int = 300,
    ipv6: bool = False,
    udp_allowed: bool | None = None,
) -> list[str]:
    """Open ports (and services with ``-sV``) of hosts already known to be up.

    UDP (``-sU``) needs raw sockets, so it is added only when ``udp_allowed``
    (default: running as root) and ``udp_ports`` is not empty.
    """
    if udp_allowed is None:
        udp_allowed = os.geteuid() == 0
    udp = udp_ports if udp_allowed else ""
    cmd = [NMAP, "-n", "-Pn", "-sT", "--open", "-oX", "-", "--host-timeout", f"{host_timeout}s"]
    if udp:
        cmd.append("-sU")
    if service_detection:
        cmd.append("-sV")
    if ipv6:
        cmd.append("-6")
    return [*cmd, *_port_spec(tcp_ports, udp), "-iL", "-"]


def run_nmap(
    cmd: list[str],
    targets: list[str],
    *,
    timeout: float,
    should_cancel: Callable[[], bool] | None = None,
    on_progress: TaskProgress | None = None,
) -> str:
    """Run one nmap command on ``targets`` and return its XML; NmapError on any failure.

    With ``on_progress``, nmap's own progress reports reach it about once a
    second as (task, percent): ("Connect Scan", 42.5), ("Service scan", 10.0).
    """
    path = nmap_path()
    if not path:
        raise NmapError("nmap is not installed (apt-get install nmap)")
    if not targets:
        raise NmapError("no targets")
    if on_progress is None:
        return _run(path, cmd, targets, timeout=timeout, should_cancel=should_cancel)
    with tempfile.TemporaryDirectory(prefix="enclave-nmap-") as folder:
        xml_path = os.path.join(folder, "scan.xml")
        args = _xml_to_file(cmd, xml_path)
        watcher = _ProgressWatcher(xml_path, on_progress)
        _run(path, args, targets, timeout=timeout, should_cancel=should_cancel, tick=watcher.poll)
        try:
            with open(xml_path, encoding="utf-8", errors="replace") as xml:
                return xml.read()
        except OSError as error:
            raise NmapError(f"nmap wrote no XML: {error}") from error


def _xml_to_file(cmd: list[str], xml_path: str) -> list[str]:
    """``cmd`` with its XML going to ``xml_path`` and progress reports turned on."""
    args = list(cmd)
    for index in range(len(args) - 1):
        if args[index] == "-oX" and args[index + 1] == "-":
            args[index + 1 : index + 2] = [xml_path, "--stats-every", STATS_EVERY]
            return args
    raise ValueError("an nmap command that reports progress must write XML (-oX -)")


class _ProgressWatcher:
    """Reads what nmap added to its XML file since the last look, for <taskprogress>."""

    def __init__(self, xml_path: str, report: TaskProgress) -> None:
        self.xml_path, self.report = xml_path, report
        self.offset = 0
        self.partial = ""

    def poll(self) -> None:
        try:
            with open(self.xml_path, encoding="utf-8", errors="replace") as xml:
                xml.seek(self.offset)
                text = xml.read()
                self.offset = xml.tell()
        except OSError:
            return  # not written yet
        text = self.partial + text
        cut = text.rfind("\n") + 1
        text, self.partial = text[:cut], text[cut:]
        for task, percent in _TASK_PROGRESS.findall(text):
            self.report(task, min(100.0, float(percent)))


def _run(
    path: str,
    cmd: list[str],
    targets: list[str],
    *,
    timeout: float,
    should_cancel: Callable[[], bool] | None,
    tick: Callable[[], None] | None = None,
) -> str:
    try:
        proc = subprocess.Popen(
            [path, *cmd[1:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as error:
        raise NmapError(f"cannot start nmap: {error}") from error
    deadline = time.monotonic() + timeout
    stdin_data: str | None = "\n".join(targets) + "\n"
    while True:
        try:
            # Short waits so a cancel request is honoured within about a second.
            out, err = proc.communicate(input=stdin_data, timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            stdin_data = None  # already delivered on the first call
            if should_cancel is not None and should_cancel():
                _stop(proc)
                raise NmapError("cancelled") from None
            if time.monotonic() > deadline:
                _stop(proc)
                raise NmapError(f"nmap did not finish within {int(timeout)} s") from None
            if tick is not None:
                tick()
    if proc.returncode != 0:
        message = (err or out).strip().splitlines()
        detail = message[-1] if message else "no output"
        raise NmapError(f"nmap exited with status {proc.returncode}: {detail}")
    if tick is not None:
        tick()
    return out


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.communicate()


def _os_from_xml(host: ElementTree.Element, ostypes: list[str]) -> str:
    match = host.find("os/osmatch")
    if match is not None and match.get("name"):
        return f"{match.get('name')} ({match.get('accuracy', '?')}%)"
    # Without -O (root only) the services' ostype hints are the best guess we have.
    for ostype in ostypes:
        if ostype:
            return ostype
    return ""


MAX_SERVICE_CPES = 8
MAX_CPE_LENGTH = 255


def service_cpes(service) -> list[str]:
    """The ``<cpe>`` elements nmap's service detection put under ``<service>``
    (``cpe:/a:openbsd:openssh:7.4``), without repeats; [] without a service."""
    if service is None:
        return []
    found: dict[str, None] = {}
    for element in service.findall("cpe"):
        value = (element.text or "").strip()
        if value.startswith("cpe:") and len(value) <= MAX_CPE_LENGTH:
            found.setdefault(value, None)
    return list(found)[:MAX_SERVICE_CPES]


def parse_xml(text: str) -> list[NmapHost]:
    """Hosts in nmap's XML output (``-oX``), with their open ports; NmapError if unreadable."""
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - see the import's comment
    except ElementTree.ParseError as error:
        raise NmapError(f"nmap wrote unreadable XML: {error}") from error
    if root.tag != "nmaprun":
        raise NmapError(f"not nmap XML (root element <{root.tag}>)")
    hosts: list[NmapHost] = []
    for node in root.iter("host"):
        ip = ""
        for address in node.findall("address"):
            if address.get("addrtype") in ("ipv4", "ipv6"):
                ip = address.get("addr", "")
                break
        if not ip:
            continue
        status = node.find("status")
        services: list[Service] = []
        ostypes: list[str] = []
        for port in node.findall("ports/port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue  # "open|filtered" (UDP silence) proves nothing
            svc = port.find("service")
            attrs = svc.attrib if svc is not None else {}
            services.append(
                Service(
                    port=int(port.get("portid", "0")),
                    protocol=port.get("protocol", "tcp"),
                    state="open",
                    name=attrs.get("name", ""),
                    product=attrs.get("product", ""),
                    version=attrs.get("version", ""),
                    extrainfo=attrs.get("extrainfo", ""),
                    tunnel=attrs.get("tunnel", ""),
                    cpes=service_cpes(svc),
                )
            )
            ostypes.append(attrs.get("ostype", ""))
        hostnames = [h.get("name", "") for h in node.findall("hostnames/hostname") if h.get("name")]
        hosts.append(
            NmapHost(
                ip=ip,
                state=status.get("state", "") if status is not None else "",
                reason=status.get("reason", "") if status is not None else "",
                hostnames=hostnames,
                os=_os_from_xml(node, ostypes),
                services=services,
                timed_out=node.get("timedout") == "true",
            )
        )
    return hosts
