import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import AuditEntry, Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_superuser_is_a_manager():
    user = User.objects.create_superuser("root", "r@example.com", "pw-123456789")
    assert user.effective_role == Role.MANAGER and user.is_manager


@pytest.mark.parametrize(
    "role, manage, scan",
    [("manager", True, True), ("scanner", False, True), ("reader", False, False)],
)
def test_role_ranks(role, manage, scan):
    user = UserFactory(role=role)
    assert (user.is_manager, user.can_scan) == (manage, scan)


def test_inactive_user_has_no_role():
    assert not UserFactory(role="manager", is_active=False).has_role("reader")


def test_manager_creates_user_through_the_page_and_it_is_audited(client_as):
    client = client_as("manager")
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "carol", "email": "", "role": "scanner", "password": "long-enough-pw"},
    )
    assert response.status_code == 302
    assert User.objects.get(username="carol").role == "scanner"
    entry = AuditEntry.objects.get(object_type="user", action="create")
    assert (entry.actor_name, entry.action, entry.object_repr) == (
        "manager-user",
        "create",
        "carol",
    )
    assert "carol" in client.get(reverse("accounts:audit_list")).content.decode()


def test_short_password_is_refused_with_its_reason(client_as):
    response = client_as("manager").post(
        reverse("accounts:user_create"), {"username": "dave", "role": "reader", "password": "short"}
    )
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="dave").exists()


def test_manager_deactivates_user_who_then_cannot_log_in(client_as, client):
    UserFactory(username="erin", role="reader")
    erin = User.objects.get(username="erin")
    client_as("manager").post(
        reverse("accounts:user_update", args=[erin.pk]),
        {"role": "reader", "is_active": "", "email": ""},
    )
    erin.refresh_from_db()
    assert not erin.is_active
    client.logout()
    # Through the login page: sign-in throttling needs the request.
    client.post(
        reverse("accounts:login"), {"username": "erin", "password": "correct-horse-battery"}
    )
    assert "_auth_user_id" not in client.session


def test_manager_cannot_demote_or_deactivate_self(manager):
    with pytest.raises(ValidationError):
        services.user_update(actor=manager, user=manager, role=Role.READER)
    with pytest.raises(ValidationError):
        services.user_update(actor=manager, user=manager, is_active=False)


def test_login_page_and_logout(client):
    UserFactory(username="frank", role="reader")
    assert client.get(reverse("networks:network_list")).status_code == 302
    response = client.post(
        reverse("accounts:login"), {"username": "frank", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("networks:network_list")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("networks:network_list")).status_code == 302
