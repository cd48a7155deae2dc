"""A Manager creates an overlapping network and an appliance in a real browser;
a Reader sees the networks but no New button."""

import pytest

from tests.factories import NetworkFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_creates_overlapping_network_and_appliance(page, login):
    NetworkFactory(name="Acme Corp", space="10.0.0.0/16")
    login(UserFactory(username="mia", role="manager"))

    page.goto("/networks/")
    page.click("text=New network")
    page.fill("input[name=name]", "Globex")
    page.fill("textarea[name=address_space]", "10.0.0.0/16\n192.168.1.0/24")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/networks/*/")
    assert page.locator("h1").inner_text().startswith("Globex")

    page.click("text=New scanner appliance")
    page.fill("input[name=name]", "globex-1")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/networks/*/")
    assert page.locator("table").inner_text().count("globex-1") == 1

    page.goto("/networks/")
    networks = page.locator("table").first
    row = networks.locator("tr", has_text="Globex")
    assert "10.0.0.0/16, 192.168.1.0/24" in row.inner_text()
    assert "globex-1" in row.inner_text()
    # The overlap with Acme is allowed: both rows list 10.0.0.0/16 ...
    assert "10.0.0.0/16" in networks.locator("tr", has_text="Acme Corp").inner_text()
    # ... and the overlap section names the pair and what they share.
    pair = page.locator("#network-overlaps tr", has_text="Globex")
    pair.wait_for()
    assert "Acme Corp" in pair.inner_text() and "10.0.0.0/16" in pair.inner_text()


def test_bad_address_is_named_in_the_form(page, login):
    login(UserFactory(username="mia", role="manager"))
    page.goto("/networks/new/")
    page.fill("input[name=name]", "Bad")
    page.fill("textarea[name=address_space]", "10.0.0.0/16, 10.0.0.999")
    page.click("button:has-text('Save')")
    assert "'10.0.0.999' is not an IP address" in page.locator(".errors").inner_text()


def test_reader_sees_networks_but_no_new_button(page, login):
    NetworkFactory(name="Acme Corp", space="10.0.0.0/16")
    login(UserFactory(username="rex", role="reader"))
    page.goto("/networks/")
    assert page.locator("table").first.locator("tr", has_text="Acme Corp").count() == 1
    assert page.locator("text=New network").count() == 0
    response = page.goto("/networks/new/")
    assert response.status == 403
