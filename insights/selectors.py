"""What the dashboard, the trends API and the global search read.

Every figure comes from a kept counter (Network.host_count, .open_findings),
the trend table or the stored exposure; nothing here counts detections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import Collate, Lower, Upper
from django.utils import timezone

from assets.models import Connector, Host
from assets.selectors import hosts_visible, ip_ranges_q
from core import iprange
from core.digits import ascii_digits
from networks.models import Network, ScannerAppliance
from networks.selectors import networks_visible
from scans.models import (
    DONE_SCAN_STATUSES,
    Detection,
    DetectionStatus,
    Scan,
    ScanKind,
    Vulnerability,
)

from .models import Exposure, HostExposure, NetworkTrend

PERIODS = (30, 90, 365)
SEVERITIES = (5, 4, 3, 2, 1)


def networks_in_scope(*, network: Network | None, user) -> list[Network]:
    """The dashboard's networks: the one chosen, or every one the user may see."""
    networks = networks_visible(user=user).order_by("kind", "name")
    if network is not None:
        networks = networks.filter(pk=network.pk)
    return list(networks)


@dataclass
class NetworkSeverities:
    network: Network
    counts: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def open_by_severity(*, networks: list[Network]) -> list[NetworkSeverities]:
    """Each network's open findings by severity, from its kept counters."""
    return [
        NetworkSeverities(
            network=n,
            counts={s: int((n.open_findings or {}).get(str(s), 0)) for s in SEVERITIES},
        )
        for n in networks
    ]


@dataclass
class TrendPoint:
    date: date
    new: int = 0
    fixed: int = 0
    open: int = 0


def trend_series(
    *, networks: list[Network], days: int, today: date | None = None
) -> list[TrendPoint]:
    """New, fixed and open findings per day over the last ``days``, summed over
    ``networks`` (one grouped query on the trend table)."""
    today = today or timezone.localdate()
    since = today - timedelta(days=days - 1)
    points = {since + timedelta(days=i): TrendPoint(since + timedelta(days=i)) for i in range(days)}
    rows = NetworkTrend.objects.filter(
        network__in=networks, date__gte=since, date__lte=today
    ).values_list("date", "new", "fixed", "open_by_severity")
    for day, new, fixed, by_severity in rows:
        point = points[day]
        point.new += new
        point.fixed += fixed
        point.open += sum((by_severity or {}).values())
    return list(points.values())


@dataclass
class HostPoint:
    date: date
    open: int = 0
    serious: int = 0  # open findings of severity 4 and 5
    new: int = 0
    fixed: int = 0


def host_history(*, host: Host, days: int = 90, today: date | None = None) -> list[HostPoint]:
    """A host's findings per day over the last ``days`` (days of the server's
    zone, as the trend table's), from its detections' dates: a finding counts as
    open from the day it was first found until the day it was fixed. One query
    over that host's detections (those fixed before the period are not read);
    the days are summed by a sweep, not a query each."""
    today = today or timezone.localdate()
    since = today - timedelta(days=days - 1)
    zone = timezone.get_default_timezone()
    open_delta, serious_delta = [0] * (days + 1), [0] * (days + 1)
    points = [HostPoint(since + timedelta(days=i)) for i in range(days)]
    rows = (
        Detection.objects.filter(host=host)
        .exclude(status=DetectionStatus.FIXED, fixed_at__date__lt=since)
        .values_list("first_found", "fixed_at", "status", "severity")
    )
    for first_found, fixed_at, status, severity in rows:
        start = timezone.localtime(first_found, zone).date()
        end = (
            timezone.localtime(fixed_at, zone).date()
            if status == DetectionStatus.FIXED and fixed_at
            else None
        )
        if start > today or (end is not None and end <= since):
            continue
        first = max((start - since).days, 0)
        last = days if end is None else min((end - since).days, days)
        open_delta[first] += 1
        open_delta[last] -= 1
        if severity >= 4:
            serious_delta[first] += 1
            serious_delta[last] -= 1
        if start >= since:
            points[(start - since).days].new += 1
        if end is not None and end <= today:
            points[(end - since).days].fixed += 1
    running = serious = 0
    for i, point in enumerate(points):
        running += open_delta[i]
        serious += serious_delta[i]
        point.open, point.serious = running, serious
    return points


