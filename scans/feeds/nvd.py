"""NVD CVE JSON 2.0: the yearly and "modified" feed files and API pages.

The file is one object: ``{"resultsPerPage", "startIndex", "totalResults",
"format": "NVD_CVE", "version": "2.0", "timestamp", "vulnerabilities":
[{"cve": {...}}, ...]}``. ``parse`` streams ``vulnerabilities`` with ijson's C
backend, one record at a time, and yields a ``CveRecord`` per CVE: memory
stays flat whatever the file's size. A record that breaks the format (no id,
a configuration that is not a list, a criterion that is not a CPE 2.3 name)
stops the parse with ``FeedFormatError`` naming the record; optional parts
(metrics, weaknesses, references) that are absent are simply empty.

An error can come after records were yielded (a truncated file is only known
truncated at its end): a caller that writes must write in one transaction,
or stage and commit after ``parse`` has finished.

What a record keeps
-------------------
* id, status (``vulnStatus``; "Rejected" records say the CVE is withdrawn),
  published / last modified (UTC), the English description;
* CVSS v4.0, v3.1, v3.0 and v2: per version the NVD's own ("Primary")
  metric, else the first one a CNA gave ("Secondary"); ``cvss`` prefers
  v3.1, then v3.0, v4.0 and v2 (v3 is what most tools and reports still show
  and score on; v4 is scarce in NVD's data);
* CWE ids (NVD's own first, no "NVD-CWE-Other"/"noinfo"), reference URLs
  (without repeats, at most ``MAX_REFERENCES``), and CISA's KEV fields NVD
  copies in (``cisaExploitAdd``, ``cisaActionDue``);
* the configurations, as ``rules``.

Configurations as rules (how AND, negate and platforms are read)
---------------------------------------------------------------
NVD 2.0 configurations are a list (any one applying is enough); each has
``nodes`` joined by the configuration's ``operator`` (OR when absent), each
node has ``cpeMatch`` criteria joined by the node's operator, ``negate``
inverting it. A criterion with ``vulnerable: false`` is context, not the
vulnerable thing: the platform the software runs on or with
(``cpe:2.3:o:linux:linux_kernel:-``, the hardware under a firmware).

A ``MatchRule`` is one way the CVE applies to a host: ``groups`` that must
*all* be found on the host (AND), each group a list of vulnerable criteria of
which *any one* is enough (OR). The conversion, conservative on purpose:

* an OR configuration (the common case): each node is its own rule; an OR
  node's vulnerable criteria form one group; an AND node's vulnerable criteria
  are one group each (all must be on the host);
* an AND configuration: one rule with the groups of all its nodes;
* non-vulnerable criteria of an AND node or an AND configuration are
  **platform conditions**: Enclave's inventory is what services reported, so
  "running on Windows" or "on this hardware" cannot be checked. The rule still
  matches on the vulnerable software alone (its version is in range: that is
  the exposure a version-based "potential" finding reports) and carries the
  conditions, so the evidence says "platform condition not checked: …";
* a negated node contributes no group (it never makes a match); inside an
  AND configuration its criteria become a condition ("not on …");
* a negated configuration gives no rule at all (it never makes a match);
* a node with vulnerable criteria only behind an unparseable version never
  matches (the matcher refuses versions it cannot read).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
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
from .cpe import ANY, NA, Cpe, CpeError, parse_cpe

FORMAT = "nvd"
LABEL = "NVD CVE JSON 2.0"
MAX_REFERENCES = 20
MAX_DESCRIPTION = 4000
MAX_CONDITION_NAMES = 5
CVSS_KEYS = {
    "4.0": "cvssMetricV40",
    "3.1": "cvssMetricV31",
    "3.0": "cvssMetricV30",
    "2.0": "cvssMetricV2",
}
CVSS_ATTRIBUTES = {"4.0": "cvss_v40", "3.1": "cvss_v31", "3.0": "cvss_v30", "2.0": "cvss_v2"}
CVSS_PREFERENCE = ("3.1", "3.0", "4.0", "2.0")
RANGE_FIELDS = (
    "versionStartIncluding",
    "versionStartExcluding",
    "versionEndIncluding",
    "versionEndExcluding",
)


@dataclass(slots=True)
class Cvss:
    version: str  # "4.0", "3.1", "3.0", "2.0"
    score: float
    vector: str
    severity: str  # "CRITICAL", "HIGH", "MEDIUM", "LOW", "NONE"
    source: str = ""
    primary: bool = True  # NVD's own ("Primary") or a CNA's ("Secondary")


@dataclass(slots=True)
class MatchCriterion:
    """One ``cpeMatch`` of a configuration: a CPE name plus an optional version range."""

    criteria: str  # the CPE 2.3 name as NVD wrote it
    cpe: Cpe
    vulnerable: bool = True
    version_start_including: str = ""
    version_start_excluding: str = ""
    version_end_including: str = ""
    version_end_excluding: str = ""
    match_criteria_id: str = ""

    @property
    def has_range(self) -> bool:
        return bool(
            self.version_start_including
            or self.version_start_excluding
            or self.version_end_including
            or self.version_end_excluding
        )

    @property
    def every_version(self) -> bool:
        """The criterion names the product without any version or range."""
        return self.cpe.version in (ANY, NA) and not self.has_range

    def describe(self) -> str:
        """ "openbsd openssh from 8.6 (included) to 9.8 (excluded)", "apache http_server 2.4.49"."""
        name = f"{self.cpe.vendor} {self.cpe.product}"
        if self.has_range:
            bounds = []
            if self.version_start_including:
                bounds.append(f"from {self.version_start_including} (included)")
            if self.version_start_excluding:
                bounds.append(f"after {self.version_start_excluding}")
            if self.version_end_including:
                bounds.append(f"up to {self.version_end_including} (included)")
            if self.version_end_excluding:
                bounds.append(f"before {self.version_end_excluding}")
            return f"{name} {' '.join(bounds)}"
        if self.cpe.version == ANY:
            return f"{name}, every version"
        if self.cpe.version == NA:
            return f"{name} (no versions)"
        if self.cpe.update == NA:
            return f"{name} {self.cpe.version} (no update)"
        if self.cpe.update != ANY:
            return f"{name} {self.cpe.version} update {self.cpe.update}"
        return f"{name} {self.cpe.version}"


@dataclass(slots=True)
class MatchRule:
    """One way the CVE applies: every group found on the host (AND), any criterion
    of a group (OR). ``conditions`` are the platform conditions not checked."""

    groups: list[list[MatchCriterion]]
    conditions: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CveRecord:
    cve_id: str
    status: str = ""  # NVD's vulnStatus: "Analyzed", "Modified", "Rejected", ...
    published: datetime | None = None
    last_modified: datetime | None = None
    description: str = ""
    cvss_v40: Cvss | None = None
    cvss_v31: Cvss | None = None
    cvss_v30: Cvss | None = None
    cvss_v2: Cvss | None = None
    cwes: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    rules: list[MatchRule] = field(default_factory=list)
    kev_date_added: date | None = None  # cisaExploitAdd, when NVD copies CISA's entry
    kev_due_date: date | None = None
    kev_name: str = ""

    @property
    def rejected(self) -> bool:
        return self.status.lower() == "rejected"

    @property
    def cvss(self) -> Cvss | None:
        """The score to show and sort by: v3.1, else v3.0, v4.0, v2."""
        for version in CVSS_PREFERENCE:
            found = getattr(self, _cvss_attribute(version))
            if found is not None:
                return found
        return None

    @property
    def criteria(self) -> list[MatchCriterion]:
        """Every vulnerable criterion of every rule, flat."""
        return [c for rule in self.rules for group in rule.groups for c in group]

    def to_dict(self) -> dict:
        """JSON-ready form (dates as ISO text); ``from_dict`` reads it back."""
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        for name in ("published", "last_modified", "kev_date_added", "kev_due_date"):
            value = data[name]
            data[name] = value.isoformat() if value else None
        for name in CVSS_ATTRIBUTES.values():
            data[name] = asdict(data[name]) if data[name] else None
        data["cwes"] = list(self.cwes)
        data["references"] = list(self.references)
        data["rules"] = [
            {
                "groups": [[_criterion_dict(c) for c in group] for group in rule.groups],
                "conditions": list(rule.conditions),
            }
            for rule in self.rules
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CveRecord:
        values = dict(data)
        for name in ("published", "last_modified"):
            values[name] = iso_datetime(values.get(name))
        for name in ("kev_date_added", "kev_due_date"):
            raw = values.get(name)
            values[name] = date.fromisoformat(raw) if raw else None
        for name in ("cvss_v40", "cvss_v31", "cvss_v30", "cvss_v2"):
            values[name] = Cvss(**values[name]) if values.get(name) else None
        values["rules"] = [
            MatchRule(
                groups=[
                    [MatchCriterion(cpe=parse_cpe(c["criteria"]), **c) for c in group]
                    for group in rule["groups"]
                ],
                conditions=list(rule.get("conditions", [])),
            )
            for rule in values.get("rules", [])
        ]
        return cls(**values)

    def fingerprint(self) -> str:
        """SHA-256 of the record's content: equal for the same record in two files,
        so a re-import can tell "unchanged" without comparing field by field."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


