import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .models import OptionProfile, Scan, ScanHost, ScanSlice, Schedule, Vulnerability


def severity_badge(value) -> str:
    return format_html('<span class="sev sev-{}">{}</span>', value, value)


def host_link(host) -> str:
    """The host's page on Host Assets, once that page exists."""
    try:
        url = reverse("assets:host_detail", args=[host.pk])
    except NoReverseMatch:
        return format_html('<span class="ip">{}</span>', host.ip)
    return format_html('<a class="ip" href="{}">{}</a>', url, host.ip)


class ScanTable(tables.Table):
    title = tables.Column(linkify=True)
    network = tables.Column()
    scanner = tables.Column(empty_values=(), orderable=False, verbose_name="Scanner")
    status = tables.Column()
    progress = tables.Column(empty_values=(), orderable=False, verbose_name="Hosts done")
    created_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Launched")

    class Meta:
        empty_text = "No scans yet."
        model = Scan
        fields = ("title", "type", "network", "scanner", "status", "progress", "created_at")
        order_by = ("-created_at",)

    def render_scanner(self, record):
        return record.scanner_display

    def render_status(self, record):
        return format_html(
            '<span class="badge scan-{}" title="{}">{}</span>',
            record.status,
            record.status_reason,
            record.get_status_display(),
        )

    def render_progress(self, record):
        return format_html(
            '<progress max="100" value="{}"></progress> {} of {}',
            record.progress,
            record.hosts_done,
            record.hosts_total,
        )


class ScheduleTable(tables.Table):
    title = tables.Column(linkify=True)
    network = tables.Column()
    scanner = tables.Column(empty_values=(), verbose_name="Scanner", order_by=("appliance__name",))
    next_run = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Next run", default="—")
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
                timezone.localtime(scan.created_at).strftime("%Y-%m-%d %H:%M"),
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
    appliance = tables.Column(default="—")
    addresses_done = tables.Column(empty_values=(), verbose_name="Addresses done")

    class Meta:
        empty_text = "No slices."
        model = ScanSlice
        fields = (
            "number",
            "targets",
            "appliance",
            "status",
            "attempts",
            "addresses_done",
            "hosts_found",
            "error",
        )
        orderable = False

    def render_addresses_done(self, record):
        return f"{record.addresses_done} of {record.addresses}"


class ScanHostTable(tables.Table):
    ip = tables.Column(accessor="host__ip", verbose_name="IP", order_by="host__ip_key")
    network = tables.Column(accessor="host__network__name", verbose_name="Network")
    os = tables.Column(accessor="host__os", verbose_name="OS")
    services = tables.Column(orderable=False, empty_values=())
    findings_total = tables.Column(verbose_name="Findings")
    by_severity = tables.Column(
        empty_values=(), orderable=False, verbose_name="By severity (5 … 1)"
    )

    class Meta:
        empty_text = "No hosts found."
        model = ScanHost
        fields = ("ip", "network", "os", "services", "findings_total", "by_severity")

    def render_ip(self, record):
        return host_link(record.host)

    def render_services(self, record):
        ports = [f"{s['port']}/{s['protocol']}" for s in record.services or []]
        return ", ".join(ports) or "—"

    def render_by_severity(self, record):
        counts = record.findings or {}
        return format_html_join(
            " ",
            '<span class="sev sev-{}" title="severity {}">{}</span>',
            ((s, s, int(counts.get(str(s), 0))) for s in range(5, 0, -1)),
        )


class OptionProfileTable(tables.Table):
    name = tables.Column(linkify=True)
    tcp = tables.Column(accessor="tcp_ports_display", verbose_name="TCP ports", orderable=False)
    checks = tables.Column(empty_values=(), orderable=False)
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


class VulnerabilityTable(tables.Table):
    qid = tables.Column(linkify=("scans:kb_detail", {"qid": tables.A("qid")}), verbose_name="QID")
    source = tables.Column(order_by=("source", "external_id"))
    severity = tables.Column()
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

    def render_severity(self, value):
        return severity_badge(value)

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
    created_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Imported")

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
        return format_html(
            '<progress max="100" value="{}"></progress> {}%', record.progress, record.progress
        )

    def render_skipped(self, value):
        return len(value or [])
