"""A scanner appliance's page: what it is doing, what it did, and how to run it
inside its network (the exact command, the broker's password masked)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.results import SliceResult
from networks.models import Network, ScannerAppliance
from scans import services
from scans.models import SliceStatus
from tests.factories import ApplianceFactory, NetworkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Slices are recorded as sent, not sent: no broker here."""
    from scans import tasks

    calls = []
    monkeypatch.setattr(tasks.run_slice, "apply_async", lambda *a, **kw: calls.append(kw))
    return calls


@pytest.fixture
def plant():
    return NetworkFactory(name="Plant", space="127.0.0.0/8")


def test_page_shows_status_versions_and_heartbeat(client_as, plant):
    appliance = ApplianceFactory(
        name="plant-1",
        network=plant,
        last_seen=timezone.now() - timedelta(seconds=3),
        version="1.0.0",
        nmap_version="7.93",
        running_slices=2,
    )
    html = client_as("reader").get(reverse("networks:appliance_detail", args=[appliance.pk]))
    text = html.content.decode()
    assert '<span class="badge status-busy">Busy</span>' in text
    assert "running 2 slices" in text and "1.0.0" in text and "7.93" in text
    assert appliance.last_seen.strftime("%Y-%m-%d") in text and "ago" in text
    assert "appliance.plant-1" in text  # its queue
    assert reverse("scans:appliance_slices", args=[appliance.pk]) in text


def test_offline_appliance_says_so(client_as, plant):
    never = ApplianceFactory(name="plant-new", network=plant)
    text = client_as("reader").get(reverse("networks:appliance_detail", args=[never.pk]))
    assert "it has never sent a heartbeat" in text.content.decode()
    gone = ApplianceFactory(
        name="plant-old", network=plant, last_seen=timezone.now() - timedelta(hours=3)
    )
    text = client_as("reader").get(reverse("networks:appliance_detail", args=[gone.pk]))
    assert "no heartbeat for 3\xa0hours" in text.content.decode()


def test_run_box_gives_the_command_with_the_password_masked(client_as, plant, settings):
    settings.CELERY_BROKER_URL = "redis://:s3cr3t-Pw@broker.example.net:6380/2?ssl=1"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": "site-a:"}
    appliance = ApplianceFactory(name="plant-1", network=plant)
    text = client_as("reader").get(reverse("networks:appliance_detail", args=[appliance.pk]))
    html = text.content.decode()
    assert "s3cr3t" not in html
    command = re.search(r'<pre class="command"><code>(.*?)</code></pre>', html, re.S).group(1)
    assert command == (
        "CELERY_BROKER_URL=&#x27;redis://:&lt;password&gt;@broker.example.net:6380/2?ssl=1&#x27; "
        "ENCLAVE_BROKER_PREFIX=site-a: python manage.py run_appliance plant-1"
    )
    assert "<code>broker.example.net:6380</code>" in html
    assert "No database" in html and "no inbound port" in html and "nmap" in html
    assert "embedded broker" not in html


def test_run_box_with_the_embedded_broker_says_it_must_run_here(client_as, plant, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    appliance = ApplianceFactory(name="plant-1", network=plant)
    html = client_as("reader").get(reverse("networks:appliance_detail", args=[appliance.pk]))
    html = html.content.decode()
    assert "CELERY_BROKER_URL=filesystem:// ENCLAVE_BROKER_DIR=" in html
    assert "embedded broker" in html and "&lt;password&gt;" not in html


def test_appliance_list_links_to_the_page(client_as, plant):
    appliance = ApplianceFactory(name="plant-1", network=plant)
    html = client_as("reader").get(reverse("networks:appliance_list")).content.decode()
    assert f'href="{reverse("networks:appliance_detail", args=[appliance.pk])}"' in html


def test_page_and_slices_are_hidden_with_network_support_off(client_as, plant, settings):
    appliance = ApplianceFactory(name="plant-1", network=plant)
    settings.ENCLAVE_NETWORKS_ENABLED = False
    client = client_as("manager")
    assert client.get(reverse("networks:appliance_detail", args=[appliance.pk])).status_code == 404
    assert client.get(reverse("scans:appliance_slices", args=[appliance.pk])).status_code == 404
    default = ApplianceFactory(name="gd-1", network=Network.objects.global_default())
    assert client.get(reverse("networks:appliance_detail", args=[default.pk])).status_code == 200


def test_slices_running_now_and_history(client_as, plant, sent, django_assert_max_num_queries):
    appliance = ApplianceFactory(name="plant-1", network=plant, last_seen=timezone.now())
    other = ApplianceFactory(name="plant-2", network=plant)
    scan = services.scan_launch(
        actor=None, title="Wide", type="discovery", network=plant, targets="127.0.0.0/22"
    )  # 16 slices: 10 held by plant-1
    for piece in scan.slices.filter(status=SliceStatus.DISPATCHED).order_by("number")[:3]:
        services.slice_result_record(
            result=SliceResult(scan.pk, piece.pk, "plant-1", "", "", hosts=[])
        )
    running = scan.slices.filter(status=SliceStatus.DISPATCHED).order_by("number").first()
    services.slice_progress_record(
        slice_id=running.pk, appliance="plant-1", done=5, total=64, phase="discovery", percent=9
    )
    client = client_as("reader")
    url = reverse("scans:appliance_slices", args=[appliance.pk])
    with django_assert_max_num_queries(10):
        part = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in part
    held, history = part.split("<h2>History</h2>")
    assert 'Slices running now <small class="muted">(10)</small>' in held
    assert held.count('class="badge slice-running"') == 1 and "Discovery" in held
    assert history.count('class="badge slice-done"') == 3 and "Wide" in history
    assert reverse("scans:scan_detail", args=[scan.pk]) in part
    empty = client.get(reverse("scans:appliance_slices", args=[other.pk])).content.decode()
    assert empty.count("None.") == 2  # a page of its own without JavaScript
    assert ScannerAppliance.objects.count() == 2
