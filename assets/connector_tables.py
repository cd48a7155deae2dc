"""Tables of the Connectors pages."""

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from console.tables import WhenColumn
from console.times import local_date, when

from .models import CloudInstance, Connector, ConnectorRun
from .tables import EMPTY, LEAVE_TABLE


def _counts(counts: dict) -> str:
    if not counts:
        return EMPTY
    return (
        f"{counts.get('new', 0)} new · {counts.get('updated', 0)} updated · "
        f"{counts.get('gone', 0)} gone"
        + (f" · {counts['purged']} purged" if counts.get("purged") else "")
    )


def _status(run: ConnectorRun | None) -> str:
    if run is None:
        return mark_safe('<span class="muted">never run</span>')  # noqa: S308 (a constant)
    return format_html(
        '<span class="badge run-{}" data-status="{}">{}</span>',
        run.status,
        run.status,
        run.get_status_display(),
    )


class ConnectorTable(tables.Table):
    name = tables.Column(linkify=True, attrs={"a": LEAVE_TABLE})
    kind = tables.Column()
    scopes = tables.Column(verbose_name="Regions / subscriptions", orderable=False)
    schedule = tables.Column()
    last_run = tables.Column(verbose_name="Last run", orderable=False, empty_values=())
    last_counts = tables.Column(verbose_name="Last counts", orderable=False, empty_values=())
    next_run = WhenColumn(verbose_name="Next run")

    class Meta:
        model = Connector
        fields = ("name", "kind", "scopes", "schedule", "last_run", "last_counts", "next_run")
        empty_text = "No connectors yet."
        order_by = ("name",)

    def render_scopes(self, value):
        return ", ".join(value) if value else EMPTY

    def render_last_run(self, record):
        run = record.last_run
        if run is None:
            return _status(None)
        return format_html("{} {}", _status(run), when(run.created_at))

    def render_last_counts(self, record):
        return _counts(record.last_run.counts if record.last_run else {})


class ConnectorRunTable(tables.Table):
    created_at = WhenColumn(seconds=True, verbose_name="Started")
    trigger = tables.Column()
    status = tables.Column(empty_values=())
    scopes = tables.Column(verbose_name="Read", empty_values=(), orderable=False)
    counts = tables.Column(orderable=False, empty_values=())
    error = tables.Column(verbose_name="Error / warnings", orderable=False, empty_values=())

    class Meta:
        model = ConnectorRun
        fields = ("created_at", "trigger", "status", "scopes", "counts", "error")
        empty_text = "No runs yet: use Run now."
        orderable = False

    def render_status(self, record):
        return _status(record)

    def render_scopes(self, record):
        return f"{record.scopes_done} of {record.scopes_total}"

    def render_counts(self, record):
        return _counts(record.counts)

    def render_error(self, record):
        if record.error:
            return format_html('<span class="errors">{}</span>', record.error)
        if record.warnings:
            return format_html(
                '<span class="muted">{} warning(s): {}</span>',
                len(record.warnings),
                record.warnings[0],
            )
        return EMPTY


class CloudInstanceTable(tables.Table):
    name = tables.Column(empty_values=())
    cloud_id = tables.Column(verbose_name="Instance id")
    state = tables.Column(empty_values=())
    host = tables.Column(verbose_name="Host", empty_values=(), orderable=False)
    cloud_network = tables.Column(verbose_name="VPC / VNet")
    region = tables.Column()
    public_ip = tables.Column(verbose_name="Public IP")
    seen_at = WhenColumn(verbose_name="Last seen")

    class Meta:
        model = CloudInstance
        fields = (
            "name",
            "cloud_id",
            "state",
            "host",
            "cloud_network",
            "region",
            "public_ip",
            "seen_at",
        )
        empty_text = "No instances read yet."
        orderable = False

    def render_name(self, value):
        return value or EMPTY

    def render_state(self, record):
        if record.gone_at:
            return format_html(
                '<span class="badge run-error">{}</span> <span class="muted">since {}</span>',
                record.state or "gone",
                local_date(record.gone_at),
            )
        return record.state or EMPTY

    def render_host(self, record):
        if record.host is None:
            return format_html(
                '<span class="muted">none{}</span>',
                f" ({record.private_ip})" if record.private_ip else "",
            )
        return format_html(
            '<a href="{}" hx-boost="false">{}</a> <span class="muted">in {}</span>',
            record.host.get_absolute_url(),
            record.host.ip,
            record.host.network.name,
        )

    def render_cloud_network(self, value):
        # An Azure VNet id is long: its name is its last part.
        return format_html('<span title="{}">{}</span>', value, value.rsplit("/", 1)[-1])
