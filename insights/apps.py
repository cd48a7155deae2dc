from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """The landing page: dashboard, trend history per network, global search."""

    name = "insights"

    def ready(self) -> None:
        from scans.signals import scan_finished

        scan_finished.connect(_snapshot_after_scan, dispatch_uid="insights.snapshot_after_scan")


def _snapshot_after_scan(sender, network_id: int, **kwargs) -> None:
    """A scan ended: today's figures of its network are taken again (in Celery)."""
    from console.queueing import enqueue

    from .tasks import trends_snapshot

    enqueue(lambda: trends_snapshot.delay(network_id=network_id), what="trend snapshot")
