"""The rules of cloud identity (assets.cloud_sync): which host row an instance
owns, across IP changes, reuse of an address, overlapping VPCs, mappings,
termination, vanishing and the purge. Fed with the clients' own dataclasses;
the clients themselves are tested against moto and the Azure fake."""

from datetime import timedelta

import pytest
from django.utils import timezone

from assets.cloud_sync import cloud_instances_sync
from assets.connectors.base import DiscoveredInstance, Discovery
from assets.models import CloudInstance, Connector, ConnectorMapping, Host, Tag
from networks.models import Network, NetworkKind
from tests.factories import DetectionFactory, HostFactory, NetworkFactory

pytestmark = pytest.mark.django_db


def vm(cloud_id, ip, vpc="vpc-a", state="running", tags=None, region="eu-west-1", **extra):
    return DiscoveredInstance(
        cloud_id=cloud_id,
        name=cloud_id.upper(),
        state=state,
        region=region,
        scope=region,
        network_id=vpc,
        subnet_id=f"subnet-{vpc}",
        private_ip=ip,
        tags=tags or {},
        gone=state in ("terminated", "shutting-down"),
        **extra,
    )


def run(connector, *instances, scopes=("eu-west-1",), now=None):
    return cloud_instances_sync(
        connector=connector,
        discovery=Discovery(instances=list(instances), scopes=list(scopes)),
        now=now,
    )


@pytest.fixture
def connector():
    return Connector.objects.create(name="prod", kind="aws_ec2", scopes=["eu-west-1"])


@pytest.fixture
def ec2():
    return Network.objects.get(kind=NetworkKind.GLOBAL_EC2)


def host_of(cloud_id):
    return CloudInstance.objects.select_related("host").get(cloud_id=cloud_id).host


def test_instances_become_hosts_in_global_ec2_by_private_ip(connector, ec2):
    outcome = run(connector, vm("i-1", "10.0.0.5"), vm("i-2", "10.0.0.6"))
    assert sorted(ec2.hosts.values_list("ip", flat=True)) == ["10.0.0.5", "10.0.0.6"]
    assert outcome.counts() == {"seen": 2, "new": 2, "updated": 0, "gone": 0, "purged": 0}
    ec2.refresh_from_db()
    assert ec2.host_count == 2
    record = CloudInstance.objects.get(cloud_id="i-1")
    assert (record.host.ip, record.cloud_network, record.state) == ("10.0.0.5", "vpc-a", "running")
    # Nothing changed: a second run is "seen", nothing else.
    assert run(connector, vm("i-1", "10.0.0.5"), vm("i-2", "10.0.0.6")).counts()["updated"] == 0
    assert ec2.hosts.count() == 2


def test_an_instance_whose_ip_changes_keeps_its_host_row_and_findings(connector, ec2):
    run(connector, vm("i-1", "10.0.0.5"))
    host = host_of("i-1")
    DetectionFactory(host=host)
    outcome = run(connector, vm("i-1", "10.0.0.9"))
    moved = host_of("i-1")
    assert moved.pk == host.pk and moved.ip == "10.0.0.9"
    assert moved.detections.count() == 1
    assert not ec2.hosts.filter(ip="10.0.0.5").exists()
    assert outcome.updated == 1 and outcome.hosts_moved == 1


def test_an_ip_reused_by_another_instance_becomes_the_other_asset(connector, ec2):
    run(connector, vm("i-old", "10.0.0.5"))
    old_host = host_of("i-old")
    DetectionFactory(host=old_host, network=ec2)
    # i-old was terminated and its address went to i-new in the same run.
    run(connector, vm("i-old", "", state="terminated"), vm("i-new", "10.0.0.5"))
    new_host = host_of("i-new")
    assert new_host.pk != old_host.pk and new_host.ip == "10.0.0.5"
    assert new_host.detections.count() == 0  # not the old machine's findings
    old = CloudInstance.objects.get(cloud_id="i-old")
    assert old.gone_at is not None and old.host is None
    assert not Host.objects.filter(pk=old_host.pk).exists()
    ec2.refresh_from_db()
    assert ec2.host_count == 1
    assert ec2.open_findings.get("3", 0) == 0


