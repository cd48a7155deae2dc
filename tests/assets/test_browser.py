"""Host Assets in a real browser: two networks holding the same IP open in
place side by side, and each host opens to its own page."""

import pytest

from assets import services
from tests.factories import HostFactory, NetworkFactory, TagFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_expand_two_networks_with_the_same_ip_and_open_both_hosts(page, login):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/24")
    HostFactory(network=acme, ip="10.0.0.5", dns="web.acme.test")
    HostFactory(network=acme, ip="10.0.0.10", dns="mail.acme.test")
    HostFactory(network=globex, ip="10.0.0.5", dns="db.globex.test")
    login(UserFactory(username="rex", role="reader"))

    page.goto("/assets/hosts/")
    for network in (acme, globex):
        page.click(f"#network-{network.pk} a.expand")
        page.wait_for_selector(f"#network-{network.pk}-hosts table.hosts")
    # Expanded in place: still the Host Assets page, both networks open at once.
    assert page.url.endswith("/assets/hosts/")
    acme_rows = page.locator(f"#network-{acme.pk}-hosts tbody tr")
    assert acme_rows.count() == 2
    assert "10.0.0.5" in acme_rows.nth(0).inner_text()  # numeric order: .5 before .10
    assert "web.acme.test" in acme_rows.nth(0).inner_text()
    globex_panel = page.locator(f"#network-{globex.pk}-hosts")
    assert "db.globex.test" in globex_panel.inner_text()
    assert "web.acme.test" not in globex_panel.inner_text()

    page.click(f"#network-{acme.pk}-hosts a:text-is('10.0.0.5')")
    page.wait_for_url("**/assets/hosts/*/")
    assert "Acme" in page.locator("h1").inner_text()
    assert "web.acme.test" in page.locator("dl.facts").inner_text()
    page.click(".same-ip a:text-is('Globex')")
    page.wait_for_url("**/assets/hosts/*/")
    assert "Globex" in page.locator("h1").inner_text()
    assert "db.globex.test" in page.locator("dl.facts").inner_text()

    # And from the table again: Globex's own row opens Globex's host.
    page.goto("/assets/hosts/")
    page.click(f"#network-{globex.pk} a.expand")
    page.click(f"#network-{globex.pk}-hosts a:text-is('10.0.0.5')")
    page.wait_for_url("**/assets/hosts/*/")
    assert "db.globex.test" in page.locator("dl.facts").inner_text()


def test_scanner_tags_hosts_from_an_expanded_network(page, login):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    a = HostFactory(network=acme, ip="10.0.0.5")
    b = HostFactory(network=acme, ip="10.0.0.6")
    tag = TagFactory(name="pci")
    login(UserFactory(username="sam", role="scanner"))
    page.goto("/assets/hosts/")
    page.click(f"#network-{acme.pk} a.expand")
    panel = page.locator(f"#network-{acme.pk}-hosts")
    panel.locator(f"input[name=hosts][value='{a.pk}']").check()
    panel.locator(f"input[name=hosts][value='{b.pk}']").check()
    panel.locator("button:has-text('Assign tag')").click()
    page.wait_for_selector(".messages")
    assert "Tag pci added to 2 host(s)." in page.locator(".messages").inner_text()
    assert set(tag.hosts.values_list("pk", flat=True)) == {a.pk, b.pk}
    # Back on Host Assets with the network open, the tags show in the table.
    assert page.locator(f"#network-{acme.pk}-hosts .badge:text-is('pci')").count() == 2


def test_networks_tab_shows_overlaps_and_expansion_pages_deep(page, login):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/24")
    for i in range(60):
        HostFactory(network=acme, ip=f"10.0.0.{i + 1}")
    HostFactory(network=globex, ip="10.0.0.60")
    services.overlaps_refresh()
    login(UserFactory(username="rex", role="reader"))
    page.goto("/networks/")
    page.wait_for_selector("#overlaps-panel table")
    cells = page.locator("#overlaps-panel tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["Acme", "Globex", "10.0.0.0/24", "1"]

    page.goto("/assets/hosts/")
    page.click(f"#network-{acme.pk} a.expand")
    panel = page.locator(f"#network-{acme.pk}-hosts")
    panel.locator("a[rel=next]").click()
    page.wait_for_selector(f"#network-{acme.pk}-hosts td.ip a:text-is('10.0.0.60')")
    assert panel.locator("td.ip a:text-is('10.0.0.1')").count() == 0
    assert panel.locator("tbody tr").count() == 10
