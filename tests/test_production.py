"""Production settings and the production web server.

DEBUG is off unless turned on, the web server refuses to start without a
secret key, ``check --deploy`` passes with the settings the README documents,
and gunicorn (DEBUG off) serves a page with its CSS and htmx and the styled
error pages. The test suite itself runs on ``config.settings_test``; these
tests start processes on ``config.settings`` with an environment of their own.
"""

import http.cookiejar
import os
import re
import runpy
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from accounts.models import Role, User
from tests.factories import UserFactory
from tests.netns.stack import database_url
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"


def production_env(**extra: str) -> dict[str, str]:
    """This machine's environment without any DJANGO_ setting, on config.settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def settings_under(monkeypatch, **env: str) -> dict:
    """The names config/settings.py defines when the environment holds ``env``."""
    for name in [n for n in os.environ if n.startswith("DJANGO_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def documented_production_env() -> dict[str, str]:
    """The NAME=value lines of the README's production environment block."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?DJANGO_SECRET_KEY=.*?)```", section, re.S).group(1)
    return dict(re.findall(r"^\s*([A-Z_]+)=(\S+)", block, re.M))


# --- Settings from the environment ------------------------------------------------


def test_debug_is_off_unless_the_environment_turns_it_on(monkeypatch):
    assert settings_under(monkeypatch)["DEBUG"] is False
    assert settings_under(monkeypatch, DJANGO_DEBUG="1")["DEBUG"] is True
    assert settings_under(monkeypatch, DJANGO_DEBUG="off")["DEBUG"] is False


def test_only_debug_has_a_fallback_secret_key(monkeypatch):
    assert settings_under(monkeypatch)["SECRET_KEY"] == ""
    assert settings_under(monkeypatch, DJANGO_DEBUG="true")["SECRET_KEY"]
    assert settings_under(monkeypatch, DJANGO_SECRET_KEY="k" * 60)["SECRET_KEY"] == "k" * 60


def test_https_settings_come_from_the_environment(monkeypatch):
    names = settings_under(
        monkeypatch,
        DJANGO_ALLOWED_HOSTS="enclave.example.com, console.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://enclave.example.com",
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="yes",
        DJANGO_SECURE_HSTS_PRELOAD="1",
        DJANGO_SESSION_COOKIE_SECURE="on",
        DJANGO_CSRF_COOKIE_SECURE="true",
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto=https",
    )
    assert names["ALLOWED_HOSTS"] == ["enclave.example.com", "console.example.com"]
    assert names["CSRF_TRUSTED_ORIGINS"] == ["https://enclave.example.com"]
    assert names["SECURE_SSL_REDIRECT"] and names["SECURE_HSTS_SECONDS"] == 3600
    assert names["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and names["SECURE_HSTS_PRELOAD"]
    assert names["SESSION_COOKIE_SECURE"] and names["CSRF_COOKIE_SECURE"]
    assert names["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_DEBUG", "ture", "DJANGO_DEBUG='ture' is not true/false"),
        ("DJANGO_SECURE_HSTS_SECONDS", "1y", "DJANGO_SECURE_HSTS_SECONDS='1y' is not a whole"),
        ("DJANGO_SECURE_PROXY_SSL_HEADER", "https", "expected HEADER=VALUE"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(monkeypatch, name, value, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        settings_under(monkeypatch, **{name: value})


def test_web_server_refuses_to_start_without_a_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{free_port()}", "config.wsgi"],
        cwd=ROOT,
        env=production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'none.sqlite3'}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


# --- check --deploy ---------------------------------------------------------------------


def check_deploy(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """``check --deploy`` on Django's security checks, the ones settings decide.

    The only other deploy check, drf-spectacular's dry run of the API schema,
    judges the API's code, not the environment, so it is left out here.
    """
    env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}"}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security"]
        + ["--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_settings(tmp_path):
    documented = documented_production_env()
    assert documented.keys() >= {
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_HSTS_SECONDS",
        "DJANGO_SESSION_COOKIE_SECURE",
        "DJANGO_CSRF_COOKIE_SECURE",
    }
    # The README shows how to make a key, not a key.
    documented["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    result = check_deploy(documented, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_with_only_a_key_and_hosts(tmp_path):
    minimal = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "e.example"}
    result = check_deploy(minimal, tmp_path)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


# --- Styled error pages (rendered as in production: DEBUG off) ---------------------------


def assert_layout(html: str) -> None:
    assert 'class="topbar"' in html and "css/enclave" in html and "js/htmx.min" in html
    assert "Traceback" not in html and "DEBUG = True" not in html


def test_404_page_is_styled_for_users_and_anonymous(client, reader):
    response = client.get("/no-such-page/?<b>x</b>")
    assert response.status_code == 404
    assert_layout(html := response.content.decode())
    assert "Page not found" in html and "Log in" in html
    client.force_login(reader)
    html = client.get("/no-such-page/").content.decode()
    assert_layout(html)
    assert "Back to Enclave" in html and "Host Assets" in html  # the user's tabs


def test_403_page_is_styled_and_says_why(client, reader):
    client.force_login(reader)
    response = client.get("/accounts/users/")
    assert response.status_code == 403
    assert_layout(html := response.content.decode())
    assert "Not allowed" in html and "reader" in html


def test_csrf_failure_page_is_styled(db):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "x", "password": "y"}
    )
    assert response.status_code == 403
    assert_layout(html := response.content.decode())
    assert "Form expired" in html


