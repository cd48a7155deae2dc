"""Sign-in throttling (django-axes, policy in accounts/lockout.py) on the three
ways in: the login page, /admin/ and the API token endpoint.

After AXES_FAILURE_LIMIT wrong passwords for one username from one address, the
right password is refused too, with the reason and the wait; other users from
that address, and the same user from another address, still sign in; the lock
ends with the cool-off; a successful sign-in clears the count; an address that
fails for many usernames is locked as a whole; a Manager can unlock a user.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
HERE, ELSEWHERE = "198.51.100.7", "203.0.113.9"
ACCOUNT_LOCKED = "Too many failed sign-in attempts for this account; try again in 15 minutes."
ADDRESS_LOCKED = "Too many failed sign-in attempts from your address; try again in 15 minutes."


def via_login_page(username, password, address=HERE):
    response = Client(REMOTE_ADDR=address).post(
        reverse("accounts:login"), {"username": username, "password": password}
    )
    if response.status_code == 302:
        return "signed in", response
    return ("locked" if response.status_code == 429 else "refused"), response


def via_admin(username, password, address=HERE):
    response = Client(REMOTE_ADDR=address).post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}
    )
    if response.status_code == 302:
        return "signed in", response
    return ("locked" if response.status_code == 429 else "refused"), response


def via_token_endpoint(username, password, address=HERE):
    response = APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    outcome = {200: "signed in", 400: "refused", 429: "locked"}[response.status_code]
    return outcome, response


ENTRY_POINTS = [via_login_page, via_admin, via_token_endpoint]


@pytest.fixture
def alice():
    # Staff, so a right password signs in on /admin/ too.
    return UserFactory(username="alice", is_staff=True, is_superuser=True)


def time_passes(delta):
    """Ages every failure record, as if ``delta`` had passed since it was written."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)


def fail(sign_in, times, username="alice", address=HERE):
    return [sign_in(username, "wrong-password", address)[0] for _ in range(times)]


@pytest.mark.parametrize("sign_in", ENTRY_POINTS)
def test_after_five_failures_the_right_password_is_refused_with_the_reason(alice, sign_in):
    assert fail(sign_in, 4) == ["refused"] * 4
    assert fail(sign_in, 1) == ["locked"]
    outcome, response = sign_in("alice", PASSWORD)
    assert outcome == "locked"
    assert response["Retry-After"] == "900"
    if sign_in is via_token_endpoint:
        assert response.json() == {"detail": ACCOUNT_LOCKED}
        assert not Token.objects.filter(user=alice).exists()
    else:
        page = response.content.decode()
        assert ACCOUNT_LOCKED in page
        assert "enclave.css" in page and "Back to sign-in" in page  # the styled page
        assert "_auth_user_id" not in response.wsgi_request.session


def test_all_three_ways_in_share_one_count(alice):
    fail(via_login_page, 2)
    fail(via_admin, 2)
    fail(via_token_endpoint, 1)
    for sign_in in ENTRY_POINTS:
        assert sign_in("alice", PASSWORD)[0] == "locked"


def test_thirty_failures_then_the_right_password_is_still_refused(alice):
    """The issue as reported: 30 wrong passwords, then the right one worked."""
    fail(via_login_page, 30)
    assert via_login_page("alice", PASSWORD)[0] == "locked"


def test_case_variants_of_the_username_share_one_count(alice):
    for typed in ["alice", "Alice", "ALICE", "aLiCe", "alicE"]:
        via_login_page(typed, "wrong-password")
    assert via_login_page("alice", PASSWORD)[0] == "locked"


@pytest.mark.parametrize("sign_in", ENTRY_POINTS)
def test_another_user_at_the_same_address_is_not_locked(alice, sign_in):
    """Colleagues behind one NAT share an address: one of them failing does not
    lock the others out."""
    UserFactory(username="bob", is_staff=True, is_superuser=True)
    fail(sign_in, 6)
    assert sign_in("alice", PASSWORD)[0] == "locked"
    assert sign_in("bob", PASSWORD)[0] == "signed in"


def test_the_same_user_from_another_address_is_not_locked(alice):
    """Failing on purpose from one address does not lock a user out everywhere."""
    fail(via_login_page, 6)
    assert via_login_page("alice", PASSWORD, address=ELSEWHERE)[0] == "signed in"


@pytest.mark.parametrize("sign_in", ENTRY_POINTS)
def test_the_lock_ends_with_the_cool_off(alice, sign_in):
    fail(sign_in, 5)
    assert sign_in("alice", PASSWORD)[0] == "locked"
    time_passes(timedelta(minutes=15, seconds=1))
    assert sign_in("alice", PASSWORD)[0] == "signed in"


