from django.db import models

from networks.models import Network


class NetworkTrend(models.Model):
    """One network's figures for one day: one row per network per day.

    Written by the daily snapshot (Celery beat) and again whenever a scan of
    the network ends, so today's row follows the day; days before the
    history began can be back-filled from detection dates (``trends_backfill``).
    """

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="trends")
    date = models.DateField()
    hosts = models.PositiveIntegerField(default=0)
    # Open findings (New, Active, Re-Opened) by severity {"1": n, ..., "5": n}
    # and by status {"new": n, "active": n, "reopened": n}, at the snapshot.
    open_by_severity = models.JSONField(default=dict)
    open_by_status = models.JSONField(default=dict)
    # Detections first found / fixed that day.
    new = models.PositiveIntegerField(default=0)
    fixed = models.PositiveIntegerField(default=0)
    # Of the detections fixed that day: mean days from first found to fixed,
    # by severity {"5": 2.5, ...}; a severity with nothing fixed is absent.
    mttr_days_by_severity = models.JSONField(default=dict)
    # True for rows rebuilt from detection dates rather than taken on the day.
    backfilled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["network", "date"]
        constraints = [
            models.UniqueConstraint(fields=["network", "date"], name="trend_once_a_day"),
        ]
        indexes = [models.Index(fields=["date", "network"])]

    def __str__(self) -> str:
        return f"{self.network_id} {self.date}"

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())


class Exposure(models.Model):
    """Stored at each snapshot so no page counts detections per view: how
    many hosts of a network have a QID open, and how many such findings."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    qid = models.PositiveIntegerField()
    severity = models.PositiveSmallIntegerField()
    hosts = models.PositiveIntegerField()
    detections = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "qid"], name="exposure_once_per_qid"),
        ]
        indexes = [models.Index(fields=["qid"])]

    def __str__(self) -> str:
        return f"QID {self.qid} on {self.hosts} host(s) of network {self.network_id}"


class HostExposure(models.Model):
    """The most vulnerable hosts of a network at the last snapshot (the top
    ones only): their open findings by severity, worst first."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    host = models.ForeignKey("assets.Host", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    open_by_severity = models.JSONField(default=dict)
    open_total = models.PositiveIntegerField()

    class Meta:
        ordering = ["network", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["network", "rank"], name="host_exposure_rank_once"),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} of network {self.network_id}: host {self.host_id}"

    @property
    def severity_counts(self) -> list[tuple[int, int]]:
        """(severity, open findings) of the severities it has, worst first."""
        counts = [(s, int(self.open_by_severity.get(str(s), 0))) for s in (5, 4, 3, 2, 1)]
        return [(s, n) for s, n in counts if n]
