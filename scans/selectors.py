"""Read queries on scans, detections and the KB that pages and the API share."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from assets.models import Host
from assets.selectors import ip_ranges_q
from console.severity import SEVERITY_NAMES
from core import iprange
from core.digits import ascii_digits
from networks.selectors import in_scope

from .models import (
    IN_FLIGHT_SLICE_STATUSES,
    OPEN_STATUSES,
    Detection,
    DetectionStatus,
    FailoverWatch,
    FeedImport,
    HostService,
    Scan,
    ScanHost,
    ScanKind,
    ScanSlice,
    Schedule,
    SliceStatus,
    Vulnerability,
)


@dataclass
class FailoverPause:
    """Why no appliance is being failed over right now (``slices_reassign``)."""

    stalled: bool  # no check for a while: the beat or every central worker is away
    since: datetime  # the last check (stalled), or when listening began again
    until: datetime | None = None  # judging resumes then (not stalled)


def failover_pause(now: datetime | None = None) -> FailoverPause | None:
    """Whether failover is held, and since when: after a break in listening,
    until a whole offline limit of heartbeats has been heard; or checks have
    stopped altogether. None while it runs as it should (or before its first
    check on a new installation)."""
    watch = FailoverWatch.objects.filter(pk=1).first()
    if watch is None:
        return None
    now = now or timezone.now()
    if now - watch.checked_at > FailoverWatch.break_after():  # the next check starts a new run
        return FailoverPause(stalled=True, since=watch.checked_at)
    if now < watch.judging_from:
        return FailoverPause(stalled=False, since=watch.listening_since, until=watch.judging_from)
    return None


def scan_list(*, user) -> QuerySet[Scan]:
    """Scans (imports too) in the user's networks."""
    return in_scope(
        Scan.objects.select_related(
            "network", "appliance", "option_profile", "launched_by", "import_file"
        ),
        user=user,
    )


def scan_rows(*, user) -> QuerySet[Scan]:
    """Scans as a table of them shows them (ScanTable): with their network,
    appliance and an import's file; not the option profile or who launched them."""
    return in_scope(Scan.objects.select_related("network", "appliance", "import_file"), user=user)


def import_list(*, user) -> QuerySet[Scan]:
    """Imports (scans of kind "import") in the user's networks, with their file, newest first."""
    return in_scope(
        Scan.objects.filter(kind=ScanKind.IMPORT)
        .select_related("network", "launched_by", "import_file")
        .order_by("-created_at", "-id"),
        user=user,
    )


def schedule_list(*, user) -> QuerySet[Schedule]:
    """Schedules in the user's networks."""
    return in_scope(
        Schedule.objects.select_related(
            "network", "appliance", "option_profile", "owner", "last_scan"
        ).prefetch_related("asset_groups"),
        user=user,
    )


# Slices on a scan's page: what runs now first, then what failed, waits, ended.
_SLICE_ORDER = Case(
    When(status=SliceStatus.RUNNING, then=Value(0)),
    When(status=SliceStatus.DISPATCHED, then=Value(1)),
    When(status=SliceStatus.ERROR, then=Value(2)),
    When(status=SliceStatus.PENDING, then=Value(3)),
    default=Value(4),
    output_field=IntegerField(),
)


def scan_slices(*, scan: Scan) -> QuerySet[ScanSlice]:
    """A scan's slices, running ones first (a scan may have thousands: paginate)."""
    return (
        scan.slices.select_related("appliance")
        .annotate(rank=_SLICE_ORDER)
        .order_by("rank", "number")
    )


def scan_slice_counts(*, scan: Scan) -> dict[str, int]:
    """How many of a scan's slices are in each status (one grouped query)."""
    counts = dict.fromkeys(SliceStatus.values, 0)
    counts.update(scan.slices.values_list("status").annotate(n=Count("pk")).order_by())
    return counts


def appliance_slices_held(*, appliance) -> QuerySet[ScanSlice]:
    """The slices an appliance holds now, queued or running (a window: few)."""
    return (
        appliance.slices.filter(status__in=IN_FLIGHT_SLICE_STATUSES)
        .select_related("scan__network")
        .order_by("dispatched_at", "pk")
    )


