from celery import shared_task

from . import services
from .models import Report, ReportStatus


@shared_task(ignore_result=True, acks_late=True)
def report_generate(report_id: int) -> None:
    """Makes a report's file. Safe to run twice: a finished report is left alone,
    anything else is rendered again from scratch."""
    report = Report.objects.filter(pk=report_id).first()
    if report is None or report.status == ReportStatus.FINISHED:
        return
    services.report_generate(report=report)
