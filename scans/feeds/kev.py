"""CISA's Known Exploited Vulnerabilities catalog (JSON).

The file is one object: ``{"title": "CISA Catalog of Known Exploited
Vulnerabilities", "catalogVersion": "2024.07.09", "dateReleased": ...,
"count": N, "vulnerabilities": [{"cveID", "vendorProject", "product",
"vulnerabilityName", "dateAdded", "shortDescription", "requiredAction",
"dueDate", "knownRansomwareCampaignUse", "notes", "cwes"}, ...]}``.

``parse`` streams the entries (the catalog is small, but the same streaming
reader as NVD's keeps one code path) and yields a ``KevEntry`` per CVE. An
entry without a CVE id or without ``dateAdded`` stops the parse with
``FeedFormatError`` naming the entry; ``dueDate`` may be absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

import ijson

from .base import (
    CountingReader,
    FeedFormatError,
    cve_id,
    damaged_gzip,
    iso_date,
    iso_datetime,
    json_error,
    text,
    top_level_scalars,
)

FORMAT = "kev"
LABEL = "CISA Known Exploited Vulnerabilities catalog (JSON)"


@dataclass(slots=True)
class KevEntry:
    cve_id: str
    date_added: date
    due_date: date | None = None
    vendor_project: str = ""
    product: str = ""
    vulnerability_name: str = ""
    short_description: str = ""
    required_action: str = ""
    known_ransomware_campaign_use: str = ""  # "Known" | "Unknown" as CISA writes it
    notes: str = ""
    cwes: list[str] = field(default_factory=list)

    @property
    def ransomware(self) -> bool:
        """CISA knows of ransomware campaigns using it."""
        return self.known_ransomware_campaign_use.lower() == "known"


@dataclass(slots=True)
class KevHeader:
    title: str
    catalog_version: str
    date_released: datetime | None = None
    count: int | None = None


def read_header(stream: IO[bytes]) -> KevHeader:
    """The catalog's header; FeedFormatError when the file is not the catalog."""
    reader = CountingReader(stream)
    with damaged_gzip():
        found = top_level_scalars(reader, until="vulnerabilities", label=f"the {LABEL}")
    version = found.get("catalogVersion")
    if not isinstance(version, str | int | float) or not str(version).strip():
        raise FeedFormatError(
            f'Not the {LABEL}: the file has no "catalogVersion" before its entries.'
        )
    count = found.get("count")
    return KevHeader(
        title=text(found.get("title"), 200),
        catalog_version=str(version).strip(),
        date_released=iso_datetime(found.get("dateReleased")),
        count=int(count) if isinstance(count, int | float) else None,
    )


def parse(stream: IO[bytes]) -> Iterator[KevEntry]:
    """Every entry of the catalog, in file order (the stream must be seekable)."""
    if not stream.seekable():
        raise TypeError("parse() reads the header first, then the records: give it a file.")
    start = stream.tell()
    read_header(stream)
    stream.seek(start)
    reader = CountingReader(stream)
    last = "the first entry"
    with damaged_gzip():
        try:
            items = ijson.items(reader, "vulnerabilities.item", use_float=True)
            for index, item in enumerate(items):
                entry = entry_from_json(item, f"vulnerabilities[{index}]")
                last = f"entry {index + 1:,} ({entry.cve_id})"
                yield entry
        except ijson.JSONError as error:
            raise json_error(error, reader, f"after {last}") from None


def entry_from_json(item: object, where: str) -> KevEntry:
    if not isinstance(item, dict):
        raise FeedFormatError(f'{where}: not a catalog entry (an object with "cveID").')
    identifier = cve_id(item.get("cveID"), f"{where}.cveID")
    where = f"{where} ({identifier})"
    cwes = item.get("cwes")
    return KevEntry(
        cve_id=identifier,
        date_added=iso_date(item.get("dateAdded"), f"{where}: dateAdded", required=True),
        due_date=iso_date(item.get("dueDate"), f"{where}: dueDate", required=False),
        vendor_project=text(item.get("vendorProject"), 200),
        product=text(item.get("product"), 200),
        vulnerability_name=text(item.get("vulnerabilityName"), 300),
        short_description=text(item.get("shortDescription"), 2000),
        required_action=text(item.get("requiredAction"), 1000),
        known_ransomware_campaign_use=text(item.get("knownRansomwareCampaignUse"), 20),
        notes=text(item.get("notes"), 2000),
        cwes=[c for c in cwes if isinstance(c, str)] if isinstance(cwes, list) else [],
    )
