"""Scheduled reports: a schedule runs when due, computes its next run, makes its
report and e-mails it (to a real SMTP server started by the test) attached or
linked; every failure lands on the schedule's ``last_error``, never a crash."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from reports import services, tasks
from reports.models import Report, ReportSchedule, ReportStatus, ReportTemplate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    owner = UserFactory(username="owner", role=Role.READER, email="owner@example.com")
    ann = UserFactory(username="ann", role=Role.SCANNER, email="ann@example.com")
    bob = UserFactory(username="bob", role=Role.READER, email="bob@example.com")
    return {"owner": owner, "ann": ann, "bob": bob}


def schedule_for(people, twin_networks, **kwargs):
    """A weekly CSV of 10.0.0.5 in every network (quick to make), first run a week ago."""
    fields = {
        "actor": people["owner"],
        "title": "Weekly twins",
        "template": ReportTemplate.objects.get(is_builtin=True, sort="host"),
        "recurrence": "weekly",
        "start": (timezone.now() - timedelta(days=7)).replace(hour=6, minute=0),
        "format": "csv",
        "targets": "10.0.0.5",
        "network": "all",
        "recipients": [people["ann"], people["bob"]],
    }
    fields.update(kwargs)
    return services.report_schedule_create(**fields)


def run_due(now, django_capture_on_commit_callbacks):
    """The beat task's service, then the queued reports made as the worker makes them."""
    with django_capture_on_commit_callbacks() as queued:
        count = services.report_schedules_run_due(now=now)
    for report in Report.objects.filter(status=ReportStatus.QUEUED):
        tasks.report_generate(report.pk)
    return count, len(queued)


def test_beat_runs_the_task_every_minute():
    entry = next(
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == tasks.report_schedules_run_due.name
    )
    assert entry["schedule"] == 60.0
    assert tasks.report_schedules_run_due.name == "reports.tasks.report_schedules_run_due"


