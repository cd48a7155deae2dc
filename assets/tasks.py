"""Thin Celery wrappers around assets.services."""

from celery import shared_task

from networks.models import Network

from . import services


@shared_task(name="assets.tasks.refresh_overlaps")
def refresh_overlaps(network_id: int | None = None) -> int:
    """Recounts the hosts in both networks of overlapping pairs (idempotent).

    ``network_id``: only the pairs involving that network (after an ingest
    into it); a network deleted meanwhile means a full recount.
    """
    network = Network.objects.filter(pk=network_id).first() if network_id else None
    return services.overlaps_refresh(network=network)
