"""A host's service inventory against NVD's configurations: version-based matches.

``MatchIndex`` holds the vulnerable criteria of the CVE records it was given,
by product; ``match_host(items)`` returns one ``FeedMatch`` per (CVE, port,
protocol) whose criteria the host's services meet. Matches are "potential"
findings: the version a service reported is inside a range NVD lists, nothing
was tried against the service.

What a service is (``identify``)
--------------------------------
1. nmap's CPEs for the service (``cpe:/a:openbsd:openssh:7.4p1``), application
   CPEs (part ``a``) only: operating-system and hardware CPEs nmap attaches to a
   service are guesses about the host, not the software behind the port. The
   version is the CPE's own; when it has none and it is the service's only
   application CPE, the service's version field.
2. Without an application CPE: the product name nmap printed, from
   ``PRODUCT_NAMES`` ("OpenSSH", "Apache httpd", ...), with the version field
   ("7.4p1 Debian 10+deb9u7" → 7.4p1).
3. Without either: a few banners (``BANNERS``): ``SSH-2.0-OpenSSH_7.4``,
   ``Server: nginx/1.18.0``, ...
Vendor and product then go through ``PRODUCT_ALIASES``: nmap and NVD do not
always name a product alike (nmap's ``igor_sysoev:nginx`` is NVD's
``nginx:nginx`` and ``f5:nginx``), so each group of names is one product.

MySQL's protocol makes MariaDB say "5.5.5-10.3.27-MariaDB": a version naming
MariaDB is MariaDB's (10.3.27), never MySQL 5.5.5.

When a criterion matches (precision first)
------------------------------------------
* No readable version, no match (``versions``: "unknown", "3.X", a span like
  "3.X - 4.X" are no version).
* A range (``versionStart/End Including/Excluding``) matches a version inside
  it, bounds as NVD states them; a bound that is not a readable version makes
  the criterion match nothing.
* An exact version: equal versions (``1.18`` == ``1.18.0``); with an update
  part: ``openssh:8.5:p1`` is 8.5p1 only, ``openssh:9.8:-`` is 9.8 without an
  update (not 9.8p1), ``openssh:7.4:*`` is 7.4 with any update (7.4, 7.4p1).
* A criterion with version ``*`` (or ``-``) and no range — "every version" —
  matches nothing by default: it would make the product's mere presence a
  vulnerability, and NVD writes it for products whose versions it did not
  sort out. ``MatchIndex(every_version=True)`` turns it on (still only for
  services with a readable version), with a caveat on the match.
* target_sw/target_hw/language parts of a criterion are not checked (a
  service inventory cannot tell them); a range on a criterion that also names
  a version needs both.
* Platform conditions of AND configurations (``nvd`` module) are not checked:
  the match carries "platform condition not checked: …". A rule of several
  groups (several products together) matches only when every group is found
  among the host's services.
* A version of a distribution's package (``8.0.32-0ubuntu0.20.04.2``, "OpenSSH
  7.4p1 Debian 10+deb9u7") is compared by its upstream part; the match says
  that distributions backport fixes without changing it.

Speed: criteria sit in one bucket per product (aliases joined), exact
versions in dicts, ranges as integer places between the product's sorted
bounds (``_Ranges``); what a service is and the result for a (product,
version) are remembered, so an estate where many hosts run the same builds
costs one evaluation per distinct build. The memory is the index's own: build
it with ``products=`` (the products the inventories hold) to keep it small.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .cpe import ANY, NA, CpeError, has_wildcard, parse_cpe
from .nvd import CveRecord, MatchCriterion
from .versions import Key, Version, join_update, parse_version

# Groups of (vendor:product) names that are one product: nmap's name first, then
# the names NVD has used. Each group is matched as one; the first is its key.
PRODUCT_ALIASES: tuple[tuple[str, ...], ...] = (
    # nmap names nginx after its author; NVD lists it as nginx:nginx, and as
    # f5:nginx since F5 bought it (2019); old entries kept igor_sysoev:nginx.
    ("igor_sysoev:nginx", "nginx:nginx", "f5:nginx"),
    # MySQL: nmap says mysql:mysql, NVD oracle:mysql (and mysql:mysql before 2010).
    ("mysql:mysql", "oracle:mysql"),
    # IIS: nmap's older name microsoft:iis, NVD's internet_information_services
    # (and internet_information_server in the oldest entries).
    (
        "microsoft:internet_information_services",
        "microsoft:iis",
        "microsoft:internet_information_server",
    ),
    # Jetty: nmap mortbay:jetty, NVD eclipse:jetty (since 2009) and jetty:jetty.
    ("mortbay:jetty", "eclipse:jetty", "jetty:jetty"),
    # Redis: nmap redislabs:redis, NVD redis:redis.
    ("redislabs:redis", "redis:redis"),
    # vsftpd: nmap vsftpd:vsftpd, NVD beasts:vsftpd and vsftpd_project:vsftpd.
    ("vsftpd:vsftpd", "beasts:vsftpd", "vsftpd_project:vsftpd"),
)
_CANONICAL = {name: group[0] for group in PRODUCT_ALIASES for name in group}
# For these, the CPE nmap prints (nmap 7.93's nmap-service-probes) is the name
# NVD's configurations use, so they need no alias; listed so the question is
# answered. (nmap's names: grep -o 'cpe:/a:[^/ ]*' /usr/share/nmap/nmap-service-probes)
SAME_NAMES: tuple[str, ...] = (
    "openbsd:openssh",
    "apache:http_server",
    "apache:tomcat",
    "isc:bind",
    "proftpd:proftpd",
    "exim:exim",
    "postfix:postfix",
    "openssl:openssl",
    "php:php",
    "postgresql:postgresql",
    "samba:samba",
    "lighttpd:lighttpd",
    "mariadb:mariadb",
)

# nmap's product names (nmap-service-probes' p/…/) → vendor:product. Exact names:
# a near name may be another product (nmap's "Apache Tomcat/Coyote JSP engine"
# reports the Coyote connector's version, not Tomcat's).
PRODUCT_NAMES: dict[str, str] = {
    "openssh": "openbsd:openssh",
    "nginx": "nginx:nginx",
    "apache httpd": "apache:http_server",
    "apache tomcat": "apache:tomcat",
    "vsftpd": "beasts:vsftpd",
    "isc bind": "isc:bind",
    "microsoft iis httpd": "microsoft:internet_information_services",
    "microsoft iis": "microsoft:internet_information_services",
    "proftpd": "proftpd:proftpd",
    "exim smtpd": "exim:exim",
    "postfix smtpd": "postfix:postfix",
    "mysql": "mysql:mysql",
    "mariadb": "mariadb:mariadb",
    "redis key-value store": "redis:redis",
    "postgresql db": "postgresql:postgresql",
    "samba smbd": "samba:samba",
    "jetty": "eclipse:jetty",
    "lighttpd": "lighttpd:lighttpd",
    "openssl": "openssl:openssl",
    "php": "php:php",
}

# Banners read by the engine when nmap named nothing: (pattern with the version
# as group 1, vendor:product, name shown).
BANNERS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^SSH-[\d.]+-OpenSSH[_-]([\w.]+)"), "openbsd:openssh", "OpenSSH"),
    (re.compile(r"^Server:[ \t]*nginx/([\w.]+)", re.I | re.M), "nginx:nginx", "nginx"),
    (re.compile(r"^Server:[ \t]*Apache/([\w.]+)", re.I | re.M), "apache:http_server", "Apache"),
    (re.compile(r"^Server:[ \t]*lighttpd/([\w.]+)", re.I | re.M), "lighttpd:lighttpd", "lighttpd"),
    (
        re.compile(r"^Server:[ \t]*Microsoft-IIS/([\w.]+)", re.I | re.M),
        "microsoft:internet_information_services",
        "Microsoft IIS",
    ),
    (re.compile(r"^220[ -].*?\bvsFTPd ([\w.]+)", re.M), "beasts:vsftpd", "vsftpd"),
    (re.compile(r"^220[ -].*?\bProFTPD ([\w.]+)", re.M), "proftpd:proftpd", "ProFTPD"),
    (re.compile(r"^220[ -].*?\bESMTP Exim ([\w.]+)", re.M), "exim:exim", "Exim"),
)

_DISTRIBUTION = re.compile(
    r"\b(debian|ubuntu|red ?hat|centos|rhel|el\d+|fedora|suse|sles|alpine|amazon linux|"
    r"deb\d+u\d+|raspbian)\b",
    re.I,
)
_MARIADB = re.compile(r"^(?:5\.5\.5-)?(\d[\w.]*?)-?mariadb", re.I)

# cve, rule, group, groups in the rule, criterion, caveats the rule or criterion brings
Entry = tuple[int, int, int, int, MatchCriterion, tuple[str, ...]]
EVERY_VERSION = "NVD lists every version of the product as affected"


def canonical(key: str) -> str:
    """The name a product is indexed under ("igor_sysoev:nginx" for "f5:nginx")."""
    return _CANONICAL.get(key, key)


@dataclass(slots=True)
class InventoryItem:
    """One open port of a host as the scan saw it (nmap's service facts)."""

    port: int
    protocol: str  # "tcp" / "udp"
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    cpes: list[str] = field(default_factory=list)  # nmap's, CPE 2.2 URIs or 2.3 names
    banner: str = ""


@dataclass(frozen=True, slots=True)
class Software:
    """What a service was identified as."""

    key: str  # canonical vendor:product
    name: str  # as shown: nmap's product name, else vendor/product
    version: Version | None
    via: str  # "cpe" | "product" | "banner"


@dataclass(slots=True)
class FeedMatch:
    cve_id: str
    port: int
    protocol: str
    product: str  # canonical vendor:product
    name: str  # the product as shown ("OpenSSH")
    version: str  # the version compared ("7.4p1")
    criterion: MatchCriterion
    evidence: str  # "OpenSSH 7.4p1 reported by the service on 22/tcp"
    caveats: tuple[str, ...] = ()

    def results(self) -> str:
        """The detection's results text: evidence, what NVD lists, caveats."""
        lines = [f"{self.evidence}.", f"NVD lists as affected: {self.criterion.describe()}."]
        lines.extend(f"Note: {caveat}." for caveat in self.caveats)
        return "\n".join(lines)


@dataclass(slots=True)
class IndexStats:
    cves: int = 0  # CVEs with at least one criterion indexed
    criteria: int = 0  # vulnerable criteria indexed
    products: int = 0
    unreadable: int = 0  # criteria whose version or bound is no readable version
    every_version: int = 0  # "every version" criteria (matched only with every_version=True)
    skipped_products: int = 0  # criteria of products outside ``products``
    evaluated: int = 0  # distinct (product, version) evaluated since the last add


Range = tuple[Key | None, bool, Key | None, bool, Key | None, Entry]


class _Ranges:
    """The range criteria of one product, for "which ranges hold version v".

    On first use after a change, every distinct bound of the product's ranges is
    sorted once and a range becomes two integers: the lowest and the highest
    *place* it holds, where place 2i is the i-th bound itself and 2i±1 the gaps
    beside it (an excluded bound moves the end one place in, an open end is
    past every place). A version is placed by one bisection; the ranges holding it
    are those whose two integers enclose its place: integer comparisons, not
    version comparisons. The places are cut into up to ``BLOCKS`` blocks, each
    listing the ranges that reach into it, so only the ranges near the version's
    place are compared.
    """

    BLOCKS = 64

    __slots__ = ("_all", "_blocks", "_bounds", "_checked", "_count", "_stale", "_width")

    def __init__(self) -> None:
        self._all: list[Range] = []
        self._stale = False
        self._bounds: list[Key] = []
        self._blocks: list[list[tuple[int, int, Entry]]] = []
        self._count = 1  # blocks
        self._width = 1  # places (-1 … 2 × bounds) plus one
        self._checked: list[Range] = []  # ranges that also name an exact version

    def add(self, item: Range) -> None:
        self._all.append(item)
        self._stale = True

    def __bool__(self) -> bool:
        return bool(self._all)

    def _place_ranges(self) -> None:
        bounds = sorted({key for r in self._all for key in (r[0], r[2]) if key is not None})
        place = {key: 2 * index for index, key in enumerate(bounds)}
        beyond = 2 * len(bounds)
        spans, checked = [], []
        for item in self._all:
            start, start_in, end, end_in, exact, entry = item
            if exact is not None:
                checked.append(item)
                continue
            low = -1 if start is None else place[start] + (0 if start_in else 1)
            high = beyond if end is None else place[end] - (0 if end_in else 1)
            if low <= high:
                spans.append((low, high, entry))
        count = max(1, min(self.BLOCKS, len(spans) // 8))
        width = beyond + 2
        blocks: list[list[tuple[int, int, Entry]]] = [[] for _ in range(count)]
        for span in spans:
            for block in range((span[0] + 1) * count // width, (span[1] + 1) * count // width + 1):
                blocks[block].append(span)
        self._bounds, self._blocks, self._checked = bounds, blocks, checked
        self._count, self._width, self._stale = count, width, False

    def hits(self, v: Key, release: Key) -> list[Entry]:
        if self._stale:
            self._place_ranges()
        bounds = self._bounds
        at = bisect_left(bounds, v)
        here = 2 * at if at < len(bounds) and bounds[at] == v else 2 * at - 1
        block = self._blocks[(here + 1) * self._count // self._width]
        found = [entry for low, high, entry in block if low <= here <= high]
        for start, start_in, end, end_in, exact, entry in self._checked:
            if start is not None and (v < start or (v == start and not start_in)):
                continue
            if end is not None and (v > end or (v == end and not end_in)):
                continue
            if exact in (v, release):
                found.append(entry)
        return found


@dataclass(slots=True)
class _Bucket:
    exact: dict[Key, list[Entry]] = field(default_factory=dict)  # no update / a given update
    exact_any_update: dict[Key, list[Entry]] = field(default_factory=dict)
    ranges: _Ranges = field(default_factory=_Ranges)
    patterns: list[tuple[re.Pattern[str], Entry]] = field(default_factory=list)
    every: list[Entry] = field(default_factory=list)


class MatchIndex:
    """Vulnerable criteria by product; see the module's rules.

    ``products``: index only these vendor:product names (any alias of them), e.g.
    the products present in the inventories to evaluate; None indexes all.
    ``every_version``: let "every version" criteria match (off: see above).
    Adding a record for a CVE already in the index replaces it; a rejected record
    removes it.
    """

    def __init__(self, *, products: Iterable[str] | None = None, every_version: bool = False):
        self.every_version = every_version
        self._wanted = {canonical(p) for p in products} if products is not None else None
        self._cves: list[str | None] = []
        self._cve_at: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._memo: dict[tuple[str, str], tuple[tuple[Entry, ...], tuple[Entry, ...]]] = {}
        self.stats = IndexStats()

    @classmethod
    def build(cls, records: Iterable[CveRecord], **options) -> MatchIndex:
        index = cls(**options)
        for record in records:
            index.add(record)
        return index

    def __len__(self) -> int:
        return self.stats.cves

    def add(self, record: CveRecord) -> None:
        self._memo.clear()
        self.stats.evaluated = 0
        previous = self._cve_at.pop(record.cve_id, None)
        if previous is not None:
            self._cves[previous] = None
            self.stats.cves -= 1
        if record.rejected:
            return
        cve = len(self._cves)
        indexed = 0
        for rule_index, rule in enumerate(record.rules):
            caveats = tuple(f"platform condition not checked: {c}" for c in rule.conditions)
            groups = len(rule.groups)
            for group_index, group in enumerate(rule.groups):
                for criterion in group:
                    notes = (*caveats, EVERY_VERSION) if criterion.every_version else caveats
                    entry = (cve, rule_index, group_index, groups, criterion, notes)
                    indexed += self._index(criterion, entry)
        if indexed:
            self._cves.append(record.cve_id)
            self._cve_at[record.cve_id] = cve
            self.stats.cves += 1
        else:  # nothing of it indexed: keep the numbering
            self._cves.append(None)

    def _index(self, criterion: MatchCriterion, entry: Entry) -> int:
        cpe = criterion.cpe
        key = canonical(f"{cpe.vendor}:{cpe.product}")
        if self._wanted is not None and key not in self._wanted:
            self.stats.skipped_products += 1
            return 0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
            self.stats.products += 1
        if criterion.every_version:
            self.stats.every_version += 1
            bucket.every.append(entry)
            return 1
        exact: Version | None = None
        if cpe.version not in (ANY, NA):
            if has_wildcard(cpe.version):
                bucket.patterns.append((_glob(cpe.version), entry))
                self.stats.criteria += 1
                return 1
            exact = (
                join_update(cpe.version, cpe.update)
                if cpe.update not in (ANY, NA)
                else parse_version(cpe.version)
            )
            if exact is None:
                self.stats.unreadable += 1
                return 0
        if criterion.has_range:
            bounds = []
            for text in (
                criterion.version_start_including or criterion.version_start_excluding,
                criterion.version_end_including or criterion.version_end_excluding,
            ):
                parsed = parse_version(text) if text else None
                if text and parsed is None:
                    self.stats.unreadable += 1
                    return 0
                bounds.append(parsed.key if parsed else None)
            bucket.ranges.add(
                (
                    bounds[0],
                    bool(criterion.version_start_including),
                    bounds[1],
                    bool(criterion.version_end_including),
                    exact.key if exact else None,
                    entry,
                )
            )
        elif cpe.update == ANY:
            bucket.exact_any_update.setdefault(exact.key, []).append(entry)  # type: ignore[union-attr]
        else:
            bucket.exact.setdefault(exact.key, []).append(entry)  # type: ignore[union-attr]
        self.stats.criteria += 1
        return 1

    def _hits(self, key: str, version: Version) -> tuple[tuple[Entry, ...], tuple[Entry, ...]]:
        """(entries of one-group rules, one per CVE; entries of several-group rules)."""
        memo_key = (key, version.text)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        bucket = self._buckets.get(key)
        hits: list[Entry] = []
        if bucket is not None:
            v, release = version.key, version.release
            hits.extend(bucket.exact.get(v, ()))
            hits.extend(bucket.exact_any_update.get(v, ()))
            if release != v:
                hits.extend(bucket.exact_any_update.get(release, ()))
            if bucket.ranges:
                hits.extend(bucket.ranges.hits(v, release))
            if bucket.patterns:
                lowered = version.text.lower()
                hits.extend(entry for pattern, entry in bucket.patterns if pattern.match(lowered))
            if self.every_version:
                hits.extend(bucket.every)
        single: dict[int, Entry] = {}
        several: list[Entry] = []
        cves = self._cves
        for entry in hits:
            if cves[entry[0]] is None:  # replaced or rejected since
                continue
            if entry[3] == 1:
                single.setdefault(entry[0], entry)  # one match per CVE and service
            else:
                several.append(entry)
        found = (tuple(single.values()), tuple(several))
        self._memo[memo_key] = found
        self.stats.evaluated += 1
        return found

    def match_item(self, item: InventoryItem) -> list[FeedMatch]:
        return self.match_host([item])

    def match_host(self, items: Iterable[InventoryItem]) -> list[FeedMatch]:
        """The host's matches, one per (CVE, port, protocol), in inventory order."""
        matches: list[FeedMatch] = []
        seen: set[tuple[int, int, str]] = set()
        partial: dict[tuple[int, int], dict[int, tuple[_Service, Entry]]] = {}
        for item in items:
            for software in identify(item):
                if software.version is None or software.key not in self._buckets:
                    continue
                single, several = self._hits(software.key, software.version)
                if not single and not several:
                    continue
                service = _Service(item, software)
                port, protocol = item.port, item.protocol
                for entry in single:
                    if (entry[0], port, protocol) not in seen:
                        seen.add((entry[0], port, protocol))
                        matches.append(self._match(service, entry))
                for entry in several:
                    cve, rule, group = entry[:3]
                    partial.setdefault((cve, rule), {}).setdefault(group, (service, entry))
        for (cve, _rule), found in partial.items():
            groups = next(iter(found.values()))[1][3]
            if len(found) < groups:
                continue
            service, entry = found[min(found)]
            item = service.item
            if (cve, item.port, item.protocol) in seen:
                continue
            seen.add((cve, item.port, item.protocol))
            together = [
                f"{other.software.name} {other.software.version} on "
                f"{other.item.port}/{other.item.protocol}"
                for group, (other, _entry) in sorted(found.items())
                if group != min(found)
            ]
            matches.append(self._match(service, entry, f"together with {', '.join(together)}"))
        return matches

    def _match(self, service: _Service, entry: Entry, together: str = "") -> FeedMatch:
        caveats = entry[5] + service.caveats if entry[5] else service.caveats
        if together:
            caveats = (together, *caveats)
        # Positional: this runs once per match, millions of times in a re-evaluation.
        return FeedMatch(
            self._cves[entry[0]] or "",
            service.port,
            service.protocol,
            service.software.key,
            service.software.name,
            service.version,
            entry[4],
            service.evidence,
            caveats,
        )


class _Service:
    """What every match on one service shares: its evidence line and caveats."""

    __slots__ = ("caveats", "evidence", "item", "port", "protocol", "software", "version")

    def __init__(self, item: InventoryItem, software: Software):
        version = software.version
        assert version is not None
        self.item, self.software, self.version = item, software, version.text
        self.port, self.protocol = item.port, item.protocol
        where = "in the service's banner" if software.via == "banner" else "by the service"
        self.evidence = (
            f"{software.name} {version.text} reported {where} on {item.port}/{item.protocol}"
        )
        distribution = version.distro or _distribution(item)
        self.caveats: tuple[str, ...] = (
            (
                f"distribution build ({distribution}): distributions backport fixes without "
                "changing the upstream version, so check the package's changelog",
            )
            if distribution
            else ()
        )


def identify(item: InventoryItem) -> tuple[Software, ...]:
    """What the service is (see the module's rules); () when it cannot be told.
    Remembered: an estate runs the same builds on many hosts."""
    return _identify(item.product, item.version, tuple(item.cpes), item.banner[:4096])


@lru_cache(maxsize=65536)
def _identify(
    product: str, version: str, cpes: tuple[str, ...], banner: str
) -> tuple[Software, ...]:
    found: dict[tuple[str, str], Software] = {}
    applications = []
    for text in cpes:
        try:
            cpe = parse_cpe(text)
        except CpeError:
            continue
        if cpe.part == "a":
            applications.append(cpe)
    for cpe in applications:
        version_text = cpe.version if cpe.version not in (ANY, NA) else ""
        if not version_text and len(applications) == 1:
            version_text = version
        name = product or f"{cpe.vendor}/{cpe.product}"
        software = _software(f"{cpe.vendor}:{cpe.product}", name, version_text, "cpe")
        found.setdefault(
            (software.key, software.version.text if software.version else ""), software
        )
    if not found and product:
        key = PRODUCT_NAMES.get(product.strip().lower())
        if key:
            software = _software(key, product.strip(), version, "product")
            found[(software.key, "")] = software
    if not found and banner:
        for pattern, key, name in BANNERS:
            hit = pattern.search(banner)
            if hit:
                software = _software(key, name, hit.group(1), "banner")
                found[(software.key, "")] = software
                break
    return tuple(found.values())


def _software(key: str, name: str, version_text: str, via: str) -> Software:
    mariadb = _MARIADB.match(version_text.strip()) if "mariadb" in version_text.lower() else None
    if mariadb:
        return Software("mariadb:mariadb", "MariaDB", parse_version(mariadb.group(1)), via)
    return Software(canonical(key), name, parse_version(version_text), via)


def _distribution(item: InventoryItem) -> str:
    hit = _DISTRIBUTION.search(f"{item.version} {item.extrainfo}")
    return hit.group(0) if hit else ""


def _glob(pattern: str) -> re.Pattern[str]:
    """A CPE value with unquoted wildcards as a regular expression (* any run, ? one
    character; quoted ones literal)."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z")
