"""nmap XML (``nmap -oX``): hosts, open ports and services, the OS guess, NSE
script output, and version facts.

* Hosts nmap reported down are not hosts found: they are left out.
* Open ports (state "open") become the host's services; "open|filtered" proves nothing.
* OS: the best ``osmatch`` (``-O``), else the services' ``ostype`` hint.
* Each NSE script's output (``<script id output>`` under a port or in
  ``<hostscript>``) is a finding of the KB entry "nmap <script id>": information
  gathered, severity 1, on the script's port (0 for host scripts).
* Version facts: every service with a product and version goes through the
  engine's own version rules (``scans.engine.checks.versions``), so an nmap file
  finds the same Enclave QIDs as an Enclave scan would. With version detection in
  the file (``-sV``/``-A`` in the command line, or a service nmap "probed"), the
  host counts as covered by the engine's "versions" check: a version finding it no
  longer shows becomes Fixed, as after an Enclave scan.

Severity table: every NSE output is 1 (Minimal), kind "info". Version findings
keep the severity of their Enclave QID.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from core.results import Service
from scans.engine.checks.versions import service_findings
from scans.engine.nmap import service_cpes

from .base import ImportedFinding, ImportedHost, Item, KbEntry, port_number, records, usable_ip

FORMAT = "nmap"
LABEL = "nmap XML"
ROOTS = ("nmaprun",)
SEVERITY = 1


def _script_entry(script_id: str) -> KbEntry:
    return KbEntry(
        external_id=script_id,
        title=f"nmap {script_id}",
        severity=SEVERITY,
        kind="info",
        category="NSE script",
        diagnosis=(
            f"Output of the nmap NSE script '{script_id}' (information gathered). "
            "The evidence is the script's output as nmap wrote it."
        ),
    )


def _version_detection(args: str) -> bool:
    tokens = args.split()
    return "-sV" in tokens or "-A" in tokens


def parse(stream: IO[bytes]) -> Iterator[Item]:
    scripts: set[str] = set()
    number = 0
    for _tag, node, root in records(stream, roots=ROOTS, wanted={("nmaprun", "host")}, label=LABEL):
        number += 1
        where = f"<host> {number}"
        status = node.find("status")
        if status is not None and status.get("state") not in (None, "up"):
            continue
        address = ""
        for element in node.findall("address"):
            if element.get("addrtype") in ("ipv4", "ipv6"):
                address = element.get("addr", "")
                break
        hostnames = [h.get("name", "") for h in node.findall("hostnames/hostname")]
        hostnames = [h for h in hostnames if h]
        ip, reason = usable_ip(address)
        host = ImportedHost(
            address=address or (hostnames[0] if hostnames else where),
            ip=ip,
            skip_reason=reason,
            dns=hostnames[0] if hostnames else "",
        )
        probed = _version_detection(root.get("args", ""))
        ostypes = []
        new_scripts: list[str] = []
        for port in node.findall("ports/port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            number_text = port.get("portid", "")
            port_no = port_number(number_text, f"{where}, <port portid='{number_text}'>")
            protocol = port.get("protocol", "tcp")
            svc = port.find("service")
            attrs = svc.attrib if svc is not None else {}
            probed = probed or attrs.get("method") == "probed"
            service = Service(
                port=port_no,
                protocol=protocol,
                name=attrs.get("name", ""),
                product=attrs.get("product", ""),
                version=attrs.get("version", ""),
                extrainfo=attrs.get("extrainfo", ""),
                tunnel=attrs.get("tunnel", ""),
                cpes=service_cpes(svc),
            )
            host.services.append(service)
            ostypes.append(attrs.get("ostype", ""))
            if service.product and service.version:
                host.engine_findings.extend(service_findings(service))
            for script in port.findall("script"):
                script_id = script.get("id", "")
                if script_id:
                    host.findings.append(
                        ImportedFinding(script_id, port_no, protocol, script.get("output", ""))
                    )
                    new_scripts.append(script_id)
        for script in node.findall("hostscript/script"):
            script_id = script.get("id", "")
            if script_id:
                host.findings.append(ImportedFinding(script_id, 0, "", script.get("output", "")))
                new_scripts.append(script_id)
        if probed:
            host.engine_checks.append("versions")
        match = node.find("os/osmatch")
        if match is not None and match.get("name"):
            host.os = f"{match.get('name')} ({match.get('accuracy', '?')}%)"
        else:
            host.os = next((o for o in ostypes if o), "")
        for script_id in new_scripts:
            if script_id not in scripts:
                scripts.add(script_id)
                yield _script_entry(script_id)
        yield host
