"""The broker is away when a user starts background work.

The request still answers (no 500 after the record was saved), and the record
says why nothing runs instead of staying "queued" for ever; a scan's slices
wait and go out with the next fill once the broker is back.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from assets.models import Connector, ConnectorRunStatus
from reports.models import Report, ReportStatus, ReportTemplate
from scans import services
from scans.models import FeedImport, Scan, ScanKind, ScanStatus, SliceStatus
from tests.brokers import celery_broker
from tests.factories import ApplianceFactory, NetworkFactory
from tests.scans import feed_samples, import_samples
from tests.scans.import_samples import Box, Vuln

pytestmark = pytest.mark.django_db

AWAY = "The task queue (broker) could not be reached, so this never started"


@pytest.fixture
def broker_away():
    """Tasks go to a loopback port nothing listens on: refused at once."""
    with celery_broker("redis://127.0.0.1:1/0"):
        yield


def test_a_report_asked_for_ends_in_error_saying_why(
    client_as, broker_away, django_capture_on_commit_callbacks
):
    template = ReportTemplate.objects.get(sort="vulnerability", is_builtin=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.READER).post(
            reverse("reports:report_create"),
            {
                "title": "Monthly",
                "template": template.pk,
                "format": "pdf",
                "network": "all",
                "targets": "10.0.0.0/8",
            },
        )
    assert response.status_code == 302, response.context["form"].errors
    report = Report.objects.get(title="Monthly")
    assert response.status_code == 302 and response["Location"] == report.get_absolute_url()
    assert report.status == ReportStatus.ERROR and report.error.startswith(AWAY)
    assert "Connection refused" in report.error and report.finished_at is not None
    page = client_as(Role.READER).get(report.get_absolute_url()).content.decode()
    assert "could not be reached" in page


def test_an_upload_ends_in_error_and_its_file_is_dropped(
    client_as, broker_away, django_capture_on_commit_callbacks
):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    nessus = import_samples.nessus([Box("10.0.0.5", vulns=[Vuln("19506", severity=0, port=0)])])
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.SCANNER).post(
            reverse("scans:import_create"),
            {"file": SimpleUploadedFile("weekly.nessus", nessus), "network": acme.pk},
        )
    scan = Scan.objects.get(kind=ScanKind.IMPORT)
    assert response.status_code == 302
    assert scan.status == ScanStatus.ERROR and scan.status_reason.startswith(AWAY[:200])
    assert scan.import_file.file == ""  # the upload is not kept for a task that never runs

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.MANAGER).post(
            reverse("scans:feed_create"),
            {"file": SimpleUploadedFile("kev.json", feed_samples.kev_bytes())},
        )
    feed = FeedImport.objects.get()
    assert response.status_code == 302
    assert feed.status == ScanStatus.ERROR and feed.error.startswith(AWAY) and not feed.file


def test_a_connector_run_ends_in_error(broker_away, django_capture_on_commit_callbacks):
    from assets.connector_services import connector_run_start

    connector = Connector.objects.create(name="cloud", kind="aws_ec2", scopes=["eu-west-1"])
    with django_capture_on_commit_callbacks(execute=True):
        run = connector_run_start(actor=None, connector=connector)
    run.refresh_from_db()
    assert run.status == ConnectorRunStatus.ERROR and run.error.startswith(AWAY)


def test_a_scan_s_slices_wait_and_go_out_once_the_broker_is_back(
    broker_away, django_capture_on_commit_callbacks
):
    lab = NetworkFactory(name="Lab", space="127.0.0.0/8")
    ApplianceFactory(name="lab-a", network=lab, last_seen=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        scan = services.scan_launch(
            actor=None, title="t", type="vulnerability", network=lab, targets="127.0.0.1"
        )
    piece = scan.slices.get()
    assert (piece.status, piece.appliance, piece.task_id, piece.attempts) == (
        SliceStatus.PENDING,
        None,
        "",
        0,
    )
    scan.refresh_from_db()
    assert scan.status == ScanStatus.QUEUED


def test_a_network_s_new_address_space_is_saved(
    client_as, broker_away, django_capture_on_commit_callbacks
):
    """Its overlap figures are recounted in the background: not now, but the
    change is not lost for that."""
    network = NetworkFactory(name="Plant", space="10.9.0.0/16")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.MANAGER).post(
            reverse("networks:network_update", args=[network.pk]),
            {"name": "Plant", "description": "", "address_space": "10.9.0.0/16, 10.20.0.0/16"},
        )
    assert response.status_code == 302
    assert {str(r) for r in network.address_ranges.all()} == {"10.9.0.0/16", "10.20.0.0/16"}
