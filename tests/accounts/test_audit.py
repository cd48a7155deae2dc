"""The audit log: sign-ins (also failed ones and API tokens), report creation and
downloads are recorded; Managers filter it by who, what and when."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from reports.models import Report, ReportStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_sign_ins_and_failed_ones_are_recorded(client, api_client):
    alice = UserFactory(username="alice")
    client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong-one"})
    client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    api_client.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD})
    [failed] = entries(AuditEntry.Action.SIGN_IN_FAILED)
    assert (failed.actor_name, failed.actor) == ("alice", None)
    assert "wrong-one" not in str(failed.changes)  # never the password
    signed = entries(AuditEntry.Action.SIGN_IN)
    assert [e.actor for e in signed] == [alice, alice]  # the page, then the API token
    assert signed[0].changes["address"] == "127.0.0.1"


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def test_report_creation_and_download_are_recorded(client, reader):
    from reports.models import ReportTemplate
    from reports.services import report_create
    from tests.factories import NetworkFactory

    NetworkFactory(name="Acme", space="10.0.0.0/24")
    report = report_create(
        actor=reader,
        title="Weekly",
        format="csv",
        template=ReportTemplate.objects.first(),
        asset_groups=[],
        targets="10.0.0.0/24",
        network="all",
        tags=[],
    )
    [created] = [e for e in entries(AuditEntry.Action.CREATE) if e.object_type == "report"]
    assert created.actor == reader and created.object_id == str(report.pk)
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.FINISHED)
    report.refresh_from_db()
    report.file.save("r.csv", ContentFile(b"Network,IP\n"))
    client.force_login(reader)
    assert client.get(reverse("reports:report_download", args=[report.pk])).status_code == 200
    [download] = entries(AuditEntry.Action.DOWNLOAD)
    assert (download.actor, download.object_id) == (reader, str(report.pk))


def test_managers_filter_the_log_by_who_what_and_when(client_as):
    old = AuditEntry.objects.create(
        actor_name="bob", action="delete", object_type="network", object_id="1", object_repr="Old"
    )
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    AuditEntry.objects.create(
        actor_name="carol", action="create", object_type="tag", object_id="2", object_repr="dmz"
    )
    client = client_as("manager")
    url = reverse("accounts:audit_list")

    def shown(**query):
        html = client.get(url, query).content.decode()
        return {name for name in ("Old", "dmz") if f">{name}<" in html}

    assert shown() == {"Old", "dmz"}
    assert shown(who="BOB") == {"Old"}
    assert shown(action="create") == {"dmz"}
    assert shown(object_type="network") == {"Old"}
    assert shown(since=(timezone.localdate() - timedelta(days=1)).isoformat()) == {"dmz"}
    assert shown(until=(timezone.localdate() - timedelta(days=30)).isoformat()) == {"Old"}
    assert client.get(url, {"since": "not-a-date"}).status_code == 200


def test_the_log_shows_each_change_on_one_line_escaped(client_as):
    AuditEntry.objects.create(
        actor_name="dave",
        action="update",
        object_type="user",
        object_id="3",
        object_repr="erin",
        changes={"networks": ["all networks", "Globex <b>"], "role": "reader"},
    )
    page = client_as("manager").get(reverse("accounts:audit_list")).content.decode()
    assert (
        '<div class="change"><span class="muted">networks</span>'
        " [&quot;all networks&quot;, &quot;Globex &lt;b&gt;&quot;]</div>"
    ) in page
    assert '<div class="change"><span class="muted">role</span> reader</div>' in page
