import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from console.severity import SEVERITIES, severity_badge
from console.tables import EMPTY, FastBodyTable, NameLinksToForm, WhenColumn, id_url, when

from .models import (
    FeedImport,
    KbSource,
    OptionProfile,
    Scan,
    ScanHost,
    ScanSlice,
    ScanStatus,
    Schedule,
    SliceStatus,
    Vulnerability,
)


def scan_status_badge(scan: Scan) -> str:
    """The scan's status in its own colour; the reason (why it waits or failed) on hover."""
    return format_html(
        '<span class="badge scan-{}" title="{}">{}</span>',
        scan.status,
        scan.status_reason,
        scan.get_status_display(),
    )


NOTHING_IMPORTED = mark_safe('<span class="muted">nothing imported</span>')  # noqa: S308 -- a constant


def scan_progress(scan: Scan) -> str:
    """Bar, percent, hosts done and, while it runs, what the appliances are doing."""
    if scan.nothing_imported:  # its bar stopped where the check did
        return NOTHING_IMPORTED
    doing = ""
    if scan.status == ScanStatus.RUNNING and scan.phase_display:
        doing = format_html(' <span class="phase">· {}</span>', scan.phase_display.lower())
    return format_html(
        '<progress max="100" value="{}" aria-label="{} %"></progress> {} %'
        ' <span class="muted">({} of {} hosts)</span>{}',
        scan.progress,
        scan.progress,
        scan.progress,
        f"{scan.hosts_done:,}",
        f"{scan.hosts_total:,}",
        doing,
    )


def exploitation(vulnerability) -> str:
    """Known exploited (CISA KEV: since when, remediation due) and EPSS, as
    badges; — without. The one writer of this markup, for tables and (as the
    ``exploitation`` filter) templates: a template include per row cost a host's
    30 findings 1.6 ms."""
    parts = []
    if vulnerability.known_exploited:
        since, due = vulnerability.kev_date_added, vulnerability.kev_due_date
        parts.append(
            format_html(
                '<span class="badge kev" title="In CISA\'s Known Exploited Vulnerabilities '
                'catalog{}{}">Known exploited</span>',
                f" since {since.isoformat()}" if since else "",
                f", due {due.isoformat()}" if due else "",
            )
        )
    if vulnerability.epss is not None:
        parts.append(
            format_html(
                '<span class="epss" title="EPSS percentile {}">EPSS {}</span>',
                f"{(vulnerability.epss_percentile or 0) * 100:.0f}%",
                f"{vulnerability.epss:.2f}",
            )
        )
    return format_html(" ".join(["{}"] * len(parts)), *parts) if parts else EMPTY


def host_finding_rows(detections) -> str:
    """A host's findings as rows of its findings table: QID, source, title with
    the evidence, severity, exploitation, status, port, first and last found.
    Written in Python like FastBodyTable's rows: the template's tags per row
    cost the host page's findings 2.6 ms in 30."""
    kb_url = id_url("scans:kb_detail")
    zone = timezone.get_current_timezone()
    return format_html_join(
        "\n",
        '<tr><td><a href="{}">{}</a></td><td class="source">{}</td><td>{}{}</td>'
        '<td><span class="sev sev-{}">{}</span></td><td>{}</td>'
        '<td><span class="badge status-{}">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                kb_url.format(d.vulnerability_id),
                d.vulnerability_id,
                _finding_source(d.vulnerability),
                d.vulnerability.title,
                _finding_results(d.results),
                d.severity,
                d.severity,
                exploitation(d.vulnerability),
                d.status,
                d.get_status_display(),
                f"{d.port}/{d.protocol}" if d.port else EMPTY,
                when(d.first_found, zone),
                when(d.last_found, zone),
            )
            for d in detections
        ),
    )


def _finding_source(vulnerability) -> str:
    if vulnerability.source == KbSource.ENCLAVE:
        return "Enclave"
    return format_html(
        '{} <span class="muted">{}</span>',
        vulnerability.get_source_display(),
        vulnerability.external_id,
    )


