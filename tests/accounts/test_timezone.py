"""Each user's time zone: chosen on their profile (or by a Manager), refused when
it is no zone, and every time on the pages shown in it, with the zone's name."""

from datetime import UTC, datetime

import django_tables2 as tables
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import User
from tests.factories import DetectionFactory, HostFactory, NetworkFactory, UserFactory

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 7, 14, 3, 9, tzinfo=UTC)
SUMMER = datetime(2026, 7, 7, 14, 3, tzinfo=UTC)
BAD_ZONE = "Mars/Olympus_Mons"


@pytest.fixture
def host():
    network = NetworkFactory(name="Acme", space="10.0.0.0/16")
    host = HostFactory(network=network, ip="10.0.0.5", last_scanned=MOMENT)
    DetectionFactory(host=host, first_found=SUMMER, last_found=MOMENT)
    return host


def test_a_new_user_sees_utc_named_as_such(client, host):
    user = UserFactory(username="una")
    assert user.timezone == "UTC"
    client.force_login(user)
    page = client.get(reverse("assets:host_detail", args=[host.pk])).content.decode()
    assert "2026-12-07 14:03 UTC" in page


def test_a_user_in_paris_sees_every_time_shifted_with_the_zone_name(client, host):
    client.force_login(UserFactory(username="pierre", timezone="Europe/Paris"))
    page = client.get(reverse("assets:host_detail", args=[host.pk])).content.decode()
    assert "2026-12-07 15:03 CET" in page  # last scanned, winter time
    assert "14:03 UTC" not in page
    # The host's findings (an htmx fragment of the scans app) and the
    # Vulnerabilities list, a FastBodyTable: summer time there.
    findings = client.get(reverse("scans:host_detections", args=[host.pk])).content.decode()
    assert "2026-07-07 16:03 CEST" in findings and "2026-12-07 15:03 CET" in findings
    listing = client.get(reverse("insights:vulnerability_list")).content.decode()
    assert "2026-07-07 16:03 CEST" in listing and "2026-12-07 15:03 CET" in listing
    # A django-tables2 table (Host Assets of one network).
    hosts = client.get(reverse("assets:network_hosts", args=[host.network_id])).content.decode()
    assert "2026-12-07 15:03 CET" in hosts


def test_the_api_keeps_its_times_in_utc_whatever_the_account_says(client, host):
    # Scripts read ISO times with their offset; the account's zone is for pages.
    user = UserFactory(username="pierre", role="manager", timezone="Europe/Paris")
    client.force_login(user)
    body = client.get(f"/api/v1/hosts/{host.pk}/").json()
    assert body["last_scanned"] in ("2026-12-07T14:03:09Z", "2026-12-07T14:03:09+00:00")


def test_every_user_picks_their_zone_on_their_profile(client):
    user = UserFactory(username="rita", role="reader")
    client.force_login(user)
    page = client.get(reverse("accounts:profile"))
    assert page.status_code == 200
    assert '<option value="Europe/Paris">' in page.content.decode()
    answer = client.post(reverse("accounts:profile"), {"timezone": "Asia/Kolkata"}, follow=True)
    assert "times are shown in Asia/Kolkata" in answer.content.decode()
    user.refresh_from_db()
    assert user.timezone == "Asia/Kolkata"
    # The header says which zone the pages are in, and leads to the profile.
    assert "Asia/Kolkata" in answer.content.decode().split("</header>")[0]


def test_an_unknown_zone_is_refused_on_the_profile_with_a_clear_error(client):
    user = UserFactory(username="rita", timezone="Europe/Paris")
    client.force_login(user)
    answer = client.post(reverse("accounts:profile"), {"timezone": BAD_ZONE})
    assert answer.status_code == 200
    assert answer.context["form"].errors["timezone"] == [
        f"'{BAD_ZONE}' is not a time zone: pick one of the list "
        "(IANA names such as UTC, Europe/Paris or America/New_York)."
    ]
    user.refresh_from_db()
    assert user.timezone == "Europe/Paris"


