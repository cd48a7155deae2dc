"""Greenbone / OpenVAS XML reports: GMP ``get_reports`` output
(``<get_reports_response><report><report>…``) or the report as downloaded in the
XML format (root ``<report>``).

* Each ``<result>`` is a finding of the KB entry of its NVT (external id: the NVT
  OID) on the result's host and port ("443/tcp"; "general/tcp" is port 0). Its
  evidence is the result's ``description`` with the QoD (quality of detection).
* The KB entry takes the NVT's name, family, CVSS base score, CVEs (``refs`` or
  the older ``cve`` element), and from its tags: summary + insight (diagnosis),
  impact (consequence), solution (or the ``solution`` element).
* Hosts are the report's ``<host>`` blocks (address, host name, best OS) and the
  hosts the results name: a scanned host without results is covered too (its
  Greenbone findings not in the file become Fixed).
* Results marked false positive (severity below 0) are not imported.

Results are sorted by severity, not host, in these reports, so this parser
sets every result aside in a temporary SQLite file on disk (``_Pending``), and
yields each host with its findings once the file is read: memory holds the
hosts' names, not their findings.

Severity table (CVSS score of the NVT, Greenbone's own bands):

    0.0 Log            -> 1 Minimal, kind "info"
    0.1 - 3.9 Low      -> 2 Medium
    4.0 - 6.9 Medium   -> 3 Serious
    7.0 - 8.9 High     -> 4 Critical
    9.0 - 10.0 Critical-> 5 Urgent

Kind: "info" for log results, "potential" when the QoD is below 70% (Greenbone
hides those by default), otherwise "confirmed".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import IO

from core.digits import ascii_digits

from .base import (
    ImportedFinding,
    ImportedHost,
    ImportFormatError,
    Item,
    KbEntry,
    children,
    cve_ids,
    fields,
    port_number,
    records,
    score,
    text,
    usable_ip,
)

FORMAT = "openvas"
LABEL = "a Greenbone/OpenVAS XML report"
ROOTS = ("get_reports_response", "report")
QOD_POTENTIAL_BELOW = 70


def severity_band(value: float) -> int:
    """Greenbone's severity bands on Enclave's 1-5 scale (module docstring)."""
    if value <= 0.0:
        return 1
    if value < 4.0:
        return 2
    if value < 7.0:
        return 3
    if value < 9.0:
        return 4
    return 5


def _tags(raw: str) -> dict[str, str]:
    out = {}
    for part in (raw or "").split("|"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _port(raw: str, where: str) -> tuple[int, str]:
    number, _sep, protocol = (raw or "").strip().partition("/")
    if not ascii_digits(number):  # "general/tcp", "package", ""
        return 0, ""
    return port_number(number, where), protocol.lower()[:8]


def _entry(nvt, oid: str, value: float, qod: int | None, where: str) -> KbEntry:
    tags = _tags(text(nvt, "tags"))
    cves = [r.get("id", "") for r in nvt.findall("refs/ref") if r.get("type", "").lower() == "cve"]
    cves = cve_ids(*cves, text(nvt, "cve"))
    if value <= 0.0:
        kind = "info"
    elif qod is not None and qod < QOD_POTENTIAL_BELOW:
        kind = "potential"
    else:
        kind = "confirmed"
    diagnosis = "\n\n".join(t for t in (tags.get("summary", ""), tags.get("insight", "")) if t)
    return KbEntry(
        external_id=oid,
        title=(text(nvt, "name") or f"NVT {oid}")[:255],
        severity=severity_band(value),
        kind=kind,
        category=text(nvt, "family")[:64],
        cvss=value,
        cves=cves,
        diagnosis=diagnosis,
        consequence=tags.get("impact", ""),
        solution=text(nvt, "solution") or tags.get("solution", ""),
    )


class _Pending:
    """Findings set aside on disk until the file is read: a temporary SQLite
    database (``sqlite3.connect("")``: a private file, deleted on close), rows
    numbered by host in the order hosts were met."""

    BATCH = 2_000

    def __init__(self):
        self.db = sqlite3.connect("")
        self.db.execute(
            "CREATE TABLE finding (host INTEGER, oid TEXT, port INTEGER, protocol TEXT,"
            " evidence TEXT)"
        )
        self.rows: list[tuple] = []

    def add(self, host: int, finding: ImportedFinding) -> None:
        self.rows.append(
            (host, finding.external_id, finding.port, finding.protocol, finding.results)
        )
        if len(self.rows) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        self.db.executemany("INSERT INTO finding VALUES (?, ?, ?, ?, ?)", self.rows)
        self.rows = []

    def by_host(self) -> Iterator[tuple[int, list[ImportedFinding]]]:
        """(host number, its findings in file order), host by host."""
        self._flush()
        self.db.execute("CREATE INDEX finding_host ON finding (host)")
        rows = self.db.execute(
            "SELECT host, oid, port, protocol, evidence FROM finding ORDER BY host, rowid"
        )
        for host, group in groupby(rows, key=itemgetter(0)):
            yield host, [ImportedFinding(*row[1:]) for row in group]

    def close(self) -> None:
        self.db.close()


def parse(stream: IO[bytes]) -> Iterator[Item]:
    pending = _Pending()
    try:
        yield from _parse(stream, pending)
    finally:
        pending.close()


def _parse(stream: IO[bytes], pending: _Pending) -> Iterator[Item]:
    hosts: dict[str, _Host] = {}
    known: set[str] = set()
    results = 0
    wanted = {("results", "result"), ("report", "host")}
    for tag, node, _root in records(stream, roots=ROOTS, wanted=wanted, label=LABEL):
        if tag == "host":
            address = text(node, "ip")
            host = _host(hosts, address)
            for detail in node.findall("detail"):
                name, value = text(detail, "name"), text(detail, "value")
                if name == "hostname" and not host.dns:
                    host.dns = value[:255]
                elif name == "best_os_txt" and value:
                    host.os = value[:255]
            continue
        results += 1
        where = f"<result> {results} (id '{node.get('id', '')}')"
        parts = children(node)
        nvt = parts.get("nvt")
        oid = (nvt.get("oid", "") if nvt is not None else "").strip()
        if not oid:
            raise ImportFormatError(f"{where}: no <nvt oid=…>.")
        result_value = score(text(parts.get("severity")), f"{where}, <severity>")
        if result_value is not None and result_value < 0:
            continue  # false positive (an override set it below 0)
        host_element = parts.get("host")
        address = text(host_element)
        host = _host(hosts, address)
        if host_element is not None and not host.dns:
            host.dns = text(host_element, "hostname")[:255]
        port, protocol = _port(text(parts.get("port")), where)
        qod_facts = fields(parts["qod"]) if "qod" in parts else {}
        qod_text = qod_facts.get("value", "")
        qod = int(qod_text) if ascii_digits(qod_text) else None
        if oid not in known:
            nvt_value = score(text(nvt, "cvss_base"), f"{where}, <cvss_base>")
            severities = nvt.find("severities")
            if nvt_value is None and severities is not None:
                nvt_value = score(severities.get("score", ""), f"{where}, <severities>")
            value = nvt_value if nvt_value is not None else (result_value or 0.0)
            known.add(oid)
            yield _entry(nvt, oid, max(value, 0.0), qod, where)
        evidence = text(parts.get("description"))
        if qod is not None:
            qod_type = qod_facts.get("type", "")
            evidence += f"\n\nQoD: {qod}%" + (f" ({qod_type})" if qod_type else "")
        pending.add(host.number, ImportedFinding(oid, port, protocol, evidence.strip()))
    ordered = list(hosts.values())
    hosts.clear()
    found = pending.by_host()
    next_found = next(found, None)
    for n, host in enumerate(ordered):
        ordered[n] = None  # each host's findings are let go once it is yielded
        if next_found is not None and next_found[0] == n:
            host.findings = next_found[1]
            next_found = next(found, None)
        yield host


@dataclass
class _Host(ImportedHost):
    number: int = 0  # in the order the file names hosts: its findings' key in _Pending


def _host(hosts: dict[str, _Host], address: str) -> _Host:
    host = hosts.get(address)
    if host is None:
        ip, reason = usable_ip(address)
        host = hosts[address] = _Host(
            address=address or "(no host)", ip=ip, skip_reason=reason, number=len(hosts)
        )
    return host