def test_a_swap_of_addresses_in_one_run_keeps_each_row_with_its_instance(connector, ec2):
    run(connector, vm("i-a", "10.0.0.5"), vm("i-b", "10.0.0.6"))
    a, b = host_of("i-a").pk, host_of("i-b").pk
    run(connector, vm("i-a", "10.0.0.6"), vm("i-b", "10.0.0.5"))
    assert (host_of("i-a").pk, host_of("i-a").ip) == (a, "10.0.0.6")
    assert (host_of("i-b").pk, host_of("i-b").ip) == (b, "10.0.0.5")


def test_an_instance_takes_over_the_old_ip_of_another_that_moved_in_the_same_run(connector, ec2):
    run(connector, vm("i-a", "10.0.0.5"), vm("i-b", "10.0.0.6"))
    a, b = host_of("i-a").pk, host_of("i-b").pk
    # A moves to B's old address, B moves to a new one; a third arrives at A's old one.
    run(connector, vm("i-a", "10.0.0.6"), vm("i-b", "10.0.0.7"), vm("i-c", "10.0.0.5"))
    assert (host_of("i-a").pk, host_of("i-a").ip) == (a, "10.0.0.6")
    assert (host_of("i-b").pk, host_of("i-b").ip) == (b, "10.0.0.7")
    assert host_of("i-c").pk not in (a, b) and host_of("i-c").ip == "10.0.0.5"
    assert ec2.hosts.count() == 3


def test_a_host_a_scan_found_first_is_adopted(connector, ec2):
    scanned = HostFactory(network=ec2, ip="10.0.0.5")
    ec2.host_count = 1
    ec2.save()
    outcome = run(connector, vm("i-1", "10.0.0.5"))
    assert host_of("i-1").pk == scanned.pk
    assert outcome.hosts_created == 0
    ec2.refresh_from_db()
    assert ec2.host_count == 1


def test_two_vpcs_with_the_same_cidr_mapped_to_two_networks_stay_apart(connector, ec2):
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    office = NetworkFactory(name="Office", space="10.0.0.0/16")
    ConnectorMapping.objects.create(connector=connector, cloud_network="vpc-plant", network=plant)
    ConnectorMapping.objects.create(connector=connector, cloud_network="vpc-office", network=office)
    run(connector, vm("i-p", "10.0.0.5", vpc="vpc-plant"), vm("i-o", "10.0.0.5", vpc="vpc-office"))
    assert host_of("i-p").network == plant and host_of("i-o").network == office
    assert host_of("i-p").ip == host_of("i-o").ip == "10.0.0.5"
    assert not ec2.hosts.exists()


def test_unmapped_overlapping_vpcs_warn_and_the_row_stays_with_its_owner(connector, ec2):
    run(connector, vm("i-b", "10.0.0.5", vpc="vpc-b"))
    outcome = run(connector, vm("i-a", "10.0.0.5", vpc="vpc-a"), vm("i-b", "10.0.0.5", vpc="vpc-b"))
    assert host_of("i-b").ip == "10.0.0.5"
    assert host_of("i-a") is None
    assert len(outcome.warnings) == 1
    assert "vpc-a" in outcome.warnings[0] and "vpc-b" in outcome.warnings[0]
    assert "separate networks" in outcome.warnings[0]


def test_an_instance_outside_its_mapped_networks_space_gets_no_host_and_a_warning(connector, ec2):
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    ConnectorMapping.objects.create(connector=connector, cloud_network="vpc-plant", network=plant)
    outcome = run(
        connector,
        vm("i-in", "10.0.0.5", vpc="vpc-plant"),
        vm("i-out", "172.16.0.9", vpc="vpc-plant"),
    )
    assert host_of("i-in").network == plant
    assert host_of("i-out") is None
    assert not Host.objects.filter(ip="172.16.0.9").exists()
    assert len(outcome.warnings) == 1
    assert (
        "i-out" in outcome.warnings[0]
        and "outside the address space of Plant" in (outcome.warnings[0])
    )


def test_a_new_mapping_moves_the_instance_to_the_custom_network(connector, ec2):
    run(connector, vm("i-1", "10.0.0.5", vpc="vpc-a"))
    old = host_of("i-1")
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    ConnectorMapping.objects.create(connector=connector, cloud_network="vpc-a", network=plant)
    run(connector, vm("i-1", "10.0.0.5", vpc="vpc-a"))
    assert host_of("i-1").network == plant
    assert not Host.objects.filter(pk=old.pk).exists()
    ec2.refresh_from_db()
    plant.refresh_from_db()
    assert (ec2.host_count, plant.host_count) == (0, 1)


