"""The Azure connector end to end: the real Azure SDK (azure-identity,
azure-mgmt-compute, azure-mgmt-network), pointed by the connector's
``authority_host`` and ``resource_manager_url`` at the HTTPS fake of
tests/assets/azure_fake.py on loopback, trusted through REQUESTS_CA_BUNDLE
as a private CA would be."""

import logging
import os

import pytest
from cryptography.fernet import Fernet

from assets import connector_services as services
from assets.models import CloudInstance, ConnectorRunStatus, Host
from networks.models import Network, NetworkKind
from tests.assets.azure_fake import AzureFake, tls_files
from tests.factories import NetworkFactory, UserFactory

pytestmark = pytest.mark.django_db
TENANT = "3f1c9a7e-0d2b-4c55-9e61-7a8b9c0d1e2f"
CLIENT = "b6e2d9f0-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
SECRET = "fake~Secret.Value_1234567890abcdefghij"
SUB = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    cert, key = tls_files(tmp_path_factory.mktemp("azure-tls"))
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    yield cert, key
    if before is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = before


@pytest.fixture
def azure(tls):
    fake = AzureFake(tenant=TENANT, client_id=CLIENT, client_secret=SECRET, page_size=2)
    fake.subscription(SUB)
    fake.url = fake.start(*tls)
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def connector_key(settings):
    settings.ENCLAVE_CONNECTOR_KEY = Fernet.generate_key().decode()


@pytest.fixture
def manager():
    return UserFactory(username="manager", role="manager")


def make_connector(manager, azure, secret=SECRET, mappings=(), subscriptions=(SUB,)):
    return services.connector_create(
        actor=manager,
        name="Azure prod",
        kind="azure",
        credentials={"tenant_id": TENANT, "client_id": CLIENT, "client_secret": secret},
        scopes=list(subscriptions),
        authority_host=azure.url,
        resource_manager_url=azure.url,
        mappings=mappings,
    )


def run_now(manager, connector):
    run = services.connector_run_start(actor=manager, connector=connector)
    return services.connector_run_execute(run=run)


def record(name):
    return CloudInstance.objects.select_related("host__network").get(name=name)


def test_vms_become_hosts_and_vnets_with_the_same_cidr_stay_apart(azure, manager):
    azure.add_vm(SUB, "plc", private_ip="10.0.0.4", vnet="vnet-plant", tags={"site": "plant"})
    azure.add_vm(SUB, "mail", private_ip="10.0.0.4", vnet="vnet-office", public_ip="20.1.2.3")
    azure.add_vm(SUB, "spare", private_ip="10.0.0.9", vnet="vnet-lab", power="deallocated")
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    office = NetworkFactory(name="Office", space="10.0.0.0/16")
    connector = make_connector(
        manager,
        azure,
        mappings=[
            {"vpc": azure.vnet_id(SUB, "vnet-plant"), "network": plant.pk},
            # Azure ids are case-insensitive: a mapping typed in other case still applies.
            {"vpc": azure.vnet_id(SUB, "vnet-office").upper(), "network": office.pk},
        ],
    )
    run = run_now(manager, connector)
    assert run.status == ConnectorRunStatus.FINISHED, run.error
    assert run.counts == {"seen": 3, "new": 3, "updated": 0, "gone": 0, "purged": 0}
    assert (record("plc").host.network, record("plc").host.ip) == (plant, "10.0.0.4")
    assert (record("mail").host.network, record("mail").host.ip) == (office, "10.0.0.4")
    spare = record("spare")
    assert spare.host.network.kind == NetworkKind.GLOBAL_AZURE
    assert spare.state == "deallocated"
    mail = record("mail")
    assert mail.public_ip == "20.1.2.3" and mail.region == "westeurope"
    assert mail.image == "Canonical:ubuntu-24_04-lts:server:latest" and mail.os == "Linux"
    assert set(record("plc").host.tags.values_list("name", flat=True)) == {"site:plant"}


def test_a_vm_whose_ip_changes_is_the_same_host(azure, manager):
    vm = azure.add_vm(SUB, "app", private_ip="10.0.0.4")
    connector = make_connector(manager, azure)
    run_now(manager, connector)
    host = record("app").host
    vm["private_ip"] = "10.0.0.17"  # a dynamic address after deallocation
    run = run_now(manager, connector)
    assert run.counts["updated"] == 1
    moved = record("app").host
    assert moved.pk == host.pk and moved.ip == "10.0.0.17"
    assert Network.objects.get(kind=NetworkKind.GLOBAL_AZURE).hosts.count() == 1


