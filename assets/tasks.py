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


@shared_task(name="assets.tasks.connector_run", acks_late=True, ignore_result=True)
def connector_run(run_id: int) -> None:
    """Reads a connector's cloud into hosts (central queue). A finished run is
    left alone; one cut off midway is read again (the writes are one transaction)."""
    from .connector_services import connector_run_execute
    from .models import ConnectorRun

    run = ConnectorRun.objects.filter(pk=run_id).first()
    if run is None or run.is_done:
        return
    connector_run_execute(run=run)


@shared_task(name="assets.tasks.connectors_run_due", acks_late=True, ignore_result=True)
def connectors_run_due() -> int:
    """Periodic (beat): starts the runs of scheduled connectors that are due."""
    from .connector_services import connectors_run_due as run_due

    return run_due()
