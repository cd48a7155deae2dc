import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html

from console.tables import WhenColumn
from console.times import when

from .models import Report, ReportSchedule, ReportTemplate


class ReportTable(tables.Table):
    title = tables.Column(linkify=True)
    owner = tables.Column(accessor="owner__username", verbose_name="Owner")
    status = tables.Column()
    size = tables.Column(verbose_name="Size")
    created_at = WhenColumn(verbose_name="Created")
    download = tables.Column(empty_values=(), orderable=False, verbose_name="")

    class Meta:
        empty_text = "No reports yet."
        model = Report
        fields = ("title", "format", "sort", "owner", "status", "size", "created_at", "download")
        order_by = ("-created_at",)

    def render_format(self, record):
        return record.get_format_display()

    def render_sort(self, record):
        return record.get_sort_display()

    def render_status(self, record):
        if record.is_done:
            return format_html(
                '<span class="badge report-{}">{}</span>',
                record.status,
                record.get_status_display(),
            )
        return format_html(
            '<span class="badge report-{}">{}</span> '
            '<progress max="100" value="{}">{}%</progress> {}%',
            record.status,
            record.get_status_display(),
            record.progress,
            record.progress,
            record.progress,
        )

    def render_size(self, value):
        return filesizeformat(value)

    def render_download(self, record):
        if not record.is_downloadable:
            return "—"
        return format_html(
            '<a href="{}" download>Download</a>',
            reverse("reports:report_download", args=[record.pk]),
        )


class ReportTemplateTable(tables.Table):
    title = tables.Column()
    sort = tables.Column()
    severities = tables.Column(accessor="severities_display", orderable=False)
    statuses = tables.Column(accessor="statuses_display", orderable=False)
    kinds = tables.Column(accessor="kinds_display", orderable=False, verbose_name="Types")
    run = tables.Column(empty_values=(), orderable=False, verbose_name="")
    edit = tables.Column(empty_values=(), orderable=False, verbose_name="")

    class Meta:
        empty_text = "No report templates."
        model = ReportTemplate
        fields = ("title", "sort", "severities", "statuses", "kinds", "run", "edit")

    def render_sort(self, record):
        return record.get_sort_display()

    def render_run(self, record):
        return format_html(
            '<a href="{}?template={}">Run report</a>', reverse("reports:report_create"), record.pk
        )

    def render_edit(self, record):
        return format_html('<a href="{}">Edit</a>', record.get_absolute_url())


class ReportScheduleTable(tables.Table):
    title = tables.Column(linkify=True)
    template = tables.Column()
    owner = tables.Column(accessor="owner__username", verbose_name="Owner")
    next_run = WhenColumn(verbose_name="Next run")
    last_run = WhenColumn(verbose_name="Last run")
    last_error = tables.Column(verbose_name="Last error", orderable=False)

    class Meta:
        empty_text = "No report schedules yet."
        model = ReportSchedule
        fields = ("title", "template", "format", "recurrence", "owner", "next_run", "last_run")
        sequence = (*fields, "last_error")
        order_by = ("next_run",)

    def render_format(self, record):
        return record.get_format_display()

    def render_recurrence(self, record):
        return record.get_recurrence_display()

    def render_next_run(self, record, value):
        if not record.active:
            return "— (paused)"
        return when(value)

    def render_last_error(self, value):
        return format_html('<span class="errors">{}</span>', value) if value else "—"
