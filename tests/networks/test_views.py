import pytest
from django.urls import reverse

from networks.models import Network, ScannerAppliance
from tests.factories import ApplianceFactory, NetworkFactory

pytestmark = pytest.mark.django_db


def test_manager_creates_network_with_overlapping_space_and_appliance(client_as):
    client = client_as("manager")
    NetworkFactory(name="Acme", space="10.0.0.0/16")
    appliance = ApplianceFactory(name="dc-1", network=Network.objects.global_default())
    response = client.post(
        reverse("networks:network_create"),
        {
            "name": "Globex",
            "description": "acquired",
            "address_space": "10.0.0.0/16",
            "appliances": [appliance.pk],
        },
    )
    network = Network.objects.get(name="Globex")
    assert response.status_code == 302 and response["Location"] == network.get_absolute_url()
    assert ScannerAppliance.objects.get(name="dc-1").network == network
    listing = client.get(reverse("networks:network_list")).content.decode()
    assert "Globex" in listing and "dc-1" in listing
    # Each appliance says its status in words too; a built-in network's space is any address.
    assert '<span class="status-offline" title="offline">dc-1</span>' in listing
    assert "<code>10.0.0.0/16</code>" in listing
    assert listing.count("any address (custom networks&#x27; too)") == 3


def test_bad_address_space_is_shown_on_the_form(client_as):
    response = client_as("manager").post(
        reverse("networks:network_create"),
        {"name": "Acme", "address_space": "10.0.0.1-10.0.0.0, 10.0.0.5"},
    )
    assert response.status_code == 200
    assert "&#x27;10.0.0.1-10.0.0.0&#x27; ends before it starts" in response.content.decode()
    assert not Network.objects.filter(name="Acme").exists()


def test_reader_sees_no_new_button_and_is_refused_the_form(client_as):
    client = client_as("reader")
    page = client.get(reverse("networks:network_list")).content.decode()
    assert "Networks" in page
    assert reverse("networks:network_create") not in page
    assert client.get(reverse("networks:network_create")).status_code == 403
    assert client.post(reverse("networks:network_create"), {"name": "X"}).status_code == 403
    assert not Network.objects.filter(name="X").exists()


def test_delete_in_use_network_shows_reason_and_keeps_it(client_as):
    network = NetworkFactory(name="Acme")
    ApplianceFactory(network=network)
    client = client_as("manager")
    page = client.get(reverse("networks:network_delete", args=[network.pk])).content.decode()
    assert "still used by 1 scanner appliance(s)" in page
    response = client.post(reverse("networks:network_delete", args=[network.pk]), follow=True)
    assert "still used by" in response.content.decode()
    assert Network.objects.filter(pk=network.pk).exists()


def test_built_in_network_edit_form_keeps_its_name(client_as):
    default = Network.objects.global_default()
    client = client_as("manager")
    response = client.post(
        reverse("networks:network_update", args=[default.pk]),
        {"name": "Renamed", "description": "ours"},
    )
    assert response.status_code == 302
    default.refresh_from_db()
    assert default.name == "Global Default Network" and default.description == "ours"


def test_manager_moves_appliance_to_another_network(client_as):
    appliance = ApplianceFactory(name="dc-1", network=NetworkFactory(name="Old"))
    new = NetworkFactory(name="New")
    response = client_as("manager").post(
        reverse("networks:appliance_update", args=[appliance.pk]),
        {"name": "dc-1", "network": new.pk, "description": ""},
    )
    assert response.status_code == 302
    appliance.refresh_from_db()
    assert appliance.network == new


def test_network_list_query_count_does_not_grow_with_rows(client_as, django_assert_max_num_queries):
    client = client_as("manager")
    for i in range(30):
        ApplianceFactory(network=NetworkFactory(name=f"N{i}", space=f"10.{i}.0.0/16"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("networks:network_list"))
    assert response.status_code == 200


def test_htmx_request_gets_only_the_table(client_as):
    response = client_as("reader").get(reverse("networks:network_list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<table" in body and "<html" not in body


def test_networks_tab_hidden_when_network_support_is_off(client_as, settings):
    settings.ENCLAVE_NETWORKS_ENABLED = False
    client = client_as("manager")
    assert client.get(reverse("networks:network_list")).status_code == 404
    page = client.get(reverse("accounts:user_list")).content.decode()
    assert f'href="{reverse("networks:network_list")}"' not in page
    form = client.get(reverse("networks:appliance_create")).content.decode()
    assert "Global Default Network" in form and "Global EC2 Network" not in form
