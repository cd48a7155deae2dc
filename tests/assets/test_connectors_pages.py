"""Connectors through the pages, the API and the beat: what a Manager sends is
checked, credentials are sealed and never answered, rendered or audited,
runs are started on demand and on schedule, and the page polls a run."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Role
from assets import connector_services as services
from assets.models import Connector, ConnectorRun, ConnectorRunStatus
from networks.models import Network, NetworkKind
from tests.factories import NetworkFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY_ID = "AKIAEXAMPLEKEYID1234"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZ_SECRET = "azure~client.secret_value-0123456789"
TENANT = "3f1c9a7e-0d2b-4c55-9e61-7a8b9c0d1e2f"
CLIENT = "b6e2d9f0-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
SUB = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(autouse=True)
def connector_key(settings):
    settings.ENCLAVE_CONNECTOR_KEY = Fernet.generate_key().decode()
    return settings


@pytest.fixture
def manager():
    return UserFactory(username="manager", role=Role.MANAGER)


def aws_connector(manager, **extra):
    arguments = {
        "name": "AWS prod",
        "kind": "aws_ec2",
        "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET},
        "scopes": ["eu-west-1"],
        "endpoint_url": "http://127.0.0.1:9",
    }
    return services.connector_create(actor=manager, **{**arguments, **extra})


def assert_no_secret(text: str):
    for secret in (SECRET, AZ_SECRET, KEY_ID):
        assert secret not in text


# --- Pages ------------------------------------------------------------------------------


def test_a_manager_creates_an_aws_connector_with_mappings_on_the_page(client, manager):
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    client.force_login(manager)
    response = client.post(
        reverse("assets:connector_create"),
        {
            "name": "AWS prod",
            "kind": "aws_ec2",
            "schedule": "hourly",
            "access_key_id": KEY_ID,
            "secret_access_key": SECRET,
            "regions": "eu-west-1, us-east-1",
            "endpoint_url": "",
            "mappings-TOTAL_FORMS": "2",
            "mappings-INITIAL_FORMS": "0",
            "mappings-0-vpc": "vpc-0a1b2c3d",
            "mappings-0-network": str(plant.pk),
            "mappings-1-vpc": "",
            "mappings-1-network": "",
        },
    )
    connector = Connector.objects.get()
    assert response.status_code == 302 and response["Location"] == connector.get_absolute_url()
    assert connector.scopes == ["eu-west-1", "us-east-1"]
    assert [(m.cloud_network, m.network) for m in connector.mappings.all()] == [
        ("vpc-0a1b2c3d", plant)
    ]
    assert connector.credentials_hint == "access key …1234"
    assert SECRET not in connector.credentials_sealed and KEY_ID not in connector.credentials_sealed
    for url in (
        connector.get_absolute_url(),
        reverse("assets:connector_update", args=[connector.pk]),
        reverse("assets:connector_list"),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert_no_secret(page.content.decode())
    assert_no_secret(str(list(AuditEntry.objects.values_list("changes", flat=True))))


def test_the_form_names_what_is_wrong_and_saves_nothing(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("assets:connector_create"),
        {
            "name": "Azure",
            "kind": "azure",
            "schedule": "daily",
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret": AZ_SECRET,
            "subscriptions": "not-a-guid",
            "authority_host": "http://login.example",
            "mappings-TOTAL_FORMS": "1",
            "mappings-INITIAL_FORMS": "0",
            "mappings-0-vpc": "vpc-1",
            "mappings-0-network": str(NetworkFactory(name="Plant").pk),
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "&#x27;not-a-guid&#x27; is not an Azure subscription id" in text
    assert "&#x27;http://login.example&#x27; is not an https:// URL" in text
    assert "is not a VNet resource id" in text
    assert AZ_SECRET not in text  # a refused form does not echo the secret either
    assert not Connector.objects.exists()


def test_without_a_connector_key_credentials_are_refused_saying_what_to_set(
    client, manager, connector_key
):
    connector_key.ENCLAVE_CONNECTOR_KEY = ""
    with pytest.raises(Exception) as refused:
        aws_connector(manager)
    assert "ENCLAVE_CONNECTOR_KEY" in str(refused.value)
    assert not Connector.objects.exists()


def test_edit_keeps_credentials_left_blank_and_replaces_those_typed(client, manager):
    from assets.connectors.sealing import unseal

    connector = aws_connector(manager)
    client.force_login(manager)
    response = client.post(
        reverse("assets:connector_update", args=[connector.pk]),
        {
            "name": "AWS production",
            "schedule": "manual",
            "access_key_id": "",
            "secret_access_key": "a-new-secret-value",
            "regions": "eu-west-1",
            "endpoint_url": "",
            "mappings-TOTAL_FORMS": "0",
            "mappings-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    connector.refresh_from_db()
    stored = unseal(connector.credentials_sealed, django_settings.ENCLAVE_CONNECTOR_KEY)
    assert stored == {"access_key_id": KEY_ID, "secret_access_key": "a-new-secret-value"}
    assert (connector.name, connector.schedule, connector.next_run) == (
        "AWS production",
        "manual",
        None,
    )
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.UPDATE).latest("pk")
    assert entry.changes["credentials"] == "replaced: secret_access_key"
    assert "a-new-secret-value" not in str(entry.changes)


def test_run_now_queues_a_run_and_the_page_polls_it_until_done(client, manager):
    connector = aws_connector(manager)
    client.force_login(manager)
    response = client.post(reverse("assets:connector_run", args=[connector.pk]))
    assert response.status_code == 302
    run = ConnectorRun.objects.get()
    assert run.status == ConnectorRunStatus.QUEUED and run.requested_by == manager
    partial = client.get(connector.get_absolute_url(), HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert text.lstrip().startswith('<section class="card" id="connector-progress"')
    assert 'hx-trigger="every 1s"' in text
    # A second Run now while it is queued is refused with a message, not a second run.
    client.post(reverse("assets:connector_run", args=[connector.pk]))
    assert ConnectorRun.objects.count() == 1
    run.status = ConnectorRunStatus.ERROR
    run.error = "AWS rejected the access key …1234 (AuthFailure) in region eu-west-1"
    run.save()
    done = client.get(connector.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in done and "AWS rejected the access key …1234" in done


def test_a_run_whose_credentials_no_key_opens_ends_in_a_clear_error(manager, connector_key):
    connector = aws_connector(manager)
    connector_key.ENCLAVE_CONNECTOR_KEY = Fernet.generate_key().decode()  # the key was changed
    run = services.connector_run_start(actor=manager, connector=connector)
    run = services.connector_run_execute(run=run)
    assert run.status == ConnectorRunStatus.ERROR
    assert "do not open with ENCLAVE_CONNECTOR_KEY" in run.error


# --- API --------------------------------------------------------------------------------


def test_the_api_takes_credentials_and_never_answers_them(api_as):
    api = api_as(Role.MANAGER)
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    created = api.post(
        "/api/v1/connectors/",
        {
            "name": "AWS prod",
            "kind": "aws_ec2",
            "access_key_id": KEY_ID,
            "secret_access_key": SECRET,
            "regions": ["eu-west-1"],
            "endpoint_url": "https://ec2.example.internal",
            "mappings": [{"vpc": "vpc-0a1b2c3d", "network": plant.pk}],
            "schedule": "daily",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["regions"] == ["eu-west-1"]
    assert body["mappings"] == [{"vpc": "vpc-0a1b2c3d", "network": plant.pk}]
    assert body["credentials"] == "access key …1234"
    assert body["last_run"] is None and body["last_status"] is None and body["last_counts"] == {}
    for field in ("access_key_id", "secret_access_key", "role_arn", "client_secret"):
        assert field not in body
    listing = api.get("/api/v1/connectors/")
    detail = api.get(f"/api/v1/connectors/{body['id']}/")
    patched = api.patch(
        f"/api/v1/connectors/{body['id']}/", {"secret_access_key": "rotated"}, format="json"
    )
    assert patched.status_code == 200
    for response in (created, listing, detail, patched):
        assert_no_secret(response.content.decode())
        assert "rotated" not in response.content.decode()


def test_the_api_refuses_what_the_service_refuses(api_as):
    api = api_as(Role.MANAGER)
    default = Network.objects.get(kind=NetworkKind.GLOBAL_DEFAULT)
    refused = api.post(
        "/api/v1/connectors/",
        {
            "name": "AWS",
            "kind": "aws_ec2",
            "access_key_id": KEY_ID,
            "regions": ["eu-west-1", "mars-north-9z"],
            "mappings": [{"vpc": "vpc-1", "network": default.pk}],
        },
        format="json",
    )
    assert refused.status_code == 400
    errors = refused.json()
    assert errors["secret_access_key"] == ["This field is required."]
    assert errors["regions"] == ["'mars-north-9z' is not an AWS region (e.g. eu-west-1)"]
    assert "custom network" in errors["mappings"][0]
    assert not Connector.objects.exists()


def test_the_kind_is_fixed_and_a_run_answers_its_id(api_as, manager):
    connector = aws_connector(manager)
    api = api_as(Role.MANAGER)
    changed = api.patch(f"/api/v1/connectors/{connector.pk}/", {"kind": "azure"}, format="json")
    assert changed.status_code == 400 and "fixed" in changed.json()["kind"][0]
    started = api.post(f"/api/v1/connectors/{connector.pk}/run/")
    assert started.status_code == 202
    run = ConnectorRun.objects.get()
    assert started.json() == {"id": run.pk, "status": "queued"}
    again = api.post(f"/api/v1/connectors/{connector.pk}/run/")
    assert again.status_code == 400 and "already being read" in str(again.json())
    assert api.get(f"/api/v1/connectors/{connector.pk}/").json()["last_status"] == "queued"
    assert api.get("/api/v1/connectors/abc/").status_code == 404


@pytest.mark.parametrize("role", [Role.SCANNER, Role.READER])
def test_only_managers_see_connectors(api_as, client, user_of_role, manager, role):
    connector = aws_connector(manager)
    assert api_as(role).get(f"/api/v1/connectors/{connector.pk}/").status_code == 403
    client.force_login(user_of_role(role))
    assert client.get(connector.get_absolute_url()).status_code == 403
    assert "Connectors" not in client.get(reverse("assets:host_list")).content.decode()


# --- Schedule -------------------------------------------------------------------------


def test_the_beat_starts_due_connectors_and_moves_their_next_run(manager):
    due = aws_connector(manager, name="due", schedule="hourly")
    later = aws_connector(manager, name="later", schedule="daily")
    manual = aws_connector(manager, name="manual", schedule="manual")
    now = timezone.now()
    Connector.objects.filter(pk=later.pk).update(next_run=now + timedelta(hours=3))
    assert services.connectors_run_due(now=now + timedelta(seconds=1)) == 1
    assert list(ConnectorRun.objects.values_list("connector__name", "trigger")) == [
        ("due", "schedule")
    ]
    due.refresh_from_db()
    assert due.next_run > now + timedelta(minutes=59)
    assert manual.next_run is None
    # Still queued at a later tick: not started twice.
    assert services.connectors_run_due(now=now + timedelta(hours=2)) == 0
    assert ConnectorRun.objects.count() == 1
    # A run queued for longer than any task may take was lost: it no longer blocks.
    assert services.connectors_run_due(now=now + timedelta(hours=5)) == 2
    lost = ConnectorRun.objects.earliest("pk")
    assert lost.status == ConnectorRunStatus.ERROR and "lost" in lost.error


def test_the_beat_schedule_names_the_task():
    from assets.tasks import connectors_run_due

    entry = django_settings.CELERY_BEAT_SCHEDULE["assets-connectors-run"]
    assert entry["task"] == connectors_run_due.name
