"""Thin Celery wrappers around insights.services."""

from celery import shared_task

from networks.models import Network

from . import services


@shared_task(acks_late=True, ignore_result=True)
def trends_snapshot(network_id: int) -> None:
    """A scan of the network ended: take today's figures again."""
    network = Network.objects.filter(pk=network_id).first()
    if network is not None:
        services.trends_snapshot(network=network)


@shared_task(acks_late=True, ignore_result=True)
def trends_snapshot_all() -> None:
    """Periodic (beat): every network's figures for today."""
    services.trends_snapshot_all()