def test_terminated_and_vanished_instances_are_marked_then_purged(connector, ec2, settings):
    settings.ENCLAVE_CLOUD_RETENTION_DAYS = 30
    start = timezone.now()
    run(connector, vm("i-t", "10.0.0.5"), vm("i-v", "10.0.0.6"), vm("i-s", "10.0.0.7"), now=start)
    outcome = run(connector, vm("i-t", "", state="terminated"), vm("i-s", "10.0.0.7"), now=start)
    assert outcome.gone == 2
    terminated, vanished = (CloudInstance.objects.get(cloud_id=c) for c in ("i-t", "i-v"))
    assert terminated.gone_at and terminated.state == "terminated"
    assert vanished.gone_at and vanished.state == "vanished"
    # Still hosts (their pages say gone) within the retention period.
    assert ec2.hosts.count() == 3
    later = start + timedelta(days=31)
    outcome = run(connector, vm("i-s", "10.0.0.7"), now=later)
    assert outcome.purged == 2
    assert list(ec2.hosts.values_list("ip", flat=True)) == ["10.0.0.7"]
    assert list(CloudInstance.objects.values_list("cloud_id", flat=True)) == ["i-s"]
    ec2.refresh_from_db()
    assert ec2.host_count == 1


def test_an_instance_of_a_region_not_read_does_not_vanish(connector, ec2):
    run(connector, vm("i-1", "10.0.0.5", region="us-east-1"), scopes=("us-east-1",))
    run(connector, vm("i-2", "10.0.0.6"), scopes=("eu-west-1",))
    assert CloudInstance.objects.get(cloud_id="i-1").gone_at is None


def test_a_vanished_instance_that_comes_back_is_not_gone(connector, ec2):
    run(connector, vm("i-1", "10.0.0.5"))
    run(connector)
    assert CloudInstance.objects.get(cloud_id="i-1").gone_at is not None
    run(connector, vm("i-1", "10.0.0.5"))
    record = CloudInstance.objects.get(cloud_id="i-1")
    assert record.gone_at is None and record.host.ip == "10.0.0.5"


def test_cloud_tags_become_enclave_tags_and_users_tags_stay(connector, ec2):
    run(connector, vm("i-1", "10.0.0.5", tags={"env": "prod", "team": "web"}))
    host = host_of("i-1")
    assert sorted(host.tags.values_list("name", flat=True)) == ["env:prod", "team:web"]
    mine = Tag.objects.create(name="pci")
    host.tags.add(mine)
    run(connector, vm("i-1", "10.0.0.5", tags={"env": "staging"}))
    assert sorted(host.tags.values_list("name", flat=True)) == ["env:staging", "pci"]
    # Existing tags are reused whatever their case.
    Tag.objects.create(name="Owner:Ops")
    run(connector, vm("i-1", "10.0.0.5", tags={"owner": "ops"}))
    assert sorted(host.tags.values_list("name", flat=True)) == ["Owner:Ops", "pci"]


def test_hosts_added_to_a_custom_network_recount_overlaps(
    connector, ec2, django_capture_on_commit_callbacks
):
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    ConnectorMapping.objects.create(connector=connector, cloud_network="vpc-a", network=plant)
    with django_capture_on_commit_callbacks() as callbacks:
        run(connector, vm("i-1", "10.0.0.5"))
    assert len(callbacks) == 1


def test_a_run_costs_a_bounded_number_of_queries(connector, ec2, django_assert_max_num_queries):
    many = [vm(f"i-{n:04d}", f"10.0.{n // 250}.{n % 250 + 1}", tags={"n": "x"}) for n in range(600)]
    with django_assert_max_num_queries(60):
        run(connector, *many)
    moved = [
        vm(f"i-{n:04d}", f"10.1.{n // 250}.{n % 250 + 1}", tags={"n": "y"}) for n in range(600)
    ]
    with django_assert_max_num_queries(80):
        run(connector, *moved)
    assert ec2.hosts.filter(ip__startswith="10.1.").count() == 600


def test_deleting_a_connector_forgets_its_instances_and_keeps_their_hosts(connector, ec2):
    from assets import connector_services

    run(connector, vm("i-1", "10.0.0.5", tags={"env": "prod"}))
    host = host_of("i-1")
    connector_services.connector_delete(actor=None, connector=connector)
    assert not CloudInstance.objects.exists()
    assert Host.objects.get(pk=host.pk).ip == "10.0.0.5"
