"""What every import parser returns, and the one safe way they read XML.

Plain dataclasses, no Django: a parser turns a file into a stream of
``ImportedHost`` and ``KbEntry`` objects and ``scans.services.imports`` does the
database work (DefectDojo's parser contract).

XML is read by streaming (``iterparse``), never whole, behind defusedxml
(``safe_iterparse``): a DOCTYPE is allowed (Qualys files carry
``<!DOCTYPE … SYSTEM "https://…">``) but never fetched, and any entity
declaration (billion laughs, external entities) stops the parse at once with
``ImportFormatError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO
from xml.etree import ElementTree  # noqa: S405 - only after defusedxml checked the prolog
from xml.etree.ElementTree import Element, ParseError  # noqa: S405

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse
from lxml import etree as lxml_etree

from core import iprange
from core.digits import ascii_digits
from core.results import Finding, Service

KINDS = ("confirmed", "potential", "info")


class ImportFormatError(ValueError):
    """The file is not of the format, is truncated or malformed; the message
    names the line (XML errors) or the element (missing or bad values)."""


@dataclass
class KbEntry:
    """One vulnerability as the source describes it: a KB entry of that source."""

    external_id: str  # NVT OID, Nessus plugin id, Qualys QID, nmap script id
    title: str
    severity: int  # 1-5, mapped by the format's documented table
    kind: str = "confirmed"  # "confirmed" | "potential" | "info"
    category: str = ""
    cvss: float | None = None
    cves: list[str] = field(default_factory=list)
    diagnosis: str = ""
    consequence: str = ""
    solution: str = ""
    # False: the file names the vulnerability but does not describe it (Qualys
    # host detection output); an entry the KB already holds is then kept as is.
    detailed: bool = True


@dataclass
class ImportedFinding:
    """One vulnerability of the source seen on a host (port 0: the host as a whole)."""

    external_id: str
    port: int = 0
    protocol: str = ""
    results: str = ""
    first_found: datetime | None = None  # when the source says it first saw it
    last_found: datetime | None = None


@dataclass
class ImportedHost:
    """One host of the file. ``ip`` is "" when it has no usable address; then
    ``skip_reason`` says why and the host is listed, not imported."""

    address: str  # the host as the file names it (for messages)
    ip: str = ""
    skip_reason: str = ""
    dns: str = ""
    netbios: str = ""
    os: str = ""
    services: list[Service] = field(default_factory=list)
    findings: list[ImportedFinding] = field(default_factory=list)
    # Enclave's own QIDs the file proves (nmap: the engine's version rules), and
    # the Enclave checks whose ground the file covered ("versions" after -sV).
    engine_findings: list[Finding] = field(default_factory=list)
    engine_checks: list[str] = field(default_factory=list)


Item = ImportedHost | KbEntry


def safe_iterparse(stream: IO[bytes], events=("start", "end")) -> Iterator[tuple[str, Element]]:
    """Streams the file's elements; XML errors become ImportFormatError naming the
    line and column, entity declarations and external references a refusal.

    Two readers, one guard. defusedxml (``forbid_entities``, ``forbid_external``,
    DTDs allowed) reads the prolog, up to the root element's start: that is the
    only place XML allows a DOCTYPE, so every entity declaration and every
    external reference (a DTD's URL is never fetched) is met there, and refused.
    The body is then read again from the start by the standard library's C
    parser, about six times faster than defusedxml's Python one on files of
    hundreds of megabytes: with no entity declared, any entity reference in it
    other than XML's five is an "undefined entity" error, never an expansion or
    a fetch (expat loads no external DTD for ElementTree).
    """
    start = stream.tell()
    with _readable_errors():
        for _event, _element in iterparse(
            stream, events=("start",), forbid_dtd=False, forbid_entities=True, forbid_external=True
        ):
            break  # the root element: the prolog is behind us, and was clean
    stream.seek(start)
    with _readable_errors():
        yield from ElementTree.iterparse(stream, events=events)  # noqa: S314 - see above


@contextmanager
def _readable_errors():
    try:
        yield
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        reason = str(error).split(":")[0]
        if reason.startswith("no element found") or reason.startswith("unclosed token"):
            reason = f"the file ends early (truncated?): {reason}"
        raise ImportFormatError(
            f"Not well-formed XML at line {line}, column {column}: {reason}."
        ) from None
    except EntitiesForbidden as error:
        raise ImportFormatError(
            f"The file declares the XML entity '{error.name}'. Entities are refused: "
            "they are how XML bombs (billion laughs) and external-entity attacks work, "
            "and no scanner's export needs them."
        ) from None
    except ExternalReferenceForbidden as error:
        raise ImportFormatError(
            f"The file refers to an external resource ({error.sysid or error.pubid}); "
            "nothing is fetched, so the file is refused."
        ) from None
    except DTDForbidden:  # pragma: no cover - DTDs are allowed (forbid_dtd=False)
        raise ImportFormatError("The file's DOCTYPE is refused.") from None


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag


def text(element: Element | None, path: str = "") -> str:
    """The stripped text of ``element`` (or of its child at ``path``); "" when absent."""
    if element is not None and path:
        element = element.find(path)
    if element is None or element.text is None:
        return ""
    return element.text.strip()


def children(element: Element) -> dict[str, Element]:
    """The children of ``element`` by tag, the first of a tag winning: what
    ``element.find(tag)`` gives for each, read in one pass (lxml's ``find`` is
    Python; a record's dozen of them cost a parser 2 s per 100,000 findings)."""
    out: dict[str, Element] = {}
    for child in element:
        if isinstance(child.tag, str):  # not a comment or processing instruction
            out.setdefault(child.tag, child)
    return out


def fields(element: Element) -> dict[str, str]:
    """What ``text(element, tag)`` gives for each child's tag, in one pass."""
    return {tag: (child.text or "").strip() for tag, child in children(element).items()}


def usable_ip(value: str) -> tuple[str, str]:
    """(normalised IP, "") for an address, else ("", the reason it is not one)."""
    value = (value or "").strip()
    if not value:
        return "", "no IP address in the file"
    try:
        return iprange.normalise_ip(value), ""
    except (iprange.IPRangeError, ValueError):
        pass
    if re.fullmatch(r"[0-9.]+", value) or ":" in value:
        return "", f"'{value}' is not a valid IP address"
    return "", f"host name only ('{value}'), no IP address"


def port_number(value: str, where: str) -> int:
    """A port 0-65535 from text ("" and "general" are 0); ImportFormatError otherwise."""
    value = (value or "").strip()
    if value in ("", "general", "0"):
        return 0
    if not ascii_digits(value) or int(value) > 65535:
        raise ImportFormatError(f"{where}: port '{value}' is not a port number (0-65535).")
    return int(value)


def score(value: str, where: str) -> float | None:
    """A CVSS-like score 0.0-10.0 from text; None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ImportFormatError(f"{where}: '{value}' is not a score.") from None
    if number != number or number > 10.0:  # NaN or out of range
        raise ImportFormatError(f"{where}: '{value}' is not a score from 0.0 to 10.0.")
    return number


_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


def cve_ids(*texts: str) -> list[str]:
    """CVE ids found in the texts, upper-cased, first occurrence order, no repeats."""
    seen: dict[str, None] = {}
    for value in texts:
        for match in _CVE.findall(value or ""):
            seen.setdefault(match.upper(), None)
    return list(seen)


def timestamp(value: str) -> datetime | None:
    """An ISO 8601 date-time ("2024-03-01T10:00:00Z"), UTC; None when empty or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def records(
    stream: IO[bytes], *, roots: tuple[str, ...], wanted: set[tuple[str, str]], label: str
) -> Iterator[tuple[str, Element, Element]]:
    """Streams ``(tag, element, root)`` for each element whose (parent, tag) pair is
    in ``wanted``, complete, then frees it and what came before it: memory holds
    one record at a time.

    The root element must be one of ``roots`` (else ImportFormatError saying what
    the file is); its attributes are readable from the first record on. The
    prolog is checked by defusedxml first (``safe_iterparse``'s guard); the body
    is read by lxml (libxml2), which hands Python only the wanted elements (a
    .nessus file has some thirty elements per finding), with entity
    substitution, DTD loading and network access off.
    """
    start = stream.tell()
    root_tag = ""
    for _event, element in safe_iterparse(stream, events=("start",)):
        root_tag = local(element.tag)
        break
    if root_tag not in roots:
        raise ImportFormatError(
            f"Not {label}: the root element is <{root_tag}>, expected "
            + " or ".join(f"<{r}>" for r in roots)
            + "."
        )
    stream.seek(start)
    parents: dict[str, set[str]] = {}
    for parent, tag in wanted:
        parents.setdefault(tag, set()).add(parent)
    events = lxml_etree.iterparse(
        stream,
        events=("end",),
        tag=sorted(parents),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    root = None
    try:
        for _event, element in events:
            parent = element.getparent()
            if parent is None or parent.tag not in parents[element.tag]:
                continue
            if root is None:
                root = element.getroottree().getroot()
            yield element.tag, element, root
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del parent[0]
    except lxml_etree.XMLSyntaxError as error:
        line, column = error.position
        reason = (error.msg or str(error)).split(", line")[0]
        if line >= _last_line(stream, start):
            reason = f"the file ends early (truncated?): {reason}"
        raise ImportFormatError(
            f"Not well-formed XML at line {line}, column {column}: {reason}."
        ) from None


def _last_line(stream: IO[bytes], start: int) -> int:
    """The number of the file's last line (an error there means it ends early)."""
    stream.seek(start)
    lines = 1
    while chunk := stream.read(1 << 20):
        lines += chunk.count(b"\n")
    return lines