def test_a_manager_sets_a_users_zone_on_the_user_form(client_as):
    user = UserFactory(username="sam")
    client = client_as("manager")
    form = client.get(reverse("accounts:user_update", args=[user.pk])).content.decode()
    assert 'name="timezone"' in form
    client.post(
        reverse("accounts:user_update", args=[user.pk]),
        {"email": "", "role": "reader", "is_active": "on", "timezone": "America/New_York"},
    )
    user.refresh_from_db()
    assert user.timezone == "America/New_York"
    client.post(
        reverse("accounts:user_create"),
        {
            "username": "tom",
            "role": "reader",
            "password": "tulip-42-orbit",
            "timezone": "Asia/Tokyo",
        },
    )
    assert User.objects.get(username="tom").timezone == "Asia/Tokyo"


def test_the_service_refuses_a_zone_that_is_not_one():
    user = UserFactory(username="sam")
    for bad in (BAD_ZONE, "", "localtime", "Europe/Paris "):
        with pytest.raises(ValidationError) as refused:
            services.user_update(actor=None, user=user, timezone=bad)
        assert "timezone" in refused.value.message_dict, bad
    user.refresh_from_db()
    assert user.timezone == "UTC"


def test_the_users_api_reads_and_writes_the_zone(api_as):
    api = api_as("manager")
    created = api.post(
        "/api/v1/users/",
        {"username": "ursula", "password": "tulip-42-orbit", "timezone": "Europe/Paris"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["timezone"] == "Europe/Paris"
    plain = api.post(
        "/api/v1/users/", {"username": "victor", "password": "tulip-42-orbit"}, format="json"
    )
    assert plain.json()["timezone"] == "UTC"
    url = f"/api/v1/users/{created.json()['id']}/"
    refused = api.patch(url, {"timezone": BAD_ZONE}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "timezone": [
            f"'{BAD_ZONE}' is not a time zone: use an IANA name such as UTC, "
            "Europe/Paris or America/New_York."
        ]
    }
    assert api.patch(url, {"timezone": "Asia/Tokyo"}, format="json").json()["timezone"] == (
        "Asia/Tokyo"
    )


def test_pages_print_their_times_through_when():
    """A time printed with |date or a DateTimeColumn would show no zone: every
    page template and table goes through console.times.when instead. (Report
    files, templates/reports/document/, print their own stamp for any reader.)"""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for path in (root / "templates").rglob("*.html")
        if "document" not in path.relative_to(root / "templates").parts
        and re.search(r'\|date:"[^"]*[HGhgi]', path.read_text())
    ]
    for app in ("accounts", "networks", "assets", "scans", "insights", "reports"):
        for path in (root / app).glob("*tables.py"):
            if re.search(r"strftime\(", path.read_text()):
                offenders.append(str(path.relative_to(root)))
    # django-tables2 makes a DateTimeColumn by itself for a model's date field
    # named in Meta.fields: look at the columns the tables end up with.
    offenders += [
        f"{table.__module__}.{table.__name__}.{name}"
        for table in _tables()
        for name, column in table.base_columns.items()
        if isinstance(column, tables.DateTimeColumn | tables.DateColumn)
    ]
    assert not offenders, f"times without their zone: {offenders}"


def _tables():
    import importlib
    import pkgutil

    for app in ("accounts", "networks", "assets", "scans", "insights", "reports"):
        package = importlib.import_module(app)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.endswith("tables"):
                loaded = importlib.import_module(f"{app}.{module.name}")
                yield from (
                    value
                    for value in vars(loaded).values()
                    if isinstance(value, type)
                    and issubclass(value, tables.Table)
                    and value.__module__ == loaded.__name__
                )


def test_a_time_typed_in_a_form_is_read_in_the_users_zone(client):
    from scans.models import Schedule
    from tests.scans.test_schedules import form_data

    lab = NetworkFactory(name="Lab", space="127.0.0.0/8")
    client.force_login(UserFactory(username="pierre", role="scanner", timezone="Europe/Paris"))
    form = client.get(reverse("scans:schedule_create")).content.decode()
    assert "read in your time zone, Europe/Paris" in form
    answer = client.post(reverse("scans:schedule_create"), form_data(lab, start="2026-12-10T09:00"))
    assert answer.status_code == 302, answer.content
    schedule = Schedule.objects.get(title="From the form")
    assert schedule.start == datetime(2026, 12, 10, 8, 0, tzinfo=UTC)
    page = client.get(schedule.get_absolute_url()).content.decode()
    assert "2026-12-10 09:00 CET" in page
