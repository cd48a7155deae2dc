"""Option profiles' port lists: what nmap will accept is all that is saved.

Through the service, the form page and the API: ASCII digits only (nmap
refuses "８０" at scan time), ports within 1-65535, ranges low-high, no empty
items; every message names the bad token, and nothing is saved.
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from scans import services
from scans.models import OptionProfile

pytestmark = pytest.mark.django_db


def create(**kw):
    return services.option_profile_create(
        actor=None, name=kw.pop("name", "Ports"), tcp_port_set="custom", **kw
    )


@pytest.mark.parametrize(
    "ports, message",
    [
        ("８０", "'８０' is not a port or a port range: write ports with the digits 0-9"),
        ("22,٤٤٣", "'٤٤٣' is not a port or a port range: write ports with the digits 0-9"),
        ("8０80", "'8０80' is not a port or a port range: write ports with the digits 0-9"),
        ("1-１0", "'1-１0' is not a port or a port range: write ports with the digits 0-9"),
        ("22,²²", "'²²' is not a port or a port range: write ports with the digits 0-9"),
        ("80,,443", "'80,,443' has an empty item: remove the extra comma"),
        ("80,443,", "'80,443,' has an empty item: remove the extra comma"),
        (",80", "',80' has an empty item: remove the extra comma"),
        ("100-10", "'100-10' ends before it starts"),
        ("0", "'0' is outside 1-65535"),
        ("80,65536", "'65536' is outside 1-65535"),
        ("1-70000", "'1-70000' is outside 1-65535"),
        ("123456", "'123456' is outside 1-65535"),
        ("80-", "'80-' is not a port or a port range"),
        ("http", "'http' is not a port or a port range"),
    ],
)
def test_service_refuses_a_bad_tcp_port_list_naming_the_token(ports, message):
    with pytest.raises(ValidationError) as caught:
        create(tcp_ports=ports)
    assert caught.value.message_dict["tcp_ports"] == [message]
    assert not OptionProfile.objects.filter(name="Ports").exists()


def test_service_refuses_unicode_digits_in_udp_ports_and_on_update():
    with pytest.raises(ValidationError) as caught:
        create(tcp_ports="80", udp_ports="５３")
    assert caught.value.message_dict == {
        "udp_ports": ["'５３' is not a port or a port range: write ports with the digits 0-9"]
    }
    profile = create(tcp_ports="80", udp_ports="53")
    with pytest.raises(ValidationError) as caught:
        services.option_profile_update(actor=None, profile=profile, tcp_ports="４４３")
    assert "'４４３'" in caught.value.message_dict["tcp_ports"][0]
    profile.refresh_from_db()
    assert (profile.tcp_ports, profile.udp_ports) == ("80", "53")


def test_service_names_every_bad_token_at_once():
    with pytest.raises(ValidationError) as caught:
        create(tcp_ports="22,,８０, 90-80")
    assert caught.value.message_dict["tcp_ports"] == [
        "'22,,８０, 90-80' has an empty item: remove the extra comma",
        "'８０' is not a port or a port range: write ports with the digits 0-9",
        "'90-80' ends before it starts",
    ]


def test_service_normalises_a_good_list():
    profile = create(tcp_ports=" 22, 80 443\n8000-8100 ", udp_ports="53, 161")
    assert (profile.tcp_ports, profile.udp_ports) == ("22,80,443,8000-8100", "53,161")
    assert profile.nmap_tcp_ports == "22,80,443,8000-8100"


def form(**extra):
    return {
        "name": "Form ports",
        "tcp_port_set": "custom",
        "tcp_ports": "80",
        "udp_ports": "",
        "max_parallel_hosts": 4,
        "host_timeout": 60,
        **extra,
    }


def test_form_page_refuses_unicode_digits_and_empty_items(client_as):
    client = client_as("scanner")
    response = client.post(
        reverse("scans:option_profile_create"), form(tcp_ports="８０", udp_ports="53,,161")
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["tcp_ports"] == [
        "'８０' is not a port or a port range: write ports with the digits 0-9"
    ]
    assert errors["udp_ports"] == ["'53,,161' has an empty item: remove the extra comma"]
    assert "write ports with the digits 0-9" in response.content.decode()
    assert not OptionProfile.objects.filter(name="Form ports").exists()
    response = client.post(reverse("scans:option_profile_create"), form())
    assert response.status_code == 302
    profile = OptionProfile.objects.get(name="Form ports")
    url = reverse("scans:option_profile_update", args=[profile.pk])
    response = client.post(url, form(tcp_ports="443-80"))
    assert response.context["form"].errors["tcp_ports"] == ["'443-80' ends before it starts"]
    profile.refresh_from_db()
    assert profile.tcp_ports == "80"


def test_api_answers_400_with_the_message(api_as):
    api = api_as("scanner")
    response = api.post(
        "/api/v1/option-profiles/", {"name": "API ports", "tcp_ports": "８０,443"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "tcp_ports": ["'８０' is not a port or a port range: write ports with the digits 0-9"]
    }
    response = api.post(
        "/api/v1/option-profiles/",
        {"name": "API ports", "tcp_ports": "80", "udp_ports": "53,,70000"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["udp_ports"] == [
        "'53,,70000' has an empty item: remove the extra comma",
        "'70000' is outside 1-65535",
    ]
    assert not OptionProfile.objects.filter(name="API ports").exists()
    created = api.post(
        "/api/v1/option-profiles/", {"name": "API ports", "tcp_ports": "80"}, format="json"
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/option-profiles/{created.json()['id']}/"
    response = api.patch(url, {"tcp_ports": "100-10"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"tcp_ports": ["'100-10' ends before it starts"]}
    assert api.get(url).json()["tcp_ports"] == "80"
