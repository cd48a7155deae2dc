"""Thin Celery wrappers around assets.services."""

from celery import shared_task

from . import services


@shared_task(name="assets.tasks.refresh_overlaps")
def refresh_overlaps() -> int:
    """Recounts the hosts in both networks of every overlapping pair (idempotent)."""
    return services.overlaps_refresh()
