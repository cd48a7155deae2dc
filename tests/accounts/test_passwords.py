"""Passwords of digits only, or too close to the username, are refused with their
reason: in the service (create and change), on the user pages and in the API."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ALL_DIGITS = "40917253861"  # not a common password: only its digits refuse it
NEAR_USERNAME = ("quillon", "Quillon-7")


def test_service_refuses_a_password_of_digits_only(manager):
    with pytest.raises(ValidationError) as caught:
        services.user_create(actor=manager, username="dora", password=ALL_DIGITS)
    assert caught.value.message_dict == {"password": ["This password is entirely numeric."]}
    assert not User.objects.filter(username="dora").exists()


@pytest.mark.parametrize(
    "username, password", [NEAR_USERNAME, ("bob-smith", "bob-smith!"), ("carol", "Carol2024")]
)
def test_service_refuses_a_password_close_to_the_username(manager, username, password):
    with pytest.raises(ValidationError) as caught:
        services.user_create(actor=manager, username=username, password=password)
    assert caught.value.message_dict == {
        "password": ["The password is too similar to the username."]
    }


def test_service_refuses_both_on_a_password_change(manager):
    user = UserFactory(username="quillon")
    for password, reason in [(ALL_DIGITS, "entirely numeric"), ("Quillon-7", "too similar")]:
        with pytest.raises(ValidationError, match=reason):
            services.user_update(actor=manager, user=user, password=password)
    user.refresh_from_db()
    assert user.check_password("correct-horse-battery")


def test_a_password_unlike_the_username_and_not_all_digits_is_accepted(manager):
    user = services.user_create(actor=manager, username="quillon", password="tulip-42-orbit")
    assert user.check_password("tulip-42-orbit")


@pytest.mark.parametrize(
    "username, password, reason",
    [
        ("dora", ALL_DIGITS, "This password is entirely numeric."),
        (*NEAR_USERNAME, "The password is too similar to the username."),
    ],
)
def test_create_page_shows_the_reason(client_as, username, password, reason):
    response = client_as("manager").post(
        reverse("accounts:user_create"),
        {"username": username, "role": "reader", "password": password},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password"] == [reason]
    assert not User.objects.filter(username=username).exists()


def test_edit_page_shows_the_reason(client_as):
    user = UserFactory(username="quillon")
    response = client_as("manager").post(
        reverse("accounts:user_update", args=[user.pk]),
        {"role": "reader", "is_active": "on", "password": "Quillon-7"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password"] == [
        "The password is too similar to the username."
    ]


@pytest.mark.parametrize(
    "username, password, reason",
    [
        ("dora", ALL_DIGITS, "This password is entirely numeric."),
        (*NEAR_USERNAME, "The password is too similar to the username."),
    ],
)
def test_api_answers_400_on_password(api_as, username, password, reason):
    api = api_as("manager")
    response = api.post(
        "/api/v1/users/", {"username": username, "password": password}, format="json"
    )
    assert (response.status_code, response.json()) == (400, {"password": [reason]})
    user = UserFactory(username="existing")
    response = api.patch(f"/api/v1/users/{user.pk}/", {"password": ALL_DIGITS}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"password": ["This password is entirely numeric."]},
    )
