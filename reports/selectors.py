"""Read queries for reports: who sees what, and which hosts and findings a report covers.

Target resolution never enumerates a range: every IP condition is an indexed
``ip_key BETWEEN start AND end`` on ``Host``, always paired with the network
it belongs to (or explicitly every network, for the "All" choice).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from assets.models import AssetGroup, AssetGroupRange, Host, Tag
from assets.selectors import ip_ranges_q
from core import iprange
from networks.models import Network
from scans.models import Detection, Vulnerability

from .models import ALL_KINDS, ALL_SEVERITIES, ALL_STATUSES, Report, ReportSort, ReportTemplate


def report_template_list() -> QuerySet[ReportTemplate]:
    return ReportTemplate.objects.all()


def reports_visible(*, user: User) -> QuerySet[Report]:
    """Reports a user may see, download and delete: their own; Managers see all."""
    reports = Report.objects.select_related("owner", "target_network", "template")
    if user.is_manager:
        return reports
    return reports.filter(owner=user)


def report_is_visible(*, user: User, report: Report) -> bool:
    return user.is_active and (user.is_manager or report.owner_id == user.pk)


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
    """The hosts a report covers (its target resolved now)."""
    ranges = iprange.parse(report.targets) if report.targets.strip() else []
    return hosts_for_target(
        asset_groups=list(report.asset_groups.all()),
        ranges=ranges,
        network=report.target_network,
        tags=list(report.tags.all()),
    )


def report_detections(*, report: Report) -> QuerySet[Detection]:
    """The findings a report prints: its hosts' detections kept by the filters, in
    the report's order (by host: IP key then network; by vulnerability: severity,
    QID, then IP key and network)."""
    detections = Detection.objects.filter(host__in=report_hosts(report=report).values("pk"))
    # A filter that keeps everything is left out: the kind filter is a join.
    if set(report.severities) != set(ALL_SEVERITIES):
        detections = detections.filter(severity__in=report.severities)
    if set(report.statuses) != set(ALL_STATUSES):
        detections = detections.filter(status__in=report.statuses)
    if set(report.kinds) != set(ALL_KINDS):
        detections = detections.filter(vulnerability__kind__in=report.kinds)
    if report.sort == ReportSort.VULNERABILITY:
        return detections.order_by(
            "-severity",
            "vulnerability_id",
            "host__ip_key",
            "network__name",
            "host_id",
            "port",
            "protocol",
        )
    return detections.order_by(
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


@dataclass(frozen=True)
class ReportSummary:
    networks: list[str]
    hosts: int
    findings: int
    by_severity: dict[int, int]
    by_status: dict[str, int]


def report_summary(*, report: Report, detections: QuerySet[Detection]) -> ReportSummary:
    """Figures for the cover: networks in scope, counts by severity and by status."""
    hosts = report_hosts(report=report)
    network_names = list(
        Network.objects.filter(pk__in=hosts.order_by().values("network_id"))
        .order_by("name")
        .values_list("name", flat=True)
    )
    by_severity = dict.fromkeys(range(5, 0, -1), 0)
    for severity, n in (
        detections.order_by().values_list("severity").annotate(n=Count("pk")).order_by()
    ):
        by_severity[severity] = n
    by_status = dict(detections.order_by().values_list("status").annotate(n=Count("pk")).order_by())
    return ReportSummary(
        networks=network_names,
        hosts=detections.order_by().values("host_id").distinct().count(),
        findings=sum(by_severity.values()),
        by_severity=by_severity,
        by_status=by_status,
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