def trend_rows(
    *, networks: QuerySet[Network], since: date | None = None, until: date | None = None
) -> QuerySet[NetworkTrend]:
    rows = NetworkTrend.objects.filter(network__in=networks).select_related("network")
    if since:
        rows = rows.filter(date__gte=since)
    if until:
        rows = rows.filter(date__lte=until)
    return rows.order_by("date", "network_id")


def top_hosts(*, networks: list[Network], limit: int = 10) -> list[HostExposure]:
    """The most vulnerable hosts of ``networks`` (each network's stored top ones,
    merged: the overall top ten are among them). Ranked on the stored counts
    alone; only the ten shown are read with their host and network."""

    def rank(row: tuple[int, dict]) -> tuple[int, ...]:
        return tuple(int((row[1] or {}).get(str(s), 0)) for s in SEVERITIES)

    stored = HostExposure.objects.filter(network__in=networks).values_list("pk", "open_by_severity")
    top = [pk for pk, _ in sorted(stored, key=rank, reverse=True)[:limit]]
    rows = HostExposure.objects.select_related("host", "network").in_bulk(top)
    return [rows[pk] for pk in top if pk in rows]


@dataclass
class QidExposure:
    vulnerability: Vulnerability
    hosts: int
    detections: int


TOP_ORDERS = {
    "hosts": "affected hosts",
    "exploited": "known exploited, by affected hosts",
    "epss": "EPSS",
}


def top_vulnerabilities(
    *, networks: list[Network], limit: int = 10, order: str = "hosts"
) -> list[QidExposure]:
    """The QIDs open on the most hosts of ``networks``, with their KB entries;
    ``order`` "exploited": only those in CISA's KEV catalog; "epss": the highest
    EPSS scores first (then affected hosts)."""
    exposure = Exposure.objects.filter(network__in=networks)
    if order == "exploited":
        exposure = exposure.filter(
            qid__in=Vulnerability.objects.filter(known_exploited=True).values("qid")
        )
    elif order == "epss":
        exposure = exposure.filter(
            qid__in=Vulnerability.objects.filter(epss__isnull=False).values("qid")
        )
    grouped = (
        exposure.values("qid")
        .annotate(hosts=Sum("hosts"), detections=Sum("detections"))
        .order_by("-hosts", "qid")
    )
    if order == "epss":
        rows = list(grouped)
        scores = dict(
            Vulnerability.objects.filter(qid__in=[r["qid"] for r in rows]).values_list(
                "qid", "epss"
            )
        )
        rows.sort(key=lambda r: (-(scores.get(r["qid"]) or 0), -r["hosts"], r["qid"]))
        rows = rows[:limit]
    else:
        rows = list(grouped[:limit])
    kb = Vulnerability.objects.in_bulk([r["qid"] for r in rows])
    return [QidExposure(kb[r["qid"]], r["hosts"], r["detections"]) for r in rows if r["qid"] in kb]


@dataclass
class ApplianceHealth:
    network: Network
    online: int = 0
    busy: int = 0
    offline: int = 0
    appliances: list[ScannerAppliance] = field(default_factory=list)


def appliance_health(*, networks: list[Network]) -> list[ApplianceHealth]:
    """Online / busy / offline appliances of each network that has any."""
    health = {n.pk: ApplianceHealth(n) for n in networks}
    for appliance in ScannerAppliance.objects.filter(network__in=networks).order_by("name"):
        entry = health[appliance.network_id]
        setattr(entry, appliance.status, getattr(entry, appliance.status) + 1)
        entry.appliances.append(appliance)
    return [h for h in health.values() if h.appliances]


def scans_in_progress(*, networks: list[Network], limit: int = 10) -> QuerySet[Scan]:
    return (
        Scan.objects.filter(network__in=networks)
        .exclude(status__in=DONE_SCAN_STATUSES)
        .select_related("network", "appliance")
        .order_by("-created_at")[:limit]
    )


