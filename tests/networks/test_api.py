import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from networks.models import Network
from tests.factories import ApplianceFactory, NetworkFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_token_endpoint_returns_a_working_token():
    UserFactory(username="alice", role="reader")
    api = APIClient()
    response = api.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "correct-horse-battery"},
        format="json",
    )
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/networks/").status_code == 200


def test_no_login_is_401():
    assert APIClient().get("/api/v1/networks/").status_code == 401


def test_list_is_paginated_with_built_in_networks(api_as):
    body = api_as("reader").get("/api/v1/networks/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert {n["kind"] for n in body["results"]} >= {"global_default", "global_ec2", "global_azure"}
    assert set(body["results"][0]) == {
        "id",
        "name",
        "description",
        "kind",
        "address_space",
        "appliances",
        "host_count",
    }


def test_manager_creates_overlapping_network_and_space_is_normalised(api_as):
    api = api_as("manager")
    NetworkFactory(name="Acme", space="10.0.0.0/16")
    response = api.post(
        "/api/v1/networks/",
        {"name": "Globex", "address_space": "10.0.0.0/17\n10.0.128.0/17"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["address_space"] == "10.0.0.0/16"
    assert response.json()["kind"] == "custom"


def test_bad_address_is_400_naming_the_token(api_as):
    response = api_as("manager").post(
        "/api/v1/networks/", {"name": "Acme", "address_space": "10.0.0.300"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"address_space": ["'10.0.0.300' is not an IP address"]}
    assert not Network.objects.filter(name="Acme").exists()


@pytest.mark.parametrize("role", ["reader", "scanner"])
def test_non_managers_cannot_write_networks_or_appliances(api_as, role):
    api = api_as(role)
    network = NetworkFactory(name="Acme")
    assert api.post("/api/v1/networks/", {"name": "X"}, format="json").status_code == 403
    assert (
        api.patch(f"/api/v1/networks/{network.pk}/", {"name": "Y"}, format="json").status_code
        == 403
    )
    assert api.delete(f"/api/v1/networks/{network.pk}/").status_code == 403
    assert (
        api.post(
            "/api/v1/appliances/", {"name": "a", "network": network.pk}, format="json"
        ).status_code
        == 403
    )
    assert not AuditEntry.objects.exists()


def test_built_in_network_cannot_be_renamed_or_deleted(api_as):
    api = api_as("manager")
    default = Network.objects.global_default()
    assert (
        api.patch(f"/api/v1/networks/{default.pk}/", {"name": "Mine"}, format="json").status_code
        == 400
    )
    assert api.delete(f"/api/v1/networks/{default.pk}/").status_code == 400


def test_patch_appliance_network_moves_it(api_as):
    api = api_as("manager")
    appliance = ApplianceFactory(network=NetworkFactory(name="Old"))
    new = NetworkFactory(name="New")
    response = api.patch(f"/api/v1/appliances/{appliance.pk}/", {"network": new.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["network"] == new.pk and response.json()["status"] == "offline"
    listed = api.get(f"/api/v1/networks/{new.pk}/").json()
    assert listed["appliances"] == [appliance.pk]


def test_users_are_manager_only_and_roles_are_set(api_as):
    assert api_as("scanner").get("/api/v1/users/").status_code == 403
    api = api_as("manager")
    created = api.post(
        "/api/v1/users/",
        {"username": "bob", "role": "scanner", "password": "a-long-password-1"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert "password" not in created.json()
    bob = created.json()["id"]
    assert (
        api.patch(
            f"/api/v1/users/{bob}/", {"role": "reader", "is_active": False}, format="json"
        ).json()["role"]
        == "reader"
    )
    assert (
        APIClient()
        .post(
            "/api/v1/auth/token/",
            {"username": "bob", "password": "a-long-password-1"},
            format="json",
        )
        .status_code
        == 400
    )


def test_schema_and_docs_are_served(api_as):
    api = api_as("reader")
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/networks/" in schema.json()["paths"]
