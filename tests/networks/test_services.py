import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from accounts.models import AuditEntry
from networks import services
from networks.models import AddressRange, Network, NetworkKind
from tests.factories import ApplianceFactory, AssetGroupFactory, HostFactory, NetworkFactory

pytestmark = pytest.mark.django_db


def test_three_built_in_networks_exist_after_migrate():
    kinds = set(Network.objects.exclude(kind=NetworkKind.CUSTOM).values_list("kind", flat=True))
    assert kinds == {"global_default", "global_ec2", "global_azure"}


def test_create_stores_merged_ranges_and_normalised_text(manager):
    network = services.network_create(
        actor=manager, name="Acme", address_space="10.0.0.0/25\n10.0.0.128/25, 10.9.0.1"
    )
    assert network.address_space == "10.0.0.0/24, 10.9.0.1"
    assert AddressRange.objects.filter(network=network).count() == 2


def test_custom_networks_may_overlap(manager):
    a = services.network_create(actor=manager, name="Acme", address_space="10.0.0.0/16")
    b = services.network_create(actor=manager, name="Globex", address_space="10.0.0.0/16")
    assert a.address_space == b.address_space


def test_a_slash_8_is_one_row(manager):
    network = services.network_create(
        actor=manager, name="Big", address_space="10.0.0.0/8, 2001:db8::/64"
    )
    assert network.address_ranges.count() == 2


def test_name_is_unique_ignoring_case(manager):
    services.network_create(actor=manager, name="Acme")
    with pytest.raises(ValidationError) as error:
        services.network_create(actor=manager, name="ACME")
    assert "already exists" in str(error.value.message_dict["name"])


def test_database_refuses_duplicate_names_too():
    NetworkFactory(name="Acme")
    with pytest.raises(IntegrityError):
        NetworkFactory(name="acme")


def test_bad_address_space_names_the_token_and_writes_nothing(manager):
    with pytest.raises(ValidationError) as error:
        services.network_create(actor=manager, name="Acme", address_space="10.0.0.0/24, 10.0.0.300")
    assert error.value.message_dict["address_space"] == ["'10.0.0.300' is not an IP address"]
    assert not Network.objects.filter(name="Acme").exists()
    assert not AuditEntry.objects.exists()


def test_built_in_networks_cannot_be_renamed_or_deleted(manager):
    default = Network.objects.global_default()
    with pytest.raises(ValidationError):
        services.network_update(actor=manager, network=default, name="Mine")
    with pytest.raises(ValidationError):
        services.network_delete(actor=manager, network=default)
    assert Network.objects.filter(pk=default.pk, name="Global Default Network").exists()


@pytest.mark.parametrize(
    "user_factory, expected",
    [
        (lambda n: HostFactory(network=n), "1 host(s)"),
        (lambda n: AssetGroupFactory(network=n), "1 asset group(s)"),
        (lambda n: ApplianceFactory(network=n), "1 scanner appliance(s)"),
    ],
)
def test_delete_refused_while_in_use(manager, user_factory, expected):
    network = NetworkFactory(name="Acme")
    user_factory(network)
    with pytest.raises(ValidationError) as error:
        services.network_delete(actor=manager, network=network)
    assert expected in error.value.messages[0]
    assert Network.objects.filter(pk=network.pk).exists()


def test_delete_unused_network_is_audited(manager):
    network = services.network_create(actor=manager, name="Acme", address_space="10.0.0.0/24")
    services.network_delete(actor=manager, network=network)
    assert not Network.objects.filter(name="Acme").exists()
    actions = list(
        AuditEntry.objects.filter(object_type="network")
        .order_by("id")
        .values_list("action", "actor_name")
    )
    assert actions == [("create", "manager"), ("delete", "manager")]


def test_assigning_an_appliance_moves_it_from_its_network(manager):
    appliance = ApplianceFactory(network=NetworkFactory(name="Old"))
    network = services.network_create(actor=manager, name="New", appliances=[appliance])
    appliance.refresh_from_db()
    assert appliance.network == network
    entry = AuditEntry.objects.get(object_type="scanner appliance")
    assert entry.changes == {"network": ["Old", "New"]}


def test_update_address_space_is_audited_with_old_and_new(manager):
    network = services.network_create(actor=manager, name="Acme", address_space="10.0.0.0/24")
    services.network_update(actor=manager, network=network, address_space="10.0.0.0/23")
    entry = AuditEntry.objects.filter(action="update").get()
    assert entry.changes == {"address_space": ["10.0.0.0/24", "10.0.0.0/23"]}


def test_heartbeat_makes_an_appliance_online_and_busy():
    appliance = ApplianceFactory()
    assert appliance.status == "offline"
    assert services.appliance_heartbeat(name=appliance.name, version="1", nmap_version="7.93")
    appliance.refresh_from_db()
    assert appliance.status == "online"
    services.appliance_heartbeat(name=appliance.name, running_slices=2)
    appliance.refresh_from_db()
    assert appliance.status == "busy"
    assert not services.appliance_heartbeat(name="nobody")


def test_appliance_goes_offline_when_heartbeats_stop(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER = 30
    appliance = ApplianceFactory(last_seen=timezone.now() - timedelta(seconds=31))
    assert appliance.status == "offline"
    assert appliance not in type(appliance).objects.online()


def test_counters_move_by_deltas_and_never_below_zero(manager):
    network = services.network_create(actor=manager, name="Acme", address_space="10.0.0.0/16")
    services.network_counters_add(network_id=network.pk, hosts=3, open_findings={"4": 2, "2": 1})
    services.network_counters_add(network_id=network.pk, hosts=-1, open_findings={"4": -5})
    network.refresh_from_db()
    assert network.host_count == 2
    assert network.open_findings == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0}


def test_counters_set_leaves_what_is_not_given(manager):
    network = services.network_create(actor=manager, name="Acme", address_space="10.0.0.0/16")
    services.network_counters_set(network_id=network.pk, hosts=7, open_findings={"5": 1})
    services.network_counters_set(network_id=network.pk, hosts=9)
    network.refresh_from_db()
    assert (network.host_count, network.open_findings["5"]) == (9, 1)
