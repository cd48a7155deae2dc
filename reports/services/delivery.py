"""Sending a scheduled report's file to its recipients by e-mail (Django's
e-mail backend: SMTP in production, whatever ``EMAIL_*`` settings say).

Who can open a delivered report: the file is attached (up to
``ENCLAVE_REPORT_MAIL_MAX_BYTES``; bigger files, and schedules that ask for it,
are linked), and the report is shared with the recipients it went to, so the
link in the message works for them too (they may open and download it; only
its owner and Managers may delete it). A link to a report a recipient could
not open would be no delivery at all, and the attachment already gives them
the same file.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from ..models import Report, ReportDelivery, ReportSchedule, ReportStatus

logger = logging.getLogger(__name__)


def _mail_max_bytes() -> int:
    return int(getattr(settings, "ENCLAVE_REPORT_MAIL_MAX_BYTES", 10 * 2**20))


def _report_url(report: Report) -> str:
    base = getattr(settings, "ENCLAVE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + report.get_absolute_url()


def _record(schedule: ReportSchedule, error: str) -> None:
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_error=error)
    schedule.last_error = error


def _message_body(report: Report, *, attached: bool, why_link: str) -> str:
    lines = [
        f"{report.title}",
        "",
        f"{report.findings_count} findings on {report.hosts_count} hosts "
        f"({report.get_format_display()}, {filesizeformat(report.size)}).",
        "",
    ]
    if attached:
        lines.append("The report is attached.")
    else:
        lines.append(f"The report is not attached{why_link}; open it here:")
    lines += [_report_url(report), "", f"Report schedule: {report.schedule.title}"]
    return "\n".join(lines) + "\n"


def report_deliver(*, report: Report) -> bool:
    """E-mails a scheduled report once it is made (once: ``delivered_at``), one
    message per recipient. Returns whether messages went out.

    A report that failed is not sent; the schedule's ``last_error`` says why. So
    does a refused SMTP server, a recipient without an address (left out, the
    others still get it) or no recipient at all; the report stays on its page.
    """
    schedule = report.schedule
    if schedule is None or report.delivered_at is not None:
        return False
    when = timezone.localtime(report.created_at).strftime("%Y-%m-%d %H:%M")
    if report.status == ReportStatus.ERROR:
        _record(schedule, f"The report of {when} failed: {report.error}")
        return False
    if report.status != ReportStatus.FINISHED:
        return False
    recipients = list(schedule.recipients.filter(is_active=True).order_by("username"))
    missing = [u.get_username() for u in recipients if not u.email]
    recipients = [u for u in recipients if u.email]
    if not recipients:
        _record(
            schedule,
            f"The report of {when} was made but sent to nobody: "
            "no recipient with an e-mail address.",
        )
        return False
    attach = schedule.delivery == ReportDelivery.ATTACH and report.size <= _mail_max_bytes()
    why_link = ""
    if schedule.delivery == ReportDelivery.ATTACH and not attach:
        limit = filesizeformat(_mail_max_bytes())
        why_link = f" (it is {filesizeformat(report.size)}, over the {limit} limit)"
    body = _message_body(report, attached=attach, why_link=why_link)
    try:
        content = None
        if attach:
            with report.file.open("rb") as file:
                content = file.read()
        messages = []
        for user in recipients:
            message = EmailMessage(subject=f"[Enclave] {report.title}", body=body, to=[user.email])
            if attach:
                message.attach(report.download_filename, content, report.content_type.split(";")[0])
            messages.append(message)
        with get_connection() as connection:
            connection.send_messages(messages)
    except (smtplib.SMTPException, OSError) as error:  # refused, down, file gone
        logger.warning("Report %s: e-mail not sent: %s", report.pk, error)
        _record(schedule, f"The report of {when} was made but not e-mailed: {error}")
        return False
    except Exception as error:  # e.g. broken EMAIL_* settings: said on the schedule, too
        logger.exception("Report %s: e-mail not sent", report.pk)
        _record(
            schedule,
            f"The report of {when} was made but not e-mailed: {type(error).__name__}: {error}",
        )
        return False
    with transaction.atomic():
        report.shared_with.add(*recipients)
        Report.objects.filter(pk=report.pk).update(delivered_at=timezone.now())
    error = f"Not sent to {', '.join(missing)}: no e-mail address." if missing else ""
    _record(schedule, error)
    return True
