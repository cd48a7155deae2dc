"""The report-schedules/ API (API.md): every role schedules its own reports; the
owner or a Manager sees and changes a schedule, anyone else gets 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from reports.models import ReportSchedule, ReportTemplate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/report-schedules/"


@pytest.fixture
def body(twin_networks):
    t = twin_networks
    recipient = UserFactory(username="ann", role=Role.READER, email="ann@example.com")
    return {
        "title": "Weekly DMZ",
        "template": ReportTemplate.objects.get(is_builtin=True, sort="vulnerability").pk,
        "format": "csv",
        "asset_groups": [t["alpha_group"].pk],
        "targets": "10.0.0.5, 10.0.1.0/24",
        "network": t["beta"].pk,
        "tags": [t["tag"].pk],
        "recurrence": "weekly",
        "start": (timezone.now() + timedelta(days=2)).isoformat(),
        "recipients": [recipient.pk],
    }


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SCANNER, Role.READER])
def test_every_role_schedules_a_report(api_as, body, role):
    response = api_as(role).post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    got = response.json()
    assert got["owner"] == f"{role}-user"
    for field in ("title", "template", "format", "asset_groups", "network", "tags"):
        assert got[field] == body[field], field
    assert got["targets"] == "10.0.0.5, 10.0.1.0/24"
    assert got["recurrence"] == "weekly" and got["recipients"] == body["recipients"]
    assert got["next_run"] and got["last_error"] == "" and got["delivery"] == "attach"
    schedule = ReportSchedule.objects.get(pk=got["id"])
    assert schedule.next_run == schedule.start


def test_bad_values_are_400_naming_each(api_as, body):
    nobody = UserFactory(username="no-mail", role=Role.READER, email="")
    body.update(
        recurrence="hourly",
        targets="10.0.0.300",
        format="docx",
        recipients=[nobody.pk],
        network="lan",
    )
    response = api_as(Role.READER).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"network": ['Give a network id (a number) or "all".']}
    body["network"] = "all"
    response = api_as(Role.READER).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "targets": ["'10.0.0.300' is not an IP address"],
        "format": ["'docx' is not a report format; use pdf, csv or html."],
        "recurrence": ["'hourly' is not a recurrence (daily, weekly, monthly)."],
        "recipients": ["no-mail has no e-mail address."],
    }
    missing = api_as(Role.READER).post(URL, {"title": "x"}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()) == {"template", "recurrence", "start"}
    assert not ReportSchedule.objects.exists()


def test_owner_or_manager_only_others_get_404(api_as, body):
    owner = api_as(Role.READER)
    schedule_id = owner.post(URL, body, format="json").json()["id"]
    item = f"{URL}{schedule_id}/"
    scanner = api_as(Role.SCANNER)
    assert scanner.get(URL).json()["count"] == 0
    assert scanner.get(item).status_code == 404
    assert scanner.patch(item, {"title": "Mine"}, format="json").status_code == 404
    assert scanner.delete(item).status_code == 404
    assert owner.get(URL).json()["count"] == 1
    manager = api_as(Role.MANAGER)
    assert manager.get(URL).json()["count"] == 1
    changed = manager.patch(item, {"title": "Renamed by a Manager"}, format="json")
    assert changed.status_code == 200 and changed.json()["owner"] == "reader-user"
    assert manager.delete(item).status_code == 204
    assert not ReportSchedule.objects.exists()


def test_patch_changes_what_it_gives_and_recomputes_the_next_run(api_as, body):
    api = api_as(Role.READER)
    created = api.post(URL, body, format="json").json()
    start = timezone.now() - timedelta(days=3, hours=1)
    response = api.patch(
        f"{URL}{created['id']}/",
        {"recurrence": "daily", "start": start.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    got = response.json()
    for field in ("title", "template", "format", "asset_groups", "targets", "network", "tags"):
        assert got[field] == created[field], field
    assert got["recipients"] == created["recipients"] and got["recurrence"] == "daily"
    schedule = ReportSchedule.objects.get(pk=created["id"])
    # The start has passed: the next run is the next one on the daily calendar.
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)
    assert schedule.next_run.time().replace(second=0) == schedule.start.time()
    bad = api.patch(f"{URL}{created['id']}/", {"targets": "10.0.0.1-9.9.9.9"}, format="json")
    assert bad.status_code == 400 and "targets" in bad.json()
    assert ReportSchedule.objects.get(pk=created["id"]).targets == "10.0.0.5, 10.0.1.0/24"


def test_no_token_is_401(client):
    assert client.get(URL).status_code == 401
    assert client.post(URL, {}, content_type="application/json").status_code == 401
