import pytest

from accounts.models import Role

from .factories import UserFactory

ROLES = [Role.MANAGER, Role.SCANNER, Role.READER]


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.MANAGER)


@pytest.fixture
def scanner(db):
    return UserFactory(username="scanner", role=Role.SCANNER)


@pytest.fixture
def reader(db):
    return UserFactory(username="reader", role=Role.READER)


@pytest.fixture
def user_of_role(db):
    """Makes (or returns) the user of a role: ``user_of_role("scanner")``."""

    def make(role):
        return UserFactory(username=f"{role}-user", role=role)

    return make


@pytest.fixture
def client_as(client, user_of_role):
    """A test client logged in as a user of the given role."""

    def login(role):
        client.force_login(user_of_role(role))
        return client

    return login


@pytest.fixture
def api_as(user_of_role):
    """A DRF APIClient authenticated with a real token for a user of the given role."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(role):
        api = APIClient()
        token, _ = Token.objects.get_or_create(user=user_of_role(role))
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return make


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright; never a downloaded browser."""
    import os
    import shutil

    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the live server's
    # ORM calls happen in the server's own thread, the test's in this one.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def login(page):
    """Logs the browser in: ``login(user)`` (the factories' password)."""

    def do(user, password="correct-horse-battery"):
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return do


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs seconds per test that makes users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