_RECORD_FIELDS = tuple(f.name for f in fields(CveRecord))
_CRITERION_FIELDS = tuple(f.name for f in fields(MatchCriterion) if f.name != "cpe")


def _criterion_dict(criterion: MatchCriterion) -> dict:
    return {name: getattr(criterion, name) for name in _CRITERION_FIELDS}


@dataclass(slots=True)
class NvdHeader:
    format: str
    version: str
    timestamp: datetime | None = None
    total_results: int | None = None


def read_header(stream: IO[bytes]) -> NvdHeader:
    """The file's header, read up to the start of its records; FeedFormatError
    when it is not an NVD CVE JSON 2.0 file (saying what it is, when known)."""
    reader = CountingReader(stream)
    with damaged_gzip():
        found = top_level_scalars(reader, until="vulnerabilities", label=LABEL)
    kind, version = found.get("format"), found.get("version")
    if kind != "NVD_CVE":
        raise FeedFormatError(
            f'Not {LABEL}: its "format" is {kind!r}, expected "NVD_CVE".'
            if kind is not None
            else f'Not {LABEL}: the file has no "format": "NVD_CVE" before its records.'
        )
    if str(version) != "2.0":
        raise FeedFormatError(
            f'Not {LABEL}: its "version" is {version!r}; Enclave reads version "2.0" '
            "(the 1.1 feeds were retired by NVD in 2023)."
        )
    total = found.get("totalResults")
    return NvdHeader(
        format="NVD_CVE",
        version="2.0",
        timestamp=iso_datetime(found.get("timestamp")),
        total_results=int(total) if isinstance(total, int | float) else None,
    )


