"""In a real browser: the login form locks after five wrong passwords and says
why; a Manager sees the lock on the user's page and lifts it; the user signs in."""

import os
from pathlib import Path

import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots of the pages this feature adds, for a person to look at.
SHOTS = Path(os.environ.get("ENCLAVE_SCREENSHOTS", "var/screenshots"))


def test_lockout_page_then_a_manager_unlocks(browser, live_server, page, login):
    SHOTS.mkdir(parents=True, exist_ok=True)
    user = UserFactory(username="nora", role="reader")
    for _ in range(5):
        login(user, password="not-her-password")
    assert "Too many failed sign-in attempts for this account; try again in 15 minutes." in (
        page.locator("[role=alert]").inner_text()
    )
    login(user)  # the right password, still refused
    assert page.locator("h1").inner_text() == "Sign-in locked"
    page.screenshot(path=SHOTS / "locked_out.png", full_page=True)

    manager_context = browser.new_context(base_url=live_server.url)
    manager = manager_context.new_page()
    manager.goto("/accounts/login/")
    manager.fill("input[name=username]", UserFactory(username="mia", role="manager").username)
    manager.fill("input[name=password]", "correct-horse-battery")
    manager.click("button[type=submit]")
    manager.wait_for_load_state()
    manager.goto(f"/accounts/users/{user.pk}/edit/")
    assert "nora is locked out" in manager.locator("#sign-in-failures + p").inner_text()
    manager.screenshot(path=SHOTS / "user_locked.png", full_page=True)
    manager.click("button[name=unlock]")
    manager.wait_for_load_state()
    assert "nora can sign in again." in manager.locator(".messages").inner_text()
    manager_context.close()

    page.click("text=Back to sign-in")
    page.fill("input[name=username]", "nora")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".whoami").inner_text().startswith("nora")
