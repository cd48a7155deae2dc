"""Feeds: knowledge brought in as files, matched against what scans recorded.

Plain Python, no Django, no ORM (DESIGN.md "Shape"): this package reads the
files and matches; ``scans.services`` does the database work.

Formats, one module each, registered in ``FEEDS`` (DefectDojo's parser
contract): each has ``FORMAT``, ``LABEL``, ``read_header(stream)`` (cheap: the
file's own description, or ``FeedFormatError``) and ``parse(stream)``, which
streams plain dataclasses:

=====  ==========================================  ===============================
name   file                                        yields
=====  ==========================================  ===============================
nvd    NVD CVE JSON 2.0 (yearly/modified feeds,    ``nvd.CveRecord``: id, status,
       API pages), gzip or plain                   dates, description, CVSS, CWEs,
                                                   references, match ``rules``
kev    CISA Known Exploited Vulnerabilities JSON   ``kev.KevEntry``: dateAdded,
                                                   dueDate, ransomware use, ...
epss   FIRST EPSS CSV (usually gzip)               ``epss.EpssScore``: epss,
                                                   percentile
=====  ==========================================  ===============================

Use::

    with open_feed(path_or_binary_file) as stream:   # gunzips when it is gzip
        name = detect_format(stream)                 # or FeedFormatError
        for record in FEEDS[name].parse(stream):     # one at a time
            ...

``parse`` may raise ``FeedFormatError`` after it has yielded records (a
truncated file is only known at its end): write in one transaction, or stage
and commit after the parse finished, so a bad file changes nothing.

Matching (``matcher``): ``MatchIndex.build(records)`` indexes the vulnerable
criteria by (vendor, product), with nmap's names joined to NVD's
(``matcher.PRODUCT_ALIASES``); ``index.match_host(items)`` takes a host's
service inventory (``matcher.InventoryItem``) and returns ``FeedMatch``es:
CVE id, the criterion that matched, the version compared, an evidence line
("OpenSSH 8.5p1 reported by the service on 22/tcp") and caveats. Version
rules: ``versions``; CPE names: ``cpe``.

Suggested shape for the database half: one KB entry per CVE (source "nvd",
external id the CVE id; kind "potential"), so a detection is (host, CVE, port,
protocol) and a CVE that stops matching (feed changed, version upgraded) is
Fixed on its own; ``CveRecord.fingerprint()`` tells an unchanged record on
re-import; KEV and EPSS are per-CVE attributes joined by CVE id.
"""

from __future__ import annotations

import io
import json

import ijson

from . import epss, kev, nvd
from .base import FeedFormatError, Source, damaged_gzip, open_feed

FEEDS = {nvd.FORMAT: nvd, kev.FORMAT: kev, epss.FORMAT: epss}
FORMAT_LABELS = {name: module.LABEL for name, module in FEEDS.items()}
SNIFF_BYTES = 1 << 20  # a JSON file's kind shows in its first keys: read at most 1 MiB
READS = "NVD CVE JSON 2.0, the CISA KEV catalog (JSON) and FIRST EPSS scores (CSV), plain or gzip"


def detect_format(source: Source) -> str:
    """The feed format of a file (a path, or a binary stream: it is read from its
    current position and put back there), told by its content, never its name;
    FeedFormatError saying what the file is otherwise."""
    if isinstance(source, str) or hasattr(source, "__fspath__"):
        with open_feed(source) as stream:
            return _sniff(stream)
    start = source.tell()
    try:
        with open_feed(source) as stream:
            return _sniff(stream)
    finally:
        source.seek(start)


def _sniff(stream) -> str:
    with damaged_gzip():
        head = stream.read(SNIFF_BYTES)
    if not head.strip():
        raise FeedFormatError("The file is empty.")
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body[:1] in (b"{", b"["):
        return _sniff_json(head, complete=len(head) < SNIFF_BYTES)
    first_line = body.split(b"\n", 1)[0].strip().lower()
    if first_line.startswith(b"#model_version") or _csv_columns(first_line) >= {"cve", "epss"}:
        return epss.FORMAT
    raise FeedFormatError(
        f"Not a feed file Enclave reads: {_describe(body)}. Enclave reads {READS}."
    )


def _sniff_json(head: bytes, *, complete: bool) -> str:
    keys: list[str] = []
    scalars: dict[str, object] = {}
    first_item_key = None
    try:
        for count, (prefix, event, value) in enumerate(ijson.parse(io.BytesIO(head))):
            if count == 0 and event == "start_array":
                raise FeedFormatError(
                    f"Not a feed file Enclave reads: the file is a JSON list; the NVD and KEV "
                    f"files are JSON objects. Enclave reads {READS}."
                )
            if prefix == "" and event == "map_key":
                keys.append(value)
            elif prefix in ("format", "catalogVersion", "CVE_data_type", "dataType"):
                scalars[prefix] = value
            elif prefix == "vulnerabilities.item" and event == "map_key":
                first_item_key = value
                break
    except ijson.JSONError as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if "premature EOF" not in message:
            raise FeedFormatError(
                f"Not a feed file Enclave reads: the file starts like JSON but is not valid "
                f"JSON ({message or 'unreadable'})."
            ) from None
        if complete:
            raise FeedFormatError(
                f"The file ends early (truncated?): its {len(head):,} bytes stop inside JSON."
            ) from None
    if scalars.get("format") == "NVD_CVE" or first_item_key == "cve":
        return nvd.FORMAT
    if "catalogVersion" in scalars or first_item_key == "cveID":
        return kev.FORMAT
    if "CVE_Items" in keys or "CVE_data_type" in scalars:
        raise FeedFormatError(
            "This is an NVD JSON 1.1 feed, which NVD retired in 2023: bring the NVD CVE JSON "
            "2.0 feed files (nvdcve-2.0-*.json.gz)."
        )
    if scalars.get("dataType") == "CVE_RECORD":
        raise FeedFormatError(
            "This is a CVE JSON 5 record from the CVE List (cve.org), which has no NVD "
            "configurations to match: bring the NVD CVE JSON 2.0 feed files."
        )
    shown = ", ".join(json.dumps(k) for k in keys[:8]) or "none"
    raise FeedFormatError(
        f"Not a feed file Enclave reads: a JSON object with the keys {shown}. "
        f"Enclave reads {READS}."
    )


def _csv_columns(line: bytes) -> set[str]:
    return {c.strip().strip('"') for c in line.decode("utf-8", "replace").split(",")}


def _describe(body: bytes) -> str:
    if body.startswith(b"<"):
        return "it is XML or HTML"
    if b"\x00" in body[:1024]:
        return "it is a binary file"
    try:
        first = body[:200].decode("utf-8").splitlines()[0]
    except (UnicodeDecodeError, IndexError):
        return "it is a binary file"
    shown = "".join(c if c.isprintable() else "?" for c in first[:60])
    return f"it starts with '{shown}'"


__all__ = ["FEEDS", "FORMAT_LABELS", "FeedFormatError", "detect_format", "open_feed"]
