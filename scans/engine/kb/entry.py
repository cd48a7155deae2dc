"""One KB entry as the dict the platform loads."""

from __future__ import annotations

KINDS = ("confirmed", "potential", "info")


def entry(
    qid: int,
    title: str,
    *,
    severity: int,
    kind: str,
    category: str,
    check: str,
    diagnosis: str,
    consequence: str,
    solution: str,
    cvss: float | None = None,
    cves: tuple[str, ...] = (),
) -> dict:
    """A KB dict with every key present; ValueError on a severity or kind out of range."""
    if not 1 <= severity <= 5:
        raise ValueError(f"QID {qid}: severity {severity} is not 1-5")
    if kind not in KINDS:
        raise ValueError(f"QID {qid}: kind {kind!r} is not one of {KINDS}")
    return {
        "qid": qid,
        "title": title,
        "severity": severity,
        "kind": kind,
        "category": category,
        "cvss": cvss,
        "cves": list(cves),
        "diagnosis": " ".join(diagnosis.split()),
        "consequence": " ".join(consequence.split()),
        "solution": " ".join(solution.split()),
        "check": check,
    }