def _finding_results(results: str) -> str:
    if not results:
        return ""
    return format_html(
        '<details><summary>Results</summary><pre class="results">{}</pre></details>', results
    )


def host_link(host) -> str:
    """The host's page on Host Assets, once that page exists."""
    try:
        url = reverse("assets:host_detail", args=[host.pk])
    except NoReverseMatch:
        return format_html('<span class="ip">{}</span>', host.ip)
    return format_html('<a class="ip" href="{}">{}</a>', url, host.ip)


class ScanTable(FastBodyTable):
    """Scans, newest first: a page of 50 is rendered in one pass (console.tables)."""

    title = tables.Column(linkify=True)
    network = tables.Column()
    scanner = tables.Column(empty_values=(), orderable=False, verbose_name="Scanner")
    status = tables.Column()
    progress = tables.Column(empty_values=(), orderable=False, verbose_name="Progress")
    created_at = tables.Column(verbose_name="Launched")

    class Meta:
        empty_text = "No scans yet."
        model = Scan
        fields = ("title", "type", "network", "scanner", "status", "progress", "created_at")
        order_by = ("-created_at",)
        template_name = "includes/fast_table.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = timezone.get_current_timezone()
        # Scan.get_absolute_url's two pages.
        self.scan_url = id_url("scans:scan_detail")
        self.import_url = id_url("scans:import_detail")

    def cell_title(self, record):
        url = (self.import_url if record.is_import else self.scan_url).format(record.pk)
        return format_html('<a href="{}">{}</a>', url, record.title)

    def cell_type(self, record):
        return conditional_escape(record.get_type_display())

    def cell_network(self, record):
        return conditional_escape(record.network.name)

    def cell_scanner(self, record):
        return conditional_escape(record.scanner_display)

    def cell_status(self, record):
        return scan_status_badge(record)

    def cell_progress(self, record):
        return scan_progress(record)

    def cell_created_at(self, record):
        return when(record.created_at, self.zone)

    # The schedule page and the imports list render scans with django-tables2's own body.
    def render_status(self, record):
        return scan_status_badge(record)


class ScheduleTable(tables.Table):
    title = tables.Column(linkify=True)
    network = tables.Column()
    scanner = tables.Column(empty_values=(), verbose_name="Scanner", order_by=("appliance__name",))
    next_run = WhenColumn(verbose_name="Next run")
    active = tables.BooleanColumn()
    last_scan = tables.Column(
        empty_values=(), verbose_name="Last scan", order_by=("last_scan__created_at",)
    )

    class Meta:
        empty_text = "No schedules yet."
        model = Schedule
        fields = ("title", "type", "network", "scanner", "recurrence", "next_run", "active")
        sequence = (*fields, "last_scan")
        order_by = ("next_run",)

    def render_scanner(self, record):
        return record.scanner_display

    def render_last_scan(self, record):
        scan = record.last_scan
        link = (
            format_html(
                '<a href="{}">{}</a>',
                scan.get_absolute_url(),
                when(scan.created_at),
            )
            if scan is not None
            else "—"
        )
        if record.last_error:
            return format_html(
                '{} <span class="badge scan-error" title="{}">last run failed</span>',
                link,
                record.last_error,
            )
        return link


class ScanSliceTable(tables.Table):
    number = tables.Column(verbose_name="Slice")
    targets = tables.Column(attrs={"td": {"class": "ip"}})
    appliance = tables.Column(
        default="—", linkify=("networks:appliance_detail", {"pk": tables.A("appliance_id")})
    )
    status = tables.Column()
    phase = tables.Column(empty_values=(), verbose_name="Doing")
    progress = tables.Column(
        empty_values=(), verbose_name="Progress", attrs={"td": {"class": "progress-cell"}}
    )

    class Meta:
        empty_text = "No slices."
        model = ScanSlice
        fields = (
            "number",
            "targets",
            "appliance",
            "status",
            "phase",
            "progress",
            "attempts",
            "hosts_found",
            "error",
        )
        orderable = False

    def render_status(self, record):
        return format_html(
            '<span class="badge slice-{}">{}</span>', record.status, record.get_status_display()
        )

    def render_phase(self, record):
        if record.status != SliceStatus.RUNNING or not record.phase:
            return "—"
        return record.get_phase_display()

    def render_progress(self, record):
        return format_html(
            '<progress max="100" value="{}" aria-label="{} %"></progress>'
            ' <span class="muted">{} of {}</span>',
            record.progress,
            record.progress,
            record.addresses_done,
            record.addresses,
        )


