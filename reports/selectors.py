"""Read queries for reports: who sees what, and which hosts and findings a report covers.

Target resolution never enumerates a range: every IP condition is an indexed
``ip_key BETWEEN start AND end`` on ``Host``, always paired with the network
it belongs to (or explicitly every network, for the "All" choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts.models import User
from assets.models import AssetGroup, AssetGroupRange, Host, Tag
from assets.selectors import ip_ranges_q
from core import iprange
from networks.models import Network
from networks.selectors import in_scope
from scans.models import OPEN_STATUSES, Detection, DetectionStatus, Vulnerability

from .models import (
    ALL_KINDS,
    ALL_SEVERITIES,
    ALL_STATUSES,
    Report,
    ReportSchedule,
    ReportSort,
    ReportTemplate,
)


def report_template_list() -> QuerySet[ReportTemplate]:
    return ReportTemplate.objects.all()


def reports_visible(*, user: User) -> QuerySet[Report]:
    """Reports a user may see and download: their own, and scheduled reports
    delivered to them; Managers see all."""
    reports = Report.objects.select_related("owner", "target_network", "template", "schedule")
    if user.is_manager:
        return reports
    return reports.filter(
        Q(owner=user)
        | Q(pk__in=Report.shared_with.through.objects.filter(user=user).values("report"))
    )


def report_is_visible(*, user: User, report: Report) -> bool:
    """Whether ``user`` may delete ``report``: its owner or a Manager (recipients
    of a scheduled report may read it, not delete it)."""
    return user.is_active and (user.is_manager or report.owner_id == user.pk)


def report_schedules_visible(*, user: User) -> QuerySet[ReportSchedule]:
    """Report schedules a user may see and change: their own; Managers see all."""
    schedules = ReportSchedule.objects.select_related(
        "owner", "template", "target_network", "last_report"
    )
    if user.is_manager:
        return schedules
    return schedules.filter(owner=user)


def hosts_for_target(
    *,
    asset_groups: list[AssetGroup] | QuerySet[AssetGroup],
    ranges: list[iprange.IPRange],
    network: Network | None,
    tags: list[Tag] | QuerySet[Tag],
) -> QuerySet[Host]:
    """Hosts in the union of the three target kinds.

    * each asset group: hosts of the group's own network inside its ranges;
    * IPs/ranges: hosts inside them in ``network`` (``None``: in every network);
    * tags: hosts carrying any of the tags, whatever their network.
    """
    condition = Q(pk__in=[])
    group_ids = [g.pk for g in asset_groups]
    if group_ids:
        group_ranges: dict[int, list[iprange.IPRange]] = {}
        group_network = dict(
            AssetGroup.objects.filter(pk__in=group_ids).values_list("pk", "network_id")
        )
        for group_id, start, end in AssetGroupRange.objects.filter(
            group_id__in=group_ids
        ).values_list("group_id", "start_key", "end_key"):
            group_ranges.setdefault(group_id, []).append(iprange.IPRange.from_keys(start, end))
        # Groups of the same network merge into one set of ranges.
        per_network: dict[int, list[iprange.IPRange]] = {}
        for group_id, network_id in group_network.items():
            per_network.setdefault(network_id, []).extend(group_ranges.get(group_id, []))
        for network_id, network_ranges in per_network.items():
            merged = iprange.merge(network_ranges)
            if merged:
                condition |= Q(network_id=network_id) & ip_ranges_q(merged, network_id=network_id)
    if ranges:
        ip_condition = ip_ranges_q(ranges, network_id=network.pk if network else None)
        if network is not None:
            ip_condition &= Q(network_id=network.pk)
        condition |= ip_condition
    tag_ids = [t.pk for t in tags]
    if tag_ids:
        condition |= Q(
            pk__in=Host.tags.through.objects.filter(tag_id__in=tag_ids).values("host_id")
        )
    return Host.objects.filter(condition)


def report_hosts(*, report: Report) -> QuerySet[Host]:
    """The hosts a report covers (its target resolved now), inside its owner's
    networks: "All" is all of the owner's networks, a tag only their hosts, and
    a scheduled report run by beat keeps its owner's scope."""
    ranges = iprange.parse(report.targets) if report.targets.strip() else []
    return in_scope(
        hosts_for_target(
            asset_groups=list(report.asset_groups.all()),
            ranges=ranges,
            network=report.target_network,
            tags=list(report.tags.all()),
        ),
        user=report.owner,
    )


def _scope_detections(*, report: Report) -> QuerySet[Detection]:
    """The report's hosts' detections kept by severity and type, whatever their status."""
    detections = Detection.objects.filter(host__in=report_hosts(report=report).values("pk"))
    # A filter that keeps everything is left out: the kind filter is a join.
    if set(report.severities) != set(ALL_SEVERITIES):
        detections = detections.filter(severity__in=report.severities)
    if set(report.kinds) != set(ALL_KINDS):
        detections = detections.filter(vulnerability__kind__in=report.kinds)
    return detections


