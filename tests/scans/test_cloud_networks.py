"""Scans and reports on the cloud networks work as on any other: hosts a
connector found in Global EC2 / Global Azure are scanned by that network's
appliance (the slices are recorded here, never sent: the addresses are not the
tests' own) through asset groups of that network, and reported with the
network's name beside each IP."""

import csv

import pytest
from django.utils import timezone

from assets import services as asset_services
from assets.cloud_sync import cloud_instances_sync
from assets.connectors.base import DiscoveredInstance, Discovery
from assets.models import CloudInstance, Connector, Tag
from core import iprange
from networks import services as network_services
from networks.models import Network, NetworkKind
from reports import services as report_services
from scans import services
from tests.factories import DetectionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "kind, network_kind",
    [("aws_ec2", NetworkKind.GLOBAL_EC2), ("azure", NetworkKind.GLOBAL_AZURE)],
)
def test_a_cloud_network_is_scanned_and_reported_like_any_other(
    kind, network_kind, sent, django_capture_on_commit_callbacks
):
    manager = UserFactory(username="manager", role="manager")
    network = Network.objects.get(kind=network_kind)
    connector = Connector.objects.create(name="cloud", kind=kind, scopes=["scope-1"])
    found = [
        DiscoveredInstance(
            cloud_id=f"id-{n}",
            state="running",
            scope="scope-1",
            network_id="net-a",
            private_ip=f"10.20.0.{n + 1}",
            tags={"env": "prod"},
        )
        for n in range(3)
    ]
    cloud_instances_sync(
        connector=connector, discovery=Discovery(instances=found, scopes=["scope-1"])
    )
    appliance = network_services.appliance_create(actor=manager, name="cloud-1", network=network)
    network_services.appliance_heartbeat(name="cloud-1")
    group = asset_services.asset_group_create(
        actor=manager, title="Web tier", network=network, ips="10.20.0.0/24"
    )
    with django_capture_on_commit_callbacks(execute=True):
        scan = services.scan_launch(
            actor=manager,
            title="Cloud scan",
            type="vulnerability",
            network=network,
            appliance=appliance,
            asset_groups=[group],
        )
    assert scan.network == network
    assert {call["queue"] for call in sent} == {"appliance.cloud-1"}
    assert {call["spec"]["scan_id"] for call in sent} == {scan.pk}
    targets = [r for call in sent for t in call["spec"]["targets"] for r in iprange.parse(t)]
    assert iprange.merge(targets) == iprange.parse("10.20.0.0/24")  # the group, in slices

    host = CloudInstance.objects.get(cloud_id="id-0").host
    DetectionFactory(host=host, network=network, last_found=timezone.now())
    report = report_services.report_create(
        actor=manager, title="Prod", format="csv", tags=[Tag.objects.get(name="env:prod")]
    )
    report = report_services.report_generate(report=report)
    assert report.status == "finished", report.error
    with report.file.open("r") as handle:
        rows = list(csv.reader(handle))
    lines = [",".join(row) for row in rows[1:]]
    assert any("10.20.0.1" in line and network.name in line for line in lines), rows