def parse(stream: IO[bytes]) -> Iterator[CveRecord]:
    """Every CVE of the file, in file order. The stream must be seekable: the
    header is checked first, then the records are read from the start again."""
    if not stream.seekable():
        raise TypeError("parse() reads the header first, then the records: give it a file.")
    start = stream.tell()
    read_header(stream)
    stream.seek(start)
    reader = CountingReader(stream)
    index, last = 0, "the first record"
    items = ijson.items(reader, "vulnerabilities.item", use_float=True)
    with damaged_gzip():
        try:
            for index, item in enumerate(items):  # noqa: B007 - index read after the loop
                record = record_from_json(item, f"vulnerabilities[{index}]")
                last = f"record {index + 1:,} ({record.cve_id})"
                yield record
        except ijson.JSONError as error:
            raise json_error(error, reader, f"after {last}") from None


def record_from_json(item: object, where: str) -> CveRecord:
    """One element of ``vulnerabilities`` (``{"cve": {...}}``) as a CveRecord."""
    if not isinstance(item, dict) or not isinstance(item.get("cve"), dict):
        raise FeedFormatError(f'{where}: not a CVE record (an object with "cve").')
    cve = item["cve"]
    identifier = cve_id(cve.get("id"), f"{where}.cve.id")
    where = f"{where} ({identifier})"
    record = CveRecord(
        cve_id=identifier,
        status=text(cve.get("vulnStatus")),
        published=iso_datetime(cve.get("published")),
        last_modified=iso_datetime(cve.get("lastModified")),
        description=_description(cve.get("descriptions")),
        cwes=_cwes(cve.get("weaknesses")),
        references=_references(cve.get("references")),
        rules=_rules(cve.get("configurations"), where),
        kev_date_added=_optional_date(cve.get("cisaExploitAdd")),
        kev_due_date=_optional_date(cve.get("cisaActionDue")),
        kev_name=text(cve.get("cisaVulnerabilityName"), 300),
    )
    metrics = cve.get("metrics")
    if isinstance(metrics, dict):
        for version, key in CVSS_KEYS.items():
            if key in metrics:
                setattr(record, _cvss_attribute(version), _cvss(metrics[key], version))
    return record