def test_a_refused_attempt_during_the_lock_restarts_the_cool_off(alice):
    fail(via_login_page, 5)
    time_passes(timedelta(minutes=14))
    assert via_login_page("alice", PASSWORD)[0] == "locked"  # "try again in 15 minutes"
    time_passes(timedelta(minutes=14))
    assert via_login_page("alice", PASSWORD)[0] == "locked"


def test_the_cool_off_comes_from_the_settings(alice, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=2)
    fail(via_login_page, 4)
    outcome, response = via_login_page("alice", "wrong-password")
    assert outcome == "locked"
    assert "try again in 2 minutes." in response.content.decode()
    time_passes(timedelta(minutes=2, seconds=1))
    assert via_login_page("alice", PASSWORD)[0] == "signed in"


@pytest.mark.parametrize("sign_in", ENTRY_POINTS)
def test_a_successful_sign_in_clears_the_count(alice, sign_in):
    fail(sign_in, 4)
    assert sign_in("alice", PASSWORD)[0] == "signed in"
    assert fail(sign_in, 4) == ["refused"] * 4
    assert sign_in("alice", PASSWORD)[0] == "signed in"


def test_an_address_that_fails_for_many_usernames_is_locked_for_all(alice, settings):
    """An attacker who rotates usernames gets no more than the address limit."""
    settings.ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT = 12
    for n in range(12):
        via_login_page(f"guess{n}", "wrong-password")
    outcome, response = via_login_page("alice", PASSWORD)
    assert outcome == "locked"
    assert ADDRESS_LOCKED in response.content.decode()
    outcome, response = via_token_endpoint("alice", PASSWORD)
    assert (outcome, response.json()) == ("locked", {"detail": ADDRESS_LOCKED})
    assert via_login_page("alice", PASSWORD, address=ELSEWHERE)[0] == "signed in"


def test_below_the_address_limit_rotating_usernames_locks_nobody(alice, settings):
    settings.ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT = 12
    for n in range(11):
        via_login_page(f"guess{n}", "wrong-password")
    assert via_login_page("alice", PASSWORD)[0] == "signed in"


def test_a_manager_sees_the_lock_and_unlocks_the_user(alice, client_as):
    fail(via_login_page, 5)
    client = client_as("manager")
    edit = reverse("accounts:user_update", args=[alice.pk])
    page = client.get(edit).content.decode()
    assert "alice is locked out after too many failed sign-in attempts" in page
    assert HERE in page
    response = client.post(edit, {"unlock": "1"})
    assert response.status_code == 302
    assert via_login_page("alice", PASSWORD)[0] == "signed in"
    entry = AuditEntry.objects.get(object_type="user", object_id=str(alice.pk), action="update")
    assert (entry.actor_name, entry.changes) == (
        "manager-user",
        {"sign_in": ["locked out", "unlocked"]},
    )
    assert "Sign-in locked" not in client.get(edit).content.decode()


@pytest.mark.parametrize("role", ["reader", "scanner"])
def test_only_a_manager_unlocks(alice, client_as, role):
    fail(via_login_page, 5)
    response = client_as(role).post(
        reverse("accounts:user_update", args=[alice.pk]), {"unlock": "1"}
    )
    assert response.status_code == 403
    assert via_login_page("alice", PASSWORD)[0] == "locked"


def behind_proxy(username, password, forwarded):
    """A sign-in through one reverse proxy at 127.0.0.1 that appends the address
    it saw to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for)."""
    response = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).post(
        reverse("accounts:login"), {"username": username, "password": password}
    )
    return {302: "signed in", 429: "locked"}.get(response.status_code, "refused")


def test_behind_a_proxy_each_client_is_counted_at_its_own_address(alice, settings):
    settings.ENCLAVE_PROXY_COUNT = 1
    for _ in range(6):
        behind_proxy("alice", "wrong-password", HERE)
    assert behind_proxy("alice", PASSWORD, HERE) == "locked"
    # Another client behind the same proxy: not the proxy's address, not locked.
    assert behind_proxy("alice", PASSWORD, ELSEWHERE) == "signed in"
    # What a client writes into the header itself is not taken as its address.
    assert behind_proxy("alice", PASSWORD, f"{ELSEWHERE}, {HERE}") == "locked"
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HERE}
    failed = AuditEntry.objects.filter(action="sign_in_failed").values_list("changes", flat=True)
    assert {c["address"] for c in failed} == {HERE}


def test_without_proxies_the_forwarded_header_is_ignored(alice, settings):
    assert settings.ENCLAVE_PROXY_COUNT == 0
    for _ in range(6):
        behind_proxy("alice", "wrong-password", HERE)
    # Counted at the socket's address: the header a client sends counts for nothing.
    assert behind_proxy("alice", PASSWORD, ELSEWHERE) == "locked"
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}
