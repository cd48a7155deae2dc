"""Read queries on scans, detections and the KB that pages and the API share."""

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from assets.models import Host
from assets.selectors import ip_ranges_q
from core import iprange

from .models import (
    Detection,
    Scan,
    ScanHost,
    ScanKind,
    ScanSlice,
    Schedule,
    Severity,
    Vulnerability,
)


def scan_list() -> QuerySet[Scan]:
    return Scan.objects.select_related(
        "network", "appliance", "option_profile", "launched_by", "import_file"
    )


def import_list() -> QuerySet[Scan]:
    """Imports (scans of kind "import") with their file, newest first."""
    return (
        Scan.objects.filter(kind=ScanKind.IMPORT)
        .select_related("network", "launched_by", "import_file")
        .order_by("-created_at", "-id")
    )


def schedule_list() -> QuerySet[Schedule]:
    return Schedule.objects.select_related(
        "network", "appliance", "option_profile", "owner", "last_scan"
    ).prefetch_related("asset_groups")


def scan_slices(*, scan: Scan) -> QuerySet[ScanSlice]:
    return scan.slices.select_related("appliance").order_by("number")


def scan_hosts(*, scan: Scan) -> QuerySet[ScanHost]:
    return scan.scan_hosts.select_related("host", "host__network").order_by("host__ip_key")


def scan_findings_by_severity(*, scan: Scan) -> dict[str, int]:
    """What the scan saw, by severity, summed over its hosts."""
    totals = {str(s): 0 for s in range(1, 6)}
    for counts in scan.scan_hosts.values_list("findings", flat=True):
        for severity, n in (counts or {}).items():
            totals[severity] = totals.get(severity, 0) + n
    return totals


def detection_list() -> QuerySet[Detection]:
    return Detection.objects.select_related("host", "network", "vulnerability")


def detections_for_host(*, host: Host) -> QuerySet[Detection]:
    """A host's findings as the latest scan left them, worst first, each with its
    KB entry (title) and the evidence its check saw."""
    return (
        Detection.objects.filter(host=host, network_id=host.network_id)
        .select_related("vulnerability")
        .order_by("-severity", "vulnerability_id", "port", "protocol")
    )


@dataclass
class SeverityGroup:
    severity: int
    label: str
    detections: list[Detection] = field(default_factory=list)


def host_findings_by_severity(*, host: Host) -> list[SeverityGroup]:
    """The host's findings grouped by severity, most severe first (one query)."""
    groups: dict[int, SeverityGroup] = {}
    for detection in detections_for_host(host=host):
        group = groups.get(detection.severity)
        if group is None:
            label = Severity(detection.severity).label
            group = groups[detection.severity] = SeverityGroup(detection.severity, label)
        group.detections.append(detection)
    return list(groups.values())


def detections_filter_ip(qs: QuerySet[Detection], text: str) -> QuerySet[Detection]:
    """Detections on hosts inside an address, range or block; nothing on bad input."""
    try:
        ranges = iprange.parse(text)
    except iprange.IPRangeError:
        return qs.none()
    return qs.filter(ip_ranges_q(ranges, host="host"))


def kb_search(*, q: str = "") -> QuerySet[Vulnerability]:
    qs = Vulnerability.objects.all()
    q = (q or "").strip()
    if not q:
        return qs
    cond = Q(title__icontains=q) | Q(category__icontains=q) | Q(cves__icontains=q)
    if q.isdigit():
        cond |= Q(qid=int(q))
    return qs.filter(cond)