class ApplianceSliceTable(tables.Table):
    """An appliance's slices: which scan, which addresses, how it went."""

    scan = tables.Column(linkify=True)
    network = tables.Column(accessor="scan__network__name", verbose_name="Network")
    number = tables.Column(verbose_name="Slice")
    targets = tables.Column(attrs={"td": {"class": "ip"}})
    status = tables.Column()
    progress = tables.Column(
        empty_values=(), verbose_name="Progress", attrs={"td": {"class": "progress-cell"}}
    )
    dispatched_at = WhenColumn(seconds=True, verbose_name="Sent")
    hosts_found = tables.Column(verbose_name="Hosts found")

    class Meta:
        empty_text = "None."
        model = ScanSlice
        fields = (
            "scan",
            "network",
            "number",
            "targets",
            "status",
            "progress",
            "dispatched_at",
            "hosts_found",
            "error",
        )
        orderable = False

    def render_status(self, record):
        return ScanSliceTable.render_status(self, record)

    def render_progress(self, record):
        phase = ScanSliceTable.render_phase(self, record)
        bar = ScanSliceTable.render_progress(self, record)
        return bar if phase == "—" else format_html("{} · {}", bar, phase)


class _SeverityCountColumn(tables.Column):
    """One severity's count, the header saying which ("5 Urgent" on its colour)."""

    def __init__(self, severity: int, **kwargs):
        self.severity = severity
        super().__init__(
            empty_values=(),
            orderable=False,
            verbose_name=severity_badge(severity),
            attrs={"td": {"class": f"count sev-count-{severity}"}},
            **kwargs,
        )

    def render(self, record):
        n = int((record.findings or {}).get(str(self.severity), 0))
        return n or "—"


class ScanHostTable(tables.Table):
    ip = tables.Column(accessor="host__ip", verbose_name="IP", order_by="host__ip_key")
    network = tables.Column(accessor="host__network__name", verbose_name="Network")
    os = tables.Column(accessor="host__os", verbose_name="OS")
    services = tables.Column(orderable=False, empty_values=())
    findings_total = tables.Column(verbose_name="Findings")
    sev5 = _SeverityCountColumn(5)
    sev4 = _SeverityCountColumn(4)
    sev3 = _SeverityCountColumn(3)
    sev2 = _SeverityCountColumn(2)
    sev1 = _SeverityCountColumn(1)

    class Meta:
        empty_text = "No hosts found."
        model = ScanHost
        fields = ("ip", "network", "os", "services", "findings_total")
        sequence = (*fields, *(f"sev{s}" for s in SEVERITIES))

    def render_ip(self, record):
        return host_link(record.host)

    def render_services(self, record):
        ports = [f"{s['port']}/{s['protocol']}" for s in record.services or []]
        return ", ".join(ports) or "—"


class OptionProfileTable(NameLinksToForm, tables.Table):
    name = tables.Column(linkify=True)
    tcp = tables.Column(accessor="tcp_ports_display", verbose_name="TCP ports", orderable=False)
    udp_ports = tables.Column(verbose_name="UDP ports")
    checks = tables.Column(empty_values=(), orderable=False)
    host_timeout = tables.Column()
    is_default = tables.BooleanColumn(verbose_name="Default")

    class Meta:
        empty_text = "No option profiles."
        model = OptionProfile
        fields = (
            "name",
            "tcp",
            "udp_ports",
            "service_detection",
            "checks",
            "max_parallel_hosts",
            "host_timeout",
            "is_default",
        )

    def render_checks(self, record):
        return ", ".join(record.checks) if record.checks else "all"

    def render_host_timeout(self, value):
        return f"{value} s"