def test_a_due_schedule_runs_computes_its_next_run_and_mails_the_pdf_attached(
    twin_networks,
    people,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    schedule = schedule_for(people, twin_networks, format="pdf")
    first = schedule.next_run
    # The start has passed: the first run is the next one on its calendar, in the future.
    assert first > timezone.now() and timezone.localtime(first).weekday() == (
        timezone.localtime(schedule.start).weekday()
    )
    # Not due a minute before.
    assert run_due(first - timedelta(minutes=1), django_capture_on_commit_callbacks) == (0, 0)
    assert run_due(first, django_capture_on_commit_callbacks) == (1, 1)

    schedule.refresh_from_db()
    assert schedule.last_run == first and schedule.next_run == first + timedelta(days=7)
    assert schedule.last_error == ""
    report = schedule.last_report
    report.refresh_from_db()
    assert report.status == ReportStatus.FINISHED and report.owner == people["owner"]
    assert report.title.startswith("Weekly twins ")
    # "New" and "fixed" on its cover count from a week before this run.
    assert report.period_start == first - timedelta(days=7)

    assert sorted(r for rs in smtp_server.recipients for r in rs) == [
        "ann@example.com",
        "bob@example.com",
    ]
    message = smtp_server.messages[0]
    assert message["Subject"] == f"[Enclave] {report.title}"
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_filename() == report.download_filename
    with report.file.open("rb") as f:
        assert attachments[0].get_content() == f.read()
    assert "The report is attached." in message.get_body(("plain",)).get_content()
    # Recipients may open what they were sent; sent once, whatever redelivers the task.
    assert set(report.shared_with.all()) == {people["ann"], people["bob"]}
    assert report.delivered_at is not None
    tasks.report_generate(report.pk)
    assert len(smtp_server.messages) == 2


def test_a_report_over_the_mail_limit_is_linked_and_the_link_opens(
    twin_networks,
    people,
    smtp_server,
    settings,
    client,
    django_capture_on_commit_callbacks,
):
    settings.ENCLAVE_REPORT_MAIL_MAX_BYTES = 200
    settings.ENCLAVE_BASE_URL = "https://enclave.example.com"
    schedule = schedule_for(people, twin_networks, recipients=[people["bob"]])
    run_due(schedule.next_run, django_capture_on_commit_callbacks)
    schedule.refresh_from_db()
    report = schedule.last_report
    assert report.size > 200
    (message,) = smtp_server.messages
    assert list(message.iter_attachments()) == []
    body = message.get_body(("plain",)).get_content()
    link = f"https://enclave.example.com{report.get_absolute_url()}"
    assert link in body and "over the" in body
    # Bob, a Reader who does not own it, opens the link and downloads the file.
    client.force_login(people["bob"])
    assert client.get(report.get_absolute_url()).status_code == 200
    download = client.get(reverse("reports:report_download", args=[report.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"Network,IP,")


def test_a_schedule_that_asks_for_links_gets_no_attachment(
    twin_networks,
    people,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    schedule = schedule_for(people, twin_networks, delivery="link", format="html")
    run_due(schedule.next_run, django_capture_on_commit_callbacks)
    assert len(smtp_server.messages) == 2
    for message in smtp_server.messages:
        assert list(message.iter_attachments()) == []
        assert "open it here" in message.get_body(("plain",)).get_content()


def test_smtp_down_is_recorded_and_the_report_stays(
    twin_networks,
    people,
    smtp_down,
    django_capture_on_commit_callbacks,
):
    schedule = schedule_for(people, twin_networks)
    first = schedule.next_run
    assert run_due(first, django_capture_on_commit_callbacks) == (1, 1)
    schedule.refresh_from_db()
    assert "was made but not e-mailed" in schedule.last_error
    assert "Connection refused" in schedule.last_error or "Errno" in schedule.last_error
    assert schedule.next_run == first + timedelta(days=7)
    report = schedule.last_report
    report.refresh_from_db()
    assert report.status == ReportStatus.FINISHED and report.delivered_at is None


def test_a_failed_report_is_recorded_on_the_schedule(
    twin_networks,
    people,
    smtp_server,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from reports.renderers import csv_report

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(csv_report, "render", broken)
    schedule = schedule_for(people, twin_networks)
    run_due(schedule.next_run, django_capture_on_commit_callbacks)
    schedule.refresh_from_db()
    assert "failed" in schedule.last_error and "disk full" in schedule.last_error
    assert smtp_server.messages == []


def test_a_target_gone_or_an_owner_gone_is_recorded_and_the_calendar_goes_on(
    twin_networks,
    people,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    t = twin_networks
    by_tag = schedule_for(people, twin_networks, targets="", tags=[t["tag"]], title="By tag")
    t["tag"].delete()  # its only target is gone
    owner_gone = schedule_for(people, twin_networks, title="Owner gone", actor=people["ann"])
    people["ann"].is_active = False
    people["ann"].save()
    healthy = schedule_for(people, twin_networks, title="Healthy", recipients=[people["bob"]])
    now = max(s.next_run for s in (by_tag, owner_gone, healthy))
    count, queued = run_due(now, django_capture_on_commit_callbacks)
    assert (count, queued) == (1, 1)
    for schedule in (by_tag, owner_gone, healthy):
        schedule.refresh_from_db()
        assert schedule.next_run > now
    assert by_tag.last_error.startswith("The report was refused: Choose at least one target")
    assert by_tag.last_report is None
    assert "'ann' is deactivated" in owner_gone.last_error and owner_gone.last_report is None
    assert healthy.last_error == "" and healthy.last_report is not None


def test_an_unexpected_error_is_recorded_never_raised(
    twin_networks, people, monkeypatch, django_capture_on_commit_callbacks
):
    from reports.services import schedules

    schedule = schedule_for(people, twin_networks)

    def explode(**kwargs):
        raise RuntimeError("broker unreachable")

    monkeypatch.setattr(schedules, "report_create", explode)
    assert tasks.report_schedules_run_due() is None  # the task itself: nothing due now
    assert run_due(schedule.next_run, django_capture_on_commit_callbacks) == (0, 0)
    schedule.refresh_from_db()
    assert schedule.last_error == "The report could not be queued: broker unreachable"
    assert schedule.next_run > schedule.start


def test_paused_schedules_do_not_run(twin_networks, people, django_capture_on_commit_callbacks):
    schedule = schedule_for(people, twin_networks, active=False)
    assert run_due(schedule.next_run, django_capture_on_commit_callbacks) == (0, 0)


@pytest.mark.parametrize(
    ("recurrence", "start", "now", "expected"),
    [
        # Daily at 06:00: the next 06:00 after now.
        ("daily", (2026, 3, 1, 6, 0), (2026, 3, 10, 7, 0), (2026, 3, 11, 6, 0)),
        # Weekly on a Sunday: the next Sunday.
        ("weekly", (2026, 3, 1, 6, 0), (2026, 3, 10, 7, 0), (2026, 3, 15, 6, 0)),
        # Monthly on the 31st: the last day of a shorter month.
        ("monthly", (2026, 1, 31, 6, 0), (2026, 2, 2, 0, 0), (2026, 2, 28, 6, 0)),
    ],
)
def test_next_run_follows_the_calendar(people, twin_networks, recurrence, start, now, expected):
    def utc(parts):
        return datetime(*parts, tzinfo=UTC)

    with timezone.override("UTC"):
        schedule = schedule_for(people, twin_networks, recurrence=recurrence, start=utc(start))
        ReportSchedule.objects.filter(pk=schedule.pk).update(
            next_run=utc(now) - timedelta(minutes=1)
        )
        services.report_schedules_run_due(now=utc(now))
    schedule.refresh_from_db()
    assert schedule.next_run == utc(expected)


def test_schedules_refuse_bad_values_naming_each(twin_networks, people):
    nobody = UserFactory(username="no-mail", role=Role.READER, email="")
    with pytest.raises(ValidationError) as error:
        schedule_for(
            people,
            twin_networks,
            title=" ",
            recurrence="hourly",
            targets="10.0.0.300",
            format="docx",
            recipients=[nobody],
            delivery="fax",
        )
    assert error.value.message_dict == {
        "title": ["A report schedule needs a title."],
        "recurrence": ["'hourly' is not a recurrence (daily, weekly, monthly)."],
        "targets": ["'10.0.0.300' is not an IP address"],
        "format": ["'docx' is not a report format; use pdf, csv or html."],
        "recipients": ["no-mail has no e-mail address."],
        "delivery": ["'fax' is not a delivery; use attach or link."],
    }
    assert not ReportSchedule.objects.exists()


def test_a_report_file_gone_before_sending_is_recorded(
    twin_networks, people, smtp_server, django_capture_on_commit_callbacks
):
    schedule = schedule_for(people, twin_networks)
    with django_capture_on_commit_callbacks():
        services.report_schedules_run_due(now=schedule.next_run)
    schedule.refresh_from_db()
    report = services.report_generate(report=schedule.last_report)
    report.file.storage.delete(report.file.name)
    tasks.report_generate(report.pk)  # made already: only the delivery runs
    schedule.refresh_from_db()
    assert "was made but not e-mailed" in schedule.last_error
    assert smtp_server.messages == []


def test_broken_mail_settings_are_recorded(
    twin_networks, people, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", "not-a-port"
    schedule = schedule_for(people, twin_networks)
    run_due(schedule.next_run, django_capture_on_commit_callbacks)
    schedule.refresh_from_db()
    assert schedule.last_error.startswith("The report of ")
    assert "was made but not e-mailed" in schedule.last_error


def test_a_report_the_broker_would_not_take_says_so_on_its_schedule(
    people, twin_networks, django_capture_on_commit_callbacks
):
    from tests.brokers import celery_broker

    schedule = schedule_for(people, twin_networks)
    with (
        celery_broker("redis://127.0.0.1:1/0"),  # nothing listens: refused at once
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.report_schedules_run_due(now=schedule.next_run) == 1
    schedule.refresh_from_db()
    report = schedule.last_report
    assert report.status == ReportStatus.ERROR and "could not be reached" in report.error
    assert "failed: The task queue (broker) could not be reached" in schedule.last_error
