"""Parsers of other scanners' result files: plain Python, no Django, no ORM.

One module per format (DefectDojo's contract), registered in ``PARSERS``; each
has ``FORMAT``, ``LABEL``, ``ROOTS`` (the root elements it reads) and
``parse(stream)``, which streams ``ImportedHost`` and ``KbEntry`` objects
(``base``). ``scans.services.imports`` writes them through the same ingest as
Enclave's own scans.

Severity tables (each module's docstring has its own):

=========================  =======================================================
source                     Enclave severity (1 Minimal … 5 Urgent)
=========================  =======================================================
nmap NSE script output     1, information gathered
Greenbone / OpenVAS        CVSS 0.0 (log) 1 · 0.1–3.9 2 · 4.0–6.9 3 · 7.0–8.9 4 · 9.0–10 5
Nessus ``severity`` 0–4    0 (info) 1 · 1 (low) 2 · 2 (medium) 3 · 3 (high) 4 · 4 (critical) 5
Qualys 1–5                 as is
=========================  =======================================================
"""

from __future__ import annotations

from typing import IO

from . import nessus, nmap, openvas, qualys
from .base import (
    ImportedFinding,
    ImportedHost,
    ImportFormatError,
    KbEntry,
    local,
    safe_iterparse,
)

PARSERS = {
    nmap.FORMAT: nmap,
    openvas.FORMAT: openvas,
    nessus.FORMAT: nessus,
    qualys.FORMAT: qualys,
}

FORMAT_LABELS = {
    "nmap": "nmap XML",
    "openvas": "Greenbone / OpenVAS XML report",
    "nessus": "Nessus (.nessus v2)",
    "qualys": "Qualys XML (scan report or host detections)",
}

_KNOWN_OTHERS = {
    "NessusClientData": "a Nessus v1 file (.nessus v1); export it as .nessus v2",
    "SCAN": "a Qualys scan result in the SCAN format; export a scan report (ASSET_DATA_REPORT)",
}


def detect_format(stream: IO[bytes]) -> str:
    """The format whose root element the file opens with; ImportFormatError naming
    the root element otherwise. Reads only up to the first element."""
    for _event, element in safe_iterparse(stream, events=("start",)):
        tag = local(element.tag)
        for name, parser in PARSERS.items():
            if tag in parser.ROOTS:
                return name
        known = _KNOWN_OTHERS.get(tag)
        what = f"it is {known}" if known else f"its root element is <{tag}>"
        raise ImportFormatError(
            f"Not a file Enclave imports: {what}. Enclave reads nmap XML, Greenbone/OpenVAS "
            "XML reports, Nessus .nessus v2 and Qualys XML (ASSET_DATA_REPORT, "
            "HOST_LIST_VM_DETECTION_OUTPUT)."
        )
    raise ImportFormatError("The file is empty: no XML element in it.")


__all__ = [
    "FORMAT_LABELS",
    "PARSERS",
    "ImportFormatError",
    "ImportedFinding",
    "ImportedHost",
    "KbEntry",
    "detect_format",
]
