import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from console.severity import SEVERITY_NAMES
from console.tables import EMPTY, FastBodyTable, when
from scans.tables import exploitation

LEAVE_TABLE = {"hx-boost": "false"}


class VulnerabilityTable(FastBodyTable):
    """One row per (host, QID, port): IP · network, the KB entry, where and when."""

    host = tables.Column(verbose_name="Host", orderable=False)
    qid = tables.Column(verbose_name="QID", accessor="vulnerability_id")
    title = tables.Column(verbose_name="Title", accessor="vulnerability__title", orderable=False)
    severity = tables.Column()
    priority = tables.Column(verbose_name="Exploitation", orderable=False, empty_values=())
    status = tables.Column(orderable=False)
    port = tables.Column(orderable=False)
    first_found = tables.Column(verbose_name="First found")
    last_found = tables.Column(verbose_name="Last found")

    class Meta:
        template_name = "insights/vulnerability_table.html"
        order_by_field = "sort"
        empty_text = "No vulnerabilities match."
        attrs = {"class": "vulnerabilities"}

    def cell_host(self, record) -> str:
        return format_html(
            '<a href="{}" hx-boost="false"><span class="ip">{}</span> · {}</a>',
            record.host.get_absolute_url(),
            record.host.ip,
            record.network.name,
        )

    def cell_qid(self, record) -> str:
        return format_html(
            '<a href="{}" hx-boost="false">{}</a>',
            reverse("scans:kb_detail", args=[record.vulnerability_id]),
            record.vulnerability.reference,
        )

    def cell_severity(self, record) -> str:
        return format_html(
            '<span class="nowrap"><span class="sev sev-{}">{}</span> {}</span>',
            record.severity,
            record.severity,
            SEVERITY_NAMES.get(record.severity, ""),
        )

    def cell_priority(self, record) -> str:
        return exploitation(record.vulnerability)

    def cell_status(self, record) -> str:
        badge = format_html(
            '<span class="badge detection-{}">{}</span>', record.status, record.get_status_display()
        )
        if record.fixed_at is None:
            return badge
        # When it was fixed: what a Fixed list is read for.
        return format_html('{}<br><small class="muted">{}</small>', badge, when(record.fixed_at))

    def cell_port(self, record) -> str:
        if not record.port:
            return EMPTY
        return format_html("{}/{}", record.port, record.protocol or "tcp")

    def cell_first_found(self, record) -> str:
        return when(record.first_found)

    def cell_last_found(self, record) -> str:
        return when(record.last_found)