def test_a_deleted_vm_vanishes_and_its_ip_reused_is_a_new_host(azure, manager):
    azure.add_vm(SUB, "old", private_ip="10.0.0.4")
    connector = make_connector(manager, azure)
    run_now(manager, connector)
    old_host = record("old").host
    del azure.subscriptions[SUB]["old"]
    azure.add_vm(SUB, "new", private_ip="10.0.0.4")
    run = run_now(manager, connector)
    assert run.counts["gone"] == 1 and run.counts["new"] == 1
    assert record("old").state == "vanished" and record("old").gone_at is not None
    assert record("new").host.ip == "10.0.0.4" and record("new").host.pk != old_host.pk


def test_long_lists_are_followed_through_their_next_links(azure, manager):
    for n in range(7):
        azure.add_vm(SUB, f"node{n}", private_ip=f"10.0.1.{n + 10}", public_ip=f"20.0.0.{n + 1}")
    run = run_now(manager, make_connector(manager, azure))
    assert run.counts["new"] == 7
    # 7 items, 2 a page: 4 pages of each list (and the power states).
    assert azure.pages_of("Microsoft.Compute/virtualMachines") == 8
    assert azure.pages_of("Microsoft.Network/networkInterfaces") == 4
    assert azure.pages_of("Microsoft.Network/publicIPAddresses") == 4
    assert sorted(CloudInstance.objects.values_list("public_ip", flat=True)) == [
        f"20.0.0.{n + 1}" for n in range(7)
    ]


def test_a_wrong_client_secret_is_a_clear_error_and_the_hosts_stay(azure, manager):
    azure.add_vm(SUB, "app", private_ip="10.0.0.4")
    connector = make_connector(manager, azure)
    run_now(manager, connector)
    before = list(Host.objects.values_list("pk", "network_id", "ip"))
    del azure.subscriptions[SUB]["app"]  # would vanish, if the run could read
    services.connector_update(
        actor=manager, connector=connector, credentials={"client_secret": "not-the-secret"}
    )
    run = run_now(manager, connector)
    assert run.status == ConnectorRunStatus.ERROR
    assert run.error == (
        f"Azure rejected the client id/secret for tenant {TENANT} (client …{CLIENT[-4:]})."
    )
    assert list(Host.objects.values_list("pk", "network_id", "ip")) == before
    assert record("app").gone_at is None


def test_an_unknown_subscription_is_named(azure, manager):
    other = "99999999-8888-7777-6666-555555555555"
    run = run_now(manager, make_connector(manager, azure, subscriptions=(other,)))
    assert run.status == ConnectorRunStatus.ERROR
    assert run.error == f"Azure does not know the subscription {other} (SubscriptionNotFound)."


def test_a_run_logs_no_secret(azure, manager, caplog):
    azure.add_vm(SUB, "app", private_ip="10.0.0.4")
    connector = make_connector(manager, azure)
    caplog.set_level(logging.DEBUG)
    assert run_now(manager, connector).status == ConnectorRunStatus.FINISHED
    services.connector_update(
        actor=manager, connector=connector, credentials={"client_secret": "wrong-secret-x"}
    )
    assert run_now(manager, connector).status == ConnectorRunStatus.ERROR
    assert "azure" in caplog.text  # the SDK's own log was captured too
    assert SECRET not in caplog.text and "wrong-secret-x" not in caplog.text


def test_the_celery_task_runs_a_queued_run_once(azure, manager):
    from assets import tasks

    azure.add_vm(SUB, "app", private_ip="10.0.0.4")
    run = services.connector_run_start(actor=manager, connector=make_connector(manager, azure))
    tasks.connector_run.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == ConnectorRunStatus.FINISHED and run.counts["new"] == 1
    finished_at, tokens = run.finished_at, len(azure.tokens)
    tasks.connector_run.apply(args=[run.pk])  # redelivered: a finished run is left alone
    run.refresh_from_db()
    assert run.finished_at == finished_at and len(azure.tokens) == tokens
