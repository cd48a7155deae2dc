"""The KnowledgeBase that ships with the engine: one dict per QID.

Keys (stable: the platform loads them into its Vulnerability table):
qid, title, severity (1-5), kind ("confirmed" | "potential" | "info"),
category, cvss (float or None), cves (list of CVE ids), diagnosis,
consequence, solution, check (the name in scans.engine.checks.CHECKS whose
run can find, or stop finding, this QID).

QID ranges: 27xxx FTP, 38xxx TLS and SSH, 45xxx information gathered,
86xxx web servers, 105xxx cleartext and unauthenticated services.
"""

from __future__ import annotations

from . import info, openssh, services, software, ssh, tls, web

KB_ENTRIES: list[dict] = [
    *info.ENTRIES,
    *tls.ENTRIES,
    *ssh.ENTRIES,
    *web.ENTRIES,
    *services.ENTRIES,
    *openssh.ENTRIES,
    *software.ENTRIES,
]

KB_BY_QID: dict[int, dict] = {entry["qid"]: entry for entry in KB_ENTRIES}
QID_CHECK: dict[int, str] = {entry["qid"]: entry["check"] for entry in KB_ENTRIES}


def check_for(qid: int) -> str:
    """The name of the check that produces ``qid``; KeyError for an unknown QID."""
    return QID_CHECK[qid]


__all__ = ["KB_BY_QID", "KB_ENTRIES", "QID_CHECK", "check_for"]