def test_400_page_for_an_unknown_host_is_styled(client):
    response = client.get("/", HTTP_HOST="not-allowed.example")
    assert response.status_code == 400
    assert_layout(response.content.decode())


def test_500_page_renders_without_a_request_context(db):
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert_layout(html := response.content.decode())
    assert "Something went wrong" in html


# --- gunicorn, DEBUG off, static files by whitenoise --------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """``gunicorn config.wsgi`` with DEBUG off on the test database, after
    ``collectstatic`` into a folder of this test; yields its base URL."""
    env = production_env(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=database_url(),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "2", "--access-logfile", "-", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers():
        assert proc.poll() is None, log_path.read_text()
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=10) as response:
                return response.status == 200
        except OSError:  # refused, or a worker still importing Django on a busy machine
            return False

    try:
        wait_for(answers, timeout=90, what="gunicorn to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Browser:
    """urllib with a cookie jar: follows redirects, keeps the session."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str, **headers: str):
        request = urllib.request.Request(self.base + path, headers=headers)
        try:
            response = self.opener.open(request, timeout=15)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            return response.status, response.headers, response.read(), response.url

    def post(self, path: str, data: dict[str, str]):
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Referer": self.base}
        )
        with self.opener.open(request, timeout=15) as response:
            return response.status, response.read().decode(), response.url


@pytest.mark.e2e
def test_gunicorn_serves_pages_with_their_css_and_htmx(gunicorn):
    # Hashed as production hashes (the suite's fast MD5 hasher is not in its settings).
    hasher = PBKDF2PasswordHasher()
    user = UserFactory(username="prod-reader", role=Role.READER)
    User.objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    browser = Browser(gunicorn)

    # Logging in through the real form: its CSRF token, then the session cookie.
    status, _, form, _ = browser.get("/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1).decode()
    status, html, landed = browser.post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "username": "prod-reader", "password": PASSWORD},
    )
    assert status == 200 and landed == f"{gunicorn}/dashboard/", html[html.find("<main") :][:1500]
    assert "<title>Dashboard" in html and "prod-reader" in html

    # Hashed static URLs (cacheable forever), served by whitenoise with DEBUG off.
    css = re.search(r'<link rel="stylesheet" href="(/static/css/enclave\.[0-9a-f]{12}\.css)"', html)
    js = re.search(r'<script src="(/static/js/htmx\.min\.[0-9a-f]{12}\.js)"', html)
    assert css and js, html[:1000]
    status, headers, body, _ = browser.get(css.group(1))
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert body == (ROOT / "static/css/enclave.css").read_bytes()
    assert "immutable" in headers["Cache-Control"]
    status, headers, body, _ = browser.get(js.group(1))
    assert status == 200
    assert headers["Content-Type"].split(";")[0] in {"text/javascript", "application/javascript"}
    assert body == (ROOT / "static/js/htmx.min.js").read_bytes()
    status, headers, _, _ = browser.get(css.group(1), **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"

    # A missing page is the styled 404, never Django's debug page.
    status, _, body, _ = browser.get("/no-such-page/")
    assert status == 404
    assert_layout(html := body.decode())
    assert "Page not found" in html and "Back to Enclave" in html
