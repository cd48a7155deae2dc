"""Usernames are unique regardless of case (service, page, API, database,
migration), and sign-in finds the account whatever the case typed."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.mark.parametrize("typed", ["alice", "Alice", "ALICE"])
def test_service_refuses_a_taken_username_in_any_case(manager, typed):
    UserFactory(username="alice")
    with pytest.raises(ValidationError) as caught:
        services.user_create(actor=manager, username=typed, password="long-enough-pw")
    assert caught.value.message_dict == {"username": ["A user named 'alice' already exists."]}
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_service_names_every_problem_at_once(manager):
    UserFactory(username="alice")
    with pytest.raises(ValidationError) as caught:
        services.user_create(actor=manager, username="Alice", password="short")
    assert set(caught.value.message_dict) == {"username", "password"}


def test_the_database_refuses_a_case_duplicate_written_around_the_service():
    UserFactory(username="alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="ALICE")


def test_a_clash_the_check_missed_is_still_a_clear_error(manager, monkeypatch):
    """Two requests check at once and both pass: the insert that loses the race
    answers the same error instead of an IntegrityError (a 500)."""
    UserFactory(username="alice")
    real, calls = services._username_taken, []

    def missed_once(user):
        calls.append(user.username)
        return None if len(calls) == 1 else real(user)

    monkeypatch.setattr(services, "_username_taken", missed_once)
    with pytest.raises(ValidationError) as caught:
        services.user_create(actor=manager, username="Alice", password="long-enough-pw")
    assert caught.value.message_dict == {"username": ["A user named 'alice' already exists."]}
    assert calls == ["Alice", "Alice"]


def test_page_shows_the_clash_on_the_username_field(client_as):
    UserFactory(username="alice")
    response = client_as("manager").post(
        reverse("accounts:user_create"),
        {"username": "ALICE", "role": "reader", "password": "long-enough-pw"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["A user named 'alice' already exists."]


@pytest.mark.parametrize("typed", ["alice", "ALICE"])
def test_api_answers_400_on_username(api_as, typed):
    UserFactory(username="alice")
    response = api_as("manager").post(
        "/api/v1/users/", {"username": typed, "password": "long-enough-pw"}, format="json"
    )
    assert (response.status_code, response.json()) == (
        400,
        {"username": ["A user named 'alice' already exists."]},
    )


def test_login_page_accepts_the_username_in_any_case(client):
    user = UserFactory(username="alice")
    response = client.post(reverse("accounts:login"), {"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_token_endpoint_accepts_the_username_in_any_case():
    user = UserFactory(username="alice")
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "Alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert user.auth_token.key == response.json()["token"]


def test_admin_login_accepts_the_username_in_any_case(client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    response = client.post(
        reverse("admin:login"), {"username": "ROOT", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_password_is_still_refused_in_any_case(client):
    UserFactory(username="alice")
    response = client.post(
        reverse("accounts:login"), {"username": "Alice", "password": "not-the-password"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
def test_migration_stops_on_usernames_that_differ_only_in_case():
    before, after = ("accounts", "0001_initial"), ("accounts", "0002_username_unique_ci")
    MigrationExecutor(connection).migrate([before])
    try:
        old = MigrationExecutor(connection).loader.project_state([before]).apps
        OldUser = old.get_model("accounts", "User")
        OldUser.objects.create(username="alice")
        OldUser.objects.create(username="Alice")
        with pytest.raises(RuntimeError, match="'Alice' and 'alice'"):
            MigrationExecutor(connection).migrate([after])
        OldUser.objects.filter(username="Alice").delete()
        MigrationExecutor(connection).migrate([after])
        # The model as of that migration: later ones add columns it does not have yet.
        NewUser = (
            MigrationExecutor(connection)
            .loader.project_state([after])
            .apps.get_model("accounts", "User")
        )
        assert NewUser.objects.get(username__iexact="ALICE").username == "alice"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