def _cvss_attribute(version: str) -> str:
    return CVSS_ATTRIBUTES[version]


def _description(descriptions: object) -> str:
    if not isinstance(descriptions, list):
        return ""
    texts = [d for d in descriptions if isinstance(d, dict) and isinstance(d.get("value"), str)]
    english = [d for d in texts if d.get("lang") == "en"]
    chosen = (english or texts)[:1]
    return text(chosen[0]["value"], MAX_DESCRIPTION) if chosen else ""


def _cvss(metrics: object, version: str) -> Cvss | None:
    if not isinstance(metrics, list):
        return None
    usable = [m for m in metrics if isinstance(m, dict) and isinstance(m.get("cvssData"), dict)]
    usable.sort(key=lambda m: m.get("type") != "Primary")  # NVD's own first, stable
    for metric in usable:
        data = metric["cvssData"]
        score = data.get("baseScore")
        if not isinstance(score, int | float) or not 0.0 <= score <= 10.0:
            continue
        # v2 keeps its severity beside cvssData, v3/v4 inside it.
        severity = data.get("baseSeverity") or metric.get("baseSeverity") or ""
        return Cvss(
            version=version,
            score=float(score),
            vector=text(data.get("vectorString"), 200),
            severity=str(severity).upper(),
            source=text(metric.get("source"), 200),
            primary=metric.get("type") == "Primary",
        )
    return None


def _cwes(weaknesses: object) -> list[str]:
    if not isinstance(weaknesses, list):
        return []
    ordered = sorted(
        (w for w in weaknesses if isinstance(w, dict)), key=lambda w: w.get("type") != "Primary"
    )
    found: dict[str, None] = {}
    for weakness in ordered:
        for description in weakness.get("description") or []:
            value = description.get("value") if isinstance(description, dict) else None
            if isinstance(value, str) and value.startswith("CWE-"):
                found.setdefault(value.strip(), None)
    return list(found)


def _references(references: object) -> list[str]:
    if not isinstance(references, list):
        return []
    found: dict[str, None] = {}
    for reference in references:
        url = reference.get("url") if isinstance(reference, dict) else None
        if isinstance(url, str) and url.strip():
            found.setdefault(url.strip()[:1000], None)
            if len(found) >= MAX_REFERENCES:
                break
    return list(found)


def _optional_date(value: object) -> date | None:
    try:
        return iso_date(value, "", required=False)
    except FeedFormatError:
        return None


