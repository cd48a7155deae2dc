from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from assets.models import AssetGroup, Tag
from networks.models import Network
from scans.models import OPEN_STATUSES, DetectionStatus, Recurrence, Severity, VulnerabilityKind


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
    """What a report keeps of the findings and how it prints them: sort order,
    the three filters and the options.

    Information-gathered findings are the ``info`` kind and fixed findings the
    ``fixed`` status: the filters include or omit them, one place for each rule.
    """

    sort = models.CharField(max_length=16, choices=ReportSort.choices, default=ReportSort.HOST)
    # Lists of Severity values (1-5), DetectionStatus values and VulnerabilityKind values.
    severities = models.JSONField(default=_default_severities)
    statuses = models.JSONField(default=_default_statuses)
    kinds = models.JSONField(default=_default_kinds)
    # The evidence (results) each check saw, beside every finding.
    include_evidence = models.BooleanField(default=True)
    # Threat, impact, solution, CVEs and CVSS, once per QID.
    include_details = models.BooleanField(default=True)
    # Networks first (each network's hosts or vulnerabilities together), then the sort.
    group_by_network = models.BooleanField(default=False)

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

    def options_display(self) -> str:
        return (
            ", ".join(
                label
                for label, on in (
                    ("evidence", self.include_evidence),
                    ("vulnerability details", self.include_details),
                    ("grouped by network", self.group_by_network),
                )
                if on
            )
            or "none"
        )


class ReportTarget(models.Model):
    """What a report covers: any mix of asset groups (of any networks), IPs/ranges
    with a network choice (``target_network`` null means every network; it
    narrows the IP/range part only) and tags."""

    asset_groups = models.ManyToManyField(AssetGroup, blank=True, related_name="+")
    # Normalised text of the IP/range target (core.iprange.format_ranges).
    targets = models.TextField(blank=True)
    target_network = models.ForeignKey(
        Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")

    class Meta:
        abstract = True


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


class ReportRecurrence(models.TextChoices):
    # The scan schedules' calendar (scans.services.schedules.next_run_after), without "once".
    DAILY = Recurrence.DAILY.value, Recurrence.DAILY.label
    WEEKLY = Recurrence.WEEKLY.value, Recurrence.WEEKLY.label
    MONTHLY = Recurrence.MONTHLY.value, Recurrence.MONTHLY.label


class ReportDelivery(models.TextChoices):
    ATTACH = "attach", "Attach the file"
    LINK = "link", "Link to the report"


class ReportSchedule(ReportTarget):
    """A template run over a target daily, weekly or monthly, and e-mailed.

    Runs fall on the calendar from ``start`` like scan schedules. Each run makes
    a Report owned by ``owner``; once it is finished it goes to ``recipients``,
    attached or linked (a file over ``ENCLAVE_REPORT_MAIL_MAX_BYTES`` is always
    linked). ``last_error`` says why the last run made or sent nothing.
    """

    title = models.CharField(max_length=200)
    template = models.ForeignKey(ReportTemplate, on_delete=models.PROTECT, related_name="schedules")
    format = models.CharField(max_length=8, choices=ReportFormat.choices, default=ReportFormat.PDF)
    recurrence = models.CharField(max_length=16, choices=ReportRecurrence.choices)
    start = models.DateTimeField()
    next_run = models.DateTimeField(null=True, blank=True, db_index=True)
    active = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_schedules"
    )
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="report_subscriptions"
    )
    delivery = models.CharField(
        max_length=8, choices=ReportDelivery.choices, default=ReportDelivery.ATTACH
    )
    last_run = models.DateTimeField(null=True, blank=True)
    last_report = models.ForeignKey(
        "Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [models.F("next_run").asc(nulls_last=True), "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recurrence__in=ReportRecurrence.values),
                name="report_schedule_recurrence_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reports:schedule_detail", args=[self.pk])


class Report(ReportFilters, ReportTarget):
    """One run of a report over a target; the file it produced lives under MEDIA_ROOT.

    The filters and options are copied from the template, so editing a template
    never changes a report already made. A report made by a schedule is shared
    with the recipients it was delivered to (``shared_with``): they may open and
    download it, as its owner and Managers may.
    """

    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports"
    )
    template = models.ForeignKey(
        ReportTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    format = models.CharField(max_length=8, choices=ReportFormat.choices, default=ReportFormat.PDF)
    # "New" and "fixed" on the cover count from here; null: the 30 days before it is made.
    period_start = models.DateTimeField(null=True, blank=True)
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="reports_shared"
    )
    # When a scheduled report was e-mailed (sent once, whatever redelivers the task).
    delivered_at = models.DateTimeField(null=True, blank=True)

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