class VulnerabilityTable(tables.Table):
    qid = tables.Column(linkify=("scans:kb_detail", {"qid": tables.A("qid")}), verbose_name="QID")
    source = tables.Column(order_by=("source", "external_id"))
    severity = tables.Column()
    cvss = tables.Column(verbose_name="CVSS")
    cves = tables.Column(orderable=False, verbose_name="CVEs")

    class Meta:
        empty_text = "No vulnerabilities match."
        model = Vulnerability
        fields = ("qid", "source", "title", "severity", "category", "cvss", "cves")

    def render_source(self, record):
        if record.source == "enclave":
            return record.get_source_display()
        return format_html(
            '{} <span class="muted">{}</span>', record.get_source_display(), record.external_id
        )

    def render_severity(self, record):
        # The record's number: django-tables2 hands a field with choices to
        # ``value`` as its display text ("3 - Serious").
        return severity_badge(record.severity)

    def render_cves(self, value):
        return ", ".join(value) if value else "—"


class ImportTable(tables.Table):
    filename = tables.Column(
        accessor="import_file__filename",
        verbose_name="File",
        linkify=lambda record: record.get_absolute_url(),
    )
    format = tables.Column(accessor="import_file__format", verbose_name="Format")
    network = tables.Column()
    status = tables.Column()
    progress = tables.Column(empty_values=(), orderable=False, verbose_name="Progress")
    hosts = tables.Column(accessor="import_file__hosts", verbose_name="Hosts")
    findings = tables.Column(accessor="import_file__findings", verbose_name="Findings")
    skipped = tables.Column(
        accessor="import_file__skipped", verbose_name="Skipped", orderable=False
    )
    launched_by = tables.Column(verbose_name="By", default="—")
    created_at = WhenColumn(verbose_name="Imported")

    class Meta:
        empty_text = "No imports yet."
        model = Scan
        fields = ()
        sequence = (
            "filename",
            "format",
            "network",
            "status",
            "progress",
            "hosts",
            "findings",
            "skipped",
            "launched_by",
            "created_at",
        )
        order_by = ("-created_at",)

    def render_format(self, record):
        return record.import_file.get_format_display()

    def render_status(self, record):
        return ScanTable.render_status(self, record)

    def render_progress(self, record):
        if record.nothing_imported:
            return NOTHING_IMPORTED
        return format_html(
            '<progress max="100" value="{}"></progress> {}%', record.progress, record.progress
        )

    def render_skipped(self, value):
        return len(value or [])


class FeedImportTable(tables.Table):
    filename = tables.Column(verbose_name="File", linkify=lambda record: record.get_absolute_url())
    kind = tables.Column(verbose_name="Kind")
    status = tables.Column()
    progress = tables.Column(orderable=False)
    records = tables.Column()
    changed = tables.Column(empty_values=(), orderable=False, verbose_name="Changed")
    created_by = tables.Column(verbose_name="By", default="—")
    created_at = WhenColumn(verbose_name="Imported")

    class Meta:
        empty_text = "No feed imported yet."
        model = FeedImport
        fields = ()
        sequence = (
            "filename",
            "kind",
            "status",
            "progress",
            "records",
            "changed",
            "created_by",
            "created_at",
        )

    def render_status(self, record):
        return format_html(
            '<span class="badge scan-{}">{}</span>', record.status, record.get_status_display()
        )

    def render_progress(self, record):
        return f"{record.progress}%"

    def render_changed(self, record):
        if record.duplicate_of_id:
            return "nothing (same file as before)"
        if not record.changed:
            return "—"
        return ", ".join(f"{n:,} {what}" for what, n in record.changed_items if n) or "nothing"