def recent_imports(*, networks: list[Network], limit: int = 5) -> QuerySet[Scan]:
    """The latest imports into these networks, newest first (one query)."""
    return (
        Scan.objects.filter(kind=ScanKind.IMPORT, network__in=networks)
        .select_related("network", "import_file")
        .order_by("-created_at")[:limit]
    )


def recent_connector_runs(*, limit: int = 5) -> QuerySet[Connector]:
    """Connectors with their last run, the latest run first, never-run last
    (one query). Connectors span networks and hold cloud accounts: the caller
    shows them to Managers only."""
    return Connector.objects.select_related("last_run").order_by(
        F("last_run__created_at").desc(nulls_last=True), Lower("name")
    )[:limit]


# --- Search -----------------------------------------------------------------------------

CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)
SEARCH_LIMIT = 50


@dataclass
class SearchResults:
    query: str
    kind: str = ""  # "ip", "range", "name", "qid", "cve", or "" when nothing matched the form
    hosts: list[Host] = field(default_factory=list)
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    more: bool = False  # more hosts than shown

    @property
    def empty(self) -> bool:
        return not self.hosts and not self.vulnerabilities


def _hosts(query: QuerySet[Host]) -> tuple[list[Host], bool]:
    rows = list(query.select_related("network")[: SEARCH_LIMIT + 1])
    return rows[:SEARCH_LIMIT], len(rows) > SEARCH_LIMIT


def search(*, q: str, user) -> SearchResults:
    """What the header's search box finds: an IP (one host per network holding
    it, side by side), a range or block, a QID, a CVE, or a DNS name (its
    beginning). Each is an indexed lookup: fast at a million hosts."""
    q = (q or "").strip()
    results = SearchResults(query=q)
    if not q or "\x00" in q:  # no name, address or id holds a NUL
        return results
    hosts = hosts_visible(user=user)
    try:
        key = iprange.ip_key(q)
    except iprange.IPRangeError:
        key = None
    if key is not None:
        results.kind = "ip"
        results.hosts, results.more = _hosts(hosts.filter(ip_key=key).order_by("network__name"))
        return results
    if ascii_digits(q):
        results.kind = "qid"
        results.vulnerabilities = list(Vulnerability.objects.filter(qid=int(q))[:1])
        return results
    if CVE.match(q):
        results.kind = "cve"
        results.vulnerabilities = list(
            Vulnerability.objects.filter(cves__icontains=f'"{q.upper()}"').order_by(
                "-severity", "qid"
            )[:SEARCH_LIMIT]
        )
        return results
    if any(c in q for c in "/-,") or " " in q:
        try:
            ranges = iprange.parse(q)
        except iprange.IPRangeError:
            ranges = []
        if ranges:
            results.kind = "range"
            results.hosts, results.more = _hosts(
                hosts.filter(ip_ranges_q(ranges)).order_by("ip_key", "network_id")
            )
            return results
    results.kind = "name"
    results.hosts, results.more = _hosts_named(hosts, q)
    return results


def _name_key(column: str) -> Collate:
    """A name upper-cased, in byte order: what the host name indexes hold
    (assets' migration 0006), so a prefix is one ordered index range in any
    database collation, "h" as fast as "h12345"."""
    return Collate(Upper(column), "C" if connection.vendor == "postgresql" else "BINARY")


def _hosts_named(hosts: QuerySet[Host], q: str) -> tuple[list[Host], bool]:
    """Hosts whose DNS or NetBIOS name begins with ``q`` (either case), by name
    then network: the first of each kind, read in index order, merged."""
    prefix = q.upper()
    found: dict[int, tuple[str, int, Host]] = {}
    for column in ("dns", "netbios"):
        rows = (
            hosts.alias(name_key=_name_key(column))
            .filter(name_key__startswith=prefix)
            .select_related("network")
            .order_by("name_key", "network_id")[: SEARCH_LIMIT + 1]
        )
        for host in rows:
            name = getattr(host, column).upper()
            if host.pk not in found or name < found[host.pk][0]:
                found[host.pk] = (name, host.network_id, host)
    ranked = [host for _, _, host in sorted(found.values(), key=lambda t: (t[0], t[1], t[2].pk))]
    return ranked[:SEARCH_LIMIT], len(ranked) > SEARCH_LIMIT
