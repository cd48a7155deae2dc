"""Scans > Imports: the upload form, the list, the summary page, and imports/ in the API;
one import end to end through a real Celery worker."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assets.models import Host
from scans.models import Detection, Scan, ScanKind, ScanStatus
from scans.services.imports import import_run
from tests.factories import NetworkFactory
from tests.scans import import_samples as samples
from tests.scans.import_samples import Box, Vuln
from tests.waiting import wait_for


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def queued(monkeypatch):
    """Runs the import task at once instead of sending it to a worker."""
    from scans.services import imports

    ran = []
    monkeypatch.setattr(
        imports, "_queue", lambda scan_id: (ran.append(scan_id), import_run(scan_id=scan_id))
    )
    return ran


def sample():
    return samples.nessus(
        [
            Box(
                "10.0.0.5",
                name="web01",
                vulns=[Vuln("90317", severity=3, port=22), Vuln("19506", severity=0, port=0)],
            ),
            Box("", name="printer.local", vulns=[Vuln("19506", severity=0, port=0)]),
        ]
    )


@pytest.mark.django_db
def test_upload_form_imports_into_the_chosen_network(
    client_as, queued, django_capture_on_commit_callbacks
):
    client = client_as("scanner")
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    page = client.get(reverse("scans:import_create"))
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content
    assert b"Choose the network these results belong to" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("scans:import_create"),
            {
                "file": SimpleUploadedFile("weekly.nessus", sample()),
                "network": acme.pk,
                "format": "",
            },
        )
    scan = Scan.objects.get(kind=ScanKind.IMPORT)
    assert response.status_code == 302 and response["Location"] == reverse(
        "scans:import_detail", args=[scan.pk]
    )
    assert queued == [scan.pk]
    scan.refresh_from_db()
    assert scan.status == ScanStatus.FINISHED and Host.objects.get().network == acme
    detail = client.get(response["Location"]).content.decode()
    assert "weekly.nessus" in detail and "Nessus .nessus v2" in detail
    assert "printer.local" in detail and "host name only" in detail
    assert reverse("scans:scan_results", args=[scan.pk]) in detail
    # Findings by severity, each with its word; the name-only host skipped.
    assert '<span class="sev sev-4">4 Critical</span> 1' in detail
    assert '<span class="sev sev-1">1 Minimal</span> 1' in detail
    assert "the others were imported" in detail
    # Its findings page leads back to the import, and says so.
    results = client.get(reverse("scans:scan_results", args=[scan.pk])).content.decode()
    assert f'href="{response["Location"]}">The import</a>' in results
    assert 'aria-current="page">Imports<' in results and 'aria-current="page">Scans<' not in results
    # The history lists it with the scans; the scan page leads to the import's.
    listing = client.get(reverse("scans:scan_list")).content.decode()
    assert "Import of weekly.nessus" in listing
    assert client.get(reverse("scans:scan_detail", args=[scan.pk]))["Location"] == (
        reverse("scans:import_detail", args=[scan.pk])
    )
    imports = client.get(reverse("scans:import_list")).content.decode()
    assert "weekly.nessus" in imports and "Acme" in imports


@pytest.mark.django_db
def test_a_refused_import_says_nothing_was_imported(client_as):
    from scans.services.imports import import_create

    plant = NetworkFactory(name="Plant", space="172.16.0.0/16")
    scan = import_create(actor=None, network=plant, file=SimpleUploadedFile("a.nessus", sample()))
    import_run(scan_id=scan.pk)
    scan.refresh_from_db()
    assert scan.status == ScanStatus.ERROR and not Host.objects.exists()
    detail = client_as("reader").get(reverse("scans:import_detail", args=[scan.pk]))
    text = detail.content.decode()
    assert "outside the address space of network" in text and "10.0.0.5" in text
    assert "printer.local" in text and "Nothing of the file was imported" in text
    assert "the others were imported" not in text
    assert reverse("scans:scan_results", args=[scan.pk]) not in text
    # The lists say so too, where a bar would stand still where the check stopped.
    for listing in ("scans:scan_list", "scans:import_list"):
        html = client_as("reader").get(reverse(listing)).content.decode()
        assert "nothing imported" in html and "<progress" not in html, listing


@pytest.mark.django_db
def test_the_network_is_never_assumed(client_as, queued):
    client = client_as("scanner")
    response = client.post(
        reverse("scans:import_create"), {"file": SimpleUploadedFile("a.nessus", sample())}
    )
    assert response.status_code == 200
    assert "Choose the network these results belong to." in response.content.decode()
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_a_file_of_no_known_format_is_refused_on_the_form(client_as, queued):
    client = client_as("scanner")
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    response = client.post(
        reverse("scans:import_create"),
        {
            "file": SimpleUploadedFile("notes.xml", b"<?xml version='1.0'?><notes/>"),
            "network": acme.pk,
        },
    )
    assert response.status_code == 200
    assert "its root element is &lt;notes&gt;" in response.content.decode()
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_summary_partial_for_htmx_polling(client_as, queued):
    client = client_as("reader")
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    from scans.services.imports import import_create

    scan = import_create(actor=None, network=acme, file=SimpleUploadedFile("a.nessus", sample()))
    page = client.get(reverse("scans:import_detail", args=[scan.pk]), HTTP_HX_REQUEST="true")
    text = page.content.decode()
    assert 'id="import-summary"' in text and "<html" not in text
    assert 'hx-trigger="every 1s"' in text  # still queued: it polls
    import_run(scan_id=scan.pk)
    text = client.get(
        reverse("scans:import_detail", args=[scan.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in text and "Finished" in text


@pytest.mark.django_db
def test_imports_filter_by_network_format_status_and_file(client_as, api_as):
    from scans.services.imports import import_create

    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    plant = NetworkFactory(name="Plant", space="172.16.0.0/16")
    weekly = import_create(
        actor=None, network=acme, file=SimpleUploadedFile("weekly.nessus", sample())
    )
    import_run(scan_id=weekly.pk)
    refused = import_create(
        actor=None, network=plant, file=SimpleUploadedFile("plant-gvm.xml", sample())
    )
    import_run(scan_id=refused.pk)  # its hosts lie outside Plant: an error
    page = client_as("reader").get(reverse("scans:import_list"), {"network": plant.pk})
    text = page.content.decode()
    assert 'name="file_format"' in text and "plant-gvm.xml" in text and "weekly.nessus" not in text
    api = api_as("reader")
    for query, expected in [
        ({"network": acme.pk}, [weekly.pk]),
        ({"status": "error"}, [refused.pk]),
        ({"file_format": "nessus"}, [refused.pk, weekly.pk]),
        ({"file_format": "qualys"}, []),
        ({"q": "WEEKLY"}, [weekly.pk]),
    ]:
        answer = api.get("/api/v1/imports/", query).json()
        assert [r["id"] for r in answer["results"]] == expected, query
    bad = api.get("/api/v1/imports/", {"file_format": "pdf"})
    assert bad.status_code == 400 and "file_format" in bad.json()
    # The scans list filters in the API as on its page.
    assert [r["id"] for r in api.get("/api/v1/scans/", {"status": "error"}).json()["results"]] == [
        refused.pk
    ]


@pytest.mark.django_db
def test_api_upload_list_and_detail(api_as, queued, django_capture_on_commit_callbacks):
    api = api_as("scanner")
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/imports/",
            {"file": SimpleUploadedFile("weekly.nessus", sample()), "network": acme.pk},
            format="multipart",
        )
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("network", "network_name", "format", "filename", "status")} == {
        "network": acme.pk,
        "network_name": "Acme",
        "format": "nessus",
        "filename": "weekly.nessus",
        "status": "queued",
    }
    detail = api.get(f"/api/v1/imports/{body['id']}/").json()
    assert (detail["status"], detail["progress"], detail["hosts"], detail["findings"]) == (
        "finished",
        100,
        1,
        2,
    )
    assert detail["skipped"] == [
        {"host": "printer.local", "reason": "host name only ('printer.local'), no IP address"}
    ]
    assert detail["size"] == len(sample()) and detail["created_by"] == "scanner-user"
    listing = api.get("/api/v1/imports/").json()
    assert [r["id"] for r in listing["results"]] == [body["id"]]
    # Detections say where they come from, and filter by it.
    found = api.get("/api/v1/detections/", {"source": "nessus"}).json()
    assert found["count"] == 2 and {r["source"] for r in found["results"]} == {"nessus"}
    assert api.get("/api/v1/detections/", {"source": "qualys"}).json()["count"] == 0


@pytest.mark.django_db
def test_api_refusals_name_the_problem(api_as):
    api = api_as("scanner")
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    missing = api.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("a.nessus", sample())}, format="multipart"
    )
    assert missing.status_code == 400 and "network" in missing.json()
    wrong = api.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("a.nessus", sample()), "network": acme.pk, "format": "qualys"},
        format="multipart",
    )
    assert wrong.status_code == 400
    assert "You chose Qualys XML" in wrong.json()["format"][0]
    bad = api.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("a.csv", b"ip,port\n"), "network": acme.pk},
        format="multipart",
    )
    assert bad.status_code == 400 and "line 1, column 0" in bad.json()["file"][0]
    assert not Scan.objects.exists()


@pytest.mark.e2e
def test_an_import_runs_in_a_real_celery_worker(ingest_worker, api_as):
    api = api_as("scanner")
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    created = api.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("weekly.nessus", sample()), "network": acme.pk},
        format="multipart",
    )
    assert created.status_code == 201
    scan_id = created.json()["id"]
    wait_for(lambda: Scan.objects.get(pk=scan_id).is_done, timeout=60, what="the import to end")
    scan = Scan.objects.get(pk=scan_id)
    assert scan.status == ScanStatus.FINISHED
    assert Detection.objects.filter(network=acme).count() == 2
