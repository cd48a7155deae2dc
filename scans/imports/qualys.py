"""Qualys XML: scan reports (``ASSET_DATA_REPORT``) and host list detection
output (``HOST_LIST_VM_DETECTION_OUTPUT``). Both carry a
``<!DOCTYPE … SYSTEM "https://…">`` line, which is never fetched.

ASSET_DATA_REPORT: ``HOST_LIST/HOST`` with ``IP``, ``DNS``, ``NETBIOS``,
``OPERATING_SYSTEM`` and ``VULN_INFO_LIST/VULN_INFO`` (``QID``, ``TYPE``,
``PORT``, ``PROTOCOL``, ``RESULT``, ``FIRST_FOUND``, ``LAST_FOUND``,
``VULN_STATUS``); the ``GLOSSARY`` at the end describes each QID (``TITLE``,
``SEVERITY``, ``CATEGORY``, ``THREAT`` = diagnosis, ``IMPACT`` = consequence,
``SOLUTION``, CVSS v3 base score when given else v2, ``CVE_ID_LIST``).

HOST_LIST_VM_DETECTION_OUTPUT: ``HOST`` with ``IP`` (or ``IPV6``), ``DNS``,
``NETBIOS``, ``OS`` and ``DETECTION_LIST/DETECTION`` (``QID``, ``TYPE``,
``SEVERITY``, ``PORT``, ``PROTOCOL``, ``RESULTS``, ``STATUS``,
``FIRST_FOUND_DATETIME``, ``LAST_FOUND_DATETIME``). This output does not
describe QIDs: their KB entries are "Qualys QID n" until a scan report (or
another source) describes them, and never overwrite a description already held.

Detections Qualys reports as Fixed are not findings (the host is still covered,
so Enclave marks its own copy Fixed too).

Severity table: Qualys severity 1-5 is Enclave's 1-5 as is. Kind: ``TYPE``
Vuln/Confirmed -> "confirmed", Practice/Potential -> "potential",
Ig/Info -> "info".
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
    fields,
    port_number,
    records,
    score,
    text,
    timestamp,
    usable_ip,
)

FORMAT = "qualys"
LABEL = "a Qualys XML scan report or host list detection output"
ROOTS = ("ASSET_DATA_REPORT", "HOST_LIST_VM_DETECTION_OUTPUT")

KIND = {
    "vuln": "confirmed",
    "confirmed": "confirmed",
    "practice": "potential",
    "potential": "potential",
    "ig": "info",
    "info": "info",
}


def _qid(raw: str, where: str) -> str:
    raw = (raw or "").strip()
    if not ascii_digits(raw):
        raise ImportFormatError(f"{where}: QID '{raw}' is not a number.")
    return str(int(raw))


def _severity(raw: str, where: str) -> int:
    raw = (raw or "").strip()
    if raw not in ("1", "2", "3", "4", "5"):
        raise ImportFormatError(f"{where}: severity '{raw}' is not 1-5.")
    return int(raw)


def _kind(raw: str) -> str:
    return KIND.get((raw or "").strip().lower(), "confirmed")


def _placeholder(qid: str, severity: int, kind: str, note: str = "") -> KbEntry:
    return KbEntry(
        external_id=qid,
        title=f"Qualys QID {qid}",
        severity=severity,
        kind=kind,
        diagnosis=note,
        detailed=False,
    )


def parse(stream: IO[bytes]) -> Iterator[Item]:
    kinds: dict[str, str] = {}  # QIDs seen on hosts, with their type
    described: set[str] = set()
    number = 0
    glossary = 0
    detection_output = False
    wanted = {("HOST_LIST", "HOST"), ("VULN_DETAILS_LIST", "VULN_DETAILS")}
    for tag, node, root in records(stream, roots=ROOTS, wanted=wanted, label=LABEL):
        detection_output = root.tag == "HOST_LIST_VM_DETECTION_OUTPUT"
        if tag == "VULN_DETAILS":
            glossary += 1
            where = f"<VULN_DETAILS> {glossary}"
            qid = _qid(text(node, "QID"), where)
            described.add(qid)
            yield _glossary_entry(node, qid, kinds.get(qid, "confirmed"), f"{where} (QID {qid})")
            continue
        number += 1
        facts = fields(node)
        address = facts.get("IP") or facts.get("IPV6", "")
        dns, netbios = facts.get("DNS", ""), facts.get("NETBIOS", "")
        where = f"<HOST> {number} ('{address or dns}')"
        ip, reason = usable_ip(address or dns or netbios)
        host = ImportedHost(
            address=address or dns or netbios or where,
            ip=ip,
            skip_reason=reason,
            dns=dns[:255],
            netbios=netbios[:64],
            os=(facts.get("OS") or facts.get("OPERATING_SYSTEM", ""))[:255],
        )
        items = node.findall("DETECTION_LIST/DETECTION") or node.findall("VULN_INFO_LIST/VULN_INFO")
        for index, item in enumerate(items, start=1):
            item_where = f"{where}, <{local_name(item)}> {index}"
            got = fields(item).get
            qid = _qid(got("QID", ""), item_where)
            status = (got("STATUS") or got("VULN_STATUS", "")).lower()
            kind = _kind(got("TYPE", ""))
            if qid not in kinds:
                kinds[qid] = kind
                if detection_output:
                    severity = _severity(got("SEVERITY", ""), item_where)
                    yield _placeholder(qid, severity, kind)
            if status == "fixed":
                continue
            port = port_number(got("PORT", ""), item_where)
            host.findings.append(
                ImportedFinding(
                    external_id=qid,
                    port=port,
                    protocol=got("PROTOCOL", "").lower()[:8] if port else "",
                    results=got("RESULTS") or got("RESULT", ""),
                    first_found=timestamp(got("FIRST_FOUND_DATETIME") or got("FIRST_FOUND", "")),
                    last_found=timestamp(got("LAST_FOUND_DATETIME") or got("LAST_FOUND", "")),
                )
            )
        yield host
    if not detection_output:
        # A scan report describes its QIDs in the glossary; one it forgot still
        # gets an entry, saying so.
        for qid in kinds:
            if qid not in described:
                yield _placeholder(qid, 1, kinds[qid], "The file does not describe this QID.")


def local_name(element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _glossary_entry(node, qid: str, kind: str, where: str) -> KbEntry:
    cvss3 = score(text(node, "CVSS3_SCORE/CVSS3_BASE"), f"{where}, <CVSS3_BASE>")
    cvss2 = score(text(node, "CVSS_SCORE/CVSS_BASE"), f"{where}, <CVSS_BASE>")
    return KbEntry(
        external_id=qid,
        title=(text(node, "TITLE") or f"Qualys QID {qid}")[:255],
        severity=_severity(text(node, "SEVERITY"), where),
        kind=kind,
        category=text(node, "CATEGORY")[:64],
        cvss=cvss3 if cvss3 is not None else cvss2,
        cves=cve_ids(*(text(c, "ID") for c in node.findall("CVE_ID_LIST/CVE_ID"))),
        diagnosis=text(node, "THREAT"),
        consequence=text(node, "IMPACT"),
        solution=text(node, "SOLUTION"),
    )
