"""Appliance names become queue names ("appliance.<name>"): ASCII letters, digits,
- and _ only, at most 64 characters, unique regardless of case, in the service,
the pages, the API, the database and ``run_appliance``."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from networks import services
from networks.models import ScannerAppliance, validate_appliance_name
from tests.factories import ApplianceFactory, NetworkFactory

pytestmark = pytest.mark.django_db

BAD_NAMES = [
    "lab.1",  # a dot would change the queue's meaning to a broker
    "lab 1",
    "läb",  # "\w" matches Unicode letters; a queue name must not
    "ＬＡＢ",  # fullwidth letters
    "lab٣",  # an Arabic-Indic digit, also "\w"
    "lab\nx",
    "lab/1",
    "lab:1",
    "*",
    "a" * 65,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_service_refuses_names_that_are_not_letters_digits_dash_underscore(manager, name):
    with pytest.raises(ValidationError) as caught:
        services.appliance_create(actor=manager, name=name, network=NetworkFactory())
    assert "name" in caught.value.message_dict
    assert not ScannerAppliance.objects.exists()


def test_the_rule_itself_refuses_a_trailing_newline():
    """The service strips surrounding blanks; the rule alone (run_appliance uses it
    as is) must not let "$" accept "lab\\n"."""
    with pytest.raises(ValidationError):
        validate_appliance_name("lab\n")


@pytest.mark.parametrize("name", ["lab", "Lab-1", "dc_2", "A" * 64, "0"])
def test_service_accepts_ascii_letters_digits_dash_underscore(manager, name):
    appliance = services.appliance_create(actor=manager, name=name, network=NetworkFactory())
    assert appliance.queue == f"appliance.{name}"


def test_rename_to_a_bad_name_is_refused_and_nothing_changes(manager):
    appliance = ApplianceFactory(name="lab")
    with pytest.raises(ValidationError, match="letters"):
        services.appliance_update(actor=manager, appliance=appliance, name="läb")
    appliance.refresh_from_db()
    assert appliance.name == "lab"


def test_names_are_unique_regardless_of_case(manager):
    ApplianceFactory(name="Lab-1")
    with pytest.raises(ValidationError) as caught:
        services.appliance_create(actor=manager, name="lab-1", network=NetworkFactory())
    assert caught.value.message_dict == {"name": ["An appliance named 'Lab-1' already exists."]}
    other = ApplianceFactory(name="dc")
    with pytest.raises(ValidationError, match="An appliance named 'Lab-1' already exists"):
        services.appliance_update(actor=manager, appliance=other, name="LAB-1")
    # Its own name in another case is a rename, not a clash.
    services.appliance_update(actor=manager, appliance=other, name="DC")
    other.refresh_from_db()
    assert other.name == "DC"


def test_the_database_refuses_a_case_duplicate_written_around_the_service():
    ApplianceFactory(name="lab")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScannerAppliance.objects.create(name="LAB", network=NetworkFactory())


def test_a_clash_the_check_missed_is_still_a_clear_error(manager, monkeypatch):
    """Two requests check at once and both pass: the insert that loses the race
    answers the same error instead of an IntegrityError."""
    ApplianceFactory(name="lab")
    real, calls = services._appliance_name_taken, []

    def missed_once(appliance):
        calls.append(appliance.name)
        return None if len(calls) == 1 else real(appliance)

    monkeypatch.setattr(services, "_appliance_name_taken", missed_once)
    with pytest.raises(ValidationError) as caught:
        services.appliance_create(actor=manager, name="LAB", network=NetworkFactory())
    assert caught.value.message_dict == {"name": ["An appliance named 'lab' already exists."]}
    assert calls == ["LAB", "LAB"]


def test_page_shows_the_rule_and_the_clash(client_as):
    client = client_as("manager")
    network = NetworkFactory()
    page = client.post(
        reverse("networks:appliance_create"), {"name": "läb", "network": network.pk}
    ).content.decode()
    assert "may use only letters" in page
    ApplianceFactory(name="Lab")
    page = client.post(
        reverse("networks:appliance_create"), {"name": "lab", "network": network.pk}
    ).content.decode()
    assert "An appliance named &#x27;Lab&#x27; already exists." in page
    assert ScannerAppliance.objects.count() == 1


def test_api_answers_400_naming_the_field(api_as):
    api = api_as("manager")
    network = NetworkFactory()
    response = api.post("/api/v1/appliances/", {"name": "läb", "network": network.pk})
    assert response.status_code == 400
    assert "may use only letters" in response.json()["name"][0]
    ApplianceFactory(name="Lab")
    response = api.post("/api/v1/appliances/", {"name": "LAB", "network": network.pk})
    assert response.status_code == 400
    assert response.json() == {"name": ["An appliance named 'Lab' already exists."]}
    appliance = ApplianceFactory(name="dc")
    response = api.patch(f"/api/v1/appliances/{appliance.pk}/", {"name": "lab"})
    assert (response.status_code, response.json()) == (
        400,
        {"name": ["An appliance named 'Lab' already exists."]},
    )


@pytest.mark.parametrize("name", ["läb", "lab.1", "lab\n"])
def test_run_appliance_refuses_the_same_names(name, monkeypatch):
    def started(*args, **kwargs):
        raise AssertionError(f"run_appliance went on to start {name!r}")

    # The first thing the command does after the name check: a name let through
    # fails here instead of starting a worker.
    monkeypatch.setattr("scans.engine.runner.nmap_version", started)
    with pytest.raises(CommandError, match="may use only letters"):
        call_command("run_appliance", name)


@pytest.mark.django_db(transaction=True)
def test_migration_stops_on_names_the_rule_refuses():
    """Both refusals in one trip back through the migrations (a trip costs
    15-20 s on PostgreSQL); the refused migration changes nothing, so the
    second case starts where the first did."""
    refused = [
        (["Lab", "lab"], "'Lab' and 'lab' differ only in case"),
        (["läb"], "'läb' uses characters other than letters, digits, - and _"),
    ]
    executor = MigrationExecutor(connection)
    before, after = ("networks", "0002_built_in_networks"), ("networks", "0003_appliance_name_rule")
    executor.migrate([before])
    try:
        old = MigrationExecutor(connection).loader.project_state([before]).apps
        network = old.get_model("networks", "Network").objects.create(name="Old")
        for names, problem in refused:
            for name in names:
                old.get_model("networks", "ScannerAppliance").objects.create(
                    name=name, network=network
                )
            with pytest.raises(RuntimeError, match="rename these appliances") as caught:
                MigrationExecutor(connection).migrate([after])
            assert problem in str(caught.value)
            old.get_model("networks", "ScannerAppliance").objects.all().delete()
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
