import pytest

from accounts.models import Role
from reports import services
from reports.models import Report, ReportStatus
from tests.factories import UserFactory

from .helpers import csv_from_bytes

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SCANNER, Role.READER])
def test_every_role_posts_a_report(api_as, role, twin_networks, django_capture_on_commit_callbacks):
    t = twin_networks
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(role).post(
            URL,
            {
                "title": "API report",
                "sort": "vulnerability",
                "format": "csv",
                "asset_groups": [t["alpha_group"].pk],
                "targets": "10.0.0.5",
                "network": t["beta"].pk,
                "tags": [t["tag"].pk],
                "severities": [5, 4, 3],
                "statuses": ["new", "active"],
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["progress"] == 0
    assert body["network"] == t["beta"].pk and body["download_url"] is None
    assert body["severities"] == [5, 4, 3] and body["statuses"] == ["new", "active"]
    assert set(body) >= {"id", "status", "progress", "size", "download_url"}
    assert len(callbacks) == 1


def test_post_names_the_bad_token_and_bad_network(api_as):
    response = api_as(Role.READER).post(
        URL, {"title": "x", "targets": "10.0.0.300", "network": 424242}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "targets": ["'10.0.0.300' is not an IP address"],
        "network": ["Network 424242 does not exist."],
    }
    assert not Report.objects.exists()


def test_post_without_a_target_is_400(api_as):
    response = api_as(Role.READER).post(URL, {"title": "x", "network": "all"}, format="json")
    assert response.status_code == 400
    assert response.json()["targets"] == [
        "Choose at least one target: asset groups, IPs/ranges or tags."
    ]


def test_all_networks_and_download(api_as, twin_networks):
    api = api_as(Role.READER)
    response = api.post(
        URL,
        {"title": "Everywhere", "format": "csv", "targets": "10.0.0.5", "network": "all"},
        format="json",
    )
    report = Report.objects.get(pk=response.json()["id"])
    services.report_generate(report=report)
    body = api.get(f"{URL}{report.pk}/").json()
    assert body["status"] == "finished" and body["progress"] == 100 and body["size"] > 0
    assert body["network"] == "all"
    assert body["download_url"].endswith(f"/api/v1/reports/{report.pk}/download/")
    download = api.get(body["download_url"])
    assert download.status_code == 200
    rows = csv_from_bytes(b"".join(download.streaming_content))
    assert sorted(r["Network"] for r in rows) == ["Alpha Corp", "Beta Inc", "Beta Inc"]


def test_others_reports_are_hidden_and_cannot_be_deleted(api_as, twin_networks):
    owner = UserFactory(username="owner", role=Role.READER)
    report = services.report_create(actor=owner, title="Private", targets="10.0.0.5")
    services.report_generate(report=report)
    scanner = api_as(Role.SCANNER)
    assert scanner.get(URL).json()["count"] == 0
    assert scanner.get(f"{URL}{report.pk}/download/").status_code == 404
    assert scanner.delete(f"{URL}{report.pk}/").status_code == 404
    manager = api_as(Role.MANAGER)
    assert manager.get(URL).json()["count"] == 1
    assert manager.get(f"{URL}{report.pk}/download/").status_code == 200
    assert manager.delete(f"{URL}{report.pk}/").status_code == 204
    assert not Report.objects.exists()


def test_no_token_is_401(client):
    assert client.get(URL).status_code == 401
    assert client.post(URL, {}, content_type="application/json").status_code == 401


def test_download_before_finished_is_404(api_as):
    api = api_as(Role.READER)
    report_id = api.post(URL, {"title": "x", "targets": "10.0.0.1"}, format="json").json()["id"]
    Report.objects.filter(pk=report_id).update(status=ReportStatus.RUNNING)
    assert api.get(f"{URL}{report_id}/download/").status_code == 404
