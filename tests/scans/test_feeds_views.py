"""Scans > Feeds: the upload page, the list, the summary with its re-evaluation runs,
and feeds/ in the API (Managers only: the role matrix checks the others)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.results import HostResult, Service, SliceResult
from scans import services
from scans.models import Detection, FeedImport, KbSource, ScanKind, ScanStatus
from scans.services.evaluation import feed_evaluate
from scans.services.feeds import feed_import_run

from . import feed_samples as samples

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def queued(monkeypatch):
    """Runs the feed and re-evaluation tasks at once instead of sending them to a worker."""
    from scans.services import evaluation, feeds

    monkeypatch.setattr(feeds, "_queue", lambda feed_id: feed_import_run(feed_id=feed_id))
    monkeypatch.setattr(evaluation, "_queue", lambda ids: [feed_evaluate(scan_id=pk) for pk in ids])


def inventory(lab, online):
    online("lab-a")
    launched = services.scan_launch(
        actor=None, title="t", type="vulnerability", network=lab, targets="127.0.0.2"
    )
    piece = launched.slices.get()
    host = HostResult(
        ip="127.0.0.2",
        services=[
            Service(
                port=80,
                protocol="tcp",
                name="http",
                product="Apache httpd",
                version="2.4.49",
                cpes=["cpe:/a:apache:http_server:2.4.49"],
            )
        ],
    )
    services.slice_ingest(
        result=SliceResult(launched.pk, piece.pk, piece.appliance.name, "", "", hosts=[host])
    )


def test_a_manager_uploads_an_nvd_feed_and_follows_it_to_the_new_findings(
    client_as, queued, lab, online, sent, django_capture_on_commit_callbacks
):
    inventory(lab, online)
    client = client_as("manager")
    page = client.get(reverse("scans:feed_create"))
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content
    upload = SimpleUploadedFile("nvdcve-2.0-2021.json.gz", samples.nvd_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scans:feed_create"), {"file": upload})
    feed = FeedImport.objects.get()
    assert response.status_code == 302 and response["Location"] == feed.get_absolute_url()
    assert (feed.kind, feed.status, feed.records) == ("nvd", ScanStatus.FINISHED, 5)
    assert feed.created_by.username.startswith("manager") and not feed.file
    detection = Detection.objects.get(vulnerability__source=KbSource.NVD)
    assert detection.vulnerability.external_id == "CVE-2021-41773"
    run = feed.runs.get()
    assert run.kind == ScanKind.FEED and run.hosts_found == 1

    detail = client.get(feed.get_absolute_url()).content.decode()
    assert "5 added" in detail and "Lab" in detail
    assert reverse("scans:scan_results", args=[run.pk]) in detail
    listing = client.get(reverse("scans:feed_list")).content.decode()
    assert "nvdcve-2.0-2021.json.gz" in listing and "5 added" in listing
    results = client.get(reverse("scans:scan_results", args=[run.pk]))
    assert results.status_code == 200 and "127.0.0.2" in results.content.decode()
    scan_page = client.get(reverse("scans:scan_detail", args=[run.pk]))
    assert scan_page.status_code == 200


def test_an_upload_that_is_not_a_feed_is_refused_on_the_form_and_nothing_is_stored(
    client_as, queued, settings
):
    response = client_as("manager").post(
        reverse("scans:feed_create"),
        {"file": SimpleUploadedFile("scan.xml", b"<?xml version='1.0'?><nmaprun/>")},
    )
    assert response.status_code == 200
    assert "Not a feed file Enclave reads: it is XML or HTML" in response.content.decode()
    assert not FeedImport.objects.exists()
    assert not list((settings.MEDIA_ROOT / "feeds").glob("*"))


def test_a_truncated_feed_ends_in_error_with_the_reason_and_changes_nothing(
    client_as, queued, django_capture_on_commit_callbacks
):
    content = samples.nvd_bytes()[:-200]  # the start reads as NVD: the end is missing
    with django_capture_on_commit_callbacks(execute=True):
        client_as("manager").post(
            reverse("scans:feed_create"),
            {"file": SimpleUploadedFile("nvd.json", content)},
        )
    feed = FeedImport.objects.get()
    assert feed.status == ScanStatus.ERROR and "ends early" in feed.error
    assert not feed.runs.exists()
    from scans.models import Vulnerability

    assert not Vulnerability.objects.filter(source=KbSource.NVD).exists()
    page = client_as("manager").get(feed.get_absolute_url()).content.decode()
    assert "ends early" in page and "Nothing was changed." in page


def test_feeds_api_uploads_and_lists_for_managers(
    api_as, queued, django_capture_on_commit_callbacks
):
    api = api_as("manager")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/feeds/",
            {"file": SimpleUploadedFile("kev.json", samples.kev_bytes())},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "kev" and data["filename"] == "kev.json"
    listed = api.get("/api/v1/feeds/").json()
    assert listed["count"] == 1
    one = api.get(f"/api/v1/feeds/{data['id']}/").json()
    assert one["status"] == "finished" and one["changed"] == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
    }
    assert one["records"] == 2 and one["runs"] == []
    bad = api.post(
        "/api/v1/feeds/",
        {"file": SimpleUploadedFile("x.csv", b"ip,port\n1.2.3.4,80\n")},
        format="multipart",
    )
    assert bad.status_code == 400 and "Not a feed file" in bad.json()["file"][0]
    assert api.post("/api/v1/feeds/", {}, format="multipart").status_code == 400
    assert api_as("scanner").get("/api/v1/feeds/").status_code == 403
