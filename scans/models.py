from django.db import models
from django.utils import timezone

from assets.models import Host
from networks.models import Network


class Severity(models.IntegerChoices):
    MINIMAL = 1, "1 - Minimal"
    MEDIUM = 2, "2 - Medium"
    SERIOUS = 3, "3 - Serious"
    CRITICAL = 4, "4 - Critical"
    URGENT = 5, "5 - Urgent"


class VulnerabilityKind(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    POTENTIAL = "potential", "Potential"
    INFO = "info", "Information gathered"


class Vulnerability(models.Model):
    """A KnowledgeBase entry, identified by its QID. Ships with the code (scans/kb)."""

    qid = models.PositiveIntegerField(primary_key=True)
    title = models.CharField(max_length=255)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    kind = models.CharField(
        max_length=16, choices=VulnerabilityKind.choices, default=VulnerabilityKind.CONFIRMED
    )
    category = models.CharField(max_length=64)
    cvss = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cves = models.JSONField(default=list, blank=True)
    diagnosis = models.TextField()
    consequence = models.TextField(blank=True)
    solution = models.TextField(blank=True)

    class Meta:
        ordering = ["qid"]
        verbose_name = "KnowledgeBase entry"
        verbose_name_plural = "KnowledgeBase"
        indexes = [models.Index(fields=["severity"])]

    def __str__(self) -> str:
        return f"{self.qid} {self.title}"


class DetectionStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    FIXED = "fixed", "Fixed"
    REOPENED = "reopened", "Re-Opened"


OPEN_STATUSES = (DetectionStatus.NEW, DetectionStatus.ACTIVE, DetectionStatus.REOPENED)


class Detection(models.Model):
    """One vulnerability (QID) on one host, so in one network, on one port."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="detections")
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="detections")
    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.PROTECT, db_column="qid", related_name="detections"
    )
    # Port 0 and protocol "" for findings that are not about one port.
    port = models.PositiveIntegerField(default=0)
    protocol = models.CharField(max_length=8, blank=True, default="")
    # Copied from the KB so lists filter and sort by severity without a join.
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(
        max_length=16, choices=DetectionStatus.choices, default=DetectionStatus.NEW
    )
    first_found = models.DateTimeField(default=timezone.now)
    last_found = models.DateTimeField(default=timezone.now)
    times_found = models.PositiveIntegerField(default=1)
    fixed_at = models.DateTimeField(null=True, blank=True)
    # The evidence the check saw: banner, certificate dates, missing headers, ...
    results = models.TextField(blank=True)

    class Meta:
        ordering = ["host", "-severity", "vulnerability"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "vulnerability", "port", "protocol"], name="detection_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["network", "status", "severity"]),
            models.Index(fields=["vulnerability", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} on {self.host}"

    @property
    def qid(self) -> int:
        return self.vulnerability_id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
