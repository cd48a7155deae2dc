"""Per-network access in a real browser: a Manager narrows a Reader to one of
two networks that hold the same IP on the user's page, and the Reader, signed
in, finds only that network anywhere they look. ENCLAVE_SHOTS=/some/dir keeps
screenshots."""

import os
from pathlib import Path

import pytest

from tests.factories import DetectionFactory, HostFactory, NetworkFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name):
    folder = os.environ.get("ENCLAVE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_reader_granted_one_network_sees_only_it(page, login, browser, live_server):
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex Secret", space="10.0.0.0/16")
    mine = HostFactory(network=acme, ip="10.0.0.5", dns="web.acme.test")
    theirs = HostFactory(network=globex, ip="10.0.0.5", dns="db.globex-secret.test")
    DetectionFactory(host=mine)
    DetectionFactory(host=theirs)
    reader = UserFactory(username="rita", role="reader")

    # The Manager, on the Reader's page: the grant section loads in place (htmx).
    login(UserFactory(username="boss", role="manager"))
    page.goto(f"/accounts/users/{reader.pk}/edit/")
    section = page.locator("#network-access")
    section.wait_for()
    assert "every network" in section.inner_text()
    section.locator("input[name=scope][value=chosen]").check()
    section.get_by_label("Acme").check()
    shot(page, "user-network-access")
    section.get_by_role("button", name="Save network access").click()
    page.wait_for_url(f"**/accounts/users/{reader.pk}/edit/")
    page.locator("#network-access").wait_for()
    assert "sees only: Acme" in page.locator("#network-access").inner_text()
    page.goto("/accounts/users/")
    assert "Acme" in page.locator("tr", has_text="rita").inner_text()
    shot(page, "users-list")

    # The Reader, in a browser of their own.
    context = browser.new_context(base_url=live_server.url)
    rita = context.new_page()
    rita.set_default_timeout(15000)
    rita.goto("/accounts/login/")
    rita.fill("input[name=username]", "rita")
    rita.fill("input[name=password]", "correct-horse-battery")
    rita.click("button[type=submit]")
    rita.wait_for_load_state()
    for path in ("/", "/networks/", "/assets/hosts/", "/search/?q=10.0.0.5", "/vulnerabilities/"):
        rita.goto(path)
        text = rita.locator("main").inner_text()
        assert "Globex" not in text and "globex" not in text, path
    rita.goto("/search/?q=10.0.0.5")
    assert "web.acme.test" in rita.locator("main").inner_text()
    shot(rita, "scoped-reader-search")
    rita.goto("/assets/hosts/")
    rita.click(f"#network-{acme.pk} a.expand")
    rita.wait_for_selector(f"#network-{acme.pk}-hosts table.hosts")
    rita.click(f"#network-{acme.pk}-hosts a:text-is('10.0.0.5')")
    rita.wait_for_url("**/assets/hosts/*/")
    facts = rita.locator("main").inner_text()
    assert "web.acme.test" in facts and "Globex" not in facts
    shot(rita, "scoped-reader-host")
    # The other network's host does not exist for her.
    response = rita.goto(f"/assets/hosts/{theirs.pk}/")
    assert response.status == 404
    assert "globex" not in rita.content().lower()
    context.close()
