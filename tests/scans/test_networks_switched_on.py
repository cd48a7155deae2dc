"""An installation that ran without network support (ENCLAVE_NETWORKS_ENABLED=false)
turns it on: every asset group, schedule and appliance it made is in the Global
Default Network, shown there by the pages and the API, and its schedules go on
launching scans there. While support is off, nothing can be put elsewhere."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from assets.models import AssetGroup
from networks.models import Network, NetworkKind, ScannerAppliance
from networks.services import appliance_heartbeat
from scans import services
from scans.models import Scan, Schedule
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db


def test_what_was_made_without_networks_is_in_global_default_once_they_are_on(
    settings, client_as, api_as, sent, django_capture_on_commit_callbacks
):
    settings.ENCLAVE_NETWORKS_ENABLED = False
    default = Network.objects.get(kind=NetworkKind.GLOBAL_DEFAULT)
    manager = api_as(Role.MANAGER)
    # As users made them then: no network anywhere in what they sent.
    group = manager.post(
        "/api/v1/asset-groups/", {"title": "Servers", "ips": "127.0.0.1-127.0.0.9"}, format="json"
    )
    assert group.status_code == 201, group.json()
    page = client_as(Role.MANAGER)
    appliance_form = page.get(reverse("networks:appliance_create")).content.decode()
    assert f'value="{default.pk}"' in appliance_form  # the only network offered
    created = page.post(
        reverse("networks:appliance_create"), {"name": "lab-1", "network": default.pk}
    )
    assert created.status_code == 302
    start = timezone.now() + timedelta(minutes=5)
    schedule = manager.post(
        "/api/v1/schedules/",
        {
            "title": "Nightly",
            "type": "discovery",
            "targets": "127.0.0.1",
            "asset_groups": [group.json()["id"]],
            "recurrence": "daily",
            "start": start.isoformat(),
        },
        format="json",
    )
    assert schedule.status_code == 201, schedule.json()

    settings.ENCLAVE_NETWORKS_ENABLED = True
    appliance = ScannerAppliance.objects.get(name="lab-1")
    assert AssetGroup.objects.get().network == default
    assert appliance.network == default
    assert Schedule.objects.get().network == default
    # The pages and the API say so.
    api = api_as(Role.MANAGER)
    assert api.get(f"/api/v1/asset-groups/{group.json()['id']}/").json()["network"] == default.pk
    assert api.get(f"/api/v1/appliances/{appliance.pk}/").json()["network"] == default.pk
    listed = api.get(f"/api/v1/schedules/{schedule.json()['id']}/").json()
    assert (listed["network"], listed["network_name"]) == (default.pk, default.name)
    network_page = page.get(default.get_absolute_url()).content.decode()
    assert "lab-1" in network_page
    groups_page = page.get(reverse("assets:asset_group_list")).content.decode()
    assert "Servers" in groups_page and default.name in groups_page
    assert "Networks" in page.get(reverse("assets:host_list")).content.decode()  # the tab is back
    # The schedule still fires, on Global Default's appliance.
    appliance_heartbeat(name="lab-1")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.schedules_run_due(now=start + timedelta(seconds=30)) == 1
    scan = Scan.objects.get()
    assert scan.network == default and scan.schedule_id == schedule.json()["id"]
    assert {call["queue"] for call in sent} == {"appliance.lab-1"}


def test_while_networks_are_off_nothing_goes_to_another_network(settings, api_as):
    plant = NetworkFactory(name="Plant", space="127.0.0.0/8")  # made while support was on
    settings.ENCLAVE_NETWORKS_ENABLED = False
    api = api_as(Role.MANAGER)
    appliance = api.post("/api/v1/appliances/", {"name": "far", "network": plant.pk}, format="json")
    assert appliance.status_code == 400
    assert "Network support is off" in appliance.json()["network"][0]
    schedule = api.post(
        "/api/v1/schedules/",
        {
            "title": "Elsewhere",
            "type": "discovery",
            "network": plant.pk,
            "targets": "127.0.0.1",
            "recurrence": "daily",
            "start": (timezone.now() + timedelta(hours=1)).isoformat(),
        },
        format="json",
    )
    assert schedule.status_code == 400
    assert "Network support is off" in schedule.json()["network"][0]
    group = api.post(
        "/api/v1/asset-groups/", {"title": "G", "network": plant.pk, "ips": ""}, format="json"
    )
    assert group.status_code == 400
    assert not ScannerAppliance.objects.exists() and not Schedule.objects.exists()