def _rules(configurations: object, where: str) -> list[MatchRule]:
    if configurations is None:
        return []
    if not isinstance(configurations, list):
        raise FeedFormatError(f'{where}: "configurations" is not a list.')
    rules: list[MatchRule] = []
    for config_index, config in enumerate(configurations):
        here = f"{where}: configurations[{config_index}]"
        if not isinstance(config, dict) or not isinstance(config.get("nodes"), list):
            raise FeedFormatError(f'{here}: not a configuration (an object with "nodes").')
        nodes = [
            _node(node, f"{here}.nodes[{node_index}]")
            for node_index, node in enumerate(config["nodes"])
        ]
        if config.get("negate") is True:
            continue
        if _operator(config.get("operator"), here) == "AND" and len(nodes) > 1:
            groups = [group for node_groups, _ in nodes for group in node_groups]
            conditions = [c for _, node_conditions in nodes for c in node_conditions]
            if groups:
                rules.append(MatchRule(groups=groups, conditions=conditions))
            continue
        for node_groups, node_conditions in nodes:
            if node_groups:
                rules.append(MatchRule(groups=node_groups, conditions=node_conditions))
    return rules


def _node(node: object, where: str) -> tuple[list[list[MatchCriterion]], list[str]]:
    """(groups, conditions) of one node (see the module's rules)."""
    if not isinstance(node, dict) or not isinstance(node.get("cpeMatch"), list):
        raise FeedFormatError(f'{where}: not a node (an object with "cpeMatch").')
    operator = _operator(node.get("operator"), where)
    criteria = [
        _criterion(match, f"{where}.cpeMatch[{index}]")
        for index, match in enumerate(node["cpeMatch"])
    ]
    if node.get("negate") is True:
        return [], [_condition(criteria, "not on")] if criteria else []
    vulnerable = [c for c in criteria if c.vulnerable]
    platforms = [c for c in criteria if not c.vulnerable]
    if operator == "AND":
        return [[c] for c in vulnerable], [_condition([c], "with") for c in platforms]
    if vulnerable:
        return [vulnerable], []
    return [], [_condition(platforms, "on")] if platforms else []


def _operator(value: object, where: str) -> str:
    if value is None:
        return "OR"
    if isinstance(value, str) and value.upper() in ("AND", "OR"):
        return value.upper()
    raise FeedFormatError(f"{where}: operator {value!r} is not AND or OR.")


def _criterion(match: object, where: str) -> MatchCriterion:
    if not isinstance(match, dict) or not isinstance(match.get("criteria"), str):
        raise FeedFormatError(f'{where}: not a match criterion (an object with "criteria").')
    if not match["criteria"].startswith("cpe:2.3:"):
        raise FeedFormatError(f"{where}: {match['criteria'][:120]!r} is not a CPE 2.3 name.")
    try:
        cpe = parse_cpe(match["criteria"])
    except CpeError as error:
        raise FeedFormatError(f"{where}: {error}") from None
    vulnerable = match.get("vulnerable", True)
    if not isinstance(vulnerable, bool):
        raise FeedFormatError(f'{where}: "vulnerable" is {vulnerable!r}, not true or false.')
    bounds = {}
    for name in RANGE_FIELDS:
        value = match.get(name)
        if value is not None and not isinstance(value, str | int | float):
            raise FeedFormatError(f"{where}: {name} is {value!r}, not a version.")
        bounds[name] = str(value).strip() if value is not None else ""
    return MatchCriterion(
        criteria=match["criteria"],
        cpe=cpe,
        vulnerable=vulnerable,
        version_start_including=bounds["versionStartIncluding"],
        version_start_excluding=bounds["versionStartExcluding"],
        version_end_including=bounds["versionEndIncluding"],
        version_end_excluding=bounds["versionEndExcluding"],
        match_criteria_id=text(match.get("matchCriteriaId"), 64),
    )


def _condition(criteria: list[MatchCriterion], relation: str) -> str:
    names = [c.criteria for c in criteria[:MAX_CONDITION_NAMES]]
    more = len(criteria) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more > 0 else "")
    return f"{relation} {'one of ' if len(criteria) > 1 else ''}{listed}"
