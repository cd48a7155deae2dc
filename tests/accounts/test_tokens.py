"""A password change revokes the user's API token, whichever way the password was
changed; anything else (a role change, a login that upgrades the hash) keeps it."""

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "tulip-42-orbit"


@pytest.fixture
def holder():
    """A user, and an API client that works with their token."""
    user = UserFactory(username="tokenholder", role="reader")
    token = Token.objects.create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/networks/").status_code == 200
    return user, api


def test_password_change_through_the_service_revokes_the_token(holder, manager):
    user, api = holder
    services.user_update(actor=manager, user=user, password=NEW_PASSWORD)
    assert api.get("/api/v1/networks/").status_code == 401
    assert not Token.objects.filter(user=user).exists()
    changes = AuditEntry.objects.get(action="update", object_id=str(user.pk)).changes
    assert changes == {"password": ["***", "changed"], "api_token": ["***", "revoked"]}


def test_the_token_endpoint_then_issues_a_new_token(holder, manager):
    user, api = holder
    old = user.auth_token.key
    services.user_update(actor=manager, user=user, password=NEW_PASSWORD)
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "tokenholder", "password": NEW_PASSWORD}
    )
    assert response.status_code == 200 and response.json()["token"] != old
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/networks/").status_code == 200


def test_password_change_on_the_edit_page_revokes_the_token(holder, client_as):
    user, api = holder
    response = client_as("manager").post(
        reverse("accounts:user_update", args=[user.pk]),
        {"role": "reader", "is_active": "on", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert api.get("/api/v1/networks/").status_code == 401


def test_password_change_through_the_api_revokes_the_token(holder, api_as):
    user, api = holder
    response = api_as("manager").patch(
        f"/api/v1/users/{user.pk}/", {"password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert api.get("/api/v1/networks/").status_code == 401


def test_password_change_in_the_admin_revokes_the_token(holder, client):
    user, api = holder
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert api.get("/api/v1/networks/").status_code == 401


def test_set_password_and_save_revokes_the_token(holder):
    """manage.py changepassword and password resets go this way."""
    user, api = holder
    user.set_password(NEW_PASSWORD)
    user.save()
    assert api.get("/api/v1/networks/").status_code == 401


def test_other_changes_keep_the_token(holder, manager):
    user, api = holder
    services.user_update(actor=manager, user=user, role="scanner", email="t@example.com")
    assert api.get("/api/v1/networks/").status_code == 200


def test_a_login_that_upgrades_the_password_hash_keeps_the_token(holder, client, settings):
    """Django re-hashes a password stored with an older hasher at login and saves
    it: the same password, so the token stays."""
    user, api = holder
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    type(user).objects.filter(pk=user.pk).update(
        password=make_password("correct-horse-battery", hasher="md5")
    )
    response = client.post(
        reverse("accounts:login"),
        {"username": "tokenholder", "password": "correct-horse-battery"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_")
    assert api.get("/api/v1/networks/").status_code == 200


def test_a_manager_who_changes_their_own_password_stays_signed_in(client_as, manager):
    client = client_as("manager")
    me = type(manager).objects.get(username="manager-user")
    response = client.post(
        reverse("accounts:user_update", args=[me.pk]),
        {"role": "manager", "is_active": "on", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:user_list")).status_code == 200
