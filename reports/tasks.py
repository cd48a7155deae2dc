from celery import shared_task

from . import services
from .models import Report, ReportStatus


@shared_task(ignore_result=True, acks_late=True)
def report_generate(report_id: int) -> None:
    """Makes a report's file, then e-mails it if a schedule made it. Safe to run
    twice: a finished report is not made again (and is sent only if it was not)."""
    report = Report.objects.select_related("schedule").filter(pk=report_id).first()
    if report is None:
        return
    if report.status != ReportStatus.FINISHED:
        report = services.report_generate(report=report)
    if report.schedule_id is not None:
        services.report_deliver(report=report)


@shared_task(acks_late=True, ignore_result=True)
def report_schedules_run_due() -> None:
    """Periodic (beat): queues the reports of report schedules that are due."""
    services.report_schedules_run_due()