def report_detections(*, report: Report) -> QuerySet[Detection]:
    """The findings a report prints: its hosts' detections kept by the filters, in
    the report's order (by host: IP key then network; by vulnerability: severity,
    QID, then IP key and network); grouped by network, the network's name (and
    id, for twins of a name) comes first."""
    detections = _scope_detections(report=report)
    if set(report.statuses) != set(ALL_STATUSES):
        detections = detections.filter(status__in=report.statuses)
    first = ["network__name", "network_id"] if report.group_by_network else []
    if report.sort == ReportSort.VULNERABILITY:
        return detections.order_by(
            *first,
            "-severity",
            "vulnerability_id",
            "host__ip_key",
            "network__name",
            "host_id",
            "port",
            "protocol",
        )
    return detections.order_by(
        *first,
        "host__ip_key",
        "network__name",
        "host_id",
        "-severity",
        "vulnerability_id",
        "port",
        "protocol",
    )


def report_vulnerabilities(*, detections: QuerySet[Detection]) -> dict[int, Vulnerability]:
    """The KB entries of the given findings, by QID (the KB is small; findings are not)."""
    qids = detections.order_by().values("vulnerability_id")
    return {v.qid: v for v in Vulnerability.objects.filter(qid__in=qids)}


# How far back "new" and "fixed" count on the cover of a report made by hand.
DEFAULT_PERIOD = timedelta(days=30)
# Rows of the "top vulnerabilities" and "most vulnerable hosts" tables.
TOP_ROWS = 5


def _severities() -> dict[int, int]:
    return dict.fromkeys(range(5, 0, -1), 0)


@dataclass(frozen=True)
class TopVulnerability:
    qid: int
    title: str
    severity: int
    hosts: int
    findings: int


@dataclass(frozen=True)
class TopHost:
    host_id: int
    ip: str
    dns: str
    network: str
    by_severity: dict[int, int]
    total: int


@dataclass
class NetworkSummary:
    """One network's figures for the executive summary (``network_id`` None:
    every network of the report together)."""

    network_id: int | None
    name: str
    hosts: int = 0
    hosts_affected: int = 0
    open_by_severity: dict[int, int] = field(default_factory=_severities)
    new: int = 0
    fixed: int = 0
    top_vulnerabilities: list[TopVulnerability] = field(default_factory=list)
    top_hosts: list[TopHost] = field(default_factory=list)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def anchor(self) -> str:
        return f"n{self.network_id}" if self.network_id else "summary"


@dataclass(frozen=True)
class ReportSummary:
    networks: list[str]
    # Hosts with findings in the report, the findings, counted by severity and status.
    hosts: int
    findings: int
    by_severity: dict[int, int]
    by_status: dict[str, int]
    period_start: datetime
    overall: NetworkSummary
    per_network: list[NetworkSummary]


def network_changes(
    *, detections: QuerySet[Detection], since: datetime
) -> dict[int, tuple[int, int]]:
    """(new, fixed) per network id since ``since``: detections first found since
    then, and detections fixed since then (still fixed).

    Counted over the report's own scope (its hosts, severities and types), which
    a network-wide daily trend row cannot give for a target that is part of a
    network; for whole networks this is where the trend history would be read.
    """
    rows = (
        detections.order_by()
        .values("network_id")
        .annotate(
            new=Count("pk", filter=Q(first_found__gte=since)),
            fixed=Count("pk", filter=Q(status=DetectionStatus.FIXED, fixed_at__gte=since)),
        )
    )
    return {row["network_id"]: (row["new"], row["fixed"]) for row in rows}


def _top_vulnerabilities(open_findings: QuerySet[Detection], *, per_network: bool) -> list[dict]:
    """The QIDs open on the most hosts (worst severity first on a tie), per network or overall."""
    group = ["network_id", "vulnerability_id"] if per_network else ["vulnerability_id"]
    rows = (
        open_findings.order_by()
        .values(*group)
        .annotate(
            hosts=Count("host_id", distinct=True),
            findings=Count("pk"),
            worst=Max("severity"),
        )
    )
    order = [F("worst").desc(), F("hosts").desc(), F("vulnerability_id").asc()]
    if per_network:
        rows = rows.annotate(
            rank=Window(RowNumber(), partition_by=[F("network_id")], order_by=order)
        ).filter(rank__lte=TOP_ROWS)
        return list(rows)
    return list(rows.order_by(*order)[:TOP_ROWS])


def _top_hosts(open_findings: QuerySet[Detection], *, per_network: bool) -> list[dict]:
    """The hosts with the most open findings of the worst severities, per network or overall."""
    counts = {f"s{s}": Count("pk", filter=Q(severity=s)) for s in range(5, 0, -1)}
    rows = (
        open_findings.order_by()
        .values("network_id", "host_id")
        .annotate(total=Count("pk"), **counts)
    )
    order = [F(f"s{s}").desc() for s in range(5, 0, -1)] + [F("host_id").asc()]
    if per_network:
        rows = rows.annotate(
            rank=Window(RowNumber(), partition_by=[F("network_id")], order_by=order)
        ).filter(rank__lte=TOP_ROWS)
        return list(rows)
    return list(rows.order_by(*order)[:TOP_ROWS])


