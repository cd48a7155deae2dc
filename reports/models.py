from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from assets.models import AssetGroup, Tag
from networks.models import Network
from scans.models import OPEN_STATUSES, DetectionStatus, Severity, VulnerabilityKind


class ReportSort(models.TextChoices):
    HOST = "host", "By host"
    VULNERABILITY = "vulnerability", "By vulnerability"


class ReportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    CSV = "csv", "CSV"
    HTML = "html", "HTML"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    ERROR = "error", "Error"


ALL_SEVERITIES = [s.value for s in Severity]
ALL_STATUSES = [s.value for s in DetectionStatus]
# What a report shows unless told otherwise: the open findings.
DEFAULT_STATUSES = [s.value for s in OPEN_STATUSES]
ALL_KINDS = [k.value for k in VulnerabilityKind]


def _default_severities() -> list[int]:
    return list(ALL_SEVERITIES)


def _default_statuses() -> list[str]:
    return list(DEFAULT_STATUSES)


def _default_kinds() -> list[str]:
    return list(ALL_KINDS)


class ReportFilters(models.Model):
    """What a report keeps of the findings: sort order and the three filters."""

    sort = models.CharField(max_length=16, choices=ReportSort.choices, default=ReportSort.HOST)
    # Lists of Severity values (1-5), DetectionStatus values and VulnerabilityKind values.
    severities = models.JSONField(default=_default_severities)
    statuses = models.JSONField(default=_default_statuses)
    kinds = models.JSONField(default=_default_kinds)

    class Meta:
        abstract = True

    def severities_display(self) -> str:
        return ", ".join(str(s) for s in sorted(self.severities))

    def statuses_display(self) -> str:
        labels = dict(DetectionStatus.choices)
        return ", ".join(labels.get(s, s) for s in self.statuses)

    def kinds_display(self) -> str:
        labels = dict(VulnerabilityKind.choices)
        return ", ".join(labels.get(k, k) for k in self.kinds)


class ReportTemplate(ReportFilters):
    """A named, reusable choice of sort and filters. Managers and Scanners write them."""

    title = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    # The templates the product ships with (data migration); they cannot be deleted.
    is_builtin = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_builtin", Lower("title")]
        constraints = [
            models.UniqueConstraint(Lower("title"), name="report_template_title_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reports:template_update", args=[self.pk])


def report_upload_to(report: "Report", filename: str) -> str:
    return f"reports/{report.pk}/{filename}"


class Report(ReportFilters):
    """One run of a report over a target; the file it produced lives under MEDIA_ROOT.

    The target is any mix of asset groups (of any networks), IPs/ranges with a
    network choice (``target_network`` null means every network; it narrows the
    IP/range part only) and tags. The filters are copied from the template, so
    editing a template never changes a report already made.
    """

    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports"
    )
    template = models.ForeignKey(
        ReportTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    format = models.CharField(max_length=8, choices=ReportFormat.choices, default=ReportFormat.PDF)

    asset_groups = models.ManyToManyField(AssetGroup, blank=True, related_name="+")
    # Normalised text of the IP/range target (core.iprange.format_ranges).
    targets = models.TextField(blank=True)
    target_network = models.ForeignKey(
        Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")

    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=report_upload_to, blank=True, max_length=255)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    hosts_count = models.PositiveIntegerField(null=True, blank=True)
    findings_count = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="report_progress_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reports:report_detail", args=[self.pk])

    @property
    def is_done(self) -> bool:
        return self.status in (ReportStatus.FINISHED, ReportStatus.ERROR)

    @property
    def is_downloadable(self) -> bool:
        return self.status == ReportStatus.FINISHED and bool(self.file)

    @property
    def download_filename(self) -> str:
        from django.utils.text import slugify

        return f"{slugify(self.title) or 'report'}-{self.pk}.{self.format}"

    @property
    def content_type(self) -> str:
        return {
            ReportFormat.PDF: "application/pdf",
            ReportFormat.CSV: "text/csv; charset=utf-8",
            ReportFormat.HTML: "text/html; charset=utf-8",
        }[ReportFormat(self.format)]
