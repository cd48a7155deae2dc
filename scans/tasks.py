"""Celery tasks: thin wrappers around scans.services.

``run_slice`` runs on an appliance (queue ``appliance.<name>``) and must not
touch the database: it gets the whole SliceSpec, not an id, and sends the
SliceResult back to the "ingest" queue. The others run centrally.
"""

import logging
import time

from celery import shared_task
from celery.worker import state as worker_state
from kombu.exceptions import OperationalError

from core.results import SliceResult, SliceSpec

logger = logging.getLogger(__name__)


def _send_result(result: SliceResult) -> None:
    """Sends a slice's result to ingest (routed to "ingest" by CELERY_TASK_ROUTES).

    The result is all the slice's work: with the broker away when it is ready,
    the appliance keeps trying until the broker is back. Celery gives up within
    seconds (kombu's publish retries do not cover reconnecting the channel,
    which raises ``OperationalError``), and the result was lost with the task.
    """
    payload, wait = result.to_dict(), 0.5
    while True:
        try:
            ingest_slice.delay(payload)
            return
        except OperationalError as error:
            logger.warning(
                "Result of slice %s not sent (%s); trying again in %ss",
                result.slice_id,
                error,
                wait,
            )
            time.sleep(wait)
            wait = min(2 * wait, 5.0)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_slice(self, spec: dict) -> None:
    """Scans one slice on this appliance and sends what it found to ingest."""
    from scans.appliance import STATE, ProgressReporter
    from scans.engine.runner import run_slice as engine_run_slice

    slice_spec = SliceSpec.from_dict(spec)
    task_id = self.request.id

    def should_cancel() -> bool:
        # Cancel and failover revoke the task id; the worker keeps the set.
        return task_id in worker_state.revoked

    if should_cancel():
        return
    with STATE.slice_running(task_id) as fresh:
        if not fresh:
            logger.warning(
                "Slice %s delivered again (task %s), after this appliance took it: dropped",
                slice_spec.slice_id,
                task_id,
            )
            return
        progress = ProgressReporter(scan_id=slice_spec.scan_id, slice_id=slice_spec.slice_id)
        try:
            result = engine_run_slice(
                slice_spec, appliance=STATE.name, progress=progress, should_cancel=should_cancel
            )
        finally:
            progress.close()
        if should_cancel():
            logger.info("Slice %s canceled; result dropped", slice_spec.slice_id)
            return
        _send_result(result)  # before the "idle" heartbeat: ingest sees the result first


@shared_task(acks_late=True, ignore_result=True)
def ingest_slice(result: dict) -> None:
    """Records a slice's result; a repeated delivery changes nothing. The
    appliance has room for another slice then: the next waiting ones go out."""
    from scans import services

    services.slice_result_record(result=SliceResult.from_dict(result))


@shared_task(acks_late=True, ignore_result=True)
def slice_progress(
    slice_id: int,
    appliance: str,
    done: int,
    total: int = 0,
    phase: str = "",
    percent: int | None = None,
    **newer,
) -> None:
    """An appliance's report on a running slice (an older appliance sends no
    phase or percent; what a newer one adds is ignored)."""
    from scans import services

    services.slice_progress_record(
        slice_id=slice_id,
        appliance=appliance,
        done=done,
        total=total,
        phase=phase,
        percent=percent,
    )


@shared_task(acks_late=True, ignore_result=True)
def slices_reassign() -> None:
    """Periodic (beat): waiting slices to online appliances; failover."""
    from scans import services

    services.slices_reassign()


@shared_task(acks_late=True, ignore_result=True)
def schedules_run_due() -> None:
    """Periodic (beat): launches the scans of schedules that are due."""
    from scans import services

    services.schedules_run_due()


@shared_task(acks_late=True, ignore_result=True)
def import_run(scan_id: int) -> None:
    """Imports an uploaded result file; a redelivery resumes after what was written."""
    from scans.services.imports import import_run as run

    run(scan_id=scan_id)


@shared_task(acks_late=True, ignore_result=True)
def feed_import_run(feed_id: int) -> None:
    """Imports an uploaded feed file; a redelivery resumes after what was written."""
    from scans.services.feeds import feed_import_run as run

    run(feed_id=feed_id)


@shared_task(acks_late=True, ignore_result=True)
def feed_evaluate(scan_id: int) -> None:
    """Matches one network's stored inventory against the feeds' knowledge."""
    from scans.services.evaluation import feed_evaluate as run

    run(scan_id=scan_id)
