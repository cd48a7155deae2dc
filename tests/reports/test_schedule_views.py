"""Report schedule pages: every role schedules its own reports through the form;
the owner or a Manager sees and edits a schedule; anyone else gets 404."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from reports.models import ReportSchedule, ReportTemplate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def form_data(twin_networks, **changes):
    data = {
        "title": "Weekly twins",
        "template": ReportTemplate.objects.get(is_builtin=True, sort="host").pk,
        "format": "pdf",
        "asset_groups": [twin_networks["alpha_group"].pk],
        "network": "all",
        "targets": "10.0.0.5",
        "recurrence": "weekly",
        "start": (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "delivery": "attach",
        "active": "on",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SCANNER, Role.READER])
def test_every_role_schedules_its_own_report_from_the_form(client_as, twin_networks, role):
    client = client_as(role)
    assert client.get(reverse("reports:schedule_create")).status_code == 200
    response = client.post(reverse("reports:schedule_create"), form_data(twin_networks))
    schedule = ReportSchedule.objects.get()
    assert response.status_code == 302 and response.url == schedule.get_absolute_url()
    assert schedule.owner.role == role and schedule.targets == "10.0.0.5"
    page = client.get(schedule.get_absolute_url()).content.decode()
    assert "Weekly twins" in page and "Alpha LAN (Alpha Corp)" in page


def test_the_form_names_bad_values_and_saves_nothing(client_as, twin_networks):
    nobody = UserFactory(username="no-mail", role=Role.READER, email="")
    response = client_as(Role.READER).post(
        reverse("reports:schedule_create"),
        form_data(twin_networks, targets="10.0.0.300", recipients=[nobody.pk]),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "&#x27;10.0.0.300&#x27; is not an IP address" in page
    assert "no-mail has no e-mail address." in page
    assert not ReportSchedule.objects.exists()


def test_owner_or_manager_sees_and_edits_others_get_404(client, twin_networks):
    owner = UserFactory(username="owner", role=Role.READER)
    client.force_login(owner)
    client.post(reverse("reports:schedule_create"), form_data(twin_networks), follow=True)
    schedule = ReportSchedule.objects.get()
    pages = [
        reverse(name, args=[schedule.pk])
        for name in (
            "reports:schedule_detail",
            "reports:schedule_update",
            "reports:schedule_delete",
        )
    ]
    other = UserFactory(username="other", role=Role.SCANNER)
    client.force_login(other)
    assert "Weekly twins" not in client.get(reverse("reports:schedule_list")).content.decode()
    for url in pages:
        assert client.get(url).status_code == 404, url
    assert client.post(pages[1], form_data(twin_networks, title="Taken")).status_code == 404
    assert client.post(pages[2]).status_code == 404
    manager = UserFactory(username="boss", role=Role.MANAGER)
    client.force_login(manager)
    assert "Weekly twins" in client.get(reverse("reports:schedule_list")).content.decode()
    for url in pages:
        assert client.get(url).status_code == 200, url
    response = client.post(pages[1], form_data(twin_networks, title="Renamed", recurrence="daily"))
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.title, schedule.recurrence, schedule.owner) == ("Renamed", "daily", owner)
    assert client.post(pages[2]).status_code == 302
    assert not ReportSchedule.objects.exists()


def test_the_last_error_shows_on_the_schedule_page(client_as, twin_networks):
    client = client_as(Role.READER)
    client.post(reverse("reports:schedule_create"), form_data(twin_networks))
    schedule = ReportSchedule.objects.get()
    ReportSchedule.objects.filter(pk=schedule.pk).update(
        last_error="The report of 2026-12-07 06:00 was made but not e-mailed: refused"
    )
    page = client.get(schedule.get_absolute_url()).content.decode()
    assert 'id="last-error"' in page and "was made but not e-mailed: refused" in page