def appliance_slice_history(*, appliance) -> QuerySet[ScanSlice]:
    """The slices an appliance ran and no longer holds, newest first (paginate)."""
    return (
        appliance.slices.exclude(status__in=IN_FLIGHT_SLICE_STATUSES)
        .select_related("scan__network")
        .order_by("-dispatched_at", "-pk")
    )


def scan_findings(*, scan: Scan) -> QuerySet:
    """The findings on the hosts a scan found, one row per QID with the number of
    hosts it is on (open now, and in all), worst severity first.

    Detections are kept per host, not per scan: these are the detections of
    the scan's hosts first found by the end of the scan, without those fixed
    before it started; their status is today's.
    """
    rows = Detection.objects.filter(host__scan_hosts__scan=scan, network_id=scan.network_id)
    if scan.finished is not None:
        # Ingest stamps a scan's last detections and its end with one clock
        # reading, but writes detections in raw SQL: on SQLite their text carries
        # "+00:00" and compares above the ORM's equal value. A second of slack.
        rows = rows.filter(first_found__lt=scan.finished + timedelta(seconds=1))
    if scan.started is not None:
        rows = rows.exclude(status=DetectionStatus.FIXED, fixed_at__lt=scan.started)
    return (
        rows.values("vulnerability_id", "vulnerability__title", "severity")
        .annotate(
            hosts=Count("host", distinct=True),
            open_hosts=Count("host", distinct=True, filter=Q(status__in=OPEN_STATUSES)),
        )
        .order_by("-severity", "vulnerability_id")
    )


def open_findings_by_host(host_ids: list[int]) -> dict[int, dict[int, int]]:
    """{host id: {severity: open findings}} for a page of hosts: one grouped
    query over the detections of those hosts only (their key's first column)."""
    counts: dict[int, dict[int, int]] = {}
    if not host_ids:
        return counts
    rows = (
        Detection.objects.filter(host_id__in=host_ids, status__in=OPEN_STATUSES)
        .values_list("host_id", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for host_id, severity, n in rows:
        counts.setdefault(host_id, {})[severity] = n
    return counts


def scan_hosts(*, scan: Scan) -> QuerySet[ScanHost]:
    return scan.scan_hosts.select_related("host", "host__network").order_by("host__ip_key")


def scan_findings_by_severity(*, scan: Scan) -> dict[str, int]:
    """What the scan saw, by severity, summed over its hosts."""
    totals = {str(s): 0 for s in range(1, 6)}
    for counts in scan.scan_hosts.values_list("findings", flat=True):
        for severity, n in (counts or {}).items():
            totals[severity] = totals.get(severity, 0) + n
    return totals


def detection_list(*, user) -> QuerySet[Detection]:
    """Detections in the user's networks, each with what a row names of its host
    (the address), network (the name) and KB entry (names and scores): not the
    KB's texts, kilobytes a QID, nor the network's counters, read again for every row."""
    return in_scope(
        Detection.objects.select_related("host", "network", "vulnerability").only(
            *(field.name for field in Detection._meta.concrete_fields),
            "host__ip",
            "network__name",
            "vulnerability__title",
            "vulnerability__source",
            "vulnerability__external_id",
            "vulnerability__known_exploited",
            "vulnerability__epss",
        ),
        user=user,
    )


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
            label = SEVERITY_NAMES.get(detection.severity, "")
            group = groups[detection.severity] = SeverityGroup(detection.severity, label)
        group.detections.append(detection)
    return list(groups.values())


def host_services(*, host: Host) -> QuerySet[HostService]:
    """The host's service inventory (open ports as the last scan saw them), by port."""
    return HostService.objects.filter(host=host).order_by("protocol", "port")


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
    if ascii_digits(q):
        cond |= Q(qid=int(q))
    return qs.filter(cond)


def feed_import_list() -> QuerySet[FeedImport]:
    """Feed imports, newest first (Managers only: feeds are global knowledge)."""
    return FeedImport.objects.select_related("created_by", "duplicate_of").order_by("-id")


def feed_runs(*, feed: FeedImport) -> list[Scan]:
    """The re-evaluation runs a feed import started, one per network."""
    return list(
        Scan.objects.filter(feed=feed, kind=ScanKind.FEED)
        .select_related("network")
        .order_by("network__name")
    )
