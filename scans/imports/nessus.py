"""Nessus ``.nessus`` v2 (``NessusClientData_v2``): one ``ReportHost`` per host.

* Host: ``HostProperties`` tags ``host-ip`` (else the ReportHost name when it is
  an address), ``host-fqdn`` (else ``host-rdns``), ``netbios-name``,
  ``operating-system``. A host with a name but no address is skipped.
* Each ``ReportItem`` is a finding of the KB entry "Nessus <pluginID>" on its
  port and protocol (port 0: the host as a whole); its evidence is
  ``plugin_output``. The KB entry takes ``pluginName``, ``pluginFamily``,
  ``synopsis`` + ``description`` (diagnosis), ``risk_factor`` (consequence),
  ``solution``, CVSS (v3 base score when given, else v2) and the ``cve`` ids.

Severity table (Nessus ``severity`` attribute, else ``risk_factor``):

    Nessus 0 Info      -> 1 Minimal, kind "info"
    Nessus 1 Low       -> 2 Medium
    Nessus 2 Medium    -> 3 Serious
    Nessus 3 High      -> 4 Critical
    Nessus 4 Critical  -> 5 Urgent
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from core.digits import ascii_digits

from .base import (
    ImportedFinding,
    ImportedHost,
    ImportFormatError,
    Item,
    KbEntry,
    cve_ids,
    port_number,
    records,
    score,
    text,
    usable_ip,
)

FORMAT = "nessus"
LABEL = "a Nessus .nessus v2 file"
ROOTS = ("NessusClientData_v2",)

SEVERITY = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}
RISK_FACTOR = {"none": 0, "info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _severity(item, where: str) -> int:
    raw = (item.get("severity") or "").strip()
    if raw:
        if raw not in ("0", "1", "2", "3", "4"):
            raise ImportFormatError(f"{where}: severity '{raw}' is not 0-4.")
        return int(raw)
    risk = text(item, "risk_factor").lower()
    if risk in RISK_FACTOR:
        return RISK_FACTOR[risk]
    raise ImportFormatError(f"{where}: no severity attribute and no known risk_factor.")


def _entry(item, plugin_id: str, nessus_severity: int, where: str) -> KbEntry:
    cvss3 = score(text(item, "cvss3_base_score"), f"{where}, <cvss3_base_score>")
    cvss2 = score(text(item, "cvss_base_score"), f"{where}, <cvss_base_score>")
    synopsis, description = text(item, "synopsis"), text(item, "description")
    risk = text(item, "risk_factor")
    return KbEntry(
        external_id=plugin_id,
        title=(item.get("pluginName") or text(item, "plugin_name") or f"Nessus plugin {plugin_id}")[
            :255
        ],
        severity=SEVERITY[nessus_severity],
        kind="info" if nessus_severity == 0 else "confirmed",
        category=(item.get("pluginFamily") or "")[:64],
        cvss=cvss3 if cvss3 is not None else cvss2,
        cves=cve_ids(*(c.text or "" for c in item.findall("cve"))),
        diagnosis="\n\n".join(t for t in (synopsis, description) if t),
        consequence=f"Nessus risk factor: {risk}." if risk else "",
        solution=text(item, "solution"),
    )


def parse(stream: IO[bytes]) -> Iterator[Item]:
    known: set[str] = set()
    hosts = records(stream, roots=ROOTS, wanted={("Report", "ReportHost")}, label=LABEL)
    for number, (_tag, node, _root) in enumerate(hosts, start=1):
        name = node.get("name", "")
        where = f"<ReportHost> {number} ('{name}')"
        tags = {t.get("name"): (t.text or "").strip() for t in node.findall("HostProperties/tag")}
        address = tags.get("host-ip") or name
        ip, reason = usable_ip(address)
        host = ImportedHost(
            address=address or name or where,
            ip=ip,
            skip_reason=reason,
            dns=tags.get("host-fqdn") or tags.get("host-rdns", ""),
            netbios=tags.get("netbios-name", ""),
            os=tags.get("operating-system", "").splitlines()[0]
            if tags.get("operating-system")
            else "",
        )
        if host.dns == ip:
            host.dns = ""
        for index, item in enumerate(node.iter("ReportItem"), start=1):
            plugin_id = (item.get("pluginID") or "").strip()
            item_where = f"{where}, <ReportItem> {index}"
            if not ascii_digits(plugin_id):
                raise ImportFormatError(f"{item_where}: pluginID '{plugin_id}' is not a number.")
            port = port_number(item.get("port", "0"), item_where)
            protocol = (item.get("protocol") or "").lower()[:8] if port else ""
            nessus_severity = _severity(item, item_where)
            if plugin_id not in known:
                known.add(plugin_id)
                yield _entry(item, plugin_id, nessus_severity, item_where)
            host.findings.append(
                ImportedFinding(plugin_id, port, protocol, text(item, "plugin_output"))
            )
        yield host