def report_summary(
    *, report: Report, detections: QuerySet[Detection], now: datetime | None = None
) -> ReportSummary:
    """Figures for the cover and the executive summary: per network in scope, its
    hosts, open findings by severity, new and fixed since the period's start, the
    top vulnerabilities and the most vulnerable hosts; the same for all together.

    "Open" means New, Active or Re-Opened, among the statuses the report keeps.
    New and fixed count whatever the status filter (a report of open findings
    still says how many were fixed), within the report's severities and types.
    """
    now = now or timezone.now()
    period_start = report.period_start or now - DEFAULT_PERIOD
    hosts = report_hosts(report=report)
    names = dict(
        Network.objects.filter(pk__in=hosts.order_by().values("network_id")).values_list(
            "pk", "name"
        )
    )
    ordered = sorted(names, key=lambda pk: (names[pk].lower(), pk))
    summaries = {pk: NetworkSummary(network_id=pk, name=names[pk]) for pk in ordered}
    overall = NetworkSummary(network_id=None, name="All networks")

    for network_id, n in hosts.order_by().values_list("network_id").annotate(n=Count("pk")):
        summaries[network_id].hosts = n
        overall.hosts += n

    by_severity = _severities()
    for severity, n in (
        detections.order_by().values_list("severity").annotate(n=Count("pk")).order_by()
    ):
        by_severity[severity] = n
    by_status = dict(detections.order_by().values_list("status").annotate(n=Count("pk")).order_by())

    open_statuses = [s for s in OPEN_STATUSES if s in report.statuses]
    open_findings = detections.filter(status__in=open_statuses)
    for network_id, severity, n in (
        open_findings.order_by().values_list("network_id", "severity").annotate(n=Count("pk"))
    ):
        summaries[network_id].open_by_severity[severity] = n
        overall.open_by_severity[severity] += n
    for network_id, n in (
        open_findings.order_by()
        .values_list("network_id")
        .annotate(n=Count("host_id", distinct=True))
    ):
        summaries[network_id].hosts_affected = n
        overall.hosts_affected += n

    for network_id, (new, fixed) in network_changes(
        detections=_scope_detections(report=report), since=period_start
    ).items():
        summaries[network_id].new, summaries[network_id].fixed = new, fixed
        overall.new += new
        overall.fixed += fixed

    top_vulns = _top_vulnerabilities(open_findings, per_network=True)
    top_vulns_all = _top_vulnerabilities(open_findings, per_network=False)
    top_hosts = _top_hosts(open_findings, per_network=True)
    top_hosts_all = _top_hosts(open_findings, per_network=False)
    kb = dict(
        Vulnerability.objects.filter(
            qid__in={r["vulnerability_id"] for r in top_vulns + top_vulns_all}
        ).values_list("qid", "title")
    )
    host_rows = {
        h["pk"]: h
        for h in Host.objects.filter(
            pk__in={r["host_id"] for r in top_hosts + top_hosts_all}
        ).values("pk", "ip", "dns", "network_id")
    }

    def vulnerability(row) -> TopVulnerability:
        qid = row["vulnerability_id"]
        return TopVulnerability(
            qid=qid,
            title=kb.get(qid, f"QID {qid}"),
            severity=row["worst"],
            hosts=row["hosts"],
            findings=row["findings"],
        )

    def host(row) -> TopHost:
        found = host_rows[row["host_id"]]
        return TopHost(
            host_id=row["host_id"],
            ip=found["ip"],
            dns=found["dns"],
            network=names.get(found["network_id"], ""),
            by_severity={s: row[f"s{s}"] for s in range(5, 0, -1)},
            total=row["total"],
        )

    # Each network's rows come ranked by the window function.
    for row in sorted(top_vulns, key=lambda r: r["rank"]):
        summaries[row["network_id"]].top_vulnerabilities.append(vulnerability(row))
    for row in sorted(top_hosts, key=lambda r: r["rank"]):
        summaries[row["network_id"]].top_hosts.append(host(row))
    overall.top_vulnerabilities = [vulnerability(r) for r in top_vulns_all]
    overall.top_hosts = [host(r) for r in top_hosts_all]

    return ReportSummary(
        networks=[summaries[pk].name for pk in ordered],
        hosts=detections.order_by().values("host_id").distinct().count(),
        findings=sum(by_severity.values()),
        by_severity=by_severity,
        by_status=by_status,
        period_start=period_start,
        overall=overall,
        per_network=[summaries[pk] for pk in ordered],
    )


def report_target_lines(*, report: Report) -> list[str]:
    """The target as the cover prints it: every asset group with its network."""
    lines = [
        f"Asset group {g.title} ({g.network.name})"
        for g in report.asset_groups.select_related("network").order_by("network__name", "title")
    ]
    if report.targets:
        where = report.target_network.name if report.target_network else "all networks"
        lines.append(f"IPs {report.targets} in {where}")
    lines.extend(f"Tag {t.name}" for t in report.tags.order_by("name"))
    return lines
